"""`bienestar airflow init` on a fresh SQLite metadata database: pools, http Connections, the admin login, the
shared secrets; idempotent. (`start`/`stop` with a real scheduler: tests/test_scheduler.py.)"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

BIENESTAR = str(Path(sys.executable).with_name("bienestar"))


def init(home: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BIENESTAR_"))}
    env["BIENESTAR_HOME"] = str(home)
    return subprocess.run([BIENESTAR, "airflow", "init", *extra], env=env, capture_output=True, text=True,
                          timeout=300)


def test_init_creates_pools_connections_login_and_is_idempotent(tmp_path):
    first = init(tmp_path, "--portal-url", "http://127.0.0.1:8765")
    assert first.returncode == 0, first.stderr
    database = tmp_path / "airflow" / "airflow.db"
    with sqlite3.connect(database) as con:
        pools = dict(con.execute("SELECT pool, slots FROM slot_pool WHERE pool LIKE 'bienestar_%'").fetchall())
        conns = {r[0]: r[1:] for r in con.execute("SELECT conn_id, conn_type, host, port FROM connection")}
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    assert pools == {f"bienestar_{c}_{p}": 1 for c in ("la_paz_demo", "bolivia_municipal") for p in ("writer", "docs")}
    # the sample city's portal, as conn type http (the http provider is a dependency: not stored as generic)
    assert conns == {"la_paz_demo_ckan": ("http", "127.0.0.1", 8765),
                     "la_paz_demo_sensorthings": ("http", "127.0.0.1", 8765)}
    assert mode == "wal"
    password = json.loads((tmp_path / "airflow" / "passwords.json").read_text())["admin"]
    assert f"login: admin / {password}" in first.stdout and len(password) >= 16
    secrets = tmp_path / "airflow" / "secrets.json"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600" and set(json.loads(secrets.read_text())) == {
        "jwt_secret", "fernet_key"}
    env_file = (tmp_path / "airflow" / "deployment.env").read_text()
    assert "AIRFLOW__API_AUTH__JWT_SECRET=" in env_file and "AIRFLOW__CORE__PLUGINS_FOLDER=" in env_file

    again = init(tmp_path, "--portal-url", "http://127.0.0.1:8765")  # idempotent: same login, same secrets
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "airflow" / "passwords.json").read_text())["admin"] == password
    with sqlite3.connect(database) as con:
        assert con.execute("SELECT count(*) FROM connection").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM slot_pool WHERE pool LIKE 'bienestar_%'").fetchone()[0] == 4


def test_status_without_a_deployment_says_how_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BIENESTAR_"))}
    env["BIENESTAR_HOME"] = str(tmp_path)
    status = subprocess.run([BIENESTAR, "airflow", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 3 and "make airflow" in status.stdout
    stop = subprocess.run([BIENESTAR, "airflow", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0 and "nothing was running" in stop.stdout
