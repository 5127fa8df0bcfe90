"""Deliveries as files in `landing/<city>/`: CSV, JSON arrays and GeoJSON, loaded into `raw` as received.

Values are kept as text, exactly as delivered (typing happens in `staging`), plus lineage columns:

    _source      the delivery family (e.g. `census/households.csv`, `services/police_reports`)
    _delivery    the file name, relative to the city's landing folder
    _sha256      hash of the file's bytes
    _row         1-based position of the record in the file (data rows for CSV, elements or features otherwise)
    _loaded_for  the data interval or vintage the load belongs to (never the clock)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from bienestar import warehouse
from sources.privacy import strip_identifiers


class DeliveryError(ValueError):
    """A delivery that cannot be loaded; the message names the file and what to do."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as nullable text: raw keeps what was delivered, not what a parser guessed."""
    def text(value: object) -> object:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    return pd.DataFrame({c: frame[c].map(text).astype("string") for c in frame.columns}, index=frame.index)


def read_delivery(path: Path) -> pd.DataFrame:
    """Read one delivered file as text columns; GeoJSON geometries come as `geometry_wkt`."""
    if not path.exists():
        raise DeliveryError(f"{path}: delivery not found. Put the file there (for the sample city run "
                            "`bienestar generate`), or fix the path in the city config.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            frame = frame.replace("", None)
        elif suffix == ".geojson":
            import geopandas as gpd

            geo = gpd.read_file(path)
            frame = pd.DataFrame(geo.drop(columns="geometry"))
            frame["geometry_wkt"] = geo.geometry.to_wkt()
        elif suffix == ".json":
            with path.open(encoding="utf-8") as fh:
                records = json.load(fh)
            if not isinstance(records, list):
                raise DeliveryError(f"{path}: expected a JSON array of records, got {type(records).__name__}")
            frame = pd.DataFrame.from_records(records)
        else:
            raise DeliveryError(f"{path}: unsupported file type {suffix!r} (csv, json, geojson)")
    except DeliveryError:
        raise
    except Exception as exc:  # a parser's own message, with the file named
        raise DeliveryError(f"{path}: cannot be read: {exc}") from exc
    frame = _as_text(frame)
    frame.insert(0, "_row", range(1, len(frame) + 1))
    return frame


def check_columns(frame: pd.DataFrame, path: Path, required: list[str]) -> None:
    """Fail before loading anything when a required field is absent."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if not c.startswith("_")]
        raise DeliveryError(
            f"{path}: missing field(s) {', '.join(missing)}; the file has {', '.join(present)}. "
            "Nothing was loaded from it."
        )


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
) -> int:
    """Load one delivered file into a raw table, replacing what an earlier load of the same partition wrote."""
    path = landing / relative
    frame = read_delivery(path)
    check_columns(frame, path, required)
    if pseudonymise and key is None:
        raise ValueError("a pseudonymisation key is needed to load ids")
    frame = strip_identifiers(frame, drop or [], pseudonymise or [], key or b"")
    frame = frame.assign(
        _source=source, _delivery=relative, _sha256=file_sha256(path), _loaded_for=loaded_for
    )
    keys = {"city": city, "_source": source, **(partition or {})}
    return warehouse.replace_partition(con, table, frame, keys)
