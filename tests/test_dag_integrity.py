"""Every DAG imports, and states its schedule, tags and retries; DuckDB writers queue on one pool."""

import ast
from pathlib import Path

import pytest

from bienestar.orchestration import WRITER_POOL
from bienestar.runner import DAGS_FOLDER

EXPECTED = {"ingest_census", "ingest_services", "ingest_sensors", "build_indicators", "publish_report"}
HEAVY = {"great_expectations", "geopandas", "matplotlib", "pandas", "duckdb", "shapely"}


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_all_dags_import(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_tags_retries_and_doc(dagbag):
    for dag in dagbag.dags.values():
        assert "bienestar" in dag.tags, dag.dag_id
        assert dag.doc_md, dag.dag_id
        assert dag.max_active_runs == 1, dag.dag_id
        for task in dag.tasks:
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
    assert all("schedule" in {k.arg for k in call.keywords} for call in dag_calls), f"{path.name}: no schedule="
    top_level = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
                 for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not top_level & HEAVY, f"{path.name} imports {top_level & HEAVY} at top level (slow DAG parsing)"


def test_asset_chain(dagbag):
    """build_indicators waits on what the ingest DAGs produce; publish_report waits on the marts."""
    def outlets(dag_id):
        return {a.uri for t in dagbag.get_dag(dag_id).tasks for a in t.outlets}

    def schedule_uris(dag_id):
        return {a.uri for a in dagbag.get_dag(dag_id).timetable.asset_condition.objects}

    produced = outlets("ingest_census") | outlets("ingest_services") | outlets("ingest_sensors")
    assert len(produced) == 3
    assert schedule_uris("build_indicators") == produced
    assert schedule_uris("publish_report") == outlets("build_indicators") != set()


def test_writers_use_the_one_slot_pool(dagbag):
    from airflow.models.pool import Pool

    assert Pool.get_pool(WRITER_POOL).slots == 1
    # fetching from a portal and rendering the report never open the working database
    readers = ("build_report", "fail_run", "fetch_from_portal")
    writers = [t for d in dagbag.dags.values() for t in d.tasks if t.task_id not in readers]
    assert writers and all(t.pool == WRITER_POOL for t in writers)
