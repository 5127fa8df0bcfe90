"""The attacker (privacy/attack.py) and disclosure control (privacy/disclosure.py) against each other.

First the attacker on planted snapshots: it must find what differencing, shared counts, parts of a whole and
changes recover, so that when it reports "0 recovered" it is known to be able to see them. Then a generated city
with planted tiny zones, protected by the real stage and attacked: nothing may come out. (The sample city's
published snapshot is attacked in tests/test_pipeline_e2e.py.)
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from privacy.attack import attack
from privacy.disclosure import Relation, Rules, protect

AREAS = pd.DataFrame({
    "area_id": ["M1", "D1", "D2", "Z1", "Z2", "Z3", "Z4", "Z5"],
    "parent_id": [None, "M1", "M1", "D1", "D1", "D1", "D2", "D2"],
})
# counts of one additive share indicator "x": zones sum to districts, districts to the macrodistrict
COUNTS = {"Z1": (10, 40), "Z2": (3, 12), "Z3": (8, 30), "Z4": (5, 25), "Z5": (6, 22),
          "D1": (21, 82), "D2": (11, 47), "M1": (32, 129)}


def write_snapshot(path, values: pd.DataFrame, areas: pd.DataFrame, catalogue: pd.DataFrame,
                   change: pd.DataFrame | None = None):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for name, frame in (("indicator_values", values), ("areas", areas), ("indicator_catalogue", catalogue),
                            ("indicator_change", change)):
            if frame is not None:
                con.register("f", frame)
                con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM f")
                con.unregister("f")
    return path


def planted(tmp_path, suppressed: set[str], *, extra: list[dict] = (), catalogue_extra: list[dict] = (),
            change=None, counts: dict | None = None):
    """A snapshot of indicator x (COUNTS, or `counts`) with `suppressed` withheld, plus `extra` rows."""
    rows = [{"area_id": a, "indicator_id": "x", "period": "2024", "value": None if a in suppressed else n / d,
             "numerator": None if a in suppressed else n, "denominator": None if a in suppressed else d,
             "suppressed": a in suppressed} for a, (n, d) in (counts or COUNTS).items()] + list(extra)
    catalogue = pd.DataFrame([{"indicator_id": "x", "unit": "share", "min_denominator": 20}, *catalogue_extra])
    areas = AREAS.assign(population=[1000.0] * len(AREAS))
    return write_snapshot(tmp_path / "snapshot.duckdb", pd.DataFrame(rows), areas, catalogue, change)


def recovered(findings, column="numerator") -> dict[str, float]:
    rec = findings.recovered
    rec = rec[(rec["indicator_id"] == "x") & (rec["column"] == column)]
    return dict(zip(rec["area_id"], rec["count"].round(9), strict=True))


def test_one_suppressed_child_is_recovered_exactly(tmp_path):
    found = attack(planted(tmp_path, {"Z2"}))
    assert recovered(found) == {"Z2": 3.0} and recovered(found, "denominator") == {"Z2": 12.0}
    assert found.summary()["withheld numerators recovered"] == 1


def test_two_suppressed_siblings_resist_differencing(tmp_path):
    found = attack(planted(tmp_path, {"Z4", "Z5"}))
    assert found.recovered.empty
    # but D2 minus nothing published is Z4 + Z5 = 11 of 47: not small, so not a derived count either
    assert found.small_derived.empty


def test_a_recovered_parent_opens_its_children(tmp_path):
    """D1 = M1 - D2; then Z2 = D1 - Z1 - Z3: substitution is repeated until nothing new is found."""
    assert recovered(attack(planted(tmp_path, {"D1", "Z2"}))) == {"D1": 21.0, "Z2": 3.0}


def test_a_withheld_population_equal_to_a_published_denominator_is_recovered_in_its_own_year(tmp_path):
    """marts.area_population per census year: x's denominator is the population in every area of 2024, so a
    withheld 2024 population comes out of x's published denominator (the hierarchy alone cannot: Z1 and Z2 are
    both withheld); 2012's populations (twice as many) are a count of their own year, opened by the hierarchy."""
    path = planted(tmp_path, set())
    population = pd.DataFrame(
        [{"area_id": a, "period": "2024", "population": None if a in {"Z1", "Z2"} else float(d)}
         for a, (_, d) in COUNTS.items()]
        + [{"area_id": a, "period": "2012", "population": None if a == "Z3" else float(2 * d)}
           for a, (_, d) in COUNTS.items()])
    with duckdb.connect(str(path)) as con:
        con.register("population", population)
        con.execute("CREATE TABLE marts.area_population AS SELECT * FROM population")
    rec = attack(path).recovered
    rec = rec[(rec["indicator_id"] == "population") & (rec["column"] == "numerator")]
    assert sorted(zip(rec["period"], rec["area_id"], rec["count"].round(9), strict=True)) == [
        ("2012", "Z3", 60.0), ("2024", "Z1", 40.0), ("2024", "Z2", 12.0)]


def test_linear_algebra_finds_what_substitution_cannot(tmp_path):
    """x's and y's numerators are equal in every area (a shared count). Withhold Z4, Z5 for x and Z4, Z5 for y,
    with y's D2 withheld too: no equation has one unknown, yet x's D2 equation and the links pin... nothing: the
    attacker must not invent. Then publish y's D2: x.Z4 + x.Z5 = 11 and y.Z4 + y.Z5 = 11, still two unknowns
    each: nothing. Finally publish y.Z4: x.Z4 = y.Z4 by the link, x.Z5 by differencing."""
    def y_rows(hidden):
        return [{"area_id": a, "indicator_id": "y", "period": "2024", "value": None if a in hidden else n / (d + 1),
                 "numerator": None if a in hidden else n, "denominator": None if a in hidden else d + 1,
                 "suppressed": a in hidden} for a, (n, d) in COUNTS.items()]

    y_catalogue = [{"indicator_id": "y", "unit": "share", "min_denominator": 20}]
    found = attack(planted(tmp_path, {"Z4", "Z5"}, extra=y_rows({"Z4", "Z5", "D2"}), catalogue_extra=y_catalogue))
    assert "x.numerator = 1 x y.numerator" in found.links and recovered(found) == {}
    (tmp_path / "snapshot.duckdb").unlink()
    found = attack(planted(tmp_path, {"Z4", "Z5"}, extra=y_rows({"Z5"}), catalogue_extra=y_catalogue))
    assert recovered(found) == {"Z4": 5.0, "Z5": 6.0}


def test_parts_that_add_up_to_a_whole_give_the_missing_part(tmp_path):
    """s_a + s_b + s_c = the common denominator in every published area: one withheld part is the rest."""
    parts = {"s_a": (0.5, 0.3), "s_b": (0.3, 0.5), "s_c": (0.2, 0.2)}
    rows, catalogue = [], []
    for indicator, (share_1, share_2) in parts.items():
        catalogue.append({"indicator_id": indicator, "unit": "share", "min_denominator": 20})
        for i, (area, (_, d)) in enumerate(COUNTS.items()):
            n = round((share_1 if i % 2 else share_2) * d * 10)
            hidden = indicator == "s_b" and area == "Z3"
            rows.append({"area_id": area, "indicator_id": indicator, "period": "2024", "value": None,
                         "numerator": None if hidden else n, "denominator": None if hidden else d * 10,
                         "suppressed": hidden})
    found = attack(planted(tmp_path, set(), extra=rows, catalogue_extra=catalogue))
    rec = found.recovered.set_index(["indicator_id", "area_id", "column"])["count"]
    assert rec[("s_b", "Z3", "numerator")] == pytest.approx(0.5 * 300)  # Z3 is the 3rd area: share_1 of 30 x 10


def test_a_declared_weighted_sum_gives_its_one_withheld_part(tmp_path):
    """The catalogue says m0 is a weighted sum of c1, c2, c3 (weights 1/2, 1/4, 1/4 here); the attacker fits the
    weights on the published areas and solves the one area where only c2 is withheld."""
    rows, catalogue = [], []
    for indicator in ("m0", "c1", "c2", "c3"):
        catalogue.append({"indicator_id": indicator, "unit": "share", "min_denominator": 20})
    for i, (area, (_, d)) in enumerate(COUNTS.items()):
        c = {"c1": 2 * i + 4, "c2": 3 * i + 8 - (i % 3), "c3": 20 - i}
        counts = {**c, "m0": 0.5 * c["c1"] + 0.25 * c["c2"] + 0.25 * c["c3"]}
        for indicator, n in counts.items():
            hidden = indicator == "c2" and area == "Z3"
            rows.append({"area_id": area, "indicator_id": indicator, "period": "2024", "value": None,
                         "numerator": None if hidden else n, "denominator": None if hidden else d * 10,
                         "suppressed": hidden})
    declared = [Relation("sum", ("c1", "c2", "c3"), whole="m0")]
    path = planted(tmp_path, set(), extra=rows, catalogue_extra=catalogue)
    rec = attack(path, relations=declared).recovered.set_index(["indicator_id", "area_id", "column"])["count"]
    assert rec[("c2", "Z3", "numerator")] == pytest.approx(3 * 2 + 8 - 2)  # Z3 is the 3rd area (i = 2)
    without = attack(path, relations=[]).recovered  # without the declared sum: only the shared denominator
    assert set(without["column"]) == {"denominator"}


def test_a_published_change_gives_the_withheld_end(tmp_path):
    change = pd.DataFrame([{"area_id": "Z2", "indicator_id": "x", "period_from": "2012", "period_to": "2024",
                            "value_from": 0.5, "value_to": None, "change": -0.25}])
    found = attack(planted(tmp_path, {"Z2", "Z3"}, change=change))
    assert found.recovered_values.to_dict("records") == [
        {"area_id": "Z2", "indicator_id": "x", "period": "2024", "value": 0.25}]


def test_published_and_derived_counts_of_one_to_four_are_found(tmp_path):
    tiny = [{"area_id": "Z1", "indicator_id": "v", "period": "2024", "value": 0.04, "numerator": 2.0,
             "denominator": 50.0, "suppressed": False},
            {"area_id": "Z3", "indicator_id": "v", "period": "2024", "value": 0.94, "numerator": 47.0,
             "denominator": 50.0, "suppressed": False},  # complement: 3 without it
            {"area_id": "Z4", "indicator_id": "v", "period": "2024", "value": 0.0, "numerator": 0.0,
             "denominator": 50.0, "suppressed": False}]
    found = attack(planted(tmp_path, {"Z4", "Z5"}, extra=tiny,
                           catalogue_extra=[{"indicator_id": "v", "unit": "share", "min_denominator": 20}]))
    small = found.small_published
    # Z2 of "x" (3 of 12) is published here too: it is found as well
    assert sorted(zip(small["indicator_id"], small["area_id"], strict=True)) == [
        ("v", "Z1"), ("v", "Z3"), ("x", "Z2")]


def test_a_residual_of_one_to_four_is_a_derived_count(tmp_path):
    """Z2 and Z3 withheld: D1 - Z1 = 11 of 42 is fine; make Z1 hold nearly all: D1 - Z1 = 2 of ...: found."""
    counts = {**COUNTS, "Z1": (19, 60), "Z2": (1, 12), "Z3": (1, 10), "D1": (21, 82)}
    found = attack(planted(tmp_path, {"Z2", "Z3"}, counts=counts))
    derived = found.small_derived
    assert derived[["indicator_id", "parent_id", "numerator", "denominator"]].to_dict("records") == [
        {"indicator_id": "x", "parent_id": "D1", "numerator": 2.0, "denominator": 22.0}]


# ---------------------------------------------------------------------------------------------------------------
# A generated city with planted tiny zones, protected by the real stage, attacked
# ---------------------------------------------------------------------------------------------------------------

def generated_city(seed: int):
    """A city of 4 macrodistricts x 3-5 districts x 2-6 zones; a third of the zones tiny (3-25 households);
    a share `x`, a sensitive rate `v`, and a family (`h` share, `a` = intensity with h's numerator as its
    denominator) whose counts are shared."""
    rng = np.random.default_rng(seed)
    parents, zones = {"C": None}, []
    for m in range(4):
        parents[f"M{m}"] = "C"
        for d in range(rng.integers(3, 6)):
            parents[f"M{m}D{d}"] = f"M{m}"
            for z in range(rng.integers(2, 7)):
                zone = f"M{m}D{d}Z{z}"
                parents[zone] = f"M{m}D{d}"
                zones.append(zone)
    size = {z: int(rng.integers(3, 26)) if rng.random() < 0.33 else int(rng.integers(30, 400)) for z in zones}
    counts = []
    for z in zones:
        n = size[z]
        x = int(rng.binomial(n, rng.uniform(0.02, 0.98)))
        v = int(rng.poisson(n * 0.05))
        h = int(rng.binomial(n, rng.uniform(0.0, 0.6)))
        a = h * 0.4 + rng.uniform(0, h * 0.2)
        counts += [(z, "x", x, n), (z, "v", v, n), (z, "h", h, n), (z, "a", a, h)]
    frame = pd.DataFrame(counts, columns=["area_id", "indicator_id", "numerator", "denominator"])
    tree = pd.Series(parents)
    rolled = []
    for z in zones:  # every zone's counts into itself and its ancestors
        area = z
        while area is not None:
            rolled.append(frame[frame["area_id"] == z].assign(area_id=area))
            area = tree[area] if isinstance(tree[area], str) else None
    cells = pd.concat(rolled).groupby(["area_id", "indicator_id"], as_index=False)[["numerator", "denominator"]].sum()
    catalogue = pd.DataFrame([
        {"indicator_id": "x", "unit": "share", "min_denominator": 20, "sensitive": False},
        {"indicator_id": "v", "unit": "per 1000", "min_denominator": 20, "sensitive": True},
        {"indicator_id": "h", "unit": "share", "min_denominator": 20, "sensitive": False},
        {"indicator_id": "a", "unit": "share", "min_denominator": 20, "sensitive": False},
    ])
    population = cells[cells["indicator_id"] == "x"].set_index("area_id")["denominator"]
    return cells, catalogue, tree, population


RELATIONS = [Relation("gives", ("a", "h"))]  # a's denominator is h's numerator


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_protected_city_with_tiny_zones_resists_every_attack(tmp_path, seed):
    cells, catalogue, tree, population = generated_city(seed)
    reasons = protect(cells, catalogue, tree, population, Rules(), RELATIONS)
    withheld = reasons.notna().to_numpy()
    assert withheld.sum() > 0  # tiny zones were planted: there is something to protect
    published = cells.assign(period="2024", suppressed=withheld,
                             value=(cells["numerator"] / cells["denominator"]).where(~withheld),
                             numerator=cells["numerator"].where(~withheld),
                             denominator=cells["denominator"].where(~withheld))
    areas = pd.DataFrame({"area_id": tree.index, "parent_id": tree.to_numpy(), "population": 1000.0})
    path = write_snapshot(tmp_path / "city.duckdb", published, areas, catalogue[["indicator_id", "unit",
                                                                                   "min_denominator"]])
    found = attack(path, relations=[])
    assert found.summary() == {"withheld cells": int(withheld.sum()), "withheld numerators recovered": 0,
                               "withheld values recovered": 0,
                               "published counts of 1-4": 0, "derived counts of 1-4": 0}
    # the attacker did see the structure it attacks: all four indicators add up, and a's denominator is h's
    assert sorted(found.additive) == ["a", "h", "v", "x"]
    assert "a.denominator = 1 x h.numerator" in found.links or "h.numerator = 1 x a.denominator" in found.links


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_city_unprotected_by_the_hierarchy_leaks(tmp_path, seed):
    """The control experiment: primary suppression alone (what the project published before) leaks."""
    cells, catalogue, tree, population = generated_city(seed)
    reasons = protect(cells, catalogue, tree, population, Rules(), RELATIONS)
    primary = reasons.isin(["primary", "sensitive"]).to_numpy()
    published = cells.assign(period="2024", suppressed=primary, value=None,
                             numerator=cells["numerator"].where(~primary),
                             denominator=cells["denominator"].where(~primary))
    areas = pd.DataFrame({"area_id": tree.index, "parent_id": tree.to_numpy(), "population": 1000.0})
    found = attack(write_snapshot(tmp_path / "city.duckdb", published, areas,
                                  catalogue[["indicator_id", "unit", "min_denominator"]]), relations=[])
    assert found.summary()["withheld numerators recovered"] > 0


def test_counts_are_never_negative_so_a_total_of_zero_gives_each_part(tmp_path):
    """D2 publishes 0 of 47 and both its zones are withheld: each must be 0."""
    counts = {**COUNTS, "Z4": (0, 25), "Z5": (0, 22), "D2": (0, 47), "M1": (21, 129)}
    found = attack(planted(tmp_path, {"Z4", "Z5"}, counts=counts))
    assert recovered(found) == {"Z4": 0.0, "Z5": 0.0}
