"""Alerts: a failed task of a real DAG run is POSTed to the `bienestar_alerts` webhook (a real HTTP server on
127.0.0.1) with the DAG, task, run and error line, and recorded per run; an alert that cannot go out never fails
anything."""

import asyncio
import json
import logging
from urllib.parse import quote

import pytest

from bienestar import alerts
from tests.http_server import Reply, ScriptedServer, json_reply


@pytest.fixture
def hook(monkeypatch):
    with ScriptedServer() as server:
        server.route("/hooks/ops", json_reply({"ok": True}))
        server.route("/hooks/broken", Reply(500, "down"))
        monkeypatch.setenv("AIRFLOW_CONN_BIENESTAR_ALERTS", f"{server.base_url}/hooks/ops")
        yield server


def posted(server, path="/hooks/ops"):
    return [json.loads(r.body) for r in server.seen(path) if r.method == "POST"]


def test_first_line_of_an_error():
    assert alerts.first_line(ValueError("bad row\n  detail")) == "ValueError: bad row"
    assert alerts.first_line("  \n") == "(no message)"


def test_a_failed_task_alerts_the_webhook_and_records_the_error(hook, airflow_db, tmp_path, monkeypatch):
    """The census DAG of the sample city with nothing delivered: land_census_files fails at once (a missing file
    is not worth a retry) and the operators' webhook gets the alert."""
    from airflow.dag_processing.dagbag import DagBag

    from bienestar.runner import DAGS_FOLDER

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["la_paz_demo.ingest_census"]
    run = dag.test(run_conf={"year": "2024"})
    assert str(run.state) == "failed"
    alerted = {a["task_id"]: a for a in posted(hook)}
    assert set(alerted) == {"land_census_files"}  # fail_run only restates it: one alert per failure
    alert = alerted["land_census_files"]
    assert alert["kind"] == "task_failed" and alert["dag_id"] == "la_paz_demo.ingest_census"
    assert alert["run_id"] == run.run_id
    assert alert["error"].startswith("AirflowFailException: ") and "boundaries" in alert["error"]
    assert "la_paz_demo.ingest_census / land_census_files failed" in alert["text"]
    assert f"/dags/la_paz_demo.ingest_census/runs/{quote(run.run_id, safe='')}/tasks/land_census_files" in \
        alert["log_url"]
    [ti] = [ti for ti in run.get_task_instances() if ti.task_id == "land_census_files"]
    assert ti.try_number == 1  # a deterministic error: failed at once, not retried
    # the runner reads the error of exactly this run (an earlier or later failure does not overwrite it)
    assert "boundaries" in alerts.read_failure(dag.dag_id, run.run_id, "land_census_files")
    assert alerts.read_failure(dag.dag_id, "another-run", "land_census_files") is None


def test_a_late_run_alert_names_the_run_and_its_deadline(hook):
    context = {"dag_run": {"dag_id": "la_paz_demo.ingest_sensors", "dag_run_id": "scheduled__2024-06-03",
                           "state": "running"},
               "deadline": {"id": "x", "deadline_time": "2024-06-04T02:00:00+00:00"}}
    asyncio.run(alerts.run_late(context=context, expected="2 hours after it was queued"))
    [alert] = posted(hook)
    assert alert["kind"] == "run_late" and alert["run_id"] == "scheduled__2024-06-03"
    assert "is late: not finished by 2024-06-04T02:00:00+00:00 (2 hours after it was queued)" in alert["text"]


def logged(caplog, capsys) -> str:
    """What was logged: once Airflow is imported its structlog setup prints records instead of passing them on,
    so a test alone and a test after others see them in different places."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def test_an_alert_that_cannot_be_sent_fails_nothing(hook, monkeypatch, caplog, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_BIENESTAR_ALERTS", f"{hook.base_url}/hooks/broken")
    assert alerts.send({"text": "x", "kind": "task_failed"}) is False
    assert len(hook.seen("/hooks/broken")) == 1
    assert "could not send the message through 'bienestar_alerts'" in logged(caplog, capsys)


def test_without_the_connection_the_alert_is_only_logged(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_BIENESTAR_ALERTS", raising=False)
    assert alerts.send({"text": "bienestar: something failed", "kind": "task_failed"}) is False
    assert "ALERT bienestar: something failed" in caplog.text and "bienestar_alerts" in caplog.text


def test_smtp_without_recipients_says_what_to_set(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_BIENESTAR_ALERTS", "smtp://mail.example.org:25")
    assert alerts.send({"text": "x", "kind": "task_failed"}) is False
    assert '{"to": ["ops@example.org"]}' in caplog.text


def test_a_new_report_is_announced_to_the_analysts_channel(monkeypatch, tmp_path, caplog, capsys):
    """The notice carries the report's key findings and its link; without base_url the link is the file."""
    from cities import load_city

    folder = tmp_path / "2026-12-07T05-26-00Z"
    folder.mkdir()
    (folder / "index.html").write_text("<html></html>")
    (folder / "report.json").write_text(json.dumps({"period": "2024", "published_at": "2026-12-07 05:26:00",
                                                    "findings": ["Puntaje mediano de zona: 72,9.", "Mejores 5: A."]}))
    city = load_city("la_paz_demo")
    with ScriptedServer() as server:
        server.route("/hooks/analysts", json_reply({"ok": True}))
        monkeypatch.setenv("AIRFLOW_CONN_BIENESTAR_REPORTS", f"{server.base_url}/hooks/analysts")
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example.org:8080")
        assert alerts.report_published(city, folder / "index.html") is True
        [notice] = posted(server, "/hooks/analysts")
    assert notice["kind"] == "report_published" and notice["city"] == "la_paz_demo" and notice["period"] == "2024"
    assert notice["report_url"] == \
        "http://airflow.example.org:8080/bienestar/reports/la_paz_demo/2026-12-07T05-26-00Z/index.html"
    assert notice["findings"] == ["Puntaje mediano de zona: 72,9.", "Mejores 5: A."]
    assert notice["text"].startswith("bienestar: new report for La Paz (ciudad de ejemplo / sample city) (2024): "
                                     "Puntaje mediano de zona: 72,9. Mejores 5: A.")
    monkeypatch.delenv("AIRFLOW_CONN_BIENESTAR_REPORTS")
    monkeypatch.delenv("AIRFLOW__API__BASE_URL")
    caplog.set_level(logging.INFO, logger="bienestar.alerts")
    assert alerts.report_published(city, folder / "index.html") is False  # no channel: only logged, no error
    text = logged(caplog, capsys)
    assert "NOTICE bienestar: new report" in text and (folder / "index.html").as_uri() in text
    assert "ALERT" not in text
