"""The downloads beside the analysts' report: the published figures of one city as files, described by a Frictionless
Data Package (https://specs.frictionlessdata.io/data-package/).

    indicators.csv     one row per area, indicator and period, as marts.indicator_values publishes it
    index.csv          the index per area and period (marts.v_index), with every dimension's score
    index.xlsx         the same table, a sheet per level, and a `metadata` sheet
    areas.gpkg         the areas, a layer per level (bienestar.geodata), with areas.parquet beside it
    datapackage.json   what every file holds: title, licence, sources, every column's meaning, type and unit

Everything comes from the published snapshot, opened read-only: a withheld cell stays empty in every file, and no
figure is recomputed (a snapshot that carries a figure for a withheld cell is refused, not cleaned up). The folder
is zipped and shared, so every path in it is relative. The same snapshot gives the same bytes: the CSVs and the
JSON by construction, the workbook and the GeoPackage because their embedded dates are set to the snapshot's
`published_at` (zip member dates and document properties; GDAL's OGR_CURRENT_DATE for the GeoPackage).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bienestar.contract import TABLES

DEMO_LICENCE = "CC-BY-4.0"  # the sample city's data are synthetic: shared under the most common open licence
LICENCES = {  # SPDX id -> (title, where to read it)
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International", "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution-ShareAlike 4.0 International",
                     "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License v1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
}
CSV_DIALECT = {"delimiter": ",", "lineTerminator": "\n", "quoteChar": '"', "doubleQuote": True, "header": True}
FIELD_TYPES = {"VARCHAR": "string", "DOUBLE": "number", "FLOAT": "number", "BIGINT": "integer", "INTEGER": "integer",
               "SMALLINT": "integer", "HUGEINT": "integer", "BOOLEAN": "boolean", "DATE": "date",
               "TIMESTAMP": "datetime"}
SCORE_UNIT = "score 0-100"
META_SHEET = "metadata"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

VALUES, AREAS, CATALOGUE, SCORES = (TABLES[t].columns for t in ("indicator_values", "areas", "indicator_catalogue",
                                                                 "index_scores"))
INDICATOR_COLUMNS = {  # indicators.csv: column -> meaning
    "city": VALUES["city"], "area_id": VALUES["area_id"], "area_name": AREAS["name"], "level": VALUES["level"],
    "indicator_id": VALUES["indicator_id"],
    "indicator_name_es": "the indicator's name in Spanish (marts.indicator_catalogue)",
    "indicator_name_en": "the indicator's name in English (marts.indicator_catalogue)",
    "unit": CATALOGUE["unit"] + ": the unit of value, moe_low and moe_high",
    **{c: VALUES[c] for c in ("period", "period_start", "period_end", "value", "moe_low", "moe_high", "numerator",
                              "denominator", "suppressed", "suppression", "note")}}
INDEX_COLUMNS = {  # index.csv before the dimension scores: column -> meaning
    "area_id": AREAS["area_id"], "name": AREAS["name"], "level": AREAS["level"], "period": SCORES["period"],
    "score": "the composite index: " + SCORES["score"], "rank": SCORES["rank"],
    "rank_best": "best rank of the area's band: floor of the 5th percentile rank over the index's uncertainty "
                 "alternatives (marts.index_uncertainty); empty without a band",
    "rank_worst": "worst rank of the band: ceiling of the 95th percentile rank",
    "quantile": SCORES["quantile"],
    "quantile_uncertain": "true when the band's two ends fall in different quantiles: the quantile depends on "
                          "methodological choices",
    "suppressed_inputs": SCORES["suppressed_inputs"]}
AREA_FIELDS = [("area_id", "string"), ("name", "string"), ("level", "string"), ("depth", "integer"),
               ("parent_id", "string"), ("population", "integer")]  # bienestar.geodata.COLUMNS, typed


class WithheldFigureError(ValueError):
    """The snapshot carries a figure for a cell that disclosure control withholds: nothing is written."""


@dataclass(frozen=True)
class Download:
    """One file of the downloads, for a link in the report."""

    path: str       # relative to the report folder, as a link's href
    title: str      # "Spanish / English"
    format: str     # csv, xlsx, gpkg, parquet, json
    mediatype: str
    bytes: int


@dataclass
class _Table:
    columns: list[str]
    types: list[str]
    rows: list[tuple]


def write_downloads(snapshot: Path, out_dir: Path, *, city: str, period: str | None = None,
                    index_id: str | None = None, title: str | None = None,
                    licence: str | dict | None = None) -> list[Path]:
    """Write the downloads of `city` (one census `period`, or every period) into `out_dir`; return their paths.

    `licence` is an SPDX id (`CC-BY-4.0`) or a Frictionless licence ({name, path, title}); without it, the city
    config's `licence:`, and for the sample city CC-BY-4.0. `index_id` is needed only when the city has several
    indices. Each file is moved into `out_dir` once all are written.
    """
    snapshot, out_dir = Path(snapshot), Path(out_dir)
    config = _city_config(city)
    licences = [_licence(city, licence, config)]
    with tempfile.TemporaryDirectory(prefix="bienestar-downloads-") as scratch:
        areas_db = Path(scratch) / "areas.duckdb"
        data = _read_snapshot(snapshot, city, period, index_id, areas_db)
        title = title or f"{config.display_name if config else city} — {period or ', '.join(data['periods'])}"
        out_dir.mkdir(parents=True, exist_ok=True)  # only now: a refused snapshot leaves no folder behind
        staging = Path(tempfile.mkdtemp(prefix=".incoming-downloads-", dir=out_dir))
        try:
            written = _write_all(data, staging, areas_db, title=title, licences=licences, period=period,
                                 citation=_citation(config))
            for name in written:
                os.replace(staging / name, out_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in written]


def list_downloads(out_dir: Path) -> list[Download]:
    """The files described by `out_dir`/datapackage.json (itself last), with their sizes; [] without one."""
    package_path = Path(out_dir) / "datapackage.json"
    if not package_path.is_file():
        return []
    package = json.loads(package_path.read_text(encoding="utf-8"))
    found = [Download(r["path"], r["title"], r["format"], r["mediatype"], (Path(out_dir) / r["path"]).stat().st_size)
             for r in package["resources"]]
    return [*found, Download("datapackage.json", "Metadatos (Frictionless Data Package) / Metadata", "json",
                             "application/json", package_path.stat().st_size)]


def _city_config(city: str):
    """The city's config when cities/<city>/city.yaml exists (a snapshot may hold a city configured elsewhere)."""
    from cities import city_folder, load_city

    return load_city(city) if (city_folder(city) / "city.yaml").exists() else None


def _licence(city: str, given: str | dict | None, config) -> dict:
    """The Frictionless licence: given, the city config's, or CC-BY-4.0 for the sample city; never guessed for
    real data, whose terms are the data owner's to state."""
    stated = config.settings.report.licence if config else None
    chosen = given or stated or (DEMO_LICENCE if config and config.demo else None)
    if not chosen:
        raise ValueError(f"no licence for city {city!r}: say under which terms its figures may be shared "
                         f"(`report: licence:` in cities/{city}/city.yaml, e.g. CC-BY-4.0, or licence=...)")
    if isinstance(chosen, dict):
        if not (chosen.get("name") or chosen.get("path")):
            raise ValueError(f"licence {chosen!r}: give a name (SPDX id) or a path (URL)")
        return dict(chosen)
    known = LICENCES.get(str(chosen))
    return {"name": str(chosen), **({"title": known[0], "path": known[1]} if known else {})}


def _citation(config) -> str | None:
    """How the data's owner asks to be cited (`report: citation:` in city.yaml), None when it does not say."""
    return (config.settings.report.citation if config else None) or None


def _read_snapshot(snapshot: Path, city: str, period: str | None, index_id: str | None,
                   areas_db: Path) -> dict[str, Any]:
    """Everything the files need, read in one read-only connection; the city's areas copied into `areas_db` for
    bienestar.geodata (which reads every city of a snapshot)."""
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        cities = sorted({r[0] for r in con.execute("SELECT city FROM marts.indicator_values UNION "
                                                   "SELECT city FROM marts.index_scores").fetchall()})
        if city not in cities:
            raise ValueError(f"city {city!r} is not in {snapshot.name}; it holds: {', '.join(cities) or 'none'}")
        periods = [r[0] for r in con.execute(
            "SELECT period FROM marts.indicator_values WHERE city = $c UNION SELECT period FROM marts.index_scores "
            "WHERE city = $c ORDER BY 1", {"c": city}).fetchall()]
        if period is not None and period not in periods:
            raise ValueError(f"period {period!r} is not published for {city}; available: {', '.join(periods)}")
        publication = _records(con, "SELECT * FROM marts.publication WHERE city = $c ORDER BY published_at DESC "
                                    "LIMIT 1", {"c": city})
        if not publication:
            raise ValueError(f"{snapshot.name} has no marts.publication row for {city}: not a published snapshot")
        params = {"c": city, **({"p": period} if period else {})}
        in_period = " AND v.period = $p" if period else ""
        _refuse_withheld_figures(con, city, in_period, params)
        indicators = _query(con, f"""
            SELECT v.city, v.area_id, a.name AS area_name, v.level, v.indicator_id, c.name_es AS indicator_name_es,
                   c.name_en AS indicator_name_en, c.unit, v.period, v.period_start, v.period_end, v.value,
                   v.moe_low, v.moe_high, v.numerator, v.denominator, v.suppressed, v.suppression, v.note
            FROM marts.indicator_values v
            LEFT JOIN marts.areas a ON a.city = v.city AND a.area_id = v.area_id
            LEFT JOIN marts.indicator_catalogue c ON c.city = v.city AND c.indicator_id = v.indicator_id
            WHERE v.city = $c{in_period}
            ORDER BY a.depth NULLS LAST, v.level, v.area_id, v.indicator_id, v.period""", params)
        catalogue = _records(con, "SELECT indicator_id, name_es, name_en, unit, direction, dimension, definition, "
                                  "numerator, denominator, time_basis, source FROM marts.indicator_catalogue "
                                  "WHERE city = $c ORDER BY indicator_id", {"c": city})
        dimensions = _records(con, "SELECT dimension_id, name_es, name_en FROM marts.dimensions WHERE city = $c "
                                   "ORDER BY display_order, dimension_id", {"c": city})
        levels = [r[0] for r in con.execute("SELECT level FROM marts.areas WHERE city = $c GROUP BY level "
                                            "ORDER BY min(depth), level", {"c": city}).fetchall()]
        index_id = _index_id(con, city, index_id)
        index = _read_index(con, city, index_id, period, dimensions) if index_id else None
        sources = _records(con, "SELECT delivery, source, period, rows, sha256, received_at FROM marts.sources "
                                "WHERE city = $c ORDER BY source, period, delivery", {"c": city})
        areas = con.sql("SELECT * FROM marts.areas WHERE city = $c ORDER BY depth, area_id",
                        params={"c": city}).to_arrow_table()
    with duckdb.connect(str(areas_db)) as extract:  # the snapshot's connection is read-only, so is what it attaches
        extract.execute("CREATE SCHEMA marts")
        extract.register("city_areas", areas)
        extract.execute("CREATE TABLE marts.areas AS SELECT * FROM city_areas")
    return {"city": city, "periods": periods, "publication": publication[0], "indicators": indicators,
            "catalogue": catalogue, "dimensions": dimensions, "levels": levels, "index_id": index_id,
            "index": index, "sources": sources}


def _refuse_withheld_figures(con, city: str, in_period: str, params: dict) -> None:
    """A withheld cell must carry no figure (docs/marts.md): one that does is a fault upstream, and copying it
    here would publish what disclosure control withheld."""
    leaks = con.execute(f"""SELECT v.area_id, v.indicator_id, v.period FROM marts.indicator_values v
        WHERE v.city = $c{in_period} AND v.suppressed AND (v.value IS NOT NULL OR v.numerator IS NOT NULL
            OR v.denominator IS NOT NULL OR v.moe_low IS NOT NULL OR v.moe_high IS NOT NULL)
        ORDER BY ALL""", params).fetchall()
    if leaks:
        cells = ", ".join(f"{a} {i} {p}" for a, i, p in leaks[:10])
        raise WithheldFigureError(f"marts.indicator_values of {city} has {len(leaks)} withheld cell(s) that still "
                                  f"carry a value, numerator, denominator or margin ({cells}); nothing written: "
                                  "the snapshot breaks its contract, republish it")


def _index_id(con, city: str, wanted: str | None) -> str | None:
    """The index to write: `wanted`, or the city's only one (None when the city has no index)."""
    found = [r[0] for r in con.execute("SELECT DISTINCT index_id FROM marts.index_scores WHERE city = $c ORDER BY 1",
                                       {"c": city}).fetchall()]
    if wanted is not None and wanted not in found:
        raise ValueError(f"index {wanted!r} is not published for {city}; available: {', '.join(found) or 'none'}")
    if wanted is None and len(found) > 1:
        raise ValueError(f"{city} has several indices ({', '.join(found)}): pass index_id")
    return wanted or (found[0] if found else None)


def _read_index(con, city: str, index_id: str, period: str | None, dimensions: list[dict]) -> _Table:
    """marts.v_index with the areas' names, the dimension scores in display order."""
    present = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = "
                                         "current_database() AND schema_name = 'marts' AND table_name = 'v_index' "
                                         "ORDER BY column_index").fetchall()]
    if not present:
        raise ValueError("the snapshot has no marts.v_index (bienestar/views.py writes it at publication)")
    scored = [c for c in present if c.startswith("score_")]
    ordered = [f"score_{_column_name(d['dimension_id'])}" for d in dimensions]
    scored = [c for c in ordered if c in scored] + sorted(c for c in scored if c not in ordered)
    base = [c for c in INDEX_COLUMNS if c not in ("name",)]
    select = ", ".join(["i.area_id", "a.name", *(f'i."{c}"' for c in base[1:]), *(f'i."{c}"' for c in scored)])
    return _query(con, f"""SELECT {select} FROM marts.v_index i
        LEFT JOIN marts.areas a ON a.city = i.city AND a.area_id = i.area_id
        WHERE i.city = $c AND i.index_id = $i{" AND i.period = $p" if period else ""}
        ORDER BY a.depth NULLS LAST, i.level, i.period, i.rank NULLS LAST, i.area_id""",
                  {"c": city, "i": index_id, **({"p": period} if period else {})})


def _column_name(dimension_id: str) -> str:
    """A dimension's score column in marts.v_index, as bienestar.views names it."""
    return re.sub(r"[^a-z0-9_]", "_", str(dimension_id).lower())


def _query(con, sql: str, params: dict) -> _Table:
    cursor = con.execute(sql, params)
    return _Table([d[0] for d in cursor.description], [FIELD_TYPES.get(str(d[1]), "string")
                                                         for d in cursor.description], cursor.fetchall())


def _records(con, sql: str, params: dict) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _write_all(data: dict, folder: Path, areas_db: Path, *, title: str, licences: list[dict],
               period: str | None, citation: str | None) -> list[str]:
    """Every file into `folder`, the data package last; their names."""
    published_at = data["publication"]["published_at"]
    _write_csv(folder / "indicators.csv", data["indicators"])
    resources = [_indicators_resource(data)]
    if data["index"] is not None:
        _write_csv(folder / "index.csv", data["index"])
        resources.append(_index_resource(data, "index.csv"))
        resources.append(_index_resource(data, "index.xlsx"))
    areas = _write_areas(areas_db, folder, published_at)
    resources += [_areas_resource(data, name) for name in areas]
    package = _package(data, resources, title=title, licences=licences, period=period, citation=citation)
    if data["index"] is not None:
        _write_xlsx(folder / "index.xlsx", data, package)
    for resource in package["resources"]:  # sizes and hashes once every file is final
        content = (folder / resource["path"]).read_bytes()
        resource["bytes"], resource["hash"] = len(content), "sha256:" + hashlib.sha256(content).hexdigest()
    (folder / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8", newline="\n")
    return [r["path"] for r in package["resources"]] + ["datapackage.json"]


def _csv_text(value: Any) -> str:
    """A cell as Table Schema reads it: empty for NULL, full precision (shortest exact repr), ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return ("INF" if value > 0 else "-INF") if math.isinf(value) else repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, table: _Table) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator=CSV_DIALECT["lineTerminator"])
        writer.writerow(table.columns)
        writer.writerows([_csv_text(v) for v in row] for row in table.rows)


def _write_areas(areas_db: Path, folder: Path, published_at: datetime) -> list[str]:
    """areas.gpkg and areas.parquet by bienestar.geodata, the GeoPackage dated `published_at` (GDAL stamps each
    layer with the current time otherwise)."""
    import pyogrio

    from bienestar.geodata import write_area_files

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": published_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    try:
        return [p.name for p in write_area_files(areas_db, folder)]
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def _field(name: str, kind: str, description: str, unit: str | None = None, **more: Any) -> dict:
    return {"name": name, "type": kind, "description": description, **({"unit": unit} if unit else {}), **more}


def _indicators_resource(data: dict) -> dict:
    table = data["indicators"]
    units = sorted({r["unit"] for r in data["catalogue"] if r["unit"]})
    fields = [_field(c, t, INDICATOR_COLUMNS[c]) for c, t in zip(table.columns, table.types, strict=True)]
    for f in fields:
        if f["name"] == "unit" and units:
            f["constraints"] = {"enum": units}
        if f["name"] == "suppression":
            f["constraints"] = {"enum": ["primary", "sensitive", "secondary"]}
    return {"name": "indicators", "path": "indicators.csv", "profile": "tabular-data-resource",
            "title": "Indicadores por área / Indicators by area",
            "description": "One row per area, indicator and period as the snapshot publishes it "
                           "(marts.indicator_values). A withheld cell (suppressed = true) has no value, numerator, "
                           "denominator or margin: disclosure control (docs/privacy.md). `indicators` lists each "
                           "indicator's unit and definition.",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8", "dialect": CSV_DIALECT,
            "schema": {"fields": fields, "missingValues": [""],
                       "primaryKey": ["city", "area_id", "indicator_id", "period"]},
            "indicators": data["catalogue"]}


def _index_fields(data: dict) -> list[dict]:
    table = data["index"]
    names = {f"score_{_column_name(d['dimension_id'])}": d for d in data["dimensions"]}
    fields = []
    for column, kind in zip(table.columns, table.types, strict=True):
        if column in INDEX_COLUMNS:
            meaning = INDEX_COLUMNS[column]
        else:
            d = names.get(column, {"dimension_id": column[len("score_"):], "name_en": column[len("score_"):],
                                   "name_es": column[len("score_"):]})
            meaning = (f"score of the dimension {d['name_es']} / {d['name_en']} ({d['dimension_id']}): "
                       "0..100, higher is better (empty when too few of its indicators have a value)")
        fields.append(_field(column, kind, meaning, SCORE_UNIT if column.startswith("score") else None))
    return fields


def _index_resource(data: dict, path: str) -> dict:
    described = {"name": "index" if path.endswith(".csv") else "index-xlsx", "path": path}
    what = (f"The index `{data['index_id']}` per area and period (marts.v_index): score, rank and quantile among "
            "the areas of the same level, the rank band over the index's uncertainty alternatives, and every "
            "dimension's score.")
    if path.endswith(".csv"):
        return {**described, "profile": "tabular-data-resource", "title": "Índice por área / Index by area",
                "description": what, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                "dialect": CSV_DIALECT, "schema": {"fields": _index_fields(data), "missingValues": [""],
                                                   "primaryKey": ["area_id", "period"]},
                "index_id": data["index_id"]}
    return {**described, "profile": "data-resource", "title": "Índice por área (Excel) / Index by area (Excel)",
            "description": what + f" One sheet per level (smallest first) and a `{META_SHEET}` sheet with this "
                                  "package's metadata.",
            "format": "xlsx", "mediatype": XLSX, "sheets": [*_sheets(data), META_SHEET],
            "schema": {"fields": _index_fields(data)}, "index_id": data["index_id"]}


def _areas_resource(data: dict, path: str) -> dict:
    fields = [_field(c, t, AREAS[c]) for c, t in AREA_FIELDS]
    fields[-1]["description"] += " (marts.areas.population: the latest census, whatever the period of this package)"
    fields.append(_field("geometry", "any", "polygon or multipolygon of the area in EPSG:4326 (lon/lat); empty "
                                            "when the area has no polygon"))
    if path.endswith(".gpkg"):
        return {"name": "areas-gpkg", "path": path, "profile": "data-resource",
                "title": "Áreas (GeoPackage) / Areas (GeoPackage)",
                "description": "The areas as a GeoPackage (QGIS, ArcGIS), one layer per level, smallest first "
                               "(bienestar.geodata).", "format": "gpkg", "mediatype": "application/geopackage+sqlite3",
                "layers": data["levels"], "crs": "EPSG:4326", "schema": {"fields": fields}}
    return {"name": "areas-parquet", "path": path, "profile": "data-resource",
            "title": "Áreas (GeoParquet) / Areas (GeoParquet)",
            "description": "The areas of every level in one GeoParquet table, told apart by `level` "
                           "(bienestar.geodata).", "format": "parquet", "mediatype": "application/vnd.apache.parquet",
            "crs": "EPSG:4326", "schema": {"fields": fields}}


def _package(data: dict, resources: list[dict], *, title: str, licences: list[dict], period: str | None,
             citation: str | None) -> dict:
    publication = {k: _json_value(v) for k, v in data["publication"].items()}
    name = re.sub(r"[^a-z0-9._-]", "-", f"bienestar-{data['city']}-{period or 'all-periods'}".lower())
    return {
        "profile": "data-package", "name": name, "title": title,
        "description": "Neighbourhood well-being indicators and composite index of one city, as published in its "
                       "snapshot (the marts of docs/marts.md): nothing recomputed, withheld cells left empty.",
        "created": publication["published_at"], "licenses": licences, **({"citation": citation} if citation else {}),
        "sources": [{"title": s["delivery"], **{k: _json_value(v) for k, v in s.items() if k != "delivery"}}
                    for s in data["sources"]],
        "city": data["city"], "periods": [period] if period else data["periods"], "publication": publication,
        "resources": resources,
    }


def _json_value(value: Any) -> Any:
    """Times in RFC 3339 (the snapshot's are UTC), dates ISO, the rest as they are."""
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    return value.isoformat() if isinstance(value, date) else value


def _sheets(data: dict) -> list[str]:
    """One sheet per level with index rows, smallest first; names Excel accepts."""
    present = {row[2] for row in data["index"].rows}
    ordered = [level for level in data["levels"] if level in present] + sorted(present - set(data["levels"]))
    return [_sheet_name(level) for level in ordered]


def _sheet_name(level: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "_", level)[:31]


class _DatedZip(zipfile.ZipFile):
    """A zip whose members all carry one date (openpyxl's members carry the time of writing)."""

    def __init__(self, path: Path, date_time: tuple[int, ...]):
        super().__init__(path, "w", zipfile.ZIP_DEFLATED)
        self._date_time = date_time

    def writestr(self, name, data, *args, **kwargs):
        if isinstance(name, str):
            name = zipfile.ZipInfo(name, date_time=self._date_time)
            name.compress_type, name.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
        super().writestr(name, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs):
        # openpyxl writes each sheet to a temporary file first, which ZipFile.write would date by its mtime
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes())


def _write_xlsx(path: Path, data: dict, package: dict) -> None:
    """The index, one sheet per level (frozen header, filters, fitted widths, numbers as numbers), and the
    package's metadata; dated `published_at`."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    table = data["index"]
    book = Workbook()
    book.remove(book.active)
    for level in _sheets(data):
        rows = [[_cell(v) for v in row] for row in table.rows if _sheet_name(row[2]) == level]
        sheet = book.create_sheet(level)
        _fill(sheet, [table.columns, *rows], bold_rows={1})
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
    meta = book.create_sheet(META_SHEET)
    lines, bold_rows = _metadata_lines(package)
    _fill(meta, lines, bold_rows=bold_rows, widest=80)
    published_at = data["publication"]["published_at"].replace(microsecond=0, tzinfo=None)
    book.properties.created = book.properties.modified = published_at
    book.properties.title, book.properties.creator = package["title"], "bienestar"
    ExcelWriter(book, _DatedZip(path, published_at.timetuple()[:6])).save()  # save_workbook would stamp now()


def _cell(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _fill(sheet, lines: list[list], *, bold_rows: set[int], widest: int = 50) -> None:
    """Append `lines`, bold the given 1-based rows, and fit each column to its longest text (numbers as Excel
    shows them, about 11 characters)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        sheet.append(line)
        if number in bold_rows:
            for cell in sheet[number]:
                cell.font = Font(bold=True)
        for i, value in enumerate(line, start=1):
            shown = 0 if value is None else min(len(str(value)), 11) if isinstance(value, float) else len(str(value))
            widths[i] = max(widths.get(i, 0), shown)
    for i, width in widths.items():
        sheet.column_dimensions[get_column_letter(i)].width = min(width + 2, widest)


def _metadata_lines(package: dict) -> tuple[list[list], set[int]]:
    """The data package as rows: the package, its files, the index columns, its sources."""
    licence = package["licenses"][0]
    lines: list[list] = [["field", "value"]]
    lines += [[k, v] for k, v in (("title", package["title"]), ("description", package["description"]),
                                  ("city", package["city"]), ("periods", ", ".join(package["periods"])),
                                  ("licence", " ".join(str(licence.get(k)) for k in ("name", "title", "path")
                                                       if licence.get(k))),
                                  ("citation", package.get("citation")), ("created", package["created"]))
              if v is not None]
    lines += [[f"publication.{k}", v] for k, v in package["publication"].items() if k not in ("city",)]
    bold = {1}
    lines.append([])
    bold.add(len(lines) + 1)
    lines.append(["file", "format", "title", "description"])
    lines += [[r["path"], r["format"], r["title"], r["description"]] for r in package["resources"]]
    lines.append(["datapackage.json", "json", "Metadatos / Metadata", "this metadata as a Frictionless Data Package"])
    index = next((r for r in package["resources"] if r["name"] == "index-xlsx"), None)
    if index:
        lines.append([])
        bold.add(len(lines) + 1)
        lines.append(["column", "type", "unit", "description"])
        lines += [[f["name"], f["type"], f.get("unit"), f["description"]] for f in index["schema"]["fields"]]
    if package["sources"]:
        lines.append([])
        bold.add(len(lines) + 1)
        lines.append(["source delivery", "source", "period", "rows", "sha256", "received_at"])
        lines += [[s["title"], s.get("source"), s.get("period"), s.get("rows"), s.get("sha256"), s.get("received_at")]
                  for s in package["sources"]]
    return lines, bold
