"""Area indicators, roll-up and suppression against values computed by hand."""

import math

import pandas as pd
import pytest

from indicators.area_indicators import census_counts, exact_values, publish_values, roll_up
from transforms.areas import area_parents, place_points

# Two zones (Z1, Z2) in one district D1; unit squares side by side.
AREAS = pd.DataFrame({
    "area_id": ["Z1", "Z2", "D1"],
    "level": ["zona", "zona", "distrito"],
    "depth": [0, 0, 1],
    "name": ["Uno", "Dos", "Distrito"],
    "parent_id": ["D1", "D1", None],
    "geometry_wkt": ["POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))", "POLYGON ((1 0, 2 0, 2 1, 1 1, 1 0))",
                     "POLYGON ((0 0, 2 0, 2 1, 0 1, 0 0))"],
})


def households():
    return pd.DataFrame({
        "area_id": ["Z1", "Z1", "Z1", "Z2"],
        "wall_material": ["brick", "adobe_unplastered", "brick", "brick"],
        "floor_material": ["cement", "cement", "earth", None],
        "roof_material": ["calamina"] * 4,
        "bedrooms": pd.array([1, 2, 0, 1], dtype="Int64"),
        "members": pd.array([4, 6, 2, 3], dtype="Int64"),
        "water_source": ["piped_inside", "well", None, "piped_outside"],
        "sanitation": ["sewer", "cesspit", "sewer", "septic_tank"],
        "electricity": pd.array([True, False, True, True], dtype="boolean"),
        "cooking_fuel": ["gas_cylinder", "firewood", "gas_piped", "gas_piped"],
    })


def persons():
    return pd.DataFrame({
        "area_id": ["Z1", "Z1", "Z1", "Z2", "Z2"],
        "age": pd.array([30, 10, 70, 16, 40], dtype="Int64"),
        "literate": pd.array([True, None, False, True, True], dtype="boolean"),
        "attends_school": pd.array([None, False, None, True, None], dtype="boolean"),
        "health_insurance": pd.array([True, False, False, True, None], dtype="boolean"),
    })


def value_of(counts, area, indicator):
    row = counts[(counts["area_id"] == area) & (counts["indicator_id"] == indicator)].iloc[0]
    return row["numerator"], row["denominator"]


def test_census_counts_by_hand():
    counts = census_counts(households(), persons())
    # Z1 materials: h2 adobe_unplastered walls, h3 earth floor -> 2 of 3; Z2's floor is missing -> 0 of 0
    assert value_of(counts, "Z1", "inadequate_materials") == (2, 3)
    assert value_of(counts, "Z2", "inadequate_materials") == (0, 0)
    # Z1 persons per bedroom: 4/1 = 4 (>3), 6/2 = 3 (not >3), 2/max(0,1) = 2 -> 1 of 3
    assert value_of(counts, "Z1", "overcrowding") == (1, 3)
    # Z1 water: well (not piped) of two known (one missing) -> 1 of 2
    assert value_of(counts, "Z1", "no_piped_water") == (1, 2)
    assert value_of(counts, "Z1", "no_electricity") == (1, 3)
    assert value_of(counts, "Z1", "unclean_cooking_fuel") == (1, 3)
    # illiteracy, 15+: Z1 ages 30 (literate), 70 (not) -> 1 of 2; the 10-year-old does not count
    assert value_of(counts, "Z1", "illiteracy") == (1, 2)
    # school 6-18: Z1 the 10-year-old does not attend -> 1 of 1; Z2 the 16-year-old attends -> 0 of 1
    assert value_of(counts, "Z1", "school_non_attendance") == (1, 1)
    assert value_of(counts, "Z2", "school_non_attendance") == (0, 1)
    assert value_of(counts, "Z1", "no_health_insurance") == (2, 3)


def test_roll_up_sums_counts_not_rates():
    counts = pd.DataFrame({"area_id": ["Z1", "Z2"], "indicator_id": ["x", "x"], "numerator": [1.0, 30.0],
                           "denominator": [10.0, 100.0], "multiplier": [1.0, 1.0]})
    rolled = roll_up(counts, area_parents(AREAS))
    district = rolled[rolled["area_id"] == "D1"].iloc[0]
    # (1 + 30) / (10 + 100) = 0.2818..., not the mean of rates (0.1 + 0.3) / 2 = 0.2
    assert (district["numerator"], district["denominator"]) == (31, 110)
    assert district["level"] == "distrito"


def test_exact_values_and_missing_notes():
    catalogue = pd.DataFrame({"indicator_id": ["x", "pm"], "min_denominator": [20, 0]})
    rolled = pd.DataFrame({"area_id": ["Z1", "Z2", "D1", "Z1"], "level": ["zona", "zona", "distrito", "zona"],
                           "indicator_id": ["x", "x", "x", "pm"], "numerator": [1.0, 30.0, 31.0, 50.0],
                           "denominator": [10.0, 100.0, 110.0, 2.0], "multiplier": [1.0, 1.0, 1.0, 1.0]})
    out = exact_values(rolled, catalogue, AREAS, "2024", {"pm": "no sensor in range"}).set_index(
        ["area_id", "indicator_id"])
    assert out.loc[("Z1", "x")]["value"] == pytest.approx(0.1)  # exact: disclosure control comes after
    assert out.loc[("Z2", "x")]["value"] == pytest.approx(0.3)
    assert out.loc[("D1", "x")]["value"] == pytest.approx(31 / 110)
    assert out.loc[("Z1", "pm")]["value"] == pytest.approx(25)  # 50 / 2
    # Z2 and D1 have no pm counts -> NULL with the indicator's note
    assert math.isnan(out.loc[("Z2", "pm")]["value"]) and out.loc[("Z2", "pm")]["note"] == "no sensor in range"
    assert len(out) == 6  # every area x every indicator


def test_published_cells_withheld_keep_nothing_and_say_why_without_saying_which_rule():
    exact = pd.DataFrame({"area_id": ["Z1", "Z2"], "level": "zona", "indicator_id": "x", "period": "2024",
                          "value": [0.1, 0.3], "numerator": [1.0, 30.0], "denominator": [10.0, 100.0],
                          "note": [None, None]})
    out = publish_values(exact, pd.Series(["primary", None])).set_index("area_id")
    z1 = out.loc["Z1"]
    assert bool(z1["suppressed"]) and z1["suppression"] == "primary"
    assert math.isnan(z1["value"]) and math.isnan(z1["numerator"]) and math.isnan(z1["denominator"])
    assert z1["note"] == "suppressed: too few cases behind the figure (docs/privacy.md)"
    z2 = out.loc["Z2"]
    assert not z2["suppressed"] and pd.isna(z2["suppression"]) and z2["value"] == pytest.approx(0.3)


def test_place_points_one_area_each():
    lon = pd.Series([0.5, 1.0, 1.5, 5.0, None])
    lat = pd.Series([0.5, 0.5, 0.5, 0.5, 0.5])
    # x = 1.0 lies on the shared border: it goes to the smaller id, Z1; (5, .5) is outside; None has no location
    placed = place_points(lon, lat, AREAS)
    assert placed.iloc[:3].tolist() == ["Z1", "Z1", "Z2"]
    assert placed.iloc[3:].isna().all()


def _one_area_persons(ages, literate=None, attends=None):
    n = len(ages)
    return pd.DataFrame({
        "area_id": ["Z1"] * n, "age": pd.array(ages, dtype="Int64"),
        "literate": pd.array(literate or [False] * n, dtype="boolean"),
        "attends_school": pd.array(attends or [False] * n, dtype="boolean"),
        "health_insurance": pd.array([True] * n, dtype="boolean"),
    })


def test_age_bounds_of_the_person_indicators():
    """Illiteracy counts persons aged 15+ (14 is out, 15 in); school attendance ages 6 to 18 (5 and 19 out)."""
    counts = census_counts(households().iloc[:0], _one_area_persons([5, 6, 14, 15, 18, 19]))
    assert value_of(counts, "Z1", "illiteracy") == (3, 3)              # 15, 18, 19
    assert value_of(counts, "Z1", "school_non_attendance") == (4, 4)   # 6, 14, 15, 18


@pytest.mark.parametrize(("members", "bedrooms", "overcrowded"), [
    (6, 2, False),  # 3 per bedroom: not more than 3
    (7, 2, True),   # 3.5
    (3, 0, False),  # no bedroom counts as one: 3
    (4, 0, True),
])
def test_overcrowding_is_more_than_three_per_bedroom(members, bedrooms, overcrowded):
    h = households().iloc[:1].assign(members=pd.array([members], dtype="Int64"),
                                     bedrooms=pd.array([bedrooms], dtype="Int64"))
    counts = census_counts(h, _one_area_persons([30]))
    assert value_of(counts, "Z1", "overcrowding") == (float(overcrowded), 1.0)


def test_electricity_and_materials_count_the_right_households():
    """Z1's three households (by hand): materials all known in 2 (the third has an earth floor: inadequate);
    one without electricity."""
    counts = census_counts(households(), persons())
    assert value_of(counts, "Z1", "inadequate_materials") == (2, 3)   # adobe_unplastered walls, earth floor
    assert value_of(counts, "Z1", "no_electricity") == (1, 3)
    assert value_of(counts, "Z2", "inadequate_materials") == (0, 0)   # floor unknown: not measured


def test_rates_use_their_multiplier_and_a_zero_denominator_measures_no_one():
    catalogue = pd.DataFrame({"indicator_id": ["rate"], "min_denominator": [20]})
    rolled = pd.DataFrame({"area_id": ["Z1", "Z2"], "level": ["zona", "zona"], "indicator_id": ["rate", "rate"],
                           "numerator": [3.0, 0.0], "denominator": [250.0, 0.0], "multiplier": [1000.0, 1000.0]})
    out = exact_values(rolled, catalogue, AREAS, "2024").set_index(["area_id", "indicator_id"])
    assert out.loc[("Z1", "rate"), "value"] == pytest.approx(12.0)  # 3 / 250 x 1000
    assert math.isnan(out.loc[("Z2", "rate"), "value"])
    assert out.loc[("Z2", "rate"), "note"] == "no one to measure: the denominator is zero"


def test_census_shares_are_plain_fractions():
    counts = census_counts(households(), persons())
    assert set(counts["multiplier"]) == {1.0}


@pytest.mark.parametrize(("wall", "floor", "roof", "inadequate"), [
    ("brick", "cement", "calamina", False),
    ("adobe_unplastered", "cement", "calamina", True),   # the walls alone
    ("brick", "earth", "calamina", True),                # the floor alone
    ("brick", "cement", "straw_cane_palm", True),        # the roof alone
])
def test_each_material_alone_makes_a_home_inadequate(wall, floor, roof, inadequate):
    h = households().iloc[:1].assign(wall_material=wall, floor_material=floor, roof_material=roof)
    assert value_of(census_counts(h, _one_area_persons([30])), "Z1", "inadequate_materials") == (
        float(inadequate), 1.0)


def test_population_counts_residents_and_homes_with_zero_for_an_empty_area():
    from indicators.area_indicators import population

    out = population(households(), persons(), ["Z1", "Z2", "Z3"]).set_index("area_id")
    assert out.loc["Z1"].tolist() == [3, 3] and out.loc["Z2"].tolist() == [2, 1] and out.loc["Z3"].tolist() == [0, 0]


def test_a_denominator_of_one_is_measured():
    catalogue = pd.DataFrame({"indicator_id": ["x"], "min_denominator": [0]})
    rolled = pd.DataFrame({"area_id": ["Z1"], "level": ["zona"], "indicator_id": ["x"], "numerator": [1.0],
                           "denominator": [1.0], "multiplier": [1.0]})
    out = exact_values(rolled, catalogue, AREAS, "2024").set_index(["area_id", "indicator_id"])
    assert out.loc[("Z1", "x"), "value"] == 1.0
