"""Settings read from the environment, with defaults that work on a fresh checkout.

`BIENESTAR_HOME` holds everything the pipeline writes:

    landing/<city>/<source>/   files as delivered
    warehouse/<city>.duckdb    the city's working database (one writer at a time, so one file per city: cities
                               never queue on each other's writer)
    published/<city>/          read-only snapshots for readers (`current.duckdb`, `<published at>.duckdb`)
    reports/<city>/            the reports: `<published at>/` each, `latest` -> the newest (reports/history.py)
    quality/<city>/            validation results (GX Data Docs)
    airflow/                   AIRFLOW_HOME for local runs (metadata DB, logs, `bienestar airflow` PID files)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CITY = "la_paz_demo"


@dataclass(frozen=True)
class Paths:
    """Where a pipeline run reads and writes, all below one home folder."""

    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    def landing_for(self, city: str) -> Path:
        return self.landing / city

    def warehouse_for(self, city: str) -> Path:
        return self.home / "warehouse" / f"{city}.duckdb"

    def published_for(self, city: str) -> Path:
        return self.home / "published" / city

    def current_snapshot_for(self, city: str) -> Path:
        return self.published_for(city) / "current.duckdb"

    def report_history_for(self, city: str) -> Path:
        """The folder of every kept report of the city."""
        return self.home / "reports" / city

    def reports_for(self, city: str) -> Path:
        """The newest report of the city (`latest`, a link to its `<published at>` folder)."""
        return self.report_history_for(city) / "latest"

    @property
    def quality(self) -> Path:
        return self.home / "quality"

    def quality_for(self, city: str) -> Path:
        return self.quality / city

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"


def home() -> Path:
    """The folder named by BIENESTAR_HOME, or `var/` in the checkout."""
    return Path(os.environ.get("BIENESTAR_HOME") or PROJECT_ROOT / "var").resolve()


def paths() -> Paths:
    """The paths of the current BIENESTAR_HOME (read on every call, so tests can point it elsewhere)."""
    return Paths(home())


def city_name() -> str:
    """The city the pipeline runs for (BIENESTAR_CITY, default the bundled sample city)."""
    return os.environ.get("BIENESTAR_CITY") or DEFAULT_CITY


DEFAULT_DUCKDB_MEMORY = "2GB"
DEFAULT_CHUNK_ROWS = 1_000_000


def duckdb_memory() -> str:
    """DuckDB's memory limit for the working database (BIENESTAR_DUCKDB_MEMORY, a DuckDB size such as "2GB"):
    beyond it DuckDB spills to `warehouse/<city>.duckdb.tmp/` instead of growing."""
    return os.environ.get("BIENESTAR_DUCKDB_MEMORY") or DEFAULT_DUCKDB_MEMORY


def chunk_rows() -> int:
    """Census rows staged in pandas at a time (BIENESTAR_CHUNK_ROWS): the census stages' memory is bounded by this
    setting, not by the census (docs/operations.md, "Memory")."""
    text = os.environ.get("BIENESTAR_CHUNK_ROWS") or str(DEFAULT_CHUNK_ROWS)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"BIENESTAR_CHUNK_ROWS={text!r}: expected a whole number of rows of at least 1")
    return int(text)


def pseudonym_key(city: str, *, demo: bool) -> bytes:
    """The secret key for pseudonymising ids (BIENESTAR_PSEUDONYM_KEY).

    The sample city may fall back to a fixed, public key: its people are synthetic. A real city must set a key,
    otherwise anyone could re-identify hashed ids by hashing candidate ids themselves.
    """
    key = os.environ.get("BIENESTAR_PSEUDONYM_KEY") or _key_from_airflow()
    if key:
        return key.encode()
    if demo:
        return f"bienestar-demo-key:{city}".encode()
    raise RuntimeError(
        f"city {city!r} needs a pseudonymisation key: set the password of the Airflow Connection "
        f"{PSEUDONYM_CONN_ID!r} (or BIENESTAR_PSEUDONYM_KEY outside Airflow) to a long random secret before "
        "running the pipeline; ids are hashed with it and it must stay the same between runs."
    )


PSEUDONYM_CONN_ID = "bienestar_pseudonym_key"


def _key_from_airflow() -> str | None:
    """The key as the password of an Airflow Connection, when running inside an Airflow task."""
    from sources.connections import inside_airflow_task

    if not inside_airflow_task():
        return None
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(PSEUDONYM_CONN_ID).password or None
    except AirflowNotFoundException:
        return None
