"""Aggregation: weighted arithmetic, geometric and harmonic means of child scores, and the walk up the node tree.

Every function works on one set of weights or on a batch of runs at once (the sensitivity analysis passes a
thousand weight vectors in one call), so no Python loop runs over units or runs.

- arithmetic: sum_i w_i x_i
- geometric:  prod_i max(x_i, floor) ^ w_i
- harmonic:   1 / sum_i (w_i / max(x_i, floor))

with the weights of the children present for the unit rescaled to sum to 1. A unit whose present children carry
less than `min_share` of the node's weight gets no score. Scores are in the internal unit (1 = top); the floor
(default 0.01, i.e. 1% of the scale) keeps one zero from zeroing a geometric or harmonic mean (docs/indices.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Shares are sums of float weights: allow rounding when comparing with min_share.
SHARE_TOLERANCE = 1e-12


def aggregate_scores(children: np.ndarray, weights: np.ndarray, method: str, min_share: float = 1.0,
                     floor: float = 0.01) -> np.ndarray:
    """Aggregate child scores (..., units, children) with weights (..., children).

    children (N, C) with weights (C,) gives (N,); a leading run axis on either, (R, N, C) or (R, C), gives (R, N).
    Weights need not sum to 1; a zero weight removes a child (it counts neither for the score nor for min_share).
    """
    x = np.asarray(children, dtype=float)
    w = np.asarray(weights, dtype=float)
    batched = x.ndim == 3 or w.ndim == 2
    x3 = x if x.ndim == 3 else x[None]
    w2 = w if w.ndim == 2 else w[None]
    present = ~np.isnan(x3)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "arithmetic":
            values = x3
        elif method == "geometric":
            values = np.log(np.maximum(x3, floor))
        elif method == "harmonic":
            values = 1.0 / np.maximum(x3, floor)
        else:
            raise ValueError(f"unknown aggregate {method!r} (known: arithmetic, geometric, harmonic)")
        total = w2.sum(axis=-1)
        finite = method == "arithmetic" or floor > 0 or bool((x3[present] > 0).all())
        if present.all() and finite:
            # No gaps: one matrix product per batch, weights rescaled once.
            out = np.matmul(values, (w2 / total[:, None])[..., None])[..., 0]
        else:
            wp = np.where(present, w2[:, None, :], 0.0)
            kept = wp.sum(axis=-1)
            share = kept / total[:, None]
            out = (np.where(wp > 0, values, 0.0) * wp).sum(axis=-1) / kept
            out = np.where(share < min_share - SHARE_TOLERANCE, np.nan, out)
        if method == "geometric":
            out = np.exp(out)
        elif method == "harmonic":
            out = 1.0 / out
    return out if batched else out[0]


def aggregate(children: pd.DataFrame, weights: pd.Series, method: str, min_share: float,
              floor: float = 0.01) -> pd.Series:
    """aggregate_scores on a DataFrame of child scores (one column per child) with weights indexed by child."""
    w = weights.reindex(children.columns).to_numpy(dtype=float)
    x = children.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(aggregate_scores(x, w, method, min_share, floor), index=children.index)


@dataclass(frozen=True)
class Tree:
    """The node tree in arrays: what evaluate_tree needs, without the spec."""

    indicators: tuple[str, ...]  # column order of the indicator score matrix
    order: tuple[str, ...]  # nodes, children first, root last
    children: dict[str, tuple[str, ...]]
    weights: dict[str, np.ndarray]  # nominal, summing to 1
    aggregates: dict[str, str]
    floors: dict[str, float]
    min_share: float
    totals: dict[str, float] | None = None  # weighted mean x total (rescale: false); None: all 1

    @property
    def root(self) -> str:
        return self.order[-1]


def evaluate_tree(scores: np.ndarray, tree: Tree, weights: dict[str, np.ndarray] | None = None,
                  aggregates: dict[str, str | np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Score every node from the indicator scores (N, I), or from a batch (R, N, I).

    `weights` overrides a node's weights, one vector (C,) or one per run (R, C); `aggregates` overrides its
    method, one name or one per run (an array of R names). Returns node id -> (N,) or (R, N) scores.
    """
    weights = weights or {}
    aggregates = aggregates or {}
    column = {indicator: i for i, indicator in enumerate(tree.indicators)}
    out: dict[str, np.ndarray] = {}
    for node in tree.order:
        parts = [out[c] if c in out else scores[..., column[c]] for c in tree.children[node]]
        children = np.stack(np.broadcast_arrays(*parts), axis=-1)
        w = weights.get(node, tree.weights[node])
        method = aggregates.get(node, tree.aggregates[node])
        total = (tree.totals or {}).get(node, 1.0)
        if isinstance(method, str):
            out[node] = aggregate_scores(children, w, method, tree.min_share, tree.floors[node]) * total
            continue
        runs = len(method)
        w = np.broadcast_to(w, (runs, w.shape[-1]))
        result = np.full((runs, children.shape[-2]), np.nan)
        for name in np.unique(method):
            pick = method == name
            sub = children[pick] if children.ndim == 3 else children
            result[pick] = aggregate_scores(sub, w[pick], str(name), tree.min_share, tree.floors[node])
        out[node] = result * total
    return out
