"""Sensor indicators per area: statistics per station from valid hourly readings, then values per area by distance.

Two steps, each a plain function (the rules and their sources are in `indicators/sensors.yaml`):

1. `station_statistics`: per station and indicator, from readings with flag == 'ok' only, in local time. Readings
   become hourly values (several in one hour are averaged; noise by energy), hours become daily means, and a
   day is valid with at least `daily.min_valid_hours` valid hours. Means are means of the valid daily means;
   days above the WHO 2021 24-hour guideline count valid days whose mean is strictly above it (days with too few
   hours count neither way, and `valid_days` reports how many days were judged); noise exceedance hours count
   valid hours with LAeq above the day or night threshold. A station whose valid days cover less than
   `coverage.min_day_share` of the days the network delivered in the window gives no value.
2. `assign_to_areas`: each smallest area takes the value of the stations within the indicator's distance of its
   centroid (measured in the area's UTM zone), by `nearest` (ties to the smallest sensor id) or `idw`
   (inverse-distance weights 1/d^power; a station on the centroid takes all the weight).

`sensor_counts` runs both and returns the long counts format of `indicators.area_indicators` as population-weighted
sums (numerator = value x residents, denominator = residents), plus a note for every smallest area left without a
value. Larger areas therefore get the population-weighted mean of the zones that have a value, for every
statistic, counts of days and hours included: a district's `pm25_days_above_24h` is the number of days above the
guideline lived by its average resident (of the zones in range), not the maximum nor the union of its stations'
days. An area with no station in range gets no row, so no value, never a zero.
"""

from __future__ import annotations

import calendar
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from cities import read_yaml
from indicators.service_indicators import COUNT_COLUMNS, period_bounds

SENSORS_PATH = Path(__file__).resolve().parent / "sensors.yaml"
STATISTICS = ("mean", "days_above_daily", "valid_days", "exceedance_hours", "valid_hours")
METHODS = ("nearest", "idw")
DECIBEL_PARAMETERS = frozenset({"noise"})  # levels in dB are averaged by energy, not arithmetically
PARAMETER_LABELS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO2", "noise": "noise"}
NOTE_COLUMNS = ["area_id", "indicator_id", "note"]
STATION_COLUMNS = ["indicator_id", "sensor_id", "parameter", "season", "window_days", "valid_days", "valid_hours",
                   "coverage", "eligible", "value"]


class SensorConfigError(ValueError):
    """A sensor configuration that cannot be used; the message names the file and the entry."""


def load_sensor_config(path: Path | str = SENSORS_PATH) -> dict:
    """The sensor configuration (`indicators/sensors.yaml` by default), checked, with `power` filled for idw."""
    data = read_yaml(Path(path)) or {}
    return _checked(data, str(path))


def _checked(data: dict, where: str) -> dict:
    def fail(message: str) -> None:
        raise SensorConfigError(f"{where}: {message}")

    try:
        ZoneInfo(str(data.get("timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown timezone {data.get('timezone')!r} (an IANA name such as America/La_Paz)")
    hours = (data.get("daily") or {}).get("min_valid_hours")
    if not isinstance(hours, int) or not 1 <= hours <= 24:
        fail(f"daily.min_valid_hours must be a whole number of hours from 1 to 24, got {hours!r}")
    share = (data.get("coverage") or {}).get("min_day_share")
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        fail(f"coverage.min_day_share must be a share from 0 to 1, got {share!r}")
    seasons = data.get("seasons") or {}
    seen: dict[int, str] = {}
    for name, season in seasons.items():
        months = (season or {}).get("months") or []
        if not months or any(not isinstance(m, int) or not 1 <= m <= 12 for m in months):
            fail(f"season {name!r}: months must be a list of month numbers 1-12, got {months!r}")
        for month in months:
            if month in seen:
                fail(f"month {month} is in both seasons {seen[month]!r} and {name!r}")
            seen[month] = name
    noise = data.get("noise") or {}
    day_starts, night_starts = noise.get("day_starts"), noise.get("night_starts")
    if not (isinstance(day_starts, int) and isinstance(night_starts, int) and 0 <= day_starts < night_starts <= 24):
        fail("noise.day_starts and noise.night_starts must be hours with 0 <= day_starts < night_starts <= 24")
    for key in ("day_threshold_dba", "night_threshold_dba"):
        if not isinstance(noise.get(key), int | float):
            fail(f"noise.{key} must be a number of dBA")
    guidelines = data.get("guidelines") or {}
    indicators = data.get("indicators") or {}
    if not indicators:
        fail("no indicators listed")
    checked = {}
    for indicator_id, spec in indicators.items():
        entry = f"indicator {indicator_id!r}"
        spec = dict(spec or {})
        if not spec.get("parameter"):
            fail(f"{entry}: missing parameter")
        if spec.get("statistic") not in STATISTICS:
            fail(f"{entry}: statistic must be one of {', '.join(STATISTICS)}, got {spec.get('statistic')!r}")
        if spec.get("season") is not None and spec["season"] not in seasons:
            fail(f"{entry}: unknown season {spec['season']!r} (known: {', '.join(seasons) or 'none'})")
        if spec["statistic"] == "days_above_daily" and "daily" not in (guidelines.get(spec["parameter"]) or {}):
            fail(f"{entry}: no daily guideline for {spec['parameter']!r} under guidelines")
        if spec.get("method") not in METHODS:
            fail(f"{entry}: method must be nearest or idw, got {spec.get('method')!r}")
        distance = spec.get("max_distance_m")
        if not isinstance(distance, int | float) or distance <= 0:
            fail(f"{entry}: max_distance_m must be a positive number of metres, got {distance!r}")
        if spec["method"] == "idw":
            spec.setdefault("power", 2)
            if not isinstance(spec["power"], int | float) or spec["power"] <= 0:
                fail(f"{entry}: power must be a positive number, got {spec['power']!r}")
        spec.setdefault("season", None)
        checked[indicator_id] = spec
    return {**data, "indicators": checked}


def describe_assignment(spec: dict) -> str:
    """How an indicator's area values come from stations, in words for notes and the catalogue."""
    distance = f"{spec['max_distance_m']:.0f} m"
    if spec["method"] == "nearest":
        return f"the nearest station within {distance} of the area's centroid (ties: the smallest sensor id)"
    return (f"the inverse-distance weighted mean (power {spec['power']:g}) of the stations within {distance} of "
            "the area's centroid")


def _local(stamps: pd.Series, timezone: str) -> pd.Series:
    """Readings' timestamps (UTC; naive ones are taken as UTC) as naive local times."""
    stamps = pd.to_datetime(stamps)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert(timezone).dt.tz_localize(None)


def hourly_values(readings: pd.DataFrame, config: dict, period: str) -> pd.DataFrame:
    """Valid hourly values in the period: sensor_id, parameter, hour (local, the hour's start), value."""
    start, end = period_bounds(period)
    ok = readings[(readings["flag"] == "ok") & readings["value"].notna()]
    hour = _local(ok["observed_at"], config["timezone"]).dt.floor("h")
    frame = pd.DataFrame({
        "sensor_id": ok["sensor_id"].astype(str).to_numpy(),
        "parameter": ok["parameter"].astype(str).to_numpy(),
        "hour": hour.to_numpy(),
        "value": ok["value"].astype(float).to_numpy(),
    })
    frame = frame[(frame["hour"] >= start) & (frame["hour"] < end)]
    decibel = frame["parameter"].isin(DECIBEL_PARAMETERS)
    frame = frame.assign(value=np.where(decibel, 10 ** (frame["value"] / 10), frame["value"]))
    hourly = frame.groupby(["sensor_id", "parameter", "hour"], as_index=False)["value"].mean()
    decibel = hourly["parameter"].isin(DECIBEL_PARAMETERS)
    hourly["value"] = np.where(decibel, 10 * np.log10(hourly["value"].where(decibel, 1.0)), hourly["value"])
    return hourly


def daily_values(hourly: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per station, parameter and local day: valid hours, mean of the hourly values and whether the day is valid."""
    days = hourly.assign(day=hourly["hour"].dt.normalize())
    daily = days.groupby(["sensor_id", "parameter", "day"], as_index=False).agg(
        hours=("value", "size"), mean=("value", "mean"))
    daily["valid"] = daily["hours"] >= config["daily"]["min_valid_hours"]
    return daily


def _delivered_days(readings: pd.DataFrame, config: dict, period: str) -> pd.DataFrame:
    """Local days of the period with any reading (any flag) per station and parameter: what the network sent."""
    start, end = period_bounds(period)
    day = _local(readings["observed_at"], config["timezone"]).dt.normalize()
    frame = pd.DataFrame({"sensor_id": readings["sensor_id"].astype(str).to_numpy(),
                          "parameter": readings["parameter"].astype(str).to_numpy(), "day": day.to_numpy()})
    return frame[(frame["day"] >= start) & (frame["day"] < end)].drop_duplicates()


def _in_season(days: pd.Series, config: dict, season: str | None) -> pd.Series:
    if season is None:
        return pd.Series(True, index=days.index)
    return days.dt.month.isin(config["seasons"][season]["months"])


def _station_value(statistic: str, valid_days: pd.DataFrame, hours: pd.DataFrame, guideline: float | None) -> float:
    """One station's statistic from its valid days and valid hours in the window."""
    if statistic == "mean":
        return float(valid_days["mean"].mean())
    if statistic == "days_above_daily":
        return float((valid_days["mean"] > guideline).sum())
    if statistic == "valid_days":
        return float(len(valid_days))
    if statistic == "exceedance_hours":
        return float(hours["exceeds"].sum())
    return float(len(hours))  # valid_hours


def _statistics(readings: pd.DataFrame, config: dict, period: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Station statistics and, per indicator, the number of days the network delivered in its window."""
    hourly = hourly_values(readings, config, period)
    daily = daily_values(hourly, config)
    delivered = _delivered_days(readings, config, period)
    noise = config["noise"]
    hour_of_day = hourly["hour"].dt.hour
    by_day = (hour_of_day >= noise["day_starts"]) & (hour_of_day < noise["night_starts"])
    hourly = hourly.assign(
        day=hourly["hour"].dt.normalize(),
        exceeds=hourly["value"] > np.where(by_day, noise["day_threshold_dba"], noise["night_threshold_dba"]))
    min_share = float(config["coverage"]["min_day_share"])
    rows, windows = [], {}
    for indicator_id, spec in config["indicators"].items():
        parameter, season, statistic = spec["parameter"], spec["season"], spec["statistic"]
        sent = delivered[(delivered["parameter"] == parameter) & _in_season(delivered["day"], config, season)]
        windows[indicator_id] = window = int(sent["day"].nunique())
        days = daily[(daily["parameter"] == parameter) & _in_season(daily["day"], config, season) & daily["valid"]]
        hours = hourly[(hourly["parameter"] == parameter) & _in_season(hourly["day"], config, season)]
        guideline = (config.get("guidelines", {}).get(parameter) or {}).get("daily")
        for sensor_id in sorted(sent["sensor_id"].unique()):
            mine, my_hours = days[days["sensor_id"] == sensor_id], hours[hours["sensor_id"] == sensor_id]
            valid_days = len(mine)
            coverage = valid_days / window
            eligible = valid_days > 0 and coverage >= min_share
            rows.append({"indicator_id": indicator_id, "sensor_id": sensor_id, "parameter": parameter,
                         "season": season, "window_days": window, "valid_days": valid_days,
                         "valid_hours": len(my_hours), "coverage": coverage, "eligible": eligible,
                         "value": _station_value(statistic, mine, my_hours, guideline) if eligible else np.nan})
    return pd.DataFrame(rows, columns=STATION_COLUMNS), windows


def station_statistics(readings: pd.DataFrame, config: dict, period: str) -> pd.DataFrame:
    """One row per indicator and station with readings in its window: valid days and hours, coverage, value.

    `value` is NaN when the station's valid days cover less than the configured share of the window's days.
    """
    return _statistics(readings, config, period)[0]


def centroid_distances(stations: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Distance in metres from every smallest area's centroid to every located station, in the areas' UTM zone."""
    import geopandas as gpd
    import shapely

    base = areas[areas["depth"] == 0]
    polygons = gpd.GeoSeries(shapely.from_wkt(base["geometry_wkt"].to_numpy(dtype=object)), crs="EPSG:4326")
    located = stations.dropna(subset=["lon", "lat"])
    if polygons.empty or located.empty:
        return pd.DataFrame({"area_id": pd.Series(dtype=object), "sensor_id": pd.Series(dtype=object),
                             "distance_m": pd.Series(dtype=float)})
    metric = polygons.estimate_utm_crs()
    centroids = polygons.to_crs(metric).centroid
    points = gpd.GeoSeries(gpd.points_from_xy(located["lon"], located["lat"]), crs="EPSG:4326").to_crs(metric)
    dx = centroids.x.to_numpy()[:, None] - points.x.to_numpy()[None, :]
    dy = centroids.y.to_numpy()[:, None] - points.y.to_numpy()[None, :]
    return pd.DataFrame({
        "area_id": np.repeat(base["area_id"].astype(str).to_numpy(), len(located)),
        "sensor_id": np.tile(located["sensor_id"].astype(str).to_numpy(), len(base)),
        "distance_m": np.hypot(dx, dy).ravel(),
    })


def assign_to_areas(values: pd.DataFrame, distances: pd.DataFrame, method: str, max_distance_m: float,
                    power: float = 2.0) -> pd.DataFrame:
    """Per area with a station in range: area_id, value and the sensors used; areas with none are left out.

    `values` holds sensor_id and value of the stations that may be used; `distances` area_id, sensor_id and
    distance_m. `nearest` takes the closest station (ties: the smallest sensor id); `idw` weighs every station in
    range by 1/d^power, and a station on the centroid (d = 0) takes all the weight, shared with any other at 0.
    """
    empty = pd.DataFrame({"area_id": pd.Series(dtype=object), "value": pd.Series(dtype=float),
                          "sensors": pd.Series(dtype=object)})
    values = values[["sensor_id", "value"]].dropna()
    if values.empty or distances.empty:
        return empty
    near = distances.merge(values.astype({"sensor_id": str}), on="sensor_id")
    near = near[near["distance_m"] <= max_distance_m]
    if near.empty:
        return empty
    if method == "nearest":
        first = near.sort_values(["area_id", "distance_m", "sensor_id"]).drop_duplicates("area_id")
        return pd.DataFrame({"area_id": first["area_id"].to_numpy(), "value": first["value"].to_numpy(dtype=float),
                             "sensors": first["sensor_id"].to_numpy()})
    if method != "idw":
        raise ValueError(f"method must be nearest or idw, got {method!r}")
    distance = near["distance_m"].to_numpy(dtype=float)
    on_centroid = distance == 0
    area_has_zero = pd.Series(on_centroid, index=near.index).groupby(near["area_id"]).transform("any").to_numpy()
    weight = np.where(area_has_zero, on_centroid.astype(float),
                      np.divide(1.0, distance ** power, out=np.zeros_like(distance), where=~on_centroid))
    near = near.assign(weight=weight, weighted=weight * near["value"].to_numpy(dtype=float))
    used = near[near["weight"] > 0].sort_values(["area_id", "sensor_id"])
    grouped = used.groupby("area_id", sort=True)
    return pd.DataFrame({
        "area_id": list(grouped.groups),
        "value": (grouped["weighted"].sum() / grouped["weight"].sum()).to_numpy(),
        "sensors": grouped["sensor_id"].agg(", ".join).to_numpy(),
    })


def _window_text(period: str, season: str | None, config: dict) -> str:
    if season is None:
        return str(period)
    months = ", ".join(calendar.month_abbr[m] for m in config["seasons"][season]["months"])
    name = config["seasons"][season].get("name_en", season)
    return f"{period}, {name} ({months})"


def sensor_counts(readings: pd.DataFrame, stations: pd.DataFrame, areas: pd.DataFrame, residents: pd.DataFrame,
                  config: dict, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts of every sensor indicator per smallest area (value x residents over residents) and the notes.

    `readings` as in staging.sensor_readings (sensor_id, parameter, observed_at in UTC, value, flag); `stations`
    with sensor_id, lon, lat; `areas` with area_id, depth and geometry_wkt (EPSG:4326); `residents` with area_id
    and residents (absent areas count 0). The notes (area_id, indicator_id, note) explain every smallest area
    without a published value: no readings in the window, no station in range, stations in range without enough
    valid days, or no residents to weigh the value by.
    """
    statistics, windows = _statistics(readings, config, period)
    distances = centroid_distances(stations, areas)
    base_ids = sorted(areas.loc[areas["depth"] == 0, "area_id"].astype(str))
    people = residents.set_index("area_id")["residents"].reindex(base_ids, fill_value=0).astype(float)
    parts, notes = [], []
    for indicator_id, spec in config["indicators"].items():
        table = statistics[statistics["indicator_id"] == indicator_id]
        assigned = assign_to_areas(table.loc[table["eligible"], ["sensor_id", "value"]], distances, spec["method"],
                                   spec["max_distance_m"], spec.get("power", 2.0)).set_index("area_id")
        weight = people.reindex(assigned.index).to_numpy()
        parts.append(pd.DataFrame({"area_id": assigned.index, "numerator": assigned["value"].to_numpy() * weight,
                                   "denominator": weight, "indicator_id": indicator_id, "multiplier": 1.0}))
        label = PARAMETER_LABELS.get(spec["parameter"], spec["parameter"])
        window = _window_text(period, spec["season"], config)
        in_range = distances[(distances["distance_m"] <= spec["max_distance_m"])
                             & distances["sensor_id"].isin(table["sensor_id"])]
        nearby = in_range.sort_values("sensor_id").groupby("area_id")["sensor_id"].agg(", ".join)
        for area_id in base_ids:
            if area_id in assigned.index:
                if people[area_id] == 0:
                    notes.append((area_id, indicator_id, f"no census residents to weigh the {label} value by "
                                  f"({assigned.loc[area_id, 'value']:.1f} from {assigned.loc[area_id, 'sensors']})"))
                continue
            if windows[indicator_id] == 0:
                note = f"no {label} readings in {window}"
            elif area_id not in nearby.index:
                note = f"no station measuring {label} within {spec['max_distance_m']:.0f} m of the area's centroid"
            else:
                share = float(config["coverage"]["min_day_share"])
                note = (f"the {label} stations within {spec['max_distance_m']:.0f} m ({nearby[area_id]}) have valid "
                        f"days on fewer than {share:.0%} of the {windows[indicator_id]} days with readings in "
                        f"{window}")
            notes.append((area_id, indicator_id, note))
    counts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COUNT_COLUMNS)
    return counts[COUNT_COLUMNS], pd.DataFrame(notes, columns=NOTE_COLUMNS)


def indicator_notes(config: dict) -> dict[str, str]:
    """Per indicator, the note for an area none of whose smallest areas has a value (for `publish_values`)."""
    return {indicator_id: "no value: none of its smallest areas has one from " + describe_assignment(spec)
            for indicator_id, spec in config["indicators"].items()}


def attach_notes(values: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
    """Values with each smallest area's own note where it has no value (before disclosure control, which
    replaces the note of a withheld cell)."""
    keyed = notes.drop_duplicates(["area_id", "indicator_id"]).set_index(["area_id", "indicator_id"])["note"]
    found = keyed.reindex(pd.MultiIndex.from_frame(values[["area_id", "indicator_id"]])).to_numpy()
    use = values["value"].isna().to_numpy() & pd.notna(found)
    out = values.copy()
    out.loc[use, "note"] = found[use]
    return out
