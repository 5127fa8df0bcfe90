"""Each step of the index engine against values computed by hand: normalisers, transforms, aggregators,
imputation, min_share, ranks/ties/quantiles, and every spec error naming its line (or the input row)."""

import math

import numpy as np
import pandas as pd
import pytest

from indicators.aggregate import aggregate_scores
from indicators.engine import InputError, SpecError, compute_index, parse_spec_text
from indicators.impute import impute_values
from indicators.normalise import normalise_values
from indicators.ranking import min_rank, quantiles, rank_scores
from indicators.transform import (
    DomainError,
    kurtosis,
    passes_skew_kurtosis,
    skewness,
    transform_parameter,
    transform_values,
    winsorise,
)

X = np.array([2.0, 4.0, 6.0, 10.0])


def norm(x, direction, method, **params):
    return normalise_values(np.asarray(x, dtype=float), direction, {"method": method, **params})


# ---------------------------------------------------------------- normalisers


def test_minmax_keeps_missing_and_reverses():
    # min 2, max 10 over the present values: (x-2)/8 = 0, -, .5, 1; direction -1 -> 1, -, .5, 0
    out = norm([2, np.nan, 6, 10], -1, "minmax")
    assert out[[0, 2, 3]].tolist() == [1.0, 0.5, 0.0] and np.isnan(out[1])


def test_zscore_uses_the_sample_sd():
    # mean 5.5; deviations -3.5 -1.5 .5 4.5; squares 12.25+2.25+.25+20.25 = 35; var 35/3; sd 3.415650
    # z = -3.5/3.415650 = -1.024695, -1.5/3.415650 = -0.439155, 0.146385, 1.317465
    assert norm(X, 1, "zscore") == pytest.approx([-1.024695, -0.439155, 0.146385, 1.317465], abs=1e-6)
    assert norm(X, -1, "zscore") == pytest.approx([1.024695, 0.439155, -0.146385, -1.317465], abs=1e-6)
    # a constant indicator separates nobody: z = 0
    assert norm([3, 3, 3], 1, "zscore").tolist() == [0.0, 0.0, 0.0]


def test_goalposts_reversed_and_clipped():
    # direction -1, goalposts 0..8: (8 - x)/8 = 6/8, 4/8, 2/8, -2/8 -> clipped to 0
    assert norm(X, -1, "goalposts", min=0, max=8).tolist() == [0.75, 0.5, 0.25, 0.0]


def test_rank_and_percentile_rank_with_ties():
    x = [2, 4, 4, 10]
    # ascending ranks, ties take the lower (COINr's ties.method = "min"): 1, 2, 2, 4; rank = a/N = /4
    assert norm(x, 1, "rank").tolist() == [0.25, 0.5, 0.5, 1.0]
    # direction -1 ranks -x: -10 -> 1, -4 -> 2 (tied), -2 -> 4; so 2 -> 4/4, 4 -> 2/4, 10 -> 1/4
    assert norm(x, -1, "rank").tolist() == [1.0, 0.5, 0.5, 0.25]
    # percentile rank (a-1)/(N-1): 0/3, 1/3, 1/3, 3/3
    assert norm(x, 1, "percentile_rank") == pytest.approx([0, 1 / 3, 1 / 3, 1])
    # a missing value is not ranked: N = 3, a = 1, -, 2, 3 -> 0, -, .5, 1
    out = norm([2, np.nan, 6, 10], 1, "percentile_rank")
    assert out[[0, 2, 3]].tolist() == [0.0, 0.5, 1.0] and np.isnan(out[1])


def test_distance_to_target_both_directions():
    # direction 1, target 8, worst = min 2: (x-2)/6 = 0, 1/3, 2/3, 8/6 -> capped at 1
    assert norm(X, 1, "distance_to_target", target=8, cap=True) == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert norm(X, 1, "distance_to_target", target=8, cap=False)[3] == pytest.approx(8 / 6)
    # direction -1, target 3, worst = max 10: (10-x)/(10-3) = 8/7 -> 1, 6/7, 4/7, 0
    assert norm(X, -1, "distance_to_target", target=3, cap=True) == pytest.approx([1, 6 / 7, 4 / 7, 0])
    with pytest.raises(ValueError, match="target 2.0 must lie above the lowest observed value"):
        norm(X, 1, "distance_to_target", target=2.0, cap=True)


def test_exponential_rank_by_hand():
    # N = 4, R = a/N = .25, .5, .75, 1; k = 1 - exp(-100/23) = 1 - 0.0129349 = 0.9870651
    # R=.25: -23 ln(1 - .25k) = -23 ln(0.7532337) = -23 * -0.2833797 = 6.517733
    # R=.5:  -23 ln(0.5064675) = -23 * -0.6802952 = 15.646790
    # R=.75: -23 ln(0.2597012) = -23 * -1.3482236 = 31.009144
    # R=1:   -23 ln(0.0129349) = -23 * -100/23 = 100; internal unit = X/100
    expected = [0.06517733, 0.15646790, 0.31009144, 1.0]
    assert norm(X, 1, "exponential_rank", constant=23, n=None) == pytest.approx(expected, abs=1e-8)
    # direction -1: the smallest value is best, so the order reverses
    assert norm(X, -1, "exponential_rank", constant=23, n=None) == pytest.approx(expected[::-1], abs=1e-8)


def test_exponential_rank_matches_the_published_ten_percent():
    # Scottish IoD 2003 Appendix 5: "The constant (23) determines that ten percent of wards have a score higher
    # than 50." X > 50 <=> R > (1 - e^(-50/23)) / k = 0.886268 / 0.987065 = 0.897882: 103 of 1,000 ranks.
    x = norm(np.arange(1000.0), 1, "exponential_rank", constant=23, n=None) * 100
    assert (x > 50).sum() == 103


def test_exponential_rank_from_published_ranks():
    # n = 32844, r = 1 (most deprived): R = 1 -> X = 100; r = 32844: R = 1/32844 -> -23 ln(1 - k/32844) = 0.000691
    # r = 16422: R = (32844 + 1 - 16422)/32844 = 0.5000304 -> -23 ln(1 - 0.4935625) = 15.648155
    out = norm([1, 16422, 32844], -1, "exponential_rank", constant=23, n=32844) * 100
    assert out == pytest.approx([100, 15.648155, 0.000691], abs=1e-6)
    with pytest.raises(DomainError, match=r"ranks must lie in 1\.\.32844, found 0\.0"):
        norm([0, 5], -1, "exponential_rank", constant=23, n=32844)


def test_nbi_gap():
    # norm 4 years: direction -1 gives the NBI gap (4 - x)/4 = 1, .5, 0, -.5 (above the norm stays negative)
    assert norm([0, 2, 4, 6], -1, "nbi_gap", norm=4).tolist() == [1.0, 0.5, 0.0, -0.5]
    # direction 1 is its negative: the surplus over the norm
    assert norm([0, 2, 4, 6], 1, "nbi_gap", norm=4).tolist() == [-1.0, -0.5, 0.0, 0.5]


def test_unknown_normaliser_is_refused():
    with pytest.raises(ValueError, match="unknown normalisation 'softmax'"):
        norm(X, 1, "softmax")


# ---------------------------------------------------------------- transforms


def test_log_and_log1p():
    # ln(1) = 0, ln(e) = 1, ln(e^2) = 2; ln(1 + 0) = 0, ln(1 + (e - 1)) = 1
    assert transform_values(np.array([1, math.e, math.e**2]), {"method": "log"}) == pytest.approx([0, 1, 2])
    assert transform_values(np.array([0, math.e - 1]), {"method": "log1p"}) == pytest.approx([0, 1])
    with pytest.raises(DomainError, match="log needs values > 0, found 0.0") as err:
        transform_values(np.array([3.0, 0.0]), {"method": "log"})
    assert err.value.position == 1
    with pytest.raises(DomainError, match="log1p needs values > -1"):
        transform_values(np.array([-1.0]), {"method": "log1p"})
    # goalposts move with the data: ln 100 = 4.605170, ln 75000 = 11.225243
    assert transform_parameter(100, {"method": "log"}) == pytest.approx(4.605170, abs=1e-6)
    assert transform_parameter(75000, {"method": "log"}) == pytest.approx(11.225243, abs=1e-6)
    assert transform_parameter(7, {"method": "winsorise"}) == 7


def test_skewness_and_kurtosis_as_excel():
    # x = 1, 2, 3, 10: mean 4, d = -3 -2 -1 6; sum d^2 = 50, d^3 = 180, d^4 = 1394; n = 4
    # skew: sqrt(4)*180/50^1.5 = 1.018234; * sqrt(4*3)/(4-2) = 1.018234 * 1.732051 = 1.763633
    # kurt: r = 4*1394/50^2 = 2.2304; ((5)(2.2304-3) + 6)(3)/((2)(1)) = 2.152 * 1.5 = 3.228
    x = np.array([1.0, 2.0, 3.0, 10.0])
    assert skewness(x) == pytest.approx(1.763633, abs=1e-6)
    assert kurtosis(x) == pytest.approx(3.228, abs=1e-9)
    # COINr's pass rule is an OR: |skew| 1.76 < 2, so it passes although kurtosis 3.228 is not < 3.2
    assert passes_skew_kurtosis(x, 2.0, 3.2)
    assert not passes_skew_kurtosis(x, 1.7, 3.2)


def test_winsorise_reproduces_coinr_tests():
    # COINr tests/testthat/test-treat.R: x = c(1:10, 100) fails (skew 3.26, kurtosis 10.7); one point is
    # winsorised: 100 becomes the next highest, 10; the others are untouched and it now passes.
    x = np.array([*range(1, 11), 100.0])
    treated, count = winsorise(x)
    assert treated.tolist() == [*range(1, 11), 10.0] and count == 1
    assert passes_skew_kurtosis(treated, 2.0, 3.5)
    # x = c(1:20, 100, 200) with winmax = 1: 200 -> 100, which still fails (skew 2.82, kurtosis 7.13)
    x = np.array([*range(1, 21), 100.0, 200.0])
    treated, count = winsorise(x, max_points=1)
    assert treated[-2:].tolist() == [100.0, 100.0] and count == 1
    assert not passes_skew_kurtosis(treated, 2.0, 3.5)
    # with COINr's default 5: next both 100s become 20, and COINr counts the two tied points
    treated, count = winsorise(x)
    assert treated[-3:].tolist() == [20.0, 20.0, 20.0] and count == 2


def test_winsorise_keeps_missing_and_low_tail():
    x = np.array([*range(1, 11), 100.0, np.nan])
    treated = transform_values(x, {"method": "winsorise", "max_points": 5, "skew": 2.0, "kurtosis": 3.5})
    assert treated[10] == 10.0 and np.isnan(treated[11])
    # negative skew treats the low end: -100 becomes -10
    low, count = winsorise(-np.array([*range(1, 11), 100.0]))
    assert low[-1] == -10.0 and count == 1


# ---------------------------------------------------------------- aggregators


def test_weighted_geometric_and_harmonic():
    children = np.array([[0.25, 1.0], [0.5, 0.5]])
    # weights 3:1 -> .75, .25; unit 1: .25^.75 * 1^.25 = exp(.75 ln .25) = 0.353553; unit 2: .5
    assert aggregate_scores(children, np.array([3.0, 1.0]), "geometric") == pytest.approx([0.353553, 0.5], abs=1e-6)
    # harmonic, equal weights: unit 1: 1/(.5/.25 + .5/1) = 1/2.5 = .4; unit 2: .5
    assert aggregate_scores(children, np.array([1.0, 1.0]), "harmonic") == pytest.approx([0.4, 0.5])


def test_zero_floor_in_geometric_and_harmonic():
    children = np.array([[0.0, 1.0]])
    # floor .01: geometric sqrt(.01 * 1) = .1; harmonic 1/(.5/.01 + .5/1) = 1/50.5 = 0.019802
    assert aggregate_scores(children, np.array([1.0, 1.0]), "geometric")[0] == pytest.approx(0.1)
    assert aggregate_scores(children, np.array([1.0, 1.0]), "harmonic")[0] == pytest.approx(0.019802, abs=1e-6)
    # floor 0: a zero zeroes both means
    assert aggregate_scores(children, np.array([1.0, 1.0]), "geometric", floor=0.0)[0] == 0.0
    assert aggregate_scores(children, np.array([1.0, 1.0]), "harmonic", floor=0.0)[0] == 0.0


def test_min_share_and_zero_weights():
    children = np.array([[0.4, np.nan, 0.8], [0.4, 0.2, 0.8]])
    w = np.array([2.0, 1.0, 1.0])
    # unit 1 lacks b (weight 1 of 4): share .75; score (2*.4 + 1*.8)/3 = .533333
    assert aggregate_scores(children, w, "arithmetic", min_share=0.75)[0] == pytest.approx(1.6 / 3)
    # with min_share .8 unit 1 has no score; unit 2 (all present): (.8 + .2 + .8)/4 = .45
    out = aggregate_scores(children, w, "arithmetic", min_share=0.8)
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.45)
    # a zero weight removes a child without counting against min_share: (2*.4 + .8)/3 for both units
    assert aggregate_scores(children, np.array([2.0, 0.0, 1.0]), "arithmetic") == pytest.approx([1.6 / 3] * 2)


def test_batched_weights_give_one_score_per_run():
    children = np.array([[0.2, 0.6], [1.0, 0.0]])
    runs = np.array([[1.0, 1.0], [3.0, 1.0]])
    # run 1: (.2+.6)/2 = .4, (1+0)/2 = .5; run 2: .75*.2 + .25*.6 = .3, .75
    np.testing.assert_allclose(aggregate_scores(children, runs, "arithmetic"), [[0.4, 0.5], [0.3, 0.75]])


# ---------------------------------------------------------------- imputation


def test_imputation_none_mean_group_mean():
    x = np.array([[1.0, 10.0], [np.nan, 20.0], [5.0, np.nan], [7.0, 40.0]])
    groups = np.array(["a", "a", "b", "b"], dtype=object)
    assert np.isnan(impute_values(x, "none")[1, 0])
    # mean: column 1 (1+5+7)/3 = 13/3; column 2 (10+20+40)/3 = 70/3
    filled = impute_values(x, "mean")
    assert filled[1, 0] == pytest.approx(13 / 3) and filled[2, 1] == pytest.approx(70 / 3)
    # group mean: row 2 is in group a -> mean of a's column 1 = 1; row 3 in b -> b's column 2 = 40
    filled = impute_values(x, "group_mean", groups)
    assert filled[1, 0] == 1.0 and filled[2, 1] == 40.0 and filled[0, 0] == 1.0
    # a group with no value stays missing
    assert np.isnan(impute_values(np.array([[np.nan], [2.0]]), "group_mean", np.array(["c", "d"]))[0, 0])


# ---------------------------------------------------------------- ranks, ties, quantiles: a 4 x 4 example

FOUR = pd.DataFrame({"area_id": ["A", "B", "C", "D"], "i1": [0, 4, 8, 6], "i2": [10, 30, 50, 40],
                     "i3": [1, 4, 5, 3], "i4": [9, 3, 1, 5]})
FOUR_SPEC = """\
id: four
unit: area_id
quantiles: 3
indicators:
  - {id: i1, direction: 1}
  - {id: i2, direction: 1}
  - {id: i3, direction: 1}
  - {id: i4, direction: -1}
nodes:
  - {id: d1, children: [i1, i2]}
  - {id: d2, children: [i3, i4]}
  - {id: root, children: [d1, d2]}
"""


def test_four_by_four_scores_ranks_ties_quantiles():
    out = compute_index(FOUR, parse_spec_text(FOUR_SPEC))
    # minmax: i1 x/8 = 0 .5 1 .75; i2 (x-10)/40 = 0 .5 1 .75 -> d1 = 0 .5 1 .75
    #         i3 (x-1)/4 = 0 .75 1 .5; i4 1-(x-1)/8 = 0 .75 1 .5 -> d2 = 0 .75 1 .5
    # root = (d1 + d2)/2 = 0, .625, 1, .625 -> x100
    assert out["d1"].tolist() == [0, 50, 100, 75] and out["d2"].tolist() == [0, 75, 100, 50]
    assert out["score"].tolist() == [0, 62.5, 100, 62.5]
    # C first; B and D tie and share rank 2; A is 4th (not 3rd)
    assert out["rank"].tolist() == [4, 2, 1, 2]
    # q = 3, N = 4: ceil(4*3/4) = 3, ceil(2*3/4) = 2, ceil(1*3/4) = 1, 2
    assert out["quantile"].tolist() == [3, 2, 1, 2]
    assert list(out.columns) == ["area_id", "d1", "d2", "root", "score", "rank", "quantile"]


def test_four_by_four_weighted_and_geometric():
    weighted = FOUR_SPEC.replace("{id: root, children: [d1, d2]}",
                                 "{id: root, children: [d1, d2], weights: {d1: 3, d2: 1}}")
    out = compute_index(FOUR, parse_spec_text(weighted))
    # .75 d1 + .25 d2: A 0; B .375 + .1875 = .5625; C 1; D .5625 + .125 = .6875
    assert out["score"].tolist() == pytest.approx([0, 56.25, 100, 68.75])
    assert out["rank"].tolist() == [4, 3, 1, 2]
    geometric = FOUR_SPEC.replace("{id: root, children: [d1, d2]}",
                                  "{id: root, children: [d1, d2], aggregate: geometric}")
    out = compute_index(FOUR, parse_spec_text(geometric))
    # A: both 0, floored at .01: sqrt(.01 * .01) = .01 -> 1 on the 0..100 scale, not 0
    # B: sqrt(.5 * .75) = sqrt(.375) = .612372; C: 1; D: sqrt(.75 * .5) = .612372 (tie with B)
    assert out["score"].tolist() == pytest.approx([1, 61.2372, 100, 61.2372], abs=1e-4)
    assert out["rank"].tolist() == [4, 2, 1, 2]
    # floor: 0 in the spec restores the strict mean: A's zeros give 0
    assert compute_index(FOUR, parse_spec_text(geometric + "floor: 0\n"))["score"].iloc[0] == 0.0


def test_winsorise_in_a_spec():
    frame = pd.DataFrame({"area_id": [f"A{k}" for k in range(11)], "x": [*range(1, 11), 100]})
    spec = parse_spec_text("id: w\nunit: area_id\nindicators:\n  - {id: x, direction: 1, transform: winsorise}\n"
                           "nodes:\n  - {id: w, children: [x]}\n")
    out = compute_index(frame, spec)
    # 100 is winsorised to 10 (COINr's rule, see above): minmax over 1..10 gives both the top score, and they tie
    assert out["score"].tolist()[-2:] == [100.0, 100.0] and out["rank"].tolist()[-2:] == [1, 1]
    # (x - 1)/9 for the rest: 5 -> 4/9
    assert out["score"].iloc[4] == pytest.approx(400 / 9)


def test_min_share_leaves_units_unscored_and_unranked():
    frame = FOUR.astype({"i3": float, "i4": float})
    frame.loc[1, ["i3", "i4"]] = np.nan  # B has no d2 at all
    spec = parse_spec_text(FOUR_SPEC + "missing: {min_share: 0.75}\n")
    out = compute_index(frame, spec)
    # B: d2 missing; root share 1/2 < .75 -> no score, no rank, no quantile; the 3 others rank 1..3
    assert np.isnan(out.loc[1, "d2"]) and np.isnan(out.loc[1, "score"])
    assert pd.isna(out.loc[1, "rank"]) and pd.isna(out.loc[1, "quantile"])
    assert out["rank"].dropna().tolist() == [3, 1, 2]
    # with min_share .5, B keeps its root score from d1 alone: d1_B = .5 -> 50
    out = compute_index(frame, parse_spec_text(FOUR_SPEC + "missing: {min_share: 0.5}\n"))
    assert out.loc[1, "score"] == 50.0


def test_min_rank_matches_pandas_row_by_row():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, size=(50, 40)).astype(float)
    values[rng.random(values.shape) < 0.1] = np.nan
    ranks = min_rank(values)
    for row, expected in zip(ranks, values, strict=True):
        want = pd.Series(expected).rank(method="min", ascending=False).to_numpy()
        assert np.array_equal(row, want, equal_nan=True)
    assert rank_scores(pd.Series([50.0, 80.0, 80.0, None])).tolist()[:3] == [3, 1, 1]
    assert quantiles(pd.Series([1, 2, 3, 4, 5], dtype="Int64"), 5).tolist() == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- spec errors name the line

BASE = """\
id: wb
unit: area_id
scale: 100
indicators:
  - id: water
    direction: 1
    normalise: {method: goalposts, min: 0, max: 100}
  - id: crime
    direction: -1
nodes:
  - id: services
    children: [water]
  - id: safety
    children: [crime]
  - id: wb
    children: [services, safety]
    weights: {services: 3, safety: 1}
"""


@pytest.mark.parametrize("old, new, message", [
    ("    weights: {services: 3, safety: 1}", "    weights: {services: 3, water: 1}",
     r"spec\.yaml:17: node 'wb': weights given for non-children water"),
    ("{method: goalposts, min: 0, max: 100}", "{method: softmax}",
     r"spec\.yaml:7: indicator 'water': unknown normalisation 'softmax' \(known: minmax, zscore"),
    ("    children: [water]\n", "    children: [water]\n    aggregate: median\n",
     r"spec\.yaml:13: node 'services': unknown aggregate 'median'"),
    ("    direction: -1", "    direction: -1\n    transform: sqrt",
     r"spec\.yaml:10: indicator 'crime': unknown transform 'sqrt'"),
    ("    direction: -1", "    direction: 0", r"spec\.yaml:9: indicator 'crime': direction must be 1 or -1"),
    ("    children: [crime]", "    children: [crime, wb]",
     r"spec\.yaml:13: the node tree needs exactly one root .* cycle in the node tree: safety -> wb -> safety"),
    ("    children: [crime]", "    children: [crime, loop]\n  - id: loop\n    children: [safety]",
     r"spec\.yaml:13: cycle in the node tree: safety -> loop -> safety"),
    ("  - id: wb\n", "  - id: top\n    children: [crime]\n  - id: wb\n",
     r"spec\.yaml: the node tree needs exactly one root .*, found 'top' \(spec\.yaml:15\), 'wb' \(spec\.yaml:17\)"),
    ("    children: [crime]", "    children: [crime, nope]", r"spec\.yaml:14: node 'safety': unknown children nope"),
    ("  - id: wb\n", "  - id: wb\n    wieghts: {}\n", r"spec\.yaml:15: node 'wb': unknown key\(s\) 'wieghts'"),
    ("min: 0, max: 100}", "min: 0}", r"spec\.yaml:7: indicator 'water': goalposts needs min and max"),
    ("    children: [water]", "    children: [water, crime]",
     r"spec\.yaml:14: node 'safety' lists 'crime', which node 'services' \(spec\.yaml:11\) already lists"),
    ("nodes:", "  - {id: extra, direction: 1}\nnodes:", r"spec\.yaml:10: indicator 'extra' is not a child of any node"),
    ("    normalise: {method: goalposts, min: 0, max: 100}",
     "    transform: log\n    normalise: {method: goalposts, min: 0, max: 100}",
     r"spec\.yaml:8: indicator 'water': goalposts min 0 is in raw units and is transformed with log too"),
    ("    direction: -1", "    direction: -1\n    normalise: zscore",
     r"spec\.yaml:16: node 'wb' may take a geometric mean, but indicator 'crime' \(spec\.yaml:8\) .* zscore"),
    ("scale: 100", "scale: 100\nmissing: {impute: group_mean}",
     r"spec\.yaml:4: missing: group_mean needs the group column"),
    ("scale: 100", "scale: 100\nuncertainty: {af_k: [0.2, 0.33]}",
     r"spec\.yaml:4: uncertainty: af_k .* no alkire_foster node yet"),
    ("    children: [crime]", "    children: [crime\n", r"spec\.yaml:\d+: not valid YAML"),
    ("    weights: {services: 3, safety: 1}", "    weights: {services: 3, safety: 1}\n    aggregate: geometric\n"
     "    rescale: false", r"spec\.yaml:19: node 'wb': rescale: false .* only defined for an arithmetic aggregate"),
    ("scale: 100", "scale: 100\nuncertainty: {normalise: [goalposts]}",
     r"spec\.yaml:4: uncertainty: normalise: goalposts has parameters of one indicator"),
    ("scale: 100", "scale: 100\nuncertainty:\n  normalise: {sewage: [rank]}",
     r"spec\.yaml:5: uncertainty: normalise: unknown indicator 'sewage'"),
    ("scale: 100", "scale: 100\nuncertainty:\n  weights: {perturb: 1.5}",
     r"spec\.yaml:5: uncertainty: perturb must be a number in \[0, 1\), got 1\.5"),
])
def test_spec_errors_name_the_line(old, new, message):
    text = BASE.replace(old, new)
    if "zscore" in new:
        text = text.replace("    weights: {services: 3, safety: 1}", "    aggregate: geometric")
    assert text != BASE
    with pytest.raises(SpecError, match=message):
        parse_spec_text(text, source="spec.yaml")


def test_input_errors_name_the_spec_line_or_the_row():
    spec = parse_spec_text(BASE, source="spec.yaml")
    good = pd.DataFrame({"area_id": ["A", "B", "C"], "water": [10, 20, 30], "crime": [1, 2, 3]})
    with pytest.raises(SpecError, match=r"spec\.yaml:5: indicator 'water': column 'water' not in the input"):
        compute_index(good.drop(columns="water"), spec)
    with pytest.raises(SpecError, match=r"spec\.yaml:2: unit column 'area_id' not in the input"):
        compute_index(good.rename(columns={"area_id": "zone"}), spec)
    bad = good.astype({"crime": object})
    bad.loc[2, "crime"] = "many"
    with pytest.raises(InputError, match=r"input row 3 \(area_id='C'\): 'crime' is not a number: 'many'") as err:
        compute_index(bad, spec)
    assert err.value.row == 3
    with pytest.raises(InputError, match=r"input rows 1, 3: area_id 'A' appears more than once"):
        compute_index(good.assign(area_id=["A", "B", "A"]), spec)
    logged = parse_spec_text(BASE.replace("    direction: -1", "    direction: -1\n    transform: log"), "spec.yaml")
    with pytest.raises(InputError, match=r"input row 2 \(area_id='B'\): 'crime': log needs values > 0, found 0\.0; "
                                         r"use log1p .* \(spec\.yaml:8: indicator 'crime'\)"):
        compute_index(good.assign(crime=[1, 0, 3]), logged)


@pytest.mark.parametrize("method", ["geometric", "harmonic", "arithmetic"])
def test_a_zero_weight_removes_a_child_even_at_zero_without_a_floor(method):
    """A child of weight 0 neither counts for the score nor spoils it: its 0 under a geometric or harmonic mean
    with no floor (log 0 = -inf, 1/0 = inf) must not turn the score into NaN (-inf x 0)."""
    children = np.array([[0.5, 0.0], [0.25, 0.0]])
    out = aggregate_scores(children, np.array([1.0, 0.0]), method, floor=0.0)
    assert out == pytest.approx([0.5, 0.25])
