"""Sensor indicators against values computed by hand: hourly readings made by hand, stations at known distances."""

import math

import pandas as pd
import pytest
import shapely
import yaml
from pyproj import Transformer

from indicators.area_indicators import exact_values, roll_up
from indicators.sensor_indicators import (
    SensorConfigError,
    assign_to_areas,
    attach_notes,
    centroid_distances,
    daily_values,
    hourly_values,
    indicator_notes,
    load_sensor_config,
    sensor_counts,
    station_statistics,
)
from transforms.areas import area_parents

TEST_CONFIG = {
    "timezone": "UTC",
    "daily": {"min_valid_hours": 18},
    "coverage": {"min_day_share": 0.6},
    "guidelines": {"pm25": {"annual": 5, "daily": 15}},
    "seasons": {"rainy": {"months": [12, 1, 2, 3], "name_en": "rainy season"},
                "dry": {"months": [5, 6, 7, 8], "name_en": "dry season"},
                "transition": {"months": [4, 9, 10, 11]}},
    "noise": {"day_starts": 7, "night_starts": 23, "day_threshold_dba": 65, "night_threshold_dba": 55},
    "indicators": {
        "pm25_mean": {"parameter": "pm25", "statistic": "mean", "method": "idw", "max_distance_m": 3000},
        "pm25_mean_rainy": {"parameter": "pm25", "statistic": "mean", "season": "rainy", "method": "idw",
                            "max_distance_m": 3000},
        "pm25_mean_dry": {"parameter": "pm25", "statistic": "mean", "season": "dry", "method": "idw",
                          "max_distance_m": 3000},
        "pm25_days_above_24h": {"parameter": "pm25", "statistic": "days_above_daily", "method": "nearest",
                                "max_distance_m": 3000},
        "pm25_valid_days": {"parameter": "pm25", "statistic": "valid_days", "method": "nearest",
                            "max_distance_m": 3000},
        "noise_exceedance_hours": {"parameter": "noise", "statistic": "exceedance_hours", "method": "nearest",
                                   "max_distance_m": 1500},
        "noise_valid_hours": {"parameter": "noise", "statistic": "valid_hours", "method": "nearest",
                              "max_distance_m": 1500},
    },
}


def config(tmp_path, **changes):
    """The test configuration written to a file and loaded the way the pipeline loads sensors.yaml."""
    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump({**TEST_CONFIG, **changes}), encoding="utf-8")
    return load_sensor_config(path)


def readings_of(sensor, parameter, start, values, flag="ok", step="1h"):
    """One reading per step from `start` (UTC), with the given values and flag."""
    times = pd.date_range(start, periods=len(values), freq=step)
    return pd.DataFrame({"sensor_id": sensor, "parameter": parameter, "observed_at": times,
                         "value": pd.array(values, dtype="Float64"), "flag": flag})


def join(*frames):
    return pd.concat(frames, ignore_index=True)


def stat(table, indicator, sensor):
    return table[(table["indicator_id"] == indicator) & (table["sensor_id"] == sensor)].iloc[0]


# -- per station: the 18-hour rule, flags, days above, coverage ------------------------------------------------

def daily_rule_readings():
    return join(
        # 06-01: 20 h at 10 and 4 h at 40 -> mean (200 + 160) / 24 = 15.0, valid, not above 15 (not strictly above)
        readings_of("S1", "pm25", "2024-06-01 00:00", [10.0] * 20 + [40.0] * 4),
        # 06-02: 18 ok hours at 20, then 6 stuck hours at 100 (not used) -> 18 valid hours, mean 20, above
        readings_of("S1", "pm25", "2024-06-02 00:00", [20.0] * 18),
        readings_of("S1", "pm25", "2024-06-02 18:00", [100.0] * 6, flag="stuck"),
        # 06-03: 17 ok hours at 50, a spike and a missing value -> 17 valid hours: not a valid day, not counted
        readings_of("S1", "pm25", "2024-06-03 00:00", [50.0] * 17),
        readings_of("S1", "pm25", "2024-06-03 17:00", [480.0], flag="spike"),
        readings_of("S1", "pm25", "2024-06-03 18:00", [None], flag="missing"),
        # S2: one full day at 30 -> 1 valid day of the network's 3 days = 33% coverage, below 60%
        readings_of("S2", "pm25", "2024-06-01 00:00", [30.0] * 24),
    )


def test_daily_means_and_the_18_hour_rule(tmp_path):
    cfg = config(tmp_path)
    daily = daily_values(hourly_values(daily_rule_readings(), cfg, "2024-06"), cfg)
    s1 = daily[daily["sensor_id"] == "S1"].set_index(daily.loc[daily["sensor_id"] == "S1", "day"].dt.day)
    assert s1.loc[1, "mean"] == 15.0 and s1.loc[1, "hours"] == 24 and s1.loc[1, "valid"]
    # flagged readings are left out: 18 hours at 20 (with the stuck ones it would be (360 + 600) / 24 = 40)
    assert s1.loc[2, "mean"] == 20.0 and s1.loc[2, "hours"] == 18 and s1.loc[2, "valid"]
    assert s1.loc[3, "hours"] == 17 and not s1.loc[3, "valid"]


def test_station_statistics_by_hand(tmp_path):
    table = station_statistics(daily_rule_readings(), config(tmp_path), "2024-06")
    # S1: valid days 06-01 (15.0) and 06-02 (20.0) of the 3 days the network sent -> coverage 2/3 >= 0.6
    s1 = stat(table, "pm25_mean", "S1")
    assert (s1["valid_days"], s1["window_days"], bool(s1["eligible"])) == (2, 3, True)
    assert s1["value"] == pytest.approx((15.0 + 20.0) / 2)  # 17.5
    # days above 15: only 06-02 (20); 06-01 is exactly 15, 06-03 (50) has only 17 hours
    assert stat(table, "pm25_days_above_24h", "S1")["value"] == 1
    assert stat(table, "pm25_valid_days", "S1")["value"] == 2
    # S2: 1 valid day of 3 = 33% < 60%: listed with its valid days, no value
    s2 = stat(table, "pm25_mean", "S2")
    assert s2["valid_days"] == 1 and not s2["eligible"] and math.isnan(s2["value"])


def test_seasonal_means_within_the_period(tmp_path):
    cfg = config(tmp_path)
    readings = join(
        readings_of("S1", "pm25", "2023-12-31 00:00", [100.0] * 24),  # previous year: never in 2024
        readings_of("S1", "pm25", "2024-01-15 00:00", [30.0] * 24),   # rainy
        readings_of("S1", "pm25", "2024-04-15 00:00", [20.0] * 24),   # transition
        readings_of("S1", "pm25", "2024-06-15 00:00", [10.0] * 24),   # dry
        readings_of("S1", "pm25", "2024-12-31 00:00", [40.0] * 24),   # rainy, same calendar year
    )
    table = station_statistics(readings, cfg, "2024")
    assert stat(table, "pm25_mean", "S1")["value"] == pytest.approx((30 + 20 + 10 + 40) / 4)  # 25
    assert stat(table, "pm25_mean_rainy", "S1")["value"] == pytest.approx((30 + 40) / 2)  # 35
    assert stat(table, "pm25_mean_dry", "S1")["value"] == 10
    assert stat(table, "pm25_mean_rainy", "S1")["window_days"] == 2
    # a June period has no rainy month: no station row at all for that indicator
    june = station_statistics(readings, cfg, "2024-06")
    assert june[june["indicator_id"] == "pm25_mean_rainy"].empty
    assert stat(june, "pm25_mean_dry", "S1")["value"] == 10


def test_noise_exceedance_hours_in_local_time(tmp_path):
    cfg = config(tmp_path, timezone="America/La_Paz")
    # local (UTC-4) hour -> dBA; local 00:00 on 06-01 is 04:00 UTC
    level = {h: 60.0 for h in range(24)}
    level.update({0: 58.0, 1: 60.0, 2: 50.0, 3: 50.0, 4: 50.0, 5: 50.0, 6: 50.0, 23: 55.0,  # night (23-07)
                  8: 70.0, 9: 65.0})
    readings = join(
        readings_of("N1", "noise", "2024-06-01 04:00", [level[h] for h in range(24)]),
        # a second reading in local 19:00 (19:30, 70 dBA) next to the 60 dBA one; its energy mean is
        # 10 log10((10^6 + 10^7) / 2) = 10 log10(5.5e6) = 67.40 dBA (the arithmetic mean, 65, would not exceed)
        readings_of("N1", "noise", "2024-06-01 23:30", [70.0]),
        # a flagged reading in local 10:00 is not used; a reading at local 05-31 23:00 is outside June
        readings_of("N1", "noise", "2024-06-01 14:30", [125.0], flag="out_of_range"),
        readings_of("N1", "noise", "2024-06-01 03:00", [80.0]),
    )
    hourly = hourly_values(readings, cfg, "2024-06")
    assert len(hourly) == 24 and hourly["hour"].min() == pd.Timestamp("2024-06-01 00:00")
    assert hourly.set_index("hour").loc[pd.Timestamp("2024-06-01 19:00"), "value"] == pytest.approx(67.404, abs=1e-3)
    table = station_statistics(readings, cfg, "2024-06")
    # night above 55: 00h (58), 01h (60); 23h is exactly 55, 02-06h are 50
    # day above 65: 08h (70), 19h (67.40); 09h is exactly 65, every other day hour is 60 (above 55, not 65)
    assert stat(table, "noise_exceedance_hours", "N1")["value"] == 4
    assert stat(table, "noise_valid_hours", "N1")["value"] == 24
    assert stat(table, "noise_valid_hours", "N1")["window_days"] == 1  # 05-31 local is not in June


# -- assignment to areas ---------------------------------------------------------------------------------------

DISTANCES = pd.DataFrame({
    "area_id": ["Z1", "Z1", "Z2", "Z2", "Z3", "Z3", "Z4", "Z4"],
    "sensor_id": ["S2", "S1"] * 4,
    "distance_m": [2000.0, 1000.0, 1500.0, 1500.0, 4000.0, 3500.0, 1000.0, 0.0],
})
VALUES = pd.DataFrame({"sensor_id": ["S2", "S1"], "value": [40.0, 10.0]})


def test_idw_by_hand():
    out = assign_to_areas(VALUES, DISTANCES, "idw", 3000, power=2).set_index("area_id")
    # Z1: weights 1/1000^2 and 1/2000^2, i.e. 4 : 1 -> (10 x 4 + 40 x 1) / 5 = 16
    assert out.loc["Z1", "value"] == pytest.approx(16)
    assert out.loc["Z1", "sensors"] == "S1, S2"
    # Z2: equal distances, equal weights -> (10 + 40) / 2 = 25
    assert out.loc["Z2", "value"] == pytest.approx(25)
    # Z4: S1 on the centroid takes all the weight -> 10
    assert out.loc["Z4", "value"] == 10
    # Z3: both stations beyond 3000 m -> no row, no value
    assert "Z3" not in out.index
    # power 1: weights 1/1000 and 1/2000, i.e. 2 : 1 -> (10 x 2 + 40 x 1) / 3 = 20
    assert assign_to_areas(VALUES, DISTANCES, "idw", 3000, power=1).set_index("area_id").loc["Z1", "value"] == \
        pytest.approx(20)


def test_nearest_with_ties_to_the_smallest_sensor_id():
    out = assign_to_areas(VALUES, DISTANCES, "nearest", 3000).set_index("area_id")
    assert out.loc["Z1", "value"] == 10  # S1 at 1000 m beats S2 at 2000 m
    assert out.loc["Z2", "sensors"] == "S1" and out.loc["Z2", "value"] == 10  # both at 1500 m: S1 < S2
    assert "Z3" not in out.index
    # within means at most the distance: 2000 m is in range at 2000, out at 1999
    assert assign_to_areas(VALUES[VALUES["sensor_id"] == "S2"], DISTANCES, "nearest", 2000)["area_id"].tolist() \
        == ["Z1", "Z2", "Z4"]
    assert "Z1" not in set(assign_to_areas(VALUES[VALUES["sensor_id"] == "S2"], DISTANCES, "nearest", 1999)["area_id"])


# -- the whole path: geometry in a metric CRS, counts, roll-up, notes ----------------------------------------------

TO_LONLAT = Transformer.from_crs("EPSG:32719", "EPSG:4326", always_xy=True)  # UTM 19S, La Paz's zone
X0, Y0 = 594000.0, 8176000.0  # about -68.12, -16.47


def square(x, y):
    """WKT (lon/lat) of the 1000 m square with south-west corner (X0 + x, Y0 + y) in UTM 19S."""
    corners = [(x, y), (x + 1000, y), (x + 1000, y + 1000), (x, y + 1000), (x, y)]
    return shapely.Polygon([TO_LONLAT.transform(X0 + cx, Y0 + cy) for cx, cy in corners]).wkt


def lonlat(x, y):
    return TO_LONLAT.transform(X0 + x, Y0 + y)


def city_areas():
    # Z1 and Z2 side by side in D1 (centroids (500, 500) and (1500, 500)); Z3 and Z4 far east in D2
    zones = {"Z1": square(0, 0), "Z2": square(1000, 0), "Z3": square(20000, 0), "Z4": square(40000, 0)}
    rows = [{"area_id": a, "level": "zona", "depth": 0, "parent_id": "D1" if a in ("Z1", "Z2") else "D2",
             "geometry_wkt": wkt} for a, wkt in zones.items()]
    rows += [{"area_id": d, "level": "distrito", "depth": 1, "parent_id": None,
              "geometry_wkt": shapely.union_all([shapely.from_wkt(zones[z]) for z in members]).wkt}
             for d, members in (("D1", ["Z1", "Z2"]), ("D2", ["Z3", "Z4"]))]
    return pd.DataFrame(rows)


def city_stations():
    # S1 1000 m north of Z1's centroid, S2 1000 m east of Z2's, S3 500 m north of Z3's
    points = {"S1": lonlat(500, 1500), "S2": lonlat(2500, 500), "S3": lonlat(20500, 1000)}
    return pd.DataFrame({"sensor_id": list(points), "lon": [p[0] for p in points.values()],
                         "lat": [p[1] for p in points.values()]})


RESIDENTS = pd.DataFrame({"area_id": ["Z1", "Z2", "Z3", "Z4"], "residents": [100, 300, 50, 80]})


def city_readings():
    return join(
        readings_of("S1", "pm25", "2024-06-01 00:00", [10.0] * 24),
        readings_of("S2", "pm25", "2024-06-01 00:00", [40.0] * 24),
        readings_of("S3", "pm25", "2024-06-01 00:00", [25.0] * 10),  # 10 hours: no valid day
    )


def test_centroid_distances_in_metres():
    distances = centroid_distances(city_stations(), city_areas()).set_index(["area_id", "sensor_id"])["distance_m"]
    assert distances[("Z1", "S1")] == pytest.approx(1000, abs=0.01)  # (500, 500) -> (500, 1500)
    assert distances[("Z1", "S2")] == pytest.approx(2000, abs=0.01)  # (500, 500) -> (2500, 500)
    assert distances[("Z2", "S1")] == pytest.approx(math.sqrt(2) * 1000, abs=0.01)  # 1414.21
    assert distances[("Z2", "S2")] == pytest.approx(1000, abs=0.01)
    assert distances[("Z3", "S3")] == pytest.approx(500, abs=0.01)
    assert len(distances) == 4 * 3  # only smallest areas


def test_sensor_counts_roll_up_and_notes(tmp_path):
    cfg = config(tmp_path)
    counts, notes = sensor_counts(city_readings(), city_stations(), city_areas(), RESIDENTS, cfg, "2024-06")
    mean = counts[counts["indicator_id"] == "pm25_mean"].set_index("area_id")
    # Z1: S1 (10) at 1000 m, S2 (40) at 2000 m -> weights 4 : 1 -> 16; carried as 16 x 100 over 100
    assert mean.loc["Z1", "numerator"] == pytest.approx(1600) and mean.loc["Z1", "denominator"] == 100
    # Z2: S1 at sqrt(2) km (d^2 = 2e6), S2 at 1 km (d^2 = 1e6) -> weights 1 : 2 -> (10 + 80) / 3 = 30; x 300
    assert mean.loc["Z2", "numerator"] == pytest.approx(9000) and mean.loc["Z2", "denominator"] == 300
    assert set(mean.index) == {"Z1", "Z2"}  # Z3's only station has no valid day, Z4 has none in range

    rolled = roll_up(counts, area_parents(city_areas())).set_index(["area_id", "indicator_id"])
    d1 = rolled.loc[("D1", "pm25_mean")]
    # the district is the population-weighted mean of its zones: (16 x 100 + 30 x 300) / 400 = 26.5
    assert d1["numerator"] / d1["denominator"] == pytest.approx(26.5)
    # days above 15 by the nearest station: Z1 -> S1 (10, 0 days), Z2 -> S2 (40, 1 day);
    # the district gets the population-weighted mean of days: (0 x 100 + 1 x 300) / 400 = 0.75
    days = rolled.loc[("D1", "pm25_days_above_24h")]
    assert days["numerator"] / days["denominator"] == pytest.approx(0.75)
    assert ("D2", "pm25_mean") not in rolled.index  # no zone of D2 has a value: no row, never a zero

    note = notes.set_index(["area_id", "indicator_id"])["note"]
    assert note[("Z4", "pm25_mean")] == "no station measuring PM2.5 within 3000 m of the area's centroid"
    assert note[("Z3", "pm25_mean")] == ("the PM2.5 stations within 3000 m (S3) have valid days on fewer than 60% "
                                         "of the 1 days with readings in 2024-06")
    assert note[("Z1", "pm25_mean_rainy")] == "no PM2.5 readings in 2024-06, rainy season (Dec, Jan, Feb, Mar)"
    assert ("Z1", "pm25_mean") not in note.index


def test_an_area_without_residents_keeps_a_note(tmp_path):
    residents = RESIDENTS.assign(residents=[0, 300, 50, 80])
    counts, notes = sensor_counts(city_readings(), city_stations(), city_areas(), residents, config(tmp_path),
                                  "2024-06")
    z1 = counts[(counts["area_id"] == "Z1") & (counts["indicator_id"] == "pm25_mean")].iloc[0]
    assert (z1["numerator"], z1["denominator"]) == (0, 0)
    note = notes.set_index(["area_id", "indicator_id"])["note"][("Z1", "pm25_mean")]
    assert note == "no census residents to weigh the PM2.5 value by (16.0 from S1, S2)"


def test_published_values_carry_the_area_notes(tmp_path):
    cfg = config(tmp_path)
    areas = city_areas()
    counts, notes = sensor_counts(city_readings(), city_stations(), areas, RESIDENTS, cfg, "2024-06")
    catalogue = pd.DataFrame({"indicator_id": list(cfg["indicators"]), "min_denominator": 0})
    values = exact_values(roll_up(counts, area_parents(areas)), catalogue, areas, "2024-06", indicator_notes(cfg))
    values = attach_notes(values, notes).set_index(["area_id", "indicator_id"])
    assert values.loc[("D1", "pm25_mean"), "value"] == pytest.approx(26.5)
    assert values.loc[("Z4", "pm25_mean"), "note"] == "no station measuring PM2.5 within 3000 m of the area's centroid"
    assert values.loc[("D2", "pm25_mean"), "note"] == (
        "no value: none of its smallest areas has one from the inverse-distance weighted mean (power 2) of the "
        "stations within 3000 m of the area's centroid")
    assert values.loc[("Z1", "pm25_mean"), "note"] is None or pd.isna(values.loc[("Z1", "pm25_mean"), "note"])


# -- the configuration -----------------------------------------------------------------------------------------

def test_the_shipped_configuration():
    cfg = load_sensor_config()
    # WHO global air quality guidelines 2021, AQG levels in µg/m³: annual and 24-hour
    assert cfg["guidelines"] == {"pm25": {"annual": 5, "daily": 15}, "pm10": {"annual": 15, "daily": 45},
                                 "no2": {"annual": 10, "daily": 25}}
    assert cfg["timezone"] == "America/La_Paz" and cfg["daily"]["min_valid_hours"] == 18
    months = {name: season["months"] for name, season in cfg["seasons"].items()}
    assert months == {"rainy": [12, 1, 2, 3], "dry": [5, 6, 7, 8], "transition": [4, 9, 10, 11]}
    for spec in cfg["indicators"].values():
        assert spec["method"] in ("nearest", "idw") and spec["max_distance_m"] > 0
    assert cfg["indicators"]["pm25_mean"]["power"] == 2


@pytest.mark.parametrize(("change", "message"), [
    ({"seasons": {"a": {"months": [1, 2]}, "b": {"months": [2, 3]}}}, "month 2 is in both seasons"),
    ({"indicators": {"x": {"parameter": "pm25", "statistic": "mean", "method": "kriging", "max_distance_m": 1}}},
     "method must be nearest or idw"),
    ({"indicators": {"x": {"parameter": "co", "statistic": "days_above_daily", "method": "nearest",
                           "max_distance_m": 1}}}, "no daily guideline for 'co'"),
    ({"indicators": {"x": {"parameter": "pm25", "statistic": "mean", "method": "idw", "max_distance_m": 0}}},
     "max_distance_m must be a positive number"),
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
])
def test_a_bad_configuration_names_the_problem(tmp_path, change, message):
    with pytest.raises(SensorConfigError, match=message):
        config(tmp_path, **change)
