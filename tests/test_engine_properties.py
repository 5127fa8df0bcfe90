"""Properties of the index engine that hold for any valid spec and data (hypothesis draws them), and a clear
SpecError, never another exception, for any spec broken in one of the ways people break them."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.engine import SpecError, compute_index, parse_spec

METHODS = ["minmax", "goalposts", "rank"]  # bounded: zscore gives scores outside [0, scale] by design
AGGREGATES = ["arithmetic", "geometric"]


@st.composite
def specs_and_data(draw):
    """A spec with 1-5 indicators under 1-3 dimensions and a root, and 2-25 units of data (some missing)."""
    n_ind = draw(st.integers(1, 5))
    indicators = []
    for i in range(n_ind):
        method = draw(st.sampled_from(METHODS))
        normalise = {"method": method}
        if method == "goalposts":
            low = draw(st.floats(-100, 100, allow_nan=False))
            normalise.update(min=low, max=low + draw(st.floats(1, 200, allow_nan=False)))
        indicators.append({"id": f"i{i}", "direction": draw(st.sampled_from([1, -1])), "normalise": normalise})
    n_dim = draw(st.integers(1, min(3, n_ind)))
    groups = [[f"i{i}" for i in range(n_ind) if i % n_dim == d] for d in range(n_dim)]
    nodes = [{"id": f"d{d}", "children": children, "aggregate": draw(st.sampled_from(AGGREGATES)),
              "weights": {c: draw(st.integers(1, 5)) for c in children}} for d, children in enumerate(groups)]
    nodes.append({"id": "root", "children": [f"d{d}" for d in range(n_dim)]})
    quantiles = draw(st.integers(2, 5))
    spec = {"id": "root", "unit": "unit", "scale": draw(st.sampled_from([1, 10, 100])), "quantiles": quantiles,
            "indicators": indicators, "nodes": nodes}
    n = draw(st.integers(2, 25))
    value = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.just(float("nan")))
    data = {f"i{i}": draw(st.lists(value, min_size=n, max_size=n)) for i in range(n_ind)}
    frame = pd.DataFrame({"unit": [f"u{k}" for k in range(n)], **data})
    return spec, frame


def check_methods_exist():
    """The strategy's method names are the engine's: a renamed method would make every draw a SpecError."""
    for method in [*METHODS, "zscore"]:
        spec = {"id": "r", "unit": "unit", "indicators": [{"id": "i", "direction": 1, "normalise": {
            "method": method, **({"min": 0, "max": 1} if method == "goalposts" else {})}}],
            "nodes": [{"id": "r", "children": ["i"]}]}
        parse_spec(spec)


def test_the_strategy_uses_real_methods():
    check_methods_exist()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_and_data())
def test_scores_lie_within_the_scale_and_ranks_follow_them(case):
    spec, frame = case
    out = compute_index(frame, spec)
    scale = spec["scale"]
    for node in ["root", *(n["id"] for n in spec["nodes"])]:
        scores = out[node].dropna()
        assert ((scores >= -1e-9) & (scores <= scale + 1e-9)).all(), (node, scores.tolist())
    score, rank = out["score"], out["rank"]
    assert (score.isna() == rank.isna()).all()  # a unit is ranked exactly when it has a score
    ranked = score.dropna()
    for unit in ranked.index:  # rank = 1 + the number of strictly higher scores (ties share the best rank)
        assert rank[unit] == 1 + int((ranked > ranked[unit]).sum())
    if len(ranked):
        assert rank.min() == 1 and rank.max() <= len(ranked)
        q = out["quantile"].dropna()
        assert q.between(1, spec["quantiles"]).all() and (out["quantile"].isna() == rank.isna()).all()
        # better ranks never fall in a worse quantile
        order = out.dropna(subset=["rank"]).sort_values("rank")
        assert order["quantile"].is_monotonic_increasing


BREAKAGES = [
    ("no id", lambda s: s.pop("id")),
    ("an unknown key", lambda s: s.update(colour="red")),
    ("an unknown method", lambda s: s["indicators"][0].update(normalise={"method": "softmax"})),
    ("goalposts without max", lambda s: s["indicators"][0].update(normalise={"method": "goalposts", "min": 0})),
    ("a zero direction", lambda s: s["indicators"][0].update(direction=0)),
    ("a child that does not exist", lambda s: s["nodes"][-1]["children"].append("ghost")),
    ("a negative weight", lambda s: s["nodes"][0].update(weights={c: -1 for c in s["nodes"][0]["children"]})),
    ("an unknown aggregate", lambda s: s["nodes"][0].update(aggregate="median")),
    ("two roots", lambda s: s["nodes"].append({"id": "other", "children": [s["indicators"][0]["id"]]})),
    ("a cycle", lambda s: s["nodes"][0]["children"].append("root")),
    ("nodes not a list", lambda s: s.update(nodes="root")),
    ("indicators empty", lambda s: s.update(indicators=[])),
]


@settings(max_examples=60, deadline=None)
@given(specs_and_data(), st.sampled_from(BREAKAGES))
def test_a_broken_spec_is_a_spec_error_never_a_crash(case, breakage):
    spec, _ = case
    broken = copy.deepcopy(spec)
    name, change = breakage
    change(broken)
    with pytest.raises(SpecError):
        parse_spec(broken, source="spec.yaml")


def test_the_property_would_catch_a_rank_bug():
    """The rank property, on a hand case: 80, 80, 50 rank 1, 1, 3 (not 1, 2, 3 nor 1, 1, 2)."""
    spec = {"id": "r", "unit": "unit", "indicators": [{"id": "i", "direction": 1, "normalise": {
        "method": "goalposts", "min": 0, "max": 100}}], "nodes": [{"id": "r", "children": ["i"]}]}
    out = compute_index(pd.DataFrame({"unit": ["a", "b", "c"], "i": [80.0, 80.0, 50.0]}), spec)
    assert out["rank"].tolist() == [1, 1, 3]
    assert not math.isnan(out["score"].iloc[0]) and np.isclose(out["score"].iloc[0], 80)
