"""Sensor rules at their boundaries: every sensors.yaml check at, just inside and just outside its limit (the
message names the file and the entry), the period's last local midnight, the day/night noise bands, the coverage
share, the distance radius in the notes, and the documented defaults of the assignment. Values by hand."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from indicators.sensor_indicators import (
    SensorConfigError,
    assign_to_areas,
    centroid_distances,
    hourly_values,
    sensor_counts,
    station_statistics,
)
from tests.test_sensor_indicators import (
    DISTANCES,
    RESIDENTS,
    TEST_CONFIG,
    VALUES,
    city_areas,
    city_readings,
    city_stations,
    config,
    join,
    readings_of,
    stat,
)

MEAN = {"parameter": "pm25", "statistic": "mean", "method": "idw", "max_distance_m": 3000}


def noise(**changes):
    return {**TEST_CONFIG["noise"], **changes}


def indicator(**changes):
    return {"indicators": {"x": {**MEAN, **changes}}}


# -- the configuration: every check at its limits ------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"daily": {"min_valid_hours": 1}}, {"daily": {"min_valid_hours": 24}},  # a day of 1 to 24 hours
    {"coverage": {"min_day_share": 0}}, {"coverage": {"min_day_share": 1}},  # a share from 0 to 1
    {"seasons": {"rainy": {"months": [1, 12]}, "dry": {"months": [6]}}},  # months 1 and 12 are months
    {"noise": noise(day_starts=0, night_starts=24)},  # all day, no night band: 0 <= 0 < 24 <= 24
    {"noise": noise(day_starts=22, night_starts=23)},  # a one-hour day band: 22 < 23
    indicator(max_distance_m=1), indicator(max_distance_m=0.5),  # any positive distance
    indicator(power=1), indicator(power=0.5),  # any positive power
])
def test_a_configuration_at_its_limits_is_accepted(tmp_path, change):
    config(tmp_path, **change)


@pytest.mark.parametrize(("change", "entry"), [
    ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
    ({"daily": {"min_valid_hours": 0}}, "daily.min_valid_hours must be a whole number of hours from 1 to 24, got 0"),
    ({"daily": {"min_valid_hours": 25}}, "daily.min_valid_hours must be a whole number of hours from 1 to 24, got 25"),
    ({"daily": {"min_valid_hours": 18.0}}, "daily.min_valid_hours must be a whole number of hours .* got 18.0"),
    ({"daily": {"min_valid_hours": "18"}}, "daily.min_valid_hours must be a whole number of hours .* got '18'"),
    ({"coverage": {"min_day_share": -0.01}}, "coverage.min_day_share must be a share from 0 to 1, got -0.01"),
    ({"coverage": {"min_day_share": 1.01}}, "coverage.min_day_share must be a share from 0 to 1, got 1.01"),
    ({"coverage": {"min_day_share": 2}}, "coverage.min_day_share must be a share from 0 to 1, got 2"),
    ({"coverage": {"min_day_share": "0.75"}}, "coverage.min_day_share must be a share from 0 to 1, got '0.75'"),
    ({"seasons": {"rainy": {"months": []}}}, r"season 'rainy': months must be a list of month numbers 1-12, got \[\]"),
    ({"seasons": {"rainy": {"months": [0, 1]}}}, r"season 'rainy': months must be .* got \[0, 1\]"),
    ({"seasons": {"rainy": {"months": [12, 13]}}}, r"season 'rainy': months must be .* got \[12, 13\]"),
    ({"seasons": {"rainy": {"months": [1.5]}}}, r"season 'rainy': months must be .* got \[1.5\]"),
    ({"seasons": {"a": {"months": [1, 2]}, "b": {"months": [2, 3]}}}, "month 2 is in both seasons 'a' and 'b'"),
    ({"noise": noise(day_starts=-1)}, "noise.day_starts and noise.night_starts must be hours"),
    ({"noise": noise(night_starts=25)}, "noise.day_starts and noise.night_starts must be hours"),
    ({"noise": noise(day_starts=7, night_starts=7)}, "noise.day_starts and noise.night_starts must be hours"),
    ({"noise": noise(day_starts=23, night_starts=7)}, "noise.day_starts and noise.night_starts must be hours"),
    ({"noise": noise(day_starts="07")}, "noise.day_starts and noise.night_starts must be hours"),
    ({"noise": noise(day_threshold_dba="loud")}, "noise.day_threshold_dba must be a number of dBA"),
    ({"noise": noise(night_threshold_dba=None)}, "noise.night_threshold_dba must be a number of dBA"),
    ({"indicators": {}}, "no indicators listed"),
    (indicator(parameter=None), "indicator 'x': missing parameter"),
    (indicator(statistic="median"), "indicator 'x': statistic must be one of mean, .* got 'median'"),
    # the file is written by yaml.safe_dump, which sorts the seasons
    (indicator(season="monsoon"), r"indicator 'x': unknown season 'monsoon' \(known: dry, rainy, transition\)"),
    (indicator(parameter="co", statistic="days_above_daily"), "indicator 'x': no daily guideline for 'co'"),
    (indicator(method="kriging"), "indicator 'x': method must be nearest or idw, got 'kriging'"),
    (indicator(max_distance_m=0), "indicator 'x': max_distance_m must be a positive number of metres, got 0"),
    (indicator(max_distance_m=-1), "indicator 'x': max_distance_m must be a positive number of metres, got -1"),
    (indicator(max_distance_m="3 km"), "indicator 'x': max_distance_m must be a positive number .* got '3 km'"),
    (indicator(power=0), "indicator 'x': power must be a positive number, got 0"),
    (indicator(power=-2), "indicator 'x': power must be a positive number, got -2"),
    (indicator(power="2"), "indicator 'x': power must be a positive number, got '2'"),
])
def test_a_bad_configuration_names_the_file_and_the_entry(tmp_path, change, entry):
    with pytest.raises(SensorConfigError, match=re.escape(str(tmp_path / "sensors.yaml")) + ": " + entry):
        config(tmp_path, **change)


# -- the period: local days from its first midnight up to, not including, the next period's ------------------------

def test_the_period_runs_from_local_midnight_to_the_next_periods_midnight(tmp_path):
    cfg = config(tmp_path, timezone="America/La_Paz")  # UTC-4 all year: local 00:00 is 04:00 UTC
    readings = join(
        readings_of("S1", "pm25", "2024-06-01 03:00", [1.0]),  # local 05-31 23:00: May
        readings_of("S1", "pm25", "2024-06-01 04:00", [2.0]),  # local 06-01 00:00: June's first hour
        readings_of("S1", "pm25", "2024-07-01 03:00", [3.0]),  # local 06-30 23:00: June's last hour
        readings_of("S1", "pm25", "2024-07-01 04:00", [4.0]),  # local 07-01 00:00: July
    )
    hourly = hourly_values(readings, cfg, "2024-06")
    assert hourly["hour"].tolist() == [pd.Timestamp("2024-06-01 00:00"), pd.Timestamp("2024-06-30 23:00")]
    assert hourly["value"].tolist() == [2.0, 3.0]


def test_the_days_the_network_delivered_stop_at_the_periods_end(tmp_path):
    cfg = config(tmp_path, timezone="America/La_Paz")
    readings = join(
        readings_of("S1", "pm25", "2024-06-01 03:00", [None], flag="missing"),  # local 05-31: May
        readings_of("S1", "pm25", "2024-06-01 04:00", [None], flag="missing"),  # local 06-01 00:00: June
        readings_of("S1", "pm25", "2024-06-30 04:00", [10.0] * 24),  # local 06-30, 24 valid hours
        readings_of("S1", "pm25", "2024-07-01 04:00", [900.0], flag="spike"),  # local 07-01 00:00: July
    )
    row = stat(station_statistics(readings, cfg, "2024-06"), "pm25_mean", "S1")
    # June's delivered days: 06-01 (a missing reading counts as delivered) and 06-30 -> 2, not 05-31 or 07-01;
    # valid days: 06-30 only -> coverage 1 / 2 = 0.5
    assert (row["window_days"], row["valid_days"], row["coverage"]) == (2, 1, 0.5)


# -- noise: the day band is [day_starts, night_starts), local hours -----------------------------------------------

def test_noise_bands_start_at_their_hour(tmp_path):
    cfg = config(tmp_path, timezone="America/La_Paz")
    # 60 dBA every local hour of 06-01 (04:00 UTC on): above the night threshold (55), not above the day one (65)
    readings = readings_of("N1", "noise", "2024-06-01 04:00", [60.0] * 24)
    table = station_statistics(readings, cfg, "2024-06")
    # night = 23:00 and 00:00-06:00 -> 8 hours exceed; day = 07:00-22:00 (16 hours) -> none;
    # 23:00 in the day band would give 7, 07:00 in the night band 9
    assert stat(table, "noise_exceedance_hours", "N1")["value"] == 8
    assert stat(table, "noise_valid_hours", "N1")["value"] == 24


# -- coverage: a station speaks with valid days on at least min_day_share of the delivered days --------------------

def coverage_readings():
    return join(
        # S1: 4 full days at 10 -> the network delivered 06-01..06-04
        readings_of("S1", "pm25", "2024-06-01 00:00", [10.0] * 96),
        # S2: 3 full days at 20, and 10 hours on 06-04 (not a valid day) -> 3 valid days of 4 = 0.75
        readings_of("S2", "pm25", "2024-06-01 00:00", [20.0] * 82),
    )


@pytest.mark.parametrize(("share", "eligible"), [(0.74, True), (0.75, True), (0.76, False)])
def test_coverage_exactly_at_the_share_is_enough(tmp_path, share, eligible):
    table = station_statistics(coverage_readings(), config(tmp_path, coverage={"min_day_share": share}), "2024-06")
    s2 = stat(table, "pm25_mean", "S2")
    assert (s2["window_days"], s2["valid_days"], s2["coverage"]) == (4, 3, 0.75)
    assert bool(s2["eligible"]) is eligible
    assert (s2["value"] == 20.0) if eligible else math.isnan(s2["value"])


def test_a_station_without_a_valid_day_never_speaks(tmp_path):
    readings = join(
        readings_of("S1", "pm25", "2024-06-01 00:00", [10.0] * 24),
        readings_of("S2", "pm25", "2024-06-01 00:00", [20.0] * 10),  # 10 hours: no valid day
    )
    # with a share of 0, S2's coverage 0 / 1 = 0 reaches the share, but no valid day means no value
    table = station_statistics(readings, config(tmp_path, coverage={"min_day_share": 0}), "2024-06")
    s2 = stat(table, "pm25_valid_days", "S2")
    assert (s2["valid_days"], s2["coverage"], bool(s2["eligible"])) == (0, 0.0, False)
    assert math.isnan(s2["value"])  # not 0 valid days: no value
    assert stat(table, "pm25_valid_days", "S1")["value"] == 1


# -- assignment to areas ----------------------------------------------------------------------------------------

def test_idw_power_is_2_unless_given():
    out = assign_to_areas(VALUES, DISTANCES, "idw", 3000).set_index("area_id")
    # Z1: S1 (10) at 1000 m, S2 (40) at 2000 m; 1/d^2 -> 4 : 1 -> (10 x 4 + 40 x 1) / 5 = 16
    # (power 3 would weigh them 8 : 1 -> (80 + 40) / 9 = 13.3)
    assert out.loc["Z1", "value"] == pytest.approx(16)


def test_a_station_on_the_centroid_is_the_only_one_used():
    out = assign_to_areas(VALUES, DISTANCES, "idw", 3000).set_index("area_id")
    # Z4: S1 at 0 m takes all the weight; S2 at 1000 m gets weight 0 and is not listed among the sensors used
    assert (out.loc["Z4", "value"], out.loc["Z4", "sensors"]) == (10, "S1")
    # Z1 without a station on the centroid lists both
    assert out.loc["Z1", "sensors"] == "S1, S2"


def test_no_smallest_area_or_no_located_station_gives_no_distances():
    areas, stations = city_areas(), city_stations()
    for no_pairs in (centroid_distances(stations, areas[areas["depth"] > 0]),
                     centroid_distances(stations.assign(lon=None, lat=None), areas)):
        assert no_pairs.empty and list(no_pairs.columns) == ["area_id", "sensor_id", "distance_m"]
    assert len(centroid_distances(stations, areas)) == 4 * 3  # 4 zones x 3 stations


def test_an_area_missing_from_the_residents_has_none(tmp_path):
    residents = RESIDENTS[RESIDENTS["area_id"] != "Z1"]
    counts, notes = sensor_counts(city_readings(), city_stations(), city_areas(), residents, config(tmp_path),
                                  "2024-06")
    z1 = counts[(counts["area_id"] == "Z1") & (counts["indicator_id"] == "pm25_mean")].iloc[0]
    # Z1 is absent: 0 residents, so 16 x 0 over 0 (not 16 x 1 over 1) and a note
    assert (z1["numerator"], z1["denominator"]) == (0, 0)
    note = notes.set_index(["area_id", "indicator_id"])["note"][("Z1", "pm25_mean")]
    assert note == "no census residents to weigh the PM2.5 value by (16.0 from S1, S2)"


@pytest.mark.parametrize("at_radius", [True, False])
def test_a_station_exactly_at_the_radius_is_within_it_in_the_notes(tmp_path, at_radius):
    # S3 is 500 m north of Z3's centroid (as projected: the radius is set to that very distance) and has no valid
    # day (10 hours); no other station is within 20 km of Z3
    distances = centroid_distances(city_stations(), city_areas()).set_index(["area_id", "sensor_id"])["distance_m"]
    radius = float(distances[("Z3", "S3")])
    assert radius == pytest.approx(500, abs=0.01)
    if not at_radius:
        radius = float(np.nextafter(radius, 0))
    cfg = config(tmp_path, indicators={"pm25_mean": {**MEAN, "max_distance_m": radius}})
    _, notes = sensor_counts(city_readings(), city_stations(), city_areas(), RESIDENTS, cfg, "2024-06")
    note = notes.set_index(["area_id", "indicator_id"])["note"][("Z3", "pm25_mean")]
    if at_radius:
        assert note == ("the PM2.5 stations within 500 m (S3) have valid days on fewer than 60% of the 1 days with "
                        "readings in 2024-06")
    else:
        assert note == "no station measuring PM2.5 within 500 m of the area's centroid"
