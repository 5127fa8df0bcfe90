"""Disclosure control (privacy/disclosure.py): every rule at, below and above its threshold, the relation and
hierarchy (secondary) rules on small planted trees, and the city's `disclosure:` block."""


import pandas as pd
import pytest

from cities import City, CityConfigError
from privacy.disclosure import (
    PRIMARY,
    SECONDARY,
    SENSITIVE,
    Limits,
    Relation,
    Rules,
    breaks_rules,
    expand_relations,
    limits,
    protect,
)
from tests.configs import city_with

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
    base = {"unit": "share", "min_denominator": 20, "sensitive": False}
    return pd.DataFrame([{**base, **row} for row in rows])


def tree(indicator, zones: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Cells of one additive indicator: zone counts given, districts and the city their sums."""
    counts = dict(zones)
    for parent in ("D1", "D2", "M1"):
        kids = [a for a, p in PARENTS.items() if p == parent]
        counts[parent] = tuple(sum(counts[k][i] for k in kids) for i in (0, 1))
    return pd.DataFrame([{"area_id": a, "indicator_id": indicator, "numerator": n, "denominator": d}
                         for a, (n, d) in counts.items()])


def reasons(cells, cat, rules=RULES, relations=()) -> dict[tuple[str, str], str]:
    out = protect(cells, cat, PARENTS, COST, rules, list(relations))
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
    """In D2 only Z4 has anyone to measure for `a`, so D2's figure is Z4's: when the relation withholds Z4's `a`,
    D2's `a` goes too (and, by the relation, D2's `h`)."""
    h = tree("h", {**SAFE, "Z4": (3, 60)})
    a = tree("a", {**SAFE, "Z5": (0, 0)})
    cat = catalogue({"indicator_id": "h"}, {"indicator_id": "a"})
    out = reasons(pd.concat([h, a], ignore_index=True), cat, relations=[SAME])
    assert out[("h", "Z4")] == PRIMARY and out[("a", "Z4")] == SECONDARY
    assert out[("a", "D2")] == SECONDARY and out[("h", "D2")] == SECONDARY


def test_sensitive_reason_only_where_the_plain_rules_pass():
    zones = {**SAFE, "Z1": (8, 100), "Z2": (2, 60)}
    cat = catalogue({"indicator_id": "v", "unit": "per 1000", "sensitive": True})
    out = reasons(tree("v", zones), cat)
    assert out[("v", "Z1")] == SENSITIVE    # 8 reports: fine in general, not for violence
    assert out[("v", "Z2")] == PRIMARY      # 2 reports: broken whatever the topic


SAME = Relation("same", ("h", "a"))


def test_a_same_relation_withholds_both_and_the_hierarchy_protects_both():
    """h and a share a count: withholding one in an area withholds the other there, and the hierarchy then
    protects both with the same sibling (the cheapest)."""
    cells = pd.concat([tree("h", {**SAFE, "Z2": (3, 60)}), tree("a", SAFE)], ignore_index=True)
    cat = catalogue({"indicator_id": "h"}, {"indicator_id": "a"})
    out = reasons(cells, cat, relations=[SAME])
    assert out == {("h", "Z2"): PRIMARY, ("a", "Z2"): SECONDARY, ("h", "Z3"): SECONDARY, ("a", "Z3"): SECONDARY}
    assert reasons(cells, cat) == {("h", "Z2"): PRIMARY, ("h", "Z3"): SECONDARY}  # without the relation


def test_gives_works_one_way():
    """a's denominator is h's numerator: a withheld h withholds a; a withheld a leaves h published."""
    cat = catalogue({"indicator_id": "h"}, {"indicator_id": "a"})
    gives = Relation("gives", ("a", "h"))
    h_small = pd.concat([tree("h", {**SAFE, "Z2": (3, 60)}), tree("a", SAFE)], ignore_index=True)
    assert reasons(h_small, cat, relations=[gives])[("a", "Z2")] == SECONDARY
    a_small = pd.concat([tree("h", SAFE), tree("a", {**SAFE, "Z2": (3, 60)})], ignore_index=True)
    assert ("h", "Z2") not in reasons(a_small, cat, relations=[gives])


PARTS = catalogue(*({"indicator_id": i} for i in ("whole", "p1", "p2", "p3")))
SUM = Relation("sum", ("p1", "p2", "p3"), whole="whole")


def sum_cells(p1, p2, p3):
    """One area (Z1) where whole = p1 + p2 + p3 (numerators of 100 persons)."""
    counts = {"p1": p1, "p2": p2, "p3": p3, "whole": p1 + p2 + p3}
    return pd.DataFrame([{"area_id": "Z1", "indicator_id": i, "numerator": n, "denominator": 100}
                         for i, n in counts.items()])


def test_a_sum_never_has_one_withheld_part():
    """p1 (3) is primary; whole - p2 - p3 would give it: the part with the fewest cases (p3: 10) goes too, and
    p1 + p3 = 13 is no small count."""
    assert reasons(sum_cells(3, 40, 10), PARTS, relations=[SUM]) == {("p1", "Z1"): PRIMARY, ("p3", "Z1"): SECONDARY}


@pytest.mark.parametrize(("p2", "expected"), [
    (1, {"p1", "p2", "p3"}),   # both primary, p1 + p2 = 4: a small count, so p3 goes too (3 + 1 + 30 = 34)
    (2, {"p1", "p2"}),         # both primary, p1 + p2 = 5: at the threshold, no small count
    (5, {"p1", "p2"}),         # p2 = 5 is not primary: p1 alone would be whole - p2 - p3, so p2 (fewest) goes
])
def test_the_withheld_parts_of_a_sum_are_no_small_count(p2, expected):
    out = reasons(sum_cells(3, p2, 30), PARTS, relations=[SUM])
    assert {i for i, _ in out} == expected


def test_a_sum_without_a_whole_adds_up_to_the_published_denominator():
    strata = Relation("sum", ("p1", "p2", "p3"))
    out = reasons(sum_cells(3, 40, 10), PARTS, relations=[strata])
    assert out == {("p1", "Z1"): PRIMARY, ("p3", "Z1"): SECONDARY}


def test_indicators_outside_control_are_never_withheld():
    cells = tree("pm25", {**SAFE, "Z2": (3, 1)})
    assert reasons(cells, catalogue({"indicator_id": "pm25", "unit": "µg/m³", "min_denominator": 0})) == {}


def test_areas_with_no_one_to_measure_are_neither_withheld_nor_used():
    """A zone with denominator 0 has no figure to protect, and withholding it would protect nothing."""
    zones = {**SAFE, "Z2": (3, 12), "Z3": (0, 0)}
    out = reasons(tree("x", zones), catalogue({"indicator_id": "x"}))
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z1"): SECONDARY}


def test_a_related_cell_with_no_one_to_measure_is_withheld_with_the_other():
    """a's count is h's: "no one to measure" for a in Z2 would say h has 0 there."""
    h = tree("h", {**SAFE, "Z2": (0, 12)})
    a = tree("a", {**SAFE, "Z2": (0, 0)})
    cat = catalogue({"indicator_id": "h"}, {"indicator_id": "a"})
    out = reasons(pd.concat([h, a], ignore_index=True), cat, relations=[SAME])
    assert out[("h", "Z2")] == PRIMARY and out[("a", "Z2")] == SECONDARY


def test_the_catalogue_relations_expand_and_pair_by_suffix():
    known = ["af_m0", "af_ch_water", "af_ch_fuel", "af_contrib_water", "af_contrib_fuel", "af_a", "af_h"]
    relations = expand_relations([{"same": ["af_contrib_*", "af_ch_*"]}, {"gives": ["af_a", "af_h"]},
                                  {"sum": "af_m0", "parts": "af_ch_*"}], known, "catalogue.yaml")
    assert relations == [Relation("same", ("af_contrib_fuel", "af_ch_fuel")),
                         Relation("same", ("af_contrib_water", "af_ch_water")),
                         Relation("gives", ("af_a", "af_h")),
                         Relation("sum", ("af_ch_fuel", "af_ch_water"), whole="af_m0")]
    with pytest.raises(ValueError, match="catalogue.yaml: relation #1: no indicator 'af_x'"):
        expand_relations([{"same": ["af_x", "af_h"]}], known, "catalogue.yaml")
    with pytest.raises(ValueError, match="relation #1: expected"):
        expand_relations([{"sum": "af_m0"}], known, "catalogue.yaml")


# ---------------------------------------------------------------------------------------------------------------
# The city's `disclosure:` block
# ---------------------------------------------------------------------------------------------------------------

def disclosure_city(block) -> City:
    return city_with(disclosure=block)


def test_rules_from_the_city_over_the_defaults():
    assert Rules.of(disclosure_city({"min_count": 3})) == Rules(min_count=3)
    assert Rules.of(city_with()) == Rules() == Rules(20, 5, 50, 50, 10)


@pytest.mark.parametrize(("block", "message"), [
    ({"min_cont": 3}, "disclosure.min_cont: unknown key"),
    ({"min_count": 0}, "disclosure.min_count: Input should be greater than or equal to 1, got 0"),
    ({"min_count": 2.5}, "disclosure.min_count: Input should be a valid integer"),
    ({"min_count": True}, "disclosure.min_count: Input should be a valid integer"),
    ({"sensitive_min_count": 3}, "the sensitive thresholds must be at least the general ones"),
    ({"sensitive_min_count": 5}, None),      # equal to min_count: allowed
    (["min_count"], "disclosure: Input should be a valid dictionary"),
])
def test_a_bad_block_names_the_file_and_key(block, message):
    if message is None:
        assert Rules.of(disclosure_city(block)).sensitive_min_count == 5
        return
    with pytest.raises(CityConfigError, match="/cities/t/city.yaml: disclosure") as error:
        Rules.of(disclosure_city(block))
    assert message in str(error.value)


# ---------------------------------------------------------------------------------------------------------------
# Totals of 0, headline figures, the audit
# ---------------------------------------------------------------------------------------------------------------

def test_withheld_children_adding_up_to_zero_take_another_child():
    """Z2 (0 of 12) is primary; its cheapest sibling Z3 has 0 of 60 too, so D1 - Z1 would say both are 0:
    Z1 goes as well (counts are never negative, so a total of 0 tells every withheld child)."""
    out = reasons(tree("x", {**SAFE, "Z2": (0, 12), "Z3": (0, 60)}), catalogue({"indicator_id": "x"}))
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z3"): SECONDARY, ("x", "Z1"): SECONDARY}


def test_withheld_children_at_100_percent_take_another_child():
    out = reasons(tree("x", {**SAFE, "Z2": (12, 12), "Z3": (60, 60)}), catalogue({"indicator_id": "x"}))
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z3"): SECONDARY, ("x", "Z1"): SECONDARY}


def test_withheld_parts_adding_up_to_zero_take_another_part():
    """p1 and p2 are 0 of 40 (0% of a small group: primary); together still 0: p3 goes too."""
    cells = sum_cells(0, 0, 30).assign(denominator=40)
    assert reasons(cells, PARTS, relations=[SUM]) == {
        ("p1", "Z1"): PRIMARY, ("p2", "Z1"): PRIMARY, ("p3", "Z1"): SECONDARY}


def test_a_headline_part_is_withheld_only_when_nothing_else_will_do():
    cat = PARTS.assign(headline=PARTS["indicator_id"] == "p2")
    strata = Relation("sum", ("p1", "p2", "p3"))
    # p2 has the fewest cases (8 < 30) but is a headline figure: p3 goes instead
    assert reasons(sum_cells(3, 8, 30), cat, relations=[strata]) == {("p1", "Z1"): PRIMARY, ("p3", "Z1"): SECONDARY}
    assert reasons(sum_cells(3, 8, 30), PARTS, relations=[strata]) == {("p1", "Z1"): PRIMARY,
                                                                      ("p2", "Z1"): SECONDARY}


def test_the_audit_names_what_the_attacker_works_out():
    from privacy.disclosure import audit

    cells = tree("x", {**SAFE, "Z2": (3, 12)})
    reason = [PRIMARY if a == "Z2" else None for a in cells["area_id"]]
    exposed, small = audit(cells, reason, catalogue({"indicator_id": "x"}), PARENTS, [])
    assert exposed == [("x", "Z2")] and small == [("x", "D1")]  # D1 - Z1 - Z3: 3 of 12
    reason = [PRIMARY if a in ("Z2", "Z3") else None for a in cells["area_id"]]
    assert audit(cells, reason, catalogue({"indicator_id": "x"}), PARENTS, []) == ([], [])


def test_a_pattern_that_cannot_be_repaired_publishes_nothing(monkeypatch):
    """When the attacker still works a cell out and no neighbour is left to withhold, the stage stops the run
    rather than publish it."""
    from privacy import disclosure

    monkeypatch.setattr(disclosure, "audit", lambda *args: ([("x", "M1")], []))
    lone = pd.DataFrame([{"area_id": "M1", "indicator_id": "x", "numerator": 30, "denominator": 100}])
    with pytest.raises(disclosure.DisclosureError, match="could not protect 1 withheld cell"):
        protect(lone, catalogue({"indicator_id": "x"}), pd.Series({"M1": None}), COST, RULES)


def test_the_documented_defaults():
    """docs/privacy.md and city.yaml state these; a changed default must be a deliberate change."""
    assert Rules() == Rules(min_denominator=20, min_count=5, group_min=50, sensitive_min_denominator=50,
                            sensitive_min_count=10)


def test_settings_at_their_limits_are_accepted():
    # 1 is the smallest allowed value; sensitive thresholds equal to the general ones are allowed
    assert Rules.of(disclosure_city({"min_count": 1, "sensitive_min_count": 1})).min_count == 1
    assert Rules.of(disclosure_city({"sensitive_min_denominator": 20})).sensitive_min_denominator == 20
    assert Rules.of(disclosure_city({"sensitive_min_count": 5})).sensitive_min_count == 5


def test_an_indicator_with_a_minimum_of_one_is_under_control():
    """Only `min_denominator: 0` puts an indicator outside disclosure control."""
    cells = tree("x", {**SAFE, "Z2": (2, 30)})
    out = reasons(cells, catalogue({"indicator_id": "x", "min_denominator": 1}))
    assert out[("x", "Z2")] == PRIMARY
