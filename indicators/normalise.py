"""Normalisation of one indicator: raw values to scores where higher is better after `direction`.

Every normaliser takes a 1-D float array (NaN = missing, which stays missing) and the direction (1: a higher raw
value is better, -1: lower is better) and returns the score in the engine's internal unit, where 1 is the top of
the index scale (node scores are internal x `scale`). Bounded methods give 0..1; `zscore` (standard deviations)
and `nbi_gap` (share of the norm) are unbounded and may be negative, so the spec check keeps them out of
geometric and harmonic means. Formulas and sources: docs/indices.md ("Normalisations").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from indicators.ranking import min_rank
from indicators.transform import DomainError

# method -> (required parameters, optional parameters with defaults)
PARAMETERS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "minmax": ((), {}),
    "zscore": ((), {}),
    "goalposts": (("min", "max"), {}),
    "rank": ((), {}),
    "percentile_rank": ((), {}),
    "distance_to_target": (("target",), {"cap": True}),
    # 23 is the constant of the English Indices of Deprivation (and the Scottish IoD 2003, Appendix 5:
    # "The constant (23) determines that ten percent of wards have a score higher than 50").
    "exponential_rank": ((), {"constant": 23.0, "n": None}),
    "nbi_gap": (("norm",), {}),
}
NORMALISATIONS = tuple(PARAMETERS)
# Parameters given in the indicator's raw units: a transform (log, log1p) is applied to them too.
RAW_UNIT_PARAMETERS = {"goalposts": ("min", "max"), "distance_to_target": ("target",), "nbi_gap": ("norm",)}
# Methods whose scores can be negative: refused under geometric and harmonic means.
UNBOUNDED = ("zscore", "nbi_gap")
# Methods with parameters that only make sense for one indicator: not allowed in a global alternatives list.
INDICATOR_SPECIFIC = ("goalposts", "distance_to_target", "nbi_gap")


def method_settings(entry: Any) -> dict[str, Any]:
    """The canonical form of a `normalise:` entry: a dict with `method` and every parameter (defaults filled in).

    `normalise: rank` is short for `normalise: {method: rank}`; no entry means minmax.
    """
    if entry is None:
        return {"method": "minmax"}
    settings = {"method": entry} if isinstance(entry, str) else dict(entry)
    settings.setdefault("method", "minmax")
    _, optional = PARAMETERS.get(settings["method"], ((), {}))
    return {**optional, **settings}


def _present(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def minmax(x: np.ndarray, direction: int) -> np.ndarray:
    """(x - min) / (max - min), reversed for direction -1; a constant indicator gives everyone 0.5."""
    v = _present(x)
    if v.size == 0:
        return np.full_like(x, np.nan)
    low, high = v.min(), v.max()
    if high == low:
        return np.where(np.isnan(x), np.nan, 0.5)
    score = (x - low) / (high - low)
    return score if direction == 1 else 1 - score


def zscore(x: np.ndarray, direction: int) -> np.ndarray:
    """direction * (x - mean) / sd, sd the sample standard deviation (n - 1, as R's sd() and COINr's n_zscore)."""
    v = _present(x)
    if v.size < 2 or v.std(ddof=1) == 0:
        return np.where(np.isnan(x), np.nan, 0.0)
    return direction * (x - v.mean()) / v.std(ddof=1)


def goalposts(x: np.ndarray, direction: int, low: float, high: float) -> np.ndarray:
    """(x - low) / (high - low) clipped to [0, 1], or (high - x) / (high - low) for direction -1 (the HDI's rule)."""
    score = (x - low) / (high - low) if direction == 1 else (high - x) / (high - low)
    return np.clip(score, 0.0, 1.0)


def _ascending_ranks(x: np.ndarray, direction: int) -> tuple[np.ndarray, int]:
    """COINr's rank(ties.method = "min") of the directed values: 1 = worst, N = best, ties share the lower rank."""
    return min_rank(direction * x, descending=False), int((~np.isnan(x)).sum())


def rank_score(x: np.ndarray, direction: int) -> np.ndarray:
    """a / N with a the ascending rank (1 = worst): the IoD's "rank scaled to [0, 1]", from 1/N up to 1."""
    a, n = _ascending_ranks(x, direction)
    return a / n if n else a


def percentile_rank(x: np.ndarray, direction: int) -> np.ndarray:
    """(a - 1) / (N - 1), COINr's n_prank: 0 for the worst, 1 for the best; a single value gets 0.5."""
    a, n = _ascending_ranks(x, direction)
    if n == 1:
        return np.where(np.isnan(x), np.nan, 0.5)
    return (a - 1) / (n - 1) if n else a


def distance_to_target(x: np.ndarray, direction: int, target: float, cap: bool = True) -> np.ndarray:
    """COINr's n_dist2targ: (x - min) / (target - min), or (max - x) / (max - target) for direction -1.

    The worst observed value scores 0 and the target 1; with `cap` (default) values beyond the target score 1.
    """
    v = _present(x)
    if v.size == 0:
        return np.full_like(x, np.nan)
    worst = v.min() if direction == 1 else v.max()
    if (target - worst) * direction <= 0:
        side = "above the lowest" if direction == 1 else "below the highest"
        raise ValueError(f"distance_to_target: target {target!r} must lie {side} observed value ({float(worst)!r})")
    score = (x - worst) / (target - worst)
    return np.minimum(score, 1.0) if cap else score


def exponential_rank(x: np.ndarray, direction: int, constant: float = 23.0, n: int | None = None) -> np.ndarray:
    """The IoD's exponential transform of ranks, divided by 100 to sit on the internal 0..1 unit.

    R = a / N (a the ascending rank: R = 1 for the best after direction, 1/N for the worst; without ties this is
    (N + 1 - r) / N with r = 1 the best) and X = -c ln(1 - R (1 - exp(-100 / c))), from ~0 to 100. With `n`, the
    column already holds published ranks r (1 = top of the index, so direction must be -1) out of n units, and
    R = (n + 1 - r) / n, so a published domain rank maps to its published transformed score.
    """
    if n is None:
        a, count = _ascending_ranks(x, direction)
        big_r = a / count if count else a
    else:
        bad = np.flatnonzero(~np.isnan(x) & ((x < 1) | (x > n)))
        if bad.size:
            raise DomainError(f"exponential_rank with n = {n}: ranks must lie in 1..{n}, found {float(x[bad[0]])!r}",
                              int(bad[0]))
        big_r = (n + 1 - x) / n
    return -constant * np.log(1 - big_r * (1 - math.exp(-100 / constant))) / 100


def nbi_gap(x: np.ndarray, direction: int, norm: float) -> np.ndarray:
    """direction * (x - norm) / norm. With direction -1 (an achievement that lowers a deprivation index) this is the
    NBI gap (norm - achievement) / norm of INE Bolivia / CEPAL: 1 = nothing achieved, 0 = at the norm, negative =
    above the norm (kept, as the NBI method keeps it)."""
    return direction * (x - norm) / norm


def normalise_values(x: np.ndarray, direction: int, settings: dict[str, Any]) -> np.ndarray:
    """Dispatch on `settings["method"]` (a canonical dict from method_settings)."""
    method = settings["method"]
    x = np.asarray(x, dtype=float)
    if method == "minmax":
        return minmax(x, direction)
    if method == "zscore":
        return zscore(x, direction)
    if method == "goalposts":
        return goalposts(x, direction, float(settings["min"]), float(settings["max"]))
    if method == "rank":
        return rank_score(x, direction)
    if method == "percentile_rank":
        return percentile_rank(x, direction)
    if method == "distance_to_target":
        return distance_to_target(x, direction, float(settings["target"]), bool(settings["cap"]))
    if method == "exponential_rank":
        n = settings.get("n")
        return exponential_rank(x, direction, float(settings["constant"]), None if n is None else int(n))
    if method == "nbi_gap":
        return nbi_gap(x, direction, float(settings["norm"]))
    raise ValueError(f"unknown normalisation {method!r} (known: {', '.join(NORMALISATIONS)})")


def normalise(values: pd.Series, direction: int, method: dict[str, Any] | str | None) -> pd.Series:
    """Indicator values to scores (internal unit, 1 = top) with 1 the best after direction; pandas in, pandas out."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(normalise_values(x, direction, method_settings(method)), index=values.index)
