"""File connectors (sources/files.py): every format read from files written here, text kept as delivered,
boundaries in EPSG:4326, and the same areas whatever the boundary format."""

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from bienestar import warehouse
from cities import City
from sources.files import DeliveryError, detect_delimiter, file_sha256, land, read_delivery
from transforms.areas import areas_from_boundaries

# Three zones in two districts, lon/lat: Z1 and Z2 in D1, Z3 in D2; Z4 (D2) has no geometry.
ZONES = [
    ("Z1", "Zona Uno", "D1", "Distrito Uno", shapely.box(-68.2, -16.6, -68.1, -16.5)),
    ("Z2", "Zona Dos", "D1", "Distrito Uno", shapely.box(-68.1, -16.6, -68.0, -16.5)),
    ("Z3", "Zona Tres", "D2", "Distrito Dos", shapely.box(-68.0, -16.6, -67.9, -16.5)),
]
CITY = City(name="test_city", folder=Path("."), config={"levels": [
    {"id": "zona", "code": "zona", "name": "nombre"},
    {"id": "distrito", "code": "distrito", "name": "dnombre"},
]})


def zones_frame(crs: int = 4326) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        [{"zona": z, "nombre": n, "distrito": d, "dnombre": dn} for z, n, d, dn, _ in ZONES],
        geometry=[g for *_, g in ZONES], crs=4326,
    )
    return frame.to_crs(crs) if crs != 4326 else frame


def normalised(wkt_values) -> list[str]:
    """WKT with ring orientation and start vertex made canonical (Shapefile stores rings clockwise)."""
    return [shapely.to_wkt(shapely.normalize(shapely.from_wkt(w)), rounding_precision=6) for w in wkt_values]


def write_topojson(path: Path, *, with_empty: bool = True, extra_object: bool = False) -> None:
    """The three zones as a quantized TopoJSON (shared edges as shared arcs), by hand.

    Quantized x runs 0..300 and y 0..100 with scale 0.001 and translate (-68.2, -16.6): x = -68.2 + 0.001 q.
    Arcs are delta-encoded: the first position absolute, then differences.
    """
    arcs = [
        [[100, 0], [0, 100]],                           # 0: edge Z1|Z2, (100,0) -> (100,100)
        [[100, 100], [-100, 0], [0, -100], [100, 0]],   # 1: rest of Z1, (100,100) -> (0,100) -> (0,0) -> (100,0)
        [[100, 0], [100, 0]],                           # 2: bottom of Z2, (100,0) -> (200,0)
        [[200, 0], [0, 100]],                           # 3: edge Z2|Z3, (200,0) -> (200,100)
        [[200, 100], [-100, 0]],                        # 4: top of Z2, (200,100) -> (100,100)
        [[200, 0], [100, 0], [0, 100], [-100, 0]],      # 5: rest of Z3, (200,0) -> (300,0) -> (300,100) -> (200,100)
    ]
    rings = {"Z1": [[1, 0]], "Z2": [[~0, 2, 3, 4]], "Z3": [[~3, 5]]}
    geometries = [{"type": "Polygon", "arcs": rings[z],
                   "properties": {"zona": z, "nombre": n, "distrito": d, "dnombre": dn}}
                  for z, n, d, dn, _ in ZONES]
    if with_empty:
        geometries.append({"type": None, "properties": {"zona": "Z4", "nombre": "Zona Cuatro", "distrito": "D2",
                                                        "dnombre": "Distrito Dos"}})
    objects = {"zones": {"type": "GeometryCollection", "geometries": geometries}}
    if extra_object:
        objects["edges"] = {"type": "GeometryCollection", "geometries": [{"type": "LineString", "arcs": [0]}]}
    topology = {"type": "Topology", "transform": {"scale": [0.001, 0.001], "translate": [-68.2, -16.6]},
                "objects": objects, "arcs": arcs}
    path.write_text(json.dumps(topology), encoding="utf-8")


def write_zipped_shapefile(folder: Path, frame: gpd.GeoDataFrame, *, name: str = "zones", prj: bool = True) -> Path:
    """A Shapefile and its sidecars written by GDAL, zipped flat (as agencies deliver them)."""
    shapes = folder / f"{name}_parts"
    shapes.mkdir()
    frame.to_file(shapes / f"{name}.shp")
    if not prj:
        (shapes / f"{name}.prj").unlink()
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in sorted(shapes.iterdir()):
            zf.write(part, part.name)
    return archive


# ---------------------------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------------------------

def test_latin1_csv_with_semicolons_and_decimal_commas_is_read_as_delivered(tmp_path):
    path = tmp_path / "tabla.csv"
    path.write_bytes("código;municipio;valor\n020101;Nuestra Señora de La Paz;12,5\n020105;El Alto;\n"
                     .encode("latin-1"))
    frame = read_delivery(path)
    assert list(frame.columns) == ["_row", "código", "municipio", "valor"]
    assert frame["municipio"].tolist() == ["Nuestra Señora de La Paz", "El Alto"]
    assert frame["valor"].tolist()[0] == "12,5"  # raw keeps the decimal comma; contracts type it
    assert pd.isna(frame["valor"].iloc[1])
    assert frame["código"].tolist() == ["020101", "020105"]  # codes stay text: leading zero kept
    assert frame["_row"].tolist() == [1, 2]
    declared = read_delivery(path, encoding="latin-1", delimiter=";")
    pd.testing.assert_frame_equal(frame, declared)


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "código,nombre\n1,Peñas\n".encode())
    for encoding in (None, "utf-8", "utf-8-sig"):
        frame = read_delivery(path, encoding=encoding)
        assert list(frame.columns) == ["_row", "código", "nombre"]
        assert frame["nombre"].iloc[0] == "Peñas"


def test_declaring_utf8_for_a_latin1_file_names_file_line_and_the_fix(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,nombre\n1,La Paz\n2,Potosí\n".encode("latin-1"))
    with pytest.raises(DeliveryError) as err:
        read_delivery(path, encoding="utf-8")
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "0xed" in message
    assert "declare `encoding: cp1252`" in message and "Nothing was loaded" in message


def test_declaring_latin1_for_a_utf8_file_is_refused_instead_of_garbling_it(tmp_path):
    path = tmp_path / "utf8.csv"
    path.write_text("id,nombre\n1,Nuestra Señora de La Paz\n", encoding="utf-8")
    with pytest.raises(DeliveryError) as err:
        read_delivery(path, encoding="latin-1")
    message = str(err.value)
    assert "the file is UTF-8" in message and "SeÃ±ora" in message and "encoding: utf-8" in message


def test_unknown_encoding_name_is_a_clear_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DeliveryError, match="unknown encoding 'latin-9000'"):
        read_delivery(path, encoding="latin-9000")


@pytest.mark.parametrize(("text", "expected"), [
    ("a,b,c\n1,2,3\n", ","),
    ("a;b;c\n1,5;2,5;3\n", ";"),            # decimal commas do not fool it: only ';' splits rows evenly
    ("a\tb\n1\t2\n", "\t"),
    ("a|b\n1|2\n", "|"),
    ('a,b\n"x, y",2\n', ","),               # a quoted delimiter is not a split
    ("solo\n1\n2\n", ","),                  # one column: nothing to detect, comma
])
def test_delimiter_detection(text, expected):
    assert detect_delimiter(text) == expected


def test_declared_delimiter_wins_over_detection(tmp_path):
    path = tmp_path / "pipes.txt"
    path.write_text("a|b|c;d\n1|2|3;4\n", encoding="utf-8")
    assert list(read_delivery(path, delimiter=";").columns) == ["_row", "a|b|c", "d"]
    assert list(read_delivery(path).columns) == ["_row", "a", "b", "c;d"]  # detected: '|' splits in 3, ';' in 2


def test_a_csv_with_an_uneven_row_names_the_file(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(DeliveryError, match=r"broken\.csv: cannot be read as csv: .*line 3"):
        read_delivery(path, delimiter=",")


# ---------------------------------------------------------------------------------------------------------------
# Parquet, XLSX, JSON, choosing the reader
# ---------------------------------------------------------------------------------------------------------------

def test_parquet_values_become_text(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"code": ["020101", None], "count": pd.array([7, None], dtype="Int64"), "rate": [12.5, 0.25],
                  "ok": [True, False]}).to_parquet(path)
    frame = read_delivery(path)
    assert frame["code"].tolist()[0] == "020101" and pd.isna(frame["code"].iloc[1])
    assert frame["count"].tolist()[0] == "7" and pd.isna(frame["count"].iloc[1])
    assert frame["rate"].tolist() == ["12.5", "0.25"]
    assert frame["ok"].tolist() == ["True", "False"]
    assert str(frame["rate"].dtype) == "string"


def test_geoparquet_geometry_becomes_wkt_in_lonlat(tmp_path):
    path = tmp_path / "zones.parquet"
    zones_frame(crs=32719).to_parquet(path)
    frame = read_delivery(path)
    original = [shapely.to_wkt(g, rounding_precision=6) for *_, g in ZONES]
    got = shapely.from_wkt(frame["geometry_wkt"].tolist())
    assert all(shapely.equals_exact(a, shapely.from_wkt(b), tolerance=1e-6) for a, b in zip(got, original, strict=True))


def write_workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notas"
    notes.append(["Fuente: INE"])
    data = book.create_sheet("Datos")
    data.append(["codigo", "valor", "personas", "vacio"])
    data.append(["020101", "12,5", 757431, None])
    data.append(["020105", 36.5, 885825, None])
    book.save(path)


def test_xlsx_sheet_named_or_first(tmp_path):
    path = tmp_path / "libro.xlsx"
    write_workbook(path)
    frame = read_delivery(path, sheet="Datos")
    assert frame["codigo"].tolist() == ["020101", "020105"]     # text cells keep their leading zero
    assert frame["valor"].tolist() == ["12,5", "36.5"]           # a text cell as typed, a number cell as a number
    assert frame["personas"].tolist() == ["757431", "885825"]
    assert frame["vacio"].isna().all()
    first = read_delivery(path)
    assert list(first.columns) == ["_row", "Fuente: INE"]


def test_xlsx_unknown_sheet_lists_the_sheets(tmp_path):
    path = tmp_path / "libro.xlsx"
    write_workbook(path)
    with pytest.raises(DeliveryError, match=r"libro\.xlsx: no sheet 'Hoja1'; the file has Notas, Datos"):
        read_delivery(path, sheet="Hoja1")


def test_json_records_and_reader_choice(tmp_path):
    path = tmp_path / "readings.json"
    path.write_text(json.dumps([{"sensor_id": "S1", "value": 12.5}, {"sensor_id": "S2", "value": None}]))
    frame = read_delivery(path)
    assert frame["value"].tolist()[0] == "12.5" and pd.isna(frame["value"].iloc[1])
    odd = tmp_path / "table.dat"
    odd.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(DeliveryError, match="cannot tell the format"):
        read_delivery(odd)
    assert read_delivery(odd, format="csv")["b"].tolist() == ["2"]
    with pytest.raises(DeliveryError, match="unknown format 'dbf'"):
        read_delivery(odd, format="dbf")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DeliveryError, match="nowhere.csv: delivery not found"):
        read_delivery(tmp_path / "nowhere.csv")


# ---------------------------------------------------------------------------------------------------------------
# Boundaries
# ---------------------------------------------------------------------------------------------------------------

def test_geojson_keeps_features_without_geometry_and_reprojects_a_stated_crs(tmp_path):
    features = [{"type": "Feature", "id": z, "properties": {"zona": z, "members": [1, 2]},
                 "geometry": shapely.geometry.mapping(g)} for z, _, _, _, g in ZONES]
    features.append({"type": "Feature", "properties": {"zona": "Z4", "members": []}, "geometry": None})
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    frame = read_delivery(path)
    assert frame["zona"].tolist() == ["Z1", "Z2", "Z3", "Z4"]
    assert frame["_row"].tolist() == [1, 2, 3, 4]
    assert pd.isna(frame["geometry_wkt"].iloc[3])
    assert frame["members"].iloc[0] == "[1, 2]"        # lists as JSON text
    assert frame["id"].tolist()[:3] == ["Z1", "Z2", "Z3"]

    projected = zones_frame(crs=32719)
    legacy = json.loads(projected.to_json())
    legacy["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32719"}}
    path.write_text(json.dumps(legacy))
    back = shapely.from_wkt(read_delivery(path)["geometry_wkt"].tolist())
    assert all(shapely.equals_exact(b, g, tolerance=1e-6) for b, (*_, g) in zip(back, ZONES, strict=True))


def test_topojson_decodes_shared_quantized_arcs_like_gdal(tmp_path):
    path = tmp_path / "zones.topojson"
    write_topojson(path)
    frame = read_delivery(path)
    assert frame["zona"].tolist() == ["Z1", "Z2", "Z3", "Z4"]
    assert frame["geometry_wkt"].isna().tolist() == [False, False, False, True]  # kept, to be counted
    expected = normalised(shapely.to_wkt(g) for *_, g in ZONES)
    assert normalised(frame["geometry_wkt"].iloc[:3]) == expected
    gdal = gpd.read_file(path)  # GDAL drops the feature without geometry; its polygons must equal ours
    assert gdal["zona"].tolist() == ["Z1", "Z2", "Z3"]
    assert normalised(gdal.geometry.to_wkt()) == expected


def test_topojson_object_named_or_the_only_one(tmp_path):
    path = tmp_path / "two.topo.json"
    write_topojson(path, extra_object=True)
    with pytest.raises(DeliveryError, match=r"2 objects \(zones, edges\); name the one to read"):
        read_delivery(path)
    assert read_delivery(path, layer="edges")["geometry_wkt"].iloc[0] == "LINESTRING (-68.1 -16.6, -68.1 -16.5)"
    with pytest.raises(DeliveryError, match="no object 'mun'; the file has zones, edges"):
        read_delivery(path, layer="mun")


def test_zipped_shapefile_is_read_through_vsizip_and_reprojected(tmp_path):
    archive = write_zipped_shapefile(tmp_path, zones_frame(crs=32719))
    frame = read_delivery(archive)
    assert frame["zona"].tolist() == ["Z1", "Z2", "Z3"]
    back = shapely.from_wkt(frame["geometry_wkt"].tolist())
    assert all(shapely.equals_exact(shapely.normalize(b), shapely.normalize(g), tolerance=1e-6)
               for b, (*_, g) in zip(back, ZONES, strict=True))


def test_zip_with_several_shapefiles_needs_the_layer_named_and_a_loose_shp_reads_too(tmp_path):
    archive = write_zipped_shapefile(tmp_path, zones_frame(crs=32719))
    with zipfile.ZipFile(archive, "a") as zf:
        for part in sorted((tmp_path / "zones_parts").iterdir()):
            zf.write(part, "otras" + part.suffix)
    with pytest.raises(DeliveryError, match=r"zones\.zip: 2 layers \(otras, zones\); name the one to read"):
        read_delivery(archive)
    assert read_delivery(archive, layer="otras")["zona"].tolist() == ["Z1", "Z2", "Z3"]
    loose = read_delivery(tmp_path / "zones_parts" / "zones.shp")
    assert normalised(loose["geometry_wkt"]) == normalised(read_delivery(archive, layer="zones")["geometry_wkt"])


def test_file_without_crs_is_taken_as_lonlat_unless_its_coordinates_say_otherwise(tmp_path):
    lonlat = write_zipped_shapefile(tmp_path, zones_frame(), name="lonlat", prj=False)
    assert normalised(read_delivery(lonlat)["geometry_wkt"]) == normalised(shapely.to_wkt(g) for *_, g in ZONES)
    metres = write_zipped_shapefile(tmp_path, zones_frame(crs=32719), name="metres", prj=False)
    with pytest.raises(DeliveryError, match=r"metres\.zip: the file states no CRS, so lon/lat \(EPSG:4326\) is "
                                            r"assumed, but its coordinates span"):
        read_delivery(metres)


def test_geopackage_layer_named_or_the_only_one(tmp_path):
    path = tmp_path / "areas.gpkg"
    zones_frame().to_file(path, layer="zonas")
    assert read_delivery(path)["zona"].tolist() == ["Z1", "Z2", "Z3"]
    zones_frame(crs=32719).iloc[:1].to_file(path, layer="otra")
    with pytest.raises(DeliveryError, match=r"2 layers \(.*\); name the one to read"):
        read_delivery(path)
    assert read_delivery(path, layer="otra")["zona"].tolist() == ["Z1"]


def test_every_boundary_format_gives_the_same_areas(tmp_path):
    frame = zones_frame()
    (tmp_path / "zones.geojson").write_text(frame.to_json())
    write_topojson(tmp_path / "zones.topojson", with_empty=False)
    write_zipped_shapefile(tmp_path, frame)
    frame.to_file(tmp_path / "zones.gpkg", layer="zones")
    zones_frame(crs=32719).to_parquet(tmp_path / "zones.parquet")
    results = {}
    for name in ("zones.geojson", "zones.topojson", "zones.zip", "zones.gpkg", "zones.parquet"):
        areas = areas_from_boundaries(CITY, read_delivery(tmp_path / name))
        results[name] = areas.assign(geometry_wkt=normalised(areas["geometry_wkt"]))
    reference = results.pop("zones.geojson")
    assert reference["area_id"].tolist() == ["Z1", "Z2", "Z3", "D1", "D2"]
    assert reference["parent_id"].tolist()[:3] == ["D1", "D1", "D2"]
    for name, areas in results.items():
        pd.testing.assert_frame_equal(areas, reference, obj=name)


# ---------------------------------------------------------------------------------------------------------------
# Landing into raw
# ---------------------------------------------------------------------------------------------------------------

def test_land_writes_lineage_and_replaces_its_partition(tmp_path):
    landing = tmp_path / "landing"
    (landing / "census").mkdir(parents=True)
    path = landing / "census" / "tabla.csv"
    path.write_bytes("codigo;valor\n020101;12,5\n020105;36\n".encode("latin-1"))
    database = tmp_path / "w.duckdb"
    arguments = dict(city="c", landing=landing, relative="census/tabla.csv", source="census/tabla", table="raw.tabla",
                     loaded_for="2024", required=["codigo", "valor"], read_options={"encoding": "latin-1"})
    with warehouse.session(database) as con:
        assert land(con, **arguments) == 2
        assert land(con, **arguments) == 2  # a rerun replaces, never duplicates
        rows = con.execute("SELECT * FROM raw.tabla ORDER BY _row").df()
    assert len(rows) == 2
    assert rows["valor"].tolist() == ["12,5", "36"]
    assert set(rows["_sha256"]) == {file_sha256(path)}
    assert set(rows["_delivery"]) == {"census/tabla.csv"} and set(rows["_loaded_for"]) == {"2024"}
    assert rows["_row"].tolist() == [1, 2]


def test_land_writes_nothing_when_the_check_fails(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "t.csv").write_text("codigo\n020101\n", encoding="utf-8")

    def refuse(frame, where):
        raise DeliveryError(f"{where}: refused with {len(frame)} row(s)")

    with warehouse.session(tmp_path / "w.duckdb") as con:
        with pytest.raises(DeliveryError, match=r"t\.csv: refused with 1 row"):
            land(con, city="c", landing=landing, relative="t.csv", source="t", table="raw.t", loaded_for="2024",
                 required=["codigo"], check=refuse)
        with pytest.raises(DeliveryError, match="missing field"):
            land(con, city="c", landing=landing, relative="t.csv", source="t", table="raw.t", loaded_for="2024",
                 required=["codigo", "valor"])
        assert not warehouse.table_exists(con, "raw.t")


def test_text_columns_convert_whole_and_other_columns_cell_by_cell():
    """_as_text: a column of text and gaps becomes nullable text as it is; numbers, lists and mixed columns keep
    their per-cell form (a float as Python writes it, a list as JSON)."""
    import numpy as np

    from sources.files import _as_text

    frame = pd.DataFrame({"text": ["a", None, "", np.nan, "1,5"], "number": [1.5, 2.0, np.nan, 10.25, -0.0],
                          "mixed": ["x", 3, None, 2.5, [1, "b"]], "gaps": [None, np.nan, None, None, None]})
    out = _as_text(frame)
    assert all(str(out[c].dtype) == "string" for c in out.columns)
    rows = [[None if v is pd.NA else v for v in row] for row in out.astype(object).itertuples(index=False)]
    assert rows == [["a", "1.5", "x", None], [None, "2.0", "3", None], ["", None, None, None],
                    [None, "10.25", "2.5", None], ["1,5", "-0.0", '[1, "b"]', None]]
