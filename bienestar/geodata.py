"""The areas as files a GIS opens: `areas.gpkg` (GeoPackage) and `areas.parquet` (GeoParquet).

The published snapshot holds each area's polygon only as WKT text (`marts.areas.geometry_wkt`, EPSG:4326), and
QGIS, ArcGIS or a web map cannot open a DuckDB file without a plugin or read a WKT column without help. So the
areas are also written as the two formats GIS tools open directly:

- `areas.gpkg`: one layer per level, named by the level (the sample city: `zona`, `distrito`, `macrodistrito`),
  smallest level first;
- `areas.parquet`: all levels in one table, told apart by `level` (GeoParquet: geopandas, R, DuckDB, and GIS tools
  whose GDAL has Parquet support).

Both carry area_id, name, level, depth, parent_id and population beside the geometry, in EPSG:4326, rows ordered
by depth and area_id. A layer mixing Polygons and MultiPolygons is written as MultiPolygon, since a GeoPackage
layer declares one geometry type.

An area without a polygon (a city delivering census tables whose boundary file lacks one of the areas: its
`geometry_wkt` is NULL, see `transforms.census_tables`) keeps its row with a NULL geometry: its name and
population still belong in the planner's table, QGIS lists it without drawing it, and an empty polygon would
claim that the area was drawn and has no extent.

Geometries are checked, not repaired: the boundary gate (`transforms.boundaries`) rejects invalid delivered
polygons, so an invalid one here was made so later, e.g. by storing a parent (the union of its members) as WKT
with 7 decimals (`transforms.areas`), which once collapsed a ring of the sample city's MD04; a repair here could
change the area's shape behind the snapshot's back.
Each file is written under a temporary name in the output folder and moved into place with an atomic rename,
so a reader sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

CRS = "EPSG:4326"
COLUMNS = ["area_id", "name", "level", "depth", "parent_id", "population"]


class GeometryError(ValueError):
    """An area's geometry that cannot be published; the message names the area."""


def write_area_files(snapshot: Path, out_dir: Path) -> list[Path]:
    """Write `areas.gpkg` and `areas.parquet` into `out_dir` from the snapshot's `marts.areas`; return their paths.

    The snapshot is opened read-only. Both files are written before either replaces its predecessor, so a bad
    geometry or a full disk leaves the previous pair untouched.
    """
    areas = read_areas(snapshot)
    if areas.empty:  # nothing to draw (a snapshot without areas): no files, rather than files without layers
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    gpkg, parquet = out_dir / "areas.gpkg", out_dir / "areas.parquet"
    gpkg_tmp, parquet_tmp = out_dir / ".incoming-areas.gpkg", out_dir / ".incoming-areas.parquet"
    try:
        gpkg_tmp.unlink(missing_ok=True)  # left by a crash: GDAL would add layers to it rather than start afresh
        for level in areas.sort_values("depth")["level"].unique():
            layer = areas[areas["level"] == level].reset_index(drop=True)
            pyogrio.write_dataframe(layer, gpkg_tmp, layer=str(level), driver="GPKG")
        areas.to_parquet(parquet_tmp, index=False)
    except BaseException:
        gpkg_tmp.unlink(missing_ok=True)
        parquet_tmp.unlink(missing_ok=True)
        raise
    os.replace(gpkg_tmp, gpkg)
    os.replace(parquet_tmp, parquet)
    return [gpkg, parquet]


def read_areas(snapshot: Path) -> gpd.GeoDataFrame:
    """`marts.areas` of a snapshot as a GeoDataFrame in EPSG:4326; GeometryError names an unusable polygon."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        frame = con.execute(f"SELECT {', '.join(COLUMNS)}, geometry_wkt FROM marts.areas "
                            "ORDER BY depth, area_id").df()
    geometries = [_geometry(area_id, wkt) for area_id, wkt in zip(frame["area_id"], frame["geometry_wkt"],
                                                                   strict=True)]
    return gpd.GeoDataFrame(frame[COLUMNS], geometry=geometries, crs=CRS)


def _geometry(area_id: str, wkt: str | None) -> shapely.Geometry | None:
    """The area's polygon, None without one; an unreadable, non-polygonal or invalid one raises GeometryError."""
    if pd.isna(wkt):
        return None
    try:
        geometry = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise GeometryError(f"area {area_id}: unreadable geometry_wkt ({exc})") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"area {area_id}: a {geometry.geom_type}, not a polygon")
    if not geometry.is_valid:
        raise GeometryError(f"area {area_id}: invalid polygon ({shapely.is_valid_reason(geometry)}) in "
                            "marts.areas; not repaired here: find what made it invalid after the boundary gate")
    return geometry
