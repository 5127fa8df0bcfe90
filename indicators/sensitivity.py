"""Monte Carlo uncertainty of ranks over the choices a spec declares under `uncertainty:` (docs/indices.md).

Each run draws, independently and uniformly, one entry of every list (`impute`, `normalise`, `aggregate`; `nominal`
is the spec's own choice) and multiplies every weight of every node by U(1 - p, 1 + p) (`weights: {perturb: p}`),
rescaling each node's weights to sum to 1. All draws come from one numpy Generator seeded with `seed`, in a fixed
order, so the same spec, data and seed give the same output, byte for byte.

Per unit: the nominal rank, the median and the 5th and 95th percentile ranks over the runs (numpy's default
linear interpolation, R's type 7 as COINr uses), and the rank shift when each indicator and each non-root node is
dropped (its weight set to 0, the siblings' weights rescaled; a node left with no weight is dropped from its
parent in turn). Shift = rank without it - nominal rank: positive means the unit falls.

Vectorised: the indicator scores of every imputation x normalisation choice are computed once, runs are
evaluated in batches through evaluate_tree, and ranks come from one min_rank call per batch.

Alkire-Foster hook: a spec may not yet vary the Alkire-Foster cutoff k (`uncertainty: {af_k: ...}` is refused),
because the engine has no alkire_foster node; when one exists, draw k here beside the aggregates and pass it to
the node the way `aggregates` reaches evaluate_tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from indicators.aggregate import Tree, evaluate_tree
from indicators.engine import as_spec, compile_tree, group_values, read_indicator_matrix, score_indicators
from indicators.index_spec import (
    NOMINAL,
    IndexSpec,
    aggregate_alternatives,
    normalisation_alternatives,
)
from indicators.normalise import PARAMETERS, method_settings
from indicators.ranking import min_rank

# Indicator-score cells per batch of runs (runs x units x indicators): about 32 MB of float64.
BATCH_CELLS = 4_000_000


@dataclass(frozen=True)
class SensitivityResult:
    """What a sensitivity analysis returns: per-unit summary, per-run parameters and per-run ranks."""

    summary: pd.DataFrame
    runs: pd.DataFrame
    unit_ids: np.ndarray
    ranks: np.ndarray = field(repr=False)  # runs x units, NaN where a unit had no score

    def ranks_frame(self, unit: str) -> pd.DataFrame:
        """One row per unit, one column per run (r1, r2, ...): join with `runs` on the run number."""
        data = {unit: self.unit_ids}
        data.update({f"r{k + 1}": pd.array(self.ranks[k], dtype="Float64").astype("Int64")
                     for k in range(self.ranks.shape[0])})
        return pd.DataFrame(data)


def _label(option: Any) -> str:
    """How a choice is written in the runs table: `nominal`, a method name, or method(param=value, ...)."""
    if isinstance(option, str):
        return option
    settings = method_settings(option)
    defaults = PARAMETERS.get(settings["method"], ((), {}))[1]
    params = [f"{k}={v}" for k, v in settings.items() if k != "method" and defaults.get(k, object()) != v]
    return f"{settings['method']}({', '.join(params)})" if params else settings["method"]


@dataclass(frozen=True)
class Draws:
    """Every run's choices: list positions into each parameter's options, and perturbed weights."""

    impute: np.ndarray  # (R,) index into impute options
    normalise: dict[str | None, np.ndarray]  # parameter (None = all indicators) -> (R,) index
    aggregate: dict[str | None, np.ndarray]  # parameter (None = all nodes) -> (R,) index
    weights: dict[str, np.ndarray]  # node -> (R, C), rows summing to 1


def draw_runs(spec: IndexSpec, tree: Tree, runs: int, seed: int) -> Draws:
    """Draw every run's choices, always in the same order: impute, normalise, aggregate, then weights."""
    rng = np.random.default_rng(seed)
    u = spec.uncertainty
    impute_list = u.get("impute") or [NOMINAL]
    impute = rng.integers(0, len(impute_list), runs)
    norm_entry = u.get("normalise")
    norm_lists = {None: norm_entry} if isinstance(norm_entry, list) else dict(norm_entry or {})
    normalise = {key: rng.integers(0, len(options), runs) for key, options in norm_lists.items()}
    agg_entry = u.get("aggregate")
    agg_lists = {None: agg_entry} if isinstance(agg_entry, list) else dict(agg_entry or {})
    aggregate = {key: rng.integers(0, len(options), runs) for key, options in agg_lists.items()}
    p = float((u.get("weights") or {}).get("perturb", 0.0))
    weights: dict[str, np.ndarray] = {}
    for node in tree.order:
        nominal = tree.weights[node]
        if p > 0 and nominal.size > 1:
            w = nominal * rng.uniform(1 - p, 1 + p, size=(runs, nominal.size))
            weights[node] = w / w.sum(axis=1, keepdims=True)
    return Draws(impute, normalise, aggregate, weights)


def runs_table(spec: IndexSpec, tree: Tree, draws: Draws, seed: int) -> pd.DataFrame:
    """One row per run with every choice it made: what the user reads to see which choice moved a unit."""
    runs = len(draws.impute)
    table: dict[str, Any] = {"run": np.arange(1, runs + 1), "seed": np.full(runs, seed)}
    u = spec.uncertainty
    # `nominal` is written as what it stands for wherever that is one thing (not under a list for every entry).
    if u.get("impute"):
        options = [spec.missing["impute"] if o == NOMINAL else o for o in u["impute"]]
        table["impute"] = [options[k] for k in draws.impute]
    for key, picks in draws.normalise.items():
        options = u["normalise"] if key is None else u["normalise"][key]
        if key is not None:
            options = [spec.normalisation(key) if o == NOMINAL else o for o in options]
        table["normalise" if key is None else f"normalise:{key}"] = [_label(options[k]) for k in picks]
    for key, picks in draws.aggregate.items():
        options = u["aggregate"] if key is None else u["aggregate"][key]
        if key is not None:
            options = [spec.aggregate(key) if o == NOMINAL else o for o in options]
        table["aggregate" if key is None else f"aggregate:{key}"] = [_label(options[k]) for k in picks]
    for node, w in draws.weights.items():
        for c, child in enumerate(tree.children[node]):
            table[f"w:{node}:{child}"] = w[:, c]
    return pd.DataFrame(table)


def _score_bank(raw: np.ndarray, spec: IndexSpec, groups: np.ndarray | None,
                unit_ids: pd.Series) -> tuple[np.ndarray, list[list[Any]]]:
    """Indicator scores for every imputation choice and every normalisation choice, computed once.

    Returns bank (imputations, indicators, normalisation options, units) and, per indicator, its options as
    written; option 0 of a parameter is its first list entry, so a run's index picks the same entry for every
    indicator under a global list.
    """
    impute_list = spec.uncertainty.get("impute") or [NOMINAL]
    imputations = [spec.missing["impute"] if m == NOMINAL else m for m in impute_list]
    per_indicator = [normalisation_alternatives(spec, i) or [NOMINAL] for i in spec.indicator_ids]
    width = max(len(options) for options in per_indicator)
    bank = np.full((len(imputations), len(spec.indicator_ids), width, raw.shape[0]), np.nan)
    for m, method in enumerate(imputations):
        for k in range(width):
            chosen = [spec.normalisation(i) if k >= len(o) or o[k] == NOMINAL else method_settings(o[k])
                      for i, o in zip(spec.indicator_ids, per_indicator, strict=True)]
            bank[m, :, k, :] = score_indicators(raw, spec, method, groups, chosen, unit_ids).T
    return bank, per_indicator


def _normalise_picks(spec: IndexSpec, draws: Draws, runs: int) -> np.ndarray:
    """(R, I): each run's option index for each indicator."""
    picks = np.zeros((runs, len(spec.indicator_ids)), dtype=int)
    for key, chosen in draws.normalise.items():
        if key is None:
            picks[:] = chosen[:, None]
        else:
            picks[:, spec.indicator_ids.index(key)] = chosen
    return picks


def _aggregate_choices(spec: IndexSpec, tree: Tree, draws: Draws) -> dict[str, np.ndarray]:
    """Node -> (R,) aggregate names, for the nodes whose aggregate varies."""
    out: dict[str, np.ndarray] = {}
    for node in tree.order:
        key = None if None in draws.aggregate else node
        if key not in draws.aggregate:
            continue
        options = [tree.aggregates[node] if o == NOMINAL else o for o in aggregate_alternatives(spec, node)]
        out[node] = np.array(options, dtype=object)[draws.aggregate[key]].astype(str)
    return out


def column_quantiles(values: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (0..1) of every column ignoring NaN, numpy's default "linear" rule (R type 7): one sort for
    all columns instead of nanpercentile's column-by-column loop. An all-NaN column gives NaN."""
    ordered = np.sort(values, axis=0)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=0)
    h = (np.maximum(count, 1) - 1) * q
    low = np.floor(h).astype(int)
    high = np.minimum(low + 1, np.maximum(count - 1, 0))
    cols = np.arange(values.shape[1])
    out = ordered[low, cols] + (h - low) * (ordered[high, cols] - ordered[low, cols])
    return np.where(count > 0, out, np.nan)


def _drop_weights(tree: Tree, dropped: list[str]) -> dict[str, np.ndarray]:
    """Node -> (D, C) weights where row d gives `dropped[d]` weight 0, propagating nodes left with no weight."""
    parent = {child: node for node in tree.order for child in tree.children[node]}
    weights = {node: np.tile(tree.weights[node], (len(dropped), 1)) for node in tree.order}
    for d, entry in enumerate(dropped):
        weights[parent[entry]][d, tree.children[parent[entry]].index(entry)] = 0.0
    for node in tree.order[:-1]:
        empty = weights[node].sum(axis=1) == 0
        weights[parent[node]][empty, tree.children[parent[node]].index(node)] = 0.0
    return weights


def run_sensitivity(frame: pd.DataFrame, spec: IndexSpec | dict, runs: int = 1000, seed: int = 0,
                    batch_cells: int = BATCH_CELLS) -> SensitivityResult:
    """Monte Carlo over the spec's `uncertainty:` choices, plus the drop-one shifts; see the module docstring."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    spec = as_spec(spec)
    tree = compile_tree(spec)
    raw = read_indicator_matrix(frame, spec)
    unit_ids = frame[spec.unit]
    needs_groups = "group_mean" in [spec.missing["impute"], *(spec.uncertainty.get("impute") or [])]
    groups = group_values(frame, spec) if needs_groups else None
    nominal_scores = score_indicators(raw, spec, spec.missing["impute"], groups, unit_ids=unit_ids)
    # Ranks are taken on the reported scores (x scale), exactly as compute_index ranks them.
    nominal_rank = min_rank(evaluate_tree(nominal_scores, tree)[tree.root] * spec.scale)

    draws = draw_runs(spec, tree, runs, seed)
    bank, _ = _score_bank(raw, spec, groups, unit_ids)
    picks = _normalise_picks(spec, draws, runs)
    methods = _aggregate_choices(spec, tree, draws)
    varied_scores = bank.shape[0] > 1 or bank.shape[2] > 1
    n_units, n_indicators = raw.shape
    batch = max(1, batch_cells // max(1, n_units * n_indicators))
    ranks = np.empty((runs, n_units))
    columns = np.arange(n_indicators)
    for start in range(0, runs, batch):
        part = slice(start, min(start + batch, runs))
        if varied_scores:
            scores = bank[draws.impute[part][:, None], columns[None, :], picks[part]].transpose(0, 2, 1)
        else:
            scores = nominal_scores
        root = evaluate_tree(scores, tree, {n: w[part] for n, w in draws.weights.items()},
                             {n: m[part] for n, m in methods.items()})[tree.root]
        ranks[part] = min_rank(np.broadcast_to(root * spec.scale, (part.stop - part.start, n_units)))

    dropped = [*tree.indicators, *tree.order[:-1]]
    drop_root = evaluate_tree(nominal_scores, tree, _drop_weights(tree, dropped))[tree.root]
    shifts = min_rank(np.broadcast_to(drop_root * spec.scale, (len(dropped), n_units))) - nominal_rank
    summary = pd.DataFrame({
        spec.unit: unit_ids.to_numpy(),
        "nominal_rank": pd.array(nominal_rank, dtype="Float64").astype("Int64"),
        "median_rank": column_quantiles(ranks, 0.5),
        "p05_rank": column_quantiles(ranks, 0.05),
        "p95_rank": column_quantiles(ranks, 0.95),
    })
    for d, entry in enumerate(dropped):
        summary[f"shift_without_{entry}"] = pd.array(shifts[d], dtype="Float64").astype("Int64")
    return SensitivityResult(summary, runs_table(spec, tree, draws, seed), unit_ids.to_numpy(), ranks)
