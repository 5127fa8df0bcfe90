"""Public-service records (health visits, enrolments, outages, complaints, police reports) into staging."""

from __future__ import annotations

import pandas as pd

from transforms.cleaning import Cleaned, Field, drop_duplicates, type_fields
from transforms.point_index import place_points_fast

SERVICE_FIELDS = {
    "occurred_at": Field("timestamp", required=True),
    "category": Field("text"),
}


def stage_service_records(raw: pd.DataFrame, areas: pd.DataFrame, month: str | None = None) -> Cleaned:
    """Typed, de-duplicated service records placed in their smallest area, dated in `month` (YYYY-MM) when given;
    the rest quarantined."""
    cleaned = Cleaned(raw.copy())
    drop_duplicates(cleaned, "record_id", ["record_id", "occurred_at", "lon", "lat", "category"])
    cleaned.reject(cleaned.frame["record_id"].isna(), reason="missing value", record_id="record_id",
                   fld="record_id")
    no_location = cleaned.frame["lon"].isna() | cleaned.frame["lat"].isna()
    cleaned.reject(no_location, reason="no location: lon/lat missing", record_id="record_id", fld="lon")
    cleaned.frame = cleaned.frame.assign(area_id=place_points_fast(cleaned.frame["lon"], cleaned.frame["lat"], areas))
    cleaned.reject(cleaned.frame["area_id"].isna(),
                   reason="outside the city: the point falls in no zone (or lon/lat is not a number)",
                   record_id="record_id", fld="lon")
    type_fields(cleaned, SERVICE_FIELDS, "record_id")
    if month is not None:  # a record dated 2099, 1900 or another month does not belong to this month's delivery
        stamp = pd.to_datetime(cleaned.frame["occurred_at"], errors="coerce")
        outside = stamp.notna() & (stamp.dt.strftime("%Y-%m") != month)
        cleaned.reject(outside, reason=f"outside the delivery's month {month}", record_id="record_id",
                       fld="occurred_at")
    columns = ["family", "record_id", "occurred_at", "area_id", "category", "_delivery", "_row"]
    cleaned.frame = cleaned.frame[columns].sort_values("record_id").reset_index(drop=True)
    return cleaned
