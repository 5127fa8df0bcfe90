"""The attacker (privacy/attack.py) on a planted snapshot: it must find exactly what differencing can recover, so
that when the disclosure-control stage claims "0 recoverable", the attacker is known to be able to see them."""

import duckdb
import pandas as pd

from privacy.attack import additive_indicators, attack, difference_attack

AREAS = pd.DataFrame({
    "area_id": ["M1", "D1", "D2", "Z1", "Z2", "Z3", "Z4", "Z5"],
    "parent_id": [None, "M1", "M1", "D1", "D1", "D1", "D2", "D2"],
})
# counts of one additive share indicator "x": zones sum to districts, districts to the macrodistrict
COUNTS = {"Z1": (10, 40), "Z2": (3, 12), "Z3": (8, 30), "Z4": (5, 25), "Z5": (6, 22),
          "D1": (21, 82), "D2": (11, 47), "M1": (32, 129)}


def snapshot(tmp_path, suppressed: set[str], *, extra: list[dict] = ()) -> tuple:
    rows = [{"area_id": a, "indicator_id": "x", "period": "2024", "numerator": None if a in suppressed else n,
             "denominator": None if a in suppressed else d, "suppressed": a in suppressed}
            for a, (n, d) in COUNTS.items()] + list(extra)
    values = pd.DataFrame(rows)
    path = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.register("v", values)
        con.register("a", AREAS)
        con.execute("CREATE TABLE marts.indicator_values AS SELECT * FROM v")
        con.execute("CREATE TABLE marts.areas AS SELECT * FROM a")
    return path, values


def test_one_suppressed_child_is_recovered_exactly(tmp_path):
    path, _ = snapshot(tmp_path, {"Z2"})
    found = attack(path)
    assert found.recovered.to_dict("records") == [
        {"indicator_id": "x", "period": "2024", "area_id": "Z2", "numerator": 3.0, "denominator": 12.0}]
    assert found.summary(20) == {"suppressed cells": 1, "recovered by differencing": 1,
                                 "recovered below the threshold": 1, "recovered counts of 1-4": 1,
                                 "published counts of 1-4": 0}


def test_two_suppressed_siblings_resist_single_differencing(tmp_path):
    path, _ = snapshot(tmp_path, {"Z4", "Z5"})
    assert attack(path).recovered.empty


def test_a_recovered_parent_opens_its_children(tmp_path):
    """D1 = M1 - D2; then Z2 = D1 - Z1 - Z3: the attack is repeated until nothing new is found."""
    path, _ = snapshot(tmp_path, {"D1", "Z2"})
    recovered = attack(path).recovered.set_index("area_id")
    assert recovered.loc["D1", ["numerator", "denominator"]].tolist() == [21.0, 82.0]
    assert recovered.loc["Z2", ["numerator", "denominator"]].tolist() == [3.0, 12.0]


def test_only_indicators_that_add_up_are_differenced(tmp_path):
    """A mean does not add up the tree: subtracting would give nonsense, so it is not attacked."""
    means = [{"area_id": a, "indicator_id": "pm25_mean", "period": "2024", "numerator": 10.0 + i,
              "denominator": 1.0, "suppressed": False} for i, a in enumerate(COUNTS)]
    path, values = snapshot(tmp_path, {"Z2"}, extra=means)
    assert additive_indicators(values, AREAS) == ["x"]
    assert difference_attack(values, AREAS, ["pm25_mean"]).empty


def test_published_counts_of_one_to_four_are_found(tmp_path):
    tiny = [{"area_id": "Z1", "indicator_id": "violence", "period": "2024", "numerator": 2.0, "denominator": 50.0,
             "suppressed": False},
            {"area_id": "Z3", "indicator_id": "violence", "period": "2024", "numerator": 47.0, "denominator": 50.0,
             "suppressed": False},  # complement: 3 households without it
            {"area_id": "Z4", "indicator_id": "violence", "period": "2024", "numerator": 0.0, "denominator": 50.0,
             "suppressed": False}]
    path, _ = snapshot(tmp_path, set(), extra=tiny)
    small = attack(path).small_published
    # Z2 of "x" (3 of 12) is published here too: it is found as well
    assert sorted(zip(small["indicator_id"], small["area_id"], strict=True)) == [
        ("violence", "Z1"), ("violence", "Z3"), ("x", "Z2")]
