"""Household survey estimates: design-based means and shares with standard errors, income poverty (FGT), the
integrated poverty method, and Fay-Herriot small-area estimates.

Design-based estimation (docs/survey.md). A survey of households drawn in strata h, primary sampling units
(clusters) i within them, each household with a design weight w. Every estimate is a ratio of weighted totals over
a domain d (a macrodistrict, the city):

    R = Σ w·y·1[d] / Σ w·x·1[d]        (x = 1: a mean per household; x = members: per person)

and its variance is estimated by Taylor linearisation with PSUs taken as drawn with replacement within strata
(the default of Stata's svy and R's survey package; no finite population correction): with the linearised values
u = w·(y - R·x)·1[d] / Σ w·x·1[d] summed per PSU (z_hi),

    v(R) = Σ_h n_h / (n_h - 1) · Σ_i (z_hi - z̄_h)²      (n_h: PSUs in stratum h, of the whole sample)

with n_PSU - n_strata degrees of freedom for the t interval. A domain is estimated inside the whole design (its
households zero elsewhere), never as a sample of its own, so its variance keeps the strata and PSUs it crosses.

Income poverty: the FGT family (Foster, Greer and Thorbecke 1984) on income per capita y against a line z,
P_α = mean over persons of ((z - y)/z)^α · 1[y < z]: α = 0 headcount, 1 gap, 2 severity.

The integrated poverty method (Katzman 1989; Beccaria and Minujin 1985): income poverty crossed with unsatisfied
basic needs, four groups: chronic poverty (income-poor and NBI-poor), recent poverty (income-poor, needs met),
inertial poverty (NBI-poor above the line) and social integration (neither).

Small-area estimation: the area-level Fay-Herriot model (Fay and Herriot 1979; Rao and Molina 2015, ch. 6),
θ̂_d = x_d'β + v_d + e_d, v_d ~ N(0, σ²_v), e_d ~ N(0, ψ_d) with ψ_d the direct estimate's sampling variance;
σ²_v by REML (Fisher scoring), the EBLUP γ_d·θ̂_d + (1 - γ_d)·x_d'β̂ with γ_d = σ²_v/(σ²_v + ψ_d), and its MSE
by Prasad and Rao (1990) as Datta and Lahiri (2000) give it for REML: g1 + g2 + 2·g3.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

log = logging.getLogger(__name__)

IPM_GROUPS = ("chronic_poverty", "recent_poverty", "inertial_poverty", "social_integration")


class SurveyDesignError(ValueError):
    """A survey design that cannot give a variance: the message names the stratum or the field."""


@dataclass(frozen=True)
class Estimate:
    """A design-based estimate: the ratio, its standard error, degrees of freedom, sampled units in the domain,
    and the bounds of its t interval."""

    estimate: float
    se: float
    df: int
    n: int
    ci_low: float
    ci_high: float


def checked_design(weight, stratum, psu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The design as arrays (weights, stratum codes, PSU codes), checked once for every estimate on it."""
    w = np.asarray(weight, dtype=float)
    if (w <= 0).any() or np.isnan(w).any():
        raise SurveyDesignError("every design weight must be positive")
    h = pd.factorize(pd.Series(stratum, dtype="string"))[0]
    cluster = pd.factorize(pd.Series(stratum, dtype="string") + "\x1f" + pd.Series(psu, dtype="string"))[0]
    per_stratum = pd.Series(cluster).groupby(h).nunique()
    single = per_stratum[per_stratum < 2]
    if not single.empty:
        name = pd.Series(stratum, dtype="string").iloc[int(np.flatnonzero(h == single.index[0])[0])]
        raise SurveyDesignError(f"stratum {name!r} has a single PSU: its variance cannot be estimated (collapse it "
                                "with a similar stratum)")
    return w, h, cluster


def ratio_estimate(y, x, weight, stratum, psu, domain=None, *, level: float = 0.95) -> Estimate:
    """Σ w·y / Σ w·x over `domain` (boolean, default everyone) with its linearised standard error."""
    return design_ratio(checked_design(weight, stratum, psu), y, x, domain, level=level)


def design_ratio(design: tuple[np.ndarray, np.ndarray, np.ndarray], y, x, domain=None, *,
                 level: float = 0.95) -> Estimate:
    """`ratio_estimate` on a design `checked_design` already gave."""
    w, h, cluster = design
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    d = np.ones(len(w), dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    total_x = float(np.sum(w * x * d))
    n = int(d.sum())
    n_psu, n_strata = int(cluster.max()) + 1, int(h.max()) + 1
    df = n_psu - n_strata
    if total_x == 0:
        return Estimate(np.nan, np.nan, df, n, np.nan, np.nan)
    ratio = float(np.sum(w * y * d)) / total_x
    u = np.where(d, w * (y - ratio * x), 0.0) / total_x
    z = np.bincount(cluster, weights=u, minlength=n_psu)
    stratum_of = np.zeros(n_psu, dtype=int)
    stratum_of[cluster] = h
    n_h = np.bincount(stratum_of, minlength=n_strata).astype(float)
    mean_h = np.bincount(stratum_of, weights=z, minlength=n_strata) / n_h
    squares = np.bincount(stratum_of, weights=(z - mean_h[stratum_of]) ** 2, minlength=n_strata)
    variance = float(np.sum(n_h / (n_h - 1) * squares))
    se = float(np.sqrt(variance))
    t = float(stats.t.ppf(0.5 + level / 2, df)) if df > 0 else np.nan
    return Estimate(ratio, se, df, n, ratio - t * se, ratio + t * se)


def fgt(income_per_capita, line: float, alpha: int) -> np.ndarray:
    """Each unit's FGT_α term ((z - y)/z)^α · 1[y < z]; NaN where the income is missing."""
    if line <= 0:
        raise ValueError(f"a poverty line must be positive, got {line!r}")
    y = np.asarray(income_per_capita, dtype=float)
    poor = y < line
    gap = np.where(poor, (line - y) / line, 0.0)
    out = np.where(poor, gap ** alpha, 0.0) if alpha > 0 else poor.astype(float)
    return np.where(np.isnan(y), np.nan, out)


def ipm_group(income_poor, nbi_poor) -> np.ndarray:
    """The integrated poverty method's group of each unit (IPM_GROUPS), None where either is unknown."""
    income = pd.array(income_poor, dtype="boolean")
    needs = pd.array(nbi_poor, dtype="boolean")
    out = np.full(len(income), None, dtype=object)
    known = ~(income.isna() | needs.isna())
    i, n = income.fillna(False).to_numpy(dtype=bool), needs.fillna(False).to_numpy(dtype=bool)
    out[known & i & n] = "chronic_poverty"
    out[known & i & ~n] = "recent_poverty"
    out[known & ~i & n] = "inertial_poverty"
    out[known & ~i & ~n] = "social_integration"
    return out


# ---------------------------------------------------------------------------------------------------------------
# Fay-Herriot
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FayHerriot:
    """A fitted area-level model: σ²_v, β, and per area the EBLUP, its MSE, γ and the synthetic estimate
    (`areas`, in the order given; areas without a direct estimate get the synthetic one and its MSE)."""

    sigma2_v: float
    beta: np.ndarray
    areas: pd.DataFrame
    iterations: int


def _reml_parts(sigma2: float, psi: np.ndarray, X: np.ndarray):
    v_inv = 1.0 / (sigma2 + psi)
    xtvx = X.T @ (X * v_inv[:, None])
    xtvx_inv = np.linalg.inv(xtvx)
    P = np.diag(v_inv) - (X * v_inv[:, None]) @ xtvx_inv @ (X * v_inv[:, None]).T
    return P, xtvx_inv, v_inv


def fay_herriot(direct, variance, covariates, *, max_iterations: int = 100, tolerance: float = 1e-10
                ) -> FayHerriot:
    """Fit the model on the areas with a direct estimate (`direct`, `variance` NaN elsewhere) and predict every
    area. `covariates`: one row per area (an intercept is added)."""
    theta_all = np.asarray(direct, dtype=float)
    psi_all = np.asarray(variance, dtype=float)
    X_all = np.column_stack([np.ones(len(theta_all)), np.asarray(covariates, dtype=float).reshape(len(theta_all), -1)])
    sampled = ~np.isnan(theta_all) & ~np.isnan(psi_all)
    theta, psi, X = theta_all[sampled], psi_all[sampled], X_all[sampled]
    if sampled.sum() <= X.shape[1]:
        raise ValueError(f"{int(sampled.sum())} areas with a direct estimate cannot fit {X.shape[1]} coefficients")
    if (psi < 0).any():
        raise ValueError("sampling variances must not be negative")
    sigma2 = max(float(np.var(theta, ddof=1) - psi.mean()), 0.0)
    iterations, converged = 0, False
    while not converged and iterations < max_iterations:
        iterations += 1
        P, _, _ = _reml_parts(sigma2, psi, X)
        score = -0.5 * np.trace(P) + 0.5 * float(theta @ P @ P @ theta)   # REML score in σ²_v
        information = 0.5 * float(np.sum(P * P.T))                          # its Fisher information
        updated = max(sigma2 + score / information, 0.0)
        converged = abs(updated - sigma2) < tolerance * max(1.0, sigma2)
        sigma2 = updated
    if not converged:
        log.warning("Fay-Herriot: REML did not converge in %d iterations (sigma2_v %.6g)", iterations, sigma2)
    _, xtvx_inv, v_inv = _reml_parts(sigma2, psi, X)
    beta = xtvx_inv @ (X * v_inv[:, None]).T @ theta
    synthetic = X_all @ beta
    leverage = np.einsum("ij,jk,ik->i", X_all, xtvx_inv, X_all)   # x_d' (X'V⁻¹X)⁻¹ x_d
    psi_s = np.where(sampled, psi_all, 0.0)
    # γ_d = σ²_v/(σ²_v + ψ_d); an exact direct estimate (ψ_d = 0) is its own best predictor: γ_d = 1
    gamma = np.where(~sampled, 0.0, np.where(psi_s == 0, 1.0, sigma2 / (sigma2 + np.where(psi_s == 0, 1.0, psi_s))))
    eblup = np.where(sampled, gamma * np.nan_to_num(theta_all) + (1 - gamma) * synthetic, synthetic)
    var_sigma2 = 2.0 / float(np.sum(v_inv ** 2))                   # asymptotic variance of the REML σ²_v
    g1 = gamma * psi_s
    g2 = (1 - gamma) ** 2 * leverage
    g3 = np.where(sampled & (psi_s > 0), psi_s ** 2 / np.where(psi_s > 0, sigma2 + psi_s, 1.0) ** 3 * var_sigma2,
                  0.0)
    mse = np.where(sampled, g1 + g2 + 2 * g3, sigma2 + leverage)
    areas = pd.DataFrame({"direct": theta_all, "variance": psi_all, "synthetic": synthetic, "gamma": gamma,
                          "eblup": eblup, "mse": mse, "sampled": sampled})
    return FayHerriot(sigma2, beta, areas, iterations)
