"""Imputation of missing raw indicator values, before transforms and normalisation (COINr's order).

`none` leaves gaps for the nodes' `min_share` rule to judge; `mean` fills an indicator's gaps with its mean over the
units that have it; `group_mean` with the mean of the unit's group (a column of the input, e.g. the district of a
zone). A group with no value at all stays missing: inventing a value from other groups would hide the gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

IMPUTATIONS = ("none", "mean", "group_mean")


def impute_mean(x: np.ndarray) -> np.ndarray:
    """Fill each column's NaN with that column's mean; an all-missing column stays missing."""
    x = np.asarray(x, dtype=float)
    filled = x.copy()
    with np.errstate(invalid="ignore"):
        counts = (~np.isnan(x)).sum(axis=0)
        means = np.where(counts > 0, np.nansum(x, axis=0) / np.maximum(counts, 1), np.nan)
    rows, cols = np.nonzero(np.isnan(x))
    filled[rows, cols] = means[cols]
    return filled


def impute_group_mean(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Fill each NaN with the mean of its column over the units of the same group; a missing group fills nothing."""
    x = np.asarray(x, dtype=float)
    frame = pd.DataFrame(x)
    keys = pd.Series(groups)
    means = frame.groupby(keys.to_numpy(), dropna=True).transform("mean").to_numpy(dtype=float, copy=True)
    # Units without a group get no group mean (groupby drops them): leave their gaps.
    means[keys.isna().to_numpy()] = np.nan
    return np.where(np.isnan(x), means, x)


def impute_values(x: np.ndarray, method: str, groups: np.ndarray | None = None) -> np.ndarray:
    """Impute the (units x indicators) matrix `x` with `method` (none | mean | group_mean)."""
    if method == "none":
        return np.asarray(x, dtype=float)
    if method == "mean":
        return impute_mean(x)
    if method == "group_mean":
        if groups is None:
            raise ValueError("group_mean needs the group column (missing: {impute: group_mean, group: COLUMN})")
        return impute_group_mean(x, groups)
    raise ValueError(f"unknown imputation {method!r} (known: {', '.join(IMPUTATIONS)})")
