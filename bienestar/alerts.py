"""Alerts to operators (a failed task, a run that is late) and the notice to analysts that a report is out.

Where alerts go is the Airflow Connection `bienestar_alerts`:

- conn type `http`/`https` (a webhook: Slack, Teams, Mattermost, ntfy, an incident tool): the alert is POSTed as
  JSON `{"text": ..., "dag_id", "task_id", "run_id", "error", "log_url"}` to the connection's URL;
- conn type `smtp` (Airflow's SMTP provider): an e-mail to the addresses in the connection's extra `{"to": [...]}`,
  sent through that same connection (host, port, login, password, `from_email`).

Without the connection, alerts are only logged (and a failed task's error is still recorded for `bienestar run`).
Alerting never fails a task: an alert that cannot be sent is logged as an error.

The notice of a new report goes the same two ways through the Connection `bienestar_reports` (the analysts'
channel, optional): `{"text", "kind": "report_published", "city", "period", "published_at", "report_url",
"findings"}`, the key findings as the report's first page states them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bienestar import settings

log = logging.getLogger(__name__)

ALERT_CONN_ID = "bienestar_alerts"
REPORT_CONN_ID = "bienestar_reports"
SEND_TIMEOUT = 10  # seconds: an alert endpoint that hangs must not hold the task's slot


def first_line(error: object) -> str:
    """The error's first line, as an operator reads it in an alert."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


# ------------------------------------------------------------------------------------------ failure record
def failure_file(dag_id: str, run_id: str, task_id: str) -> Path:
    return settings.paths().airflow_home / "failures" / dag_id / run_id.replace("/", "_") / f"{task_id}.txt"


def read_failure(dag_id: str, run_id: str, task_id: str) -> str | None:
    """The error a task of a run recorded when it failed, if any."""
    path = failure_file(dag_id, run_id, task_id)
    return path.read_text(encoding="utf-8") if path.exists() else None


# ------------------------------------------------------------------------------------------ callbacks
def task_failed(context) -> None:
    """Task failure callback: record the error for this run and alert the operators."""
    ti = context["ti"]
    if ti.task_id == "fail_run":  # it only restates another task's failure, already alerted
        return
    error = context.get("exception")
    text = f"{type(error).__name__}: {error}" if error is not None else "failed (see the task log)"
    path = failure_file(ti.dag_id, ti.run_id, ti.task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    send({
        "text": f"bienestar: task {ti.dag_id} / {ti.task_id} failed in run {ti.run_id}: {first_line(text)}",
        "kind": "task_failed", "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id,
        "error": first_line(text), "log_url": getattr(ti, "log_url", None),
    })


async def run_late(context=None, **kwargs) -> None:
    """Deadline Alert callback (runs in the triggerer): a run has not finished by its deadline."""
    import asyncio

    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    dag_id, run_id = run.get("dag_id", "?"), run.get("dag_run_id") or run.get("run_id", "?")
    base = _base_url()
    await asyncio.to_thread(send, {
        "text": f"bienestar: run {run_id} of {dag_id} is late: not finished by {deadline.get('deadline_time')} "
                f"({kwargs.get('expected', 'its deadline')}); state {run.get('state')}",
        "kind": "run_late", "dag_id": dag_id, "task_id": None, "run_id": run_id,
        "error": f"not finished by {deadline.get('deadline_time')}",
        "log_url": f"{base}/dags/{dag_id}/runs/{run_id}" if base else None,
    })


def _base_url() -> str | None:
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback="").rstrip("/") or None
    except Exception:  # outside an Airflow installation
        return None


# ------------------------------------------------------------------------------------------ delivery
def _connection(conn_id: str = ALERT_CONN_ID):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def send(alert: dict, conn_id: str = ALERT_CONN_ID) -> bool:
    """Deliver an alert (or, through `bienestar_reports`, a notice) through the Connection `conn_id`; True when
    it went out. Never raises."""
    if conn_id == ALERT_CONN_ID:
        log.error("ALERT %s", alert["text"])
    else:
        log.info("NOTICE %s", alert["text"])
    try:
        conn = _connection(conn_id)
        if conn is None:
            log.warning("no Airflow Connection %r: the message above was only logged (see docs/operations.md, "
                        "Alerts)", conn_id)
            return False
        if conn.conn_type in ("http", "https"):
            _post(_webhook_url(conn), alert)
        elif conn.conn_type in ("smtp", "email"):
            _mail(conn, alert)
        else:
            log.error("Connection %r has conn type %r: use http (a webhook) or smtp", conn_id, conn.conn_type)
            return False
        return True
    except Exception as exc:  # an alert that cannot be sent must not hide the failure it reports
        log.error("could not send the message through %r: %s", conn_id, first_line(exc))
        return False


def report_published(city, page: Path) -> bool:
    """Tell the analysts' channel (`bienestar_reports`) that a report is out: its key findings and its link
    (the Airflow UI's copy when the API's base_url is set, else the file). Never raises."""
    folder = page.resolve().parent
    try:
        summary = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("no report summary to announce in %s: %s", folder, first_line(exc))
        return False
    base = _base_url()
    url = (f"{base}/bienestar/reports/{city.name}/{folder.name}/index.html" if base
           else (folder / "index.html").as_uri())
    findings = summary.get("findings") or []
    return send({
        "text": f"bienestar: new report for {city.display_name} ({summary.get('period')}): {' '.join(findings)} "
                f"{url}",
        "kind": "report_published", "city": city.name, "period": summary.get("period"),
        "published_at": summary.get("published_at"), "report_url": url, "findings": findings,
    }, REPORT_CONN_ID)


def _webhook_url(conn) -> str:
    from sources.connections import endpoint_from_airflow_connection

    return endpoint_from_airflow_connection(conn).base_url


def _post(url: str, alert: dict) -> None:
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(alert).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:  # noqa: S310 (operator's own URL)
        response.read()


def _mail(conn, alert: dict) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = (conn.extra_dejson or {}).get("to")
    if not to:
        raise ValueError(f"Connection {conn.conn_id!r} (smtp) needs the recipients in its extra: "
                         '{"to": ["ops@example.org"]}')
    body = "\n".join(f"{key}: {value}" for key, value in alert.items() if value and key != "text")
    with SmtpHook(smtp_conn_id=conn.conn_id) as hook:
        hook.send_email_smtp(to=to, subject=alert["text"][:150], html_content=f"<pre>{body}</pre>")
