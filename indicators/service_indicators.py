"""Municipal-service indicators per smallest area, as counts: rates per 1,000 and coverage ratios.

Every indicator is a numerator (records of the period placed in the area) over a census denominator, in the long
counts format of `indicators.area_indicators` (area_id, numerator, denominator, indicator_id, multiplier), so larger
areas are sums of their zones' counts and a district's rate equals the rate computed on its pooled records.

- Rates per 1,000 residents: health-centre visits, police reports (all, and the violent ones: robbery, assault,
  domestic violence), waste-collection complaints. Residents are the census persons placed in the area.
- Water outages per 1,000 connections: a connection is a census household whose water comes by pipe to the
  dwelling or the plot (`water_source` piped_inside or piped_outside); households without one cannot lose a supply
  they do not have, and households with the source unreported are in neither count.
- School enrolment ratio per 100 residents aged 4 to 19: enrolments in regular education (initial, primary,
  secondary) over census persons aged 4 to 19, the ages the census asks school attendance of (docs/landing.md;
  regular education starts with initial education at 4, and 18-19 leaves room for late completion of secondary).
  `alternative_education` serves youths and adults outside regular schooling, so it is left out.
  It is a gross ratio, not a share: a record is placed where it was registered, so a zone with a school can
  enrol more than its own children, and the value can exceed 100.

A record counts when its `occurred_at` (local time, as delivered) falls in the period, a calendar year `YYYY` or
month `YYYY-MM`; denominators are the census vintage's, so a monthly rate is per month, not annualised. A zone
with no record gets a zero, not a gap: service registers cover the whole city, so no record means no event.
Per-category indicators count only records with one of their categories; a record with no category counts in
its family's total only. Records placed in no known smallest area are not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from indicators.area_indicators import PIPED_WATER  # one definition of a connection, shared with no_piped_water

COUNT_COLUMNS = ["area_id", "numerator", "denominator", "indicator_id", "multiplier"]
SCHOOL_AGES = (4, 19)  # inclusive: the census asks school attendance at these ages
REGULAR_EDUCATION = ("initial", "primary", "secondary")
VIOLENT_REPORTS = ("robbery", "assault", "domestic_violence")


@dataclass(frozen=True)
class ServiceIndicator:
    """Records of `family` (only `categories`, when given) per `multiplier` units of `denominator`."""

    family: str
    denominator: str  # a column of `service_denominators`: residents, school_age or piped_households
    multiplier: float
    categories: tuple[str, ...] | None = None


SERVICE_INDICATORS = {
    "health_visits_rate": ServiceIndicator("health_visits", "residents", 1000),
    "police_report_rate": ServiceIndicator("police_reports", "residents", 1000),
    "violent_report_rate": ServiceIndicator("police_reports", "residents", 1000, VIOLENT_REPORTS),
    "waste_complaint_rate": ServiceIndicator("waste_complaints", "residents", 1000),
    "water_outage_rate": ServiceIndicator("water_outages", "piped_households", 1000),
    "school_enrolment_ratio": ServiceIndicator("school_enrolments", "school_age", 100, REGULAR_EDUCATION),
}


def period_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of a calendar year `YYYY` or month `YYYY-MM`, as naive (local) timestamps."""
    text = str(period)
    if re.fullmatch(r"\d{4}", text):
        start = pd.Timestamp(f"{text}-01-01")
        return start, start + pd.DateOffset(years=1)
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        start = pd.Timestamp(f"{text}-01")
        return start, start + pd.DateOffset(months=1)
    raise ValueError(f"period must be a year YYYY or a month YYYY-MM, got {period!r}")


def service_denominators(households: pd.DataFrame, persons: pd.DataFrame, base_ids: list[str]) -> pd.DataFrame:
    """Per smallest area (0 where none): residents, residents aged 4-19 and households with piped water."""
    age = pd.to_numeric(persons["age"], errors="coerce")
    school_age = persons[age.between(*SCHOOL_AGES)]
    piped = households[households["water_source"].isin(PIPED_WATER).fillna(False).astype(bool)]

    def per_area(frame: pd.DataFrame) -> np.ndarray:
        return frame.groupby("area_id").size().reindex(base_ids, fill_value=0).to_numpy(dtype=float)

    return pd.DataFrame({
        "area_id": list(base_ids),
        "residents": per_area(persons),
        "school_age": per_area(school_age),
        "piped_households": per_area(piped),
    })


def service_counts(records: pd.DataFrame, denominators: pd.DataFrame, period: str) -> pd.DataFrame:
    """Numerators and denominators of every service indicator per smallest area, for records in `period`; the
    areas and their denominators are `service_denominators`'."""
    start, end = period_bounds(period)
    occurred = pd.to_datetime(records["occurred_at"])
    in_period = records[(occurred >= start) & (occurred < end)]
    base_ids = denominators["area_id"].tolist()
    parts = []
    for indicator, spec in SERVICE_INDICATORS.items():
        chosen = in_period[in_period["family"] == spec.family]
        if spec.categories is not None:
            chosen = chosen[chosen["category"].isin(spec.categories).fillna(False).astype(bool)]
        events = chosen.groupby("area_id").size().reindex(base_ids, fill_value=0)
        parts.append(pd.DataFrame({
            "area_id": list(base_ids),
            "numerator": events.to_numpy(dtype=float),
            "denominator": denominators[spec.denominator].to_numpy(dtype=float),
            "indicator_id": indicator,
            "multiplier": float(spec.multiplier),
        }))
    return pd.concat(parts, ignore_index=True)[COUNT_COLUMNS]
