"""Indicator transforms applied before normalisation: `log`, `log1p` and `winsorise` (COINr's rule).

Every function takes a 1-D float array with NaN for missing values and returns a new array; missing values stay
missing. Formulas and their sources are in docs/indices.md ("Transforms").
"""

from __future__ import annotations

from typing import Any

import numpy as np

TRANSFORMS = ("log", "log1p", "winsorise")
# COINr's defaults for Treat(): f1 = "winsorise", winmax = 5, skew_thresh = 2, kurt_thresh = 3.5
# (bluefoxr/COINr, R/treat.R, Treat.data.frame).
WINSORISE_DEFAULTS = {"max_points": 5, "skew": 2.0, "kurtosis": 3.5}


class DomainError(ValueError):
    """A value outside a transform's domain (log of a value <= 0); `position` is its 0-based row."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


def transform_settings(entry: Any) -> dict[str, Any] | None:
    """The canonical form of an indicator's `transform:` entry: None, or a dict with `method` and its parameters.

    `transform: log` and `transform: {method: log}` mean the same; winsorise takes `max_points`, `skew` and
    `kurtosis`, defaulting to COINr's 5, 2 and 3.5.
    """
    if entry is None:
        return None
    settings = {"method": entry} if isinstance(entry, str) else dict(entry)
    if settings.get("method") == "winsorise":
        settings = {**WINSORISE_DEFAULTS, **settings}
    return settings


def log_values(x: np.ndarray) -> np.ndarray:
    """Natural log; every present value must be > 0."""
    bad = np.flatnonzero(x <= 0)
    if bad.size:
        found = float(x[bad[0]])
        raise DomainError(f"log needs values > 0, found {found!r}; use log1p for counts with zeros", int(bad[0]))
    return np.log(x)


def log1p_values(x: np.ndarray) -> np.ndarray:
    """ln(1 + x), defined for x > -1: the usual choice for counts and rates that can be 0."""
    bad = np.flatnonzero(x <= -1)
    if bad.size:
        raise DomainError(f"log1p needs values > -1, found {float(x[bad[0]])!r}", int(bad[0]))
    return np.log1p(x)


def skewness(x: np.ndarray) -> float:
    """Sample skewness as COINr's skew() (e1071 type 2, Excel's SKEW); NaN-free input with at least 3 values."""
    n = x.size
    d = x - x.mean()
    m2 = np.sum(d**2)
    if m2 == 0 or x.min() == x.max():  # all tied: the mean's rounding can leave m2 a tiny non-zero
        return 0.0
    g1 = np.sqrt(n) * np.sum(d**3) / m2**1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))


def kurtosis(x: np.ndarray) -> float:
    """Sample excess kurtosis as COINr's kurt() (e1071 type 2, Excel's KURT); NaN-free input, at least 4 values."""
    n = x.size
    d = x - x.mean()
    m2 = np.sum(d**2)
    if m2 == 0 or x.min() == x.max():  # all tied: the mean's rounding can leave m2 a tiny non-zero
        return 0.0
    r = n * np.sum(d**4) / m2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def passes_skew_kurtosis(x: np.ndarray, skew: float, kurt: float) -> bool:
    """COINr's check_SkewKurt: an indicator needs no treatment when |skewness| < skew OR kurtosis < kurt."""
    return abs(skewness(x)) < skew or kurtosis(x) < kurt


def winsorise(x: np.ndarray, max_points: int = 5, skew: float = 2.0, kurt: float = 3.5) -> tuple[np.ndarray, int]:
    """COINr's winsorise(): while the indicator fails the skew/kurtosis check and fewer than `max_points` points
    have been treated, replace the highest value(s) (positive skew) or the lowest (negative skew) with the next
    value in. Returns the treated array and COINr's count of treated points.

    The count follows COINr exactly: the points now tied at the treated end(s) at the last step, which include the
    ones treated before (two tied maxima count as two). Fewer than 4 present values cannot be checked (kurtosis
    needs 4) and are returned untouched. COINr's second stage (a log transform when winsorising is not enough) is
    not applied: name `log` or `log1p` yourself if you want it.
    """
    out = x.astype(float).copy()
    present = np.flatnonzero(~np.isnan(out))
    if present.size < 4:
        return out, 0
    v = out[present]
    high = low = np.array([], dtype=int)
    treated = 0
    while not passes_skew_kurtosis(v, skew, kurt) and treated < max_points:
        if skewness(v) >= 0:
            high = np.flatnonzero(v == v.max())
            rest = np.delete(v, high)
            if rest.size == 0:
                break
            v[high] = rest.max()
        else:
            low = np.flatnonzero(v == v.min())
            rest = np.delete(v, low)
            if rest.size == 0:
                break
            v[low] = rest.min()
        treated = high.size + low.size
    out[present] = v
    return out, int(treated)


def transform_values(x: np.ndarray, settings: dict[str, Any] | None) -> np.ndarray:
    """Apply an indicator's transform (None: unchanged)."""
    if settings is None:
        return x
    method = settings["method"]
    if method == "log":
        return log_values(x)
    if method == "log1p":
        return log1p_values(x)
    if method == "winsorise":
        return winsorise(x, int(settings["max_points"]), float(settings["skew"]), float(settings["kurtosis"]))[0]
    raise ValueError(f"unknown transform {method!r} (known: {', '.join(TRANSFORMS)})")


def transform_parameter(value: float, settings: dict[str, Any] | None) -> float:
    """A normalisation parameter in raw units (goalpost, target, norm) carried onto the transformed scale.

    log and log1p move goalposts with the data, as the HDI does for income; winsorising changes no scale, so
    parameters pass through.
    """
    if settings is None or settings["method"] == "winsorise":
        return float(value)
    if settings["method"] == "log":
        return float(np.log(value))
    return float(np.log1p(value))
