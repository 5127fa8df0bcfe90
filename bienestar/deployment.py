"""Airflow as an operator runs it: `bienestar airflow init | start | stop | status`.

`init` (idempotent) migrates the metadata database, creates every deployed city's pools, the Connections of
its sources (conn type http) and the admin login. `start` runs init, serves the sample city's portal, starts the
api-server, scheduler, dag-processor and triggerer (and a Celery worker with the CeleryExecutor) in the
background on 127.0.0.1, waits until they answer and prints the URL and the login; `stop` stops exactly the
processes `start` recorded in `BIENESTAR_HOME/airflow/run/*.pid`.

Every process gets the same environment (`airflow/deployment.env`, written by init): the metadata database
(SQLite under BIENESTAR_HOME by default, PostgreSQL when AIRFLOW__DATABASE__SQL_ALCHEMY_CONN says so), the JWT
secret and Fernet key (generated once, kept in `airflow/secrets.json`, mode 600), the DAGs folder and the cities.
Source that file to run `airflow` commands against the same deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bienestar import settings

ADMIN = "admin"
DEFAULT_PORT = 8080
PORTAL_PORT = 8765
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def airflow_home() -> Path:
    return settings.paths().airflow_home


def run_dir() -> Path:
    return airflow_home() / "run"


def _secrets() -> dict[str, str]:
    """The deployment's JWT secret and Fernet key: generated on first use, then always the same (every process
    must share them, or a worker's tokens are refused: `Invalid auth token`)."""
    path = airflow_home() / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    values = {"jwt_secret": secrets.token_urlsafe(32), "fernet_key": Fernet.generate_key().decode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def environment(port: int = DEFAULT_PORT) -> dict[str, str]:
    """The Airflow settings of this deployment (the caller's environment wins where it sets one)."""
    from bienestar.runner import configure_airflow

    home = airflow_home()
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")  # task logs an operator reads (not WARNING)
    configure_airflow(home)  # AIRFLOW_HOME, DAGs folder, SQLite default, LocalExecutor
    if os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite"):
        os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS",
                              "airflow_local_settings.sqlite_connect_args")
    given = all(os.environ.get(k) for k in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"))
    values = {} if given else _secrets()  # compose passes its own: no stray secrets file then
    wanted = {
        "AIRFLOW__API_AUTH__JWT_SECRET": values.get("jwt_secret", ""),
        "AIRFLOW__API__SECRET_KEY": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or values.get("jwt_secret", ""),
        "AIRFLOW__CORE__FERNET_KEY": values.get("fernet_key", ""),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # task slots of this machine (each city's writer pool lets one DuckDB writer run at a time anyway)
        "AIRFLOW__CORE__PARALLELISM": "8",
        # the next task of a run starts ~0.25 s after the last one ends, not up to 1 s (Airflow's default): a
        # daily sensor run is 8 tasks, a month's backfill 240; an idle scheduler polls its database 4 times a second
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "BIENESTAR_HOME": str(settings.home()),
        "PYTHONPATH": str(settings.PROJECT_ROOT),
    }
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
    keys = [k for k in os.environ if k.startswith(("AIRFLOW_", "AIRFLOW__", "BIENESTAR_"))] + ["PYTHONPATH"]
    env = {k: os.environ[k] for k in sorted(set(keys))}
    lines = [f"export {k}={_quote(v)}" for k, v in env.items()]
    (home / "deployment.env").write_text("\n".join(lines) + "\n")
    os.chmod(home / "deployment.env", 0o600)
    return env


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def admin_password() -> str:
    """The admin's password (simple auth manager's file): created once, then kept."""
    path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    passwords = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
    if ADMIN not in passwords:
        passwords[ADMIN] = secrets.token_urlsafe(12)
        path.touch(mode=0o600)
        path.write_text(json.dumps(passwords) + "\n")
    return passwords[ADMIN]


def portal_connections(city, portal_url: str) -> dict[str, str]:
    """The Connections of a sample city's portal served at `portal_url`: conn id -> URL."""
    from cities.la_paz_demo.portal import STA_PATH

    conns = {}
    if "portal" in (city.config.get("services") or {}):
        conns[city.config["services"]["portal"]["conn_id"]] = portal_url
    if "portal" in (city.config.get("sensors") or {}):
        conns[city.config["sensors"]["portal"]["conn_id"]] = portal_url + STA_PATH
    return conns


def init(*, portal_url: str | None = None, out=sys.stdout) -> dict:
    """Migrate the metadata DB, create pools, Connections and the admin login (idempotent)."""
    environment(int(os.environ.get("AIRFLOW__API__PORT", DEFAULT_PORT)))
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from bienestar.orchestration import deployed_cities, pools
    from bienestar.runner import prepare_metadata_db

    print(f"metadata database: {_safe_url(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])}", file=out)
    cities = deployed_cities()
    prepare_metadata_db(cities)
    _sqlite_wal(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    created = {"pools": [name for city in cities for name in pools(city)], "connections": []}
    for city in cities:
        if portal_url and city.demo:
            for conn_id, url in portal_connections(city, portal_url).items():
                _put_connection(Connection, create_session, conn_id, url)
                created["connections"].append(conn_id)
    password = admin_password()
    print(f"cities: {', '.join(c.name for c in cities)}", file=out)
    print(f"pools (1 slot each): {', '.join(created['pools'])}", file=out)
    if created["connections"]:
        print(f"connections (http): {', '.join(created['connections'])} -> {portal_url}", file=out)
    print(f"login: {ADMIN} / {password}", file=out)
    return {**created, "password": password}


def _sqlite_wal(url: str) -> None:
    """A SQLite metadata database in WAL mode: readers never block the writer, and the scheduler, the
    api-server and a CLI backfill wait for each other (busy timeout) instead of failing "database is locked"."""
    if not url.startswith("sqlite:///"):
        return
    import sqlite3

    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60)) as con:
        con.execute("PRAGMA journal_mode=WAL")


def _put_connection(connection_cls, create_session, conn_id: str, url: str) -> None:
    """Create or replace a Connection of conn type http (its URL's scheme, host, port and path)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with create_session() as session:
        session.query(connection_cls).filter(connection_cls.conn_id == conn_id).delete()
        session.add(connection_cls(conn_id=conn_id, conn_type="http", host=parts.hostname, port=parts.port,
                                   schema=parts.path.strip("/") or parts.scheme,
                                   description="sample city portal served by bienestar airflow start"))


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


# ---------------------------------------------------------------------------------------------- processes
def _pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:  # reap it first when it is our own child (start and stop in one process: the tests)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def expected_processes() -> list[str]:
    """What `start` started (recorded in run/, alive or not)."""
    return sorted(p.stem for p in run_dir().glob("*.pid")) if run_dir().exists() else []


def running() -> dict[str, int]:
    """The processes `start` recorded that are still alive: name -> pid."""
    out = {}
    for path in sorted(run_dir().glob("*.pid")) if run_dir().exists() else []:
        pid = int(path.read_text().strip() or 0)
        if pid and _alive(pid):
            out[path.stem] = pid
    return out


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> int:
    logs = airflow_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    run_dir().mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.out").open("ab") as log:
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.PROJECT_ROOT)
    _pid_file(name).write_text(str(process.pid))
    return process.pid


def _wait_http(url: str, seconds: float, name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own local URL)
                if response.status < 500:
                    return
        except OSError:
            pass
        if name not in running():
            raise RuntimeError(f"{name} exited while starting: see {airflow_home() / 'logs' / f'{name}.out'}")
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer at {url} within {seconds:.0f} s: see "
                       f"{airflow_home() / 'logs' / f'{name}.out'}")


def start(*, port: int = DEFAULT_PORT, portal_port: int = PORTAL_PORT, celery_slots: int = 4, out=sys.stdout) -> dict:
    """Start the deployment in the background; return the URL and login."""
    if running():
        raise RuntimeError(f"already running: {', '.join(running())} (bienestar airflow stop first)")
    os.environ.setdefault("AIRFLOW__API__PORT", str(port))
    env = environment(port)
    portal_url = _start_portal(portal_port, env, out)
    login = init(portal_url=portal_url, out=out)
    env = environment(port)
    airflow = str(Path(sys.executable).with_name("airflow"))
    commands = {"api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
                "scheduler": [airflow, "scheduler"], "dag-processor": [airflow, "dag-processor"],
                "triggerer": [airflow, "triggerer"]}
    if env.get("AIRFLOW__CORE__EXECUTOR", "").endswith("CeleryExecutor"):
        # one worker, a few task slots: a backfill's fetches overlap while its writers queue on the pool
        commands["celery-worker"] = [airflow, "celery", "worker", "--concurrency", str(celery_slots)]
    for name, argv in commands.items():
        print(f"starting {name} ...", file=out, flush=True)
        _spawn(name, argv, env)
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/api/v2/monitor/health", 120, "api-server")
    print(f"\nAirflow is up: {url}  (login {ADMIN} / {login['password']})", file=out)
    print(f"logs: {airflow_home() / 'logs'}; stop with: make airflow-stop", file=out)
    print(f"for airflow commands: source {airflow_home() / 'deployment.env'}", file=out)
    return {"url": url, "user": ADMIN, "password": login["password"], "portal": portal_url}


def _start_portal(port: int, env: dict[str, str], out) -> str | None:
    """Serve the first generated sample city's portal (generated on first start); its URL, or None."""
    from bienestar.demo import has_portal, portal_dir, prepare_demo
    from bienestar.orchestration import deployed_cities

    for city in deployed_cities():
        if not (city.demo and has_portal(city)):
            continue
        if not portal_dir(city).exists():
            print(f"generating the sample city {city.name} (first start) ...", file=out, flush=True)
            prepare_demo(city)
        _spawn("portal", [sys.executable, "-m", f"cities.{city.name}.portal", "--port", str(port),
                          "--folder", str(portal_dir(city))], env)
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/api/3/action/package_list", 30, "portal")
        print(f"portal of {city.name}: {url}", file=out)
        return url
    return None


def stop(*, out=sys.stdout, grace: float = 20) -> list[str]:
    """Stop what `start` started (each process group: SIGTERM, then SIGKILL after `grace` seconds)."""
    alive = running()
    for name, pid in alive.items():
        print(f"stopping {name} (pid {pid})", file=out)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in alive.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name, pid in alive.items():
        if _alive(pid):
            print(f"{name} did not stop in {grace:.0f} s: killing it", file=out)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for path in run_dir().glob("*.pid") if run_dir().exists() else []:
        path.unlink()
    if not alive:
        print("nothing was running", file=out)
    return list(alive)


# ---------------------------------------------------------------------------------------------- REST client
class Client:
    """A small client of Airflow's REST API (v2) for scripts and tests: log in, trigger, backfill, wait.

        client = Client("http://127.0.0.1:8080", "admin", password)
        client.trigger("la_paz_demo.ingest_census", conf={"year": "2012"})
        client.backfill("la_paz_demo.ingest_sensors", "2024-06-01", "2024-06-30")
        client.wait_idle(["la_paz_demo"])
    """

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        token = self._call("POST", "/auth/token", {"username": user, "password": password}, auth=False)
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our own local URL)
                text = response.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{method} {path}: HTTP {err.code}: {err.read()[:500]!r}") from None
        return json.loads(text) if text else None

    def get(self, path: str):
        return self._call("GET", path)

    def post(self, path: str, body: dict):
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict):
        return self._call("PATCH", path, body)

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """A manual run with no logical date (a census re-delivery is just another trigger); its run id."""
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})["dag_run_id"]

    def backfill(self, dag_id: str, first: str, last: str, *, max_active_runs: int = 1) -> dict:
        """Runs for the data intervals starting from `first` to `last` (YYYY-MM-DD, inclusive)."""
        return self.post("/api/v2/backfills", {"dag_id": dag_id, "from_date": f"{first}T00:00:00Z",
                                               "to_date": f"{last}T00:00:00Z", "max_active_runs": max_active_runs})

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=1000&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        from urllib.parse import quote

        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=1000")[
            "task_instances"]

    def busy(self, dag_ids: list[str]) -> list[str]:
        """What is still to do: active runs, and asset events queued for a DAG that will start a run."""
        out = []
        for dag_id in dag_ids:
            out += [f"{dag_id} {r['dag_run_id']} {r['state']}" for r in self.runs(dag_id)
                    if r["state"] in ("queued", "running")]
            try:
                queued = self.get(f"/api/v2/dags/{dag_id}/assets/queuedEvents")["queued_events"]
            except RuntimeError:  # 404: nothing queued
                queued = []
            out += [f"{dag_id} waits on {len(queued)} asset event(s)"] if queued else []
        return out

    def wait_idle(self, dag_ids: list[str], *, timeout: float = 1800, settle: float = 3, out=None) -> float:
        """Wait until no run is active or about to start for `settle` seconds; the seconds waited."""
        started = time.monotonic()
        quiet_since = None
        last = None
        while time.monotonic() - started < timeout:
            busy = self.busy(dag_ids)
            if busy:
                quiet_since = None
                if out is not None and busy != last:
                    print(f"  [{time.monotonic() - started:5.0f} s] {len(busy)} busy: {busy[0]}", file=out, flush=True)
                last = busy
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return time.monotonic() - started
            time.sleep(1)
        raise TimeoutError(f"still busy after {timeout:.0f} s: {self.busy(dag_ids)[:5]}")


# ---------------------------------------------------------------------------------------------- for scripts and tests
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def fresh_postgres_database(name: str, *, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres"):
    """A new, empty PostgreSQL database for a throw-away deployment (trust auth), dropped afterwards even on
    failure; yields its name."""
    import psycopg2

    def run(sql: str) -> None:
        con = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        con.autocommit = True
        try:
            con.cursor().execute(sql)
        finally:
            con.close()

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
