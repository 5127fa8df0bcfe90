"""Aggregate census tables (figures per area, no microdata) landed in `raw` through the file connectors.

A city whose census comes as published tables rather than household and person records (the Bolivian
municipalities) describes them in its `city.yaml`: the source contracts under `sources:` and, under
`census.tables`, the shape of each table:

    long   one row per area and indicator: `area` (area code column), `indicator` (the column holding the
           indicator's label or id) and either `periods` ({period: column holding its figure}) or `period` and
           `value` (the columns holding the period and the figure)
    wide   one row per area: `area` and `columns` ({column: {indicator: id, period: "2024"}})

Either may add `population` ({period: column}): the census population of the area. `census.areas.boundaries`
names the boundary source, `census.indicators` the city's indicator catalogue (labels, units).

Every delivery is read with its contract's settings and checked as a batch (`sources.contracts.check_delivery`)
before anything is written, so one broken table loads nothing at all. Raw keeps the text as delivered with the
lineage columns of `sources.files` (`_source`, `_delivery`, `_sha256`, `_row`, `_loaded_for`), one partition per
city and source, replaced on every load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bienestar import warehouse
from cities import City, CityConfigError, read_yaml
from indicators.catalogue import check_computed, load_catalogue, table_computed
from sources.contracts import KNOWN_UNITS, Contract, ContractError, check_delivery, source_contracts
from sources.files import prepare_delivery

SHAPES = {"long": ("area", "indicator"), "wide": ("area", "columns")}


def census_section(city: City) -> dict[str, Any]:
    """The city's `census` section, checked for the aggregate-table keys."""
    census = city.section("census")
    where = f"{city.folder / 'city.yaml'}: census"
    for key in ("tables", "indicators", "areas"):
        if not census.get(key):
            raise CityConfigError(f"{where}: missing {key!r} (aggregate census tables need tables, indicators "
                                  "and areas)")
    for name, spec in census["tables"].items():
        shape = spec.get("shape")
        if shape not in SHAPES:
            raise CityConfigError(f"{where}.tables.{name}: shape must be long or wide, got {shape!r}")
        missing = [k for k in SHAPES[shape] if not spec.get(k)]
        if shape == "long" and not spec.get("periods") and not (spec.get("period") and spec.get("value")):
            missing.append("periods (or period and value)")
        if missing:
            raise CityConfigError(f"{where}.tables.{name}: missing {', '.join(missing)} for a {shape} table")
    if not census["areas"].get("boundaries", {}).get("source"):
        raise CityConfigError(f"{where}.areas: missing boundaries.source (the source holding the area polygons)")
    return census


def load_indicator_catalogue(city: City) -> pd.DataFrame:
    """The city's indicator catalogue (`census.indicators`), checked, with INE labels and delivered units."""
    census = census_section(city)
    path: Path = city.folder / census["indicators"]
    checked, _ = load_catalogue(path)  # the catalogue's own checks: required keys, known dimension, direction, ids
    entries = read_yaml(path)["indicators"]
    labels = checked.assign(label=[e.get("label") for e in entries])
    check_computed(labels, table_computed(census, labels), str(path))  # every table figure catalogued, and back
    frame = pd.DataFrame([{
        "indicator_id": e["id"], "label": e.get("label"), "unit": e["unit"], "name_es": e["name_es"],
        "name_en": e["name_en"], "dimension": e["dimension"], "direction": e["direction"],
    } for e in entries])
    unknown = frame[~frame["unit"].isin(list(KNOWN_UNITS))]
    if not unknown.empty:
        first = unknown.iloc[0]
        raise ContractError(f"{path}: indicator {first['indicator_id']!r}: unknown unit {first['unit']!r}. Known "
                            f"units: {', '.join(KNOWN_UNITS)}. Use one, or add it to KNOWN_UNITS in "
                            "sources/contracts.py with how staging converts it.")
    labels = frame["label"].dropna()
    if labels.duplicated().any():
        raise ContractError(f"{path}: label {labels[labels.duplicated()].iloc[0]!r} is given to two indicators")
    return frame


def census_contracts(city: City) -> dict[str, Contract]:
    """The contracts of the census tables and of the boundary source, in load order.

    A long table's indicator column may only hold the labels (or ids) the catalogue knows: a few unknown rows
    are quarantined, a table of them (a new layout, a renamed indicator set) stops the load.
    """
    census = census_section(city)
    contracts = source_contracts(city)
    names = [*census["tables"], census["areas"]["boundaries"]["source"]]
    missing = [n for n in names if n not in contracts]
    if missing:
        raise CityConfigError(f"{city.folder / 'city.yaml'}: census names source(s) {', '.join(missing)} that "
                              "have no contract under `sources:`")
    catalogue = load_indicator_catalogue(city)
    known = sorted(set(catalogue["label"].dropna()) | set(catalogue["indicator_id"]))
    chosen = {}
    for name in names:
        contract = contracts[name]
        spec = census["tables"].get(name, {})
        if spec.get("shape") == "long":
            if spec["indicator"] not in contract.fields:
                raise CityConfigError(f"{contract.origin}: the indicator column {spec['indicator']!r} of the long "
                                      "table must be one of its fields")
            contract = contract.with_values(spec["indicator"], known)
        chosen[name] = contract
    return chosen


def load_census_tables(city: City) -> dict[str, int]:
    """Every census table and the boundaries into raw, as delivered: rows per source, and boundary features
    without geometry (`<source>_without_geometry`)."""
    census = census_section(city)
    contracts = census_contracts(city)
    frames = {}
    for name, contract in contracts.items():  # read and check everything before writing anything
        frames[name] = prepare_delivery(
            contract.location(city), relative=contract.path, source=name, loaded_for=city.vintage,
            required=list(contract.fields), read_options=contract.read_options,
            check=lambda frame, where, c=contract: check_delivery(frame, c, where),
        )
    counts = {}
    with warehouse.session(city) as con:
        for name, frame in frames.items():
            counts[name] = warehouse.replace_partition(con, contracts[name].table, frame,
                                                       {"city": city.name, "_source": name})
    boundaries = census["areas"]["boundaries"]["source"]
    if "geometry_wkt" in frames[boundaries].columns:
        counts[f"{boundaries}_without_geometry"] = int(frames[boundaries]["geometry_wkt"].isna().sum())
    return counts
