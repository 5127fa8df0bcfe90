"""NBI rules at their boundaries, and every rule of the `nbi` section of indicators/poverty.yaml naming what is wrong.

Companion of tests/test_nbi.py (households scored by hand with the shipped config); these tests pin what the
mutation run (tests/mutants.py) found unpinned: config checks one error branch at a time, the boundaries of ages,
strata, max_years and the per-component deprivation line, the clip of gaps and the rounding of the index.
Item gap = (norm - achievement) / norm clipped to [-1, 1]; component = mean of items; index = mean of the six.
"""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from test_nbi import households, persons  # typed as staging types them

from indicators.nbi import (
    POVERTY_PATH,
    Item,
    NBIConfigError,
    item_gaps,
    load_nbi_config,
    nbi_area_counts,
    nbi_households,
)

CONFIG = load_nbi_config()


def at_norm(household_id, area_id, members, bedrooms):
    """A household exactly at the norm on every housing item: plastered adobe, cement, calamina, piped outside,
    sewer, electricity, bottled gas all score the norm's 2 (or 1 of 1): gaps 0. Space: (0.5 - b/m)/0.5."""
    return (household_id, area_id, "adobe_plastered", "cement", "calamina", bedrooms, members, "piped_outside",
            "sewer", True, "gas_cylinder")


def adults(household_id, insured, uninsured=0):
    """Adults aged 30 with 8 years of schooling who read: education gap (8 - 8)/8 = 0 and literacy 0."""
    return [(household_id, 30, True, None, 8, True)] * insured + [(household_id, 30, True, None, 8, False)] * uninsured


# -- the index and the items --------------------------------------------------------------------------------------

def test_the_index_is_rounded_to_ten_decimals():
    # 6 members, 3 bedrooms: 0.5 per member -> space (0.5 - 0.5)/0.5 = 0; every housing item at the norm -> 0;
    # education 0; health: 2 of 6 uninsured -> 1/3. Index (0 + 0 + 0 + 0 + 0 + 1/3)/6 = 1/18 = 0.0555555555...
    # rounded to 10 decimals: 0.0555555556 (11 decimals would give 0.05555555556)
    hh = households([at_norm("h", "Z1", 6, 3)])
    result = nbi_households(hh, persons(adults("h", 4, 2)), CONFIG).iloc[0]
    assert result["gap_health"] == pytest.approx(1 / 3)
    assert result["nbi_index"] == pytest.approx(0.0555555556, abs=1e-13)
    assert result["stratum"] == "threshold" and not result["nbi_poor"]


@pytest.mark.parametrize(("eligible", "expected"), [(0, None), (1, 1.0), (2, 0.5)])
def test_a_person_component_needs_one_member_it_applies_to(eligible, expected):
    """Education applies from age 6 (attendance): 0 such members -> no gap; 1 -> their gap; 2 -> the mean."""
    # the household: one 4-year-old (no education item applies to them), plus with 1 eligible an adult aged 30
    # with 0 years who cannot read: years (8 - 0)/8 = 1, literacy 1 -> (1 + 1)/2 = 1; plus with 2 an adult aged 30
    # with 8 years who reads: (0 + 0)/2 = 0 -> household (1 + 0)/2 = 0.5
    members = [("h", 4, None, None, 0, True)]
    if eligible >= 1:
        members.append(("h", 30, False, None, 0, True))
    if eligible >= 2:
        members.append(("h", 30, True, None, 8, True))
    hh = households([at_norm("h", "Z1", len(members), 1)])
    gap = nbi_households(hh, persons(members), CONFIG).iloc[0]["gap_education"]
    if expected is None:
        assert math.isnan(gap)
    else:
        assert gap == pytest.approx(expected)


@pytest.mark.parametrize(("age", "expected"), [
    (5, None),      # no education item applies before 6: not eligible, no gap
    (6, 0.0),       # attendance only (from 6; years start at 7): attends -> 0
    (7, 0.5),       # years norm min(7 - 6, 8) = 1: (1 - 0)/1 = 1; attendance 0 -> (1 + 0)/2
    (14, 0.5),      # years norm 8: (8 - 0)/8 = 1; literacy not yet (from 15); attendance 0 -> 0.5
    (15, 2 / 3),    # literacy applies from 15: years 1, literacy 1, attendance 0 -> 2/3
    (17, 2 / 3),    # attendance still applies at 17 (ages [6, 17])
    (18, 1.0),      # attendance no longer: years 1, literacy 1 -> 1
])
def test_education_items_apply_at_the_configured_ages(age, expected):
    """One member who cannot read, has 0 years of schooling and attends school; the shipped ages are years
    [7, null], literacy [15, null], attendance [6, 17]."""
    hh = households([at_norm("h", "Z1", 1, 1)])
    gap = nbi_households(hh, persons([("h", age, False, True, 0, True)]), CONFIG).iloc[0]["gap_education"]
    if expected is None:
        assert math.isnan(gap)
    else:
        assert gap == pytest.approx(expected)


def test_shipped_ages_are_parsed_as_from_and_to():
    education = next(c for c in CONFIG.components if c.id == "education")
    assert [item.ages for item in education.items] == [(7.0, math.inf), (15.0, math.inf), (6.0, 17.0)]


def test_a_norm_of_zero_years_gives_no_gap_whatever_the_achievement():
    """norm_by_age: at the entry age (and before it) the norm is 0 years: the gap is NaN, never -1 or 0."""
    item = Item("years", "years_schooling", entry_age=6.0, max_years=8.0)
    frame = pd.DataFrame({"age": [3, 6, 6, 7, 8], "years_schooling": [2, 0, 1, 2, 1]})
    gaps = item_gaps(frame, item)
    # norms clip(age - 6, 0, 8) = 0, 0, 0, 1, 2: the first three have no gap; (1 - 2)/1 = -1; (2 - 1)/2 = 0.5
    assert np.isnan(gaps[:3]).all()
    assert gaps[3:].tolist() == [-1.0, 0.5]


def test_a_gap_above_one_is_clipped_to_one():
    """(norm - a)/norm exceeds 1 only for a negative achievement, e.g. a score below 0 in the config."""
    item = Item("fuel", "cooking_fuel", norm=2.0, scores={"dung": -1.0, "firewood": 0.0, "gas": 2.0, "piped": 5.0})
    frame = pd.DataFrame({"cooking_fuel": ["dung", "firewood", "gas", "piped"]})
    # (2 - -1)/2 = 1.5 -> 1; (2 - 0)/2 = 1; (2 - 2)/2 = 0; (2 - 5)/2 = -1.5 -> -1
    assert item_gaps(frame, item).tolist() == [1.0, 1.0, 0.0, -1.0]


# -- area counts --------------------------------------------------------------------------------------------------

def test_a_component_counts_as_deprived_only_above_the_line():
    """component_deprived_above = 0.1: health gap 1/11 (below), 1/10 (at) -> not deprived; 1/9 (above) -> deprived."""
    assert CONFIG.component_deprived_above == 0.1
    rows, people = [], []
    for area, size in (("below", 11), ("at", 10), ("above", 9)):
        # members = size, bedrooms size/2 rounded down: space does not matter here, only that it is scored
        rows.append(at_norm(area, area, size, size // 2))
        people += adults(area, size - 1, 1)  # one uninsured member: health gap 1/size (1.0/10 == 0.1 exactly)
    hh = nbi_households(households(rows), persons(people), CONFIG)
    assert hh.set_index("household_id").loc["at", "gap_health"] == 0.1
    counts = nbi_area_counts(hh, CONFIG)
    deprived = counts[counts["indicator_id"] == "nbi_deprived_health"].set_index("area_id")
    # persons in households with gap > 0.1 / persons in households where health was scored
    assert deprived.loc["below", ["numerator", "denominator"]].tolist() == [0, 11]
    assert deprived.loc["at", ["numerator", "denominator"]].tolist() == [0, 10]
    assert deprived.loc["above", ["numerator", "denominator"]].tolist() == [9, 9]


# -- the config: boundaries ---------------------------------------------------------------------------------------

SHIPPED_NBI = yaml.safe_load(POVERTY_PATH.read_text(encoding="utf-8"))["nbi"]


def write_config(tmp_path, change):
    """The shipped `nbi` section with one change, alone in a poverty config (the NBI reads nothing else)."""
    nbi = copy.deepcopy(SHIPPED_NBI)
    change(nbi)
    path = tmp_path / "poverty.yaml"
    path.write_text(yaml.safe_dump({"nbi": nbi}, allow_unicode=True), encoding="utf-8")
    return path


def item(nbi, component, name):
    return next(i for i in nbi["components"][component]["items"] if i["id"] == name)


def stratum(nbi, name):
    return next(s for s in nbi["strata"] if s["id"] == name)


@pytest.mark.parametrize(("ages", "ok"), [([10, 9], False), ([10, 10], True), ([10, 11], True)])
def test_ages_may_be_a_single_year_but_not_empty(tmp_path, ages, ok):
    path = write_config(tmp_path, lambda nbi: item(nbi, "education", "literacy").update(ages=ages))
    if ok:
        literacy = next(c for c in load_nbi_config(path).components if c.id == "education").items[1]
        assert literacy.ages == tuple(float(a) for a in ages)
    else:
        with pytest.raises(NBIConfigError, match=r"ages \[10, 9\] are empty \(from > to\)"):
            load_nbi_config(path)


@pytest.mark.parametrize(("max_years", "ok"), [(-1, False), (0, False), (0.5, True), (1, True)])
def test_max_years_must_be_positive(tmp_path, max_years, ok):
    path = write_config(tmp_path, lambda nbi: item(nbi, "education", "years")["norm_by_age"].update(
        max_years=max_years))
    if ok:
        years = next(c for c in load_nbi_config(path).components if c.id == "education").items[0]
        assert years.max_years == max_years
    else:
        with pytest.raises(NBIConfigError, match="max_years must be positive"):
            load_nbi_config(path)


@pytest.mark.parametrize(("upper", "ok"), [(0.05, False), (0.1, False), (0.15, True)])
def test_strata_upper_bounds_must_strictly_increase(tmp_path, upper, ok):
    """moderate_poverty's upper moved around threshold's upper, 0.1: equal is refused like smaller."""
    path = write_config(tmp_path, lambda nbi: stratum(nbi, "moderate_poverty").update(upper=upper))
    if ok:
        assert [s.upper for s in load_nbi_config(path).strata] == [-0.1, 0.1, upper, 0.7, 1.0]
    else:
        with pytest.raises(NBIConfigError, match=f"'moderate_poverty': upper bounds must increase \\({upper} after"):
            load_nbi_config(path)


@pytest.mark.parametrize(("upper", "included", "ok"), [
    (0.9, True, False), (1.0, True, True), (1.1, True, False), (1.0, False, False)])
def test_the_last_stratum_ends_at_one_included(tmp_path, upper, included, ok):
    path = write_config(tmp_path, lambda nbi: stratum(nbi, "marginality").update(upper=upper,
                                                                                  includes_upper=included))
    if ok:
        assert load_nbi_config(path).strata[-1].upper == 1.0
    else:
        with pytest.raises(NBIConfigError, match="'marginality': the last stratum must end at 1 included"):
            load_nbi_config(path)


# -- the config: one bad entry per error branch ------------------------------------------------------------------

def drop(mapping, key):
    def change(nbi):
        del mapping(nbi)[key]
    return change


BAD_CONFIGS = [
    # the section
    (lambda nbi: nbi.pop("component_deprived_above"), "nbi.component_deprived_above: expected a number, got None"),
    # strata
    (lambda nbi: nbi.update(strata=[]), "nbi.strata: strata must be a non-empty list"),
    (lambda nbi: nbi.update(strata={"needs_met": 1.0}), "nbi.strata: strata must be a non-empty list"),
    (lambda nbi: stratum(nbi, "threshold").pop("id"), "nbi.strata: each stratum needs an id, upper and "
                                                      "includes_upper (true/false), got {"),
    (lambda nbi: stratum(nbi, "threshold").update(includes_upper="yes"), "nbi.strata: each stratum needs an id"),
    (lambda nbi: stratum(nbi, "threshold").update(upper="0.1"), "nbi.strata 'threshold': upper: expected a number"),
    (lambda nbi: nbi.update(poor_strata=[]), "nbi.poor_strata: unknown or no strata []"),
    (lambda nbi: nbi.update(poor_strata=["indigence", "misery"]), "nbi.poor_strata: unknown or no strata ['misery']"),
    # components
    (lambda nbi: nbi.update(components={}), "nbi.components must map component ids to their items"),
    (lambda nbi: nbi.update(components=["materials"]), "nbi.components must map component ids to their items"),
    (lambda nbi: nbi["components"]["space"].update(level="area"),
     "nbi.components.space: level must be household or person, got 'area'"),
    (lambda nbi: nbi["components"]["space"].update(items=[]), "nbi.components.space: no items"),
    (lambda nbi: nbi["components"]["space"].pop("items"), "nbi.components.space: no items"),
    # items
    (lambda nbi: nbi["components"]["space"]["items"][0].pop("id"), "nbi.components.space: each item needs an id"),
    (lambda nbi: nbi["components"]["space"].update(items=["bedrooms"]),
     "nbi.components.space: each item needs an id, got 'bedrooms'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(field="rooms_total"),
     "nbi.components.space item 'bedrooms': unknown household field 'rooms_total'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(scores={"1": 1}),
     "nbi.components.space item 'bedrooms': give exactly one of scores, per, norm_by_age (got ['scores', 'per'])"),
    (lambda nbi: item(nbi, "space", "bedrooms").pop("per"),
     "nbi.components.space item 'bedrooms': give exactly one of scores, per, norm_by_age (got none)"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(ages=[0, None]),
     "nbi.components.space item 'bedrooms': ages apply to person components only"),
    (lambda nbi: item(nbi, "education", "literacy").update(ages=[15]),
     "nbi.components.education item 'literacy': ages must be [from, to] (null for no bound), got [15]"),
    (lambda nbi: item(nbi, "education", "literacy").update(ages="15+"),
     "nbi.components.education item 'literacy': ages must be [from, to] (null for no bound), got '15+'"),
    (lambda nbi: item(nbi, "education", "literacy").update(ages=[15, "old"]),
     "nbi.components.education item 'literacy': expected a number, got 'old'"),
    # norm (numbers: a boolean or a string is not a number)
    (lambda nbi: item(nbi, "space", "bedrooms").update(norm=True),
     "nbi.components.space item 'bedrooms': norm: expected a number, got True"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(norm="half"),
     "nbi.components.space item 'bedrooms': norm: expected a number, got 'half'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(norm=-0.5),
     "nbi.components.space item 'bedrooms': norm must be positive (gaps divide by it), got -0.5"),
    # norm_by_age
    (lambda nbi: item(nbi, "space", "bedrooms").update(norm_by_age={"entry_age": 6, "max_years": 8}) or
     item(nbi, "space", "bedrooms").pop("per"),
     "nbi.components.space item 'bedrooms': norm_by_age needs a person number field and {entry_age, max_years}"),
    (lambda nbi: item(nbi, "education", "years").update(norm_by_age=8),
     "nbi.components.education item 'years': norm_by_age needs a person number field"),
    (lambda nbi: item(nbi, "education", "years").update(field="literate"),
     "nbi.components.education item 'years': norm_by_age needs a person number field"),
    (lambda nbi: item(nbi, "education", "years")["norm_by_age"].pop("entry_age"),
     "nbi.components.education item 'years': entry_age: expected a number, got None"),
    (lambda nbi: item(nbi, "education", "years")["norm_by_age"].update(max_years="eight"),
     "nbi.components.education item 'years': max_years: expected a number, got 'eight'"),
    (lambda nbi: item(nbi, "education", "years")["norm_by_age"].update(max_years=0),
     "nbi.components.education item 'years': max_years must be positive, got 0.0"),
    # per
    (lambda nbi: nbi["components"]["health"]["items"].append(
        {"id": "schooling_per_age", "field": "years_schooling", "per": "age", "norm": 1}),
     "nbi.components.health item 'schooling_per_age': per needs two household number fields, got "
     "'years_schooling' per 'age'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(per="persons"),
     "nbi.components.space item 'bedrooms': per needs two household number fields, got 'bedrooms' per 'persons'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(field="wall_material"),
     "nbi.components.space item 'bedrooms': per needs two household number fields, got 'wall_material' per "
     "'members'"),
    (lambda nbi: item(nbi, "space", "bedrooms").update(per="electricity"),
     "nbi.components.space item 'bedrooms': per needs two household number fields, got 'bedrooms' per "
     "'electricity'"),
    # scores
    (lambda nbi: item(nbi, "materials", "walls").update(scores=[3, 2, 1]),
     "nbi.components.materials item 'walls': scores must map each answer to its points, got [3, 2, 1]"),
    (lambda nbi: nbi["components"]["space"].update(items=[{"id": "beds", "field": "bedrooms", "norm": 1,
                                                           "scores": {1: 1}}]),
     "nbi.components.space item 'beds': field 'bedrooms' is a number; score it with `per` or `norm_by_age`"),
    (lambda nbi: item(nbi, "materials", "roof")["scores"].update(thatch=0),
     "nbi.components.materials item 'roof': unknown answer(s) ['thatch'] for 'roof_material'"),
    (lambda nbi: item(nbi, "materials", "roof")["scores"].pop("tile"),
     "nbi.components.materials item 'roof': no score for ['tile'] of 'roof_material'"),
    (lambda nbi: item(nbi, "materials", "roof")["scores"].update(tile="two"),
     "nbi.components.materials item 'roof': score of 'tile': expected a number, got 'two'"),
]


def test_a_config_without_the_nbi_section_names_the_file(tmp_path):
    path = tmp_path / "poverty.yaml"
    path.write_text("alkire_foster: {k: 1/3}\n", encoding="utf-8")
    with pytest.raises(NBIConfigError, match=f"^{path}: no `nbi` section$"):
        load_nbi_config(path)


@pytest.mark.parametrize(("change", "message"), BAD_CONFIGS)
def test_every_config_rule_names_the_file_and_the_entry(tmp_path, change, message):
    path = write_config(tmp_path, change)
    with pytest.raises(NBIConfigError) as error:
        load_nbi_config(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_a_component_gap_exactly_on_the_line_is_not_pushed_over_it_by_rounding_error():
    """Like the index, a component gap is compared with the line after rounding to 10 decimals: education gaps
    whose mean is exactly 0.1 would otherwise read 0.10000000000000002 (0 + 0.4 - 0.1 = 0.30000000000000004)."""
    # three members: a 6-year-old who attends (attendance only: 0); two 11-year-olds who attend (years norm
    # min(11 - 6, 8) = 5, attendance 0): with y years, ((5 - y)/5 + 0)/2
    def household(name, years):
        return [(name, 6, None, True, 0, True), (name, 11, None, True, 1, True), (name, 11, None, True, years, True)]
    # y = 1: (4/5)/2 = 0.4 for the first; second y = 7: (-2/5)/2 = -0.2, y = 6: -0.1, y = 5: 0
    # household gap (0 + 0.4 + second)/3: 0.2/3 = 0.0667 (below), 0.3/3 = 0.1 (at), 0.4/3 = 0.1333 (above)
    cases = {"below": 7, "at": 6, "above": 5}
    hh = nbi_households(households([at_norm(name, name, 3, 1) for name in cases]),
                        persons([p for name, years in cases.items() for p in household(name, years)]), CONFIG)
    assert hh.set_index("household_id")["gap_education"].to_dict() == pytest.approx(
        {"below": 0.2 / 3, "at": 0.1, "above": 0.4 / 3})
    counts = nbi_area_counts(hh, CONFIG)
    deprived = counts[counts["indicator_id"] == "nbi_deprived_education"].set_index("area_id")
    assert deprived.loc[["below", "at", "above"], "numerator"].tolist() == [0, 0, 3]
    assert deprived["denominator"].tolist() == [3, 3, 3]
