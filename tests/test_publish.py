"""Publishing: the snapshot is validated before it replaces current.duckdb, and a failed gate leaves the last
published files untouched (bienestar/publish.py on a real working database, the real published_snapshot gate)."""

import duckdb
import pandas as pd
import pytest

from bienestar import contract, settings, warehouse
from bienestar.publish import publications, publish_snapshot
from cities import load_city
from expectations.gate import GateFailed

CITY = load_city("la_paz_demo")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    return tmp_path


TYPES = {"depth": "BIGINT", "population": "BIGINT", "direction": "BIGINT", "min_denominator": "BIGINT",
         "display_order": "BIGINT", "rank": "BIGINT", "quantile": "BIGINT", "suppressed_inputs": "BIGINT",
         "rank_from": "BIGINT", "rank_to": "BIGINT", "rank_change": "BIGINT", "nominal_rank": "BIGINT",
         "suppressed": "BOOLEAN", "sensitive": "BOOLEAN", "weighted": "BOOLEAN", "headline": "BOOLEAN",
         "period_start": "DATE", "period_end": "DATE"}
NUMBERS = {"value", "numerator", "denominator", "moe_low", "moe_high", "score", "weight", "scale_factor",
           "score_from", "score_to", "score_change", "median_rank", "p05_rank", "p95_rank", "value_from", "value_to",
           "change", "change_pp"}


def create(con, table: str) -> None:
    """An empty marts table with the contract's columns (bienestar/contract.py)."""
    columns = ", ".join(f'"{c}" {TYPES.get(c, "DOUBLE" if c in NUMBERS else "VARCHAR")}'
                        for c in contract.TABLES[table].columns)
    con.execute(f"CREATE OR REPLACE TABLE marts.{table} ({columns})")


def write_marts(cells: list[tuple], change: bool = False) -> None:
    """Every marts table the contract requires, empty but for marts.indicator_catalogue (one share) and
    marts.indicator_values (cells: area, numerator, denominator, suppression), in the city's working database;
    `change`: a marts.index_change table with one row too."""
    with warehouse.session(CITY) as con:
        for name, table in contract.TABLES.items():
            if table.built and not table.optional:
                create(con, name)
        con.execute("INSERT INTO marts.indicator_catalogue (city, indicator_id, unit, min_denominator, sensitive, "
                    "weighted) VALUES (?, 'share', 'share', 20, false, false)", [CITY.name])
        for area, num, den, reason in cells:
            value = None if reason else num / den
            con.execute("INSERT INTO marts.indicator_values (city, area_id, indicator_id, period, level, value, "
                        "numerator, denominator, suppressed, suppression) "
                        "VALUES (?, ?, 'share', '2024', 'zona', ?, ?, ?, ?, ?)",
                        [CITY.name, area, value, None if reason else num, None if reason else den,
                         reason is not None, reason])
        con.execute("DROP TABLE IF EXISTS marts.index_change")
        if change:
            create(con, "index_change")
            con.execute("INSERT INTO marts.index_change (city, area_id, score_change) VALUES (?, 'Z1', 1.5)",
                        [CITY.name])


def published(table: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.paths().current_snapshot_for(CITY.name)), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{table} ORDER BY ALL").df()


GOOD = [("Z1", 10, 40, None), ("Z2", 20, 40, None), ("Z3", None, None, "primary")]


def test_a_valid_snapshot_replaces_current_with_every_marts_table_and_the_quality_results(home):
    write_marts(GOOD)
    current = publish_snapshot(CITY, "run-1")
    assert current == home / "published" / CITY.name / "current.duckdb"
    assert published("indicator_values")["area_id"].tolist() == ["Z1", "Z2", "Z3"]
    quality = published("data_quality")  # the snapshot's own gate is not in it; its results are in the audit
    assert "published_snapshot" not in set(quality["suite"])
    with duckdb.connect(str(current), read_only=True) as con:
        tables = {r[0]: r[1] for r in con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()}
    # a table the marts do not hold (no second vintage: no change tables) is left out; data_quality and the
    # lineage never are
    assert set(tables) == {n for n, t in contract.TABLES.items() if not t.optional}
    assert tables["indicator_values"].startswith("One value per area")
    assert not (home / "published" / CITY.name / ".incoming.duckdb").exists()
    [kept] = publications(CITY)  # and kept under its publication time
    assert kept.read_bytes() == current.read_bytes()
    with warehouse.session(CITY) as con:
        runs = con.execute("SELECT DISTINCT run_id FROM audit.validation_results "
                           "WHERE suite = 'published_snapshot'").fetchall()
    assert runs == [("run-1",)]


def test_change_tables_are_published_when_the_marts_hold_them(home):
    write_marts(GOOD, change=True)
    publish_snapshot(CITY)
    assert published("index_change")["area_id"].tolist() == ["Z1"]
    with warehouse.session(CITY) as con:  # no run id: the gate's results are recorded as a manual run
        runs = con.execute("SELECT DISTINCT run_id FROM audit.validation_results "
                           "WHERE suite = 'published_snapshot'").fetchall()
    assert runs == [("manual",)]


@pytest.mark.parametrize(("cells", "check"), [
    ([("Z1", 4, 40, None), ("Z2", 20, 40, None)], "no_small_counts"),   # 4 cases: below min_count 5
    ([("Z1", 10, 19, None), ("Z2", 20, 40, None)], "suppression"),      # 19 < min_denominator 20
])
def test_a_snapshot_failing_its_gate_leaves_the_published_files_untouched(home, cells, check):
    write_marts(GOOD)
    current = publish_snapshot(CITY, "run-1")
    before = current.read_bytes(), [p.read_bytes() for p in publications(CITY)]

    write_marts(cells)
    with pytest.raises(GateFailed, match=check):
        publish_snapshot(CITY, "run-2")
    assert (current.read_bytes(), [p.read_bytes() for p in publications(CITY)]) == before
    assert published("indicator_values")["numerator"].tolist()[:2] == [10, 20]
    assert not (home / "published" / CITY.name / ".incoming.duckdb").exists()


def test_cells_at_the_thresholds_are_published(home):
    write_marts([("Z1", 5, 20, None), ("Z2", 15, 20, None)])  # 5 cases and 5 without; a denominator of 20
    publish_snapshot(CITY, "run-1")
    assert published("indicator_values")["numerator"].tolist() == [5, 15]


@pytest.mark.parametrize(("keep", "kept"), [(1, 1), (2, 2), (3, 3)])
def test_every_publication_is_kept_under_its_time_up_to_the_citys_limit(home, keep, kept):
    """Three publications, one of them within the same second as another: `publication.keep` of them stay,
    the newest, and current.duckdb is the last."""
    import dataclasses
    from datetime import UTC, datetime

    city = dataclasses.replace(CITY, config={**CITY.config, "publication": {"keep": keep}})
    times = [datetime(2026, 12, 7, 2, 50, 12, tzinfo=UTC), datetime(2026, 12, 7, 2, 50, 12, tzinfo=UTC),
             datetime(2026, 12, 8, 9, 0, 0, tzinfo=UTC)]
    for n, now in enumerate(times):
        write_marts([("Z1", 10 + n, 40, None), ("Z2", 20, 40, None)])
        current = publish_snapshot(city, f"run-{n}", now=now)
    names = ["2026-12-07T02-50-12Z.duckdb", "2026-12-07T02-50-12Z-1.duckdb", "2026-12-08T09-00-00Z.duckdb"]
    assert [p.name for p in publications(city)] == names[-kept:]
    assert publications(city)[-1].read_bytes() == current.read_bytes()
    assert published("indicator_values")["numerator"].tolist()[0] == 12


@pytest.mark.parametrize("keep", [0, -1, 1.5, True, "30"])
def test_publication_keep_must_be_a_whole_number_of_at_least_one(home, keep):
    import dataclasses

    from cities import CityConfigError

    city = dataclasses.replace(CITY, config={**CITY.config, "publication": {"keep": keep}})
    write_marts(GOOD)
    message = r"city.yaml: publication.keep: Input should be (greater than or equal to 1|a valid integer)"
    with pytest.raises(CityConfigError, match=message):
        publish_snapshot(city)
    assert not (home / "published" / CITY.name / "current.duckdb").exists()


def test_the_snapshot_opens_in_the_duckdb_1x_cli_planners_install(home):
    """duckdb-cli 1.5.6 (the package index's DuckDB CLI) reads storage versions 64 to 68 only."""
    import importlib.util
    import subprocess
    from pathlib import Path

    cli = Path(importlib.util.find_spec("duckdb_cli").origin).parent / "duckdb"
    write_marts(GOOD)
    current = publish_snapshot(CITY)
    done = subprocess.run([str(cli), "-readonly", "-csv", str(current), "-c",
                           "SELECT count(*) AS n, sum(numerator) AS s FROM marts.indicator_values"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n,s", "3,30.0"]
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith("v1.5.6")


def test_every_published_table_and_column_says_what_it_means(home):
    write_marts(GOOD, change=True)
    current = publish_snapshot(CITY)
    with duckdb.connect(str(current), read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                              "WHERE schema_name = 'marts' ORDER BY table_name, column_index").fetchall()
        version = con.execute("SELECT version, published_columns FROM marts.schema_version").fetchall()
    assert columns and all(comment for _, _, comment in columns)
    published_columns = {}
    for table, column, _ in columns:
        published_columns.setdefault(table, []).append(column)
    from bienestar.views import VIEWS

    assert set(published_columns) - set(contract.TABLES) == set(VIEWS) - {"v_indicator_change"}  # no change here
    for table, columns_ in published_columns.items():
        if table in contract.TABLES:
            assert columns_ == list(contract.TABLES[table].columns), table  # the contract's order
    assert version == [(contract.SCHEMA_VERSION, sum(len(t.columns) for t in contract.TABLES.values()))]


def test_a_marts_table_that_differs_from_the_contract_is_not_published(home):
    write_marts(GOOD)
    with warehouse.session(CITY) as con:
        con.execute("ALTER TABLE marts.indicator_values DROP COLUMN moe_high")
    with pytest.raises(contract.ContractError, match=r"marts.indicator_values does not match the published "
                                                     r"contract .*missing moe_high"):
        publish_snapshot(CITY)
    assert not (home / "published" / CITY.name / "current.duckdb").exists()
    with warehouse.session(CITY) as con:  # a column the contract does not name stays in the working database
        con.execute("ALTER TABLE marts.indicator_values ADD COLUMN moe_high DOUBLE")
        con.execute("ALTER TABLE marts.indicator_values ADD COLUMN scratch VARCHAR")
    publish_snapshot(CITY)
    assert "scratch" not in published("indicator_values").columns


def test_lineage_names_the_run_the_code_the_spec_and_every_delivery(home):
    import subprocess
    from datetime import UTC, datetime

    from indicators.engine import load_spec
    from sources.files import file_sha256

    landing = home / "landing" / CITY.name / "census"
    landing.mkdir(parents=True)
    kept, replaced = landing / "households.csv", landing / "persons.csv"
    kept.write_text("household_id\n1\n2\n")
    replaced.write_text("person_id\n1\n")
    rows = [("census/households.csv", "census/households.csv", file_sha256(kept), "2024"),
            ("census/persons.csv", "census/persons.csv", file_sha256(replaced), "2024")]
    replaced.write_text("person_id\n1\n2\n")  # changed since it was loaded: its received time is unknown
    with warehouse.session(CITY) as con:
        con.execute("CREATE TABLE raw.census_households (city VARCHAR, _row BIGINT, _source VARCHAR, "
                    "_delivery VARCHAR, _sha256 VARCHAR, _loaded_for VARCHAR)")
        for source, delivery, sha, period in rows:
            con.execute("INSERT INTO raw.census_households VALUES (?, 1, ?, ?, ?, ?)",
                        [CITY.name, source, delivery, sha, period])
        con.execute("INSERT INTO raw.census_households VALUES (?, 2, ?, ?, ?, ?)", [CITY.name, *rows[0]])
        # a table of load records (no _row): not deliveries, not listed
        con.execute("CREATE TABLE raw.sensor_loads AS SELECT 'x' AS _sha256, 'sensors/readings' AS _source")
    write_marts(GOOD)
    now = datetime(2026, 12, 7, 3, 0, 0, tzinfo=UTC)
    publish_snapshot(CITY, "scheduled__2026-12-07", now=now)

    [publication] = published("publication").to_dict("records")
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert publication["published_at"] == pd.Timestamp("2026-12-07 03:00:00")
    assert publication["run_id"] == "scheduled__2026-12-07" and publication["git_commit"] == (head or None)
    assert publication["schema_version"] == contract.SCHEMA_VERSION
    assert publication["spec_sha256"] == load_spec(CITY.index_spec_path).sha256()
    assert [p.name for p in publications(CITY)] == ["2026-12-07T03-00-00Z.duckdb"]

    sources = published("sources").set_index("delivery")
    assert sources.loc["census/households.csv", "rows"] == 2 and sources.loc["census/persons.csv", "rows"] == 1
    assert sources.loc["census/households.csv", "received_at"] == pd.Timestamp(
        datetime.fromtimestamp(kept.stat().st_mtime, UTC).replace(tzinfo=None))
    assert pd.isna(sources.loc["census/persons.csv", "received_at"])
    assert set(sources["period"]) == {"2024"} and set(sources["sha256"]) == {r[2] for r in rows}
