"""Every city gets its DAG set from its city.yaml, shaped by its census kind; every DAG states its schedule,
timeouts, docs and retries; each city's DuckDB writers queue on the city's own one-slot pool."""

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bienestar.orchestration import docs_pool, staged, writer_pool
from bienestar.runner import DAGS_FOLDER
from cities import available_cities, load_city

HEAVY = {"great_expectations", "geopandas", "matplotlib", "pandas", "duckdb", "shapely"}
MICRODATA = {"ingest_census", "ingest_services", "ingest_sensors", "build_indicators", "publish_report"}
TABLES = {"ingest_census", "build_indicators", "publish_report"}


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_a_dag_set_per_city_shaped_by_its_census(dagbag):
    assert dagbag.import_errors == {}
    assert set(available_cities()) == {"la_paz_demo", "bolivia_municipal"}
    assert set(dagbag.dag_ids) == {f"la_paz_demo.{d}" for d in MICRODATA} | {f"bolivia_municipal.{d}" for d in TABLES}
    # aggregate tables: their contracts are checked while loading; no task pretends to run a gate
    tables = dagbag.get_dag("bolivia_municipal.ingest_census")
    assert [t.task_id for t in tables.tasks if not t.task_id.startswith(("build_data_docs", "fail_run"))] == [
        "load_census_tables", "build_staging_census"]
    micro = dagbag.get_dag("la_paz_demo.ingest_census")
    assert {"gate_raw_census", "gate_staging_census"} <= set(micro.task_ids)


def test_only_listed_cities_are_deployed(monkeypatch):
    from bienestar.orchestration import deployed_cities

    monkeypatch.setenv("BIENESTAR_CITIES", " bolivia_municipal ,")
    assert [c.name for c in deployed_cities()] == ["bolivia_municipal"]
    monkeypatch.setenv("BIENESTAR_CITIES", "atlantis")
    with pytest.raises(ValueError, match="unknown city 'atlantis'"):
        deployed_cities()


def test_tags_retries_timeouts_and_docs(dagbag):
    for dag in dagbag.dags.values():
        city = dag.dag_id.split(".")[0]
        assert {"bienestar", city} <= set(dag.tags), dag.dag_id
        assert dag.doc_md, dag.dag_id
        assert dag.max_active_runs == 1, dag.dag_id
        assert dag.dagrun_timeout == timedelta(hours=3), dag.dag_id
        for task in dag.tasks:
            assert task.doc_md, f"{dag.dag_id}.{task.task_id} has no doc"
            assert task.execution_timeout == timedelta(minutes=30), f"{dag.dag_id}.{task.task_id}"
            assert str(task.weight_rule) in ("upstream", "_UpstreamPriorityWeightStrategy()") or \
                type(task.weight_rule).__name__ == "_UpstreamPriorityWeightStrategy", task.weight_rule
            if task.task_id == "fail_run":  # only re-states another task's failure: retrying it is pointless
                assert task.retries == 0
                continue
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_every_run_builds_data_docs_and_fails_when_a_task_fails(dagbag):
    for dag in dagbag.dags.values():
        docs, fail = dag.get_task("build_data_docs"), dag.get_task("fail_run")
        assert docs.trigger_rule == "all_done" and fail.trigger_rule == "one_failed"
        assert set(fail.upstream_task_ids) == {t.task_id for t in dag.tasks} - {"fail_run"}


@pytest.mark.parametrize("path", sorted(DAGS_FOLDER.glob("*.py")), ids=lambda p: p.name)
def test_schedule_is_explicit_and_imports_are_light(path: Path):
    tree = ast.parse(path.read_text())
    dag_calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", None) == "dag"]
    assert dag_calls, f"{path.name}: no @dag(...)"
    for call in dag_calls:  # the schedule is stated in the file; the rest comes from dag_kwargs (checked above)
        keywords = {k.arg for k in call.keywords}
        assert "schedule" in keywords and None in keywords, f"{path.name}: {keywords}"
    top_level = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
                 for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not top_level & HEAVY, f"{path.name} imports {top_level & HEAVY} at top level (slow DAG parsing)"


def test_assets_are_city_scoped_and_chained(dagbag):
    """build_indicators waits on any of its city's staged sources; publish_report on its city's marts."""
    def outlets(dag_id):
        return {a.uri for t in dagbag.get_dag(dag_id).tasks for a in t.outlets}

    def schedule_uris(dag_id):
        condition = dagbag.get_dag(dag_id).timetable.asset_condition
        return {a.uri for a in getattr(condition, "objects", [condition])}  # any of several, or one Asset

    lp = load_city("la_paz_demo")
    produced = outlets("la_paz_demo.ingest_census") | outlets("la_paz_demo.ingest_services") | outlets(
        "la_paz_demo.ingest_sensors")
    assert produced == {staged(lp, s).uri for s in ("census", "services", "sensors")}
    assert all(uri.startswith("duckdb://bienestar/la_paz_demo/") for uri in produced)
    assert schedule_uris("la_paz_demo.build_indicators") == produced
    assert schedule_uris("la_paz_demo.publish_report") == outlets("la_paz_demo.build_indicators") != set()
    bo = outlets("bolivia_municipal.ingest_census")
    assert schedule_uris("bolivia_municipal.build_indicators") == bo and not bo & produced


def test_writers_use_their_citys_one_slot_pool(dagbag):
    from airflow.models.pool import Pool

    # fetching from a portal and rendering the report never open the working database; Data Docs have their own
    readers = ("build_report", "fail_run", "fetch_from_portal", "build_data_docs")
    for dag in dagbag.dags.values():
        city = load_city(dag.dag_id.split(".")[0])
        assert Pool.get_pool(writer_pool(city)).slots == 1 and Pool.get_pool(docs_pool(city)).slots == 1
        writers = [t for t in dag.tasks if t.task_id not in readers]
        assert writers and all(t.pool == writer_pool(city) for t in writers), dag.dag_id
        assert dag.get_task("build_data_docs").pool == docs_pool(city)


def test_schedules_run_nothing_outside_the_citys_months(dagbag):
    """Unpausing runs nothing without data: the monthly and daily schedules span the months the city lists."""
    for name in ("ingest_services", "ingest_sensors"):
        dag = dagbag.get_dag(f"la_paz_demo.{name}")
        assert dag.start_date == datetime(2024, 6, 1, tzinfo=UTC)
        assert dag.end_date == datetime(2024, 7, 1, tzinfo=UTC)
        assert dag.catchup is False
    assert dagbag.get_dag("la_paz_demo.ingest_census").params["year"] == "2024"
