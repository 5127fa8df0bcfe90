"""Test set-up: a throw-away BIENESTAR_HOME (and with it AIRFLOW_HOME) for the whole session.

Airflow reads its configuration when first imported, so the environment is set here, at collection time,
before any test module can import it.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="bienestar-tests-"))
os.environ["BIENESTAR_HOME"] = str(_HOME)
os.environ.pop("BIENESTAR_CITY", None)
os.environ.pop("BIENESTAR_CITIES", None)
os.environ.pop("BIENESTAR_CITIES_DIR", None)
os.environ.pop("BIENESTAR_PSEUDONYM_KEY", None)

from bienestar.runner import configure_airflow  # noqa: E402

configure_airflow()


@pytest.fixture(scope="session")
def bienestar_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite) migrated once per session, with every city's pools."""
    from bienestar.orchestration import deployed_cities
    from bienestar.runner import prepare_metadata_db

    prepare_metadata_db(deployed_cities())


SAMPLE_SCALE = 0.25  # a quarter of the sample city: the same shape (197 zones, 30 sensor days), a quarter of the rows


@dataclass(frozen=True)
class CompleteRun:
    home: Path       # the session's BIENESTAR_HOME, where it ran
    tables: dict     # the published snapshot's marts tables right after the run
    seconds: float   # how long the DAG runs took
    manifest: dict   # the generator's planted faults


@pytest.fixture(scope="session")
def complete_run(airflow_db) -> CompleteRun:
    """The sample city generated once (scale 0.25) in the session's home, and what `bienestar run` (dag.test,
    every DAG in order) publishes from it: the end-to-end tests read it, and every other order of runs (a real
    scheduler, the order test) must reproduce its snapshot."""
    import time

    from bienestar.demo import prepare_demo
    from bienestar.runner import run_pipeline
    from cities import load_city

    city = load_city("la_paz_demo")
    manifest = prepare_demo(city, scale=SAMPLE_SCALE)
    started = time.monotonic()
    run_pipeline(city)
    seconds = time.monotonic() - started
    return CompleteRun(_HOME, snapshot_tables(_HOME / "published" / city.name / "current.duckdb"), seconds, manifest)


@pytest.fixture(scope="session")
def bolivia_run(tmp_path_factory, airflow_db):
    """The real Bolivian municipal census (2012 and 2024) run once through every DAG in a home of its own (about
    20 s): its paths and city. The Bolivian end-to-end tests and the planners' notebooks read what it publishes."""
    from bienestar import settings
    from bienestar.runner import run_pipeline
    from cities import load_city

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(tmp_path_factory.mktemp("bolivia-home")))
        city = load_city("bolivia_municipal")
        run_pipeline(city)
        return settings.paths(), city


# What differs between two publications of the same deliveries by design: when and by which run they were
# published, when the files were received (a portal's files are fetched again by every run), and the period of
# the sensor stations' file, which is the day of whichever daily run fetched it last (runs in another order,
# another day: the same file and rows).
PUBLICATION_EVENT = {"publication": None, "sources": ["received_at"]}
STATIONS_PERIOD = "CASE WHEN source = 'sensors/stations' THEN NULL ELSE period END AS period"


def snapshot_tables(path: Path) -> dict:
    """Every marts table and view of a published snapshot, rows sorted, without what records the publication
    event itself (PUBLICATION_EVENT): two snapshots of the same deliveries compare table by table."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                                            "UNION ALL SELECT view_name FROM duckdb_views() "
                                            "WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        out = {}
        for table in tables:
            if table in PUBLICATION_EVENT and PUBLICATION_EVENT[table] is None:
                continue
            drop = PUBLICATION_EVENT.get(table) or []
            columns = f"* EXCLUDE ({', '.join(drop)})" if drop else "*"
            if table == "sources":
                columns += f" REPLACE ({STATIONS_PERIOD})"
            out[table] = con.execute(f"SELECT {columns} FROM marts.{table} ORDER BY ALL").df()
        return out
