"""Sensor-reading deliveries (CSV, or our JSON array of objects) into `raw.sensor_readings`, read by DuckDB itself.

The file never passes through pandas: DuckDB's `read_csv` (every column as text) or `read_json` (`format='array'`,
every field declared VARCHAR, so a number arrives as the digits delivered) reads it. `raw.sensor_readings` has
the columns `sources.files.land` gives: the five delivered fields as text, plus

    city         the city
    _source      the delivery family (e.g. `sensors/readings`)
    _delivery    the file name, relative to the city's landing folder
    _sha256      hash of the file's bytes
    _row         1-based position of the reading in the file (data rows of a CSV, elements of the JSON array)
    _loaded_for  the partition key of the data interval loaded (`partition_key`): `YYYY-MM-DD` for a day,
                 `YYYY-MM` for a calendar month, `start/end` (ISO 8601) for any other interval

Only readings whose `observed_at` falls in [interval_start, interval_end) belong to a load, so a monthly file
loaded for one day shows that day's readings. A reading whose `observed_at` is missing or unreadable cannot be
placed in time: it belongs to every interval loaded from its file, so staging reports it (rejected) instead of it
vanishing.

How it is stored. Each delivered file is archived once, as received, in a Parquet file named by its SHA-256
(`<database>.deliveries/<city>/<sha256>.parquet`, beside the database file): the five fields as text, in file
order, so Parquet's `file_row_number` is the file's row. `raw.sensor_loads` records each load once (city, source,
delivery, hash, partition, interval, archive, rows), and `raw.sensor_readings` is a view over the loads and
their archives that keeps each load's interval. So a load writes the readings once, in one parallel pass at the
speed of DuckDB's own `read_csv`, and the same file loaded for several intervals has one archive. (The
readings used to be copied into a DuckDB table with the lineage on every row: two passes, because DuckDB 2.0's
CSV and JSON readers have no `file_row_number`, and most of the time spent writing text; benchmarks/README.md,
"Ingest".) `load_id` is a hash of (city, source, partition), so reloading an interval gives the same ids; an
archive no load refers to any more is deleted.
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from bienestar import warehouse
from sources.files import SNIFF_CHARS, DeliveryError, delivery_format, detect_delimiter, file_sha256

READING_FIELDS = ("sensor_id", "parameter", "unit", "observed_at", "value")

RAW_DDL = """
CREATE TABLE IF NOT EXISTS raw.sensor_loads (
    load_id UBIGINT NOT NULL,         -- hash(city, _source, _loaded_for): the same for every reload
    city VARCHAR NOT NULL,
    _source VARCHAR NOT NULL,
    _delivery VARCHAR,
    _sha256 VARCHAR NOT NULL,
    _loaded_for VARCHAR NOT NULL,
    interval_start TIMESTAMP NOT NULL,  -- UTC; the readings of the load are those observed in
    interval_end TIMESTAMP NOT NULL,    -- [interval_start, interval_end), and those without a readable time
    archive VARCHAR NOT NULL,         -- the Parquet copy of the delivery
    rows BIGINT
)"""


def create_raw_tables(con) -> None:
    """raw.sensor_loads and the view raw.sensor_readings (a database from before the archive layout is refused,
    with what to do)."""
    kind = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'raw' "
                            "AND table_name IN ('sensor_readings', 'sensor_reading_rows')").fetchall())
    if kind.get("sensor_readings", "VIEW") != "VIEW" or "sensor_reading_rows" in kind:
        raise RuntimeError("raw.sensor_readings is stored in an old layout: run `DROP TABLE IF EXISTS "
                           "raw.sensor_readings; DROP TABLE IF EXISTS raw.sensor_reading_rows` (DROP VIEW for a "
                           "view) in the working database and land the readings again (bienestar run, or the "
                           "ingest_sensors DAG)")
    con.execute(RAW_DDL)
    if "sensor_readings" not in kind:  # the view exists from the start (empty until a load), as a table would
        _create_readings_view(con)


def archive_folder(con, city: str) -> Path:
    """Where the database behind `con` archives a city's sensor deliveries: `<database>.deliveries/<city>/`."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    if not path:
        raise RuntimeError("sensor deliveries are archived beside the database file: open a database file, "
                           "not an in-memory database")
    return Path(path).resolve().with_suffix(".deliveries") / city


def archive_rows_sql(archives: list[str]) -> str:
    """SQL reading archived deliveries: `archive` (the file read), `_row` and the five fields as delivered."""
    if not archives:  # read_parquet needs a file: no rows, the same columns
        fields = ", ".join(f"NULL::VARCHAR AS {name}" for name in READING_FIELDS)
        return f"SELECT NULL::VARCHAR AS archive, NULL::BIGINT AS _row, {fields} WHERE FALSE"
    files = "[" + ", ".join(_literal(a) for a in archives) + "]"
    return (f"SELECT filename AS archive, file_row_number + 1 AS _row, {', '.join(READING_FIELDS)} "
            f"FROM read_parquet({files}, filename = true, file_row_number = true)")


def _create_readings_view(con) -> None:
    """(Re)create the view raw.sensor_readings over the archives the loads refer to, keeping each load's interval."""
    archives = [row[0] for row in con.execute("SELECT DISTINCT archive FROM raw.sensor_loads "
                                              "ORDER BY archive").fetchall()]
    stamp = observed_at_sql("r.observed_at")
    con.execute(f"""CREATE OR REPLACE VIEW raw.sensor_readings AS
        SELECT l.city, r._row, r.sensor_id, r.parameter, r.unit, r.observed_at, r.value,
               l._source, l._delivery, l._sha256, l._loaded_for
        FROM raw.sensor_loads l JOIN ({archive_rows_sql(archives)}) r USING (archive)
        WHERE coalesce({stamp}, l.interval_start) >= l.interval_start
          AND coalesce({stamp}, l.interval_start) < l.interval_end""")


def load_id(con, city: str, source: str, key: str) -> int:
    """The id of the load of (city, source, partition): a 64-bit hash, the same on every reload."""
    return int(con.execute("SELECT hash(?, ?, ?)", [city, source, key]).fetchone()[0])


# A time of day followed by a UTC offset (+02, -04:00, +0530) at the end of the text.
UTC_OFFSET = "[0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]*)?)? *[+-][0-9]{2}(:?[0-9]{2})?$"


def observed_at_sql(column: str) -> str:
    """SQL turning ISO 8601 text into a naive UTC TIMESTAMP (NULL when unreadable), whatever the session's TimeZone.

    `Z` and explicit offsets are honoured and text without an offset is UTC (as `transforms.cleaning` reads it).
    Text ending in `Z`, by far the most common, takes the plain `TIMESTAMP` cast (40% less CPU than TIMESTAMPTZ);
    text with an offset goes through TIMESTAMPTZ and back to UTC; text without one is read as UTC. A plain cast
    alone would drop an offset silently.
    """
    return (f"CASE WHEN ends_with({column}, 'Z') THEN TRY_CAST({column} AS TIMESTAMP) "
            f"WHEN regexp_matches({column}, '{UTC_OFFSET}') "
            f"THEN timezone('UTC', TRY_CAST({column} AS TIMESTAMPTZ)) "
            f"ELSE TRY_CAST({column} AS TIMESTAMP) END")


@contextmanager
def utc_session(con) -> Iterator[None]:
    """Run with the session's TimeZone at UTC and insertion order preserved, restoring both afterwards."""
    zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET SESSION TimeZone = 'UTC'")
    if not ordered:
        con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET SESSION TimeZone = {_literal(zone)}")
        if not ordered:
            con.execute("SET preserve_insertion_order = false")


def utc_naive(moment: object) -> datetime:
    """A data-interval bound (datetime, pendulum, pandas Timestamp or ISO text) as a naive UTC datetime."""
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _is_midnight(moment: datetime) -> bool:
    return moment == datetime(moment.year, moment.month, moment.day)


def partition_key(interval_start: object, interval_end: object) -> str:
    """The key of a data interval: `YYYY-MM-DD` for one day, `YYYY-MM` for one calendar month, else `start/end`."""
    start, end = utc_naive(interval_start), utc_naive(interval_end)
    if end <= start:
        raise ValueError(f"empty data interval: {start.isoformat()} to {end.isoformat()}")
    if _is_midnight(start) and end - start == timedelta(days=1):
        return f"{start:%Y-%m-%d}"
    if _is_midnight(start) and start.day == 1:
        days = calendar.monthrange(start.year, start.month)[1]
        if end - start == timedelta(days=days):
            return f"{start:%Y-%m}"
    if _is_midnight(start) and _is_midnight(end):
        return f"{start:%Y-%m-%d}/{end:%Y-%m-%d}"
    return f"{start.isoformat()}/{end.isoformat()}"


def _referenced_archives(con) -> list[str]:
    """The archives a load refers to: in raw.sensor_loads, or kept in raw_accepted.sensor_loads (the last accepted
    delivery of an interval, which a rejected re-delivery gives back: `restore_accepted_loads`)."""
    kept = " UNION SELECT archive FROM raw_accepted.sensor_loads" if warehouse.table_exists(
        con, "raw_accepted.sensor_loads") else ""
    return [row[0] for row in con.execute(f"SELECT archive FROM raw.sensor_loads{kept}").fetchall()]


def keep_accepted_loads(con, keys: dict) -> None:
    """An interval that passed its raw gate (`bienestar.warehouse.keep_accepted`): its load records are kept in
    raw_accepted.sensor_loads, and with them their archives (a later load deletes only archives no load refers to)."""
    warehouse.copy_partition(con, "raw.sensor_loads", "raw_accepted.sensor_loads", keys)


def restore_accepted_loads(con, keys: dict) -> int:
    """An interval whose delivery its raw gate rejected (`bienestar.warehouse.restore_accepted`): raw.sensor_loads
    gets the accepted load records back (none yet, or an archive gone: the interval is emptied) and the view
    raw.sensor_readings follows. Returns the readings restored."""
    clause = " AND ".join(f'"{k}" = ?' for k in keys)
    params = list(keys.values())
    accepted = []
    if warehouse.table_exists(con, "raw_accepted.sensor_loads"):
        accepted = [load for load, archive in con.execute(
            f"SELECT load_id, archive FROM raw_accepted.sensor_loads WHERE {clause}", params).fetchall()
            if Path(archive).exists()]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM raw.sensor_loads WHERE {clause}", params)
        if accepted:
            con.execute(f"INSERT INTO raw.sensor_loads BY NAME SELECT * FROM raw_accepted.sensor_loads "
                        f"WHERE {clause} AND load_id IN ({', '.join('?' * len(accepted))})", params + accepted)
        _create_readings_view(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(con.execute(f"SELECT count(*) FROM raw.sensor_readings WHERE {clause}", params).fetchone()[0])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_delimiter(path: Path) -> str:
    """The delimiter, chosen from the file's first rows as `sources.files` does, so DuckDB's sniffer cannot
    settle for one column on a ragged file."""
    with path.open("rb") as fh:
        sample = fh.read(SNIFF_CHARS).decode("utf-8", errors="replace")
    return detect_delimiter(sample.removeprefix("\ufeff"))


def _reader(path: Path, kind: str, *, typed: bool = True) -> str:
    """The DuckDB table function reading the delivery, every field as text (`typed=False`: JSON keys as found)."""
    if kind == "csv":
        return (f"read_csv({_literal(str(path))}, header = true, all_varchar = true, skip = 0, "
                f"delim = {_literal(_csv_delimiter(path))})")
    if not typed:
        return f"read_json({_literal(str(path))}, format = 'array')"
    columns = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in READING_FIELDS)
    return f"read_json({_literal(str(path))}, format = 'array', columns = {{{columns}}})"


def _fields(con, path: Path, kind: str) -> list[str]:
    """The fields the delivery has (a CSV's header; the keys DuckDB's sampling finds in a JSON array)."""
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {_reader(path, kind, typed=False)}").fetchall()]


def _archive(con, path: Path, kind: str, target: Path) -> None:
    """Copy a delivery's five fields, as text and in file order, into a Parquet file (a provisional name, renamed
    by the caller, so a failed read leaves no archive). DuckDB keeps the order of a single-file scan in a COPY
    while `preserve_insertion_order` is on (its default, which `utc_session` makes sure of)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con.execute(f"COPY (SELECT {', '.join(READING_FIELDS)} FROM {_reader(path, kind)}) "
                    f"TO {_literal(str(target))} (FORMAT parquet, COMPRESSION lz4)")
    except duckdb.Error as exc:  # the reader's own message (a ragged row, a cut file), with the file named
        target.unlink(missing_ok=True)
        raise DeliveryError(f"{path}: cannot be read as {kind}: {exc}. Nothing was loaded from it.") from exc


def land_readings(
    con,
    *,
    city: str,
    path: Path,
    source: str,
    interval_start: object,
    interval_end: object,
    delivery: str | None = None,
) -> int:
    """Load the readings of one data interval from a delivered file into raw.sensor_readings; returns the count.

    Replaces what an earlier load of the same city, source and interval recorded (in one transaction), so a
    rerun never duplicates; the file is archived unless the same bytes already are. `delivery` is the name
    recorded in `_delivery` (the path relative to the city's landing folder; the file's name when not given).
    A missing file, a missing field or a file the reader rejects raises `DeliveryError` before anything is
    written.
    """
    path = Path(path)
    if not path.exists():
        raise DeliveryError(f"{path}: delivery not found. Put the file there (for the sample city run "
                            "`bienestar generate`), or fix the path in the city config.")
    kind = delivery_format(path)
    if kind not in ("csv", "json"):
        raise DeliveryError(f"{path}: sensor readings come as CSV or as a JSON array of objects, not {kind}")
    start, end = utc_naive(interval_start), utc_naive(interval_end)
    key = partition_key(start, end)
    try:
        found = _fields(con, path, kind)
    except Exception as exc:  # the reader's own message, with the file named
        raise DeliveryError(f"{path}: cannot be read as {kind}: {exc}") from exc
    missing = [name for name in READING_FIELDS if name not in found]
    if missing:
        raise DeliveryError(f"{path}: missing field(s) {', '.join(missing)}; the file has {', '.join(found)}. "
                            "Nothing was loaded from it.")
    load = load_id(con, city, source, key)
    create_raw_tables(con)
    clash = con.execute("SELECT city, _source, _loaded_for FROM raw.sensor_loads WHERE load_id = ? "
                        "AND (city, _source, _loaded_for) <> (?, ?, ?)", [load, city, source, key]).fetchall()
    if clash:  # two of 2^64; never seen, but it would mix two loads silently
        raise RuntimeError(f"load id {load} of {city} {source} {key} is already used by {clash[0]}")
    folder = archive_folder(con, city)
    with utc_session(con):
        # Hashed on a thread while DuckDB copies the file (both release the GIL); the archive is named by the
        # hash, so the same bytes delivered again replace their archive with the same rows.
        with ThreadPoolExecutor(max_workers=1) as hashing:
            hashed = hashing.submit(file_sha256, path)
            provisional = folder / f".{path.name}.{os.getpid()}.partial"
            _archive(con, path, kind, provisional)
            sha256 = hashed.result()
        archive = folder / f"{sha256}.parquet"
        provisional.replace(archive)
        # Counted on the distinct times (a few thousand), not on every reading.
        count = con.execute(f"""
            SELECT coalesce(sum(n), 0) FROM (
                SELECT observed_at, count(*) AS n FROM read_parquet({_literal(str(archive))}) GROUP BY observed_at)
            WHERE coalesce({observed_at_sql("observed_at")}, $start) >= $start
              AND coalesce({observed_at_sql("observed_at")}, $start) < $end""", {"start": start, "end": end}
                            ).fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM raw.sensor_loads WHERE load_id = ?", [load])
            con.execute("INSERT INTO raw.sensor_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [load, city, source, delivery or path.name, sha256, key, start, end, str(archive), count])
            _create_readings_view(con)
            archives = _referenced_archives(con)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    for unused in set(folder.glob("*.parquet")) - {Path(a) for a in archives}:
        unused.unlink()  # a delivery no load refers to any more (it was replaced)
    return int(count)
