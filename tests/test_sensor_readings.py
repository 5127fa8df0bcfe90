"""Sensor readings raw -> staging in DuckDB SQL (transforms.sensor_readings), and the grid point index.

Every expected value below is worked out by hand in the comments; the data go through real DuckDB files.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from bienestar import warehouse
from sources.sensor_deliveries import land_readings
from transforms.areas import place_points
from transforms.point_index import PointIndex, place_points_fast
from transforms.sensor_readings import quarantine_entries, stage_readings

CITY = "c"
SOURCE = "sensors/readings"
HEADER = ["sensor_id", "parameter", "unit", "observed_at", "value"]
QUALITY = {
    "valid_range": {"pm25": [0, 500], "pm10": [0, 600], "no2": [0, 400], "noise": [20, 130]},
    "gap_hours": 3,
    "stuck_hours": 6,
    "spike_factor": 5,
}
DAY1 = datetime(2024, 6, 1)
KEPT = "(reading kept, flagged, not used)"


def add_stations(connection) -> None:
    stations = pd.DataFrame({
        "sensor_id": ["S1", "S2", "S3"], "name": ["Centro", "Sur", "Afuera"],
        "lon": [-68.13, -68.08, -67.5], "lat": [-16.5, -16.53, -16.0],
        "area_id": ["Z001", "Z002", None],  # S3 stands outside the city: no area, its readings still staged
    })
    warehouse.replace_partition(connection, "staging.sensor_stations", stations, {"city": CITY})


@pytest.fixture
def con(tmp_path):
    with warehouse.session(tmp_path / "warehouse.duckdb") as connection:
        add_stations(connection)
        yield connection


def at(hour: int, day: datetime = DAY1) -> str:
    return f"{day + timedelta(hours=hour):%Y-%m-%dT%H:%M:%S}Z"


def hourly(sensor: str, parameter: str, values: list, *, first_hour: int = 0, day: datetime = DAY1,
           unit: str | None = None) -> list[list]:
    unit = unit or ("dBA" if parameter == "noise" else "ug/m3")
    return [[sensor, parameter, unit, at(first_hour + h, day), "" if v is None else str(v)]
            for h, v in enumerate(values)]


def write(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def land_and_stage(con, path: Path, start: datetime, end: datetime, quality: dict = QUALITY,
                   source: str = SOURCE) -> dict:
    land_readings(con, city=CITY, path=path, source=source, interval_start=start, interval_end=end)
    return stage_readings(con, city_name=CITY, quality=quality, interval_start=start, interval_end=end)


def day_run(con, tmp_path, rows: list[list], quality: dict = QUALITY, name: str = "r.csv") -> dict:
    return land_and_stage(con, write(tmp_path / name, rows), DAY1, DAY1 + timedelta(days=1), quality)


def flags(con, sensor: str, parameter: str) -> list[str]:
    return [f for (f,) in con.execute("SELECT flag FROM staging.sensor_readings WHERE sensor_id = ? "
                                      "AND parameter = ? ORDER BY observed_at", [sensor, parameter]).fetchall()]


def entries(con, partition: str, field: str | None = None) -> list[dict]:
    found = quarantine_entries(con, city_name=CITY, partition=partition)
    return [e for e in found if field is None or e["field"] == field]


def alternate(n: int, a: float, b: float) -> list[float]:
    """a, b, a, b, ...: never two equal neighbours, so never stuck."""
    return [a if i % 2 == 0 else b for i in range(n)]


# ------------------------------------------------------------------------------------------ units
def test_units_are_normalised_to_the_canonical_one(con, tmp_path):
    rows = [
        ["S1", "pm25", "ug/m3", at(0), "12.5"],
        ["S1", "pm25", "mg/m3", at(1), "0.0125"],   # 0.0125 mg/m3 x 1000 = 12.5 ug/m3
        ["S1", "pm25", "µg/m³", at(2), "7"],         # micro sign: same unit
        ["S1", "pm25", "μg/m³", at(3), "8"],         # Greek mu: same unit
        ["S1", "pm10", "mg/m³", at(0), "0.4"],       # 0.4 x 1000 = 400 ug/m3
        ["S1", "noise", "dBA", at(0), "55"],
        ["S1", "noise", "dB(A)", at(1), "56.5"],
    ]
    day_run(con, tmp_path, rows)
    got = con.execute("SELECT parameter, unit, observed_at, value FROM staging.sensor_readings "
                      "ORDER BY parameter, observed_at").fetchall()
    assert [(p, u, v) for p, u, _, v in got] == [
        ("noise", "dBA", 55.0), ("noise", "dBA", 56.5), ("pm10", "ug/m3", pytest.approx(400.0)),
        ("pm25", "ug/m3", 12.5), ("pm25", "ug/m3", pytest.approx(12.5)), ("pm25", "ug/m3", 7.0),
        ("pm25", "ug/m3", 8.0)]


def test_an_unknown_unit_stops_the_batch_and_writes_nothing(con, tmp_path):
    day_run(con, tmp_path, hourly("S1", "no2", [20, 21, 22]))
    before = con.execute("SELECT * FROM staging.sensor_readings ORDER BY ALL").fetchall()
    quarantine_before = con.execute("SELECT * FROM audit.quarantine ORDER BY ALL").fetchall()
    rows = hourly("S1", "no2", [20, 21]) + hourly("S1", "no2", [0.02, 0.03], first_hour=2, unit="ppm")
    with pytest.raises(ValueError, match=r"unknown unit for no2 in 'ppm' \(2 readings; allowed: ug/m3, µg/m³, "
                                         r"μg/m³, µg/m3, μg/m3, mg/m3, mg/m³\)"):
        day_run(con, tmp_path, rows, name="bad.csv")
    assert con.execute("SELECT * FROM staging.sensor_readings ORDER BY ALL").fetchall() == before
    assert con.execute("SELECT * FROM audit.quarantine ORDER BY ALL").fetchall() == quarantine_before
    assert not [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]


# ------------------------------------------------------------------------------------------ flags
def test_stuck_needs_stuck_hours_equal_readings_in_a_row(con, tmp_path):
    rows = (
        hourly("S1", "pm25", [10, 20, 20, 20, 20, 20, 20, 30])      # six 20s in a row: stuck_hours (6) -> stuck
        + hourly("S2", "pm25", [10, 20, 20, 20, 20, 20, 30])        # five 20s: one short -> ok
        + hourly("S3", "no2", [20, 20, 20, None, 20, 20, 20])       # a missing value breaks the run: 3 + 3
    )
    day_run(con, tmp_path, rows)
    assert flags(con, "S1", "pm25") == ["ok"] + ["stuck"] * 6 + ["ok"]
    assert flags(con, "S2", "pm25") == ["ok"] * 7
    assert flags(con, "S3", "no2") == ["ok"] * 3 + ["missing"] + ["ok"] * 3


def test_a_run_across_the_interval_boundary_uses_the_staged_lookback(con, tmp_path):
    day2 = DAY1 + timedelta(days=1)
    rows = (
        # S1: 21 alternating readings, then 15 at 21:00, 22:00, 23:00 (three: not stuck on day 1) ...
        hourly("S1", "pm25", alternate(21, 10, 11) + [15, 15, 15])
        # ... and three more 15s on day 2: 3 + 3 = 6 in a row -> stuck on day 2.
        + hourly("S1", "pm25", [15, 15, 15] + alternate(21, 10, 11), day=day2)
        # S2: eight 12s from 16:00 to 23:00 (stuck on day 1), one more at 00:00 on day 2: still the same run.
        + hourly("S2", "pm25", alternate(16, 10, 11) + [12] * 8)
        + hourly("S2", "pm25", [12] + alternate(23, 10, 11), day=day2)
    )
    path = write(tmp_path / "two_days.csv", rows)
    land_and_stage(con, path, DAY1, day2)
    assert flags(con, "S1", "pm25") == ["ok"] * 24
    land_and_stage(con, path, day2, day2 + timedelta(days=1))
    s1 = flags(con, "S1", "pm25")
    assert s1[:24] == ["ok"] * 24  # day 1 is not rewritten
    assert s1[24:27] == ["stuck"] * 3 and s1[27:] == ["ok"] * 21
    s2 = flags(con, "S2", "pm25")
    assert s2[16:24] == ["stuck"] * 8 and s2[24] == "stuck" and s2[25:] == ["ok"] * 23
    # Without a lookback, day 2 sees only its own three 15s and its single 12: not stuck.
    land_and_stage(con, path, day2, day2 + timedelta(days=1), quality={**QUALITY, "lookback_hours": 0})
    assert flags(con, "S1", "pm25")[24:27] == ["ok"] * 3
    assert flags(con, "S2", "pm25")[24] == "ok"


def test_spike_against_the_median(con, tmp_path):
    rows = (
        # sorted: 10 10 11 11 12 12 13 200 -> median (11 + 12) / 2 = 11.5; 200 > 5 x 11.5 = 57.5 and
        # 200 > 500 / 10 = 50 -> spike.
        hourly("S1", "pm25", [10, 12, 11, 13, 10, 12, 200, 11])
        # sorted: 5 5 5 6 6 40 -> median 5.5; 40 > 27.5 but 40 <= 50 (a tenth of the range): ok.
        + hourly("S2", "pm25", [5, 6, 5, 6, 40, 5])
    )
    day_run(con, tmp_path, rows)
    assert flags(con, "S1", "pm25") == ["ok"] * 6 + ["spike", "ok"]
    assert flags(con, "S2", "pm25") == ["ok"] * 6
    [spike] = entries(con, "2024-06-01", "value")
    assert spike["reason"] == f"spike: 200.0 ug/m3 is more than 5x the median of the sensor's pm25 (11.5) {KEPT}"


def test_the_median_leans_on_the_lookback(con, tmp_path):
    day2 = DAY1 + timedelta(days=1)
    # Day 1: 40, 41, 40, 41, ... (24 readings). Day 2: 8, 9, 8, 60.
    # Day 2 alone: sorted 8 8 9 60 -> median 8.5; 60 > 42.5 and > 50 -> it would be a spike.
    # With 48 h of lookback: 28 values, sorted 8 8 9, twelve 40s (positions 4-15), twelve 41s, 60; the median
    # is the mean of the 14th and 15th, 40 and 40 = 40, and 60 < 5 x 40 = 200 -> ok.
    path = write(tmp_path / "r.csv", hourly("S1", "pm25", alternate(24, 40, 41))
                 + hourly("S1", "pm25", [8, 9, 8, 60], day=day2))
    land_and_stage(con, path, DAY1, day2)
    land_and_stage(con, path, day2, day2 + timedelta(days=1))
    assert flags(con, "S1", "pm25")[24:] == ["ok"] * 4
    land_and_stage(con, path, day2, day2 + timedelta(days=1), quality={**QUALITY, "lookback_hours": 0})
    assert flags(con, "S1", "pm25")[24:] == ["ok", "ok", "ok", "spike"]


def test_out_of_range_and_the_order_of_the_rules(con, tmp_path):
    rows = (
        hourly("S1", "pm10", [600, 650, 0, -1])        # 600 and 0 are the bounds (in); 650 and -1 are out
        + hourly("S1", "noise", [15, 20, 130, 131])      # noise range [20, 130]
        + hourly("S2", "pm10", [700] * 6)                # six equal readings, all out of range: out_of_range wins
        + hourly("S3", "pm25", [None, "7,5", "NaN", "inf", " 12 "])  # no usable number -> missing; " 12 " is 12
    )
    day_run(con, tmp_path, rows)
    assert flags(con, "S1", "pm10") == ["ok", "out_of_range", "ok", "out_of_range"]
    assert flags(con, "S1", "noise") == ["out_of_range", "ok", "ok", "out_of_range"]
    assert flags(con, "S2", "pm10") == ["out_of_range"] * 6
    assert flags(con, "S3", "pm25") == ["missing"] * 4 + ["ok"]
    values = con.execute("SELECT value FROM staging.sensor_readings WHERE sensor_id = 'S3' "
                         "ORDER BY observed_at").fetchall()
    assert values == [(None,), (None,), (None,), (None,), (12.0,)]
    reasons = {(e["record_id"], e["reason"]) for e in entries(con, "2024-06-01", "value")}
    assert (f"S1/pm10/{at(1)}", f"value 650.0 ug/m3 outside the physical range [0.0, 600.0] of pm10 {KEPT}") \
        in reasons
    assert (f"S3/pm25/{at(0)}", "missing value (reading kept, flagged missing, not used)") in reasons
    assert (f"S3/pm25/{at(1)}", "invalid value '7,5' (expected a number) (reading kept, flagged missing, not used)") \
        in reasons
    assert len(reasons) == 2 + 2 + 6 + 4


# ------------------------------------------------------------------------------------------ rejections
def test_duplicates_keep_the_first_by_delivery_and_row(con, tmp_path):
    a = write(tmp_path / "a.csv", [
        ["S1", "pm25", "ug/m3", at(10), "12"],       # row 1: kept
        ["S1", "pm25", "ug/m3", at(10), "12"],       # row 2: exact copy of row 1
        ["S1", "pm25", "ug/m3", at(11), "13"],       # row 3: kept
    ])
    b = write(tmp_path / "b.csv", [
        ["S1", "pm25", "ug/m3", at(10), "14"],                    # row 1: same instant, other value
        ["S1", "pm25", "ug/m3", "2024-06-01T07:00:00-04:00", "13"],  # row 2: 11:00 UTC again, same content
    ])
    end = DAY1 + timedelta(days=1)
    land_readings(con, city=CITY, path=b, source="sensors/other", interval_start=DAY1, interval_end=end)
    land_readings(con, city=CITY, path=a, source=SOURCE, interval_start=DAY1, interval_end=end)
    result = stage_readings(con, city_name=CITY, quality=QUALITY, interval_start=DAY1, interval_end=end)
    assert result["rejected"] == 3 and result["readings"] == 2
    assert con.execute("SELECT observed_at, value, _delivery, _row FROM staging.sensor_readings "
                       "ORDER BY observed_at").fetchall() == [
        (datetime(2024, 6, 1, 10), 12.0, "a.csv", 1), (datetime(2024, 6, 1, 11), 13.0, "a.csv", 3)]
    assert [(e["delivery"], e["row"], e["reason"]) for e in entries(con, "2024-06-01", "reading_id")] == [
        ("a.csv", 2, "duplicate: exact copy of row 1 of a.csv"),
        ("b.csv", 1, "duplicate reading_id: differs from row 1 of a.csv"),
        ("b.csv", 2, "duplicate: exact copy of row 3 of a.csv"),
    ]


def test_copies_do_not_count_in_runs(con, tmp_path):
    """Five equal readings are one short of stuck (stuck_hours 6); two copies of the third must not make seven."""
    rows = hourly("S2", "pm25", [11, 20, 20, 20, 20, 20, 12])
    rows += [rows[3], rows[3]]  # 03:00 twice more, at rows 8 and 9
    result = day_run(con, tmp_path, rows)
    assert (result["readings"], result["rejected"], result["flag_stuck"]) == (7, 2, 0)
    assert flags(con, "S2", "pm25") == ["ok"] * 7
    assert [e["row"] for e in entries(con, "2024-06-01", "reading_id")] == [8, 9]


def test_rejections_and_their_quarantine_entries(con, tmp_path):
    rows = [
        ["S1", "pm25", "ug/m3", at(0), "10"],            # row 1: fine
        ["S9", "pm25", "ug/m3", at(0), "10"],            # row 2: not a station
        ["S1", "o3", "ug/m3", at(0), "10"],              # row 3: no range for o3
        ["S1", "pm10", "", at(0), "10"],                 # row 4: no unit
        ["S1", "pm25", "ug/m3", "yesterday", "11"],      # row 5: unreadable time
        ["S1", "pm25", "ug/m3", "", "12"],               # row 6: no time
    ]
    result = day_run(con, tmp_path, rows)
    assert result["readings"] == 1 and result["rejected"] == 5
    rejected = [e for e in entries(con, "2024-06-01") if e["action"] == "rejected"]
    record = {"sensor_id": "S1", "parameter": "pm25", "unit": "ug/m3", "observed_at": at(0), "value": "10"}
    assert rejected == [
        {"delivery": "r.csv", "row": 2, "record_id": f"S9/pm25/{at(0)}", "field": "sensor_id",
         "reason": "unknown sensor: not in the station list", "action": "rejected",
         "record": {**record, "sensor_id": "S9"}},
        {"delivery": "r.csv", "row": 3, "record_id": f"S1/o3/{at(0)}", "field": "parameter",
         "reason": "unknown parameter (expected one of pm25, pm10, no2, noise)", "action": "rejected",
         "record": {**record, "parameter": "o3"}},
        {"delivery": "r.csv", "row": 4, "record_id": f"S1/pm10/{at(0)}", "field": "unit", "reason": "missing unit",
         "action": "rejected", "record": {**record, "parameter": "pm10", "unit": None}},
        {"delivery": "r.csv", "row": 5, "record_id": "S1/pm25/yesterday", "field": "observed_at",
         "reason": "invalid value 'yesterday' (expected an ISO 8601 timestamp)", "action": "rejected",
         "record": {**record, "observed_at": "yesterday", "value": "11"}},
        {"delivery": "r.csv", "row": 6, "record_id": "S1/pm25/", "field": "observed_at", "reason": "missing value",
         "action": "rejected", "record": {**record, "observed_at": None, "value": "12"}},
    ]
    # The audit table holds the same, under the interval's source.
    assert con.execute("SELECT DISTINCT stage, source FROM audit.quarantine").fetchall() == [
        ("staging", "sensors/readings/2024-06-01")]


def test_stuck_entries_and_stations_areas(con, tmp_path):
    rows = hourly("S1", "pm25", alternate(10, 10, 11) + [9] * 6 + alternate(8, 10, 11)) \
        + hourly("S3", "noise", alternate(24, 50, 51))
    result = day_run(con, tmp_path, rows)
    assert result["flag_stuck"] == 6 and result["flag_ok"] == 18 + 24
    stuck = entries(con, "2024-06-01", "value")
    assert [(e["row"], e["action"]) for e in stuck] == [(r, "flagged") for r in range(11, 17)]
    assert stuck[0] == {
        "delivery": "r.csv", "row": 11, "record_id": f"S1/pm25/{at(10)}", "field": "value",
        "reason": f"stuck sensor: the same value 9.0 for 6 or more readings in a row {KEPT}", "action": "flagged",
        "record": {"sensor_id": "S1", "parameter": "pm25", "unit": "ug/m3", "observed_at": at(10), "value": "9"}}
    areas = con.execute("SELECT DISTINCT sensor_id, area_id FROM staging.sensor_readings ORDER BY 1").fetchall()
    assert areas == [("S1", "Z001"), ("S3", None)]
    columns = [r[0] for r in con.execute("DESCRIBE staging.sensor_readings").fetchall()]
    assert columns == ["city", "partition", "sensor_id", "area_id", "parameter", "unit", "observed_at", "value",
                       "flag", "_delivery", "_row"]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'sensor_readings' AND table_schema = 'staging'").fetchall())
    assert (types["observed_at"], types["value"]) == ("TIMESTAMP", "DOUBLE")


# ------------------------------------------------------------------------------------------ gaps
def test_gaps_of_gap_hours_or_more(con, tmp_path):
    present = [h for h in range(24) if h not in (5, 6, 7, 12, 13)]  # a 3-hour hole and a 2-hour one
    rows = [["S1", "pm25", "ug/m3", at(h), str(10 + h % 2)] for h in present]
    rows += hourly("S2", "pm25", alternate(18, 10, 11), first_hour=3)  # 03:00-20:00: 3 hours before, 3 after
    rows += [["S2", "no2", "ug/m3", at(h).replace(":00:00Z", f":{m:02d}:00Z"), str(20 + m)]
             for h in range(24) for m in (0, 30)]  # twice an hour: no gap
    result = day_run(con, tmp_path, rows)
    assert result["gaps"] == 3
    assert [(e["record_id"], e["reason"]) for e in entries(con, "2024-06-01", "observed_at")] == [
        ("S1/pm25", "gap: no readings from 2024-06-01 05:00 to 2024-06-01 07:00 UTC (3 hours)"),
        ("S2/pm25", "gap: no readings from 2024-06-01 00:00 to 2024-06-01 02:00 UTC (3 hours)"),
        ("S2/pm25", "gap: no readings from 2024-06-01 21:00 to 2024-06-01 23:00 UTC (3 hours)"),
    ]
    gap = entries(con, "2024-06-01", "observed_at")[0]
    assert (gap["delivery"], gap["row"], gap["action"], gap["record"]) == (
        None, None, "flagged", {"sensor_id": "S1", "parameter": "pm25"})


def test_a_sensor_silent_all_day_is_a_gap(con, tmp_path):
    day2 = DAY1 + timedelta(days=1)
    path = write(tmp_path / "r.csv", hourly("S1", "pm25", alternate(24, 10, 11))
                 + hourly("S2", "pm25", alternate(24, 10, 11)) + hourly("S1", "pm25", alternate(24, 10, 11), day=day2))
    land_and_stage(con, path, DAY1, day2)
    land_and_stage(con, path, day2, day2 + timedelta(days=1))
    assert [(e["record_id"], e["reason"]) for e in entries(con, "2024-06-02", "observed_at")] == [
        ("S2/pm25", "gap: no readings from 2024-06-02 00:00 to 2024-06-02 23:00 UTC (24 hours)")]


# ------------------------------------------------------------------------------------------ intervals
def three_days_of_readings() -> list[list]:
    """Three days of two sensors x two parameters, with planted faults of every kind."""
    rng = random.Random(11)
    rows = []
    for day in range(3):
        for sensor in ("S1", "S2"):
            for parameter in ("pm25", "noise"):
                base = 20 if parameter == "pm25" else 55
                values = [round(base + rng.uniform(-5, 5), 1) for _ in range(24)]
                rows += hourly(sensor, parameter, values, day=DAY1 + timedelta(days=day))
    shuffled = rng.sample(rows, len(rows))  # a delivery in no particular order
    def set_value(sensor, parameter, day, hour, value):
        for row in shuffled:
            if row[:2] == [sensor, parameter] and row[3] == at(hour, DAY1 + timedelta(days=day)):
                row[4] = str(value)
    for hour in range(16, 24):
        set_value("S1", "pm25", 0, hour, 33.3)   # stuck from day 1 16:00 ...
    for hour in range(0, 2):
        set_value("S1", "pm25", 1, hour, 33.3)   # ... into day 2 (stuck on day 1 already)
    for hour in range(5, 13):
        set_value("S2", "noise", 1, hour, 61.5)  # stuck inside day 2 (random noise values stay in 50-60)
    set_value("S2", "pm25", 2, 9, 400)           # spike: far above 5 x ~20
    set_value("S1", "noise", 2, 3, 150)          # out of range
    set_value("S1", "noise", 0, 4, "")           # missing
    shuffled = [r for r in shuffled if not (r[:2] == ["S2", "pm25"] and r[3] in {at(h) for h in (6, 7, 8, 9)})]
    shuffled.insert(7, list(shuffled[3]))        # an exact duplicate
    shuffled.insert(9, ["S9", "pm25", "ug/m3", at(5), "10"])  # unknown sensor
    return shuffled


def test_three_daily_runs_equal_one_run_over_the_three_days(con, tmp_path):
    path = write(tmp_path / "readings_2024-06.csv", three_days_of_readings())
    for day in range(3):
        start = DAY1 + timedelta(days=day)
        land_and_stage(con, path, start, start + timedelta(days=1))
    columns = 'city, sensor_id, area_id, parameter, unit, observed_at, value, flag, _delivery, "_row"'
    daily = con.execute(f"SELECT {columns} FROM staging.sensor_readings ORDER BY ALL").fetchall()
    partitions = con.execute('SELECT DISTINCT "partition" FROM staging.sensor_readings ORDER BY 1').fetchall()
    assert partitions == [("2024-06-01",), ("2024-06-02",), ("2024-06-03",)]
    flags_seen = dict(con.execute("SELECT flag, count(*) FROM staging.sensor_readings GROUP BY 1").fetchall())
    # 3 days x 4 series x 24 h = 288, minus 4 removed hours = 284 staged; stuck 10 + 8; one of each of the rest.
    assert flags_seen == {"ok": 284 - 18 - 3, "stuck": 18, "spike": 1, "out_of_range": 1, "missing": 1}

    # The same three days as one interval, in a fresh database: the same readings with the same flags.
    with warehouse.session(tmp_path / "range.duckdb") as other:
        add_stations(other)
        result = land_and_stage(other, path, DAY1, DAY1 + timedelta(days=3))
        assert result["partition"] == "2024-06-01/2024-06-04"
        ranged = other.execute(f"SELECT {columns} FROM staging.sensor_readings ORDER BY ALL").fetchall()
    assert ranged == daily


def test_rerunning_a_day_gives_identical_tables(con, tmp_path):
    path = write(tmp_path / "readings_2024-06.csv", three_days_of_readings())
    for day in range(3):
        start = DAY1 + timedelta(days=day)
        land_and_stage(con, path, start, start + timedelta(days=1))
    tables = ("raw.sensor_readings", "staging.sensor_readings", "audit.quarantine")
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    day2 = DAY1 + timedelta(days=1)
    land_and_stage(con, path, day2, day2 + timedelta(days=1))
    assert {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables} == before
    # A range over days already staged replaces their readings (a reading is staged once, whatever the interval).
    land_and_stage(con, path, DAY1, DAY1 + timedelta(days=2))
    counts = con.execute('SELECT "partition", count(*) FROM staging.sensor_readings GROUP BY 1 ORDER BY 1').fetchall()
    # 4 series x 24 h = 96 a day; day 1 lost 4 hours of S2 pm25: 92 + 96 = 188 for the range, 96 for day 3.
    assert counts == [("2024-06-01/2024-06-03", 188), ("2024-06-03", 96)]


# ------------------------------------------------------------------------------------------ the point index
def test_the_grid_index_agrees_with_place_points(tmp_path):
    """100,000 points: random ones in and around the city, polygon vertices and edge midpoints (on borders,
    shared by two zones: the smaller id wins in both), and points with missing coordinates."""
    from cities.la_paz_demo.generate import build_geography

    zones = build_geography().zones
    areas = pd.DataFrame({
        "area_id": [z.code for z in zones], "depth": 0,
        "geometry_wkt": [shapely.to_wkt(z.polygon, rounding_precision=7) for z in zones],  # as staging.areas has
    })
    polygons = shapely.from_wkt(areas["geometry_wkt"].to_numpy())
    areas = pd.concat([areas, pd.DataFrame({"area_id": ["D01"], "depth": [1], "geometry_wkt": ["POINT (0 0)"]})])
    rng = np.random.default_rng(5)
    xmin, ymin, xmax, ymax = shapely.total_bounds(polygons)
    rings = [shapely.get_coordinates(shapely.get_exterior_ring(p)) for p in polygons]
    vertices = np.concatenate(rings)
    midpoints = np.concatenate([(c[1:] + c[:-1]) / 2 for c in rings])
    border = np.concatenate([vertices, midpoints])
    n_random = 100_000 - len(border) - 100
    lon = np.concatenate([rng.uniform(xmin - 0.02, xmax + 0.02, n_random), border[:, 0], np.full(100, np.nan)])
    lat = np.concatenate([rng.uniform(ymin - 0.02, ymax + 0.02, n_random), border[:, 1], rng.uniform(-17, -16, 100)])
    lon, lat = pd.Series(lon, index=np.arange(100_000) * 3), pd.Series(lat, index=np.arange(100_000) * 3)
    expected = place_points(lon, lat, areas)
    got = place_points_fast(lon, lat, areas)
    assert got.dtype == "string" and got.index.equals(lon.index)
    pd.testing.assert_series_equal(got, expected)
    assert expected.isna().sum() > 10_000 and expected.notna().sum() > 10_000  # inside and outside both covered
    # Every vertex is on its own zone's boundary, so placed (an edge midpoint may round to just outside).
    assert expected.iloc[n_random:n_random + len(vertices)].notna().all()
    # A vertex shared by several zones goes to the smallest of their ids: check one by hand.
    codes = [z.code for z in zones]
    shared = next(i for i in range(len(vertices)) if shapely.intersects_xy(polygons, *vertices[i]).sum() == 3)
    owners = sorted(c for c, hit in zip(codes, shapely.intersects_xy(polygons, *vertices[shared]), strict=True) if hit)
    assert len(owners) == 3 and got.iloc[n_random + shared] == owners[0]


def test_the_grid_index_without_areas_or_points():
    empty = pd.DataFrame({"area_id": pd.Series([], dtype=str), "depth": pd.Series([], dtype=int),
                          "geometry_wkt": pd.Series([], dtype=str)})
    got = place_points_fast(pd.Series([1.0, np.nan]), pd.Series([2.0, 3.0]), empty)
    assert got.isna().all() and len(got) == 2
    square = pd.DataFrame({"area_id": ["A"], "depth": [0], "geometry_wkt": ["POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"]})
    assert PointIndex(square).place_indices(np.array([]), np.array([])).tolist() == []
    assert place_points_fast(pd.Series(["0.5", "1", "x"]), pd.Series([0.5, 1, 0.5]), square).tolist() \
        == ["A", "A", pd.NA]
