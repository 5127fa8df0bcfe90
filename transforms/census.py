"""Census microdata into `staging.households` and `staging.persons`.

Households are placed in their smallest area from their coordinates, which are then dropped: staging keeps the
area, not where a family lives. Persons take their household's area.
"""

from __future__ import annotations

import pandas as pd

from transforms.cleaning import Cleaned, Field, drop_duplicates, type_fields

WALLS = ("brick", "concrete_block", "adobe_plastered", "adobe_unplastered", "tapial", "wood", "stone",
         "cane_palm_trunk", "other")
FLOORS = ("ceramic", "parquet", "cement", "brick", "wood_plank", "earth", "other")
ROOFS = ("calamina", "concrete_slab", "tile", "straw_cane_palm", "other")
WATER = ("piped_inside", "piped_outside", "public_tap", "well", "river_spring", "tanker", "other")
SANITATION = ("sewer", "septic_tank", "cesspit", "open_field", "none")
FUELS = ("gas_piped", "gas_cylinder", "electricity", "firewood", "dung", "kerosene", "none")

HOUSEHOLD_FIELDS = {
    "wall_material": Field("code", codes=WALLS),
    "floor_material": Field("code", codes=FLOORS),
    "roof_material": Field("code", codes=ROOFS),
    "rooms": Field("int", minimum=0, maximum=50),
    "bedrooms": Field("int", minimum=0, maximum=50),
    "water_source": Field("code", codes=WATER),
    "sanitation": Field("code", codes=SANITATION),
    "electricity": Field("bool", non_response=True),
    "cooking_fuel": Field("code", codes=FUELS),
    "members": Field("int", required=True, minimum=1, maximum=60),
}

PERSON_FIELDS = {
    "sex": Field("code", codes=("F", "M")),
    "age": Field("int", required=True, minimum=0, maximum=120),
    # Person items are asked only of some ages (literacy from 6, attendance 4-19) and have item non-response.
    "literate": Field("bool", non_response=True),
    "attends_school": Field("bool", non_response=True),
    "years_schooling": Field("int", minimum=0, maximum=30, non_response=True),
    "health_insurance": Field("bool", non_response=True),
}


def stage_households(raw: pd.DataFrame) -> Cleaned:
    """Typed, de-duplicated households with their smallest area; the rest quarantined with a reason."""
    cleaned = Cleaned(raw.copy())
    drop_duplicates(cleaned, "household_id", [c for c in raw.columns if not c.startswith("_") and c != "city"])
    cleaned.reject(cleaned.frame["household_id"].isna(), reason="missing value", record_id="household_id",
                   fld="household_id")
    # Coordinates were generalised to the zone at ingestion (sources.deliveries.generalise_location).
    location = cleaned.frame["location"]
    cleaned.reject(location == "missing", reason="no location: lon/lat missing", record_id="household_id",
                   fld="lon")
    cleaned.reject(cleaned.frame["location"] == "outside",
                   reason="outside the city: the point falls in no zone (or lon/lat is not a number)",
                   record_id="household_id", fld="lon")
    type_fields(cleaned, HOUSEHOLD_FIELDS, "household_id")
    columns = ["household_id", "area_id", *HOUSEHOLD_FIELDS, "_delivery", "_row"]
    cleaned.frame = cleaned.frame[columns].sort_values("household_id").reset_index(drop=True)
    return cleaned


def stage_persons(raw: pd.DataFrame, households: pd.DataFrame, *,
                  orphan_reason: str = "household not in staging (unknown, or rejected: see its own quarantine "
                                       "entry)") -> Cleaned:
    """Typed, de-duplicated persons with their household's area; persons of no staged household are rejected
    (with `orphan_reason`)."""
    cleaned = Cleaned(raw.copy())
    drop_duplicates(cleaned, "person_id", [c for c in raw.columns if not c.startswith("_") and c != "city"])
    area = households.set_index("household_id")["area_id"]
    cleaned.frame = cleaned.frame.assign(area_id=cleaned.frame["household_id"].map(area).astype("string"))
    cleaned.reject(cleaned.frame["area_id"].isna(),
                   reason=orphan_reason, record_id="person_id", fld="household_id")
    type_fields(cleaned, PERSON_FIELDS, "person_id")
    columns = ["person_id", "household_id", "area_id", *PERSON_FIELDS, "_delivery", "_row"]
    cleaned.frame = cleaned.frame[columns].sort_values("person_id").reset_index(drop=True)
    return cleaned
