"""Indicators per area, as counts first: numerator and denominator at the smallest level, summed up the levels.

Rates of larger areas are never averages of their members' rates: they are sums of counts (so a district is
weighted by its people, not by its number of zones). Values with a denominator below the indicator's publication
minimum are suppressed (value, numerator and denominator left NULL, `suppressed` true).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INADEQUATE_WALLS = {"adobe_unplastered", "tapial", "cane_palm_trunk"}
PIPED_WATER = {"piped_inside", "piped_outside"}
SAFE_SANITATION = {"sewer", "septic_tank"}
UNCLEAN_FUELS = {"firewood", "dung", "kerosene", "none"}
SERVICE_RATES = {  # indicator: (service family, denominator, multiplier)
    "health_visits_rate": ("health_visits", "residents", 1000),
    "water_outage_rate": ("water_outages", "households", 1000),
    "police_report_rate": ("police_reports", "residents", 1000),
    "waste_complaint_rate": ("waste_complaints", "residents", 1000),
}


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


def service_counts(records: pd.DataFrame, pop: pd.DataFrame) -> pd.DataFrame:
    """Numerators (records) and denominators (residents or households) of the service rates."""
    parts = []
    for indicator, (family, denominator, multiplier) in SERVICE_RATES.items():
        events = records[records["family"] == family].groupby("area_id").size()
        parts.append(pd.DataFrame({
            "area_id": pop["area_id"],
            "numerator": events.reindex(pop["area_id"], fill_value=0).to_numpy(dtype=float),
            "denominator": pop[denominator].to_numpy(dtype=float),
            "indicator_id": indicator,
            "multiplier": float(multiplier),
        }))
    return pd.concat(parts, ignore_index=True)


def sensor_counts(readings: pd.DataFrame, stations: pd.DataFrame, areas: pd.DataFrame, pop: pd.DataFrame,
                  max_distance_m: float, parameter: str = "pm25", indicator: str = "pm25_mean") -> pd.DataFrame:
    """Mean of valid readings of the nearest station within `max_distance_m` of each smallest area's centroid.

    Carried as a population-weighted sum (numerator = mean × residents, denominator = residents) so that larger
    areas roll up to the population-weighted mean of their zones. Areas with no station in range get no row: they
    get no value, not a zero.
    """
    import geopandas as gpd
    import shapely

    valid = readings[(readings["flag"] == "ok") & (readings["parameter"] == parameter)]
    means = valid.groupby("sensor_id")["value"].mean()
    located = stations[stations["sensor_id"].isin(means.index)]
    base = areas[areas["depth"] == 0]
    if located.empty or base.empty:
        return pd.DataFrame(columns=["area_id", "numerator", "denominator", "indicator_id", "multiplier"])
    centroids = gpd.GeoDataFrame(
        {"area_id": base["area_id"].to_numpy()}, geometry=shapely.from_wkt(base["geometry_wkt"].to_numpy()),
        crs="EPSG:4326",
    )
    metric = centroids.estimate_utm_crs()
    centroids = centroids.to_crs(metric)
    centroids["geometry"] = centroids.geometry.centroid
    points = gpd.GeoDataFrame(
        {"sensor_id": located["sensor_id"].to_numpy()},
        geometry=gpd.points_from_xy(located["lon"], located["lat"]), crs="EPSG:4326",
    ).to_crs(metric)
    nearest = gpd.sjoin_nearest(centroids, points, how="inner", max_distance=max_distance_m,
                                distance_col="distance_m")
    # Equidistant stations: keep the smallest sensor id, so the choice is stable.
    nearest = nearest.sort_values(["area_id", "distance_m", "sensor_id"]).drop_duplicates("area_id")
    residents = pop.set_index("area_id")["residents"]
    value = nearest["sensor_id"].map(means).to_numpy(dtype=float)
    weight = nearest["area_id"].map(residents).to_numpy(dtype=float)
    return pd.DataFrame({
        "area_id": nearest["area_id"].to_numpy(),
        "numerator": value * weight,
        "denominator": weight,
        "indicator_id": indicator,
        "multiplier": 1.0,
    })


def roll_up(counts: pd.DataFrame, parents: pd.DataFrame) -> pd.DataFrame:
    """Counts at every level: each smallest area's counts summed into itself and all its ancestors."""
    joined = counts.merge(parents, left_on="area_id", right_on="base_id", suffixes=("_base", ""))
    return (joined.groupby(["area_id", "level", "indicator_id"], as_index=False)
            .agg(numerator=("numerator", "sum"), denominator=("denominator", "sum"),
                 multiplier=("multiplier", "first")))


def publish_values(rolled: pd.DataFrame, catalogue: pd.DataFrame, areas: pd.DataFrame, period: str,
                   notes: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per area and indicator (every area, every indicator), with small counts suppressed.

    An area with no counts for an indicator (e.g. no sensor in range) gets a NULL value and a note saying why.
    """
    grid = areas[["area_id", "level"]].merge(catalogue[["indicator_id", "min_denominator"]], how="cross")
    out = grid.merge(rolled, on=["area_id", "level", "indicator_id"], how="left")
    measured = out["denominator"].notna() & (out["denominator"] > 0)
    suppressed = measured & (out["denominator"] < out["min_denominator"])
    value = np.where(measured, out["numerator"] / out["denominator"].where(measured, 1) * out["multiplier"], np.nan)
    notes = notes or {}
    out["note"] = np.select(
        [suppressed, ~measured],
        ["suppressed: denominator below " + out["min_denominator"].astype(int).astype(str),
         out["indicator_id"].map(notes).fillna("no one to measure: the denominator is zero")],
        default=None,
    )
    out["value"] = np.where(suppressed, np.nan, value)
    # Suppressed cells and cells with no one to measure publish no counts at all.
    out.loc[suppressed | ~measured, ["numerator", "denominator"]] = np.nan
    out["suppressed"] = suppressed
    out["period"] = period
    out["note"] = out["note"].where(out["note"] != "None")
    columns = ["area_id", "level", "indicator_id", "period", "value", "numerator", "denominator", "suppressed",
               "note"]
    return out[columns].sort_values(["level", "area_id", "indicator_id"]).reset_index(drop=True)
