"""Indicators per area, as counts first: numerator and denominator at the smallest level, summed up the levels.

Rates of larger areas are never averages of their members' rates: they are sums of counts (so a district is
weighted by its people, not by its number of zones). Which values are published is decided by disclosure
control (privacy/disclosure.py); withheld cells keep no value, numerator or denominator.
"""

from __future__ import annotations

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


def census_counts(households: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Numerators and denominators of the census indicators per smallest area."""
    h, p = households, persons
    materials_known = h[["wall_material", "floor_material", "roof_material"]].notna().all(axis=1)
    inadequate = (h["wall_material"].isin(INADEQUATE_WALLS) | (h["floor_material"] == "earth")
                  | (h["roof_material"] == "straw_cane_palm")).fillna(False)
    per_bedroom = h["members"].astype(float) / h["bedrooms"].astype(float).clip(lower=1)
    age = p["age"].astype(float)
    adult, school_age = age >= 15, (age >= 6) & (age <= 18)
    parts = [
        _share(h, "inadequate_materials", inadequate, materials_known),
        _share(h, "overcrowding", (per_bedroom > 3).fillna(False), h["bedrooms"].notna()),
        _share(h, "no_piped_water", ~h["water_source"].isin(PIPED_WATER), h["water_source"].notna()),
        _share(h, "no_sanitation", ~h["sanitation"].isin(SAFE_SANITATION), h["sanitation"].notna()),
        _share(h, "no_electricity", (h["electricity"] == False).fillna(False), h["electricity"].notna()),  # noqa: E712
        _share(h, "unclean_cooking_fuel", h["cooking_fuel"].isin(UNCLEAN_FUELS), h["cooking_fuel"].notna()),
        _share(p, "illiteracy", (p["literate"] == False).fillna(False), adult & p["literate"].notna()),  # noqa: E712
        _share(p, "school_non_attendance", (p["attends_school"] == False).fillna(False),  # noqa: E712
               school_age & p["attends_school"].notna()),
        _share(p, "no_health_insurance", (p["health_insurance"] == False).fillna(False),  # noqa: E712
               p["health_insurance"].notna()),
    ]
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
