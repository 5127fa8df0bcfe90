"""Public-service records (health visits, enrolments, outages, complaints, police reports) into staging."""

from __future__ import annotations

import pandas as pd

from transforms.cleaning import Cleaned, Field, drop_duplicates, type_fields
from transforms.point_index import place_points_fast

SERVICE_FIELDS = {
    "occurred_at": Field("timestamp", required=True),
    "category": Field("text"),
}


def stage_service_records(raw: pd.DataFrame, areas: pd.DataFrame) -> Cleaned:
    """Typed, de-duplicated service records placed in their smallest area; the rest quarantined."""
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
    columns = ["family", "record_id", "occurred_at", "area_id", "category", "_delivery", "_row"]
    cleaned.frame = cleaned.frame[columns].sort_values("record_id").reset_index(drop=True)
    return cleaned
