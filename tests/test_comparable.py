"""The change between two periods on a common basis (indicators/comparable.py), checked by hand on planted values:
a dimension missing in one period is left out of both, minmax indicators share goalposts, and the weights each
period's own index actually used are what marts.index_weights records (issue 15)."""

import numpy as np
import pandas as pd
import pytest

from indicators.comparable import common_basis, comparable_scores, shared_goalposts, used_weights
from indicators.index_spec import parse_spec

# housing: h1 (goalposts 0..1); environment: e1 (goalposts 0..1), e2 (minmax); the index: both, equal weights
SPEC = parse_spec({
    "id": "wb", "unit": "area_id", "scale": 100,
    "indicators": [{"id": "h1", "direction": 1, "normalise": {"method": "goalposts", "min": 0, "max": 1}},
                   {"id": "h2", "direction": 1, "normalise": {"method": "rank"}},
                   {"id": "e1", "direction": 1, "normalise": {"method": "goalposts", "min": 0, "max": 1}},
                   {"id": "e2", "direction": 1, "normalise": {"method": "minmax"}}],
    "nodes": [{"id": "housing", "children": ["h1", "h2"], "weights": {"h1": 3, "h2": 1}},
              {"id": "environment", "children": ["e1", "e2"]},
              {"id": "wb", "children": ["housing", "environment"]}],
    "missing": {"min_share": 0.5, "impute": "none"},
    "uncertainty": {"weights": {"perturb": 0.25}},
})


def test_a_node_with_no_indicator_in_both_periods_is_left_out_with_its_indicators():
    basis = common_basis(SPEC, {"h1", "h2", "e2"})  # e1 missing in a period: environment keeps e2
    assert [n["id"] for n in basis.data["nodes"]] == ["housing", "environment", "wb"]
    assert basis.dropped_nodes == [] and basis.dropped_indicators == ["e1"]
    basis = common_basis(SPEC, {"h1", "h2"})
    assert basis.dropped_nodes == ["environment"] and basis.dropped_indicators == []
    assert basis.spec.nodes["wb"]["children"] == ["housing"]
    assert "uncertainty" not in basis.data  # the change has no rank bands of its own
    assert basis.describe("2012", "2024") == ("left out of both periods (no values in one of 2012 and 2024): "
                                              "environment; normalised within each period, so compared as "
                                              "positions: h2")


def test_weights_of_what_remains_keep_their_ratio():
    basis = common_basis(SPEC, {"h1", "h2", "e1"})
    assert basis.spec.weights("housing") == [0.75, 0.25]  # 3:1 as declared
    basis = common_basis(SPEC, {"h1", "e1", "e2"})
    assert basis.spec.nodes["housing"]["children"] == ["h1"] and basis.spec.weights("housing") == [1.0]


def test_no_common_indicator_is_a_clear_error():
    with pytest.raises(ValueError, match="no indicator has values in both periods"):
        common_basis(SPEC, set())


def wide(rows: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame({"area_id": ["A", "B", "C"], **rows})


def test_minmax_indicators_share_the_goalposts_of_both_periods():
    # e2 2012: 1, 3, 2; 2024: 2, 5, 4 -> goalposts 1..5 in both (each period's own range would make both 0..100)
    basis = common_basis(SPEC, {"e2"})
    spec = shared_goalposts(basis, [wide({"e2": [1.0, 3.0, 2.0]}), wide({"e2": [2.0, 5.0, 4.0]})])
    assert spec.normalisation("e2") == {"method": "goalposts", "min": 1.0, "max": 5.0}
    same = shared_goalposts(basis, [wide({"e2": [2.0, 2.0, 2.0]}), wide({"e2": [2.0, np.nan, 2.0]})])
    assert same.normalisation("e2")["method"] == "minmax"  # one value throughout: no range to share


def test_a_dimension_missing_in_one_period_is_ignored_by_the_comparable_change():
    """2012 has no environment values at all. A: housing 0.30 -> 0.50, environment (2024 only) 0.90.
    Each period's own index: 2012 A = 30 (housing alone), 2024 A = (50 + 90) / 2 = 70: a rise of 40, of which 20
    is only the new dimension. On the common basis (housing alone in both): 30 -> 50, a rise of 20."""
    spec = parse_spec({**{k: v for k, v in SPEC.data.items() if k != "uncertainty"},
                       "indicators": [SPEC.indicators[0], SPEC.indicators[2]],
                       "nodes": [{"id": "housing", "children": ["h1"]}, {"id": "environment", "children": ["e1"]},
                                 {"id": "wb", "children": ["housing", "environment"]}]})
    before = {"zona": wide({"h1": [0.30, 0.60, 0.10], "e1": [np.nan] * 3})}
    after = {"zona": wide({"h1": [0.50, 0.55, 0.10], "e1": [0.90, 0.10, 0.50]})}
    start, end, basis = comparable_scores(spec, before, after)
    assert basis.dropped_nodes == ["environment"]
    root = {end_: frame[frame["node_id"] == "wb"].set_index("area_id")["score"]
            for end_, frame in (("from", start), ("to", end))}
    assert root["from"].to_dict() == pytest.approx({"A": 30.0, "B": 60.0, "C": 10.0})
    assert root["to"].to_dict() == pytest.approx({"A": 50.0, "B": 55.0, "C": 10.0})
    assert set(start["node_id"]) == {"housing", "wb"}  # environment is not in the basis
    ranks = end[end["node_id"] == "wb"].set_index("area_id")["rank"].to_dict()
    assert ranks == {"A": 2, "B": 1, "C": 3}


def test_the_weights_a_period_actually_used():
    """2012's own index had no environment score anywhere: environment weighs 0 there and housing 1 (declared
    0.5 each); housing's children keep their declared 3:1."""
    used = used_weights(SPEC, {"housing", "h1", "h2", "wb"}).set_index(["node_id", "child_id"])
    assert used.loc[("wb", "housing"), "weight"] == 1.0 and used.loc[("wb", "environment"), "weight"] == 0.0
    assert used.loc[("wb", "environment"), "declared_weight"] == 0.5
    assert used.loc[("housing", "h1"), "weight"] == 0.75
    assert used.loc[("environment", "e1"), "weight"] == 0.0 == used.loc[("environment", "e2"), "weight"]
    full = used_weights(SPEC, {"housing", "environment", "h1", "h2", "e1", "e2", "wb"})
    assert (full["weight"] == full["declared_weight"]).all()


def test_the_marts_gate_sums_the_weights_of_scored_nodes_only():
    """marts_index_scores.weights_sum_to_one reads each node's used weights: a node scored nowhere in the period
    (2012's environment: every child weighs 0) has nothing to sum; a scored node whose weights sum to 0 fails."""
    import duckdb

    from cities import City
    from expectations.suites import read_marts_index_scores

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.areas AS SELECT 'c' AS city, 'A' AS area_id, 0 AS depth")
    con.execute("CREATE TABLE marts.index_scores AS SELECT *, 'zona' AS level FROM (VALUES "
                "('c', 'A', '2012', 'wb', 50.0, 1), ('c', 'A', '2012', 'env', NULL, NULL),"
                " ('c', 'A', '2012', 'home', 50.0, 1)) t(city, area_id, period, node_id, score, rank)")
    con.execute("CREATE TABLE marts.index_weights AS SELECT * FROM (VALUES "
                "('c', '2012', 'wb', 'home', 1.0, 'full'), ('c', '2012', 'wb', 'env', 0.0, 'full'),"
                "('c', '2012', 'env', 'pm25', 0.0, 'full'), ('c', '2012', 'home', 'rooms', 1.0, 'full'),"
                "('c', '2012', 'home', 'rooms', 1.0, 'change 2012-2024'))"
                " t(city, period, node_id, child_id, weight, basis)")
    city = City(name="c", folder=None, config={})
    sums = read_marts_index_scores(con, city, "2012").set_index("node_id")["weight_sum"]
    assert sums["wb"] == 1.0 and sums["home"] == 1.0  # the change basis's rows are not the period's own
    assert pd.isna(sums["env"])
    con.execute("UPDATE marts.index_scores SET score = 10.0, rank = 1 WHERE node_id = 'env'")
    assert read_marts_index_scores(con, city, "2012").set_index("node_id")["weight_sum"]["env"] == 0.0
