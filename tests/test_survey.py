"""The household survey: the generated sample's design, staging (quarantine and non-response), and the marts'
estimates (weights adjusted for non-response, smoothed variances, withholding), by hand on small examples."""

import dataclasses
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
    ({"satisfaction_water": "1"}, None, True),
    ({"income_per_capita": "0"}, None, True),          # no income is an income
    ({"income_per_capita": "-0.01"}, "income_per_capita", True),
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
    """City p = 0.4, se = 0.05 on 100 households: deff = 0.0025 / (0.24 / 100) = 25/24, ψ(n=10) = 25/24·0.24/10
    = 0.025 (= se² · 100 / 10); no household, no variance."""
    psi = smoothed_variances(pd.Series([10, 40, 0]), 0.05, 100)
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


def estimate_one(data: pd.DataFrame, measure_id: str, mask: pd.Series | None = None, survey=None) -> pd.Series:
    """The direct estimate of one measure over `mask` (default every household) of `data`."""
    measures = survey_measures(CITY)
    mask = pd.Series(True, index=data.index) if mask is None else mask
    return direct_estimates(data, measures[measures["measure_id"] == measure_id], {"d": ("city", mask)},
                            survey or CITY.settings.survey).iloc[0]


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


@pytest.mark.parametrize("households, withheld", [(29, True), (30, False), (31, False)])
def test_a_domain_needs_thirty_responding_households(households, withheld):
    data = units(8)   # 32 households, 8 per PSU
    out = estimate_one(data, "income_poverty_moderate", pd.Series(range(len(data)), index=data.index) < households)
    assert out["households"] == households and bool(out["suppressed"]) == withheld


def test_a_shares_interval_is_cut_at_one():
    data = units()
    data["income_poverty_moderate"] = [0.0] + [1.0] * (len(data) - 1)
    out = estimate_one(data, "income_poverty_moderate")
    assert out["estimate"] == pytest.approx(31 / 32) and out["ci_high"] == 1.0 and out["ci_low"] > 0


def test_a_shares_interval_is_cut_at_zero():
    """1 poor household of 32: the t interval around 1/32 on 2 degrees of freedom reaches below 0; published
    from 0."""
    data = units()
    data["income_poverty_moderate"] = [1.0] + [0.0] * (len(data) - 1)
    out = estimate_one(data, "income_poverty_moderate")
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


def city_with_lines(extreme: float, moderate: float):
    """The sample city with other poverty lines (round ones, for figures checked by hand)."""
    survey = CITY.config["survey"]
    lines = {**survey["poverty_lines"], "extreme": extreme, "moderate": moderate}
    return dataclasses.replace(CITY, config={**CITY.config, "survey": {**survey, "poverty_lines": lines}})


def test_unit_values_by_hand():
    """Income per capita against the lines (550, 1,000): 400 is extremely poor (gap 0.6), 999.99 moderately
    (gap 0.00001), 1,000 is not poor; the integrated method crosses that with each household's NBI; the
    perception index is the mean rating over the topics rated, from 1-10 to 0-100."""
    from indicators.nbi import load_nbi_config, nbi_households
    from indicators.survey_marts import unit_values
    from tests.test_nbi import HOUSEHOLDS, PERSONS

    households = HOUSEHOLDS.assign(stratum="A", psu=["p1", "p1", "p2", "p2"], design_weight=10.0,
                                   responded=True, income_per_capita=[400.0, 999.99, 1000.0, None],
                                   **{f"satisfaction_{t}": np.nan for t in CITY.settings.survey.perception_topics})
    households["satisfaction_water"] = [10.0, 1.0, np.nan, 5.5]
    households["satisfaction_transport"] = [10.0, np.nan, np.nan, 1.0]
    persons = PERSONS.merge(HOUSEHOLDS[["household_id", "area_id"]], on="household_id")
    out = unit_values(city_with_lines(550, 1000), households, persons).set_index("household_id")
    assert out["income_poverty_extreme"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert out["income_poverty_moderate"].tolist()[:3] == [1.0, 1.0, 0.0]
    assert out["income_poverty_gap"].tolist()[:3] == pytest.approx([0.6, 0.00001, 0.0])
    assert out["income_poverty_severity"].tolist()[:3] == pytest.approx([0.36, 1e-10, 0.0])
    assert np.isnan(out.loc["h4", "income_poverty_moderate"])   # no income reported
    nbi = nbi_households(households, persons, load_nbi_config()).set_index("household_id")["nbi_poor"]
    for household, income_poor in [("h1", True), ("h2", True), ("h3", False)]:
        expected = {(True, True): "chronic_poverty", (True, False): "recent_poverty",
                    (False, True): "inertial_poverty", (False, False): "social_integration"}[
            (income_poor, bool(nbi[household]))]
        assert out.loc[household, f"ipm_{expected}"] == 1.0
        assert sum(out.loc[household, f"ipm_{g}"] for g in ("chronic_poverty", "recent_poverty",
                                                             "inertial_poverty", "social_integration")) == 1.0
    assert out.loc["h1", "perception_index"] == pytest.approx(100.0)      # 10 and 10
    assert out.loc["h2", "perception_index"] == pytest.approx(0.0)        # 1
    assert out.loc["h4", "perception_index"] == pytest.approx((3.25 - 1) / 9 * 100)   # mean of 5.5 and 1
    assert np.isnan(out.loc["h3", "perception_index"])                    # rated nothing


def test_a_mean_of_households_is_not_weighted_by_members():
    """Satisfaction is a mean over households: ratings 2 and 8 with equal weights give 5 whatever the sizes."""
    data = units(2).assign(satisfaction_water=[2.0, 8.0] * 4, members=[1, 5] * 4)
    data = pd.concat([data, data.iloc[:1].assign(satisfaction_water=np.nan)], ignore_index=True)  # not rated
    assert estimate_one(data, "satisfaction_water")["estimate"] == pytest.approx(5.0)


def test_reliable_means_enough_households_and_a_cv_at_most_the_limit():
    survey = CITY.settings.survey   # max_cv 0.3, min_households 30
    data = units(10)   # 40 households in 4 PSUs, 3, 5, 6 and 4 of each 10 poor: a positive se
    data["income_poverty_moderate"] = [float(i < k) for k in (3, 5, 6, 4) for i in range(10)]
    out = estimate_one(data, "income_poverty_moderate")
    assert 0 < out["cv"] <= survey.max_cv and out["reliable"] and not out["suppressed"]
    lenient = survey.model_copy(update={"max_cv": float(out["cv"])})          # at the limit: reliable
    strict = survey.model_copy(update={"max_cv": float(out["cv"]) * 0.999})   # just below it: not
    assert estimate_one(data, "income_poverty_moderate", survey=lenient)["reliable"]
    assert not estimate_one(data, "income_poverty_moderate", survey=strict)["reliable"]


def test_every_measure_has_its_direction_unit_and_population():
    measures = survey_measures(CITY).set_index("measure_id")
    assert (measures.loc[measures.index.str.startswith("income_poverty"), "direction"] == -1).all()
    assert (measures.loc[measures.index.str.startswith("satisfaction_"), "direction"] == 1).all()
    assert measures.loc["perception_index", "direction"] == 1 and measures.loc["perception_index",
                                                                               "unit"] == "score 0-100"
    assert set(measures.loc[measures["dimension"] == "poverty", "unit_of"]) == {"persons"}
    assert set(measures.loc[measures["dimension"] == "perception", "unit_of"]) == {"households"}
    assert measures.loc["income_poverty_extreme", "poverty_line"] == 522.35      # INE, La Paz, 2022
    assert measures.loc["ipm_recent_poverty", "poverty_line"] == 1095.20
    assert measures.loc["income_poverty_moderate", "line_unit"] == "Bs per person per month, 2022"
    assert measures.loc["income_poverty_moderate", "line_source"].startswith("INE, Cuadro Nº 3.06.01.05")
    assert pd.isna(measures.loc["satisfaction_water", "poverty_line"])


def test_small_areas_need_five_households_for_an_eblup():
    """Districts with 5 or more responding households get the EBLUP, fewer the synthetic estimate."""
    from indicators.survey_marts import small_area_estimates

    survey = CITY.settings.survey
    ids = [f"D{i}" for i in range(1, 8)]
    areas = pd.DataFrame({"area_id": ids, "level": "distrito"})
    households = [5, 4, 12, 20, 8, 30, 0]
    estimates = [0.2, 0.5, 0.3, 0.6, 0.4, 0.7, None]
    rows = [{"area_id": a, "level": "distrito", "measure_id": "income_poverty_moderate", "method": "direct",
             "estimate": e, "se": 0.1, "households": n} for a, e, n in zip(ids, estimates, households, strict=True)]
    rows.append({"area_id": "city", "level": "city", "measure_id": "income_poverty_moderate", "method": "direct",
                 "estimate": 0.45, "se": 0.03, "households": 400})
    covariates = pd.DataFrame({"nbi_poor_persons": [0.1, 0.6, 0.3, 0.7, 0.5, 0.8, 0.4],
                               "no_piped_water": [0.05, 0.4, 0.2, 0.5, 0.3, 0.6, 0.2]}, index=ids)
    out = small_area_estimates(areas, covariates, survey, pd.DataFrame(rows), "city").set_index("area_id")
    assert out["method"].to_dict() == {"D1": "eblup", "D2": "synthetic", "D3": "eblup", "D4": "eblup",
                                       "D5": "eblup", "D6": "eblup", "D7": "synthetic"}
    assert (out["se"] > 0).all() and (out["ci_low"] >= 0).all() and (out["ci_high"] <= 1).all()
    for row in out.itertuples():   # a 95% normal interval on the root MSE, cut at 0 and 1; cv = se / estimate
        assert row.ci_low == pytest.approx(max(row.estimate - 1.96 * row.se, 0.0))
        assert row.ci_high == pytest.approx(min(row.estimate + 1.96 * row.se, 1.0))
        assert row.cv == pytest.approx(row.se / row.estimate)


def test_a_census_year_the_survey_does_not_describe_skips_it():
    from transforms.survey import land_and_stage_survey

    assert land_and_stage_survey(CITY, "2012") == {"skipped": "the survey describes 2024, not 2012"}


def test_the_sample_citys_lines_are_ines_for_la_paz():
    """city.yaml's poverty lines are INE's for the municipality of La Paz in the year it names, as copied in
    ine_poverty_lines.csv (SOURCES.md): a line retyped by hand, or a year changed without its values, fails."""
    lines = CITY.settings.survey.poverty_lines
    table = pd.read_csv(CITY.folder / "ine_poverty_lines.csv", dtype={"bs_per_person_month": str})
    la_paz = table[(table["area"] == "Nuestra Señora de La Paz") & (table["year"] == lines.year)]
    published = dict(zip(la_paz["line"], la_paz["bs_per_person_month"].astype(float), strict=True))
    assert published == {"extreme": lines.extreme, "moderate": lines.moderate}
    assert lines.year == table["year"].max()                          # the latest the table has
    assert len(table) == 13 * 2 * 7 and not table.duplicated(["area", "line", "year"]).any()
    assert (table.pivot_table(index=["area", "year"], columns="line", values="bs_per_person_month",
                              aggfunc="first").astype(float).pipe(lambda t: t["extreme"] < t["moderate"])).all()
