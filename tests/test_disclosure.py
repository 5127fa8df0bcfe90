"""Disclosure control (privacy/disclosure.py): every rule at, below and above its threshold, the family and
hierarchy (secondary) rules on small planted trees, and the city's `disclosure:` block."""

from pathlib import Path

import pandas as pd
import pytest

from cities import City, CityConfigError
from privacy.disclosure import PRIMARY, SECONDARY, SENSITIVE, Limits, Rules, breaks_rules, limits, protect

RULES = Rules()  # min_denominator 20, min_count 5, group_min 50, sensitive 50 / 10
SHARE = Limits(min_denominator=20, min_count=5, group_min=50, share=True)
RATE = Limits(min_denominator=20, min_count=5, group_min=50, share=False)


# ---------------------------------------------------------------------------------------------------------------
# Primary rules, one at a time, at / below / above each threshold
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("denominator", "broken"), [(19, True), (20, False), (21, False)])
def test_minimum_denominator(denominator, broken):
    assert breaks_rules(10, denominator, RATE) is broken


@pytest.mark.parametrize(("numerator", "broken"), [(0, False), (1, True), (4, True), (5, False), (6, False)])
def test_numerator_of_one_to_four(numerator, broken):
    assert breaks_rules(numerator, 100, RATE) is broken


@pytest.mark.parametrize(("numerator", "broken"), [(94, False), (95, False), (96, True), (99, True), (100, False)])
def test_share_complement_of_one_to_four(numerator, broken):
    """100 households, 96 with the attribute: the 4 without it are singled out."""
    assert breaks_rules(numerator, 100, SHARE) is broken


def test_a_rate_has_no_complement():
    """Events per 1,000 residents: 98 reports among 100 residents say nothing about 2 residents."""
    assert breaks_rules(98, 100, RATE) is False


@pytest.mark.parametrize(("numerator", "denominator", "broken"), [
    (0, 49, True), (49, 49, True),      # 0% or 100% of a group of 49: everyone's answer is known
    (0, 50, False), (50, 50, False),    # a group of 50 is large enough
    (0, 51, False), (51, 51, False),
    (25, 49, False),                    # not 0% or 100%
])
def test_group_disclosure(numerator, denominator, broken):
    assert breaks_rules(numerator, denominator, SHARE) is broken


def test_no_group_rule_for_rates():
    assert breaks_rules(0, 30, RATE) is False


def test_cases_hold_persons_to_their_households():
    """7 persons in NBI-poor households of 300 persons: above 4 as persons, but 2 households."""
    assert breaks_rules(7, 300, SHARE) is False
    assert breaks_rules(7, 300, SHARE, numerator_cases=2, denominator_cases=80) is True
    assert breaks_rules(7, 300, SHARE, numerator_cases=5, denominator_cases=80) is False
    # complement in households: 296 of 300 persons, the other 4 persons are 1 household
    assert breaks_rules(290, 300, SHARE, numerator_cases=79, denominator_cases=80) is True
    # the minimum denominator stays in the figure's own unit (persons)
    assert breaks_rules(10, 20, SHARE, numerator_cases=5, denominator_cases=11) is False


def test_sensitive_limits_are_stricter():
    sensitive = limits(RULES, min_denominator=20, share=False, sensitive=True)
    assert (sensitive.min_denominator, sensitive.min_count) == (50, 10)
    assert breaks_rules(10, 49, sensitive) and not breaks_rules(10, 50, sensitive)
    assert breaks_rules(9, 60, sensitive) and not breaks_rules(10, 60, sensitive)
    # a catalogue minimum stricter than the sensitive one wins
    assert limits(RULES, min_denominator=80, share=False, sensitive=True).min_denominator == 80


# ---------------------------------------------------------------------------------------------------------------
# protect(): reasons, families, the hierarchy
# ---------------------------------------------------------------------------------------------------------------

# M1 -> D1 (Z1 Z2 Z3), D2 (Z4 Z5); costs: residents, the cheapest withheld first
PARENTS = pd.Series({"M1": None, "D1": "M1", "D2": "M1", "Z1": "D1", "Z2": "D1", "Z3": "D1", "Z4": "D2", "Z5": "D2"})
COST = pd.Series({"M1": 1000, "D1": 600, "D2": 400, "Z1": 300, "Z2": 100, "Z3": 200, "Z4": 150, "Z5": 250})


def catalogue(*rows):
    base = {"unit": "share", "min_denominator": 20, "sensitive": False, "family": None}
    return pd.DataFrame([{**base, **row} for row in rows])


def tree(indicator, zones: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Cells of one additive indicator: zone counts given, districts and the city their sums."""
    counts = dict(zones)
    for parent in ("D1", "D2", "M1"):
        kids = [a for a, p in PARENTS.items() if p == parent]
        counts[parent] = tuple(sum(counts[k][i] for k in kids) for i in (0, 1))
    return pd.DataFrame([{"area_id": a, "indicator_id": indicator, "numerator": n, "denominator": d}
                         for a, (n, d) in counts.items()])


def reasons(cells, cat, rules=RULES) -> dict[tuple[str, str], str]:
    out = protect(cells, cat, PARENTS, COST, rules)
    return {(i, a): r for i, a, r in zip(cells["indicator_id"], cells["area_id"], out, strict=True) if r}


SAFE = {"Z1": (30, 100), "Z2": (20, 60), "Z3": (25, 80), "Z4": (30, 90), "Z5": (40, 120)}


def test_nothing_withheld_when_every_cell_is_safe():
    assert reasons(tree("x", SAFE), catalogue({"indicator_id": "x"})) == {}


def test_one_primary_cell_takes_its_cheapest_sibling():
    """Z2 has 12 cases (primary). Alone under D1 it would be D1 - Z1 - Z3, so the cheapest published sibling
    (Z3, 200 residents, cheaper than Z1) is withheld too; Z2 + Z3 together (45/92) pass every rule."""
    cells = tree("x", {**SAFE, "Z2": (3, 12)})
    assert reasons(cells, catalogue({"indicator_id": "x"})) == {("x", "Z2"): PRIMARY, ("x", "Z3"): SECONDARY}


def test_a_residual_that_breaks_the_rules_takes_another_sibling():
    """Z2 (2/12) and Z3 (1/10) are both primary: two unknowns under D1, but D1 - Z1 = Z2 + Z3 = 3/22 would publish
    a count of 3. The only published sibling, Z1, is withheld too: the residual becomes 33/122."""
    cells = tree("x", {**SAFE, "Z2": (2, 12), "Z3": (1, 10)})
    assert reasons(cells, catalogue({"indicator_id": "x"})) == {
        ("x", "Z2"): PRIMARY, ("x", "Z3"): PRIMARY, ("x", "Z1"): SECONDARY}


def test_a_parent_equal_to_its_one_withheld_child_is_withheld():
    """In D2 only Z4 has anyone to measure for `a`, so D2's figure is Z4's: when the family withholds Z4's `a`,
    D2's `a` goes too (and its family with it)."""
    h = tree("h", {**SAFE, "Z4": (3, 60)})
    a = tree("a", {**SAFE, "Z5": (0, 0)})
    cat = catalogue({"indicator_id": "h", "family": "af"}, {"indicator_id": "a", "family": "af"})
    out = reasons(pd.concat([h, a], ignore_index=True), cat)
    assert out[("h", "Z4")] == PRIMARY and out[("a", "Z4")] == SECONDARY
    assert out[("a", "D2")] == SECONDARY and out[("h", "D2")] == SECONDARY


def test_a_withheld_parent_is_not_left_as_the_sum_of_published_children():
    """A parent withheld on its own would be the sum of its children: one child goes with it."""
    cells = tree("x", SAFE)
    cells.loc[cells["area_id"] == "D2", "numerator"] = 0  # no longer a sum; only the pattern matters
    cells.loc[cells["area_id"] == "D2", "denominator"] = 10
    out = reasons(cells, catalogue({"indicator_id": "x"}))
    assert out[("x", "D2")] == PRIMARY and out[("x", "Z4")] == SECONDARY  # Z4: the cheaper zone of D2


def test_sensitive_reason_only_where_the_plain_rules_pass():
    zones = {**SAFE, "Z1": (8, 100), "Z2": (2, 60)}
    cat = catalogue({"indicator_id": "v", "unit": "per 1000", "sensitive": True})
    out = reasons(tree("v", zones), cat)
    assert out[("v", "Z1")] == SENSITIVE    # 8 reports: fine in general, not for violence
    assert out[("v", "Z2")] == PRIMARY      # 2 reports: broken whatever the topic


def test_a_family_is_withheld_together():
    """h and a share counts (A = M0/H): withholding one in an area withholds the other there, and the hierarchy
    then protects both."""
    cells = pd.concat([tree("h", {**SAFE, "Z2": (3, 60)}), tree("a", SAFE)], ignore_index=True)
    cat = catalogue({"indicator_id": "h", "family": "af"}, {"indicator_id": "a", "family": "af"})
    out = reasons(cells, cat)
    assert out[("h", "Z2")] == PRIMARY and out[("a", "Z2")] == SECONDARY
    assert out[("h", "Z3")] == SECONDARY and out[("a", "Z3")] == SECONDARY  # the same sibling for both


def test_indicators_outside_control_are_never_withheld():
    cells = tree("pm25", {**SAFE, "Z2": (3, 1)})
    assert reasons(cells, catalogue({"indicator_id": "pm25", "unit": "µg/m³", "min_denominator": 0})) == {}


def test_areas_with_no_one_to_measure_are_neither_withheld_nor_used():
    """A zone with denominator 0 has no figure to protect, and withholding it would protect nothing."""
    zones = {**SAFE, "Z2": (3, 12), "Z3": (0, 0)}
    out = reasons(tree("x", zones), catalogue({"indicator_id": "x"}))
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z1"): SECONDARY}


def test_a_family_member_with_no_one_to_measure_is_withheld_with_the_family():
    """a's denominator is h's numerator: "no one to measure" for a in Z2 would say h has 0 there."""
    h = tree("h", {**SAFE, "Z2": (0, 12)})
    a = tree("a", {**SAFE, "Z2": (0, 0)})
    cat = catalogue({"indicator_id": "h", "family": "af"}, {"indicator_id": "a", "family": "af"})
    out = reasons(pd.concat([h, a], ignore_index=True), cat)
    assert out[("h", "Z2")] == PRIMARY and out[("a", "Z2")] == SECONDARY


# ---------------------------------------------------------------------------------------------------------------
# The city's `disclosure:` block
# ---------------------------------------------------------------------------------------------------------------

def city_with(block) -> City:
    return City(name="t", folder=Path("/cities/t"), config={"disclosure": block})


def test_rules_from_the_city_over_the_defaults():
    assert Rules.of(city_with({"min_count": 3})) == Rules(min_count=3)
    assert Rules.of(City(name="t", folder=Path("/cities/t"), config={})) == Rules()


@pytest.mark.parametrize(("block", "message"), [
    ({"min_cont": 3}, "unknown key(s) min_cont"),
    ({"min_count": 0}, "disclosure.min_count: expected a whole number of at least 1, got 0"),
    ({"min_count": 2.5}, "expected a whole number"),
    ({"min_count": True}, "expected a whole number"),
    ({"sensitive_min_count": 3}, "the sensitive thresholds must be at least the general ones"),
    (["min_count"], "expected a mapping"),
])
def test_a_bad_block_names_the_file_and_key(block, message):
    with pytest.raises(CityConfigError, match="/cities/t/city.yaml: disclosure") as error:
        Rules.of(city_with(block))
    assert message in str(error.value)
