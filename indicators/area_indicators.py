"""Indicators per area, as counts first: numerator and denominator at the smallest level, summed up the levels.

Rates of larger areas are never averages of their members' rates: they are sums of counts (so a district is
weighted by its people, not by its number of zones). Which values are published is decided by disclosure
control (privacy/disclosure.py); withheld cells keep no value, numerator or denominator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from privacy import disclosure

INADEQUATE_WALLS = {"adobe_unplastered", "tapial", "cane_palm_trunk"}
PIPED_WATER = {"piped_inside", "piped_outside"}
SAFE_SANITATION = {"sewer", "septic_tank"}
UNCLEAN_FUELS = {"firewood", "dung", "kerosene", "none"}


def _share(frame: pd.DataFrame, indicator: str, condition: pd.Series, known: pd.Series) -> pd.DataFrame:
    """Per area: numerator = rows meeting `condition` among `known` rows, denominator = `known` rows."""
    counts = pd.DataFrame({
        "area_id": frame["area_id"],
        "numerator": (condition & known).astype(float),
        "denominator": known.astype(float),
    }).groupby("area_id", as_index=False).sum()
    return counts.assign(indicator_id=indicator, multiplier=1.0)


# The census indicators: registered functions, one per catalogue entry (`computed_by: census:<name>`), each
# returning the table it counts (households or persons), who meets the condition and who is measured. The
# catalogue check (indicators/registry.py) fails on an entry no function computes and a function no entry lists.
CENSUS_INDICATORS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.Series, pd.Series]]] = {}


def census_indicator(function):
    """Register `function` as the census indicator of its name."""
    CENSUS_INDICATORS[function.__name__] = function
    return function


@census_indicator
def inadequate_materials(h: pd.DataFrame, p: pd.DataFrame):
    """Households whose walls are unplastered adobe, tapial, cane, palm or trunk, or whose floor is earth, or whose
    roof is straw, cane or palm / households with all three materials reported."""
    known = h[["wall_material", "floor_material", "roof_material"]].notna().all(axis=1)
    inadequate = (h["wall_material"].isin(INADEQUATE_WALLS) | (h["floor_material"] == "earth")
                  | (h["roof_material"] == "straw_cane_palm")).fillna(False)
    return h, inadequate, known


@census_indicator
def overcrowding(h: pd.DataFrame, p: pd.DataFrame):
    """Households with more than 3 members per bedroom (no bedroom counts as one) / households with bedrooms
    reported."""
    per_bedroom = h["members"].astype(float) / h["bedrooms"].astype(float).clip(lower=1)
    return h, (per_bedroom > 3).fillna(False), h["bedrooms"].notna()


@census_indicator
def no_piped_water(h: pd.DataFrame, p: pd.DataFrame):
    """Households whose water is not piped inside the dwelling or to the plot / households with the water source
    reported."""
    return h, ~h["water_source"].isin(PIPED_WATER), h["water_source"].notna()


@census_indicator
def no_sanitation(h: pd.DataFrame, p: pd.DataFrame):
    """Households whose toilet is not connected to a sewer or a septic tank / households with sanitation reported."""
    return h, ~h["sanitation"].isin(SAFE_SANITATION), h["sanitation"].notna()


@census_indicator
def no_electricity(h: pd.DataFrame, p: pd.DataFrame):
    """Households without electricity / households with electricity reported."""
    return h, (h["electricity"] == False).fillna(False), h["electricity"].notna()  # noqa: E712


@census_indicator
def unclean_cooking_fuel(h: pd.DataFrame, p: pd.DataFrame):
    """Households cooking with firewood, dung or kerosene, or not cooking / households with the fuel reported."""
    return h, h["cooking_fuel"].isin(UNCLEAN_FUELS), h["cooking_fuel"].notna()


@census_indicator
def illiteracy(h: pd.DataFrame, p: pd.DataFrame):
    """Persons aged 15 or more who cannot read and write / persons aged 15 or more with literacy reported."""
    adult = p["age"].astype(float) >= 15
    return p, (p["literate"] == False).fillna(False), adult & p["literate"].notna()  # noqa: E712


@census_indicator
def school_non_attendance(h: pd.DataFrame, p: pd.DataFrame):
    """Persons aged 6 to 18 not attending school / persons aged 6 to 18 with attendance reported."""
    age = p["age"].astype(float)
    school_age = (age >= 6) & (age <= 18)
    return p, (p["attends_school"] == False).fillna(False), school_age & p["attends_school"].notna()  # noqa: E712


@census_indicator
def no_health_insurance(h: pd.DataFrame, p: pd.DataFrame):
    """Persons without health insurance / persons with insurance reported."""
    return p, (p["health_insurance"] == False).fillna(False), p["health_insurance"].notna()  # noqa: E712


def census_counts(households: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Numerators and denominators of every registered census indicator per smallest area."""
    parts = []
    for name, rule in CENSUS_INDICATORS.items():
        frame, condition, known = rule(households, persons)
        parts.append(_share(frame, name, condition, known))
    return pd.concat(parts, ignore_index=True)


def population(households: pd.DataFrame, persons: pd.DataFrame, base_ids: list[str]) -> pd.DataFrame:
    """Residents and households per smallest area (0 where none), the denominators of service rates."""
    residents = persons.groupby("area_id").size().reindex(base_ids, fill_value=0)
    homes = households.groupby("area_id").size().reindex(base_ids, fill_value=0)
    return pd.DataFrame({"area_id": base_ids, "residents": residents.to_numpy(), "households": homes.to_numpy()})


def roll_up(counts: pd.DataFrame, parents: pd.DataFrame) -> pd.DataFrame:
    """Counts at every level: each smallest area's counts summed into itself and all its ancestors.

    `numerator_cases`/`denominator_cases` (the households behind a share of persons) roll up too; where a count
    has none, its cases are its counts (households or persons counted one by one, events).
    """
    joined = counts.merge(parents, left_on="area_id", right_on="base_id", suffixes=("_base", ""))
    sums = {"numerator": ("numerator", "sum"), "denominator": ("denominator", "sum")}
    if "numerator_cases" in joined:
        joined["numerator_cases"] = joined["numerator_cases"].fillna(joined["numerator"])
        joined["denominator_cases"] = joined["denominator_cases"].fillna(joined["denominator"])
        sums.update(numerator_cases=("numerator_cases", "sum"), denominator_cases=("denominator_cases", "sum"))
    return (joined.groupby(["area_id", "level", "indicator_id"], as_index=False)
            .agg(**sums, multiplier=("multiplier", "first")))


NOTES = {
    disclosure.PRIMARY: "suppressed: too few cases behind the figure (docs/privacy.md)",
    disclosure.SENSITIVE: "suppressed: sensitive indicator, too few cases behind the figure (docs/privacy.md)",
    disclosure.SECONDARY: "suppressed so that another suppressed figure cannot be worked out (docs/privacy.md)",
}


def exact_values(rolled: pd.DataFrame, catalogue: pd.DataFrame, areas: pd.DataFrame, period: str,
                 notes: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per area and indicator (every area, every indicator) with its exact value, before disclosure
    control: what the index is scored from (`staging.indicator_values`), never published as such.

    An area with no counts for an indicator (e.g. no sensor in range) gets a NULL value and a note saying why.
    """
    grid = areas[["area_id", "level"]].merge(catalogue[["indicator_id"]], how="cross")
    out = grid.merge(rolled, on=["area_id", "level", "indicator_id"], how="left")
    measured = out["denominator"].notna() & (out["denominator"] > 0)
    out["value"] = np.where(measured, out["numerator"] / out["denominator"].where(measured, 1) * out["multiplier"],
                            np.nan)
    notes = notes or {}
    why = out["indicator_id"].map(notes).astype(object)  # object: no notes at all is a column of NaN floats
    out["note"] = why.fillna("no one to measure: the denominator is zero").where(~measured)
    out.loc[~measured, ["numerator", "denominator"]] = np.nan
    out["period"] = period
    columns = ["area_id", "level", "indicator_id", "period", "value", "numerator", "denominator",
               *[c for c in ("numerator_cases", "denominator_cases") if c in out], "note"]
    return out[columns].sort_values(["level", "area_id", "indicator_id"]).reset_index(drop=True)


def publish_values(exact: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """The published rows: `exact` with every cell disclosure control withholds (`reasons`, aligned with it)
    left without value, numerator and denominator, its reason in `suppression` and a note that does not say
    which rule it broke (that would tell whether the count was small or nearly everyone)."""
    out = exact.copy()
    suppressed = reasons.notna().to_numpy()
    out["suppression"] = pd.array(reasons.to_numpy(), dtype="string")
    out["suppressed"] = suppressed
    out.loc[suppressed, ["value", "numerator", "denominator"]] = np.nan
    out.loc[suppressed, "note"] = reasons[suppressed].map(NOTES).to_numpy()
    columns = ["area_id", "level", "indicator_id", "period", "value", "numerator", "denominator", "suppressed",
               "suppression", "note"]
    return out[columns]
