"""Sensor-reading deliveries (CSV, or our JSON array of objects) into `raw.sensor_readings`, read by DuckDB itself.

The file never passes through pandas: DuckDB's `read_csv` (every column as text) or `read_json` (`format='array'`,
every field declared VARCHAR, so a number arrives as the digits delivered) feeds an `INSERT ... SELECT`. The columns
and their meanings are those `sources.files.land` gives: the five delivered fields as text, plus

    city         the city
    _source      the delivery family (e.g. `sensors/readings`)
    _delivery    the file name, relative to the city's landing folder
    _sha256      hash of the file's bytes
    _row         1-based position of the reading in the file (data rows of a CSV, elements of the JSON array)
    _loaded_for  the partition key of the data interval loaded (`partition_key`): `YYYY-MM-DD` for a day,
                 `YYYY-MM` for a calendar month, `start/end` (ISO 8601) for any other interval

Only readings whose `observed_at` falls in [interval_start, interval_end) are kept, so a monthly file loaded for
one day keeps that day's readings. A reading whose `observed_at` is missing or unreadable cannot be placed in time:
it is kept in every interval loaded from its file, so staging reports it (rejected) instead of it vanishing.

How it is stored: the readings in `raw.sensor_reading_rows` (`_load`, `_row` and the five fields as text), the
lineage of each load once in `raw.sensor_loads` (`load_id`, `city`, `_source`, `_delivery`, `_sha256`,
`_loaded_for`, `rows`), and `raw.sensor_readings` is the view that joins them, with the columns above. Writing the
five lineage texts on each of ten million readings cost as much as reading the file (benchmarks/README.md,
"Ingest"); an integer per reading costs nothing. `load_id` is a hash of (city, source, partition), so reloading
an interval gives the same ids and the same tables.

`_row` is the `rowid` (plus one) of a temporary table the file is first read into: DuckDB keeps the order of a
single-file scan in a `CREATE TABLE ... AS` while `preserve_insertion_order` is on (its default, which the load
makes sure of), and a fresh table's `rowid` numbers its rows in that order (DuckDB's "Order Preservation" page).
DuckDB 2.0's CSV and JSON readers have no `file_row_number` option (only the Parquet reader has), and
`row_number() OVER ()` straight on the reader, also order-preserving, runs the whole load on one thread: ~1.6x
slower on 10 million rows here.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from sources.files import SNIFF_CHARS, DeliveryError, delivery_format, detect_delimiter, file_sha256

READING_FIELDS = ("sensor_id", "parameter", "unit", "observed_at", "value")

RAW_DDL = [
    """CREATE TABLE IF NOT EXISTS raw.sensor_loads (
        load_id UBIGINT NOT NULL,     -- hash(city, _source, _loaded_for): the same for every reload
        city VARCHAR NOT NULL,
        _source VARCHAR NOT NULL,
        _delivery VARCHAR,
        _sha256 VARCHAR,
        _loaded_for VARCHAR NOT NULL,
        rows BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS raw.sensor_reading_rows (
        _load UBIGINT NOT NULL,       -- raw.sensor_loads.load_id
        _row BIGINT,
        sensor_id VARCHAR,
        parameter VARCHAR,
        unit VARCHAR,
        observed_at VARCHAR,
        value VARCHAR
    )""",
    """CREATE VIEW IF NOT EXISTS raw.sensor_readings AS
        SELECT l.city, r._row, r.sensor_id, r.parameter, r.unit, r.observed_at, r.value,
               l._source, l._delivery, l._sha256, l._loaded_for
        FROM raw.sensor_reading_rows r JOIN raw.sensor_loads l ON l.load_id = r._load""",
]


def create_raw_tables(con) -> None:
    """The raw sensor tables and their view (a database from before the split is refused, with what to do)."""
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'raw' "
                       "AND table_name = 'sensor_readings'").fetchall()
    if kind and kind[0][0] != "VIEW":
        raise RuntimeError("raw.sensor_readings is a table of the old layout (lineage on every reading): "
                           "run `DROP TABLE raw.sensor_readings` in the working database and land the readings "
                           "again (bienestar run, or the ingest_sensors DAG)")
    for ddl in RAW_DDL:
        con.execute(ddl)


def load_id(con, city: str, source: str, key: str) -> int:
    """The id of the load of (city, source, partition): a 64-bit hash, the same on every reload."""
    return int(con.execute("SELECT hash(?, ?, ?)", [city, source, key]).fetchone()[0])


def observed_at_sql(column: str) -> str:
    """SQL turning ISO 8601 text into a naive UTC TIMESTAMP (NULL when unreadable); valid inside `utc_session`.

    `Z` and explicit offsets are honoured and text without an offset is UTC (as `transforms.cleaning` reads it):
    a `TIMESTAMPTZ` cast does all three once the session's TimeZone is UTC; text ending in `Z`, by far the most
    common, takes the plain `TIMESTAMP` cast (40% less CPU). A plain cast alone would drop an offset silently.
    """
    return (f"CASE WHEN ends_with({column}, 'Z') THEN TRY_CAST({column} AS TIMESTAMP) "
            f"ELSE CAST(TRY_CAST({column} AS TIMESTAMPTZ) AS TIMESTAMP) END")


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

    Replaces what an earlier load of the same city, source and interval wrote (delete-then-insert in one
    transaction), so a rerun never duplicates. `delivery` is the name recorded in `_delivery` (the path relative
    to the city's landing folder; the file's name when not given). A missing file, a missing field or a file the
    reader rejects raises `DeliveryError` before anything is written.
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
    stamp = observed_at_sql("observed_at")
    fields = ", ".join(READING_FIELDS)
    # Whether each reading belongs to the interval, worked out while reading (one timestamp cast per row); one
    # without a readable time is kept (coalesced to the start): staging rejects it, with the reason.
    read = f"""
        CREATE OR REPLACE TEMP TABLE _sensor_delivery AS
        SELECT {fields}, _observed >= $start AND _observed < $end AS _in_interval
        FROM (SELECT {fields}, coalesce({stamp}, $start) AS _observed FROM {_reader(path, kind)})"""
    insert = f"""
        INSERT INTO raw.sensor_reading_rows BY NAME
        SELECT $load AS _load, rowid + 1 AS _row, {fields} FROM _sensor_delivery WHERE _in_interval"""
    create_raw_tables(con)
    load = load_id(con, city, source, key)
    clash = con.execute("SELECT city, _source, _loaded_for FROM raw.sensor_loads WHERE load_id = ? "
                        "AND (city, _source, _loaded_for) <> (?, ?, ?)", [load, city, source, key]).fetchall()
    if clash:  # two of 2^64; never seen, but it would mix two loads silently
        raise RuntimeError(f"load id {load} of {city} {source} {key} is already used by {clash[0]}")
    # The file's hash is worked out on a thread while DuckDB reads it (hashlib and DuckDB both release the GIL).
    with utc_session(con), ThreadPoolExecutor(max_workers=1) as hashing:
        sha256 = hashing.submit(file_sha256, path)
        try:
            # Read in parallel into a temporary table whose rowid is the file order (insertion order preserved),
            # outside the transaction: rows written inside one carry provisional rowids until it commits.
            try:
                con.execute(read, {"start": start, "end": end})
            except duckdb.Error as exc:  # the reader's own message (a ragged row, a cut file), with the file named
                raise DeliveryError(f"{path}: cannot be read as {kind}: {exc}. Nothing was loaded from it.") from exc
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM raw.sensor_reading_rows WHERE _load = ?", [load])
                con.execute("DELETE FROM raw.sensor_loads WHERE load_id = ?", [load])
                count = con.execute(insert, {"load": load}).fetchone()[0]
                con.execute("INSERT INTO raw.sensor_loads VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [load, city, source, delivery or path.name, sha256.result(), key, count])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute("DROP TABLE IF EXISTS _sensor_delivery")
    return int(count)
