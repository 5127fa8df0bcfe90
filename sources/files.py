"""Deliveries as files in `landing/<city>/` (or bundled with a city), loaded into `raw` as received.

The reader comes from the source contract's `format`, else from the file name:

    csv        `.csv` `.tsv` `.txt`   delimiter (`, ; tab |`) and encoding (UTF-8, UTF-8 with BOM, Windows-1252,
                                       Latin-1) detected, or declared by the contract
    parquet    `.parquet` `.pq`       plain Parquet, or GeoParquet (its geometry column becomes `geometry_wkt`)
    xlsx       `.xlsx` `.xlsm`        the sheet named by the contract (`sheet`), or the first
    json       `.json`                an array of records (a Topology or a FeatureCollection is read as such)
    geojson    `.geojson`             a FeatureCollection or one Feature
    topojson   `.topojson` `.topo.json`  the object named by the contract (`layer`), or the only one
    shapefile  `.zip` `.shp`          zipped (read in place through GDAL's /vsizip/) or loose with its sidecars
    gpkg       `.gpkg`                the layer named by the contract (`layer`), or the only one

Values are kept as text, exactly as delivered (typing, decimal commas included, happens against the source
contract in `sources.contracts`), plus lineage columns added by `land`:

    _source      the delivery family (e.g. `census/households.csv`, `services/police_reports`)
    _delivery    the file name, relative to the city's landing folder
    _sha256      hash of the file's bytes
    _row         1-based position of the record in the file (data rows for CSV and XLSX, elements or features
                 otherwise, counting features without geometry)
    _loaded_for  the data interval or vintage the load belongs to (never the clock)

Boundary formats give `geometry_wkt` in EPSG:4326 (lon/lat), reprojected when the file states another CRS. A
file that states no CRS (TopoJSON never can; nor a Shapefile without `.prj`, nor a GeoJSON without the old `crs`
member) is taken to be EPSG:4326, the GeoJSON/TopoJSON convention; if its coordinates fall outside the lon/lat
range the load stops instead of placing the areas somewhere else on the planet. A feature without geometry is kept
with `geometry_wkt` empty, so it can be counted and reported (GDAL's TopoJSON driver drops such features, which is
why GeoJSON and TopoJSON are decoded here rather than through GDAL).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from bienestar import warehouse
from sources.privacy import keep_declared, strip_identifiers

FORMATS = ("csv", "parquet", "xlsx", "json", "geojson", "topojson", "shapefile", "gpkg")
SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx",
    ".xlsm": "xlsx", ".json": "json", ".geojson": "geojson", ".topojson": "topojson", ".zip": "shapefile",
    ".shp": "shapefile", ".gpkg": "gpkg",
}
DELIMITERS = (",", ";", "\t", "|")
READ_OPTIONS = ("format", "encoding", "delimiter", "sheet", "layer")
# Bytes read to detect a CSV's delimiter: enough for dozens of rows of any real table.
SNIFF_CHARS = 1 << 16


class DeliveryError(ValueError):
    """A delivery that cannot be loaded; the message names the file and what to do."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (lineage: which exact delivery a raw row came from)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as nullable text: raw keeps what was delivered, not what a parser guessed."""
    def text(value: object) -> object:
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    def column(values: pd.Series) -> pd.Series:
        # A column of text and gaps (every CSV column: the readers read text) converts as a whole; anything else
        # (numbers, dates, lists from Parquet, JSON, XLSX) cell by cell. Cell by cell for every CSV was 19% of
        # the census landing (issue 14).
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            return values.astype("string")
        return values.map(text).astype("string")

    return pd.DataFrame({c: column(frame[c]) for c in frame.columns}, index=frame.index)


# ---------------------------------------------------------------------------------------------------------------
# Choosing the reader
# ---------------------------------------------------------------------------------------------------------------

def delivery_format(path: Path, declared: str | None = None) -> str:
    """The reader for a file: the declared format, else the one its name implies."""
    if declared is not None:
        if declared not in FORMATS:
            raise DeliveryError(f"{path}: unknown format {declared!r} in the source's contract; "
                                f"use one of {', '.join(FORMATS)}")
        return declared
    name = path.name.lower()
    if name.endswith(".topo.json"):
        return "topojson"
    found = SUFFIX_FORMATS.get(path.suffix.lower())
    if found is None:
        raise DeliveryError(f"{path}: cannot tell the format from the name ({path.suffix!r}); declare `format` "
                            f"({', '.join(FORMATS)}) in the source's contract")
    return found


def read_delivery(
    path: Path,
    *,
    format: str | None = None,  # named after the contract key it mirrors
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame:
    """Read one delivered file as text columns plus `_row`; boundary formats give `geometry_wkt` (EPSG:4326)."""
    if not path.exists():
        raise DeliveryError(f"{path}: delivery not found. Put the file there (for the sample city run "
                            "`bienestar generate`), or fix the path in the city config.")
    kind = delivery_format(path, format)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DeliveryError(f"{path}: {path.stat().st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a delivery may "
                            "have; split it (one file per month or area) or check it is the right file")
    if kind == "xlsx" or (kind == "shapefile" and path.suffix.lower() == ".zip"):
        check_archive(path)
    try:
        if kind == "csv":
            frame = _read_csv(path, encoding, delimiter)
        elif kind == "parquet":
            frame = _read_parquet(path)
        elif kind == "xlsx":
            frame = _read_xlsx(path, sheet)
        elif kind == "json":
            frame = _read_json(path, layer)
        elif kind == "geojson":
            frame = _read_geojson(path, _load_json(path))
        elif kind == "topojson":
            frame = _read_topojson(path, _load_json(path), layer)
        else:
            frame = _read_with_gdal(path, kind, layer, encoding)
    except DeliveryError:
        raise
    except RecursionError:
        raise DeliveryError(f"{path}: nested too deeply to read (thousands of levels): not a delivery of records; "
                            "ask the source for the file again") from None
    except Exception as exc:  # a parser's own message, with the file named
        raise DeliveryError(f"{path}: cannot be read as {kind}: {exc}") from exc
    frame = _as_text(frame.reset_index(drop=True))
    check_cells(frame, path)
    frame.insert(0, "_row", range(1, len(frame) + 1))
    return frame


MAX_FILE_BYTES = 2 * 1024**3        # a delivered file
MAX_UNPACKED_BYTES = 1024**3        # everything inside an archive (XLSX, zipped Shapefile), unpacked
MAX_RATIO = 200                     # unpacked / packed size of one archive member: more is a zip bomb
MAX_ROWS = 20_000_000               # rows of one delivery (Bolivia's whole census is 11.3 M persons)
MAX_CELL_CHARS = 32_767             # Excel's own limit for a cell; no field of ours comes near it


def check_archive(path: Path) -> None:
    """An archive's members must stay inside it (no absolute paths, no `..`) and unpack to a sane size: checked
    on the directory before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise DeliveryError(f"{path}: not a readable archive ({exc}); ask the source for the file again") from None
    total = 0
    for member in members:
        parts = Path(member.filename).parts
        if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise DeliveryError(f"{path}: member {member.filename!r} points outside the archive; refused")
        total += member.file_size
        ratio = member.file_size / member.compress_size if member.compress_size else 0
        if member.file_size > 1024**2 and ratio > MAX_RATIO:
            raise DeliveryError(f"{path}: member {member.filename!r} unpacks {ratio:,.0f} times larger than it is "
                                f"packed (at most {MAX_RATIO}): a zip bomb, refused")
    if total > MAX_UNPACKED_BYTES:
        raise DeliveryError(f"{path}: unpacks to {total:,} bytes, more than {MAX_UNPACKED_BYTES:,}; refused")


def check_cells(frame: pd.DataFrame, path: Path) -> None:
    """No delivery has more than MAX_ROWS rows or a text cell longer than MAX_CELL_CHARS characters."""
    if len(frame) > MAX_ROWS:
        raise DeliveryError(f"{path}: {len(frame):,} rows, more than the {MAX_ROWS:,} a delivery may have; split it")
    for column in frame.columns:
        if column == "geometry_wkt":
            continue  # a polygon's text is long by nature
        lengths = frame[column].astype("string").str.len()
        if lengths.notna().any() and lengths.max() > MAX_CELL_CHARS:
            row = int(lengths.idxmax()) + 1
            raise DeliveryError(f"{path}: row {row}, field {column}: {int(lengths.max()):,} characters, more than "
                                f"{MAX_CELL_CHARS:,}: not a value of ours; ask the source for a correct file")


def _choose(requested: str | None, available: list[str], path: Path, what: str) -> str:
    """The sheet, layer or object to read: the one named, or the only one there is."""
    if requested is not None:
        if requested not in available:
            raise DeliveryError(f"{path}: no {what} {requested!r}; the file has {', '.join(available) or 'none'}. "
                                f"Fix the {what} named in the source's contract.")
        return requested
    if len(available) == 1:
        return available[0]
    if not available:
        raise DeliveryError(f"{path}: the file holds no {what} to read")
    raise DeliveryError(f"{path}: {len(available)} {what}s ({', '.join(available)}); name the one to read "
                        "in the source's contract (`layer: ...`)")


# ---------------------------------------------------------------------------------------------------------------
# CSV: encoding and delimiter
# ---------------------------------------------------------------------------------------------------------------

def decode_text(path: Path, encoding: str | None = None) -> str:
    """The file's text: decoded with the declared encoding (checked), or with the one detected.

    Detection: a UTF-8 byte-order mark, else text that is valid UTF-8, else Windows-1252 (what spreadsheet
    exports in Latin America usually are), else Latin-1 (which decodes any byte).
    """
    data = path.read_bytes()
    if encoding is None:
        return data.decode(_detect_encoding(data))
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise DeliveryError(f"{path}: unknown encoding {encoding!r} declared in the source's contract "
                            "(use e.g. utf-8, latin-1, cp1252)") from None
    if codec == "utf-8":
        codec = "utf-8-sig"  # a BOM is a property of the file, not text: never let it into the first header
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = _detect_encoding(data)
        raise DeliveryError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}, the encoding the source's "
            f"contract declares. The file looks like {guess}: declare `encoding: {guess}` (or ask the source for "
            "UTF-8). Nothing was loaded from it."
        ) from None
    if not codec.startswith("utf") and not data.isascii() and _is_utf8(data):
        # A single-byte codec decodes anything, so a UTF-8 file read as Latin-1 fails silently ("SeÃ±ora"): stop.
        sample = _first_non_ascii_line(data)
        raise DeliveryError(
            f"{path}: declared {encoding}, but the file is UTF-8 (line {sample[0]} reads {sample[1]!r} as UTF-8, "
            f"{sample[2]!r} as {encoding}). Declare `encoding: utf-8` in the source's contract. "
            "Nothing was loaded from it."
        )
    return text


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _is_utf8(data):
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _first_non_ascii_line(data: bytes) -> tuple[int, str, str]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.isascii():
            return number, line.decode("utf-8")[:60], line.decode("latin-1")[:60]
    return 0, "", ""


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the same number (more than one) of fields.

    Among candidates that do, the one giving the most fields wins; a file no candidate splits consistently is
    read as comma-separated, so the parser reports its uneven line.
    """
    sample = text[:SNIFF_CHARS]
    best, best_width = ",", 1
    for delimiter in DELIMITERS:
        rows = [r for r in islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if r]
        if len(sample) < len(text) and len(rows) > 1:
            rows = rows[:-1]  # the sample may cut the last row short
        widths = {len(r) for r in rows}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = delimiter, width
    return best


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    text = decode_text(path, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    separator = delimiter or detect_delimiter(text)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=separator), [])
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # pandas would read the second as `members.1` and the pipeline would silently use the first
        raise DeliveryError(f"{path}: line 1: column {repeated[0]!r} appears {names.count(repeated[0])} times in the "
                            "header; which one holds the data is unknown. Ask the source for a file with each column "
                            "once.")
    try:
        return _parse_csv_fast(text.encode("utf-8"), separator, header)
    except ValueError:  # pyarrow.ArrowInvalid is one
        pass  # pandas' parser says what is wrong more plainly (the line, the fields it expected): let it
    frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_filter=False)
    return frame.replace("", None)


def _parse_csv_fast(data: bytes, separator: str, header: list[str]) -> pd.DataFrame:
    """Arrow's multi-threaded CSV reader on the decoded text, every column as text and an empty field as missing:
    the frame pandas' reader gives (the fallback), at a fraction of the time and memory on a census file."""
    table = pa_csv.read_csv(
        io.BytesIO(data),
        parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), null_values=[""],
                                              strings_can_be_null=True, quoted_strings_can_be_null=True),
    )
    if table.column_names != header or not all(header):  # pandas names a blank header "Unnamed: n"
        raise ValueError("Arrow read other column names than pandas would")
    return table.to_pandas()


# ---------------------------------------------------------------------------------------------------------------
# Parquet, XLSX, JSON records
# ---------------------------------------------------------------------------------------------------------------

def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    if b"geo" in metadata:  # GeoParquet: the geometry column is WKB with a CRS in the metadata
        import geopandas as gpd

        return _geo_frame(gpd.read_parquet(path), path)
    return pd.read_parquet(path)


def _read_xlsx(path: Path, sheet: str | None) -> pd.DataFrame:
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(s) for s in book.sheet_names]
        name = _choose(sheet, names, path, "sheet") if sheet is not None else names[0]
        frame = book.parse(name, dtype=str, keep_default_na=False, na_values=[])
    return frame.replace("", None)


def _load_json(path: Path) -> Any:
    with path.open(encoding="utf-8-sig") as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as exc:
            raise DeliveryError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}). "
                                "Ask the source for a complete file.") from None


def _read_json(path: Path, layer: str | None) -> pd.DataFrame:
    """An array of records; a `.json` holding a Topology or GeoJSON is read as that."""
    document = _load_json(path)
    if isinstance(document, dict) and document.get("type") == "Topology":
        return _read_topojson(path, document, layer)
    if isinstance(document, dict) and document.get("type") in ("FeatureCollection", "Feature"):
        return _read_geojson(path, document)
    if not isinstance(document, list):
        raise DeliveryError(f"{path}: expected a JSON array of records, got {type(document).__name__}")
    return pd.DataFrame.from_records(document)


# ---------------------------------------------------------------------------------------------------------------
# Boundaries: GeoJSON, TopoJSON, Shapefile, GeoPackage
# ---------------------------------------------------------------------------------------------------------------

def _in_lonlat(geometry, path: Path):
    """The geometries (a GeoSeries) in EPSG:4326: reprojected when the file states a CRS, checked when not."""
    if geometry.crs is None:
        if geometry.notna().any() and not geometry.is_empty.all():
            minx, miny, maxx, maxy = geometry.total_bounds
            if minx < -180.000001 or maxx > 180.000001 or miny < -90.000001 or maxy > 90.000001:
                raise DeliveryError(
                    f"{path}: the file states no CRS, so lon/lat (EPSG:4326) is assumed, but its coordinates span "
                    f"x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}, outside lon/lat. It is probably projected: ask "
                    "for the file with its CRS (a .prj beside a Shapefile, a GeoPackage) or in EPSG:4326."
                )
        return geometry.set_crs(4326)
    if geometry.crs.equals("EPSG:4326", ignore_axis_order=True):
        return geometry
    return geometry.to_crs(4326)


def _geo_frame(geo, path: Path) -> pd.DataFrame:
    """A GeoDataFrame's attributes with its geometry as `geometry_wkt` in EPSG:4326."""
    geometry = _in_lonlat(geo.geometry, path)
    frame = pd.DataFrame(geo.drop(columns=geo.geometry.name))
    frame["geometry_wkt"] = geometry.to_wkt().to_numpy(dtype=object)
    return frame


def _features_frame(path: Path, records: list[dict], geometries: list, crs: object | None) -> pd.DataFrame:
    import geopandas as gpd

    frame = pd.DataFrame.from_records(records, index=range(len(records)))
    geometry = gpd.GeoSeries(geometries, index=frame.index, crs=crs)
    frame["geometry_wkt"] = _in_lonlat(geometry, path).to_wkt().to_numpy(dtype=object)
    return frame


def _feature_record(feature: dict) -> dict:
    record = dict(feature.get("properties") or {})
    if "id" in feature:
        record.setdefault("id", feature["id"])
    return record


def _read_geojson(path: Path, document: Any) -> pd.DataFrame:
    import shapely.geometry

    if not isinstance(document, dict) or document.get("type") not in ("FeatureCollection", "Feature"):
        raise DeliveryError(f"{path}: expected a GeoJSON FeatureCollection or Feature")
    features = (document.get("features") or []) if document["type"] == "FeatureCollection" else [document]
    geometries = []
    for position, feature in enumerate(features, start=1):
        geometry = feature.get("geometry")
        try:
            geometries.append(shapely.geometry.shape(geometry) if geometry else None)
        except Exception as exc:
            raise DeliveryError(f"{path}: feature {position}: invalid geometry ({exc}). Ask the source to fix "
                                "it; nothing was loaded from the file.") from exc
    return _features_frame(path, [_feature_record(f) for f in features], geometries, _geojson_crs(document, path))


def _geojson_crs(document: dict, path: Path) -> object | None:
    """The CRS of a pre-RFC 7946 GeoJSON (`"crs": {"type": "name", ...}`); None when the file states none."""
    declared = document.get("crs")
    if not declared:
        return None
    from pyproj import CRS

    name = (declared.get("properties") or {}).get("name") if isinstance(declared, dict) else None
    try:
        return CRS.from_user_input(name)
    except Exception:
        raise DeliveryError(f"{path}: unreadable `crs` member {declared!r}; deliver the file in EPSG:4326 "
                            "without a `crs` member (RFC 7946)") from None


def _read_topojson(path: Path, document: Any, layer: str | None) -> pd.DataFrame:
    if not isinstance(document, dict) or document.get("type") != "Topology":
        raise DeliveryError(f"{path}: expected a TopoJSON Topology")
    objects = document.get("objects") or {}
    name = _choose(layer, list(objects), path, "object")
    topology = _Topology(document)
    members = objects[name].get("geometries", []) if objects[name].get("type") == "GeometryCollection" \
        else [objects[name]]
    geometries = []
    for position, member in enumerate(members, start=1):
        try:
            geometries.append(topology.geometry(member))
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise DeliveryError(f"{path}: object {name!r}, feature {position}: cannot build its geometry ({exc}). "
                                "Ask the source to fix the file; nothing was loaded from it.") from exc
    return _features_frame(path, [_feature_record(m) for m in members], geometries, None)


class _Topology:
    """Decodes TopoJSON geometries: shared arcs, delta-encoded and quantized when the topology has a transform."""

    def __init__(self, document: dict) -> None:
        transform = document.get("transform")
        self.scale = np.array(transform["scale"][:2], dtype=float) if transform else None
        self.translate = np.array(transform["translate"][:2], dtype=float) if transform else None
        self.arcs = [self._arc(arc) for arc in document.get("arcs") or []]

    def _arc(self, arc: list) -> np.ndarray:
        points = np.array([p[:2] for p in arc], dtype=float).reshape(-1, 2)
        if self.scale is not None:
            points = np.cumsum(points, axis=0) * self.scale + self.translate
        return points

    def _position(self, position: list) -> np.ndarray:
        point = np.array(position[:2], dtype=float)
        return point * self.scale + self.translate if self.scale is not None else point

    def _line(self, indices: list[int]) -> np.ndarray:
        """Arcs joined end to start; a negative index ~i is arc i reversed."""
        parts = [self.arcs[i] if i >= 0 else self.arcs[~i][::-1] for i in indices]
        if not parts:
            return np.empty((0, 2))
        return np.concatenate([parts[0], *(p[1:] for p in parts[1:])])

    def _polygon(self, rings: list[list[int]]):
        import shapely

        if not rings:
            return shapely.Polygon()
        return shapely.Polygon(self._line(rings[0]), [self._line(r) for r in rings[1:]])

    def geometry(self, member: dict):
        """The shapely geometry of one member of an object, or None when it has none (`"type": null`)."""
        import shapely

        kind = member.get("type")
        if not kind:
            return None
        if kind == "GeometryCollection":
            parts = [self.geometry(g) for g in member.get("geometries") or []]
            return shapely.GeometryCollection([g for g in parts if g is not None])
        if kind == "Point":
            return shapely.Point(self._position(member["coordinates"]))
        if kind == "MultiPoint":
            return shapely.MultiPoint([self._position(p) for p in member["coordinates"]])
        if kind == "LineString":
            return shapely.LineString(self._line(member["arcs"]))
        if kind == "MultiLineString":
            return shapely.MultiLineString([self._line(a) for a in member["arcs"]])
        if kind == "Polygon":
            return self._polygon(member["arcs"])
        if kind == "MultiPolygon":
            return shapely.MultiPolygon([self._polygon(p) for p in member["arcs"]])
        raise ValueError(f"unknown geometry type {kind!r}")


def _read_with_gdal(path: Path, kind: str, layer: str | None, encoding: str | None) -> pd.DataFrame:
    """Shapefile (zipped or loose) and GeoPackage through GDAL (pyogrio)."""
    import geopandas as gpd
    import pyogrio

    if kind == "shapefile" and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = {Path(n).stem: n for n in archive.namelist() if n.lower().endswith(".shp")}
        name = _choose(layer, sorted(members), path, "layer")
        source = f"/vsizip/{path.resolve()}/{members[name]}"
        name = None  # a single-shapefile source: GDAL's layer is the file itself
    else:
        source = str(path)
        name = _choose(layer, [str(n) for n in pyogrio.list_layers(source)[:, 0]], path, "layer")
    options: dict[str, Any] = {"datetime_as_string": True}
    if encoding:
        options["encoding"] = encoding
    geo = gpd.read_file(source, layer=name, engine="pyogrio", **options)
    if not isinstance(geo, gpd.GeoDataFrame) or geo.geometry.name not in geo.columns:
        return pd.DataFrame(geo)  # an attribute table without geometry
    return _geo_frame(geo, path)


# ---------------------------------------------------------------------------------------------------------------
# Landing into raw
# ---------------------------------------------------------------------------------------------------------------

def check_columns(frame: pd.DataFrame, path: Path, required: list[str]) -> None:
    """Fail before loading anything when a required field is absent."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if not c.startswith("_")]
        raise DeliveryError(
            f"{path}: missing field(s) {', '.join(missing)}; the file has {', '.join(present)}. "
            "Nothing was loaded from it."
        )


def prepare_delivery(
    path: Path,
    *,
    relative: str,
    source: str,
    loaded_for: str,
    required: list[str],
    drop: list[str] | None = None,
    pseudonymise: list[str] | None = None,
    key: bytes | None = None,
    read_options: Mapping[str, Any] | None = None,
    check: Callable[[pd.DataFrame, str], None] | None = None,
    keep: Collection[str] = (),
    split_lineage: bool = False,
) -> pd.DataFrame | Delivery:
    """One delivered file as it goes into raw: read, checked (columns, then the contract), only the declared
    columns kept (`required` and `keep`: an allow list; the names of the others go to the lineage column
    `_undeclared_columns`, never their values), identifiers removed, lineage added (or, with `split_lineage`,
    returned beside the frame as a `Delivery`). Raises before anything is written, so a bad delivery loads
    nothing."""
    options = {k: v for k, v in (read_options or {}).items() if k in READ_OPTIONS and v is not None}
    frame = read_delivery(path, **options)
    if check is not None:  # first: a contract's message says more (types, units) than check_columns can
        check(frame, str(path))
    check_columns(frame, path, required)
    if pseudonymise and key is None:
        raise ValueError("a pseudonymisation key is needed to load ids")
    frame, undeclared = keep_declared(frame, ["_row", *required, *keep, *(pseudonymise or [])])
    frame = strip_identifiers(frame, drop or [], pseudonymise or [], key or b"")
    lineage = {"_source": source, "_delivery": relative, "_sha256": file_sha256(path), "_loaded_for": loaded_for,
               "_undeclared_columns": ",".join(undeclared)}
    return Delivery(frame, lineage) if split_lineage else frame.assign(**lineage)


@dataclass(frozen=True)
class Delivery:
    """A prepared delivery with its lineage apart: the same value on every row, which `warehouse.replace_partition`
    adds in SQL (`constants`) rather than as pandas columns (on a national census file, ~0.7 GB of repeated
    text)."""

    frame: pd.DataFrame
    lineage: dict[str, str]


class NotStreamable(Exception):
    """A delivery the streaming reader does not take as it is (not UTF-8 CSV, an odd header, a line Arrow reads
    otherwise than pandas): the caller reads it whole instead, with the whole-file path's checks and messages."""


STREAM_BLOCK_BYTES = 16 << 20  # bytes Arrow parses at a time


def stream_delivery(
    path: Path,
    *,
    relative: str,
    source: str,
    loaded_for: str,
    required: list[str],
    chunk_rows: int,
    drop: list[str] | None = None,
    pseudonymise: list[str] | None = None,
    key: bytes | None = None,
    keep: Collection[str] = (),
) -> tuple[Iterator[pd.DataFrame], dict[str, str]]:
    """A delivered CSV file prepared as `prepare_delivery` prepares it (text columns, `_row`, declared columns
    only, identifiers removed) but in chunks of about `chunk_rows` rows, and its lineage: a national census file
    is never whole in memory. Raises NotStreamable (before or while iterating) for a file to read whole, and
    DeliveryError for one that is wrong (a missing column, too many rows, a cell too long)."""
    if not path.exists() or delivery_format(path) != "csv" or path.stat().st_size > MAX_FILE_BYTES:
        raise NotStreamable(f"{path}: not a CSV delivery within the size limit")
    if pseudonymise and key is None:
        raise ValueError("a pseudonymisation key is needed to load ids")
    with path.open("rb") as fh:
        prefix = fh.read(SNIFF_CHARS)
    try:  # incremental: a character cut at the prefix's end is not an error
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(prefix, final=len(prefix) < SNIFF_CHARS)
    except UnicodeDecodeError:  # not UTF-8: the whole-file path detects the encoding
        raise NotStreamable(f"{path}: not UTF-8") from None
    if len(prefix) == SNIFF_CHARS:
        text = text[: text.rfind("\n") + 1]  # whole lines only, as detect_delimiter reads a sample
    separator = detect_delimiter(text)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=separator), [])
    if not header or not all(header) or len(set(header)) != len(header) or "\n" not in text:
        raise NotStreamable(f"{path}: a header the whole-file path checks (blank, repeated or very long)")
    check_columns(pd.DataFrame(columns=header), path, required)
    declared = ["_row", *required, *keep, *(pseudonymise or [])]
    undeclared = sorted(name for name in header if name not in set(declared))
    lineage = {"_source": source, "_delivery": relative, "_sha256": file_sha256(path), "_loaded_for": loaded_for,
               "_undeclared_columns": ",".join(undeclared)}

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            reader = pa_csv.open_csv(
                path, read_options=pa_csv.ReadOptions(block_size=STREAM_BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                      null_values=[""], strings_can_be_null=True,
                                                      quoted_strings_can_be_null=True))
            if reader.schema.names != header:
                raise NotStreamable(f"{path}: Arrow reads other column names than the header's")
            done, batches = 0, []
            for batch in reader:
                batches.append(batch)
                if sum(len(b) for b in batches) >= chunk_rows:
                    yield prepared(pa.Table.from_batches(batches), done)
                    done, batches = done + sum(len(b) for b in batches), []
            if batches or not done:
                yield prepared(pa.Table.from_batches(batches, schema=reader.schema), done)
        except pa.ArrowInvalid as exc:  # a line Arrow reads otherwise (pandas fills a short one): read it whole
            raise NotStreamable(f"{path}: {exc}") from None

    def prepared(table: pa.Table, done: int) -> pd.DataFrame:
        if done + len(table) > MAX_ROWS:
            raise DeliveryError(f"{path}: more than the {MAX_ROWS:,} rows a delivery may have; split it")
        frame = _as_text(table.to_pandas())  # the whole-file path's column types
        frame.index = pd.RangeIndex(done, done + len(frame))  # check_cells names the row of the file
        check_cells(frame, path)
        frame.insert(0, "_row", range(done + 1, done + len(frame) + 1))
        frame, _ = keep_declared(frame, declared)
        return strip_identifiers(frame, drop or [], pseudonymise or [], key or b"").reset_index(drop=True)

    return chunks(), lineage


def land(
    con,
    *,
    city: str,
    landing: Path,
    relative: str,
    source: str,
    table: str,
    loaded_for: str,
    required: list[str],
    drop: list[str] | None = None,
    pseudonymise: list[str] | None = None,
    key: bytes | None = None,
    partition: dict[str, object] | None = None,
    read_options: Mapping[str, Any] | None = None,
    check: Callable[[pd.DataFrame, str], None] | None = None,
) -> int:
    """Load one delivered file into a raw table, replacing what an earlier load of the same partition wrote.

    `read_options` are the contract's reader settings (format, encoding, delimiter, sheet, layer); `check` is
    called with the frame and the file name before anything is written (e.g. `sources.contracts.check_delivery`).
    """
    delivery = prepare_delivery(
        landing / relative, relative=relative, source=source, loaded_for=loaded_for, required=required, drop=drop,
        pseudonymise=pseudonymise, key=key, read_options=read_options, check=check, split_lineage=True,
    )
    keys = {"city": city, "_source": source, **(partition or {})}
    return warehouse.replace_partition(con, table, delivery.frame, keys, constants=delivery.lineage)
