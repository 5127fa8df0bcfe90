"""How the household survey is typed on its way from raw into `staging.survey_households` and `staging.survey_persons`
(`transforms.staging.stage_survey` reads and writes them; docs/survey.md).

Design fields (stratum, PSU, design weight, response, area) are typed for every sampled household, answers only
for those that responded: a non-respondent stays in staging, without answers, because the weights are adjusted
for it. A household whose area is not a zone of the boundaries, or whose design fields fail, is quarantined.
"""

from __future__ import annotations

import pandas as pd

from cities import City
from transforms.census import HOUSEHOLD_FIELDS, stage_persons
from transforms.cleaning import Cleaned, Field, drop_duplicates, type_fields

DESIGN_FIELDS = {
    "stratum": Field("text", required=True),
    "psu": Field("text", required=True),
    "design_weight": Field("float", required=True, minimum=1),   # the inverse of a probability: at least 1
    "responded": Field("bool", required=True),
}


def answer_fields(topics: list[str]) -> dict[str, Field]:
    """The answers typed for responding households: the census's household items, income, satisfaction 1-10."""
    return {**HOUSEHOLD_FIELDS, "income_per_capita": Field("float", minimum=0, non_response=True),
            **{f"satisfaction_{t}": Field("int", minimum=1, maximum=10, non_response=True) for t in topics}}


def stage_survey_households(raw: pd.DataFrame, city: City, zones: set[str]) -> Cleaned:
    """Typed survey households with their zone (`area_id`); the rest quarantined with a reason."""
    survey = city.settings.survey
    design = survey.design
    renamed = raw.rename(columns={design.stratum: "stratum", design.psu: "psu", design.weight: "design_weight",
                                  design.responded: "responded", design.area: "area_id",
                                  survey.income: "income_per_capita"})
    cleaned = Cleaned(renamed.copy())
    drop_duplicates(cleaned, "household_id", [c for c in renamed.columns if not c.startswith("_") and c != "city"])
    cleaned.reject(~cleaned.frame["area_id"].isin(zones),
                   reason="area not in the boundaries (the survey's zone code is no zone of the city)",
                   record_id="household_id", fld=design.area)
    type_fields(cleaned, DESIGN_FIELDS, "household_id")
    responded = cleaned.frame["responded"].fillna(False).astype(bool)
    answered = Cleaned(cleaned.frame[responded].copy())
    fields = answer_fields(survey.perception_topics)
    type_fields(answered, fields, "household_id")   # a respondent whose answers fail is quarantined
    cleaned.quarantine.extend(answered.quarantine)
    silent = cleaned.frame[~responded].drop(columns=[c for c in fields if c in cleaned.frame])
    silent = silent.assign(**{name: pd.Series(pd.NA, index=silent.index, dtype=answered.frame[name].dtype)
                              for name in fields})   # no answers: typed NULLs
    frame = pd.concat([answered.frame, silent], ignore_index=True)
    columns = ["household_id", "area_id", *DESIGN_FIELDS, *fields, "_delivery", "_row"]
    cleaned.frame = frame[columns].sort_values("household_id").reset_index(drop=True)
    return cleaned


def stage_survey_persons(raw: pd.DataFrame, households: pd.DataFrame) -> Cleaned:
    """Typed survey persons of staged, responding households (the census's rules); the rest quarantined."""
    return stage_persons(raw, households[households["responded"].astype(bool)],
                         orphan_reason="household not among the staged responding survey households")


def land_and_stage_survey(city: City, year: str) -> dict:
    """The census year's run of the survey: landed and staged when the survey describes `year`, else skipped
    (with why)."""
    from sources.deliveries import land_survey
    from transforms.staging import stage_survey

    if year != city.settings.survey.vintage:
        return {"skipped": f"the survey describes {city.settings.survey.vintage}, not {year}"}
    return {"landed": land_survey(city), "staged": stage_survey(city)}
