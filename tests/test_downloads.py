"""reports/downloads.py on a small snapshot planted here with the contract's tables and columns: every file, its
rows by hand, no withheld figure anywhere, the data package, the same bytes twice."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
import struct
import tempfile
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pyogrio
import pytest

from bienestar.contract import TABLES
from bienestar.views import create_views
from cities import load_city
from reports.downloads import WithheldFigureError, list_downloads, write_downloads
from tests.configs import city_with

CITY = "la_paz_demo"          # the sample city: its config gives the title and the CC-BY-4.0 default
WITHHELD = 0.123456           # Z2's real overcrowding share in 2024: withheld, so it must appear nowhere
OTHER = 0.777777              # the other city's only value: it must not leak into la_paz_demo's files
FILES = ["indicators.csv", "index.csv", "index.xlsx", "areas.gpkg", "areas.parquet", "datapackage.json"]

TYPES = {  # docs/marts.md
    "areas": "VARCHAR VARCHAR VARCHAR BIGINT VARCHAR VARCHAR BIGINT VARCHAR",
    "area_population": "VARCHAR VARCHAR VARCHAR BIGINT",
    "levels": "VARCHAR VARCHAR BIGINT VARCHAR VARCHAR",
    "indicator_catalogue": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR BIGINT VARCHAR VARCHAR VARCHAR "
                           "VARCHAR BIGINT BOOLEAN BOOLEAN BOOLEAN",
    "dimensions": "VARCHAR VARCHAR VARCHAR VARCHAR BIGINT BOOLEAN",
    "indicator_values": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR DATE DATE DOUBLE DOUBLE DOUBLE BOOLEAN VARCHAR "
                        "VARCHAR DOUBLE DOUBLE",
    "index_scores": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR DOUBLE BIGINT BIGINT BIGINT",
    "index_weights": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR DOUBLE DOUBLE DOUBLE VARCHAR",
    "index_uncertainty": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR BIGINT DOUBLE DOUBLE DOUBLE",
    "publication": "VARCHAR TIMESTAMP VARCHAR VARCHAR VARCHAR BIGINT VARCHAR",
    "sources": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR BIGINT TIMESTAMP",
}


def box(x: float) -> str:
    return f"POLYGON (({x} -16.51, {x + 0.01} -16.51, {x + 0.01} -16.5, {x} -16.5, {x} -16.51))"


CENSUS_2024, CENSUS_2012, JUNE = ("DATE '2024-03-23'", "DATE '2024-03-23'"), ("DATE '2012-11-21'",) * 2, (
    "DATE '2024-06-01'", "DATE '2024-06-30'")
ROWS = {
    "areas": [
        (CITY, "Z1", "zona", 0, "Sopocachi", "D1", 1200, box(-68.13)),
        (CITY, "Z2", "zona", 0, "San Jorge", "D1", 800, box(-68.12)),
        (CITY, "Z3", "zona", 0, "Obrajes", "D1", None, box(-68.11)),
        (CITY, "D1", "distrito", 1, "Centro", None, 2000,
         "POLYGON ((-68.13 -16.51, -68.1 -16.51, -68.1 -16.5, -68.13 -16.5, -68.13 -16.51))"),
        ("otra", "X1", "zona", 0, "Otra zona", None, 50, box(-70.0)),
    ],
    "area_population": [(CITY, "Z1", "2024", 1200), (CITY, "Z2", "2024", 800), (CITY, "D1", "2024", 2000)],
    "levels": [(CITY, "zona", 0, "Zona", "Zone"), (CITY, "distrito", 1, "Distrito", "District"),
               ("otra", "zona", 0, "Zona", "Zone")],
    "indicator_catalogue": [
        (CITY, "overcrowding", "Hacinamiento", "Overcrowding", "persons per bedroom above 3", "housing", "share", -1,
         "persons in crowded homes", "persons", "census", "the census day", 20, False, False, True),
        (CITY, "pm25", "PM2,5 medio", "Mean PM2.5", "mean of daily means", "environment", "µg/m³", -1, None, None,
         "sensors", "the days of readings", 0, False, False, False),
        ("otra", "overcrowding", "Hacinamiento", "Overcrowding", "", "housing", "share", -1, "", "", "census",
         "the census day", 20, False, False, True),
    ],
    "dimensions": [(CITY, "services", "Servicios", "Services", 0, True), (CITY, "housing", "Vivienda", "Housing", 1,
                                                                          True),
                   (CITY, "environment", "Medio ambiente", "Environment", 2, False)],
    # city, area, level, indicator, period, start, end, value, numerator, denominator, suppressed, why, note, moe
    "indicator_values": [
        (CITY, "Z1", "zona", "overcrowding", "2024", *CENSUS_2024, 0.25, 25.0, 100.0, False, None, None, 0.1754,
         0.343),
        (CITY, "Z2", "zona", "overcrowding", "2024", *CENSUS_2024, None, None, None, True, "primary",
         "suppressed: too few cases", None, None),
        (CITY, "Z3", "zona", "overcrowding", "2024", *CENSUS_2024, None, 0.0, 0.0, False, None,
         "no one to measure: the denominator is zero", None, None),
        (CITY, "Z1", "zona", "pm25", "2024", *JUNE, 31.41592653589793, None, None, False, None, None, None, None),
        (CITY, "D1", "distrito", "overcrowding", "2024", *CENSUS_2024, None, None, None, True, "secondary",
         "suppressed so that another suppressed figure cannot be worked out", None, None),
        (CITY, "Z1", "zona", "overcrowding", "2012", *CENSUS_2012, 1 / 3, 10.0, 30.0, False, None, None, 0.19, 0.51),
        ("otra", "X1", "zona", "overcrowding", "2024", *CENSUS_2024, OTHER, 7.0, 9.0, False, None, None, None, None),
    ],
    # city, area, level, index, period, node, score, rank, quantile, suppressed_inputs
    "index_scores": [
        (CITY, "Z1", "zona", "wb", "2024", "wb", 80.5, 1, 1, 0), (CITY, "Z1", "zona", "wb", "2024", "housing", 90.0, 1,
                                                                   None, 0),
        (CITY, "Z1", "zona", "wb", "2024", "services", 71.0, 1, None, 0),
        (CITY, "Z2", "zona", "wb", "2024", "wb", 60.25, 2, 2, 1),
        (CITY, "Z2", "zona", "wb", "2024", "housing", 50.5, 2, None, 1),
        (CITY, "Z2", "zona", "wb", "2024", "services", 70.0, 2, None, 0),
        (CITY, "Z3", "zona", "wb", "2024", "wb", None, None, None, 0),
        (CITY, "Z3", "zona", "wb", "2024", "housing", 40.0, 3, None, 0),
        (CITY, "D1", "distrito", "wb", "2024", "wb", 70.0, 1, 1, 1),
        (CITY, "D1", "distrito", "wb", "2024", "housing", 70.0, 1, None, 1),
        (CITY, "D1", "distrito", "wb", "2024", "services", 70.0, 1, None, 0),
        (CITY, "Z1", "zona", "wb", "2012", "wb", 50.0, 2, 2, 0),
        (CITY, "Z2", "zona", "wb", "2012", "wb", 55.0, 1, 1, 0),
        (CITY, "Z3", "zona", "wb", "2012", "wb", None, None, None, 0),
        ("otra", "X1", "zona", "wb", "2024", "wb", 42.0, 1, 1, 0),
    ],
    "index_weights": [(CITY, "wb", p, "wb", d, 0.5, 1.0, 0.5, "full") for p in ("2012", "2024")
                      for d in ("housing", "services")],
    # Z1: band 1.0..1.6 -> ranks 1..2, quintile 1 or 2 of 2 quantiles over 2 ranked zones; Z2: 2..2, quantile 2 only
    "index_uncertainty": [(CITY, "Z1", "zona", "wb", "2024", 1, 1.0, 1.0, 1.6),
                          (CITY, "Z2", "zona", "wb", "2024", 2, 2.0, 2.0, 2.0)],
    "publication": [(CITY, "TIMESTAMP '2024-07-01 12:34:56.789'", "manual__1", "0.1.0", "abc", 3, "f00d"),
                    ("otra", "TIMESTAMP '2024-07-02 00:00:00'", "manual__2", "0.1.0", "abc", 3, "f00d")],
    "sources": [(CITY, "census/households", "census/households.csv", "a" * 64, "2024", 100,
                 "TIMESTAMP '2024-06-30 10:00:00'"),
                (CITY, "services/health_visits", "services/health_visits_2024-06.csv", "b" * 64, "2024-06", 50, None),
                ("otra", "census/households", "census/households.csv", "c" * 64, "2024", 9, None)],
}


def _sql(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str) and re.match(r"(DATE|TIMESTAMP) '", value):
        return value
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def make_snapshot(path: Path) -> Path:
    """The planted snapshot, with the planners' views as publication writes them."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS snapshot")
    con.execute("CREATE SCHEMA snapshot.marts")
    for table, types in TYPES.items():
        columns = list(TABLES[table].columns)
        con.execute(f"CREATE TABLE snapshot.marts.{table} ("
                    + ", ".join(f'"{c}" {t}' for c, t in zip(columns, types.split(), strict=True)) + ")")
        for row in ROWS[table]:
            con.execute(f"INSERT INTO snapshot.marts.{table} VALUES ({', '.join(map(_sql, row))})")
    create_views(con)
    con.close()
    return path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    return make_snapshot(tmp_path_factory.mktemp("snap") / "current.duckdb")


@pytest.fixture(scope="module")
def out(snapshot, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "downloads"
    assert write_downloads(snapshot, folder, city=CITY, period="2024") == [folder / f for f in FILES]
    return folder


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def contents(path: Path) -> list[bytes]:
    """The file's bytes, with what a byte search cannot see decoded: the workbook's zip members, the GeoPackage's
    and the Parquet file's values."""
    found = [path.read_bytes()]
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            found += [z.read(name) for name in z.namelist()]
    if path.suffix == ".gpkg":
        with sqlite3.connect(path) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                found.append(repr(db.execute(f'SELECT * FROM "{table}"').fetchall()).encode())
    if path.suffix == ".parquet":
        found.append(repr(pq.read_table(path).to_pylist()).encode())
    return found


def assert_nowhere(folder: Path, value: float) -> None:
    needles = [repr(value).encode(), repr(value)[1:].encode(), struct.pack("<d", value), struct.pack(">d", value)]
    for path in folder.iterdir():
        for blob in contents(path):
            assert not any(n in blob for n in needles), f"{value} found in {path.name}"


def test_every_file_and_nothing_else(out):
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no staging folder left behind
    assert [(d.path, d.bytes) for d in list_downloads(out)] == [(f, (out / f).stat().st_size) for f in FILES]
    assert all(d.title and d.format for d in list_downloads(out))
    assert list_downloads(out.parent / "nothing-here") == []


def test_indicators_csv_holds_the_published_rows_as_they_are(out):
    """Full precision, ISO dates, withheld cells empty with their reason; areas by level, then id and indicator."""
    z1 = [CITY, "Z1", "Sopocachi", "zona"]
    share, census = ["overcrowding", "Hacinamiento", "Overcrowding", "share", "2024"], ["2024-03-23", "2024-03-23"]
    assert read_csv(out / "indicators.csv") == [
        ["city", "area_id", "area_name", "level", "indicator_id", "indicator_name_es", "indicator_name_en", "unit",
         "period", "period_start", "period_end", "value", "moe_low", "moe_high", "numerator", "denominator",
         "suppressed", "suppression", "note"],
        [*z1, *share, *census, "0.25", "0.1754", "0.343", "25.0", "100.0", "false", "", ""],
        [*z1, "pm25", "PM2,5 medio", "Mean PM2.5", "µg/m³", "2024", "2024-06-01", "2024-06-30",
         "31.41592653589793", "", "", "", "", "false", "", ""],
        [CITY, "Z2", "San Jorge", "zona", *share, *census, "", "", "", "", "", "true", "primary",
         "suppressed: too few cases"],
        [CITY, "Z3", "Obrajes", "zona", *share, *census, "", "", "", "0.0", "0.0", "false", "",
         "no one to measure: the denominator is zero"],
        [CITY, "D1", "Centro", "distrito", *share, *census, "", "", "", "", "", "true", "secondary",
         "suppressed so that another suppressed figure cannot be worked out"],
    ]
    assert (out / "indicators.csv").read_bytes().count(b"\r") == 0


def test_index_csv_ranks_bands_and_dimensions_in_display_order(out):
    """Z1: band 1.0..1.6 -> ranks 1..2, ceil(1*2/2) = 1 <> ceil(2*2/2) = 2: uncertain; Z2: 2..2, certain; Z3 and D1
    have no band. Services comes before housing (display_order 0 and 1)."""
    assert read_csv(out / "index.csv") == [
        ["area_id", "name", "level", "period", "score", "rank", "rank_best", "rank_worst", "quantile",
         "quantile_uncertain", "suppressed_inputs", "score_services", "score_housing"],
        ["Z1", "Sopocachi", "zona", "2024", "80.5", "1", "1", "2", "1", "true", "0", "71.0", "90.0"],
        ["Z2", "San Jorge", "zona", "2024", "60.25", "2", "2", "2", "2", "false", "1", "70.0", "50.5"],
        ["Z3", "Obrajes", "zona", "2024", "", "", "", "", "", "", "0", "", "40.0"],
        ["D1", "Centro", "distrito", "2024", "70.0", "1", "", "", "1", "", "1", "70.0", "70.0"],
    ]


def test_xlsx_has_a_sheet_per_level_with_numbers_and_the_metadata(out):
    book = openpyxl.load_workbook(out / "index.xlsx")
    assert book.sheetnames == ["zona", "distrito", "metadata"]
    zona = book["zona"]
    rows = list(zona.iter_rows(values_only=True))
    assert list(rows[0]) == read_csv(out / "index.csv")[0]
    assert rows[1] == ("Z1", "Sopocachi", "zona", "2024", 80.5, 1, 1, 2, 1, True, 0, 71.0, 90.0)
    assert rows[3][4] is None and len(rows) == 4
    assert zona.freeze_panes == "A2" and zona["A1"].font.b
    assert zona.column_dimensions["B"].width == len("Sopocachi") + 2
    assert [r[0] for r in book["distrito"].iter_rows(min_row=2, values_only=True)] == ["D1"]
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(values_only=True) if r and r[0]}
    assert meta["title"] == f"{load_city(CITY).display_name} — 2024"
    assert meta["licence"].startswith("CC-BY-4.0 ")
    assert meta["census/households.csv"] == "census/households"  # the sources
    assert meta["score_housing"] == "number"                     # the columns


def test_datapackage_describes_every_file_and_names_licence_and_sources(out):
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"[-a-z0-9._/]+", package["name"]) and package["profile"] == "data-package"
    assert package["title"] == f"{load_city(CITY).display_name} — 2024"
    assert package["created"] == "2024-07-01T12:34:56.789000Z" and package["periods"] == ["2024"]
    assert package["licenses"] == [{"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
                                    "path": "https://creativecommons.org/licenses/by/4.0/"}]
    assert [(s["title"], s["sha256"], s["period"]) for s in package["sources"]] == [
        ("census/households.csv", "a" * 64, "2024"), ("services/health_visits_2024-06.csv", "b" * 64, "2024-06")]
    assert [r["path"] for r in package["resources"]] == FILES[:-1]
    names = [r["name"] for r in package["resources"]]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[-a-z0-9._/]+", n) for n in names)
    for resource in package["resources"]:
        content = (out / resource["path"]).read_bytes()
        assert resource["bytes"] == len(content)
        assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
        assert resource["title"] and resource["format"] and resource["mediatype"]
        for field in resource["schema"]["fields"]:
            assert field["type"] in {"string", "number", "integer", "boolean", "date", "datetime", "any"}
            assert field["description"], (resource["path"], field["name"])
        if resource["format"] == "csv":
            assert resource["profile"] == "tabular-data-resource" and resource["encoding"] == "utf-8"
            header = read_csv(out / resource["path"])[0]
            assert header == [f["name"] for f in resource["schema"]["fields"]]
    indicators, index = package["resources"][0], package["resources"][1]
    fields = {f["name"]: f for f in indicators["schema"]["fields"]}
    assert fields["value"]["description"] == TABLES["indicator_values"].columns["value"]
    assert fields["period_start"]["type"] == "date" and fields["suppressed"]["type"] == "boolean"
    assert fields["unit"]["constraints"]["enum"] == ["share", "µg/m³"]
    assert {i["indicator_id"]: i["unit"] for i in indicators["indicators"]} == {"overcrowding": "share",
                                                                              "pm25": "µg/m³"}
    scores = {f["name"]: f for f in index["schema"]["fields"]}
    assert scores["score_housing"]["unit"] == "score 0-100" and "Vivienda / Housing" in scores["score_housing"][
        "description"]
    assert scores["rank"]["type"] == "integer" and scores["quantile_uncertain"]["type"] == "boolean"


def test_no_withheld_figure_other_city_or_absolute_path_in_any_file(out):
    assert_nowhere(out, WITHHELD)
    assert_nowhere(out, OTHER)
    for path in out.iterdir():
        for blob in contents(path):
            for text in (str(out.parent), tempfile.gettempdir() + "/bienestar-downloads", "Otra zona", "otra"):
                assert text.encode() not in blob, f"{text} in {path.name}"
    assert [layer[0] for layer in pyogrio.list_layers(out / "areas.gpkg")] == ["zona", "distrito"]
    ids = pyogrio.read_dataframe(out / "areas.gpkg", layer="zona")["area_id"].tolist()
    assert ids == ["Z1", "Z2", "Z3"]


def test_a_withheld_cell_carrying_its_figure_is_refused_and_nothing_written(snapshot, tmp_path):
    leaky = tmp_path / "leaky.duckdb"
    leaky.write_bytes(snapshot.read_bytes())
    with duckdb.connect(str(leaky)) as con:
        con.execute(f"UPDATE marts.indicator_values SET value = {WITHHELD} WHERE area_id = 'Z2' AND period = '2024'")
    with pytest.raises(WithheldFigureError, match="Z2 overcrowding 2024"):
        write_downloads(leaky, tmp_path / "out", city=CITY, period="2024")
    assert not (tmp_path / "out").exists()


def test_same_snapshot_same_bytes_and_dates_set_to_publication(snapshot, out, tmp_path):
    """The workbook and the GeoPackage embed dates: they carry published_at, so every file is the same twice."""
    with duckdb.connect(str(snapshot), read_only=True):  # a reader holds it open: writing opens it read-only too
        before = hashlib.sha256(snapshot.read_bytes()).hexdigest()
        again = write_downloads(snapshot, tmp_path / "elsewhere", city=CITY, period="2024")
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == before
    for path in again:
        assert path.read_bytes() == (out / path.name).read_bytes(), path.name
    with zipfile.ZipFile(out / "index.xlsx") as z:
        assert {info.date_time for info in z.infolist()} == {(2024, 7, 1, 12, 34, 56)}
        assert b"<dcterms:modified" in z.read("docProps/core.xml") and b"2024-07-01T12:34:56Z" in z.read(
            "docProps/core.xml")
    with sqlite3.connect(out / "areas.gpkg") as db:
        assert {r[0] for r in db.execute("SELECT last_change FROM gpkg_contents")} == {"2024-07-01T12:34:56Z"}


def test_every_period(snapshot, tmp_path):
    """Both census years, each area's periods side by side; the title lists them."""
    write_downloads(snapshot, tmp_path, city=CITY)
    rows = read_csv(tmp_path / "indicators.csv")
    assert [(r[1], r[4], r[8], r[11]) for r in rows[1:3]] == [("Z1", "overcrowding", "2012", "0.3333333333333333"),
                                                               ("Z1", "overcrowding", "2024", "0.25")]
    index = [(r[0], r[3], r[5]) for r in read_csv(tmp_path / "index.csv")[1:]]
    assert index == [("Z2", "2012", "1"), ("Z1", "2012", "2"), ("Z3", "2012", ""), ("Z1", "2024", "1"),
                     ("Z2", "2024", "2"), ("Z3", "2024", ""), ("D1", "2024", "1")]
    package = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    assert package["title"].endswith(" — 2012, 2024") and package["periods"] == ["2012", "2024"]


def test_unknown_period_city_or_licence(snapshot, tmp_path):
    with pytest.raises(ValueError, match="available: 2012, 2024"):
        write_downloads(snapshot, tmp_path / "a", city=CITY, period="2019")
    with pytest.raises(ValueError, match="holds: la_paz_demo, otra"):
        write_downloads(snapshot, tmp_path / "b", city="el_alto", licence="CC0-1.0")
    with pytest.raises(ValueError, match="no licence for city 'otra'"):  # real data without stated terms
        write_downloads(snapshot, tmp_path / "c", city="otra")
    assert not any((tmp_path / d).exists() for d in "abc")


def test_another_city_of_the_snapshot_with_its_licence(snapshot, tmp_path):
    write_downloads(snapshot, tmp_path, city="otra", licence="ODbL-1.0", title="Otra ciudad 2024")
    package = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    assert package["title"] == "Otra ciudad 2024" and package["licenses"][0]["name"] == "ODbL-1.0"
    assert [r[1] for r in read_csv(tmp_path / "indicators.csv")[1:]] == ["X1"]
    assert [r[0] for r in read_csv(tmp_path / "index.csv")[1:]] == ["X1"]
    assert [s["sha256"] for s in package["sources"]] == ["c" * 64]
    blob = b"".join(b for p in tmp_path.iterdir() for b in contents(p))
    assert not any(text in blob for text in (b"Sopocachi", b"Centro", b"a" * 64, b"manual__1"))


def test_licence_and_citation_from_the_city_config(snapshot, tmp_path, monkeypatch):
    """A real city's config states its licence and how its data's owner asks to be cited (`report:`)."""

    other = city_with("otra", tmp_path, display_name="Otra ciudad", demo=False,
                      report={"licence": "CC0-1.0", "citation": "Fuente: INE, Censo 2024."})
    monkeypatch.setattr("reports.downloads._city_config", lambda city: other)
    write_downloads(snapshot, tmp_path / "out", city="otra", period="2024")
    package = json.loads((tmp_path / "out" / "datapackage.json").read_text(encoding="utf-8"))
    assert package["title"] == "Otra ciudad — 2024" and package["citation"] == "Fuente: INE, Censo 2024."
    assert package["licenses"][0]["path"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    meta = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "out" / "index.xlsx")["metadata"].iter_rows(
        values_only=True) if r and r[0]}
    assert meta["citation"] == "Fuente: INE, Censo 2024." and meta["licence"].startswith("CC0-1.0 ")
