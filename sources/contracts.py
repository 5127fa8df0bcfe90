"""Source contracts: what a city expects of each delivery, declared in its `city.yaml` under `sources:`.

    sources:
      census_indicators:
        connector: file                 # the only connector so far
        path: data/census_indicators_2012_2024.csv
        root: city                      # `path` is relative to: landing (landing/<city>/, default) or city
                                        # (the city's config folder, for data bundled with the project)
        format: csv                     # optional: else from the file name (see sources/files.py)
        encoding: utf-8                 # optional: else detected
        delimiter: ","                  # optional: else detected
        decimal: ","                    # optional: else detected from the numeric fields' values
        sheet: Hoja1                    # XLSX: the sheet (else the first)
        layer: mun                      # TopoJSON object, GeoPackage layer, Shapefile in a zip (else the only one)
        table: raw.census_indicators    # where it lands (default raw.<source name>)
        record_id: id_municipio         # the field that names a record in quarantine (default the row number)
        max_invalid_share: 0.5          # more invalid values than this share in one field stops the batch
        fields:
          id_municipio: {type: code, pattern: "^[0-9]{6}$"}
          "2012": {type: float, min: 0, unit: percent, required: false}

Field keys: `type` (int, float, bool, code, timestamp, text, geometry, unit), `required` (default true: a missing
or invalid value rejects the record; false: the record is kept with the field empty and flagged), `non_response`
(a blank is a normal answer), `min`, `max`, `values` (allowed codes), `pattern` (a regular expression the whole
value must match), `unit` (the unit of a numeric field, one of `KNOWN_UNITS`), `units` (for a `unit` field: the
units its values may name), `description`.

Two kinds of fault, handled differently:

* batch-level (`check_delivery` raises `ContractError`, nothing is loaded from the delivery): a missing column, a
  field whose values fail their type in more than `max_invalid_share` of the rows (the delivery is not what the
  contract describes: wrong file, wrong encoding or decimal mark, a changed layout), a unit the pipeline does not
  know (every value of that field would be misread), or no records at all;
* row-level (`type_delivery` puts the record in quarantine with its row, field and reason; the rest continue): a
  value that fails its type, range, code list or pattern in a few rows.

Decimal commas: raw keeps "12,5" as delivered; typing reads it as 12.5 when the contract says `decimal: ","` or,
undeclared, when some numeric values are written `digits,digits` and none `digits.digits`. Declare it when a file
could be read both ways (e.g. only values like "1,234").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import shapely

from bienestar import settings
from sources.files import FORMATS, READ_OPTIONS, DeliveryError, read_delivery
from transforms.cleaning import Cleaned, Field, type_fields

TYPES = ("int", "float", "bool", "code", "timestamp", "text", "geometry", "unit")
NUMERIC = ("int", "float")
# Units a delivered value may carry, and what each means. Staging converts `percent` to a share (÷100) and keeps
# the others as delivered; a unit not listed here would be guessed at, so it stops the load.
KNOWN_UNITS = {
    "percent": "per cent, 0..100",
    "share": "fraction, 0..1",
    "count": "a number of things",
    "persons": "a number of people",
    "households": "a number of households",
    "children_per_woman": "mean number of live-born children per woman",
    "per_1000": "rate per 1000",
    "years": "years",
    "m": "metres",
    "km2": "square kilometres",
    "ug/m3": "micrograms per cubic metre",
    "dBA": "A-weighted decibels",
}
SOURCE_KEYS = {"connector", "path", "root", "table", "fields", "decimal", "record_id", "max_invalid_share",
               "description", *READ_OPTIONS}
FIELD_KEYS = {"type", "required", "non_response", "min", "max", "values", "pattern", "unit", "units", "description"}
CONNECTORS = ("file",)
COMMA_DECIMAL = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+"
POINT_DECIMAL = r"[+-]?\d*\.\d+"
THOUSANDS_DOTS = r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?"


class ContractError(DeliveryError):
    """A contract that cannot be used, or a delivery that breaks its contract as a whole (nothing is loaded)."""


@dataclass(frozen=True)
class FieldContract:
    """What one field of a delivery must hold."""

    name: str
    type: str
    required: bool = True
    non_response: bool = False
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()
    pattern: str | None = None
    unit: str | None = None
    units: tuple[str, ...] = ()

    def cleaning_field(self) -> Field:
        """The row-level typing rule (`transforms.cleaning.Field`); patterns and geometries are checked apart."""
        if self.type in (*NUMERIC, "bool", "timestamp") or (self.type == "code" and self.values):
            kind = self.type
        else:
            kind = "text"  # free codes, geometries and units: presence here, the rest in _valid_beyond_type
        return Field(kind=kind, required=self.required, non_response=self.non_response, codes=self.values,
                     minimum=self.minimum, maximum=self.maximum)

    def expected(self) -> str:
        """What a valid value looks like, in words, for error messages."""
        text = {"int": "an integer", "float": "a number", "bool": "1 or 0", "timestamp": "an ISO 8601 timestamp",
                "geometry": "a WKT geometry", "unit": "a known unit", "code": "a code", "text": "text"}[self.type]
        if self.values:
            text += f" (one of {', '.join(self.values)})"
        if self.pattern:
            text += f" matching {self.pattern}"
        if self.minimum is not None or self.maximum is not None:
            text += f" in [{self.minimum if self.minimum is not None else '-inf'}, " \
                    f"{self.maximum if self.maximum is not None else 'inf'}]"
        if self.unit:
            text += f", in {self.unit}"
        return text


@dataclass(frozen=True)
class Contract:
    """A source's connector, location, reader settings and expected fields."""

    name: str
    origin: str
    connector: str
    path: str
    root: str = "landing"
    table: str = ""
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    layer: str | None = None
    record_id: str = "_row"
    max_invalid_share: float = 0.5
    fields: dict[str, FieldContract] = field(default_factory=dict)

    @property
    def read_options(self) -> dict[str, Any]:
        """Keyword arguments for `sources.files.read_delivery`."""
        return {k: getattr(self, k) for k in READ_OPTIONS if getattr(self, k) is not None}

    def location(self, city) -> Path:
        """The delivery's file for a city (`root: city` for data bundled with the city's config)."""
        base = city.folder if self.root == "city" else settings.paths().landing_for(city.name)
        return base / self.path

    def with_values(self, name: str, values: list[str]) -> Contract:
        """The same contract with a field limited to `values` (e.g. the labels a catalogue knows)."""
        fields = dict(self.fields)
        fields[name] = replace(fields[name], type="code", values=tuple(values), pattern=None)
        return replace(self, fields=fields)


# ---------------------------------------------------------------------------------------------------------------
# Parsing contracts
# ---------------------------------------------------------------------------------------------------------------

def source_contracts(city) -> dict[str, Contract]:
    """Every source contract of a city (`sources:` in its city.yaml)."""
    sources = city.config.get("sources") or {}
    origin = f"{city.folder / 'city.yaml'}: sources"
    return {name: parse_contract(name, spec, f"{origin}.{name}") for name, spec in sources.items()}


def parse_contract(name: str, spec: dict[str, Any], origin: str) -> Contract:
    """A checked contract; `origin` names where it was declared (file and key) for error messages."""
    if not isinstance(spec, dict):
        raise ContractError(f"{origin}: expected a mapping with connector, path and fields")
    unknown = sorted(set(spec) - SOURCE_KEYS)
    if unknown:
        raise ContractError(f"{origin}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(SOURCE_KEYS))})")
    for key in ("connector", "path", "fields"):
        if not spec.get(key):
            raise ContractError(f"{origin}: missing {key!r}")
    if spec["connector"] not in CONNECTORS:
        raise ContractError(f"{origin}: connector {spec['connector']!r} is not available yet "
                            f"(available: {', '.join(CONNECTORS)})")
    if spec.get("format") is not None and spec["format"] not in FORMATS:
        raise ContractError(f"{origin}: unknown format {spec['format']!r} (known: {', '.join(FORMATS)})")
    if spec.get("root", "landing") not in ("landing", "city"):
        raise ContractError(f"{origin}: root must be `landing` or `city`, got {spec['root']!r}")
    if spec.get("decimal") not in (None, ".", ","):
        raise ContractError(f"{origin}: decimal must be \".\" or \",\", got {spec['decimal']!r}")
    share = spec.get("max_invalid_share", 0.5)
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ContractError(f"{origin}: max_invalid_share must be a number in [0, 1], got {share!r}")
    fields = {str(k): parse_field(str(k), v, f"{origin}.fields.{k}") for k, v in spec["fields"].items()}
    return Contract(
        name=name, origin=origin, connector=spec["connector"], path=str(spec["path"]),
        root=spec.get("root", "landing"), table=spec.get("table") or f"raw.{name}", format=spec.get("format"),
        encoding=spec.get("encoding"), delimiter=spec.get("delimiter"), decimal=spec.get("decimal"),
        sheet=spec.get("sheet"), layer=spec.get("layer"), record_id=spec.get("record_id") or "_row",
        max_invalid_share=float(share), fields=fields,
    )


def parse_field(name: str, spec: dict[str, Any], origin: str) -> FieldContract:
    """One field's contract, checked: known type and unit, a pattern that compiles, bounds only on numbers."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ContractError(f"{origin}: expected a mapping with at least `type` (one of {', '.join(TYPES)})")
    unknown = sorted(set(spec) - FIELD_KEYS)
    if unknown:
        raise ContractError(f"{origin}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(FIELD_KEYS))})")
    if spec["type"] not in TYPES:
        raise ContractError(f"{origin}: unknown type {spec['type']!r} (known: {', '.join(TYPES)})")
    for unit in [spec.get("unit"), *(spec.get("units") or [])]:
        if unit is not None and unit not in KNOWN_UNITS:
            raise ContractError(f"{origin}: unknown unit {unit!r}. Known units: {', '.join(KNOWN_UNITS)}. Use one "
                                "of them, or add the unit to KNOWN_UNITS in sources/contracts.py with its meaning.")
    if (spec.get("min") is not None or spec.get("max") is not None) and spec["type"] not in NUMERIC:
        raise ContractError(f"{origin}: min/max apply to int and float fields, not {spec['type']}")
    if spec.get("pattern") is not None:
        try:
            re.compile(spec["pattern"])
        except re.error as exc:
            raise ContractError(f"{origin}: pattern {spec['pattern']!r} is not a regular expression ({exc})") from None
    return FieldContract(
        name=name, type=spec["type"], required=bool(spec.get("required", True)),
        non_response=bool(spec.get("non_response", False)), minimum=spec.get("min"), maximum=spec.get("max"),
        values=tuple(str(v) for v in spec.get("values") or ()), pattern=spec.get("pattern"), unit=spec.get("unit"),
        units=tuple(spec.get("units") or ()),
    )


# ---------------------------------------------------------------------------------------------------------------
# Decimal marks
# ---------------------------------------------------------------------------------------------------------------

def detect_decimal(frame: pd.DataFrame, contract: Contract) -> str:
    """The decimal mark of the contract, or the one the numeric fields' values show ("," or ".")."""
    if contract.decimal:
        return contract.decimal
    comma = point = 0
    for spec in contract.fields.values():
        if spec.type in NUMERIC and spec.name in frame.columns:
            text = frame[spec.name].dropna().astype(str).str.strip()
            comma += int(text.str.fullmatch(COMMA_DECIMAL).sum())
            point += int(text.str.fullmatch(POINT_DECIMAL).sum())
    return "," if comma and not point else "."


def with_decimal_point(text: pd.Series, decimal: str) -> pd.Series:
    """Numbers written with a decimal comma ("12,5", "1.234,5") rewritten with a point, for parsing."""
    if decimal != ",":
        return text
    text = text.astype("string").str.strip()
    grouped = text.str.fullmatch(THOUSANDS_DOTS).fillna(False).astype(bool)
    text = text.where(~grouped, text.str.replace(".", "", regex=False))
    return text.str.replace(",", ".", regex=False)


# ---------------------------------------------------------------------------------------------------------------
# Batch-level checks
# ---------------------------------------------------------------------------------------------------------------

def check_delivery(frame: pd.DataFrame, contract: Contract, where: str) -> None:
    """Raise `ContractError` when the delivery as a whole breaks its contract; row-level faults pass.

    `frame` is a delivery as read into raw (text columns, `_row`); `where` names its file or URL.
    """
    _check_columns(frame, contract, where)
    if frame.empty:
        raise ContractError(f"{where}: the delivery holds no records ({contract.origin} expects "
                            f"{', '.join(contract.fields)}). Nothing was loaded from it; ask the source to resend it.")
    _check_units(frame, contract, where)
    decimal = detect_decimal(frame, contract)
    for spec in contract.fields.values():
        faulty = _faulty(frame, spec, decimal)
        if faulty.any() and faulty.mean() > contract.max_invalid_share:
            _fail_type(frame, spec, faulty, contract, where, decimal)


def _check_columns(frame: pd.DataFrame, contract: Contract, where: str) -> None:
    missing = [spec for name, spec in contract.fields.items() if name not in frame.columns]
    if missing:
        present = [c for c in frame.columns if not str(c).startswith("_")]
        wanted = "; ".join(f"{s.name!r} ({s.expected()})" for s in missing)
        raise ContractError(
            f"{where}: missing field(s) {wanted}, expected by {contract.origin}. The delivery has: "
            f"{', '.join(map(str, present)) or 'no columns'}. Nothing was loaded from it: ask the source for the "
            "field(s), or fix the contract if the source renamed them."
        )


def _check_units(frame: pd.DataFrame, contract: Contract, where: str) -> None:
    """A unit field naming a unit outside its list stops the batch: every value it qualifies would be misread."""
    for spec in contract.fields.values():
        if spec.type != "unit":
            continue
        allowed = spec.units or tuple(KNOWN_UNITS)
        text = frame[spec.name].astype("string").str.strip()
        unknown = text.notna() & (text != "") & ~text.isin(allowed).fillna(False).astype(bool)
        if unknown.any():
            rows = frame.loc[unknown, "_row"].tolist()
            values = sorted(set(text[unknown]))
            raise ContractError(
                f"{where}: field {spec.name!r}: unknown unit(s) {', '.join(map(repr, values))} in {len(rows)} "
                f"row(s) (first: row {rows[0]}); expected one of {', '.join(allowed)}. Nothing was loaded from it: "
                f"ask the source which unit it means, then add it to {contract.origin}.fields.{spec.name}.units "
                "(and to KNOWN_UNITS if the pipeline does not know it)."
            )


def _faulty(frame: pd.DataFrame, spec: FieldContract, decimal: str) -> pd.Series:
    """Rows whose value fails the field's type (or is missing where a value is required)."""
    text = frame[spec.name].astype("string")
    if spec.type in NUMERIC:
        text = with_decimal_point(text, decimal)
    missing = text.isna() | (text.str.strip() == "")
    probe = Cleaned(pd.DataFrame({spec.name: text, "_row": frame["_row"]}, index=frame.index))
    rule = replace(spec.cleaning_field(), required=False, non_response=True)
    type_fields(probe, {spec.name: rule}, record_id="_row")
    invalid = probe.frame[spec.name].isna().reindex(frame.index, fill_value=True) & ~missing
    invalid |= ~missing & ~_valid_beyond_type(text, spec)
    return (invalid | (missing & spec.required)).fillna(False).astype(bool)


def _valid_beyond_type(text: pd.Series, spec: FieldContract) -> pd.Series:
    """Pattern and geometry checks, which `transforms.cleaning` does not do (True where fine or not applicable)."""
    stripped = text.str.strip()
    if spec.pattern:
        return stripped.str.fullmatch(spec.pattern).fillna(True).astype(bool)
    if spec.type == "geometry":
        parsed = shapely.from_wkt(stripped.fillna("").to_numpy(dtype=object), on_invalid="ignore")
        return pd.Series(pd.notna(parsed), index=text.index) | stripped.isna() | (stripped == "")
    return pd.Series(True, index=text.index)


def _fail_type(frame, spec: FieldContract, faulty: pd.Series, contract: Contract, where: str, decimal: str) -> None:
    examples = ", ".join(f"row {r}: {v!r}" for r, v in
                         zip(frame.loc[faulty, "_row"].head(3), frame.loc[faulty, spec.name].head(3), strict=True))
    hint = "check the file, its encoding, its decimal mark"
    if spec.type in NUMERIC:
        hint += f" (read with decimal {decimal!r})"
    raise ContractError(
        f"{where}: field {spec.name!r}: {int(faulty.sum())} of {len(frame)} values are not {spec.expected()} "
        f"({examples}). More than {contract.max_invalid_share:.0%} of the rows fail, so the delivery does not match "
        f"{contract.origin}: {hint}, or fix the contract. Nothing was loaded from it."
    )


# ---------------------------------------------------------------------------------------------------------------
# Row-level typing
# ---------------------------------------------------------------------------------------------------------------

def type_delivery(frame: pd.DataFrame, contract: Contract, where: str) -> Cleaned:
    """The delivery typed field by field; records with a bad value go to quarantine with row, field and reason.

    Batch-level faults raise `ContractError` first (see `check_delivery`). A bad value in a `required` field
    rejects the record; in another field the record is kept with the field empty and flagged.
    """
    check_delivery(frame, contract, where)
    decimal = detect_decimal(frame, contract)
    typed = frame.copy()
    for spec in contract.fields.values():
        if spec.type in NUMERIC:
            typed[spec.name] = with_decimal_point(typed[spec.name], decimal)
    cleaned = Cleaned(typed)
    type_fields(cleaned, {n: s.cleaning_field() for n, s in contract.fields.items()}, record_id=contract.record_id)
    for spec in contract.fields.values():
        _quarantine_beyond_type(cleaned, spec, contract.record_id)
    for entry in cleaned.quarantine:
        entry["delivery"] = entry.get("delivery") or where
    return cleaned


def _quarantine_beyond_type(cleaned: Cleaned, spec: FieldContract, record_id: str) -> None:
    text = cleaned.frame[spec.name].astype("string")
    bad = ~_valid_beyond_type(text, spec)
    if not bad.any():
        return
    what = f"expected to match {spec.pattern}" if spec.pattern else "expected a WKT geometry"
    reason = "invalid value " + text.fillna("").map(repr) + f" ({what})"
    if spec.required:
        cleaned.reject(bad, reason=reason, record_id=record_id, fld=spec.name)
    else:
        cleaned.flag(bad, reason=reason + " (record kept, field left empty)", record_id=record_id, fld=spec.name)
        cleaned.frame.loc[bad.reindex(cleaned.frame.index, fill_value=False), spec.name] = pd.NA


def read_source(contract: Contract, city) -> pd.DataFrame:
    """A city's delivery for one source, read with the contract's settings and checked as a batch."""
    path = contract.location(city)
    frame = read_delivery(path, **contract.read_options)
    check_delivery(frame, contract, str(path))
    return frame
