"""Aggregate census tables from `raw` to `staging`: the areas and one value per area, indicator and period.

    staging.areas                 city, area_id, level, depth, name, parent_id, geometry_wkt (as
                                  `transforms.areas.areas_from_boundaries` builds them: a parent is the union of
                                  its members)
    staging.area_indicator_values city, area_id, level, indicator_id, period, value, unit, population, note,
                                  _delivery, _row, _field (the file, row and column the figure came from)

Rules, in order:
1. Each table is typed against its source contract (`sources.contracts.type_delivery`): a bad value goes to
   `audit.quarantine` with its row, field and reason; a repeated area (and indicator) keeps its first row.
2. Not asked is not zero: a census that did not ask a question publishes 0.0 for every area. An indicator whose
   figures in one period are all exactly 0 (over at least two areas) is taken as not measured that period: the
   values are NULL with a note. (A real rate that is 0 everywhere would be indistinguishable, and no census rate
   of the kind in these tables is.)
3. A figure in `percent` above 100 is flagged and left empty; `percent` is stored as a share (÷100, unit
   `share`), every other unit as delivered.
4. Areas: the smallest level comes from the codes in the tables and the boundary features with a polygon; its
   name from the `names` source (else the boundary file); the parent's code is the first `parent_code_digits`
   digits of the code, its name from the `names` source's `parent_name` column. Invalid polygons are repaired
   (`make_valid`, polygonal parts kept) and flagged. An area with figures but no polygon (a feature without
   geometry, or no feature at all) stays an area, with `geometry_wkt` NULL, and is reported and flagged.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely

from bienestar import warehouse
from cities import City, CityConfigError
from sources.census_tables import census_contracts, census_section, load_indicator_catalogue
from sources.contracts import Contract, type_delivery
from transforms.areas import areas_from_boundaries
from transforms.cleaning import Cleaned, drop_duplicates

VALUE_COLUMNS = ["area_id", "indicator_id", "period", "value", "_delivery", "_row", "_field"]
NOT_ASKED = ("not measured in {period}: every area reports exactly 0, the source's mark for a question that "
             "census did not ask")


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------

def table_values(frame: pd.DataFrame, spec: dict[str, Any], catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per area, indicator and period from a typed long or wide table (VALUE_COLUMNS)."""
    area = frame[spec["area"]].astype("string")
    if spec["shape"] == "wide":
        parts = [_part(frame, area, target["indicator"], str(target["period"]), column)
                 for column, target in spec["columns"].items()]
    else:
        ids = dict(zip(catalogue["indicator_id"], catalogue["indicator_id"], strict=True))
        labelled = catalogue.dropna(subset=["label"])
        ids.update(zip(labelled["label"], labelled["indicator_id"], strict=True))
        indicator = frame[spec["indicator"]].map(ids).astype("string")
        if spec.get("periods"):
            parts = [_part(frame, area, indicator, str(period), column) for period, column in spec["periods"].items()]
        else:
            parts = [_part(frame, area, indicator, frame[spec["period"]].astype("string"), spec["value"])]
    values = pd.concat(parts, ignore_index=True)
    return values[values["indicator_id"].notna() & values["area_id"].notna()].reset_index(drop=True)


def _part(frame: pd.DataFrame, area: pd.Series, indicator, period, column: str) -> pd.DataFrame:
    return pd.DataFrame({
        "area_id": area, "indicator_id": indicator, "period": period,
        "value": pd.to_numeric(frame[column]).astype("Float64"),
        "_delivery": frame["_delivery"].astype("string"), "_row": frame["_row"].astype("int64"), "_field": column,
    })[VALUE_COLUMNS]


def table_population(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Census population per area and period from a table's `population` columns (area_id, period, population)."""
    parts = [pd.DataFrame({"area_id": frame[spec["area"]].astype("string"), "period": str(period),
                           "population": pd.to_numeric(frame[column]).astype("Int64")})
             for period, column in (spec.get("population") or {}).items()]
    if not parts:
        return pd.DataFrame({"area_id": pd.Series(dtype="string"), "period": pd.Series(dtype="string"),
                             "population": pd.Series(dtype="Int64")})
    return pd.concat(parts, ignore_index=True).dropna(subset=["area_id"])


def blank_not_asked(values: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Values of an (indicator, period) where every area reports exactly 0 set to NULL, with a note."""
    stats = values.groupby(["indicator_id", "period"])["value"].agg(
        measured="count", zeros=lambda s: int((s == 0).sum()))
    not_asked = [tuple(i) for i in stats.index[(stats["measured"] >= 2) & (stats["zeros"] == stats["measured"])]]
    key = pd.MultiIndex.from_frame(values[["indicator_id", "period"]])
    hit = pd.Series(key.isin(not_asked), index=values.index)
    values = values.assign(note=pd.Series(pd.NA, index=values.index, dtype="string"))
    values.loc[hit, "value"] = pd.NA
    values.loc[hit, "note"] = values.loc[hit, "period"].map(lambda p: NOT_ASKED.format(period=p))
    return values, sorted(not_asked)


def flag_percent_out_of_range(values: pd.DataFrame, catalogue: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Percentages above 100 left empty, each with a quarantine entry naming the file, row and column."""
    unit = values["indicator_id"].map(dict(zip(catalogue["indicator_id"], catalogue["unit"], strict=True)))
    bad = ((unit == "percent") & (values["value"] > 100)).fillna(False).astype(bool)
    entries = [{
        "delivery": row["_delivery"], "row": int(row["_row"]), "record_id": row["area_id"], "field": row["_field"],
        "reason": f"{row['indicator_id']}: {row['value']} is above 100 (expected a percentage) "
                  "(record kept, field left empty)",
        "action": "flagged", "record": {"indicator_id": row["indicator_id"], "period": row["period"]},
    } for _, row in values[bad].iterrows()]
    values = values.copy()
    values.loc[bad, "value"] = pd.NA
    return values, entries


def in_stored_units(values: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Percentages as shares (0..1, unit `share`); every other unit as delivered."""
    unit = values["indicator_id"].map(dict(zip(catalogue["indicator_id"], catalogue["unit"], strict=True)))
    percent = (unit == "percent").to_numpy()
    value = values["value"].copy()
    # Rounded to 12 decimals so that 71.2 % is stored as 0.712, not 0.7120000000000001 (the figures carry 6 at most).
    value[percent] = (value[percent] / 100).round(12)
    return values.assign(value=value, unit=unit.where(~percent, "share").astype("string"))


# ---------------------------------------------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------------------------------------------

def repair_polygon(geometry):
    """A valid polygonal geometry from an invalid one (self-intersections): make_valid, polygonal parts only."""
    fixed = shapely.make_valid(geometry)
    if fixed.geom_type in ("Polygon", "MultiPolygon"):
        return fixed
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def boundary_polygons(frame: pd.DataFrame, area: str, delivery: str) -> tuple[dict[str, Any], list[dict]]:
    """Area code -> polygon (valid) from typed boundary features; repaired polygons get a quarantine entry."""
    polygons, entries = {}, []
    for _, row in frame.iterrows():
        wkt = row["geometry_wkt"]
        if pd.isna(wkt) or pd.isna(row[area]):
            continue
        geometry = shapely.from_wkt(wkt)
        if not geometry.is_valid:
            entries.append({
                "delivery": delivery, "row": int(row["_row"]), "record_id": row[area], "field": "geometry_wkt",
                "reason": f"invalid polygon ({shapely.is_valid_reason(geometry)}), repaired with make_valid "
                          "(record kept)",
                "action": "flagged", "record": None,
            })
            geometry = repair_polygon(geometry)
        polygons[str(row[area])] = geometry
    return polygons, entries


def area_table(
    city: City, census: dict[str, Any], typed: dict[str, pd.DataFrame], codes_with_figures: set[str],
    boundary_delivery: str,
) -> tuple[pd.DataFrame, dict[str, Any], list[dict]]:
    """The smallest-level areas with their parent's code and name, ready for `areas_from_boundaries`.

    Returns the table, a report (areas with figures but no polygon, boundary features without geometry) and
    quarantine entries for the boundary source.
    """
    if len(city.levels) > 2:
        raise CityConfigError(f"{city.folder / 'city.yaml'}: aggregate census tables support two levels "
                              "(the parent derived from the code); this city lists more")
    spec = census["areas"]
    digits = int(spec.get("parent_code_digits", 2))
    bounds = spec["boundaries"]
    features = typed[bounds["source"]]
    polygons, entries = boundary_polygons(features, bounds["area"], boundary_delivery)
    names = _first_by_code(features, bounds["area"], bounds.get("name"))
    parent_names: dict[str, str] = {}
    if spec.get("names"):
        named = spec["names"]
        source = typed[named["source"]]
        names.update(_first_by_code(source, named["area"], named.get("name")))
        if named.get("parent_name"):
            parent_names = _first_by_code(source.assign(_parent=source[named["area"]].str[:digits]), "_parent",
                                          named["parent_name"])
    codes = sorted(codes_with_figures | set(polygons))
    small = city.levels[0]
    table = pd.DataFrame({small["code"]: codes, small["name"]: [names.get(c, c) for c in codes],
                          # object dtype keeps None (pandas 3 would infer str with NaN, which shapely rejects)
                          "geometry_wkt": pd.Series([shapely.to_wkt(polygons[c]) if c in polygons else None
                                                     for c in codes], dtype=object)})
    if len(city.levels) == 2:
        parent = city.levels[1]
        table.insert(2, parent["code"], [c[:digits] for c in codes])
        table.insert(3, parent["name"], [parent_names.get(c[:digits], c[:digits]) for c in codes])
    report, missing_entries = _missing_polygons(features, bounds["area"], codes_with_figures, polygons,
                                                boundary_delivery)
    return table, report, entries + missing_entries


def _first_by_code(frame: pd.DataFrame, code: str, name: str | None) -> dict[str, str]:
    if not name:
        return {}
    pairs = frame[[code, name]].dropna().drop_duplicates(subset=[code], keep="first")
    return dict(zip(pairs[code].astype(str), pairs[name].astype(str), strict=True))


def _missing_polygons(
    features: pd.DataFrame, area: str, codes_with_figures: set[str], polygons: dict, delivery: str,
) -> tuple[dict[str, Any], list[dict]]:
    """Which areas with figures have no polygon, and why; boundary features without geometry."""
    empty = features[features["geometry_wkt"].isna()]
    empty_rows = dict(zip(empty[area].astype(str), empty["_row"].astype(int), strict=True))
    without = sorted(codes_with_figures - set(polygons))
    entries = [{
        "delivery": delivery, "row": empty_rows.get(code), "record_id": code, "field": "geometry_wkt",
        "reason": ("the boundary feature has no geometry" if code in empty_rows else "not in the boundary file")
        + ": the area has figures but cannot be mapped (area kept, geometry left empty)",
        "action": "flagged", "record": None,
    } for code in without]
    entries += [{
        "delivery": delivery, "row": row, "record_id": code, "field": "geometry_wkt",
        "reason": "the boundary feature has no geometry and the tables have no figures for it: not an area",
        "action": "rejected", "record": None,
    } for code, row in sorted(empty_rows.items()) if code not in codes_with_figures]
    report = {
        "without_polygon": without,
        "boundary_features_without_geometry": sorted(empty_rows),
        "boundary_features_without_geometry_or_figures": sorted(set(empty_rows) - codes_with_figures),
    }
    return report, entries


# ---------------------------------------------------------------------------------------------------------------
# The staging step
# ---------------------------------------------------------------------------------------------------------------

def _typed_source(con, city: City, name: str, contract: Contract, key: list[str]) -> Cleaned:
    """One source's raw partition typed against its contract, repeats of `key` rejected."""
    if not warehouse.table_exists(con, contract.table):
        raise RuntimeError(f"no {contract.table} yet: run load_census_tables({city.name!r}) first")
    raw = con.execute(f"SELECT * FROM {contract.table} WHERE city = ? AND _source = ? ORDER BY _row",
                      [city.name, name]).df()
    if raw.empty:
        raise RuntimeError(f"no raw rows of {name!r} for city {city.name!r}: run load_census_tables first")
    cleaned = type_delivery(raw, contract, str(contract.location(city)))
    label = key[0] if len(key) == 1 else "+".join(key)
    if len(key) > 1:  # a composite key as one column, named after its parts for the quarantine reason
        cleaned.frame = cleaned.frame.assign(**{label: cleaned.frame[key].astype("string").fillna("")
                                                .agg("/".join, axis=1)})
    drop_duplicates(cleaned, label, [c for c in contract.fields if c not in key])
    if len(key) > 1:
        cleaned.frame = cleaned.frame.drop(columns=[label])
    cleaned.frame = cleaned.frame.sort_values("_row").reset_index(drop=True)
    return cleaned


def _key_of(name: str, census: dict[str, Any]) -> list[str]:
    spec = census["tables"].get(name)
    if spec is None:
        return [census["areas"]["boundaries"]["area"]]
    if spec["shape"] == "long":
        return [spec["area"], spec["indicator"]] + ([spec["period"]] if spec.get("period") else [])
    return [spec["area"]]


def stage_census_tables(city: City) -> dict[str, Any]:
    """staging.areas and staging.area_indicator_values of a city with aggregate census tables, from raw.

    Replaces the city's partitions of both tables and its quarantine entries for these sources; returns counts
    and what was found on the way (indicators not asked in a period, areas without a polygon).
    """
    census = census_section(city)
    catalogue = load_indicator_catalogue(city)
    contracts = census_contracts(city)
    boundary_source = census["areas"]["boundaries"]["source"]
    with warehouse.session(city) as con:
        cleaned = {name: _typed_source(con, city, name, contract, _key_of(name, census))
                   for name, contract in contracts.items()}
        typed = {name: c.frame for name, c in cleaned.items()}
        quarantine = {name: list(c.quarantine) for name, c in cleaned.items()}

        values = pd.concat([table_values(typed[n], spec, catalogue) for n, spec in census["tables"].items()],
                           ignore_index=True)
        values, not_asked = blank_not_asked(values)
        values, out_of_range = flag_percent_out_of_range(values, catalogue)
        for entry in out_of_range:
            quarantine[_source_of(entry["delivery"], contracts)].append(entry)
        values = in_stored_units(values, catalogue)

        delivery = contracts[boundary_source].path
        table, report, area_entries = area_table(city, census, typed, set(values["area_id"]), delivery)
        quarantine[boundary_source].extend(area_entries)
        areas = areas_from_boundaries(city, table)

        population = pd.concat([table_population(typed[n], spec) for n, spec in census["tables"].items()],
                               ignore_index=True).drop_duplicates(subset=["area_id", "period"], keep="first")
        values = values.merge(population, on=["area_id", "period"], how="left").assign(level=city.levels[0]["id"])
        values = values[["area_id", "level", "indicator_id", "period", "value", "unit", "population", "note",
                         "_delivery", "_row", "_field"]].sort_values(["indicator_id", "period", "area_id"])

        warehouse.replace_partition(con, "staging.areas", areas, {"city": city.name})
        warehouse.replace_partition(con, "staging.area_indicator_values", values.reset_index(drop=True),
                                    {"city": city.name})
        for name, entries in quarantine.items():
            warehouse.replace_quarantine(con, city.name, "staging", f"census_tables/{name}",
                                         warehouse.quarantine_frame(entries))
    by_level = areas.groupby("level")["area_id"].count().to_dict()
    return {
        "areas": len(areas), "areas_by_level": {k: int(v) for k, v in by_level.items()},
        "indicator_values": len(values), "quarantined": sum(len(e) for e in quarantine.values()),
        "not_asked": [f"{indicator} {period}" for indicator, period in not_asked], **report,
    }


def _source_of(delivery: str, contracts: dict[str, Contract]) -> str:
    return next(name for name, contract in contracts.items() if contract.path == delivery)
