"""Sensor stations into staging, placed in their smallest area.

Readings are staged in DuckDB SQL by `transforms/sensor_readings.py` (flags, gaps, units, quarantine).
"""

from __future__ import annotations

import pandas as pd

from transforms.point_index import place_points_fast


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
    frame["area_id"] = place_points_fast(frame["lon"], frame["lat"], areas)
    return frame.sort_values("sensor_id").reset_index(drop=True)
