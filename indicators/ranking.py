"""Ranks and quantiles: 1 = highest score, ties share the lowest rank number, no score no rank.

`min_rank` ranks along the last axis of any array at once, so the sensitivity analysis ranks a thousand runs in
one call; it gives what pandas' rank(method="min") gives row by row.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def min_rank(values: np.ndarray, descending: bool = True) -> np.ndarray:
    """Rank along the last axis with ties sharing the lowest rank number ("sport" ranking); NaN stays NaN.

    descending=True: 1 = highest value. descending=False: 1 = lowest value.
    """
    v = np.asarray(values, dtype=float)
    keys = -v if descending else v
    missing = np.isnan(keys)
    # NaN sorts last, so present values take positions 0..k-1 of each row.
    order = np.argsort(keys, axis=-1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=-1)
    position = np.broadcast_to(np.arange(v.shape[-1]), v.shape)
    starts = np.ones(v.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    # Each position takes the rank of the first position of its run of equal values.
    rank_sorted = np.maximum.accumulate(np.where(starts, position + 1, 0), axis=-1).astype(float)
    ranks = np.empty(v.shape, dtype=float)
    np.put_along_axis(ranks, order, rank_sorted, axis=-1)
    ranks[missing] = np.nan
    return ranks


def rank_scores(score: pd.Series) -> pd.Series:
    """1 = highest score; ties share the lowest rank; no score, no rank (Int64)."""
    ranks = min_rank(score.to_numpy(dtype=float, na_value=np.nan))
    return pd.Series(ranks, index=score.index).astype("Int64")


def quantiles(rank: pd.Series, q: int) -> pd.Series:
    """Quantile 1 holds rank 1: ceil(rank * q / N) with N the number of ranked units."""
    n = int(rank.notna().sum())
    return rank.map(lambda r: pd.NA if pd.isna(r) else math.ceil(r * q / n)).astype("Int64")
