"""The household survey: the generated sample's design, staging (quarantine and non-response), and the marts'
estimates (weights adjusted for non-response, smoothed variances, withholding), by hand on small examples."""

import math

import numpy as np
import pandas as pd
import pytest

from cities import load_city
from indicators.survey_marts import adjusted_weights, direct_estimates, smoothed_variances, survey_measures, withhold
from transforms.survey import stage_survey_households, stage_survey_persons

CITY = load_city("la_paz_demo")
ANSWERS = {"wall_material": "brick", "floor_material": "cement", "roof_material": "calamina", "rooms": "3",
           "bedrooms": "2", "water_source": "piped_inside", "sanitation": "sewer", "electricity": "1",
           "cooking_fuel": "gas_cylinder", "members": "3", "income_per_capita": "850.5",
           **{f"satisfaction_{t}": "7" for t in CITY.settings.survey.perception_topics}}


def household(household_id, *, responded="1", weight="12.5", zone="Z001", **answers):
    row = {"household_id": household_id, "stratum": "MD01", "psu": zone, "zone_code": zone,
           "design_weight": weight, "responded": responded, "_delivery": "survey/households.csv", "_row": 1,
           **({**ANSWERS, **answers} if responded == "1" else {k: "" for k in ANSWERS})}
    return row


def staged(*rows):
    return stage_survey_households(pd.DataFrame(rows).astype(object), CITY, {"Z001", "Z002"})


def test_a_non_respondent_is_kept_with_its_weight_and_no_answers():
    cleaned = staged(household("S1"), household("S2", responded="0"))
    frame = cleaned.frame.set_index("household_id")
    assert frame.loc["S2", "design_weight"] == 12.5 and not frame.loc["S2", "responded"]
    assert pd.isna(frame.loc["S2", "income_per_capita"]) and pd.isna(frame.loc["S2", "members"])
    assert frame.loc["S1", "members"] == 3 and frame.loc["S1", "income_per_capita"] == 850.5
    assert frame.loc["S1", "area_id"] == "Z001" and cleaned.quarantine == []


@pytest.mark.parametrize("change, reason, kept", [
    ({"weight": "0.5"}, "design_weight", False),      # an inverse probability below 1
    ({"weight": "1"}, None, True),                     # at the limit
    ({"zone": "Z999"}, "area not in the boundaries", False),
    ({"satisfaction_water": "11"}, "satisfaction_water", True),   # flagged: the answer is emptied
    ({"satisfaction_water": "10"}, None, True),
    ({"satisfaction_water": "0"}, "satisfaction_water", True),
    ({"members": ""}, "members", False),               # a respondent without members cannot be weighed
])
def test_bad_design_or_answers_are_quarantined_with_the_field(change, reason, kept):
    cleaned = staged(household("S1", **change))
    assert ("S1" in set(cleaned.frame["household_id"])) == kept
    if reason is None:
        assert cleaned.quarantine == []
    else:
        assert any(reason in f"{q.get('field')} {q.get('reason')}" for q in cleaned.quarantine), cleaned.quarantine


def test_persons_of_a_non_respondent_are_quarantined():
    households = staged(household("S1"), household("S2", responded="0")).frame
    persons = pd.DataFrame([
        {"person_id": "P1", "household_id": "S1", "sex": "F", "age": "30", "literate": "1", "attends_school": "",
         "years_schooling": "12", "health_insurance": "1", "_delivery": "survey/persons.csv", "_row": 1},
        {"person_id": "P2", "household_id": "S2", "sex": "M", "age": "40", "literate": "1", "attends_school": "",
         "years_schooling": "8", "health_insurance": "0", "_delivery": "survey/persons.csv", "_row": 2},
    ]).astype(object)
    cleaned = stage_survey_persons(persons, households)
    assert cleaned.frame["person_id"].tolist() == ["P1"]
    assert cleaned.quarantine[0]["reason"].startswith("household not among the staged responding")


def test_weights_are_adjusted_for_non_response_within_each_stratum():
    """Stratum A: 10 + 10 + 20 sampled, 10 + 20 answered: factor 40/30. Stratum B: all answered: factor 1."""
    households = pd.DataFrame({"stratum": ["A", "A", "A", "B"], "design_weight": [10.0, 10.0, 20.0, 5.0],
                               "responded": [True, False, True, True]})
    adjusted = adjusted_weights(households)
    assert adjusted.tolist()[0] == pytest.approx(40 / 3) and math.isnan(adjusted.tolist()[1])
    assert adjusted.tolist()[2] == pytest.approx(80 / 3) and adjusted.tolist()[3] == 5.0
    assert adjusted.sum() == pytest.approx(households["design_weight"].sum())  # the sampled total is kept


def test_smoothed_variances_by_hand():
    """City p = 0.4, se = 0.05 on 100 households: deff = 0.0025 / (0.24 / 100) = 25/24, ψ(n=10) = 25/24·0.24/10."""
    psi = smoothed_variances(pd.Series([10, 40, 0]), 0.4, 0.05, 100)
    assert psi.tolist()[0] == pytest.approx(0.025) and psi.tolist()[1] == pytest.approx(0.00625)
    assert math.isnan(psi.tolist()[2])


def units(n_per_psu=8):
    """Two strata of two PSUs; in each PSU the first half of the households are income-poor."""
    rows = []
    for stratum in ("A", "B"):
        for psu in (1, 2):
            for i in range(n_per_psu):
                poor = i < n_per_psu // 2
                rows.append({"stratum": stratum, "psu": f"{stratum}{psu}", "weight": 10.0, "members": 2,
                             "area_id": f"Z{stratum}", "income_poverty_moderate": float(poor),
                             "ipm_chronic_poverty": float(poor), "ipm_recent_poverty": 0.0,
                             "ipm_inertial_poverty": 0.0, "ipm_social_integration": float(not poor)})
    return pd.DataFrame(rows)


def test_direct_estimates_withhold_small_domains_and_the_ipm_groups_add_up():
    survey = CITY.settings.survey   # min_households 30
    data = units()
    measures = survey_measures(CITY)
    measures = measures[measures["measure_id"].str.startswith(("ipm_", "income_poverty_moderate"))]
    domains = {"all": ("city", pd.Series(True, index=data.index)),
               "ZA": ("zona", data["area_id"] == "ZA")}
    out = withhold(direct_estimates(data, measures, domains, survey)).set_index(["area_id", "measure_id"])
    assert out.loc[("all", "income_poverty_moderate"), "estimate"] == pytest.approx(0.5)
    assert out.loc[("all", "income_poverty_moderate"), "households"] == 32
    groups = out.loc["all"].loc[[m for m in measures["measure_id"] if m.startswith("ipm_")], "estimate"]
    assert groups.sum() == pytest.approx(1.0)
    assert out.loc[("ZA", "income_poverty_moderate"), "suppressed"]   # 16 households < 30
    assert np.isnan(out.loc[("ZA", "income_poverty_moderate"), "estimate"])
    assert "fewer than 30" in out.loc[("ZA", "income_poverty_moderate"), "note"]


def test_measures_name_the_lines_they_use():
    measures = survey_measures(CITY).set_index("measure_id")
    lines = CITY.settings.survey.poverty_lines
    assert f"({lines.moderate:g} Bs per person per month, {lines.year})" in measures.loc[
        "income_poverty_moderate", "definition"]
    assert measures.loc["ipm_social_integration", "direction"] == 1 and measures.loc["ipm_chronic_poverty",
                                                                                      "direction"] == -1
    assert set(measures["dimension"]) == {"poverty", "perception"}


def test_type_fields_rejecting_every_row_keeps_none():
    """A required field that rejects the only row: the next field must not bring it back as an empty row."""
    cleaned = staged(household("S1", weight="0"))
    assert cleaned.frame.empty and len(cleaned.quarantine) == 1


def test_the_generated_survey_is_a_two_percent_stratified_two_stage_sample(tmp_path):
    """A fixed-size sample (432 households at any scale, as a real survey's size is set by the precision it
    needs): 2% of the households at the default scale."""
    from cities.la_paz_demo.generate import SURVEY_PSUS, generate

    generate(tmp_path, scale=1.0)
    sample = pd.read_csv(tmp_path / "survey/households.csv", dtype=str)
    census = pd.read_csv(tmp_path / "census/households.csv", dtype=str)
    assert 0.015 < len(sample) / len(census) < 0.04
    assert (sample.groupby("stratum")["psu"].nunique() == SURVEY_PSUS).all()
    assert sample["stratum"].nunique() == 9 and set(sample["responded"]) == {"0", "1"}
    silent = sample[sample["responded"] == "0"]
    assert silent["income_per_capita"].isna().all() and silent["design_weight"].notna().all()
    # the weights estimate the number of households without bias: within 15% at this size
    assert sample["design_weight"].astype(float).sum() == pytest.approx(len(census), rel=0.15)
    persons = pd.read_csv(tmp_path / "survey/persons.csv", dtype=str)
    assert set(persons["household_id"]) <= set(sample.loc[sample["responded"] == "1", "household_id"])
    assert not set(sample["household_id"]) & set(census["household_id"])   # no link to the census


def test_a_shares_interval_is_cut_at_zero():
    """1 poor household of 32: the t interval around 1/32 on 2 degrees of freedom reaches below 0; published
    from 0."""
    data = units()
    data["income_poverty_moderate"] = [1.0] + [0.0] * (len(data) - 1)
    measures = survey_measures(CITY)
    measures = measures[measures["measure_id"] == "income_poverty_moderate"]
    out = direct_estimates(data, measures, {"all": ("city", pd.Series(True, index=data.index))},
                           CITY.settings.survey).iloc[0]
    assert out["estimate"] == pytest.approx(1 / 32) and out["ci_low"] == 0.0 and out["ci_high"] < 1


@pytest.mark.parametrize("row, expected", [
    (None, "—"),
    ({"suppressed": True, "reliable": False, "estimate": None, "ci_low": None, "ci_high": None}, "s"),
    ({"suppressed": False, "reliable": True, "estimate": 0.329, "ci_low": 0.279, "ci_high": 0.379},
     "32,9% (27,9%–37,9%)"),
    ({"suppressed": False, "reliable": False, "estimate": 0.05, "ci_low": 0.0, "ci_high": 0.127},
     "5,0% (0,0%–12,7%) †"),
])
def test_a_survey_cell_in_the_report(row, expected):
    from reports.model import survey_cell
    from reports.numbers import Numbers

    assert survey_cell(row, "share", Numbers("es")) == expected
