"""Monte Carlo sensitivity rules pinned on tiny specs (3-4 units, 1-3 indicators, a few runs): the weight draw,
which choices actually move the scores, the labels of the runs table, ties taken on the reported scores,
batching, and the quantile rule. Companion of tests/test_sensitivity.py (same conventions; minmax unless said).
"""

import numpy as np
import pandas as pd
import pytest

from indicators.engine import compute_index, parse_spec_text
from indicators.sensitivity import column_quantiles, run_sensitivity

TREE = """\
id: r
unit: u
indicators:
  - {id: a, direction: 1}
  - {id: b, direction: 1}
  - {id: c, direction: 1}
nodes:
  - {id: d1, children: [a, b], weights: {a: 3, b: 1}}
  - {id: d2, children: [c]}
  - {id: r, children: [d1, d2]}
"""
TREE_FRAME = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0, 5, 10], "b": [10, 0, 5], "c": [4, 8, 0]})

TWO = """\
id: r
unit: u
indicators:
  - {id: a, direction: 1}
  - {id: b, direction: 1}
nodes:
  - {id: r, children: [a, b]}
"""


def ranks_by_choice(result, column):
    """{choice as written in the runs table: set of rank rows (tuples, NaN as None)} over the runs."""
    out: dict[str, set] = {}
    for k, choice in enumerate(result.runs[column]):
        out.setdefault(choice, set()).add(tuple(None if np.isnan(r) else int(r) for r in result.ranks[k]))
    return out


# -- weights ------------------------------------------------------------------------------------------------------

def test_weights_are_nominal_times_uniform_rescaled_drawn_in_the_documented_order():
    """Every node with more than one child: w = nominal x U(1 - p, 1 + p), rescaled to sum to 1; one Generator
    seeded with `seed`, draws in the order impute, normalise, aggregate, then the nodes children first. A node with
    one child has nothing to perturb (its weight is 1) and draws nothing."""
    spec = parse_spec_text(TREE + "uncertainty: {weights: {perturb: 0.2}}\n")
    result = run_sensitivity(TREE_FRAME, spec, runs=4, seed=3)
    assert list(result.runs.columns) == ["run", "seed", "w:d1:a", "w:d1:b", "w:r:d1", "w:r:d2"]
    rng = np.random.default_rng(3)
    rng.integers(0, 1, 4)  # impute: one option (the nominal) is still drawn, first
    # nothing to draw for normalise and aggregate; nodes in the order d1, d2 (one child: skipped), r
    u_d1 = rng.uniform(0.8, 1.2, size=(4, 2))
    u_r = rng.uniform(0.8, 1.2, size=(4, 2))
    w_d1 = np.array([0.75, 0.25]) * u_d1  # nominal 3:1 = 0.75, 0.25
    w_r = np.array([0.5, 0.5]) * u_r
    np.testing.assert_allclose(result.runs[["w:d1:a", "w:d1:b"]], w_d1 / w_d1.sum(axis=1, keepdims=True),
                               rtol=1e-15)
    np.testing.assert_allclose(result.runs[["w:r:d1", "w:r:d2"]], w_r / w_r.sum(axis=1, keepdims=True), rtol=1e-15)
    # a/b = 3 U1/U2 lies in [3 x 0.8/1.2, 3 x 1.2/0.8] = [2, 4.5]
    assert (result.runs["w:d1:a"] / result.runs["w:d1:b"]).between(2, 4.5).all()


@pytest.mark.parametrize(("perturb", "perturbed"), [(0, False), (0.01, True)])
def test_a_perturbation_of_zero_leaves_the_nominal_weights(perturb, perturbed):
    """perturb must be in [0, 1) (the spec refuses below 0): at 0 no weight is drawn or recorded, above it every
    node with two or more children gets its weights drawn."""
    spec = parse_spec_text(TREE + f"uncertainty: {{weights: {{perturb: {perturb}}}}}\n")
    result = run_sensitivity(TREE_FRAME, spec, runs=3, seed=0)
    columns = ["w:d1:a", "w:d1:b", "w:r:d1", "w:r:d2"] if perturbed else []
    assert list(result.runs.columns) == ["run", "seed", *columns]
    # nominal: a = 0 .5 1, b = 1 0 .5, c = .5 1 0; d1 = .75a + .25b = .25 .375 .875; r = (d1 + c)/2 =
    # .375 .6875 .4375 -> ranks 3 1 2 (a 1% perturbation cannot reorder gaps this wide)
    assert (result.ranks == np.array([3, 1, 2])).all()


# -- which choices vary the scores ---------------------------------------------------------------------------------

def test_a_varied_imputation_alone_changes_the_scores():
    """One indicator, one imputation list and nothing else varied: each run still uses the imputation it drew."""
    spec = parse_spec_text("""\
id: r
unit: u
indicators:
  - {id: a, direction: 1}
nodes:
  - {id: r, children: [a]}
missing: {impute: none}
uncertainty: {impute: [nominal, mean]}
""")
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0.0, 10.0, None]})
    result = run_sensitivity(frame, spec, runs=12, seed=0)
    # none (the nominal): U3 has no score -> ranks 2 1 -; mean: U3 gets (0 + 10)/2 = 5 -> a = 0 1 .5 -> ranks 3 1 2
    assert ranks_by_choice(result, "impute") == {"none": {(2, 1, None)}, "mean": {(3, 1, 2)}}
    nominal = result.summary["nominal_rank"]
    assert nominal.iloc[:2].tolist() == [2, 1] and pd.isna(nominal.iloc[2])


NORMALISE_FRAME = pd.DataFrame({"u": ["U1", "U2", "U3", "U4"], "a": [0, 1, 2, 10], "b": [8, 0, 1, 10]})


def test_a_varied_normalisation_alone_changes_the_scores():
    spec = parse_spec_text(TWO + "uncertainty: {normalise: [nominal, rank]}\n")
    result = run_sensitivity(NORMALISE_FRAME, spec, runs=12, seed=0)
    # minmax: a = 0 .1 .2 1, b = .8 0 .1 1 -> r = .4 .05 .15 1 -> ranks 2 4 3 1
    # rank (a/N): a = 1/4 2/4 3/4 1, b = 3/4 1/4 2/4 1 -> r = .5 .375 .625 1 -> ranks 3 4 2 1
    assert ranks_by_choice(result, "normalise") == {"nominal": {(2, 4, 3, 1)}, "rank": {(3, 4, 2, 1)}}


def test_both_aggregates_of_a_list_are_drawn():
    spec = parse_spec_text(TWO + "uncertainty: {aggregate: {r: [nominal, geometric]}}\n")
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0, 5, 10], "b": [10, 5, 0]})
    result = run_sensitivity(frame, spec, runs=20, seed=0)
    # a = 0 .5 1, b = 1 .5 0. arithmetic: .5 .5 .5 -> all first; geometric with the floor 0.01:
    # sqrt(.01 x 1) = .1, sqrt(.5 x .5) = .5, .1 -> ranks 2 1 2
    assert ranks_by_choice(result, "aggregate:r") == {"arithmetic": {(1, 1, 1)}, "geometric": {(2, 1, 2)}}


def test_per_indicator_normalisations_are_labelled_and_used():
    """A per-indicator list: `nominal` is written as the indicator's own method, parameters that differ from the
    method's defaults in brackets (required ones always); indicators without a list keep their method."""
    spec = parse_spec_text(TWO + """\
uncertainty:
  normalise:
    a: [nominal, {method: goalposts, min: 0, max: 50}, {method: distance_to_target, target: 8},
        {method: distance_to_target, target: 8, cap: false}, {method: exponential_rank, constant: 23},
        {method: exponential_rank, constant: 10}]
""")
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0, 5, 10], "b": [10, 5, 0]})
    result = run_sensitivity(frame, spec, runs=40, seed=0)
    assert list(result.runs.columns) == ["run", "seed", "normalise:a"]
    by_choice = ranks_by_choice(result, "normalise:a")
    assert set(by_choice) == {"minmax", "goalposts(min=0, max=50)", "distance_to_target(target=8)",
                              "distance_to_target(cap=False, target=8)", "exponential_rank",
                              "exponential_rank(constant=10)"}
    # b is always minmax: 1 .5 0. a by minmax: 0 .5 1 -> r = .5 .5 .5 -> 1 1 1
    assert by_choice["minmax"] == {(1, 1, 1)}
    # goalposts [0, 50]: a = 0 .1 .2 -> r = .5 .3 .1 -> 1 2 3
    assert by_choice["goalposts(min=0, max=50)"] == {(1, 2, 3)}
    # distance to target 8 from the minimum 0: a/8 = 0 .625 1.25, capped at 1 -> r = .5 .5625 .5 -> 2 1 2
    assert by_choice["distance_to_target(target=8)"] == {(2, 1, 2)}
    # uncapped: 0 .625 1.25 -> r = .5 .5625 .625 -> 3 2 1
    assert by_choice["distance_to_target(cap=False, target=8)"] == {(3, 2, 1)}


# -- ranks are taken on the reported scores -------------------------------------------------------------------------

# Two values one floating-point step apart that become one reported score at scale 100 (but not at 1/100).
X = 0.6415707853926963
Y = float(np.nextafter(X, 1))
GOALPOSTS = "normalise: {method: goalposts, min: 0, max: 1}"  # the score is the value itself, exactly


def test_premise_the_two_values_tie_only_after_scaling():
    assert X < Y and X * 100 == Y * 100 and X / 100 != Y / 100


def test_units_tied_on_the_reported_score_share_their_rank_in_every_run():
    """Ranks are taken on score x scale, as compute_index takes them: X and Y, distinct internally, report the same
    score at scale 100, so they share rank 1 in the nominal ranking and in every run."""
    spec = parse_spec_text(f"""\
id: r
unit: u
indicators:
  - {{id: a, direction: 1, {GOALPOSTS}}}
nodes:
  - {{id: r, children: [a]}}
""")
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [X, Y, 0.1]})
    result = run_sensitivity(frame, spec, runs=3, seed=0)
    assert compute_index(frame, spec)["rank"].tolist() == [1, 1, 3]
    assert result.summary["nominal_rank"].tolist() == [1, 1, 3]
    assert (result.ranks == np.array([1, 1, 3])).all()


def test_drop_one_shifts_are_taken_on_the_reported_scores():
    spec = parse_spec_text(f"""\
id: r
unit: u
indicators:
  - {{id: a, direction: 1, {GOALPOSTS}}}
  - {{id: b, direction: 1, {GOALPOSTS}}}
nodes:
  - {{id: r, children: [a, b]}}
""")
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [X, Y, 0.1], "b": [0.0, 1.0, 0.5]})
    s = run_sensitivity(frame, spec, runs=2, seed=0).summary
    # nominal r = (a + b)/2: .32 .82 .3 -> ranks 2 1 3
    assert s["nominal_rank"].tolist() == [2, 1, 3]
    # without b: r = a -> X and Y report the same score (x 100): ranks 1 1 3 -> shifts -1 0 0
    assert s["shift_without_b"].tolist() == [-1, 0, 0]
    # without a: r = b = 0 1 .5 -> ranks 3 1 2 -> shifts +1 0 -1
    assert s["shift_without_a"].tolist() == [1, 0, -1]


# -- batching and defaults -----------------------------------------------------------------------------------------

def test_batches_of_runs_give_the_same_result_as_one_batch():
    spec = parse_spec_text(TWO + "uncertainty: {normalise: [nominal, rank], weights: {perturb: 0.5}}\n")
    whole = run_sensitivity(NORMALISE_FRAME, spec, runs=7, seed=1)
    # 8 cells per run (4 units x 2 indicators): 16 cells -> batches of 2 runs (2, 2, 2, 1); 1 cell -> 1 run each
    for cells in (16, 1):
        batched = run_sensitivity(NORMALISE_FRAME, spec, runs=7, seed=1, batch_cells=cells)
        assert np.array_equal(batched.ranks, whole.ranks, equal_nan=True)
        assert batched.summary.equals(whole.summary)


def test_the_defaults_are_the_clis_1000_runs_with_seed_0():
    """`bienestar index sensitivity` defaults to --runs 1000 --seed 0; the function has the same defaults."""
    spec = parse_spec_text(TWO + "uncertainty: {weights: {perturb: 0.5}}\n")
    default = run_sensitivity(NORMALISE_FRAME, spec)
    assert len(default.runs) == 1000 and default.ranks.shape == (1000, 4)
    assert (default.runs["seed"] == 0).all()
    explicit = run_sensitivity(NORMALISE_FRAME, spec, runs=1000, seed=0)
    assert default.runs.equals(explicit.runs)


# -- quantiles (numpy's "linear", R type 7: h = (n - 1) q, interpolate between the h-th and next order statistic)

def test_quantiles_interpolate_up_to_the_last_value():
    values = np.array([[1.0], [2.0], [3.0], [4.0]])
    # h = 3 x 0.5 = 1.5: 2 + 0.5 x (3 - 2) = 2.5; h = 3 x 0.95 = 2.85: 3 + 0.85 x (4 - 3) = 3.85;
    # q = 1: h = 3, the maximum; q = 0: the minimum
    assert column_quantiles(values, 0.5)[0] == 2.5
    assert column_quantiles(values, 0.95)[0] == pytest.approx(3.85)
    assert column_quantiles(values, 1.0)[0] == 4.0
    assert column_quantiles(values, 0.0)[0] == 1.0


@pytest.mark.parametrize("q", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_a_column_with_one_value_has_that_value_at_every_quantile(q):
    # columns: one value and two NaN (NaN are left out: n = 1, h = 0); no value at all -> NaN
    values = np.array([[7.0, np.nan], [np.nan, np.nan], [np.nan, np.nan]])
    out = column_quantiles(values, q)
    assert out[0] == 7.0
    assert np.isnan(out[1])
