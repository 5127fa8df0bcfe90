"""The index engine against values computed by hand."""

import math

import pandas as pd
import pytest

from indicators.engine import SpecError, aggregate, compute_index, normalise, parse_spec, quantiles, rank_scores


def test_minmax_with_direction():
    # x = 2, 4, 6, 10: min 2, max 10, range 8 -> (x-2)/8 = 0, 0.25, 0.5, 1; direction -1 -> 1, 0.75, 0.5, 0
    x = pd.Series([2.0, 4.0, 6.0, 10.0])
    assert normalise(x, 1, {"method": "minmax"}).tolist() == [0.0, 0.25, 0.5, 1.0]
    assert normalise(x, -1, {"method": "minmax"}).tolist() == [1.0, 0.75, 0.5, 0.0]


def test_goalposts_clip_and_constant_indicator():
    # goalposts 0..8: (x-0)/8 = 0.25, 0.5, 0.75, 1.25 -> clipped to 1
    x = pd.Series([2.0, 4.0, 6.0, 10.0])
    assert normalise(x, 1, {"method": "goalposts", "min": 0, "max": 8}).tolist() == [0.25, 0.5, 0.75, 1.0]
    # a constant indicator separates nobody: 0.5 for all, missing stays missing
    out = normalise(pd.Series([3.0, 3.0, None]), 1, {"method": "minmax"})
    assert out.iloc[:2].tolist() == [0.5, 0.5] and math.isnan(out.iloc[2])


def test_weighted_arithmetic_and_missing_share():
    children = pd.DataFrame({"a": [1.0, 0.5, None], "b": [0.0, 0.5, 0.2]})
    weights = pd.Series({"a": 0.75, "b": 0.25})
    # unit 1: 0.75*1 + 0.25*0 = 0.75; unit 2: 0.5; unit 3: only b (share 0.25 < 0.5) -> no score
    out = aggregate(children, weights, "arithmetic", min_share=0.5)
    assert out.iloc[0] == pytest.approx(0.75)
    assert out.iloc[1] == pytest.approx(0.5)
    assert math.isnan(out.iloc[2])
    # with min_share 0.25, unit 3 keeps b alone, re-weighted to 1 -> 0.2
    assert aggregate(children, weights, "arithmetic", min_share=0.25).iloc[2] == pytest.approx(0.2)


def test_geometric_mean_floors_zero():
    children = pd.DataFrame({"a": [0.25, 0.0], "b": [1.0, 1.0]})
    weights = pd.Series({"a": 0.5, "b": 0.5})
    out = aggregate(children, weights, "geometric", min_share=1)
    # sqrt(0.25 * 1) = 0.5; a zero is floored at 0.01: sqrt(0.01 * 1) = 0.1, not 0
    assert out.tolist() == pytest.approx([0.5, 0.1])


def test_ranks_and_quantiles():
    score = pd.Series([50.0, 80.0, 80.0, 10.0, None])
    rank = rank_scores(score)
    # 80, 80 share rank 1; 50 is 3rd; 10 is 4th; no score, no rank
    assert rank.tolist()[:4] == [3, 1, 1, 4] and pd.isna(rank.iloc[4])
    # N = 4 ranked, q = 2: ceil(3*2/4)=2, ceil(1*2/4)=1, 1, ceil(4*2/4)=2
    assert quantiles(rank, 2).tolist()[:4] == [2, 1, 1, 2]


SPEC = {
    "id": "wb", "unit": "area_id", "scale": 100, "quantiles": 2,
    "indicators": [
        {"id": "water", "direction": 1, "normalise": {"method": "goalposts", "min": 0, "max": 100}},
        {"id": "crime", "direction": -1},
    ],
    "nodes": [
        {"id": "services", "children": ["water"]},
        {"id": "safety", "children": ["crime"]},
        {"id": "wb", "children": ["services", "safety"], "weights": {"services": 3, "safety": 1}},
    ],
}


def test_compute_index_by_hand():
    frame = pd.DataFrame({"area_id": ["A", "B", "C", "D"], "water": [100, 50, 80, 0], "crime": [2, 4, 6, 10]})
    out = compute_index(frame, SPEC)
    # services = water/100: 1, .5, .8, 0; safety = 1 - (crime-2)/8: 1, .75, .5, 0
    # wb = .75*services + .25*safety: 1, .5625, .725, 0 -> x100
    assert out["services"].tolist() == pytest.approx([100, 50, 80, 0])
    assert out["safety"].tolist() == pytest.approx([100, 75, 50, 0])
    assert out["score"].tolist() == pytest.approx([100, 56.25, 72.5, 0])
    assert out["rank"].tolist() == [1, 3, 2, 4]
    assert out["quantile"].tolist() == [1, 2, 1, 2]
    assert list(out.columns) == ["area_id", "services", "safety", "wb", "score", "rank", "quantile"]


@pytest.mark.parametrize("change, message", [
    (lambda s: s["nodes"].append({"id": "x", "children": ["nope"]}), "unknown children nope"),
    (lambda s: s["nodes"][2].update(weights={"water": 1}), "weights given for non-children water"),
    (lambda s: s["indicators"][0].update(direction=0), "direction must be 1 or -1"),
    (lambda s: s["nodes"][0].update(children=["water", "wb"]), "exactly one root"),
])
def test_bad_specs_are_named(change, message):
    import copy

    spec = copy.deepcopy(SPEC)
    change(spec)
    with pytest.raises(SpecError, match=message):
        parse_spec(spec, source="spec.yaml")


def test_cycle_is_named():
    spec = {"id": "r", "indicators": [{"id": "i", "direction": 1}],
            "nodes": [{"id": "r", "children": ["a"]}, {"id": "a", "children": ["b", "i"]},
                      {"id": "b", "children": ["a"]}]}
    with pytest.raises(SpecError, match="cycle in the node tree: r -> a -> b -> a"):
        parse_spec(spec)


def test_non_numeric_input_names_the_row():
    frame = pd.DataFrame({"area_id": ["A", "B"], "water": [1, "lots"], "crime": [1, 2]})
    with pytest.raises(SpecError, match=r"input row 2 \(area_id='B'\): 'water' is not a number: 'lots'"):
        compute_index(frame, SPEC)


def test_a_repeated_unit_names_its_rows_one_based_at_most_five():
    from indicators.engine import InputError

    ids = ["A", "B", "A", "C", "A", "A", "A", "A"]  # rows 1, 3, 5, 6, 7, 8 repeat A
    frame = pd.DataFrame({"area_id": ids, "water": range(8), "crime": range(8)})
    with pytest.raises(InputError) as caught:
        compute_index(frame, SPEC)
    assert str(caught.value).startswith("input rows 1, 3, 5, 6, 7: area_id 'A' appears more than once")
    assert caught.value.row == 3  # the first row that repeats an earlier one


def test_a_value_outside_a_transforms_domain_names_its_row_one_based():
    from indicators.engine import InputError

    spec = {**SPEC, "indicators": [{"id": "water", "direction": 1, "transform": {"method": "log"}},
                                   SPEC["indicators"][1]]}
    frame = pd.DataFrame({"area_id": ["A", "B", "C"], "water": [10, 20, -5], "crime": [1, 2, 3]})
    with pytest.raises(InputError, match=r"^input row 3 \(area_id='C'\): 'water': ") as caught:
        compute_index(frame, spec)
    assert caught.value.row == 3


def test_mean_imputation_by_hand():
    import numpy as np

    from indicators.impute import impute_mean

    x = np.array([[1.0, np.nan, np.nan], [np.nan, 4.0, np.nan], [3.0, np.nan, np.nan]])
    filled = impute_mean(x)
    # column 0: mean of 1 and 3 = 2; column 1: its one value, 4; column 2: nothing to fill from, stays missing
    assert filled[:, 0].tolist() == [1.0, 2.0, 3.0] and filled[:, 1].tolist() == [4.0, 4.0, 4.0]
    assert np.isnan(filled[:, 2]).all()
