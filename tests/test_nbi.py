"""NBI (INE gap method) against households scored by hand with the shipped config (indicators/poverty.yaml).

Scales used below (norm in brackets): walls/floor/roof/water/sanitation/fuel points 0-3 [2]; electricity,
literacy, attendance, insurance 1/0 [1]; bedrooms per member [0.5]; years of schooling [min(age - 6, 8)].
Item gap = (norm - achievement) / norm clipped to [-1, 1]; component = mean of items; index = mean of the six.
"""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from indicators.area_indicators import roll_up
from indicators.nbi import (
    POVERTY_PATH,
    NBIConfigError,
    load_nbi_config,
    nbi_area_counts,
    nbi_households,
    nbi_stratum,
)
from transforms.areas import area_parents

CONFIG = load_nbi_config()
AREAS = pd.DataFrame({
    "area_id": ["Z1", "Z2", "D1"], "level": ["zona", "zona", "distrito"], "depth": [0, 0, 1],
    "name": ["Uno", "Dos", "Distrito"], "parent_id": ["D1", "D1", None], "geometry_wkt": [None, None, None],
})


def households(rows):
    """Households typed as staging types them."""
    frame = pd.DataFrame(rows, columns=["household_id", "area_id", "wall_material", "floor_material",
                                        "roof_material", "bedrooms", "members", "water_source", "sanitation",
                                        "electricity", "cooking_fuel"])
    for column in ("household_id", "area_id", "wall_material", "floor_material", "roof_material",
                   "water_source", "sanitation", "cooking_fuel"):
        frame[column] = frame[column].astype("string")
    frame["rooms"] = frame["bedrooms"]
    for column in ("bedrooms", "rooms", "members"):
        frame[column] = frame[column].astype("Int64")
    frame["electricity"] = frame["electricity"].astype("boolean")
    return frame


def persons(rows):
    frame = pd.DataFrame(rows, columns=["household_id", "age", "literate", "attends_school", "years_schooling",
                                        "health_insurance"])
    frame["household_id"] = frame["household_id"].astype("string")
    for column in ("age", "years_schooling"):
        frame[column] = frame[column].astype("Int64")
    for column in ("literate", "attends_school", "health_insurance"):
        frame[column] = frame[column].astype("boolean")
    return frame


# Four households, two zones. h4 has a missing literacy answer, so it cannot be measured.
HOUSEHOLDS = households([
    ("h1", "Z1", "brick", "cement", "calamina", 2, 2, "piped_inside", "sewer", True, "gas_cylinder"),
    ("h2", "Z1", "adobe_unplastered", "earth", "calamina", 1, 3, "public_tap", "cesspit", True, "firewood"),
    ("h3", "Z2", "cane_palm_trunk", "earth", "straw_cane_palm", 0, 4, "river_spring", "none", False, "dung"),
    ("h4", "Z2", "brick", "ceramic", "concrete_slab", 1, 1, "piped_inside", "sewer", True, "gas_piped"),
])
PERSONS = persons([
    # household, age, literate, attends, years, insured
    ("h1", 40, True, None, 12, True),
    ("h1", 10, True, True, 4, True),
    ("h2", 35, False, None, 2, False),
    ("h2", 33, True, None, 6, True),
    ("h2", 8, True, False, 0, False),
    ("h3", 50, False, None, 0, False),
    ("h3", 12, True, False, 3, False),
    ("h3", 70, False, None, 0, False),
    ("h3", 3, None, None, 0, False),
    ("h4", 30, None, None, 14, True),
])


def row(frame, household_id):
    return frame.set_index("household_id").loc[household_id]


def test_household_gaps_index_and_strata_by_hand():
    hh = nbi_households(HOUSEHOLDS, PERSONS, CONFIG)
    h1, h2, h3, h4 = (row(hh, h) for h in ("h1", "h2", "h3", "h4"))
    # h1 materials: walls brick (2-3)/2 = -0.5, floor cement 0, roof calamina 0 -> -0.5/3 = -1/6
    assert h1["gap_materials"] == pytest.approx(-1 / 6)
    # h1 space: 2 bedrooms / 2 members = 1 per person; (0.5 - 1)/0.5 = -1
    assert h1["gap_space"] == pytest.approx(-1.0)
    # h1 water piped inside (2-3)/2 = -0.5, sewer 0 -> -0.25; energy: electricity 0, bottled gas 0 -> 0
    assert h1["gap_water_sanitation"] == pytest.approx(-0.25)
    assert h1["gap_energy"] == pytest.approx(0.0)
    # h1 education: age 40: years (8-12)/8 = -0.5, literate 0 -> -0.25; age 10: years norm 4, (4-4)/4 = 0,
    # attends 0 -> 0 (literacy is from 15); household (-0.25 + 0)/2 = -0.125. Health: both insured -> 0
    assert h1["gap_education"] == pytest.approx(-0.125)
    assert h1["gap_health"] == pytest.approx(0.0)
    # index (-1/6 - 1 - 0.25 + 0 - 0.125 + 0)/6 = -1.5416667/6 = -0.2569444 -> needs met [-1, -0.1)
    assert h1["nbi_index"] == pytest.approx(-1.5416666667 / 6)
    assert h1["stratum"] == "needs_met" and not h1["nbi_poor"]

    # h2 materials: unplastered adobe (2-1)/2 = 0.5, earth (2-0)/2 = 1, calamina 0 -> 1.5/3 = 0.5
    assert h2["gap_materials"] == pytest.approx(0.5)
    # h2 space: 1 bedroom / 3 members = 1/3; (0.5 - 1/3)/0.5 = 1/3
    assert h2["gap_space"] == pytest.approx(1 / 3)
    # h2 public tap (2-1)/2 = 0.5, cesspit (2-1)/2 = 0.5 -> 0.5; electricity 0, firewood (2-0)/2 = 1 -> 0.5
    assert h2["gap_water_sanitation"] == pytest.approx(0.5)
    assert h2["gap_energy"] == pytest.approx(0.5)
    # h2 education: 35: years (8-2)/8 = 0.75, illiterate 1 -> 0.875; 33: (8-6)/8 = 0.25, literate 0 -> 0.125;
    # 8: years norm 2, (2-0)/2 = 1, not attending 1 -> 1; household (0.875 + 0.125 + 1)/3 = 2/3
    assert h2["gap_education"] == pytest.approx(2 / 3)
    # h2 health: uninsured, insured, uninsured -> (1 + 0 + 1)/3 = 2/3
    assert h2["gap_health"] == pytest.approx(2 / 3)
    # index (0.5 + 1/3 + 0.5 + 0.5 + 2/3 + 2/3)/6 = 3.1666667/6 = 0.5277778 -> indigence (0.4, 0.7]
    assert h2["nbi_index"] == pytest.approx(3.1666666667 / 6)
    assert h2["stratum"] == "indigence" and h2["nbi_poor"]

    # h3: every housing item at 0 points -> gaps 1; 0 bedrooms for 4 -> (0.5 - 0)/0.5 = 1
    for component in ("materials", "space", "water_sanitation", "energy"):
        assert h3[f"gap_{component}"] == pytest.approx(1.0)
    # h3 education: 50: years 1, illiterate 1 -> 1; 12: years norm 6, (6-3)/6 = 0.5, not attending 1 -> 0.75;
    # 70: 1; the 3-year-old has no item -> (1 + 0.75 + 1)/3 = 0.9166667. Health: 4 of 4 uninsured -> 1
    assert h3["gap_education"] == pytest.approx(2.75 / 3)
    assert h3["gap_health"] == pytest.approx(1.0)
    # index (1 + 1 + 1 + 1 + 0.9166667 + 1)/6 = 0.9861111 -> marginality (0.7, 1]
    assert h3["nbi_index"] == pytest.approx(5.9166666667 / 6)
    assert h3["stratum"] == "marginality" and h3["nbi_poor"]

    # h4: the only member's literacy is unanswered -> education cannot be scored -> no index at all
    assert math.isnan(h4["gap_education"]) and math.isnan(h4["nbi_index"])
    assert h4["stratum"] is None and pd.isna(h4["nbi_poor"])
    # ... while what could be scored still is: ceramic, slab, brick all (2-3)/2 = -0.5
    assert h4["gap_materials"] == pytest.approx(-0.5)
    assert list(hh.columns) == ["household_id", "area_id", "members", "gap_materials", "gap_space",
                                "gap_water_sanitation", "gap_energy", "gap_education", "gap_health", "nbi_index",
                                "stratum", "nbi_poor"]


def test_strata_boundaries_are_exact():
    index = [-1.0, -0.1000001, -0.1, 0.1, 0.1000001, 0.4, 0.4000001, 0.7, 0.7000001, 1.0, float("nan")]
    # needs met [-1, -0.1), threshold [-0.1, 0.1], moderate (0.1, 0.4], indigence (0.4, 0.7], marginality (0.7, 1]
    assert nbi_stratum(index, CONFIG).tolist() == [
        "needs_met", "needs_met", "threshold", "threshold", "moderate_poverty", "moderate_poverty", "indigence",
        "indigence", "marginality", "marginality", None]


def test_index_on_a_cut_off_is_not_pushed_across_by_rounding_error():
    # 5 adults (30, 8 years, literate), 4 insured; no bedroom; every housing answer at 0 points.
    # gaps: materials 1, space (0.5 - 0/5)/0.5 = 1, water 1, energy 1, education (8-8)/8 = 0, health 1/5 = 0.2
    # index (1 + 1 + 1 + 1 + 0 + 0.2)/6 = 4.2/6 = 0.7 exactly -> indigence (0.7 is included); in binary floating
    # point the mean is 0.7000000000000001, which would read as marginality.
    hh = households([("h", "Z1", "cane_palm_trunk", "earth", "straw_cane_palm", 0, 5, "river_spring", "none",
                      False, "dung")])
    pp = persons([("h", 30, True, None, 8, insured) for insured in (True, True, True, True, False)])
    result = nbi_households(hh, pp, CONFIG).iloc[0]
    assert result["nbi_index"] == 0.7
    assert result["stratum"] == "indigence"


def test_missing_answers_and_no_eligible_member_leave_the_household_unmeasured():
    hh = households([
        ("a", "Z1", "brick", None, "calamina", 1, 2, "piped_inside", "sewer", True, "gas_piped"),  # floor missing
        ("b", "Z1", "brick", "cement", "calamina", 1, 1, "piped_inside", "sewer", True, "gas_piped"),  # a child
        ("c", "Z1", "brick", "cement", "calamina", None, 1, "piped_inside", "sewer", True, "gas_piped"),
        ("d", "Z1", "brick", "cement", "calamina", 1, 1, "piped_inside", "sewer", True, "gas_piped"),  # no one
    ])
    pp = persons([
        ("a", 30, True, None, 10, True), ("a", 28, True, None, 10, True),
        ("b", 4, None, None, 0, True),  # a 4-year-old alone: no education item applies to anyone
        ("c", 30, True, None, 10, True),  # bedrooms missing -> space cannot be scored
    ])
    result = nbi_households(hh, pp, CONFIG).set_index("household_id")
    assert math.isnan(result.loc["a", "gap_materials"])
    assert math.isnan(result.loc["b", "gap_education"])
    assert math.isnan(result.loc["c", "gap_space"])
    assert math.isnan(result.loc["d", "gap_education"]) and math.isnan(result.loc["d", "gap_health"])
    assert result["nbi_index"].isna().all()
    assert result["nbi_poor"].isna().all()


def value_of(counts, area, indicator):
    found = counts[(counts["area_id"] == area) & (counts["indicator_id"] == indicator)].iloc[0]
    return found["numerator"], found["denominator"]


def test_area_counts_by_hand():
    counts = nbi_area_counts(nbi_households(HOUSEHOLDS, PERSONS, CONFIG), CONFIG)
    # Z1: h1 (2 members, needs met), h2 (3 members, indigence). Persons in NBI-poor households: 3 of 5
    assert value_of(counts, "Z1", "nbi_poor_persons") == (3, 5)
    assert value_of(counts, "Z1", "nbi_poor_households") == (1, 2)
    assert value_of(counts, "Z1", "nbi_stratum_needs_met") == (2, 5)
    assert value_of(counts, "Z1", "nbi_stratum_indigence") == (3, 5)
    assert value_of(counts, "Z1", "nbi_stratum_threshold") == (0, 5)
    # Z2: h3 (4 members, marginality) measured, h4 (1 member) not: 4 of 4, and 1 of 2 households unmeasured
    assert value_of(counts, "Z2", "nbi_poor_persons") == (4, 4)
    assert value_of(counts, "Z2", "nbi_unmeasured_households") == (1, 2)
    assert value_of(counts, "Z1", "nbi_unmeasured_households") == (0, 2)
    # components, gap > 0.1: materials Z2 h3 (1) yes, h4 (-0.5) no but scored -> 4 of 4 + 1 = 5 persons
    assert value_of(counts, "Z2", "nbi_deprived_materials") == (4, 5)
    # education Z2: h4 cannot be scored, so it leaves the denominator -> 4 of 4
    assert value_of(counts, "Z2", "nbi_deprived_education") == (4, 4)
    # Z1 space: h1 -1 no, h2 1/3 yes -> 3 of 5; weight_sq = 2² + 3² = 13 (for the effective n)
    assert value_of(counts, "Z1", "nbi_deprived_space") == (3, 5)
    z1 = counts[(counts["area_id"] == "Z1") & (counts["indicator_id"] == "nbi_poor_persons")].iloc[0]
    assert z1["weight_sq"] == 13 and z1["multiplier"] == 1


def test_counts_rolled_up_equal_counts_of_the_pooled_households():
    hh = nbi_households(HOUSEHOLDS, PERSONS, CONFIG)
    by_zone = nbi_area_counts(hh, CONFIG)
    rolled = roll_up(by_zone, area_parents(AREAS))
    district = rolled[rolled["area_id"] == "D1"].set_index("indicator_id")
    pooled = nbi_area_counts(hh.assign(area_id="D1"), CONFIG).set_index("indicator_id")
    assert sorted(district.index) == sorted(pooled.index)
    for column in ("numerator", "denominator"):
        assert np.allclose(district.loc[pooled.index, column], pooled[column])
    # D1 poor persons: Z1 3 of 5 + Z2 4 of 4 = 7 of 9 (0.778), not the mean of the zone rates (0.6 + 1)/2 = 0.8
    assert (district.loc["nbi_poor_persons", "numerator"], district.loc["nbi_poor_persons", "denominator"]) == (7, 9)


def write_config(tmp_path, change):
    data = yaml.safe_load(POVERTY_PATH.read_text(encoding="utf-8"))
    change(data["nbi"])
    path = tmp_path / "poverty.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def set_field(nbi, value):
    nbi["components"]["materials"]["items"][0]["field"] = value


def drop_score(nbi):
    del nbi["components"]["water_sanitation"]["items"][0]["scores"]["well"]


def unknown_code(nbi):
    nbi["components"]["energy"]["items"][1]["scores"]["coal"] = 0


def bad_strata(nbi):
    nbi["strata"][2]["upper"] = 0.05


def zero_norm(nbi):
    nbi["components"]["space"]["items"][0]["norm"] = 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda nbi: set_field(nbi, "wall_colour"), "nbi.components.materials item 'walls': unknown household field "
                                                "'wall_colour'"),
    (drop_score, "nbi.components.water_sanitation item 'water': no score for ['well']"),
    (unknown_code, "nbi.components.energy item 'cooking_fuel': unknown answer(s) ['coal']"),
    (bad_strata, "nbi.strata 'moderate_poverty': upper bounds must increase"),
    (zero_norm, "nbi.components.space item 'bedrooms': norm must be positive"),
    (lambda nbi: nbi.update(poor_strata=["destitution"]), "nbi.poor_strata: unknown or no strata ['destitution']"),
])
def test_config_errors_name_the_file_and_the_entry(tmp_path, change, message):
    path = write_config(tmp_path, change)
    with pytest.raises(NBIConfigError) as error:
        load_nbi_config(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_shipped_config_has_the_ine_components_and_strata():
    assert [c.id for c in CONFIG.components] == ["materials", "space", "water_sanitation", "energy", "education",
                                                 "health"]
    assert [(s.id, s.upper, s.includes_upper) for s in CONFIG.strata] == [
        ("needs_met", -0.1, False), ("threshold", 0.1, True), ("moderate_poverty", 0.4, True),
        ("indigence", 0.7, True), ("marginality", 1.0, True)]
    assert CONFIG.poor_strata == {"moderate_poverty", "indigence", "marginality"}


# -- the rules at their boundaries (from the mutation run's survivors) ---------------------------------------------

def test_an_item_applies_to_ages_from_and_to_inclusive():
    from indicators.nbi import Item, _applies

    item = Item("literacy", "literate", norm=1.0, ages=(6.0, 18.0))
    persons = pd.DataFrame({"age": [5, 6, 18, 19]})
    assert _applies(persons, item).tolist() == [False, True, True, False]


def test_years_of_schooling_apply_only_after_the_entry_age():
    """Norm by age: at the entry age the norm is 0 years (no gap to measure), one year later 1."""
    from indicators.nbi import Item, _applies, item_gaps

    item = Item("schooling", "years_schooling", entry_age=6.0, max_years=12.0)
    persons = pd.DataFrame({"age": [6, 7, 18, 19, 40], "years_schooling": [0, 0, 12, 12, 6]})
    assert _applies(persons, item).tolist() == [False, True, True, True, True]
    gaps = item_gaps(persons, item)
    # norm = clip(age - 6, 0, 12): 0 (no gap), 1, 12, 12 (capped), 12; gap = (norm - years) / norm
    assert math.isnan(gaps[0])
    assert gaps[1:].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.5])


def test_a_gap_is_clipped_to_minus_one_and_one():
    from indicators.nbi import Item, item_gaps

    item = Item("rooms", "rooms", norm=2.0, per="members")
    frame = pd.DataFrame({"rooms": [0, 2, 6, 8], "members": [1, 1, 1, 1]})
    # (2 - a) / 2 for a = 0, 2, 6, 8: 1, 0, -2 -> -1, -3 -> -1
    assert item_gaps(frame, item).tolist() == [1.0, 0.0, -1.0, -1.0]
