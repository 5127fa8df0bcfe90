"""Raw keeps the last accepted delivery: a delivery its raw gate rejects is moved aside, never lost, and the one
accepted before comes back (expectations/gate.py, bienestar/warehouse.restore_accepted)."""

import pandas as pd
import pytest


def test_a_delivery_rejected_by_its_raw_gate_leaves_the_last_accepted_one_in_raw(tmp_path, monkeypatch):
    """Every household size 0: the raw gate rejects the delivery; raw.census_households holds the last accepted
    delivery again, and the rejected rows are kept in raw_rejected (nothing is lost)."""
    import duckdb

    from bienestar import settings
    from bienestar.demo import prepare_demo
    from cities import load_city
    from expectations.gate import GateFailed, run_gate
    from sources.deliveries import land_census

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("la_paz_demo")
    prepare_demo(city, scale=0.05)
    land_census(city, city.vintage)
    run_gate(city, "raw_census", "accepted-run")
    database = settings.paths().warehouse_for(city.name)

    def members(table: str) -> list:
        with duckdb.connect(str(database), read_only=True) as con:
            return [r[0] for r in con.execute(f"SELECT members FROM {table} WHERE _loaded_for = ? ORDER BY _row",
                                              [city.vintage]).fetchall()]

    accepted = members("raw.census_households")
    assert accepted == members("raw_accepted.census_households") and set(accepted) != {"0"}
    path = settings.paths().landing_for(city.name) / city.config["census"]["households"]["file"]
    households = pd.read_csv(path, dtype=str, keep_default_na=False)
    households.assign(members="0").to_csv(path, index=False)
    land_census(city, city.vintage)
    assert set(members("raw.census_households")) == {"0"}  # landed beside nothing: the gate decides
    with pytest.raises(GateFailed, match="the rejected delivery is kept in raw_rejected.census_households"):
        run_gate(city, "raw_census", "rejected-run")
    assert members("raw.census_households") == accepted
    assert set(members("raw_rejected.census_households")) == {"0"}


def shift(before: dict[str, int], after: dict[str, int]) -> str:
    """expectations.suites.area_shift on a database holding `before` (accepted) and `after` (new) households."""
    import duckdb

    from cities import load_city
    from expectations.suites import area_shift

    city = load_city("la_paz_demo")  # thresholds: max_area_shift 0.5, min_area_shift 10 (the defaults)
    with duckdb.connect() as con:
        for schema, counts in (("raw", after), ("raw_accepted", before)):
            con.execute(f"CREATE SCHEMA {schema}")
            rows = [(city.name, "2024", area) for area, n in counts.items() for _ in range(n)]
            con.execute(f"CREATE TABLE {schema}.census_households (city VARCHAR, _loaded_for VARCHAR, area_id VARCHAR)")
            if rows:
                con.executemany(f"INSERT INTO {schema}.census_households VALUES (?, ?, ?)", rows)
        return area_shift(con, city, "2024")


@pytest.mark.parametrize(("after", "verdict"), [
    ({"Z1": 100, "Z2": 20}, "ok"),
    ({"Z1": 100, "Z2": 10}, "ok"),                                   # -50%: at the limit
    ({"Z1": 100, "Z2": 9}, "Z2 20 -> 9"),                            # -55%, 11 households
    ({"Z1": 100, "Z2": 31}, "Z2 20 -> 31"),                          # +55%
    ({"Z1": 100}, "Z2 20 -> 0"),                                     # a zone emptied (a file cut short)
    ({"Z1": 100, "Z2": 20, "Z3": 12}, "Z3 0 -> 12"),                  # a zone that had no one
])
def test_area_shift_at_and_past_its_limits(after, verdict):
    out = shift({"Z1": 100, "Z2": 20}, after)
    assert out == "ok" if verdict == "ok" else verdict in out


def test_a_small_zone_may_move_by_fewer_than_min_area_shift():
    assert shift({"Z1": 100, "Z2": 10}, {"Z1": 100, "Z2": 1}) == "ok"   # -90% but only 9 households
    assert "Z2 10 -> 0" in shift({"Z1": 100, "Z2": 10}, {"Z1": 100})   # -10: at min_area_shift


def test_a_redelivery_cut_at_90_percent_is_blocked(tmp_path, monkeypatch):
    from bienestar import settings
    from bienestar.demo import prepare_demo
    from cities import load_city
    from expectations.gate import GateFailed, run_gate
    from sources.deliveries import land_census

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("la_paz_demo")
    prepare_demo(city, scale=0.05)
    land_census(city, city.vintage)
    run_gate(city, "raw_census", "accepted-run")
    path = settings.paths().landing_for(city.name) / city.config["census"]["households"]["file"]
    households = pd.read_csv(path, dtype=str, keep_default_na=False)
    households.head(int(len(households) * 0.9)).to_csv(path, index=False)
    land_census(city, city.vintage)
    with pytest.raises(GateFailed, match=r"row_count.*a re-delivery of the same period with 2% fewer"):
        run_gate(city, "raw_census", "cut-run")
