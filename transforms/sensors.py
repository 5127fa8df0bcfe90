"""Sensor stations and readings into staging, with quality flags instead of deletions.

A reading keeps its row whatever its quality; `flag` says whether indicators may use it:
`ok`, `missing` (no value), `out_of_range` (outside the physical range), `stuck` (the same value for
`stuck_hours` hours or more in a row), `spike` (more than `spike_factor` times the sensor's median for that
parameter in the delivery). Hours with no reading at all are gaps, recorded in quarantine per run of hours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.areas import place_points
from transforms.cleaning import Cleaned, Field, drop_duplicates, type_fields

READING_FIELDS = {
    "observed_at": Field("timestamp", required=True),
    "value": Field("float"),
}


def stage_stations(raw: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Stations with their coordinates and smallest area (NA when outside the city)."""
    import shapely

    points = shapely.from_wkt(raw["geometry_wkt"].to_numpy(dtype=object))
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    frame = pd.DataFrame({
        "sensor_id": raw["sensor_id"].astype("string"),
        "name": raw["name"].astype("string"),
        "lon": lon,
        "lat": lat,
    })
    frame["area_id"] = place_points(frame["lon"], frame["lat"], areas)
    return frame.sort_values("sensor_id").reset_index(drop=True)


def stage_readings(raw: pd.DataFrame, stations: pd.DataFrame, quality: dict) -> Cleaned:
    """Typed readings of known sensors with a quality flag each; flagged ones also listed in quarantine."""
    cleaned = Cleaned(raw.copy())
    cleaned.frame = cleaned.frame.assign(reading_id=cleaned.frame["sensor_id"].astype(str) + "/"
                                         + cleaned.frame["parameter"].astype(str) + "/"
                                         + cleaned.frame["observed_at"].astype(str))
    drop_duplicates(cleaned, "reading_id", ["unit", "value"])
    known = cleaned.frame["sensor_id"].isin(stations["sensor_id"])
    cleaned.reject(~known, reason="unknown sensor: not in the station list", record_id="reading_id",
                   fld="sensor_id")
    ranges = quality["valid_range"]
    cleaned.reject(~cleaned.frame["parameter"].isin(list(ranges)),
                   reason="unknown parameter (expected one of " + ", ".join(ranges) + ")",
                   record_id="reading_id", fld="parameter")
    type_fields(cleaned, READING_FIELDS, "reading_id")
    frame = cleaned.frame.sort_values(["sensor_id", "parameter", "observed_at"]).reset_index(drop=True)
    frame["flag"] = _flags(frame, quality)
    cleaned.frame = frame
    for flag, reason in [
        ("out_of_range", "value outside the physical range of the parameter"),
        ("stuck", f"stuck sensor: the same value for {quality['stuck_hours']}+ hours in a row"),
        ("spike", f"spike: more than {quality['spike_factor']}x the sensor's median"),
    ]:
        cleaned.flag(frame["flag"] == flag, reason=reason + " (reading kept, flagged, not used)",
                     record_id="reading_id", fld="value")
    columns = ["sensor_id", "parameter", "unit", "observed_at", "value", "flag", "_delivery", "_row"]
    cleaned.frame = frame[columns]
    return cleaned


def _flags(frame: pd.DataFrame, quality: dict) -> pd.Series:
    """One flag per reading; the order of the rules decides which flag wins."""
    value = frame["value"].astype("float64")
    low = frame["parameter"].map({p: r[0] for p, r in quality["valid_range"].items()}).astype(float)
    high = frame["parameter"].map({p: r[1] for p, r in quality["valid_range"].items()}).astype(float)
    group = [frame["sensor_id"], frame["parameter"]]
    # A run = consecutive readings with the same value; its length is counted per sensor and parameter.
    changed = (value != value.groupby(group).shift()) | value.isna()
    run_id = changed.cumsum()
    run_length = value.groupby(run_id).transform("size")
    median = value.groupby(group).transform("median")
    flag = np.select(
        [value.isna(), (value < low) | (value > high), run_length >= quality["stuck_hours"],
         (value > quality["spike_factor"] * median) & (value > high / 10)],
        ["missing", "out_of_range", "stuck", "spike"],
        default="ok",
    )
    return pd.Series(flag, index=frame.index, dtype="string")


def find_gaps(readings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
              min_hours: int) -> list[dict]:
    """Runs of at least `min_hours` hours in [start, end) with no reading of a sensor's parameter."""
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    entries = []
    for (sensor, parameter), group in readings.groupby(["sensor_id", "parameter"], sort=True):
        seen = pd.DatetimeIndex(group["observed_at"]).floor("h")
        missing = hours[~hours.isin(seen)]
        if missing.empty:
            continue
        run_ids = (missing.to_series().diff() != pd.Timedelta(hours=1)).cumsum()
        for _, run in missing.to_series().groupby(run_ids.to_numpy()):
            if len(run) >= min_hours:
                first, last = run.iloc[0], run.iloc[-1]
                entries.append({
                    "delivery": None, "row": None, "record_id": f"{sensor}/{parameter}", "field": "observed_at",
                    "reason": f"gap: no readings from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
                              f"({len(run)} hours)",
                    "action": "flagged", "record": {"sensor_id": sensor, "parameter": parameter},
                })
    return entries
