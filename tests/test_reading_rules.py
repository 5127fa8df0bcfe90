"""The sensor-reading staging rules at their boundaries (transforms.sensor_readings): every unit spelling and its
factor, the settings' lower limits, stuck runs of one and two readings, the 48-hour lookback (a reading exactly
48 hours before counts, one 49 hours before does not), clock hours of an interval that does not end on the hour,
and the counts a run returns. Expected values are worked out by hand in the comments; real DuckDB files."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bienestar import warehouse
from sources.sensor_deliveries import land_readings
from transforms.sensor_readings import ReadingRules, quarantine_entries, stage_readings

CITY = "c"
HEADER = ["sensor_id", "parameter", "unit", "observed_at", "value"]
QUALITY = {"valid_range": {"pm25": [0, 500], "pm10": [0, 600], "no2": [0, 400], "noise": [20, 130]},
           "gap_hours": 3, "stuck_hours": 6, "spike_factor": 5}
DAY1 = datetime(2024, 6, 1)


@pytest.fixture
def con(tmp_path):
    with warehouse.session(tmp_path / "warehouse.duckdb") as connection:
        stations = pd.DataFrame({"sensor_id": ["S1", "S2", "S3"], "name": ["a", "b", "c"],
                                 "lon": [-68.13, -68.08, -67.5], "lat": [-16.5, -16.53, -16.0],
                                 "area_id": ["Z001", "Z002", None]})
        warehouse.replace_partition(connection, "staging.sensor_stations", stations, {"city": CITY})
        yield connection


def at(when: datetime) -> str:
    return f"{when:%Y-%m-%dT%H:%M:%S}Z"


def hourly(sensor: str, parameter: str, values: list, *, day: datetime = DAY1, first_hour: int = 0) -> list[list]:
    unit = "dBA" if parameter == "noise" else "ug/m3"
    return [[sensor, parameter, unit, at(day + timedelta(hours=first_hour + h)), "" if v is None else str(v)]
            for h, v in enumerate(values)]


def stage(con, tmp_path: Path, rows: list[list], start: datetime, end: datetime, quality: dict = QUALITY,
          name: str = "r.csv") -> dict:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    land_readings(con, city=CITY, path=path, source="sensors/readings", interval_start=start, interval_end=end)
    return stage_readings(con, city_name=CITY, quality=quality, interval_start=start, interval_end=end)


def flags(con, sensor: str, parameter: str) -> list[str]:
    return [f for (f,) in con.execute("SELECT flag FROM staging.sensor_readings WHERE sensor_id = ? "
                                      "AND parameter = ? ORDER BY observed_at", [sensor, parameter]).fetchall()]


def gap_reasons(con, partition: str) -> list[tuple]:
    return [(e["record_id"], e["reason"]) for e in quarantine_entries(con, city_name=CITY, partition=partition)
            if e["field"] == "observed_at"]


def test_every_unit_spelling_and_its_factor(con, tmp_path):
    # Micro sign (U+00B5) and Greek mu (U+03BC), superscript three (U+00B3) or a plain 3: factor 1; mg: x 1000.
    spellings = [("ug/m3", "10", 10.0), ("\u00b5g/m\u00b3", "11", 11.0), ("\u03bcg/m\u00b3", "12", 12.0),
                 ("\u00b5g/m3", "13", 13.0), ("\u03bcg/m3", "14", 14.0), ("mg/m3", "0.015", 15.0),
                 ("mg/m\u00b3", "0.016", 16.0)]
    rows = [["S1", "pm25", unit, at(DAY1 + timedelta(hours=h)), text] for h, (unit, text, _) in enumerate(spellings)]
    rows += [["S1", "noise", "dBA", at(DAY1), "50"], ["S1", "noise", "dB(A)", at(DAY1 + timedelta(hours=1)), "51"]]
    stage(con, tmp_path, rows, DAY1, DAY1 + timedelta(days=1))
    got = con.execute("SELECT parameter, unit, value, flag FROM staging.sensor_readings "
                      "ORDER BY parameter, observed_at").fetchall()
    assert got == [("noise", "dBA", 50.0, "ok"), ("noise", "dBA", 51.0, "ok")] + [
        ("pm25", "ug/m3", pytest.approx(value, rel=1e-12), "ok") for _, _, value in spellings]


def test_the_settings_lower_limits():
    base = dict(QUALITY)
    rules = ReadingRules.from_config(base)
    assert (rules.stuck_hours, rules.gap_hours, rules.lookback_hours) == (6, 3, 48)  # lookback: 48 by default
    edge = ReadingRules.from_config({**base, "stuck_hours": 1, "gap_hours": 1, "lookback_hours": 0})
    assert (edge.stuck_hours, edge.gap_hours, edge.lookback_hours) == (1, 1, 0)  # the smallest allowed
    for bad in ({"stuck_hours": 0}, {"gap_hours": 0}, {"lookback_hours": -1}):
        with pytest.raises(ValueError, match="stuck_hours and gap_hours must be at least 1, lookback_hours at least 0"):
            ReadingRules.from_config({**base, **bad})


def test_a_run_of_one_is_stuck_when_stuck_hours_is_1_and_of_two_when_2(con, tmp_path):
    values = [10, 11, 10, 900, None, 12, 12, 13]
    one = stage(con, tmp_path, hourly("S1", "pm25", values), DAY1, DAY1 + timedelta(days=1),
                {**QUALITY, "stuck_hours": 1})
    # stuck_hours 1: every reading with a value is a run of at least one; out_of_range and missing come first.
    assert flags(con, "S1", "pm25") == ["stuck"] * 3 + ["out_of_range", "missing"] + ["stuck"] * 3
    assert (one["flag_stuck"], one["flag_ok"]) == (6, 0)
    day2 = DAY1 + timedelta(days=1)
    two = stage(con, tmp_path, hourly("S2", "pm25", values, day=day2), day2, day2 + timedelta(days=1),
                {**QUALITY, "stuck_hours": 2, "lookback_hours": 0}, name="r2.csv")
    # stuck_hours 2: only the two 12s in a row.
    assert flags(con, "S2", "pm25") == ["ok"] * 3 + ["out_of_range", "missing", "stuck", "stuck", "ok"]
    assert (two["flag_stuck"], two["flag_ok"]) == (2, 4)


def test_the_lookback_is_48_hours_by_default(con, tmp_path):
    # Day 0: S1 reads at 23:00 (49 h before day 3 starts); day 1: S2 reads at 00:00 (exactly 48 h before).
    # Day 3: only S3. The lookback [day 1 00:00, day 3 00:00) holds S2's reading, not S1's: S2 is a silent series
    # (a 24-hour gap), S1 is not looked at.
    day0, day3 = DAY1 - timedelta(days=1), DAY1 + timedelta(days=2)
    stage(con, tmp_path, hourly("S1", "pm25", [10], day=day0, first_hour=23), day0, DAY1, name="d0.csv")
    stage(con, tmp_path, hourly("S2", "pm25", [10], day=DAY1), DAY1, DAY1 + timedelta(days=1), name="d1.csv")
    noise = [50 + (h % 2) for h in range(24)]
    stage(con, tmp_path, hourly("S3", "noise", noise, day=day3), day3, day3 + timedelta(days=1), name="d3.csv")
    assert gap_reasons(con, "2024-06-03") == [
        ("S2/pm25", "gap: no readings from 2024-06-03 00:00 to 2024-06-03 23:00 UTC (24 hours)")]


def test_gaps_count_the_clock_hour_an_interval_ends_in(con, tmp_path):
    # Day 1: S1 and S2 read all day. Then the interval [day 2 00:00, day 2 05:00:00.000001): it ends a microsecond
    # into hour 05, so its clock hours are 00 to 05 (six). S1 reads at 00:00 only: no reading in 01..05 (5 hours);
    # S2 not at all: a silent series, 00..05 (6 hours).
    day2 = DAY1 + timedelta(days=1)
    alternate = [10 + (h % 2) for h in range(24)]
    stage(con, tmp_path, hourly("S1", "pm25", alternate) + hourly("S2", "pm25", alternate), DAY1,
          DAY1 + timedelta(days=1), name="d1.csv")
    end = day2 + timedelta(hours=5, microseconds=1)
    result = stage(con, tmp_path, hourly("S1", "pm25", [10], day=day2), day2, end, name="d2.csv")
    partition = result["partition"]
    assert sorted(gap_reasons(con, partition)) == [
        ("S1/pm25", "gap: no readings from 2024-06-02 01:00 to 2024-06-02 05:00 UTC (5 hours)"),
        ("S2/pm25", "gap: no readings from 2024-06-02 00:00 to 2024-06-02 05:00 UTC (6 hours)")]
    # Ending exactly on the hour (05:00), hour 05 is not part of it: 4 and 5 hours.
    end = day2 + timedelta(hours=5)
    result = stage(con, tmp_path, hourly("S1", "pm25", [10], day=day2), day2, end, name="d2b.csv")
    assert sorted(gap_reasons(con, result["partition"])) == [
        ("S1/pm25", "gap: no readings from 2024-06-02 01:00 to 2024-06-02 04:00 UTC (4 hours)"),
        ("S2/pm25", "gap: no readings from 2024-06-02 00:00 to 2024-06-02 04:00 UTC (5 hours)")]


def test_the_counts_a_run_returns(con, tmp_path):
    # S1 pm25 at hours 0-4 and 8-23 (21 readings): 900 at hour 10 is out of range, hour 12 has no value, the rest
    # alternate 10/11 (ok: 19). Rejected: a reading of an unknown sensor and a repeat of hour 0 (2). Gaps: hours
    # 5-7 (1). Quarantined = rejected 2 + flagged (21 - 19 ok = 2) + gaps 1 = 5.
    values = {h: 10 + (h % 2) for h in list(range(5)) + list(range(8, 24))}
    values[10], values[12] = 900, None
    rows = [["S1", "pm25", "ug/m3", at(DAY1 + timedelta(hours=h)), "" if v is None else str(v)]
            for h, v in values.items()]
    rows += [["S9", "pm25", "ug/m3", at(DAY1), "10"], ["S1", "pm25", "ug/m3", at(DAY1), "10"]]
    result = stage(con, tmp_path, rows, DAY1, DAY1 + timedelta(days=1))
    assert result == {"partition": "2024-06-01", "readings": 21, "flag_ok": 19, "flag_missing": 1,
                      "flag_out_of_range": 1, "flag_stuck": 0, "flag_spike": 0, "rejected": 2, "gaps": 1,
                      "quarantined": 5}
    assert len(quarantine_entries(con, city_name=CITY, partition="2024-06-01")) == 5


# ------------------------------------------------------------------------------------------ the staging drivers
@pytest.fixture
def sample(tmp_path, monkeypatch):
    """The sample city, small, with every delivery as files (no portal to serve): census landed."""
    import copy

    from bienestar.demo import prepare_demo
    from cities import City, load_city
    from sources.deliveries import land_census

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    demo = load_city("la_paz_demo")
    config = copy.deepcopy(demo.config)
    for section in ("services", "sensors"):
        config[section].pop("portal", None)
    city = City(name=demo.name, folder=demo.folder, config=config)
    prepare_demo(city, scale=0.02)
    land_census(city, city.vintage)
    return city


def quarantined(city, source_like: str) -> dict[str, int]:
    with warehouse.session(city) as con:
        return dict(con.execute("SELECT source, count(*) FROM audit.quarantine WHERE city = ? AND stage = 'staging' "
                                "AND source LIKE ? GROUP BY 1", [city.name, source_like]).fetchall())


def test_staging_the_census_defaults_to_the_latest_year_and_counts_both_quarantines(sample):
    from transforms.staging import stage_census

    counts = stage_census(sample)  # no year: the latest (2024), under the plain source names
    entries = quarantined(sample, "census/%")
    assert set(entries) == {"census/households", "census/persons"}
    assert entries["census/households"] > 0 and entries["census/persons"] > 0
    # quarantined = the households' entries + the persons' entries
    assert counts["quarantined"] == entries["census/households"] + entries["census/persons"]
    with warehouse.session(sample) as con:
        households, persons = con.execute(
            "SELECT (SELECT count(*) FROM staging.households WHERE city = $c AND vintage = '2024'), "
            "(SELECT count(*) FROM staging.persons WHERE city = $c AND vintage = '2024')",
            {"c": sample.name}).fetchone()
    assert households > 0 and (counts["households"], counts["persons"]) == (households, persons)
    assert stage_census(sample, "2024") == counts


def test_staging_the_services_sums_every_familys_quarantine(sample):
    from sources.deliveries import land_services
    from transforms.staging import stage_census, stage_services

    stage_census(sample)
    month = "2024-06"
    land_services(sample, month)
    counts = stage_services(sample, month)
    entries = quarantined(sample, f"services/%/{month}")
    families = sample.section("services")["families"]
    assert set(entries) <= {f"services/{family}/{month}" for family in families}
    assert sum(1 for n in entries.values() if n > 0) >= 2  # the sum adds more than one family's entries
    assert counts["quarantined"] == sum(entries.values())
    with warehouse.session(sample) as con:
        rows = dict(con.execute("SELECT family, count(*) FROM staging.service_records WHERE city = ? AND month = ? "
                                "GROUP BY 1", [sample.name, month]).fetchall())
    assert {family: counts[family] for family in families} == {family: rows.get(family, 0) for family in families}
