"""Survey estimation (indicators/survey.py), every formula checked by hand on small examples."""

import math
from fractions import Fraction as F

import numpy as np
import pytest

from indicators.survey import SurveyDesignError, fay_herriot, fgt, ipm_group, ratio_estimate

# Two strata, two PSUs each: A = {a1: units 1, 2; a2: unit 3}, B = {b1: unit 4; b2: unit 5}
W = [2, 2, 4, 1, 3]
Y = [1, 0, 1, 0, 1]
STRATA = ["A", "A", "A", "B", "B"]
PSU = ["a1", "a1", "a2", "b1", "b2"]


def test_a_share_and_its_linearised_standard_error_by_hand():
    """R = 9/12 = 0.75; u = w(y - R)/12 summed per PSU: a1 -1/12, a2 1/12, b1 -0.75/12, b2 0.75/12; each
    stratum's PSU totals have mean 0, so v = 2·2·(1/12)² + 2·2·(0.75/12)² = 6.25/144 and se = 2.5/12."""
    est = ratio_estimate(Y, np.ones(5), W, STRATA, PSU)
    assert est.estimate == pytest.approx(0.75) and est.se == pytest.approx(2.5 / 12)
    assert est.df == 2 and est.n == 5
    t = 4.302652729911275  # t(0.975, 2 df)
    assert est.ci_low == pytest.approx(0.75 - t * 2.5 / 12) and est.ci_high == pytest.approx(0.75 + t * 2.5 / 12)


def test_a_domain_keeps_the_whole_design():
    """Domain {1, 2, 4}: R = 2/5; u1 = 2·0.6/5, u2 = -2·0.4/5, u4 = -0.4/5, the rest 0; PSU totals a1 0.08,
    a2 0, b1 -0.08, b2 0; per stratum mean ±0.04, squares 0.0032, times 2: v = 0.0128."""
    est = ratio_estimate(Y, np.ones(5), W, STRATA, PSU, domain=[True, True, False, True, False])
    assert est.estimate == pytest.approx(0.4) and est.se == pytest.approx(math.sqrt(0.0128))
    assert est.n == 3 and est.df == 2  # degrees of freedom of the design, not of the domain


def test_a_mean_per_person_weighs_households_by_their_members():
    """y = members × household value, x = members: (2·3·10 + 4·1·20) / (2·3 + 4·1) = 140/10 = 14."""
    est = ratio_estimate([30, 20], [3, 1], [2, 4], ["A", "A"], ["p1", "p2"])
    assert est.estimate == pytest.approx(14.0)


def test_an_empty_domain_has_no_estimate():
    est = ratio_estimate(Y, np.ones(5), W, STRATA, PSU, domain=[False] * 5)
    assert math.isnan(est.estimate) and est.n == 0


def test_a_stratum_with_one_psu_is_named():
    with pytest.raises(SurveyDesignError, match="stratum 'B' has a single PSU"):
        ratio_estimate(Y, np.ones(5), W, STRATA, ["a1", "a1", "a2", "b1", "b1"])
    with pytest.raises(SurveyDesignError, match="weight must be positive"):
        ratio_estimate(Y, np.ones(5), [2, 2, 0, 1, 3], STRATA, PSU)


@pytest.mark.parametrize("alpha, expected", [
    (0, [1, 0, 0, 1, 1]),
    (1, [0.5, 0, 0, 0.2, 0.01]),
    (2, [0.25, 0, 0, 0.04, 0.0001]),
])
def test_fgt_at_below_and_above_the_line(alpha, expected):
    """Line 100: 50 and 80 are poor (gaps 0.5, 0.2), 100 is not (poor means below the line), 99 is (gap 0.01)."""
    assert fgt([50, 100, 150, 80, 99], 100, alpha) == pytest.approx(expected)


def test_fgt_keeps_a_missing_income_missing_and_refuses_a_line_of_zero():
    assert np.isnan(fgt([np.nan, 10], 100, 1)[0])
    with pytest.raises(ValueError, match="must be positive"):
        fgt([1], 0, 0)


def test_the_four_groups_of_the_integrated_poverty_method():
    groups = ipm_group([True, True, False, False, None], [True, False, True, False, True])
    assert list(groups) == ["chronic_poverty", "recent_poverty", "inertial_poverty", "social_integration", None]


def test_fay_herriot_by_hand_with_equal_variances():
    """Intercept only, ψ = 1/2 everywhere: REML gives σ² = S² - ψ with S² = Σ(θ - θ̄)²/(m - 1) = 14/3, so
    σ² = 25/6, V = 14/3, γ = 25/28, β = θ̄ = 3. Area 1: EBLUP = 25/28·1 + 3/28·3 = 34/28; g1 = γψ = 25/56,
    g2 = (1 - γ)²·V/m = 3/224, g3 = ψ²/V³ · 2/ΣV⁻² = 27/10976 · 98/9 = 3/112: MSE = g1 + g2 + 2g3 = 115/224."""
    fit = fay_herriot([1, 2, 3, 6], [0.5] * 4, np.zeros((4, 0)))
    assert fit.sigma2_v == pytest.approx(25 / 6) and fit.beta == pytest.approx([3.0])
    area = fit.areas.iloc[0]
    assert area["gamma"] == pytest.approx(float(F(25, 28)))
    assert area["eblup"] == pytest.approx(34 / 28) and area["synthetic"] == pytest.approx(3.0)
    assert area["mse"] == pytest.approx(float(F(25, 56) + F(3, 224) + 2 * F(3, 112)))


def test_fay_herriot_variance_is_zero_when_the_direct_estimates_vary_less_than_their_errors():
    """S² = 0.02/3 < ψ = 1: σ² = 0, γ = 0, every EBLUP is the synthetic estimate θ̄ = 1."""
    fit = fay_herriot([1, 1.1, 0.9, 1], [1] * 4, np.zeros((4, 0)))
    assert fit.sigma2_v == 0 and fit.areas["eblup"].tolist() == pytest.approx([1.0] * 4)


def fit_with_area_variance(psi_1: float):
    theta = [2.0, 6.0, 2.5, 9.0, 3.0, 11.0]  # far from a line in x: σ²_v > 0
    x = np.array([[1.0], [2.0], [2.5], [4.0], [3.0], [5.0]])
    return fay_herriot(theta, [psi_1, 0.8, 0.5, 1.2, 0.7, 0.9], x)


def test_the_eblup_is_the_direct_estimate_as_its_sampling_variance_goes_to_zero():
    for psi in (1e-4, 1e-8):
        fit = fit_with_area_variance(psi)
        area = fit.areas.iloc[0]
        assert fit.sigma2_v > 1 and area["gamma"] > 1 - psi
        assert area["eblup"] == pytest.approx(2.0, abs=10 * psi) and area["mse"] <= psi * 1.01
    assert fit_with_area_variance(0.0).areas.iloc[0]["eblup"] == 2.0


def test_the_eblup_is_the_synthetic_estimate_as_its_sampling_variance_grows():
    for psi in (1e4, 1e8):
        fit = fit_with_area_variance(psi)
        area = fit.areas.iloc[0]
        assert area["gamma"] < 10 / psi  # γ = σ²/(σ² + ψ), σ² < 10 here
        assert abs(area["eblup"] - area["synthetic"]) == pytest.approx(area["gamma"] * abs(2.0 - area["synthetic"]))
        assert abs(area["eblup"] - area["synthetic"]) < 20 / psi
        assert area["synthetic"] == pytest.approx(fit.beta[0] + fit.beta[1] * 1.0)


def test_an_area_without_a_sample_gets_the_synthetic_estimate_and_its_mse():
    theta = [1.0, 2.0, 3.0, 6.0, np.nan]
    fit = fay_herriot(theta, [0.5, 0.5, 0.5, 0.5, np.nan], np.zeros((5, 0)))
    out = fit.areas.iloc[4]
    assert not out["sampled"] and out["eblup"] == pytest.approx(3.0)
    assert out["mse"] == pytest.approx(25 / 6 + (14 / 3) / 4)  # σ² + x'(X'V⁻¹X)⁻¹x
    with pytest.raises(ValueError, match="cannot fit"):
        fay_herriot([1.0, np.nan], [0.5, np.nan], np.zeros((2, 0)))


def test_three_psus_in_a_stratum_weigh_by_n_over_n_minus_one():
    """One stratum, PSUs p1..p3 with one unit each (w = 1, y = 0, 1, 2, x = 1): R = 1, u = (y - 1)/3, z = -1/3, 0,
    1/3, mean 0: v = 3/2 · (1/9 + 0 + 1/9) = 1/3. (With two PSUs n/(n - 1) and n·(n - 1) are both 2.)"""
    est = ratio_estimate([0, 1, 2], [1, 1, 1], [1, 1, 1], ["A"] * 3, ["p1", "p2", "p3"])
    assert est.estimate == pytest.approx(1.0) and est.se == pytest.approx(math.sqrt(1 / 3)) and est.df == 2


def test_a_ratio_with_x_other_than_one_by_hand():
    """y = (2, 0), x = (2, 1), w = 1, two PSUs: R = 2/3; u = (y - R·x)/3 = (2/3, -2/3)/3; z = ±2/9; mean 0;
    v = 2 · 2 · (2/9)² = 16/81."""
    est = ratio_estimate([2, 0], [2, 1], [1, 1], ["A", "A"], ["p1", "p2"])
    assert est.estimate == pytest.approx(2 / 3) and est.se == pytest.approx(4 / 9)
    assert est.df == 1 and math.isfinite(est.ci_low)   # one degree of freedom still has a t interval
    t = 12.706204736174698   # t(0.975, 1 df)
    assert est.ci_high == pytest.approx(2 / 3 + t * 4 / 9)


def test_weights_below_one_are_weights_too():
    """Design weights are at least 1, but the estimator takes any positive weights (normalised ones)."""
    assert ratio_estimate([1, 0], [1, 1], [0.5, 0.5], ["A", "A"], ["p1", "p2"]).estimate == pytest.approx(0.5)


def test_a_line_below_one_is_still_a_line():
    assert fgt([0.25, 1.0], 0.5, 1) == pytest.approx([0.5, 0.0])


def test_an_exact_direct_estimate_is_kept_as_it_is():
    """ψ_d = 0: γ_d = 1, the EBLUP is the direct estimate and its MSE is 0; an area without a sample has γ 0."""
    fit = fit_with_area_variance(0.0)
    area = fit.areas.iloc[0]
    assert area["gamma"] == 1.0 and area["eblup"] == 2.0 and area["mse"] == 0.0
    theta = [1.0, 2.0, 3.0, 6.0, np.nan]
    out = fay_herriot(theta, [0.5, 0.5, 0.5, 0.5, np.nan], np.zeros((5, 0))).areas.iloc[4]
    assert out["gamma"] == 0.0
