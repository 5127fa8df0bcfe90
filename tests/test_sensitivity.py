"""Monte Carlo sensitivity: determinism, sanity, the weight rule, drop-one shifts by hand, and a run record
faithful enough to rebuild every run with compute_index."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.engine import compute_index, load_spec, parse_spec_text
from indicators.sensitivity import column_quantiles, run_sensitivity

EXAMPLES = Path(__file__).resolve().parents[1] / "indicators" / "examples"


@pytest.fixture(scope="module")
def example():
    return pd.read_csv(EXAMPLES / "neighbourhoods.csv"), load_spec(EXAMPLES / "neighbourhoods.yaml")


def test_same_seed_same_output_other_seed_other_draws(example):
    frame, spec = example
    first = run_sensitivity(frame, spec, runs=200, seed=11)
    again = run_sensitivity(frame, spec, runs=200, seed=11)
    assert first.summary.to_csv(index=False) == again.summary.to_csv(index=False)
    assert first.runs.to_csv(index=False) == again.runs.to_csv(index=False)
    assert np.array_equal(first.ranks, again.ranks)
    other = run_sensitivity(frame, spec, runs=200, seed=12)
    assert other.runs.to_csv(index=False) != first.runs.to_csv(index=False)


def test_nominal_rank_is_compute_index_rank(example):
    frame, spec = example
    result = run_sensitivity(frame, spec, runs=50, seed=1)
    assert result.summary["nominal_rank"].tolist() == compute_index(frame, spec)["rank"].tolist()
    assert list(result.summary.columns[:5]) == ["area_id", "nominal_rank", "median_rank", "p05_rank", "p95_rank"]


def test_a_unit_first_on_every_indicator_is_always_first(example):
    frame, spec = example
    frame = frame.copy()
    # Z03 already leads most indicators; make it strictly best on all (lower is better except the two rates)
    best = {c: frame[c].min() - 0.1 for c in ["no_piped_water", "no_sanitation", "no_electricity", "overcrowding",
                                             "illiteracy", "pm25_mean", "police_report_rate"]}
    best.update(school_attendance=99.5, health_insurance=90.0)
    for column, value in best.items():
        frame.loc[2, column] = value
    result = run_sensitivity(frame, spec, runs=300, seed=5)
    top = result.summary.set_index("area_id").loc["Z03"]
    # under every normalisation, weight draw, aggregate and imputation it scores highest
    assert (top["nominal_rank"], top["median_rank"], top["p05_rank"], top["p95_rank"]) == (1, 1.0, 1.0, 1.0)
    assert (result.ranks[:, 2] == 1).all()


def test_weights_follow_the_stated_rule(example):
    frame, spec = example
    result = run_sensitivity(frame, spec, runs=400, seed=2)
    w = result.runs[["w:services:no_piped_water", "w:services:no_sanitation", "w:services:no_electricity"]]
    # rescaled within the node: every run's weights sum to 1
    assert np.allclose(w.sum(axis=1), 1.0)
    # nominal 2:2:1 and p = 0.25: water/electricity = (2 f1)/(1 f3) lies in [2 * .75/1.25, 2 * 1.25/.75] = [1.2, 3.33]
    ratio = w["w:services:no_piped_water"] / w["w:services:no_electricity"]
    assert ratio.between(1.2, 2 * 1.25 / 0.75).all() and ratio.min() < 1.4 and ratio.max() > 3.0
    # each listed choice is drawn about evenly (1/3 each for normalise: nominal, rank, percentile_rank)
    shares = result.runs["normalise"].value_counts(normalize=True)
    assert set(shares.index) == {"nominal", "rank", "percentile_rank"} and shares.between(0.28, 0.39).all()


def test_every_run_can_be_rebuilt_from_its_record(example):
    frame, spec = example
    result = run_sensitivity(frame, spec, runs=12, seed=4)
    for k, run in result.runs.iterrows():
        data = copy.deepcopy(spec.data)
        data.pop("uncertainty")
        data["missing"]["impute"] = run["impute"]
        if run["normalise"] != "nominal":
            for entry in data["indicators"]:
                entry["normalise"] = {"method": run["normalise"]}
        nodes = {node["id"]: node for node in data["nodes"]}
        nodes["wellbeing"]["aggregate"] = run["aggregate:wellbeing"]
        for column in [c for c in run.index if c.startswith("w:")]:
            _, node, child = column.split(":")
            nodes[node].setdefault("weights", {})[child] = float(run[column])
        rebuilt = compute_index(frame, data)["rank"].to_numpy(dtype=float)
        assert np.array_equal(rebuilt, result.ranks[k]), f"run {run['run']}"


DROP_SPEC = """\
id: r
unit: u
indicators:
  - {id: a, direction: 1}
  - {id: b, direction: 1}
  - {id: c, direction: 1}
nodes:
  - {id: d1, children: [a, b]}
  - {id: d2, children: [c]}
  - {id: r, children: [d1, d2]}
uncertainty: {weights: {perturb: 0.1}}
"""


def test_drop_one_shifts_by_hand():
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0, 5, 10], "b": [10, 0, 5], "c": [4, 8, 0]})
    result = run_sensitivity(frame, parse_spec_text(DROP_SPEC), runs=10, seed=0)
    s = result.summary.set_index("u")
    # a = 0 .5 1; b = 1 0 .5; c = .5 1 0; d1 = (a+b)/2 = .5 .25 .75; d2 = c; r = (d1+d2)/2 = .5 .625 .375
    assert s["nominal_rank"].tolist() == [2, 1, 3]
    # without a: d1 = b -> r = .75 .5 .25 -> ranks 1 2 3 -> shift (rank - nominal) -1 +1 0
    assert s["shift_without_a"].tolist() == [-1, 1, 0]
    # without b: d1 = a -> r = .25 .75 .5 -> ranks 3 1 2 -> +1 0 -1
    assert s["shift_without_b"].tolist() == [1, 0, -1]
    # without c, d2 has no weight left and leaves r: r = d1 = .5 .25 .75 -> ranks 2 3 1 -> 0 +2 -2 (also min_share
    # 1 holds: a structural drop is not a missing value)
    assert s["shift_without_c"].tolist() == [0, 2, -2]
    assert s["shift_without_d2"].tolist() == [0, 2, -2]
    # without d1: r = d2 = .5 1 0 -> ranks 2 1 3, no shift
    assert s["shift_without_d1"].tolist() == [0, 0, 0]


def test_runs_without_uncertainty_repeat_the_nominal_ranks():
    spec = parse_spec_text(DROP_SPEC.replace("uncertainty: {weights: {perturb: 0.1}}\n", ""))
    frame = pd.DataFrame({"u": ["U1", "U2", "U3"], "a": [0, 5, 10], "b": [10, 0, 5], "c": [4, 8, 0]})
    result = run_sensitivity(frame, spec, runs=5, seed=0)
    assert (result.ranks == np.array([2, 1, 3])).all()
    assert list(result.runs.columns) == ["run", "seed"]
    assert result.ranks_frame("u").columns.tolist() == ["u", "r1", "r2", "r3", "r4", "r5"]


def test_column_quantiles_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 50, (101, 7)).astype(float)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, 3] = np.nan
    for q in (0.05, 0.5, 0.95):
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            expected = np.nanpercentile(values, q * 100, axis=0)
        assert np.allclose(column_quantiles(values, q), expected, equal_nan=True)
    # by hand: ranks 1, 2, 3, 4 -> median (type 7) = 2.5; 5th percentile = 1 + 0.05 * 3 = 1.15
    assert column_quantiles(np.array([[1.0], [2.0], [3.0], [4.0]]), 0.5)[0] == 2.5
    assert column_quantiles(np.array([[1.0], [2.0], [3.0], [4.0]]), 0.05)[0] == pytest.approx(1.15)
