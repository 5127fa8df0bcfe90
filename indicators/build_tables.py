"""The `marts` tables of a city whose census comes as aggregate tables (the Bolivian municipalities).

Reads staging.areas and staging.area_indicator_values (transforms/census_tables.py) and writes, for every period
(census) the staged values hold, the tables and columns the sample city gets from indicators/build.py
(docs/marts.md):

    marts.areas                  every level; `population` from the latest census that gives one (for Bolivia the
                                 2024 census: the tables hold no 2012 population); a parent's is the sum of its
                                 members', NULL unless every member has one
    marts.indicator_catalogue    the city's catalogue (`census.indicators`), units as stored (`percent` -> `share`)
    marts.dimensions             its dimensions, `display_order` in file order, `in_index` when the index scores it
    marts.area_population        every area's population in each period whose tables give one
    marts.indicator_values       per period, one row per area and catalogue indicator (see below)
    marts.index_scores, marts.index_weights, marts.index_runs   per period, the city's index spec on every level

Indicator values:
- Smallest level (municipio): the figure as the census tables publish it (percentages as shares 0..1).
  `numerator` and `denominator` are NULL: INE publishes rates, not the counts behind them. Small-count
  suppression does not apply (the catalogue's `min_denominator` is 0: these are published figures, not
  microdata), so `suppressed` is false. A figure the census did not ask keeps staging's note and a NULL value;
  an area with no staged figure at all gets a NULL value and a note saying so.
- Larger levels (departamento): the population-weighted mean of their smallest areas' values, never a plain mean
  of rates. The weights are each municipality's total population from the census of the same period when the
  tables give it, else from the latest census that does: for Bolivia the 2024 population weights both 2012 and
  2024. Total population stands in for each indicator's own denominator (women aged 15-19, households, ...),
  which the tables do not give. Areas without a value or a weight are left out and counted in the note; the note
  of every such row names the weights.

Index scores: the spec's goalposts are fixed (cities/bolivia_municipal/wellbeing.yaml explains why), so both
periods are normalised on the same scale and a change in score is a change in the municipality. Scores are
computed for each level separately, as in indicators/build.py; ranks and quantiles are per level and period.

Every table is written with `bienestar.warehouse.replace_partition` keyed on the city (and period), so a rerun
replaces what it wrote and gives the same database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bienestar import warehouse
from cities import City
from indicators.catalogue import dimension_table, load_catalogue
from indicators.comparable import long_scores, period_weights, wide_by_level
from indicators.engine import ENGINE_VERSION, IndexSpec, compute_index, load_spec
from privacy import disclosure
from sources.census_tables import census_section
from transforms.areas import area_parents

VALUE_COLUMNS = ["area_id", "level", "indicator_id", "period", "value", "numerator", "denominator", "suppressed",
                 "suppression", "note"]
SCORE_COLUMNS = ["index_id", "area_id", "level", "period", "node_id", "score", "rank", "quantile",
                 "suppressed_inputs"]
STORED_UNITS = {"percent": "share"}  # staging stores percentages as shares (transforms.census_tables)
NO_FIGURE = "no figure in the census tables"


# ---------------------------------------------------------------------------------------------------------------
# Catalogue and areas
# ---------------------------------------------------------------------------------------------------------------

def table_catalogue(city: City) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The city's indicator catalogue and dimensions as the marts publish them (units as stored)."""
    path: Path = city.folder / census_section(city)["indicators"]  # a clear error for a city without tables
    catalogue, dimensions = load_catalogue(path, min_denominator=disclosure.Rules.of(city).min_denominator)
    catalogue["unit"] = catalogue["unit"].replace(STORED_UNITS)
    catalogue["min_denominator"] = catalogue["min_denominator"].astype("int64")
    return catalogue, dimensions


def weight_period(staged: pd.DataFrame, period: str) -> str | None:
    """The census whose population weighs `period`'s values: the same one if staged, else the latest staged."""
    known = sorted(staged.loc[staged["population"].notna(), "period"].unique())
    if not known:
        return None
    return period if period in known else known[-1]


def base_population(staged: pd.DataFrame, period: str | None) -> pd.Series:
    """Population per smallest area in `period` (area_id -> persons); empty when no period has one."""
    if period is None:
        return pd.Series(dtype="Int64")
    rows = staged[(staged["period"] == period) & staged["population"].notna()]
    return rows.drop_duplicates("area_id").set_index("area_id")["population"].astype("Int64")


def area_table(areas: pd.DataFrame, population: pd.Series) -> pd.DataFrame:
    """marts.areas: staging's areas with a population (larger areas: the sum, when every member has one)."""
    parents = area_parents(areas)
    members = parents.assign(population=parents["base_id"].map(population).astype("Float64"))
    totals = members.groupby("area_id")["population"].agg(
        lambda s: s.sum() if s.notna().all() else pd.NA)
    out = areas.assign(population=areas["area_id"].map(totals).astype("Int64"))
    return out[["area_id", "level", "depth", "name", "parent_id", "population", "geometry_wkt"]]


# ---------------------------------------------------------------------------------------------------------------
# Indicator values
# ---------------------------------------------------------------------------------------------------------------

def base_values(areas: pd.DataFrame, staged: pd.DataFrame, catalogue: pd.DataFrame, period: str) -> pd.DataFrame:
    """Every smallest area x catalogue indicator in `period`: the published figure, or NULL with a note."""
    base = areas.loc[areas["depth"] == 0, ["area_id", "level"]]
    grid = base.merge(catalogue[["indicator_id"]], how="cross")
    figures = staged.loc[staged["period"] == period, ["area_id", "indicator_id", "value", "note"]]
    out = grid.merge(figures.drop_duplicates(["area_id", "indicator_id"]), on=["area_id", "indicator_id"],
                     how="left", indicator=True)
    note = out["note"].astype("string")
    note = note.mask(out["_merge"] == "left_only", NO_FIGURE)
    return pd.DataFrame({
        "area_id": out["area_id"], "level": out["level"], "indicator_id": out["indicator_id"], "period": period,
        "value": pd.to_numeric(out["value"]).astype(float), "numerator": np.nan, "denominator": np.nan,
        "suppressed": False, "suppression": None, "note": note,
    })[VALUE_COLUMNS]


def parent_values(base: pd.DataFrame, areas: pd.DataFrame, weights: pd.Series, weights_from: str | None,
                  period: str) -> pd.DataFrame:
    """Values of the larger areas: population-weighted means of their smallest areas' values, with a note.

    value = sum(w_i * v_i) / sum(w_i) over the members that have both a value and a weight w_i (population).
    """
    parents = area_parents(areas)
    parents = parents[parents["area_id"] != parents["base_id"]]
    if parents.empty:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    base_level = areas.loc[areas["depth"] == 0, "level"].iloc[0]
    joined = parents.merge(base.rename(columns={"area_id": "base_id", "level": "base_level"}), on="base_id")
    joined["weight"] = joined["base_id"].map(weights).astype(float)
    used = joined["value"].notna() & joined["weight"].notna()
    joined["weighted"] = (joined["value"] * joined["weight"]).where(used, 0.0)
    joined["used_weight"] = joined["weight"].where(used, 0.0)
    joined["used"] = used
    joined = joined.sort_values(["area_id", "indicator_id", "base_id"])
    grouped = joined.groupby(["area_id", "level", "indicator_id"], sort=True)
    out = grouped.agg(weighted=("weighted", "sum"), total=("used_weight", "sum"), used=("used", "sum"),
                      members=("base_id", "count"),
                      member_notes=("note", lambda s: s.dropna().unique().tolist())).reset_index()
    measured = out["used"] > 0
    out["value"] = np.where(measured, out["weighted"] / out["total"].where(measured, 1.0), np.nan)
    if weights_from is None:
        source = "no population in the tables"
    else:
        source = f"weights: total population, census {weights_from}"
        if weights_from != period:
            source += f" (the tables give no {period} population)"
    out["note"] = [
        _parent_note(int(row.used), int(row.members), row.member_notes, base_level, source)
        for row in out.itertuples()
    ]
    out = out.assign(period=period, numerator=np.nan, denominator=np.nan, suppressed=False, suppression=None)
    out["note"] = out["note"].astype("string")
    return out[VALUE_COLUMNS]


def _parent_note(used: int, members: int, member_notes: list[str], base_level: str, source: str) -> str:
    if used == 0:
        if len(member_notes) == 1:
            return member_notes[0]
        return f"no {base_level} area has both a value and a population"
    if used == members:
        return f"population-weighted mean of its {members} {base_level} areas' values; {source}"
    return (f"population-weighted mean of {used} of its {members} {base_level} areas' values ({members - used} "
            f"without a value or a population left out); {source}")


def indicator_values(areas: pd.DataFrame, staged: pd.DataFrame, catalogue: pd.DataFrame,
                     period: str) -> pd.DataFrame:
    """marts.indicator_values of one period: every area of every level x every catalogue indicator."""
    base = base_values(areas, staged, catalogue, period)
    weights_from = weight_period(staged, period)
    larger = parent_values(base, areas, base_population(staged, weights_from), weights_from, period)
    values = pd.concat([base, larger], ignore_index=True)
    values["value"] = values["value"].astype(float)
    values["numerator"] = values["numerator"].astype(float)
    values["denominator"] = values["denominator"].astype(float)
    values["suppressed"] = values["suppressed"].astype(bool)
    values["note"] = values["note"].astype("string")
    values["suppression"] = values["suppression"].astype("string")  # outside disclosure control: all NULL
    return values.sort_values(["level", "area_id", "indicator_id"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# Index scores
# ---------------------------------------------------------------------------------------------------------------

def score_levels(values: pd.DataFrame, spec: IndexSpec, period: str) -> pd.DataFrame:
    """marts.index_scores rows of one period: every node for every area, each level scored on its own."""
    parts = []
    for level, wide in sorted(wide_by_level(values, spec.unit).items()):
        scored = compute_index(wide, spec)
        long = long_scores(scored, spec)
        long["quantile"] = pd.NA
        if "quantile" in scored.columns:
            root = long["node_id"] == spec.root
            quantile = scored.set_index(spec.unit)["quantile"]
            long.loc[root, "quantile"] = long.loc[root, "area_id"].map(quantile).to_numpy()
        parts.append(long.assign(level=level))
    scores = pd.concat(parts, ignore_index=True).assign(index_id=spec.id, period=period, suppressed_inputs=0)
    scores["score"] = scores["score"].astype(float)
    scores["rank"] = scores["rank"].astype("Int64")
    scores["quantile"] = pd.to_numeric(scores["quantile"]).astype("Int64")
    return scores[SCORE_COLUMNS].sort_values(["level", "node_id", "area_id"]).reset_index(drop=True)


def outside_goalposts(values: pd.DataFrame, spec: IndexSpec) -> int:
    """How many values lie outside their indicator's goalposts (they are clipped to the nearest goalpost)."""
    count = 0
    for indicator_id in spec.indicator_ids:
        settings = spec.normalisation(indicator_id)
        if settings["method"] != "goalposts":
            continue
        column = spec.column(indicator_id)
        present = values.loc[values["indicator_id"] == column, "value"].dropna()
        count += int(((present < settings["min"]) | (present > settings["max"])).sum())
    return count


# ---------------------------------------------------------------------------------------------------------------
# The marts step
# ---------------------------------------------------------------------------------------------------------------

def build_table_marts(city: City) -> dict:
    """Every marts table of a city with aggregate census tables, for every period staged (see the module doc).

    Returns the periods built, row counts per period, and per period the number of values outside the index's
    goalposts (clipped).
    """
    catalogue, dimensions = table_catalogue(city)
    spec = load_spec(city.index_spec_path)  # fail fast on a bad spec, before the database
    spec_yaml = city.index_spec_path.read_text(encoding="utf-8")
    with warehouse.session(city) as con:
        areas = con.execute("SELECT area_id, level, depth, name, parent_id, geometry_wkt FROM staging.areas "
                            "WHERE city = ? ORDER BY depth, area_id", [city.name]).df()
        staged = con.execute("SELECT area_id, indicator_id, period, value, population, note "
                             "FROM staging.area_indicator_values WHERE city = ? "
                             "ORDER BY period, indicator_id, area_id", [city.name]).df()
        if areas.empty or staged.empty:
            raise RuntimeError(f"no staged census tables for {city.name!r}: run load_census_tables and "
                               "stage_census_tables first")
        periods = sorted(staged["period"].unique())
        population = base_population(staged, weight_period(staged, periods[-1]))
        marts_areas = area_table(areas, population)
        key = {"city": city.name}
        warehouse.replace_partition(con, "marts.areas", marts_areas, key)
        warehouse.replace_partition(con, "marts.indicator_catalogue", catalogue.drop(columns="computed_by"), key)
        warehouse.replace_partition(con, "marts.dimensions", dimension_table(dimensions, set(spec.nodes)), key)
        counts: dict[str, dict[str, int]] = {"indicator_values": {}, "index_scores": {}, "outside_goalposts": {}}
        run = pd.DataFrame([{"spec_sha256": spec.sha256(), "engine_version": ENGINE_VERSION, "spec_yaml": spec_yaml}])
        for period in periods:
            values = indicator_values(areas, staged, catalogue, period)
            scores = score_levels(values, spec, period)
            day = city.census_day(period)  # the tables describe the census day; no margins: published rates
            values = values.assign(period_start=pd.Series([day] * len(values), dtype=object),
                                   period_end=pd.Series([day] * len(values), dtype=object),
                                   moe_low=np.nan, moe_high=np.nan)
            warehouse.replace_partition(con, "marts.indicator_values", values, {**key, "period": period})
            index_key = {**key, "index_id": spec.id, "period": period}
            warehouse.replace_partition(con, "marts.index_scores", scores, index_key)
            warehouse.replace_partition(con, "marts.index_weights", period_weights(spec, scores, values), index_key)
            warehouse.replace_partition(con, "marts.index_runs", run, index_key)
            if weight_period(staged, period) == period:  # the period's own population, when its tables have one
                by_period = area_table(areas, base_population(staged, period))[["area_id", "population"]]
                warehouse.replace_partition(con, "marts.area_population", by_period, {**key, "period": period})
            counts["indicator_values"][period] = len(values)
            counts["index_scores"][period] = len(scores)
            counts["outside_goalposts"][period] = outside_goalposts(values, spec)
    return {"areas": len(marts_areas), "periods": periods, **counts}
