"""Margins of error for rates kept as counts, and the counts that carry what the margins need.

A rate here is a numerator over a denominator, summed from the smallest areas upwards. Its margin of error is a
binomial interval for the rate: Wilson's score interval by default, because the Wald interval
(p ± z·sqrt(p(1 - p)/n)) collapses to zero width at p = 0 or 1 and under-covers for small n (Brown, Cai and
DasGupta 2001, Statistical Science 16(2): 101-133; Wilson 1927, JASA 22: 209-212).

The n of the interval is the *effective* number of independent units behind the denominator, not always the
denominator itself: a share of persons living in NBI-poor households counts persons, but whole households are poor
or not, so persons come in clusters. Kish's effective sample size (Kish 1992, "Weighting for unequal P_i",
Journal of Official Statistics 8(2): 183-200) of units weighted w_i, n_eff = (Σ w_i)² / Σ w_i², turns the
household sizes into the right n. Both sums are additive over areas, so counts carry Σ w_i² in a `weight_sq`
column next to the denominator (Σ w_i) and n_eff can be computed at any level after rolling up.

Which interval the pipeline uses for a census is documented in docs/poverty.md: a full census has no sampling
error, so these margins are model-based (the area's households as a draw from the process that produces its
conditions) and say how precisely a small area's rate pins down that process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from indicators.area_indicators import roll_up

Z_95 = 1.959963984540054  # two-sided 95 %: the 0.975 quantile of the standard normal
METHODS = ("wilson", "wald")


def _array(x) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.ravel(x)), errors="coerce"), dtype=float).reshape(np.shape(x))


def _wald(p, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-width of the Wald interval: p and z·sqrt(p(1 - p)/n); NaN where n <= 0."""
    p, n = _array(p), _array(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(p * (1 - p) / n)
    return np.where(n > 0, p, np.nan), np.where(n > 0, half, np.nan)


def _wilson(p, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre (p + z²/2n)/(1 + z²/n) and half-width z/(1 + z²/n)·sqrt(p(1 - p)/n + z²/4n²) of Wilson's interval."""
    p, n = _array(p), _array(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2n = z * z / n  # 0 for infinite n: a zero-width interval at p
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return np.where(n > 0, centre, np.nan), np.where(n > 0, half, np.nan)


def wald_interval(p, n, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wald (normal approximation) limits p ± z·sqrt(p(1 - p)/n), clipped to [0, 1]; NaN where n <= 0."""
    centre, half = _wald(p, n, z)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def wilson_interval(p, n, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits (always inside [0, 1]); NaN where n <= 0, zero width at p for infinite n."""
    centre, half = _wilson(p, n, z)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def binomial_moe(p, n, z: float = Z_95, method: str = "wilson", population=None) -> pd.DataFrame:
    """Margin of error of a proportion p from n units: columns `moe_low`, `moe_high` (the limits) and `moe`.

    `moe` is the interval's half-width before clipping to [0, 1]: z·sqrt(p(1 - p)/n) for Wald; Wilson's interval
    is centred on (p + z²/2n)/(1 + z²/n), not on p, so read its limits rather than p ± moe. `population`, when
    given, is the size N of the finite population the n units were drawn from: the variance is multiplied by
    (N - n)/(N - 1), done here by using n·(N - 1)/(N - n) units, so a full enumeration (n = N) has no margin.
    """
    if method not in METHODS:
        raise ValueError(f"unknown interval method {method!r} (known: {', '.join(METHODS)})")
    n = _array(n)
    if population is not None:
        big_n = _array(population)
        with np.errstate(divide="ignore", invalid="ignore"):
            finite = np.where(big_n > n, n * (big_n - 1) / (big_n - n), np.inf)
        n = np.where(np.isnan(big_n), n, finite)
    centre, half = (_wilson if method == "wilson" else _wald)(p, n, z)
    return pd.DataFrame({"moe_low": np.ravel(np.clip(centre - half, 0, 1)),
                         "moe_high": np.ravel(np.clip(centre + half, 0, 1)), "moe": np.ravel(half)})


def kish_effective_n(weights) -> float:
    """Kish's effective sample size (Σ w)² / Σ w² of units with weights w (missing weights left out)."""
    w = _array(weights)
    w = w[~np.isnan(w)]
    total_sq = float((w ** 2).sum())
    return float(w.sum()) ** 2 / total_sq if total_sq > 0 else float("nan")


def weighted_rate_moe(values, weights, z: float = Z_95, method: str = "wilson", groups=None) -> pd.DataFrame:
    """Weighted proportion of yes (1/True) among answered `values` and its margin, with Kish's effective n.

    For sources that carry survey weights: rate = Σ w·y / Σ w over units with an answer, n_eff = (Σ w)² / Σ w²,
    and the interval is `binomial_moe(rate, n_eff)`. This accounts for unequal weighting only (Kish's design
    effect); clustering and stratification of a survey design are outside it. One row, or one per group.
    """
    y, w = _array(values), _array(weights)
    known = ~np.isnan(y) & ~np.isnan(w)
    frame = pd.DataFrame({
        "group": np.zeros(len(y), dtype=int) if groups is None else np.asarray(groups),
        "wy": np.where(known, w * np.nan_to_num(y), 0.0),
        "w": np.where(known, w, 0.0),
        "w2": np.where(known, w * w, 0.0),
    })
    sums = frame.groupby("group", sort=True)[["wy", "w", "w2"]].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (sums["wy"] / sums["w"]).to_numpy()
        n_eff = (sums["w"] ** 2 / sums["w2"]).to_numpy()
    out = pd.DataFrame({"rate": rate, "n_eff": n_eff}, index=sums.index if groups is not None else None)
    moe = binomial_moe(rate, n_eff, z=z, method=method)
    moe.index = out.index
    return pd.concat([out, moe], axis=1)


@dataclass(frozen=True)
class AreaCodes:
    """Rows' areas as integer codes into the sorted distinct area ids, factorised once per frame, so that every
    indicator of it sums by code (np.bincount) instead of grouping text again (issue 14: NBI and Alkire-Foster
    grouped the same text ids 27 times). A row without an area gets the code `len(area_ids)`: an extra bin that
    `sums` drops, so it is counted nowhere without masking every array summed."""

    codes: np.ndarray
    area_ids: pd.Index

    @classmethod
    def of(cls, frame: pd.DataFrame) -> AreaCodes:
        codes, uniques = pd.factorize(frame["area_id"], sort=True, use_na_sentinel=True)
        return cls(np.where(codes < 0, len(uniques), codes), pd.Index(uniques))

    def sums(self, values: np.ndarray) -> np.ndarray:
        n = len(self.area_ids)
        return np.bincount(self.codes, weights=values, minlength=n + 1)[:n]


def _flags(x, rows: int) -> np.ndarray:
    """A boolean array of `rows` (NA as False) from booleans, a nullable boolean array or a Series."""
    if isinstance(x, np.ndarray) and x.dtype == bool:
        return x
    return np.asarray(pd.array(np.broadcast_to(x, (rows,)) if np.ndim(x) == 0 else x,
                               dtype="boolean").fillna(False), dtype=bool)


def share_counts(frame: pd.DataFrame | AreaCodes, indicator: str, condition, known, weight=1.0) -> pd.DataFrame:
    """Per area: numerator Σ w over rows meeting `condition` among `known` rows, denominator Σ w over `known`
    rows, and `weight_sq` Σ w² over `known` rows (for the effective n of the margin of error).

    Rows are households; w is what each household counts for (1 for a share of households, its members for a
    share of persons). `numerator_cases` and `denominator_cases` count the households themselves: the units
    disclosure control holds small counts to (privacy/disclosure.py: five persons may be one household).
    `frame` is the households (with `area_id`) or their `AreaCodes`, when several indicators are counted.
    """
    return shares_counts(frame, {indicator: condition}, known, weight)


def shares_counts(frame: pd.DataFrame | AreaCodes, conditions: dict[str, object], known, weight) -> pd.DataFrame:
    """`share_counts` for several indicators over the same known rows and weights (one condition each): the
    denominators are summed once for all of them, and the rows come out indicator by indicator, areas sorted."""
    groups = frame if isinstance(frame, AreaCodes) else AreaCodes.of(frame)
    rows = len(groups.codes)
    w = np.broadcast_to(_array(weight), (rows,)).astype(float)
    known = _flags(known, rows) & ~np.isnan(w)
    w_known = np.where(known, w, 0.0)
    denominator, weight_sq = groups.sums(w_known), groups.sums(w_known * w_known)
    denominator_cases = groups.sums(known.astype(float))
    numerators, cases = [], []
    for condition in conditions.values():
        meets = _flags(condition, rows) & known
        numerators.append(groups.sums(np.where(meets, w, 0.0)))
        cases.append(groups.sums(meets.astype(float)))
    k, areas = len(conditions), len(groups.area_ids)
    return pd.DataFrame({
        "area_id": np.tile(groups.area_ids.to_numpy(), k),
        "indicator_id": np.repeat(np.array(list(conditions), dtype=object), areas),
        "numerator": np.concatenate([np.empty(0), *numerators]),
        "denominator": np.tile(denominator, k),
        "multiplier": 1.0,
        "weight_sq": np.tile(weight_sq, k),
        "numerator_cases": np.concatenate([np.empty(0), *cases]),
        "denominator_cases": np.tile(denominator_cases, k),
    })


def effective_sizes(counts: pd.DataFrame, parents: pd.DataFrame) -> pd.DataFrame:
    """Effective n per area (every level) and indicator: denominator² / Σ w², rolled up like the counts.

    Rows without `weight_sq` (counts where every unit weighs 1, such as `census_counts`) get n = denominator.
    """
    weight_sq = counts["weight_sq"] if "weight_sq" in counts else pd.Series(np.nan, index=counts.index)
    design = counts.assign(numerator=weight_sq.fillna(counts["denominator"]).astype(float))
    rolled = roll_up(design, parents)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = rolled["denominator"] ** 2 / rolled["numerator"]
    return rolled[["area_id", "level", "indicator_id"]].assign(n_eff=n_eff.where(rolled["numerator"] > 0))


def attach_moe(rolled: pd.DataFrame, sizes: pd.DataFrame | None = None, z: float = Z_95,
               method: str = "wilson") -> pd.DataFrame:
    """`rolled` counts with `n_eff`, `moe_low`, `moe_high` and `moe` on the published value's scale (× multiplier).

    `sizes` comes from `effective_sizes`; without it n = denominator. Rows with no denominator get NaN margins.
    Rates whose multiplier is not 1 (events per 1000 residents) are counts of events, not shares of units: their
    binomial margin is only meaningful while the rate is a share, so callers attach margins to shares.
    """
    keys = [c for c in ("area_id", "level", "indicator_id") if c in rolled and (sizes is None or c in sizes)]
    out = rolled.copy()
    if sizes is not None:
        out = out.drop(columns=["n_eff"], errors="ignore").merge(sizes, on=keys, how="left")
    else:
        out["n_eff"] = out["denominator"].astype(float)
    den = out["denominator"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(den > 0, out["numerator"].astype(float) / den, np.nan)
    moe = binomial_moe(p, out["n_eff"].astype(float).to_numpy(), z=z, method=method)
    scale = out["multiplier"].astype(float).to_numpy()
    for column in ("moe_low", "moe_high", "moe"):
        out[column] = moe[column].to_numpy() * scale
    return out
