"""The household survey through the whole pipeline (conftest.complete_run, the sample city at scale 0.25):
landed, staged and estimated into the published marts with standard errors, model estimates for every district."""

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def survey(complete_run):
    tables = complete_run.tables
    return tables["survey_estimates"], tables["survey_measures"]


def test_every_measure_is_estimated_for_the_city_and_every_macrodistrict(survey):
    estimates, measures = survey
    direct = estimates[estimates["method"] == "direct"]
    city = direct[direct["level"] == "city"].set_index("measure_id")
    assert set(city.index) == set(measures["measure_id"]) and city["estimate"].notna().all()
    assert (city["se"] > 0).all() and (city["ci_low"] < city["estimate"]).all() and (
        city["estimate"] < city["ci_high"]).all()
    macro = direct[direct["level"] == "macrodistrito"]
    assert macro["area_id"].nunique() == 9 and len(macro) == 9 * len(measures)


def test_the_integrated_method_groups_add_up_to_everyone(survey):
    estimates, _ = survey
    groups = estimates[estimates["measure_id"].str.startswith("ipm_") & (estimates["method"] == "direct")
                       & estimates["estimate"].notna()]
    totals = groups.groupby("area_id")["estimate"].sum()
    assert len(totals) >= 10 and np.allclose(totals, 1.0)


def test_income_poverty_measures_are_ordered_as_fgt_says(survey):
    """Extreme poverty ≤ moderate poverty; severity P2 ≤ gap P1 ≤ headcount P0 in every published domain."""
    estimates, _ = survey
    wide = estimates[estimates["method"] == "direct"].pivot(index="area_id", columns="measure_id",
                                                            values="estimate").dropna()
    assert (wide["income_poverty_extreme"] <= wide["income_poverty_moderate"]).all()
    assert (wide["income_poverty_severity"] <= wide["income_poverty_gap"]).all()
    assert (wide["income_poverty_gap"] <= wide["income_poverty_moderate"]).all()


def test_small_domains_are_withheld_and_every_district_has_a_model_estimate(survey):
    estimates, _ = survey
    district = estimates[estimates["level"] == "distrito"]
    withheld = district[district["suppressed"]]
    assert len(withheld) > 0 and withheld["estimate"].isna().all() and (withheld["households"] < 30).all()
    model = district[district["method"].isin(["eblup", "synthetic"])]
    assert model["area_id"].nunique() == 23 and model["estimate"].between(0, 1).all() and (model["se"] > 0).all()
    assert set(model.loc[model["households"] == 0, "method"]) <= {"synthetic"}


def test_no_survey_household_or_person_is_published(complete_run):
    columns = {c for frame in complete_run.tables.values() for c in frame.columns}
    assert not {"household_id", "person_id", "income_per_capita", "design_weight"} & columns


def test_the_poverty_lines_are_published_and_reported_with_their_source(complete_run):
    """INE's lines for La Paz (2022) beside every measure built on them, and in the report's survey section."""
    measures = complete_run.tables["survey_measures"].set_index("measure_id")
    lined = measures[measures["poverty_line"].notna()]
    assert set(lined.index) == {"income_poverty_extreme", "income_poverty_moderate", "income_poverty_gap",
                                "income_poverty_severity", "ipm_chronic_poverty", "ipm_recent_poverty",
                                "ipm_inertial_poverty", "ipm_social_integration"}
    assert lined.loc["income_poverty_extreme", "poverty_line"] == 522.35
    assert (lined.drop("income_poverty_extreme")["poverty_line"] == 1095.20).all()
    assert lined["line_source"].str.startswith("INE, Cuadro Nº 3.06.01.05").all()
    report = (complete_run.home / "reports" / "la_paz_demo" / "latest" / "index.html").read_text(encoding="utf-8")
    assert "extrema 522,35, moderada 1.095,20 (Bs per person per month, 2022; INE, Cuadro Nº 3.06.01.05" in report
