"""No publication from incomplete sources, whatever order the runs come in.

Under a real scheduler the ingest DAGs finish in any order and `build_indicators` runs after each of them. Here
the sample city's real DAGs run (dag.test) in orders a scheduler can produce — the latest census first, sensors
late, one sensor day failing at its source, the older census last, a day restaged but not yet gated — with
`build_indicators` and `publish_report` after every step. Every build before the sources are complete must skip
(nothing built, nothing published); every publication must equal the one of the complete run in order.
"""

import shutil
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from conftest import snapshot_tables

from bienestar import settings

pytestmark = pytest.mark.e2e

CITY = "la_paz_demo"


@pytest.fixture(scope="module")
def runner(complete_run, tmp_path_factory):
    """A fresh home with the complete run's deliveries, and a function running one DAG (no retries)."""
    from airflow.dag_processing.dagbag import DagBag

    from bienestar.demo import serving_portal
    from bienestar.runner import DAGS_FOLDER, for_dag_test, prepare_metadata_db
    from cities import load_city

    reference_home, reference = complete_run.home, complete_run.tables
    city = load_city(CITY)
    home = tmp_path_factory.mktemp("order-home")
    for folder in ("landing", "portal"):
        shutil.copytree(reference_home / folder, home / folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(home))
        patch.setenv("BIENESTAR_CITIES", CITY)
        prepare_metadata_db([city])
        dags = {dag_id: for_dag_test(dag) for dag_id, dag in DagBag(dag_folder=str(DAGS_FOLDER)).dags.items()}

        def run(name: str, *, day: str | None = None, month: str | None = None, year: str | None = None):
            dag = dags[f"{CITY}.{name}"]
            if day:  # dag.test runs the interval that ends at the logical date it is given
                when = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
            elif month:
                start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
                when = start.replace(month=start.month % 12 + 1, year=start.year + start.month // 12)
            else:
                when = datetime(2024, 1, 1, tzinfo=UTC)
            with serving_portal(city):  # a fresh portal per run: it reads its files when it starts
                dag_run = dag.test(logical_date=when, run_conf={"year": year} if year else None)
            return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()} | {"run": str(dag_run.state)}

        yield run, home, reference


def build_and_publish(run, home, reference) -> bool:
    """build_indicators, then publish_report if the marts changed; True when something was published (and then
    it must be the complete run's snapshot)."""
    built = run("build_indicators")
    assert built["run"] == "success", built
    if built["check_sources_complete"] == "skipped":
        assert built["build_indicator_values"] == "skipped" and built["gate_index_scores"] == "skipped"
        return False
    assert built["gate_index_scores"] == "success"
    published = run("publish_report")
    assert published["run"] == "success", published
    snapshot = snapshot_tables(home / "published" / CITY / "current.duckdb")
    assert snapshot.keys() == reference.keys()
    for table, frame in reference.items():
        pd.testing.assert_frame_equal(snapshot[table], frame, obj=table)
    return True


def test_builds_skip_until_every_source_is_gated_and_then_publish_the_complete_snapshot(runner):
    run, home, reference = runner
    current = home / "published" / CITY / "current.duckdb"
    days = [f"2024-06-{d:02d}" for d in range(1, 31)]

    assert run("ingest_census", year="2024")["run"] == "success"  # the latest census first
    assert not build_and_publish(run, home, reference) and not current.exists()

    for day in days[:-1]:  # sensors arrive day by day, services in the middle
        assert run("ingest_sensors", day=day)["run"] == "success"
        if day == "2024-06-15":
            assert run("ingest_services", month="2024-06")["run"] == "success"
            assert not build_and_publish(run, home, reference)
    assert not build_and_publish(run, home, reference)

    # the last day fails at its source (the network reports PM in mg/m3: the connector refuses the unit)
    readings = home / "portal" / CITY / "sensors" / "readings_2024-06.json"
    original = readings.read_bytes()
    readings.write_bytes(original.replace(b'"ug/m3"', b'"mg/m3"'))
    try:
        failed = run("ingest_sensors", day=days[-1])
    finally:
        readings.write_bytes(original)
    assert failed["run"] == "failed" and failed["fetch_from_portal"] == "failed"
    assert not build_and_publish(run, home, reference)

    assert run("ingest_sensors", day=days[-1])["run"] == "success"  # the day delivered again: it passes
    assert not build_and_publish(run, home, reference)  # the 2012 census is still missing

    assert run("ingest_census", year="2012")["run"] == "success"  # the older census last
    assert build_and_publish(run, home, reference)  # complete: published, equal to the complete run's


def test_a_restaged_partition_blocks_publication_until_its_gate_passes_again(runner):
    run, home, reference = runner
    from cities import load_city
    from transforms.staging import stage_sensors

    published = (home / "published" / CITY / "current.duckdb").read_bytes()
    city = load_city(CITY)
    start = datetime(2024, 6, 5, tzinfo=UTC)
    stage_sensors(city, start, start + timedelta(days=1))  # a rewrite of day 5 that no gate has seen yet
    assert not build_and_publish(run, home, reference)
    assert (home / "published" / CITY / "current.duckdb").read_bytes() == published  # nothing published

    assert run("ingest_sensors", day="2024-06-05")["run"] == "success"  # staged and gated again
    assert build_and_publish(run, home, reference)
    assert settings.paths().current_snapshot_for(CITY) == home / "published" / CITY / "current.duckdb"
