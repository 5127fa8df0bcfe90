"""The working DuckDB database: schemas, partition writes and the audit tables.

Each city has its own working file (`warehouse/<city>.duckdb`); one process writes it at a time (the city's
one-slot Airflow pool, see `bienestar.orchestration.writer_pool`). Every write replaces a
partition (delete-then-insert in one transaction), so running a task twice gives the same database.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from bienestar import settings
from cities import City

log = logging.getLogger(__name__)

SCHEMAS = ("raw", "raw_accepted", "raw_rejected", "staging", "marts", "audit")

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit.quarantine (
    city VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,          -- raw | staging
    source VARCHAR NOT NULL,         -- delivery family, e.g. census/households.csv
    delivery VARCHAR,                -- file name (or URL) the record came in
    "row" BIGINT,                    -- 1-based position of the record in the delivery
    record_id VARCHAR,
    field VARCHAR,
    reason VARCHAR NOT NULL,
    action VARCHAR NOT NULL,         -- rejected (not used downstream) | flagged (kept, excluded where it matters)
    record VARCHAR                   -- the record as JSON, identifiers already removed
);
CREATE TABLE IF NOT EXISTS audit.validation_results (
    city VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,         -- the Airflow run that validated
    stage VARCHAR NOT NULL,          -- raw | staging | marts | published
    suite VARCHAR NOT NULL,
    "partition" VARCHAR NOT NULL,    -- vintage or month validated
    sequence BIGINT NOT NULL,        -- order of validations (latest wins), not a clock
    check_key VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    "column" VARCHAR,
    severity VARCHAR NOT NULL,       -- blocking | warning
    success BOOLEAN NOT NULL,
    observed_value VARCHAR,
    unexpected_count BIGINT,
    examples VARCHAR,
    why VARCHAR,
    seconds DOUBLE                   -- how long the suite took to read and validate (operators' figure)
);
CREATE TABLE IF NOT EXISTS audit.accepted_loads (
    city VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    "partition" VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    rows BIGINT NOT NULL,            -- rows the gate accepted: the reference for the next cut-file check
    accepted_seq BIGINT NOT NULL
);
"""


def database_of(target: City | Path) -> Path:
    """The file of a city's working database, or `target` itself when it is a path."""
    return target if isinstance(target, Path) else settings.paths().warehouse_for(target.name)


LOCK_WAIT = 120.0  # seconds a task waits for another process's lock on the working database before failing
LOCKED_BY = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


class DatabaseLocked(RuntimeError):
    """The working database stayed locked by another process for longer than the task may wait."""


def _open(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting (up to `wait` seconds, logging the holder) while another process holds the file's
    lock: a planner's read-only open of the working database between two tasks must not fail a run."""
    deadline, pause, said = time.monotonic() + wait, 0.05, None
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            holder = LOCKED_BY.search(str(exc))
            if not holder:
                raise
            who = f"PID {holder.group(2)} ({holder.group(1)})"
            if time.monotonic() + pause > deadline:
                raise DatabaseLocked(
                    f"{path} is locked by {who} and stayed locked for {wait:.0f} s: the working database is the "
                    f"pipeline's alone (readers use published/<city>/current.duckdb); stop that process and rerun "
                    f"the task") from None
            if who != said:
                log.warning("%s is locked by %s: waiting up to %.0f s (readers belong on published/)", path, who,
                            deadline - time.monotonic())
                said = who
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def _limited(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """DuckDB's memory limit from the settings (its default is 80% of the machine's memory)."""
    try:
        con.execute(f"SET memory_limit = '{settings.duckdb_memory()}'")
    except duckdb.Error as exc:
        con.close()
        raise ValueError(f"BIENESTAR_DUCKDB_MEMORY={settings.duckdb_memory()!r} is not a DuckDB memory size "
                         "(write it like 2GB or 512MB)") from exc
    return con


def connect(target: City | Path, *, read_only: bool = False, wait: float = LOCK_WAIT) -> duckdb.DuckDBPyConnection:
    """Open a city's working database (or the DuckDB file `target`), created with its schemas on first use;
    while another process holds its lock, wait up to `wait` seconds (DatabaseLocked after that)."""
    path = database_of(target)
    if read_only:
        return _limited(_open(path, True, wait))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _limited(_open(path, False, wait))
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(AUDIT_DDL)
    return con


@contextmanager
def session(target: City | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a city's working database (or a file) that is always closed, so the next task
    can open the file."""
    con = connect(target)
    try:
        yield con
    finally:
        con.close()


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame, through Arrow: on a census partition (text columns) half the peak memory of
    `.df()` and a quarter of its time (benchmarks/README.md, "Reading DuckDB into pandas")."""
    return _relation(con, sql, params).to_arrow_table().to_pandas()


def _relation(con: duckdb.DuckDBPyConnection, sql: str, params: list | None) -> duckdb.DuckDBPyRelation:
    """`con.sql`, after finishing a result an earlier `execute(...).fetchone()` left open (DuckDB 2.0 refuses a
    relation on a connection with an unfinished result)."""
    con.complete()
    return con.sql(sql, params=params or None)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchall()
    return bool(found[0][0])


def _add_new_columns(con: duckdb.DuckDBPyConnection, table: str, source: str, params: list) -> None:
    """Tables grow by new columns (the marts contract allows additions); existing rows get NULL in them."""
    existing = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    shape = _relation(con, f"SELECT * FROM {source} LIMIT 0", params)
    for name, kind in zip(shape.columns, shape.types, strict=True):
        if name not in existing:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}')


def _where(keys: Mapping[str, object]) -> tuple[str, list[object]]:
    clause = " AND ".join(f'"{k}" = ?' for k in keys) or "TRUE"
    return clause, list(keys.values())


def replace_partition(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, keys: Mapping[str, object],
    constants: Mapping[str, object] | None = None,
) -> int:
    """Replace the rows of `table` matching `keys` with `frame`, in one transaction.

    The table is created from the frame's columns on first write; columns new in the frame are added. Columns of
    `keys` missing from the frame are added (first) with the key's value, so callers cannot forget them;
    `constants` (lineage: one value for every row) are added last. Both are added in SQL, never as pandas
    columns, and the frame is not copied.
    """
    con.register("_partition", frame)
    try:
        source, params = _with_constants("_partition", frame.columns, keys, constants or {})
        _replace_rows(con, table, source, keys, params)
    finally:
        con.unregister("_partition")
    return len(frame)


def _with_constants(relation: str, columns, keys: Mapping[str, object],
                    constants: Mapping[str, object]) -> tuple[str, list]:
    """`relation` with the `keys` it lacks in front (in the order pandas' insert(0, ...) of each gave) and the
    `constants` at the end, as a parenthesised query and its parameters."""
    first = [k for k in reversed(list(keys)) if k not in columns and k not in constants]
    if not first and not constants:
        return relation, []

    def value(name: str, given: object) -> str:
        kind = "BIGINT" if isinstance(given, int) and not isinstance(given, bool) else "VARCHAR"
        return f'CAST(? AS {kind}) AS "{name}"' if given is not None else f'CAST(NULL AS VARCHAR) AS "{name}"'

    items = [*((k, keys[k]) for k in first), *(("*", None),), *constants.items()]
    select = ", ".join("*" if name == "*" else value(name, given) for name, given in items)
    params = [given for name, given in items if name != "*" and given is not None]
    return f"(SELECT {select} FROM {relation})", params


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, source: str, keys: Mapping[str, object],
                  source_params: list) -> None:
    """In one transaction: create `table` from `source`'s columns if needed, add its new columns, delete the rows
    matching `keys` and insert `source`'s rows (`source` is a relation name or a parenthesised query)."""
    try:
        con.execute("BEGIN TRANSACTION")
        _insert_rows(con, table, source, source_params, delete=keys)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, source: str, source_params: list,
                 delete: Mapping[str, object] | None = None) -> None:
    """Inside the caller's transaction: create `table` from `source`'s columns if needed, add its new columns,
    delete the rows matching `delete` (when given) and insert `source`'s rows."""
    if not table_exists(con, table):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source} LIMIT 0", source_params)
    _add_new_columns(con, table, source, source_params)
    if delete is not None:
        clause, params = _where(delete)
        con.execute(f"DELETE FROM {table} WHERE {clause}", params)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source}", source_params)


def replace_partition_in_chunks(con: duckdb.DuckDBPyConnection, table: str, frames: Iterable[pd.DataFrame],
                                keys: Mapping[str, object], order_by: str) -> int:
    """Replace the rows of `table` matching `keys` with the rows of every frame, ordered by `order_by` as one frame
    sorted by it would be: the frames go into a temporary table (which DuckDB spills past its memory limit), then
    into `table` in one transaction, so Python never holds more than one frame. Keys as `replace_partition`."""
    written, created = 0, False
    con.execute("DROP TABLE IF EXISTS temp._chunks")
    try:
        for frame in frames:
            con.register("_chunk", frame)
            try:
                source, params = _with_constants("_chunk", frame.columns, keys, {})
                if not created:
                    con.execute(f"CREATE TEMP TABLE _chunks AS SELECT * FROM {source}", params)
                    created = True
                else:
                    con.execute(f"INSERT INTO temp._chunks BY NAME SELECT * FROM {source}", params)
            finally:
                con.unregister("_chunk")
            written += len(frame)
        if created:
            _replace_rows(con, table, f"(SELECT * FROM temp._chunks ORDER BY {order_by})", keys, [])
        elif table_exists(con, table):
            clause, params = _where(keys)
            con.execute(f"DELETE FROM {table} WHERE {clause}", params)
    finally:
        con.execute("DROP TABLE IF EXISTS temp._chunks")
    return written


def replace_partition_in_order(con: duckdb.DuckDBPyConnection, table: str, frames: Iterable[pd.DataFrame],
                               keys: Mapping[str, object], constants: Mapping[str, object] | None = None) -> int:
    """Replace the rows of `table` matching `keys` with the rows of every frame, frames already in the order the
    table keeps (a delivery in file order): each goes straight into `table`, all in one transaction, so Python
    holds one frame and nothing changes when a frame fails. Keys and `constants` as `replace_partition`."""
    written, deleted = 0, False
    try:
        con.execute("BEGIN TRANSACTION")
        for frame in frames:
            con.register("_chunk", frame)
            try:
                source, params = _with_constants("_chunk", frame.columns, keys, constants or {})
                _insert_rows(con, table, source, params, delete=None if deleted else keys)
                deleted = True
            finally:
                con.unregister("_chunk")
            written += len(frame)
        if not deleted and table_exists(con, table):
            clause, params = _where(keys)
            con.execute(f"DELETE FROM {table} WHERE {clause}", params)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return written


# Raw "tables" that are views over recorded loads and archived deliveries (sources/sensor_deliveries.py): a view
# cannot be deleted from, so their partitions are kept and restored through the load records.
VIEWS_OVER_LOADS = ("raw.sensor_readings",)


def keep_accepted(con: duckdb.DuckDBPyConnection, table: str, keys: Mapping[str, object]) -> None:
    """Copy a raw partition that passed its gate to `raw_accepted`: the last accepted delivery, kept to restore."""
    copy_partition(con, table, f"raw_accepted.{table.split('.', 1)[1]}", keys)
    if table in VIEWS_OVER_LOADS:
        from sources.sensor_deliveries import keep_accepted_loads

        keep_accepted_loads(con, keys)


def restore_accepted(con: duckdb.DuckDBPyConnection, table: str, keys: Mapping[str, object]) -> int:
    """A raw partition that failed its gate goes to `raw_rejected` (kept for inspection, nothing is lost) and
    the last accepted delivery of that partition comes back into `table` (none yet: the partition is emptied).
    Returns the rows restored."""
    name = table.split(".", 1)[1]
    copy_partition(con, table, f"raw_rejected.{name}", keys)
    if table in VIEWS_OVER_LOADS:
        from sources.sensor_deliveries import restore_accepted_loads

        return restore_accepted_loads(con, keys)
    accepted = f"raw_accepted.{name}"
    clause, params = _where(keys)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table} WHERE {clause}", params)
        restored = 0
        if table_exists(con, accepted):
            restored = con.execute(f"SELECT count(*) FROM {accepted} WHERE {clause}", params).fetchone()[0]
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {accepted} WHERE {clause}", params)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(restored)


def copy_partition(con: duckdb.DuckDBPyConnection, source: str, target: str, keys: Mapping[str, object]) -> int:
    """Replace `target`'s rows matching `keys` with `source`'s (the table is created on first copy), in SQL: a
    national census partition never passes through Python."""
    clause, params = _where(keys)
    copied = con.execute(f"SELECT count(*) FROM {source} WHERE {clause}", params).fetchone()[0]
    _replace_rows(con, target, f"(SELECT * FROM {source} WHERE {clause})", keys, params)
    return int(copied)


def revoke_acceptance(con: duckdb.DuckDBPyConnection, city: str, suite: str, partition: str) -> None:
    """Forget that a partition passed `suite`: its data is being rewritten and must pass the gate again before
    anything downstream may use it (see expectations/completeness.py)."""
    con.execute('DELETE FROM audit.accepted_loads WHERE city = ? AND suite = ? AND "partition" = ?',
                [city, suite, partition])


QUARANTINE_COLUMNS = ["stage", "source", "delivery", "row", "record_id", "field", "reason", "action", "record"]


def quarantine_frame(rows: list[dict]) -> pd.DataFrame:
    """A frame with the quarantine columns, from dicts that hold some of them (`record` may be a dict)."""
    out = pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)
    out["record"] = [
        json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) if isinstance(r, dict) else r
        for r in out["record"]
    ]
    out["row"] = out["row"].astype("Int64")
    return out.astype({c: "string" for c in QUARANTINE_COLUMNS if c != "row"})


def replace_quarantine(
    con: duckdb.DuckDBPyConnection, city: str, stage: str, source: str, frame: pd.DataFrame
) -> int:
    """Replace what one stage quarantined for one source (a rerun replaces, never duplicates)."""
    frame = frame.assign(stage=stage, source=source)
    return replace_partition(con, "audit.quarantine", frame, {"city": city, "stage": stage, "source": source})
