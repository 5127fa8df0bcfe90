"""Landing sensor-reading files into raw.sensor_readings with DuckDB's own readers (sources.sensor_deliveries)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bienestar import warehouse
from cities import load_city
from expectations.suites import read_raw_sensors
from sources.files import DeliveryError
from sources.sensor_deliveries import land_readings, partition_key

HEADER = ["sensor_id", "parameter", "unit", "observed_at", "value"]
SOURCE = "sensors/readings"


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def con(tmp_path):
    with warehouse.session(tmp_path / "warehouse.duckdb") as connection:
        yield connection


def raw_rows(con, where: str = "TRUE") -> list[tuple]:
    return con.execute(f"SELECT _row, sensor_id, parameter, unit, observed_at, value, _loaded_for "
                       f"FROM raw.sensor_readings WHERE {where} ORDER BY _loaded_for, _row").fetchall()


def full_table(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


# ------------------------------------------------------------------------------------------ partition keys
def test_partition_key_per_kind_of_interval():
    assert partition_key("2024-06-03", "2024-06-04") == "2024-06-03"
    assert partition_key("2024-06-01", "2024-07-01") == "2024-06"
    assert partition_key("2024-02-01", "2024-03-01") == "2024-02"  # 29 days: 2024 is a leap year
    assert partition_key("2024-06-01", "2024-06-04") == "2024-06-01/2024-06-04"
    assert partition_key("2024-06-01", "2024-07-02") == "2024-06-01/2024-07-02"
    assert partition_key("2024-06-01T05:00", "2024-06-01T06:00") == "2024-06-01T05:00:00/2024-06-01T06:00:00"
    # Airflow hands over timezone-aware bounds: 2024-06-03 04:00 at UTC-4 is midnight UTC.
    la_paz = timezone(timedelta(hours=-4))
    assert partition_key(datetime(2024, 6, 2, 20, tzinfo=la_paz), datetime(2024, 6, 3, 20, tzinfo=la_paz)) \
        == "2024-06-03"
    assert partition_key(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)) == "2024-06"
    with pytest.raises(ValueError, match="empty data interval"):
        partition_key("2024-06-02", "2024-06-01")


# ------------------------------------------------------------------------------------------ _row in file order
def test_row_is_the_position_in_an_unsorted_csv(con, tmp_path):
    rows = [  # deliberately out of order by sensor, time and value
        ["S2", "pm25", "ug/m3", "2024-06-01T05:00:00Z", "30"],
        ["S1", "pm10", "ug/m3", "2024-06-01T01:00:00Z", "10"],
        ["S3", "no2", "ug/m3", "2024-06-01T03:00:00Z", ""],
        ["S1", "pm25", "ug/m3", "2024-06-01T00:00:00Z", "7.5"],
        ["S0", "noise", "dBA", "2024-06-01T09:00:00Z", "55"],
    ]
    path = write_csv(tmp_path / "readings.csv", rows)
    assert land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-01",
                         interval_end="2024-06-02") == 5
    got = raw_rows(con)
    assert [r[0] for r in got] == [1, 2, 3, 4, 5]
    assert [list(r[1:6]) for r in got] == [[*r[:4], r[4] or None] for r in rows]  # an empty field is NULL
    lineage = con.execute("SELECT DISTINCT city, _source, _delivery, _loaded_for FROM raw.sensor_readings").fetchall()
    assert lineage == [("c", SOURCE, "readings.csv", "2024-06-01")]


def test_row_follows_file_order_when_read_in_parallel(con, tmp_path):
    """1.2 million rows (50 MB) in no order of sensor or time; each row's value is its own line number, so `_row`
    must equal it everywhere. The file is big enough for DuckDB to read it on several threads: without insertion
    order kept, the same read comes back reordered (checked first, so the test cannot pass by luck)."""
    path = tmp_path / "big.csv"
    duckdb.sql(f"""
        COPY (SELECT 'S' || lpad((hash(i) % 400)::VARCHAR, 3, '0') AS sensor_id,
                     ['pm25', 'pm10', 'no2'][CAST(1 + hash(i, 1) % 3 AS BIGINT)] AS parameter, 'ug/m3' AS unit,
                     strftime(TIMESTAMP '2024-06-01' + to_minutes(CAST(hash(i, 2) % 43200 AS BIGINT)),
                              '%Y-%m-%dT%H:%M:%SZ') AS observed_at,
                     i::VARCHAR AS value
              FROM range(1, 1200001) t(i) ORDER BY i) TO '{path}' (HEADER)""")
    con.execute("SET threads = 4")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"CREATE TEMP TABLE unordered AS SELECT * FROM read_csv('{path}', all_varchar = true)")
    shuffled = con.execute("SELECT count(*) FROM unordered WHERE rowid + 1 <> CAST(value AS BIGINT)").fetchone()[0]
    assert shuffled > 0
    count = land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-01",
                          interval_end="2024-07-01")
    assert count == 1_200_000
    mismatched = con.execute("SELECT count(*) FROM raw.sensor_readings WHERE _row <> CAST(value AS BIGINT)").fetchone()
    assert mismatched == (0,)
    assert con.execute("SELECT _loaded_for FROM raw.sensor_readings LIMIT 1").fetchone() == ("2024-06",)
    # The load put insertion order back as it found it (off, here).
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (False,)


def test_json_array_keeps_values_as_delivered_text(con, tmp_path):
    readings = [
        {"sensor_id": "S2", "parameter": "pm25", "unit": "ug/m3", "observed_at": "2024-06-01T02:00:00Z",
         "value": 12},
        {"sensor_id": "S1", "parameter": "pm25", "unit": "ug/m3", "observed_at": "2024-06-01T01:00:00Z",
         "value": 12.5, "extra": [1, 2]},
        {"sensor_id": "S1", "parameter": "noise", "unit": "dBA", "observed_at": "2024-06-01T00:00:00Z",
         "value": None},
        {"sensor_id": "S3", "parameter": "pm10", "observed_at": "2024-06-01T03:00:00Z", "value": "7,5"},
    ]
    path = tmp_path / "readings_2024-06.json"
    path.write_text(json.dumps(readings), encoding="utf-8")
    assert land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-01",
                         interval_end="2024-07-01", delivery="sensors/readings_2024-06.json") == 4
    assert raw_rows(con) == [
        (1, "S2", "pm25", "ug/m3", "2024-06-01T02:00:00Z", "12", "2024-06"),
        (2, "S1", "pm25", "ug/m3", "2024-06-01T01:00:00Z", "12.5", "2024-06"),
        (3, "S1", "noise", "dBA", "2024-06-01T00:00:00Z", None, "2024-06"),
        (4, "S3", "pm10", None, "2024-06-01T03:00:00Z", "7,5", "2024-06"),  # a key absent from an object: NULL
    ]
    assert con.execute("SELECT DISTINCT _delivery FROM raw.sensor_readings").fetchall() == [
        ("sensors/readings_2024-06.json",)]
    columns = [r[0] for r in con.execute("DESCRIBE raw.sensor_readings").fetchall()]
    assert "extra" not in columns  # the contract's five fields and the lineage, nothing else


# ------------------------------------------------------------------------------------------ the interval
def test_a_monthly_file_loaded_for_one_day_keeps_that_day(con, tmp_path):
    rows = [
        ["S1", "pm25", "ug/m3", "2024-06-01T23:00:00Z", "1"],        # day before
        ["S1", "pm25", "ug/m3", "2024-06-02T00:00:00Z", "2"],        # first instant of the day: in
        ["S1", "pm25", "ug/m3", "2024-06-02T23:59:59Z", "3"],        # in
        ["S1", "pm25", "ug/m3", "2024-06-03T00:00:00Z", "4"],        # end is exclusive: out
        ["S1", "pm25", "ug/m3", "2024-06-03T01:30:00+02:00", "5"],   # 2024-06-02T23:30Z: in
        ["S1", "pm25", "ug/m3", "2024-06-02T22:00:00-04:00", "6"],   # 2024-06-03T02:00Z: out
        ["S1", "pm25", "ug/m3", "2024-06-02T12:00:00", "7"],         # no offset: UTC, in
        ["S1", "pm25", "ug/m3", "not a time", "8"],                  # unreadable: kept, staging rejects it
        ["S1", "pm25", "ug/m3", "", "9"],                            # missing: kept likewise
    ]
    path = write_csv(tmp_path / "readings_2024-06.csv", rows)
    assert land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-02",
                         interval_end="2024-06-03") == 6
    assert [(r[0], r[5], r[6]) for r in raw_rows(con)] == [
        (2, "2", "2024-06-02"), (3, "3", "2024-06-02"), (5, "5", "2024-06-02"), (7, "7", "2024-06-02"),
        (8, "8", "2024-06-02"), (9, "9", "2024-06-02")]
    # The same file for the whole month: every row whose time is in June, with its position in the file.
    assert land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-01",
                         interval_end="2024-07-01") == 9
    assert [r[0] for r in raw_rows(con, "_loaded_for = '2024-06'")] == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_session_settings_are_restored(con, tmp_path):
    con.execute("SET TimeZone = 'America/La_Paz'")
    path = write_csv(tmp_path / "r.csv", [["S1", "pm25", "ug/m3", "2024-06-02T12:00:00", "7"]])
    land_readings(con, city="c", path=path, source=SOURCE, interval_start="2024-06-02", interval_end="2024-06-03")
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("America/La_Paz",)
    # Read while the session was at UTC: 12:00 without an offset is 12:00 UTC, in the day.
    assert con.execute("SELECT count(*) FROM raw.sensor_readings").fetchone() == (1,)


# ------------------------------------------------------------------------------------------ reruns
def test_reloading_an_interval_replaces_it(con, tmp_path):
    first = write_csv(tmp_path / "a.csv", [["S1", "pm25", "ug/m3", f"2024-06-0{d}T10:00:00Z", str(d)]
                                           for d in (1, 2, 3)])
    for day in ("2024-06-01", "2024-06-02"):
        land_readings(con, city="c", path=first, source=SOURCE, interval_start=day,
                      interval_end=pd.Timestamp(day) + pd.Timedelta(days=1))
    land_readings(con, city="other", path=first, source=SOURCE, interval_start="2024-06-01",
                  interval_end="2024-06-02")
    before = full_table(con, "raw.sensor_readings")
    assert len(before) == 3
    land_readings(con, city="c", path=first, source=SOURCE, interval_start="2024-06-02", interval_end="2024-06-03")
    assert full_table(con, "raw.sensor_readings") == before  # identical, not doubled
    # A corrected delivery for 2024-06-02 replaces that day only (other days and cities untouched).
    second = write_csv(tmp_path / "b.csv", [["S1", "pm25", "ug/m3", "2024-06-02T10:00:00Z", "20"],
                                            ["S1", "pm25", "ug/m3", "2024-06-02T11:00:00Z", "21"]])
    land_readings(con, city="c", path=second, source=SOURCE, interval_start="2024-06-02", interval_end="2024-06-03")
    assert con.execute("SELECT city, _loaded_for, _delivery, value FROM raw.sensor_readings ORDER BY ALL").fetchall() \
        == [("c", "2024-06-01", "a.csv", "1"), ("c", "2024-06-02", "b.csv", "20"), ("c", "2024-06-02", "b.csv", "21"),
            ("other", "2024-06-01", "a.csv", "1")]


def test_each_delivery_is_archived_once_beside_the_database(con, tmp_path):
    archive = tmp_path / "warehouse.deliveries" / "c"
    month = write_csv(tmp_path / "m.csv", [["S1", "pm25", "ug/m3", f"2024-06-0{d}T10:00:00Z", str(d)]
                                           for d in (1, 2, 3)])
    for day in ("2024-06-01", "2024-06-02"):
        land_readings(con, city="c", path=month, source=SOURCE, interval_start=day,
                      interval_end=pd.Timestamp(day) + pd.Timedelta(days=1))
    # two loads of one file: two rows in raw.sensor_loads, one archive named by the file's hash, all its rows
    loads = con.execute("SELECT _loaded_for, _sha256, archive, rows FROM raw.sensor_loads ORDER BY 1").fetchall()
    assert [(key, rows) for key, _, _, rows in loads] == [("2024-06-01", 1), ("2024-06-02", 1)]
    sha = loads[0][1]
    assert {a for _, _, a, _ in loads} == {str(archive / f"{sha}.parquet")}
    assert sorted(p.name for p in archive.iterdir()) == [f"{sha}.parquet"]
    assert duckdb.sql(f"SELECT file_row_number + 1, value FROM read_parquet('{archive / sha}.parquet', "
                      "file_row_number = true) ORDER BY 1").fetchall() == [(1, "1"), (2, "2"), (3, "3")]
    # a corrected delivery for one day: the month's archive stays (2024-06-01 still refers to it) ...
    fixed = write_csv(tmp_path / "d.csv", [["S1", "pm25", "ug/m3", "2024-06-02T10:00:00Z", "20"]])
    land_readings(con, city="c", path=fixed, source=SOURCE, interval_start="2024-06-02", interval_end="2024-06-03")
    assert len(list(archive.glob("*.parquet"))) == 2
    # ... and goes once no load refers to it
    land_readings(con, city="c", path=fixed, source=SOURCE, interval_start="2024-06-01", interval_end="2024-06-02")
    assert [p.name for p in archive.glob("*.parquet")] != [f"{sha}.parquet"] and len(list(archive.iterdir())) == 1
    # the view does not depend on the session's time zone: 10:00Z is in 2024-06-02 seen from La Paz too
    con.execute("SET TimeZone = 'America/La_Paz'")
    assert raw_rows(con, "_loaded_for = '2024-06-02'") == [(1, "S1", "pm25", "ug/m3", "2024-06-02T10:00:00Z", "20",
                                                           "2024-06-02")]


def test_a_bad_delivery_loads_nothing(con, tmp_path):
    good = write_csv(tmp_path / "good.csv", [["S1", "pm25", "ug/m3", "2024-06-01T10:00:00Z", "1"]])
    land_readings(con, city="c", path=good, source=SOURCE, interval_start="2024-06-01", interval_end="2024-06-02")
    before = full_table(con, "raw.sensor_readings")
    no_value = write_csv(tmp_path / "no_value.csv", [["S1", "pm25", "ug/m3", "2024-06-01T10:00:00Z"]],
                         header=HEADER[:4])
    with pytest.raises(DeliveryError, match="missing field\\(s\\) value; the file has sensor_id, parameter"):
        land_readings(con, city="c", path=no_value, source=SOURCE, interval_start="2024-06-01",
                      interval_end="2024-06-02")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("sensor_id,parameter,unit,observed_at,value\nS1,pm25,ug/m3,2024-06-01T10:00:00Z,1\n"
                      "S1,pm25,ug/m3,2024-06-01T11:00:00Z,2,3,4\n", encoding="utf-8")
    with pytest.raises(DeliveryError, match="ragged.csv: cannot be"):
        land_readings(con, city="c", path=ragged, source=SOURCE, interval_start="2024-06-01",
                      interval_end="2024-06-02")
    cut = tmp_path / "cut.json"
    cut.write_text('[{"sensor_id": "S1", "parameter": "pm25", "unit": "ug/m3", "observed_at": "2024-06-01T10:00',
                   encoding="utf-8")
    with pytest.raises(DeliveryError, match="cut.json: cannot be"):
        land_readings(con, city="c", path=cut, source=SOURCE, interval_start="2024-06-01",
                      interval_end="2024-06-02")
    with pytest.raises(DeliveryError, match="delivery not found"):
        land_readings(con, city="c", path=tmp_path / "absent.csv", source=SOURCE, interval_start="2024-06-01",
                      interval_end="2024-06-02")
    assert full_table(con, "raw.sensor_readings") == before


# ------------------------------------------------------------------------------------------ the raw gate
def test_the_raw_gate_reads_what_is_landed(con, tmp_path):
    """expectations.suites.read_raw_sensors reads the table as it reads sources.files.land's."""
    path = write_csv(tmp_path / "r.csv", [["S1", "pm25", "ug/m3", "2024-06-01T10:00:00Z", "12.5"],
                                          ["S1", "pm10", "ug/m3", "2024-06-01T10:00:00Z", "900"],
                                          ["S1", "noise", "dBA", "2024-06-01T10:00:00Z", ""]])
    land_readings(con, city="la_paz_demo", path=path, source=SOURCE, interval_start="2024-06-01",
                  interval_end="2024-07-01")
    frame = read_raw_sensors(con, load_city("la_paz_demo"), "2024-06").sort_values("_row")
    assert frame["parameter_unit"].tolist() == ["pm25:ug/m3", "pm10:ug/m3", "noise:dBA"]
    assert frame["in_range"].tolist()[:2] == [True, False]  # 900 > 600, pm10's upper bound
    assert pd.isna(frame["in_range"].iloc[2])
