"""The areas as GIS files (bienestar/geodata.py): a GeoPackage layer per level and one GeoParquet, from a small
snapshot built here."""

from __future__ import annotations

from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from bienestar.geodata import GeometryError, write_area_files

# Two levels: Z1 and Z2 lie apart, so their district D1 is a MultiPolygon; Z3 has no population, Z4 no polygon.
AREAS = [
    # area_id, level, depth, name, parent_id, population, geometry_wkt
    ("Z1", "zone", 0, "Sopocachi", "D1", 1200, "POLYGON ((-68.13 -16.51, -68.12 -16.51, -68.12 -16.50, "
                                                "-68.13 -16.50, -68.13 -16.51))"),
    ("Z2", "zone", 0, "San Jorge", "D1", 800, "POLYGON ((-68.10 -16.51, -68.09 -16.51, -68.09 -16.50, "
                                              "-68.10 -16.51))"),
    ("Z3", "zone", 0, "Obrajes", "D2", None, "POLYGON ((-68.08 -16.53, -68.07 -16.53, -68.07 -16.52, "
                                             "-68.08 -16.52, -68.08 -16.53))"),
    ("Z4", "zone", 0, "Sin mapa", "D2", 50, None),
    ("D1", "district", 1, "Distrito 1", None, 2000,
     "MULTIPOLYGON (((-68.13 -16.51, -68.12 -16.51, -68.12 -16.50, -68.13 -16.50, -68.13 -16.51)), "
     "((-68.10 -16.51, -68.09 -16.51, -68.09 -16.50, -68.10 -16.51)))"),
    ("D2", "district", 1, "Distrito 2", None, 50, "POLYGON ((-68.08 -16.53, -68.07 -16.53, -68.07 -16.52, "
                                                  "-68.08 -16.52, -68.08 -16.53))"),
]
BOW_TIE = "POLYGON ((-68.13 -16.51, -68.12 -16.50, -68.12 -16.51, -68.13 -16.50, -68.13 -16.51))"


def make_snapshot(path: Path, rows: list[tuple] = AREAS) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.areas (city VARCHAR, area_id VARCHAR, level VARCHAR, depth INTEGER, "
                    "name VARCHAR, parent_id VARCHAR, population BIGINT, geometry_wkt VARCHAR)")
        con.executemany("INSERT INTO marts.areas VALUES ('la_paz_demo', ?, ?, ?, ?, ?, ?, ?)", rows)
    return path


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return make_snapshot(tmp_path / "current.duckdb")


def expected(level: str) -> dict[str, tuple]:
    return {row[0]: row for row in AREAS if row[1] == level}


def test_geopackage_has_a_layer_per_level_smallest_first(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    assert write_area_files(snapshot, out) == [out / "areas.gpkg", out / "areas.parquet"]
    layers = pyogrio.list_layers(out / "areas.gpkg")
    # every zone is a Polygon; the districts mix Polygon and MultiPolygon, so their layer is MultiPolygon
    assert [list(layer) for layer in layers] == [["zone", "Polygon"], ["district", "MultiPolygon"]]
    for level in ("zone", "district"):
        frame = gpd.read_file(out / "areas.gpkg", layer=level)
        rows = expected(level)
        assert list(frame["area_id"]) == sorted(rows)
        assert frame.crs.to_epsg() == 4326
        assert list(frame.columns) == ["area_id", "name", "level", "depth", "parent_id", "population", "geometry"]
        for record in frame.itertuples():
            area_id, _, depth, name, parent_id, population, wkt = rows[record.area_id]
            assert (record.level, record.depth, record.name) == (level, depth, name)
            assert record.parent_id == parent_id
            assert record.population == population if population is not None else pd.isna(record.population)
            if wkt is None:
                assert record.geometry is None
            else:
                assert record.geometry.is_valid and record.geometry.equals(shapely.from_wkt(wkt)), area_id


def test_geoparquet_has_every_level_with_exact_geometries(snapshot: Path, tmp_path: Path) -> None:
    write_area_files(snapshot, tmp_path)
    frame = gpd.read_parquet(tmp_path / "areas.parquet")
    assert list(frame["area_id"]) == ["Z1", "Z2", "Z3", "Z4", "D1", "D2"]  # by depth, then area_id
    assert list(frame["level"]) == ["zone"] * 4 + ["district"] * 2
    assert frame.crs.to_epsg() == 4326
    by_id = frame.set_index("area_id")
    assert by_id["population"].isna().tolist() == [row[5] is None for row in AREAS]  # Z3: NULL, not 0
    assert by_id.loc["D1", "geometry"].geom_type == "MultiPolygon"
    for area_id, *_, wkt in AREAS:
        geometry = by_id.loc[area_id, "geometry"]
        if wkt is None:
            assert geometry is None  # kept as a row, without a polygon
        else:
            assert geometry.is_valid and geometry.equals_exact(shapely.from_wkt(wkt), 0), area_id


def test_rerun_gives_the_same_files(snapshot: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_area_files(snapshot, first)
    write_area_files(snapshot, second)
    assert (first / "areas.parquet").read_bytes() == (second / "areas.parquet").read_bytes()
    for level in ("zone", "district"):  # a GeoPackage records when it was written: compare the contents
        a = gpd.read_file(first / "areas.gpkg", layer=level)
        b = gpd.read_file(second / "areas.gpkg", layer=level)
        assert_geodataframe_equal(a, b)


def test_rewriting_replaces_the_files_and_leaves_the_snapshot_alone(snapshot: Path, tmp_path: Path) -> None:
    before = snapshot.read_bytes()
    out = tmp_path / "published"
    write_area_files(snapshot, out)
    changed = make_snapshot(tmp_path / "changed.duckdb", AREAS[:3] + AREAS[4:5])
    write_area_files(changed, out)
    assert snapshot.read_bytes() == before
    assert [list(layer) for layer in pyogrio.list_layers(out / "areas.gpkg")] == [["zone", "Polygon"],
                                                                                    ["district", "MultiPolygon"]]
    assert list(gpd.read_file(out / "areas.gpkg", layer="district")["area_id"]) == ["D1"]
    assert list(gpd.read_parquet(out / "areas.parquet")["area_id"]) == ["Z1", "Z2", "Z3", "D1"]
    assert sorted(p.name for p in out.iterdir()) == ["areas.gpkg", "areas.parquet"]


@pytest.mark.parametrize("wkt, problem", [
    (BOW_TIE, "invalid polygon (Self-intersection"),
    ("POINT (-68.1 -16.5)", "a Point, not a polygon"),
    ("POLYGON ((-68.1 -16.5, -68.2", "unreadable geometry_wkt"),
], ids=["bow tie", "point", "unreadable"])
def test_a_bad_geometry_names_the_area_and_keeps_the_old_files(tmp_path: Path, wkt: str, problem: str) -> None:
    out = tmp_path / "published"
    write_area_files(make_snapshot(tmp_path / "good.duckdb"), out)
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = [row[:6] + (wkt,) if row[0] == "Z2" else row for row in AREAS]
    with pytest.raises(GeometryError, match=rf"area Z2: {problem}".replace("(", r"\(")):
        write_area_files(make_snapshot(tmp_path / "bad.duckdb", bad), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old
