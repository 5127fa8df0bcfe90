"""Alkire-Foster scores, H, A, M0, censored headcounts and contributions against values computed by hand.

Shipped weights (indicators/poverty.yaml): schooling 1/8, attendance 1/8, insurance 1/4, housing materials 1/8,
overcrowding 1/8, water 1/16, sanitation 1/16, electricity 1/16, cooking fuel 1/16; k = 1/3.
"""

import copy
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from indicators.alkire_foster import (
    POVERTY_PATH,
    AFConfigError,
    af_area_counts,
    af_contributions,
    af_household_scores,
    load_af_config,
    parse_af_config,
)
from indicators.area_indicators import roll_up
from tests.test_nbi import AREAS, HOUSEHOLDS, PERSONS, households, persons
from transforms.areas import area_parents

CONFIG = load_af_config()


def scored(hh=HOUSEHOLDS, pp=PERSONS, config=CONFIG):
    return af_household_scores(hh, pp, config).set_index("household_id")


def test_household_scores_by_hand():
    s = scored()
    # h1: the 40-year-old has 12 years (>= 6), the 10-year-old attends, both insured, brick/cement/calamina,
    # 2 per bedroom, piped inside, sewer, electricity, bottled gas -> deprived in nothing, score 0
    assert s.loc["h1", "score"] == 0 and not s.loc["h1", "poor"]
    # h2: schooling no (the 33-year-old has 6 years); attendance yes (the 8-year-old does not attend);
    # insurance no (one member insured); materials yes (unplastered adobe, earth); overcrowding no (3/1 = 3 is
    # not > 3); water yes (public tap); sanitation yes (cesspit); electricity no; fuel yes (firewood)
    # score = 1/8 + 1/8 + 1/16 + 1/16 + 1/16 = 0.4375 >= 1/3 -> poor
    expected_h2 = {"schooling": False, "attendance": True, "insurance": False, "housing_materials": True,
                   "overcrowding": False, "water": True, "sanitation": True, "electricity": False,
                   "cooking_fuel": True}
    assert {k: bool(s.loc["h2", f"d_{k}"]) for k in expected_h2} == expected_h2
    assert s.loc["h2", "score"] == pytest.approx(0.4375) and s.loc["h2", "poor"]
    # h3: deprived in all nine (years 0, 3, 0 all < 6; the 12-year-old does not attend; nobody insured; 4 per
    # "bedroom" with none counted as one) -> 1/8·4 + 1/4 + 1/16·4 = 1
    assert s.loc["h3", "score"] == pytest.approx(1.0) and s.loc["h3", "poor"]
    # h4: literacy is missing but no AF indicator uses it; no school-aged child -> attendance not deprived
    assert s.loc["h4", "score"] == 0 and not s.loc["h4", "poor"]


def test_area_counts_and_contributions_by_hand():
    counts = af_area_counts(af_household_scores(HOUSEHOLDS, PERSONS, CONFIG), CONFIG)

    def pair(area, indicator):
        found = counts[(counts["area_id"] == area) & (counts["indicator_id"] == indicator)].iloc[0]
        return found["numerator"], found["denominator"]

    # Z1: h1 (2 persons, c = 0), h2 (3 persons, c = 0.4375, poor)
    # H = 3/5 = 0.6; A = 3·0.4375/3 = 1.3125/3 = 0.4375; M0 = 1.3125/5 = 0.2625 = H·A = 0.6·0.4375
    assert pair("Z1", "af_h") == (3, 5)
    assert pair("Z1", "af_a") == (pytest.approx(1.3125), 3)
    assert pair("Z1", "af_m0") == (pytest.approx(1.3125), 5)
    # censored headcounts: poor and deprived persons / persons: attendance 3/5, schooling 0/5
    assert pair("Z1", "af_ch_attendance") == (3, 5)
    assert pair("Z1", "af_ch_schooling") == (0, 5)
    # Z2: h3 (4 persons, c = 1, poor), h4 (1 person, c = 0): H = 4/5, A = 4/4 = 1, M0 = 4/5
    assert pair("Z2", "af_h") == (4, 5)
    assert pair("Z2", "af_a") == (4, 4)
    assert pair("Z2", "af_m0") == (4, 5)
    # A's margin and disclosure counts are over the poor households: one in each zone (h2 of 3, h3 of 4 persons)
    a = counts[counts["indicator_id"] == "af_a"].set_index("area_id")
    assert a["weight_sq"].tolist() == [9.0, 16.0] and a["denominator_cases"].tolist() == [1.0, 1.0]
    assert a["numerator_cases"].tolist() == [1.0, 1.0]
    assert pair("Z2", "af_ch_insurance") == (4, 5)

    contributions = af_contributions(counts, CONFIG).set_index(["area_id", "indicator_id"])
    value = contributions["numerator"] / contributions["denominator"] * contributions["multiplier"]
    assert (contributions["multiplier"] == 1.0).all()  # a share: published as numerator / denominator
    # Z1: attendance w·CH/M0 = (1/8 · 3/5)/0.2625 = 0.075/0.2625 = 2/7; water (1/16 · 3/5)/0.2625 = 1/7
    assert value["Z1", "af_contrib_attendance"] == pytest.approx(2 / 7)
    assert value["Z1", "af_contrib_housing_materials"] == pytest.approx(2 / 7)
    assert value["Z1", "af_contrib_water"] == pytest.approx(1 / 7)
    assert value["Z1", "af_contrib_schooling"] == 0
    # Z2: every indicator deprived for every poor person -> contribution_j = w_j
    assert value["Z2", "af_contrib_insurance"] == pytest.approx(0.25)
    # contributions of an area add up to 1: 2/7 + 2/7 + 3 · 1/7
    assert value.groupby(level="area_id").sum().to_dict() == pytest.approx({"Z1": 1.0, "Z2": 1.0})


def test_counts_roll_up_to_the_pooled_values():
    scores = af_household_scores(HOUSEHOLDS, PERSONS, CONFIG)
    rolled = roll_up(af_area_counts(scores, CONFIG), area_parents(AREAS))
    pooled = af_area_counts(scores.assign(area_id="D1"), CONFIG).set_index("indicator_id")
    district = rolled[rolled["area_id"] == "D1"].set_index("indicator_id")
    for column in ("numerator", "denominator"):
        assert np.allclose(district.loc[pooled.index, column], pooled[column])
    # D1: H = (3 + 4)/(5 + 5) = 0.7; A = (1.3125 + 4)/7 = 0.7589286; M0 = 5.3125/10 = 0.53125 = 0.7 · 0.7589286
    assert district.loc["af_a", "numerator"] / district.loc["af_a", "denominator"] == pytest.approx(5.3125 / 7)
    assert district.loc["af_m0", "numerator"] / district.loc["af_m0", "denominator"] == pytest.approx(0.53125)
    # contributions after the roll-up equal those of the pooled households: attendance 1/8 · (3 + 4)/5.3125
    # = 0.875/5.3125 = 0.1647059 (not the mean of the zones' 2/7 and 1/8)
    after = af_contributions(rolled, CONFIG)
    after = after[after["area_id"] == "D1"].set_index("indicator_id")
    direct = af_contributions(pooled.reset_index().assign(area_id="D1"), CONFIG).set_index("indicator_id")
    assert np.allclose(after.loc[direct.index, "numerator"], direct["numerator"])
    assert np.allclose(after.loc[direct.index, "denominator"], direct["denominator"])
    attendance = after.loc["af_contrib_attendance"]
    assert attendance["numerator"] / attendance["denominator"] == pytest.approx(0.875 / 5.3125)
    assert after["level"].eq("distrito").all()


def test_missing_answers_settle_what_they_can_and_leave_the_rest_unmeasured():
    base = ("brick", "cement", "calamina", 1, 2, "piped_inside", "sewer", True, "gas_piped")
    hh = households([
        ("a", "Z1", None, "earth", *base[2:]),        # walls missing but floor earth: deprived anyway
        ("b", "Z1", None, "cement", *base[2:]),       # walls missing, the rest adequate: cannot tell
        ("c", "Z1", *base),                           # one adult with 7 years, one missing: not deprived
        ("d", "Z1", *base),                           # one adult with 3 years, one missing: cannot tell
        ("e", "Z1", *base),                           # a child not attending, one missing: deprived
        ("f", "Z1", *base),                           # nobody in the persons table: insurance not measurable
    ])
    pp = persons([
        ("a", 30, True, None, 8, True), ("b", 30, True, None, 8, True),
        ("c", 30, True, None, 7, True), ("c", 31, True, None, None, True),
        ("d", 30, True, None, 3, True), ("d", 31, True, None, None, True),
        ("e", 30, True, None, 8, True), ("e", 8, True, False, 2, True), ("e", 9, True, None, 3, True),
    ])
    s = scored(hh, pp)
    assert s.loc["a", "d_housing_materials"] and pd.isna(s.loc["b", "d_housing_materials"])
    assert not s.loc["c", "d_schooling"] and pd.isna(s.loc["d", "d_schooling"])
    assert s.loc["e", "d_attendance"]
    assert pd.isna(s.loc["f", "d_insurance"]) and not s.loc["f", "d_attendance"]
    # a: materials 1/8 -> 0.125; c: 0; e: attendance 1/8 -> 0.125
    assert s.loc[["a", "c", "e"], "score"].tolist() == [0.125, 0.0, 0.125]
    assert s.loc[["b", "d", "f"], "score"].isna().all() and s.loc[["b", "d", "f"], "poor"].isna().all()
    counts = af_area_counts(s.reset_index(), CONFIG).set_index("indicator_id")
    # unmeasured households b, d, f: 3 of 6; persons measured: a 2 + c 2 + e 2 = 6 (members field says 2 each)
    assert (counts.loc["af_unmeasured_households", "numerator"],
            counts.loc["af_unmeasured_households", "denominator"]) == (3, 6)
    assert counts.loc["af_h", "denominator"] == 6


def six_equal_weights(k):
    fields = [("electricity", [False]), ("cooking_fuel", ["dung"]), ("sanitation", ["none"]),
              ("water_source", ["river_spring"]), ("floor_material", ["earth"]), ("roof_material", ["other"])]
    return parse_af_config({"alkire_foster": {"k": k, "indicators": [
        {"id": field, "dimension": "living", "weight": "1/6", "any_of": [{"field": field, "in": codes}]}
        for field, codes in fields]}}, "test")


def test_a_household_exactly_at_k_is_poor():
    # k = 1: deprived in all six indicators of weight 1/6; six times 1/6 in floating point is 0.9999999999999999,
    # which is still "c >= k" for the method. Deprived in five: 5/6 < 1, not poor.
    hh = households([
        ("all", "Z1", "brick", "earth", "other", 1, 1, "river_spring", "none", False, "dung"),
        ("five", "Z1", "brick", "earth", "other", 1, 1, "river_spring", "none", True, "dung"),
    ])
    pp = persons([("all", 30, True, None, 8, True), ("five", 30, True, None, 8, True)])
    s = scored(hh, pp, six_equal_weights(1))
    assert s.loc["all", "poor"] and s.loc["all", "score"] == pytest.approx(1.0)
    assert not s.loc["five", "poor"] and s.loc["five", "score"] == pytest.approx(5 / 6)


def write_config(tmp_path, change):
    data = yaml.safe_load(POVERTY_PATH.read_text(encoding="utf-8"))
    change(data["alkire_foster"])
    path = tmp_path / "poverty.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def indicator(af, name):
    return next(i for i in af["indicators"] if i["id"] == name)


@pytest.mark.parametrize(("change", "message"), [
    (lambda af: indicator(af, "water")["any_of"][0].update(field="water_supply"),
     "alkire_foster.indicators 'water': any_of: unknown field 'water_supply'"),
    (lambda af: indicator(af, "schooling")["condition"].update(field="schooling_years"),
     "alkire_foster.indicators 'schooling': condition: unknown field 'schooling_years'"),
    (lambda af: indicator(af, "insurance").update(weight="1/8"),
     "alkire_foster.indicators: weights sum to 0.875, not 1"),
    (lambda af: af.update(k=0), "alkire_foster.k must be in (0, 1], got 0"),
    (lambda af: af.update(k=1.5), "alkire_foster.k must be in (0, 1], got 1.5"),
    (lambda af: af.update(k="a third"), "alkire_foster.k: expected a number or a fraction like 1/3"),
    (lambda af: indicator(af, "cooking_fuel")["any_of"][0].update({"in": ["coal"]}),
     "alkire_foster.indicators 'cooking_fuel': any_of: unknown answer(s) ['coal']"),
    (lambda af: indicator(af, "attendance").update(household="most"),
     "alkire_foster.indicators 'attendance': household must be any or all"),
    (lambda af: af["indicators"].append(copy.deepcopy(indicator(af, "water"))), "duplicate id(s) ['water']"),
])
def test_config_errors_name_the_file_and_the_entry(tmp_path, change, message):
    path = write_config(tmp_path, change)
    with pytest.raises(AFConfigError) as error:
        load_af_config(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_shipped_config_weights_sum_to_one_and_k_is_a_third():
    assert math.isclose(sum(CONFIG.weights.values()), 1.0)
    assert CONFIG.k == pytest.approx(1 / 3)
    # no single indicator reaches k on its own (the health proxy is the heaviest, at 1/4)
    assert max(CONFIG.weights.values()) < CONFIG.k
    assert six_equal_weights("1").k == 1.0


@pytest.mark.parametrize(("age", "deprived"), [(5, False), (6, True), (14, True), (15, False)])
def test_attendance_counts_children_aged_6_to_14_inclusive(age, deprived):
    """One child not attending school, at ages around [6, 14]: deprived only inside the range (outside it the
    household has no eligible member: not deprived, as configured)."""
    from indicators.alkire_foster import person_deprivation

    attendance = next(i for i in CONFIG.indicators if i.id == "attendance")
    persons = pd.DataFrame({"household_id": ["h1"], "age": pd.array([age], dtype="Int64"),
                            "attends_school": pd.array([False], dtype="boolean")})
    out = person_deprivation(persons, pd.Series(["h1"]), attendance)
    assert bool(out[0]) is deprived


@pytest.mark.parametrize(("years", "deprived"), [(5, True), (6, False)])
def test_schooling_deprivation_is_below_six_years(years, deprived):
    from indicators.alkire_foster import person_deprivation

    schooling = next(i for i in CONFIG.indicators if i.id == "schooling")
    persons = pd.DataFrame({"household_id": ["h1"], "age": pd.array([30], dtype="Int64"),
                            "years_schooling": pd.array([years], dtype="Int64")})
    assert bool(person_deprivation(persons, pd.Series(["h1"]), schooling)[0]) is deprived


def condition_of(af, name):
    return indicator(af, name)["any_of"][0]


@pytest.mark.parametrize(("change", "message"), [
    # a weight: a number or a fraction, positive
    (lambda af: indicator(af, "water").update(weight=True), "'water': weight: expected a number or a fraction"),
    (lambda af: indicator(af, "water").update(weight=[1]), "'water': weight: expected a number or a fraction"),
    (lambda af: indicator(af, "water").update(weight="1/0"), "'water': weight: expected a number or a fraction"),
    (lambda af: indicator(af, "water").update(weight=0), "'water': weight must be positive, got 0"),
    # `per`: both fields numbers
    (lambda af: condition_of(af, "overcrowding").update(per="floor_material"),
     "per needs two number fields, got 'members' per 'floor_material'"),
    (lambda af: condition_of(af, "overcrowding").update(per="rooms_unknown"),
     "per needs two number fields, got 'members' per 'rooms_unknown'"),
    (lambda af: indicator(af, "water")["any_of"][0].update(per="members"),
     "per needs two number fields, got 'water_source' per 'members'"),
    # `in`: a non-empty list, of a code or yes/no field
    (lambda af: condition_of(af, "water").update({"in": []}), "`in` needs a list of answers"),
    (lambda af: condition_of(af, "water").update({"in": "well"}), "`in` needs a list of answers"),
    (lambda af: condition_of(af, "overcrowding").pop("above") and condition_of(af, "overcrowding").update(
        {"in": [3]}), "`in` needs a list of answers of a code or yes/no field ('members')"),
    # below/above: a number field and a number
    (lambda af: condition_of(af, "overcrowding").update(above=True), "`above` needs a number field and a number"),
    (lambda af: condition_of(af, "overcrowding").update(above="3"), "`above` needs a number field and a number"),
    (lambda af: condition_of(af, "water").pop("in") and condition_of(af, "water").update(below=3),
     "`below` needs a number field and a number, got 'water_source' below 3"),
    (lambda af: condition_of(af, "overcrowding").update(per_min=True), "per_min must be a number, got True"),
    (lambda af: condition_of(af, "overcrowding").update(per_min="1"), "per_min must be a number, got '1'"),
    # person indicators: ages [from, to], numbers or null
    (lambda af: indicator(af, "schooling")["persons"].update(ages=[10]), "persons.ages must be [from, to]"),
    (lambda af: indicator(af, "schooling")["persons"].update(ages=[True, None]), "persons.ages must be [from, to]"),
    (lambda af: indicator(af, "schooling")["persons"].update(ages="10+"), "persons.ages must be [from, to]"),
    (lambda af: indicator(af, "schooling").update(persons=[10, None]), "persons.ages must be [from, to]"),
    # household indicators need conditions; the section needs indicators
    (lambda af: indicator(af, "water").update(any_of=[]), "'water': give any_of (household conditions)"),
    (lambda af: indicator(af, "water").update(any_of={"field": "water_source"}), "'water': give any_of"),
    (lambda af: af.update(indicators=[]), "alkire_foster.indicators must be a non-empty list"),
    (lambda af: af.update(indicators={"id": "water"}), "alkire_foster.indicators must be a non-empty list"),
])
def test_every_config_rule_names_what_is_wrong(tmp_path, change, message):
    path = write_config(tmp_path, change)
    with pytest.raises(AFConfigError, match=re.escape(message)):
        load_af_config(path)


@pytest.mark.parametrize(("shift", "ok"), [(-2e-9, False), (-1e-10, True), (0, True), (1e-10, True), (2e-9, False)])
def test_weights_must_sum_to_one_within_the_tolerance(tmp_path, shift, ok):
    """cooking_fuel's 1/16 moved by `shift`: the weights sum to 1 + shift, accepted within TOLERANCE (1e-9)."""
    from indicators.alkire_foster import TOLERANCE

    assert TOLERANCE == 1e-9
    path = write_config(tmp_path, lambda af: indicator(af, "cooking_fuel").update(weight=0.0625 + shift))
    if ok:
        assert load_af_config(path).weights["cooking_fuel"] == pytest.approx(0.0625 + shift, abs=0)
    else:
        with pytest.raises(AFConfigError, match="weights sum to"):
            load_af_config(path)
