"""Disclosure control's rules pinned on hand-built tiny tables (privacy/disclosure.py, docs/privacy.md): the
documented defaults at their thresholds, who is measured, the relation and hierarchy rules' edge cases, the
audit's repairs (which neighbour goes) and its round limit, and what the audit shows the attacker."""

import math

import pandas as pd
import pytest

from privacy import disclosure
from privacy.disclosure import PRIMARY, SECONDARY, Relation, Rules, audit, expand_relations, protect
from tests.test_disclosure import COST, PARENTS, SAFE, catalogue, tree


def cells_of(rows) -> pd.DataFrame:
    """rows: (area, indicator, numerator, denominator)."""
    return pd.DataFrame([{"area_id": a, "indicator_id": i, "numerator": n, "denominator": d} for a, i, n, d in rows])


DEFAULTS = Rules()  # the documented defaults: 20, 5, 50, sensitive 50 / 10


def run(cells, cat, parents, cost, rules=DEFAULTS, relations=()) -> dict[tuple[str, str], str]:
    out = protect(cells, cat, pd.Series(parents), pd.Series(cost, dtype=float), rules, list(relations))
    return {(i, a): r for i, a, r in zip(cells["indicator_id"], cells["area_id"], out, strict=True) if r}


def scripted_audit(monkeypatch, findings: list):
    """The attacker replaced by a script: the i-th audit returns findings[i] (then nothing); the calls counted."""
    calls = []

    def fake(*args):
        calls.append(1)
        return findings[len(calls) - 1] if len(calls) <= len(findings) else ([], [])
    monkeypatch.setattr(disclosure, "audit", fake)
    return calls


LONE = {"A": None}


# ---------------------------------------------------------------------------------------------------------------
# The documented defaults, through protect(), at / below / above
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("numerator", "denominator", "withheld"), [
    (0, 49, True), (49, 49, True),      # group_min 50: 0% / 100% of 49 cases
    (0, 50, False), (50, 50, False),
    (0, 51, False), (51, 51, False),
    (10, 19, True), (10, 20, False),    # min_denominator 20
    (4, 100, True), (5, 100, False),    # min_count 5
])
def test_the_default_rules_withhold_a_lone_share(numerator, denominator, withheld):
    out = run(cells_of([("A", "x", numerator, denominator)]), catalogue({"indicator_id": "x"}), LONE, {"A": 10})
    assert out == ({("x", "A"): PRIMARY} if withheld else {})


@pytest.mark.parametrize(("numerator", "denominator", "withheld"), [(0, 0, False), (1, 1, True), (0, 1, True)])
def test_a_figure_of_one_case_is_measured_and_withheld(numerator, denominator, withheld):
    """No one to measure (0 of 0): nothing to protect; one person measured is a figure, and far too small."""
    out = run(cells_of([("A", "x", numerator, denominator)]), catalogue({"indicator_id": "x"}), LONE, {"A": 10})
    assert out == ({("x", "A"): PRIMARY} if withheld else {})


def test_a_child_of_one_case_is_measured_so_it_can_protect_a_sibling():
    """Rates with a catalogue minimum of 1: Z3 (0 reports among 1 resident) is measured and cheapest, so it goes
    with Z2 (3 reports); Z2 + Z3 = 3 of 31 is still a small count, so Z1 goes too."""
    zones = [("Z1", 30, 100), ("Z2", 3, 30), ("Z3", 0, 1)]
    rows = [(a, "x", n, d) for a, n, d in zones] + [("P", "x", 33, 131)]
    cat = catalogue({"indicator_id": "x", "unit": "per 1000", "min_denominator": 1})
    out = run(cells_of(rows), cat, {"P": None, "Z1": "P", "Z2": "P", "Z3": "P"},
              {"P": 500, "Z1": 300, "Z2": 100, "Z3": 50})
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z3"): SECONDARY, ("x", "Z1"): SECONDARY}


def test_an_area_without_a_known_cost_is_the_cheapest():
    """The cost series lists residents; an area it does not list costs nothing and is withheld first (before
    Z1, which costs 1)."""
    rows = [("Z1", "x", 30, 100), ("Z9", "x", 30, 100), ("Z5", "x", 3, 30), ("P", "x", 63, 230)]
    out = run(cells_of(rows), catalogue({"indicator_id": "x", "unit": "per 1000"}),
              {"P": None, "Z1": "P", "Z9": "P", "Z5": "P"}, {"P": 500, "Z1": 1, "Z5": 50})
    assert out == {("x", "Z5"): PRIMARY, ("x", "Z9"): SECONDARY}


# ---------------------------------------------------------------------------------------------------------------
# Relations
# ---------------------------------------------------------------------------------------------------------------

PARTS = catalogue(*({"indicator_id": i} for i in ("whole", "p1", "p2", "p3")))
SUM = Relation("sum", ("p1", "p2", "p3"), whole="whole")


def one_area(counts: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return cells_of([("A", i, n, d) for i, (n, d) in counts.items()])


def test_a_withheld_whole_alone_takes_its_cheapest_part():
    """The whole (97 of 100: a complement of 3) is primary; its parts would give it back: p3 (fewest) goes."""
    cells = one_area({"whole": (97, 100), "p1": (40, 100), "p2": (30, 100), "p3": (27, 100)})
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[SUM]) == {("whole", "A"): PRIMARY, ("p3", "A"): SECONDARY}


def test_one_withheld_part_of_many_cases_still_takes_another():
    """p1 is primary by its complement (98 of 100): whole - p2 - p3 would give its 98 cases, a large count but a
    recovered cell; p3 (fewest) goes too."""
    cells = one_area({"whole": (168, 300), "p1": (98, 100), "p2": (40, 100), "p3": (30, 100)})
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[SUM]) == {("p1", "A"): PRIMARY, ("p3", "A"): SECONDARY}


def test_a_sum_whose_whole_is_not_in_the_area_protects_nothing_there():
    cells = one_area({"p1": (3, 100), "p2": (40, 100), "p3": (10, 100)})
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[SUM]) == {("p1", "A"): PRIMARY}


def test_a_relation_with_a_member_missing_in_the_area_is_skipped():
    cells = one_area({"whole": (53, 100), "p1": (3, 100), "p2": (40, 100)})
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[SUM]) == {("p1", "A"): PRIMARY}
    same = Relation("same", ("p1", "p3"))
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[same]) == {("p1", "A"): PRIMARY}


def test_a_sum_with_nothing_left_to_withhold_and_no_whole_is_left_to_the_audit():
    """p1 is primary, p2 has no one to measure: no part can be withheld and there is no whole."""
    cells = one_area({"p1": (3, 100), "p2": (0, 0)})
    strata = Relation("sum", ("p1", "p2"))
    assert run(cells, PARTS, LONE, {"A": 10}, relations=[strata]) == {("p1", "A"): PRIMARY}


@pytest.mark.parametrize("mixed", [False, True])
def test_the_withheld_parts_of_sensitive_figures_are_held_to_the_sensitive_count(mixed):
    """p1 (4) and p2 (4) are withheld; together 8: no small count in general (5), but one for sensitive figures
    (10), so p3 goes too. `mixed`: only the first part is sensitive (the stricter count still applies)."""
    cat = PARTS.assign(sensitive=PARTS["indicator_id"].isin(["p1"] if mixed else ["p1", "p2", "p3"]))
    cells = one_area({"p1": (4, 100), "p2": (4, 100), "p3": (40, 100)})
    out = run(cells, cat, LONE, {"A": 10}, relations=[Relation("sum", ("p1", "p2", "p3"))])
    assert out == {("p1", "A"): PRIMARY, ("p2", "A"): PRIMARY, ("p3", "A"): SECONDARY}


def test_a_glob_pairs_with_a_plain_name_every_match():
    known = ["af_m0", "af_contrib_water", "af_contrib_fuel"]
    assert expand_relations([{"gives": ["af_contrib_*", "af_m0"]}], known, "catalogue.yaml") == [
        Relation("gives", ("af_contrib_fuel", "af_m0")), Relation("gives", ("af_contrib_water", "af_m0"))]


# ---------------------------------------------------------------------------------------------------------------
# Hierarchy
# ---------------------------------------------------------------------------------------------------------------

def test_a_parent_withheld_alone_takes_its_cheapest_child():
    """h is published for D2 only and is primary there; `a` shares its count, so D2's `a` is withheld. D2 = Z4 + Z5
    would give it back: Z4 (cheaper) goes; then M1 = D1 + D2 takes D1, and D1 (withheld alone over Z1 Z2 Z3)
    takes its cheapest child Z2."""
    cells = pd.concat([tree("a", SAFE), cells_of([("D2", "h", 3, 210)])], ignore_index=True)
    cat = catalogue({"indicator_id": "h"}, {"indicator_id": "a"})
    out = run(cells, cat, PARENTS, COST, relations=[Relation("same", ("h", "a"))])
    assert out == {("h", "D2"): PRIMARY, ("a", "D2"): SECONDARY, ("a", "Z4"): SECONDARY,
                   ("a", "D1"): SECONDARY, ("a", "Z2"): SECONDARY}


# ---------------------------------------------------------------------------------------------------------------
# The audit's repairs and its round limit
# ---------------------------------------------------------------------------------------------------------------

def test_an_exposed_cell_takes_its_cheapest_published_sibling(monkeypatch):
    """Z2 (primary) and Z3 (secondary) are withheld; when the attacker still works Z2 out, the next published
    sibling (Z1) goes, not Z2's parent and not a cell already withheld."""
    scripted_audit(monkeypatch, [([("x", "Z2")], [])])
    out = run(tree("x", {**SAFE, "Z2": (3, 12)}), catalogue({"indicator_id": "x"}), PARENTS, COST)
    assert out == {("x", "Z2"): PRIMARY, ("x", "Z3"): SECONDARY, ("x", "Z1"): SECONDARY}


@pytest.mark.parametrize(("s1", "min_count", "expected"), [
    ((0, 50), 5, {"P", "S1"}),   # S1 counts no one: adding 0 protects nothing, the parent goes (then S1 with it)
    ((1, 50), 1, {"S1", "X"}),   # S1 counts one (allowed with min_count 1): it goes first (then X with it)
])
def test_an_exposed_cell_takes_a_neighbour_that_counts_someone_first(monkeypatch, s1, min_count, expected):
    scripted_audit(monkeypatch, [([("x", "X")], [])])
    rows = [("S1", "x", *s1), ("X", "x", 30, 100), ("P", "x", s1[0] + 30, s1[1] + 100)]
    out = run(cells_of(rows), catalogue({"indicator_id": "x", "unit": "per 1000"}),
              {"P": None, "S1": "P", "X": "P"}, {"P": 500, "S1": 10, "X": 20}, Rules(min_count=min_count))
    assert out == {("x", a): SECONDARY for a in expected}


def test_an_exposed_cell_with_no_neighbour_takes_the_cheapest_published_related_cell(monkeypatch):
    """h is worked out in a lone area: no sibling, parent or child; among its related cells c is already withheld
    (primary), a has fewer cases than b: a goes."""
    scripted_audit(monkeypatch, [([("h", "A")], [])])
    cells = one_area({"h": (30, 100), "a": (10, 100), "b": (20, 100), "c": (2, 100)})
    cat = catalogue(*({"indicator_id": i} for i in "habc"))
    relations = [Relation("gives", (m, "h")) for m in "abc"]
    assert run(cells, cat, LONE, {"A": 10}, relations=relations) == {("c", "A"): PRIMARY, ("a", "A"): SECONDARY}


def test_a_small_total_alone_takes_another_child(monkeypatch):
    """The attacker finds no cell but a small total under P: the cheapest child goes (then the next, so that the
    equation holds two unknowns)."""
    calls = scripted_audit(monkeypatch, [([], [("x", "P")])])
    rows = [("A", "x", 30, 100), ("B", "x", 30, 100), ("C", "x", 30, 100), ("P", "x", 90, 300)]
    out = run(cells_of(rows), catalogue({"indicator_id": "x"}), {"P": None, "A": "P", "B": "P", "C": "P"},
              {"P": 500, "A": 10, "B": 20, "C": 30})
    assert out == {("x", "A"): SECONDARY, ("x", "B"): SECONDARY} and len(calls) == 2


WIDE = {"P": None, **{f"Z{k:02d}": "P" for k in range(80)}}


@pytest.mark.parametrize(("exposed_rounds", "fails"), [(24, False), (25, False), (26, True)])
def test_the_audit_repairs_at_most_25_rounds(monkeypatch, exposed_rounds, fails):
    """MAX_AUDIT_ROUNDS = 25 rounds of audit and repair; after the 25th repair the pattern is audited once more and
    must be clean, or nothing is published (26 audits at most)."""
    assert disclosure.MAX_AUDIT_ROUNDS == 25
    calls = scripted_audit(monkeypatch, [([("x", "Z79")], [])] * exposed_rounds)
    rows = [(a, "x", 30, 100) for a in WIDE if a != "P"] + [("P", "x", 30 * 80, 100 * 80)]
    cost = {a: k for k, a in enumerate(WIDE)}
    args = (cells_of(rows), catalogue({"indicator_id": "x", "unit": "per 1000"}), WIDE, cost)
    if fails:
        with pytest.raises(disclosure.DisclosureError):
            run(*args)
        assert len(calls) == 26
    else:
        assert len(run(*args)) >= exposed_rounds and len(calls) == exposed_rounds + 1


# ---------------------------------------------------------------------------------------------------------------
# What the audit shows the attacker
# ---------------------------------------------------------------------------------------------------------------

def audited(z2, z3, withheld=("Z2",)):
    cells = tree("x", {**SAFE, "Z2": z2, "Z3": z3})
    reason = [PRIMARY if a in withheld else None for a in cells["area_id"]]
    return cells, reason


def test_the_audit_shows_an_unmeasured_cell_as_0_of_0():
    """Z3 has no one to measure (NULL counts, as staging stores them): the attacker reads 0 of 0, so D1 - Z1 - Z3
    is Z2's 5 of 10 exactly: worked out, but no small count (5, and 5 without)."""
    cells, reason = audited((5, 10), (0, 0))
    cells.loc[cells["area_id"] == "Z3", ["numerator", "denominator"]] = math.nan
    assert audit(cells, reason, catalogue({"indicator_id": "x"}), PARENTS, []) == ([("x", "Z2")], [])


def test_the_audit_shows_a_cell_of_one_case_as_it_is():
    """Z3 is 0 of 1 (published): D1 - Z1 - Z3 = 5 of 9, a complement of 4: a small total under D1."""
    cells, reason = audited((5, 9), (0, 1))
    exposed, small = audit(cells, reason, catalogue({"indicator_id": "x"}), PARENTS, [])
    assert exposed == [("x", "Z2")] and small == [("x", "D1")]
