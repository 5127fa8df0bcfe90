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
