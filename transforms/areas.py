"""Areas: the city's nested levels (from its boundary file) and point-in-area placement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from cities import City

GRID = 1e-7  # degrees: the precision of stored area polygons (marts.areas.geometry_wkt)


def areas_from_boundaries(city: City, raw: pd.DataFrame) -> pd.DataFrame:
    """All areas of all levels from the smallest-level boundary features.

    The smallest level comes straight from the features; each larger level is the union of its members, so the
    levels nest exactly and a parent can never disagree with its children. Coordinates are snapped to a 1e-7
    degree grid (about 1 cm) keeping every polygon valid: rounding a union's text instead could collapse a thin
    ring into an invalid polygon (the sample city's MD04 once did), which GIS tools and the area files refuse.
    """
    levels = city.levels
    rows = []
    geoms = shapely.from_wkt(raw["geometry_wkt"].to_numpy(dtype=object))
    for depth, level in enumerate(levels):
        parent = levels[depth + 1] if depth + 1 < len(levels) else None
        frame = pd.DataFrame({
            "area_id": raw[level["code"]].astype(str),
            "name": raw[level["name"]].astype(str),
            "parent_id": raw[parent["code"]].astype(str) if parent else None,
            "geometry": geoms,
        })
        grouped = frame.groupby("area_id", sort=True)
        for area_id, members in grouped:
            geometry = members["geometry"].iloc[0] if depth == 0 else shapely.union_all(members["geometry"].to_numpy())
            geometry = shapely.set_precision(geometry, GRID)
            rows.append({
                "area_id": area_id,
                "level": level["id"],
                "depth": depth,
                "name": members["name"].iloc[0],
                "parent_id": members["parent_id"].iloc[0] if parent else None,
                "geometry_wkt": shapely.to_wkt(geometry, rounding_precision=7),
            })
    return pd.DataFrame(rows)


def place_points(lon: pd.Series, lat: pd.Series, areas: pd.DataFrame) -> pd.Series:
    """The smallest area holding each point, or NA (missing coordinates or outside every area).

    The reference implementation (shapely STRtree); the pipeline uses `transforms.point_index.place_points_fast`,
    which gives the same answers about ten times faster (tests/test_sensor_readings.py compares them).

    Points on a shared border belong to the area with the smallest id, so every point gets exactly one area.
    """
    smallest = areas[areas["depth"] == 0].sort_values("area_id").reset_index(drop=True)
    polygons = shapely.from_wkt(smallest["geometry_wkt"].to_numpy(dtype=object))
    x = pd.to_numeric(lon, errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(lat, errors="coerce").to_numpy(dtype=float)
    result = np.full(len(x), -1, dtype=np.int64)
    valid = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
    if len(valid):
        points = shapely.points(x[valid], y[valid])
        tree = shapely.STRtree(polygons)
        point_idx, area_idx = tree.query(points, predicate="intersects")
        # The first hit per point after sorting by area order is the smallest id.
        order = np.lexsort((area_idx, point_idx))
        point_idx, area_idx = point_idx[order], area_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        result[valid[point_idx[first]]] = area_idx[first]
    ids = smallest["area_id"].to_numpy(dtype=object)
    if not len(ids):  # no areas: nothing is placed
        return pd.Series(pd.NA, index=lon.index, dtype="string")
    placed = np.where(result >= 0, ids[np.clip(result, 0, None)], None)
    return pd.Series(placed, index=lon.index, dtype="string")


def area_parents(areas: pd.DataFrame) -> pd.DataFrame:
    """One row per smallest area with its ancestor at every level, for rolling counts up."""
    parent = dict(zip(areas["area_id"], areas["parent_id"], strict=True))
    level_of = dict(zip(areas["area_id"], areas["level"], strict=True))
    rows = []
    for area_id in areas.loc[areas["depth"] == 0, "area_id"]:
        node = area_id
        while node is not None and not pd.isna(node):
            rows.append({"base_id": area_id, "area_id": node, "level": level_of[node]})
            node = parent.get(node)
    return pd.DataFrame(rows)
