"""Transform rules at their boundaries: COINr's documented winsorise defaults (5 points, skew 2, kurtosis 3.5), the
pass check at exactly its thresholds, skewness and kurtosis by hand, 4 present values as the minimum, zero skew
treated at the high end, and all-tied values. Values by hand."""

import numpy as np
import pytest

from indicators.transform import (
    kurtosis,
    passes_skew_kurtosis,
    skewness,
    transform_settings,
    transform_values,
    winsorise,
)

DEFAULTS = transform_settings("winsorise")

# 44 zeros, one 1 and five 2s (n = 50): mean 11 / 50 = 0.22, d = -0.22 (x44), 0.78, 1.78 (x5)
# sum d^2 = 2.1296 + 0.6084 + 15.842 = 18.58; sum d^3 = -0.468512 + 0.474552 + 28.19876 = 28.2048;
# sum d^4 = 0.103073 + 0.370151 + 50.193793 = 50.667016
# skew = sqrt(50) 28.2048 / 18.58^1.5 x sqrt(50 x 49) / 48 = 2.49023 x 1.031198 = 2.568;
# kurt: r = 50 x 50.667016 / 18.58^2 = 7.33845; (51 x 4.33845 + 6) x 49 / (48 x 47) = 4.936 -> fails
FIVE_TIED = np.array([0.0] * 44 + [1.0] + [2.0] * 5)
# after the five 2s become 1: 44 zeros, six 1s, mean 0.12, d = -0.12 (x44), 0.88 (x6)
# sum d^2 = 0.6336 + 4.6464 = 5.28, sum d^3 = -0.076032 + 4.088832 = 4.0128, sum d^4 = 0.009124 + 3.598172 = 3.607296
# skew = sqrt(50) 4.0128 / 5.28^1.5 x 1.031198 = 2.33877 x 1.031198 = 2.412;
# kurt: r = 50 x 3.607296 / 5.28^2 = 6.46969; (51 x 3.46969 + 6) x 49 / 2256 = 3.974 -> still fails
SIX_ONES = np.array([0.0] * 44 + [1.0] * 6)

# 0, 0, 0, 1, 5: mean 1.2, d = -1.2 (x3), -0.2, 3.8; sum d^2 = 4.32 + 0.04 + 14.44 = 18.8
# sum d^3 = -5.184 - 0.008 + 54.872 = 49.68; sum d^4 = 6.2208 + 0.0016 + 208.5136 = 214.736
# skew = sqrt(5) 49.68 / 18.8^1.5 x sqrt(20) / 3 = 1.36279 x 1.490712 = 2.0315 (>= 2, fails; < 3)
# kurt: r = 5 x 214.736 / 18.8^2 = 3.03780; (6 x 0.03780 + 6) x 4 / (3 x 2) = 4.1512 (>= 3.5, fails; < 4.5)
BARELY_FAILING = np.array([0.0, 0.0, 0.0, 1.0, 5.0])


def test_the_documented_winsorise_defaults():
    # COINr's Treat() defaults: winmax 5, skew_thresh 2, kurt_thresh 3.5 (docs/indices.md, "Transforms")
    assert DEFAULTS == {"method": "winsorise", "max_points": 5, "skew": 2.0, "kurtosis": 3.5}
    assert transform_settings({"method": "winsorise", "max_points": 1}) == {
        "method": "winsorise", "max_points": 1, "skew": 2.0, "kurtosis": 3.5}


def test_skew_2_and_kurtosis_3_5_by_default():
    assert not passes_skew_kurtosis(BARELY_FAILING, 2.0, 3.5)
    # the 5 becomes the next value in, 1: 0, 0, 0, 1, 1 has skew 0.61 (mean 0.4, d = -0.4 x3, 0.6 x2:
    # sum d^2 = 1.2, sum d^3 = 0.24; sqrt(5) 0.24 / 1.2^1.5 x 1.490712 = 0.6086) and passes
    expected = [0.0, 0.0, 0.0, 1.0, 1.0]
    assert winsorise(BARELY_FAILING) == (pytest.approx(expected), 1)
    assert transform_values(BARELY_FAILING, DEFAULTS).tolist() == expected
    # with a skew threshold of 2.1 it would pass untouched (2.03 < 2.1); with kurtosis 4.2 too (4.15 < 4.2)
    assert winsorise(BARELY_FAILING, skew=2.1)[1] == 0
    assert winsorise(BARELY_FAILING, kurt=4.2)[1] == 0


def test_five_points_by_default_and_tied_points_count_each():
    # the five 2s are treated at once: five points, the default limit, so it stops although it still fails
    treated, count = winsorise(FIVE_TIED)
    assert (treated.tolist(), count) == (SIX_ONES.tolist(), 5)
    assert not passes_skew_kurtosis(SIX_ONES, 2.0, 3.5)
    assert transform_values(FIVE_TIED, DEFAULTS).tolist() == SIX_ONES.tolist()
    # a limit of 6 goes on: the six 1s become 0 (count 6, the points tied at the treated end)
    treated, count = winsorise(FIVE_TIED, max_points=6)
    assert (treated.tolist(), count) == ([0.0] * 50, 6)


def test_the_pass_check_at_exactly_its_thresholds():
    # 1, 2, 3, 10: skew 1.763633, kurtosis 3.228 (tests/test_index_steps.py); each threshold set to the value itself
    x = np.array([1.0, 2.0, 3.0, 10.0])
    skew, kurt = skewness(x), kurtosis(x)
    up, down = np.nextafter(skew, np.inf), np.nextafter(kurt, -np.inf)
    assert not passes_skew_kurtosis(x, skew, kurt)  # |skew| < skew and kurt < kurt are both false: it fails
    assert passes_skew_kurtosis(x, up, kurt)  # skew just under its threshold
    assert passes_skew_kurtosis(x, skew, np.nextafter(kurt, np.inf))  # kurtosis just under its threshold
    assert not passes_skew_kurtosis(x, np.nextafter(skew, -np.inf), down)
    assert not passes_skew_kurtosis(-x, skew, kurt)  # negative skew: its absolute value is checked
    assert passes_skew_kurtosis(-x, up, kurt)


def test_skewness_and_kurtosis_of_five_values_by_hand():
    # 0.25, 0.5, 0.5, 1, 1.5: mean 0.75, d = -0.5, -0.25, -0.25, 0.25, 0.75; sum d^2 = 0.25 + 3 x 0.0625 + 0.5625
    # = 1 exactly; sum d^3 = -0.125 - 0.03125 + 0.015625 + 0.421875 = 0.28125; sum d^4 = 0.0625 + 3 x 0.00390625
    # + 0.31640625 = 0.390625
    x = np.array([0.25, 0.5, 0.5, 1.0, 1.5])
    # skew = sqrt(5) x 0.28125 / 1 x sqrt(5 x 4) / 3 = 0.28125 x 10 / 3 = 0.9375
    assert skewness(x) == pytest.approx(0.9375, abs=1e-12)
    # kurt: r = 5 x 0.390625 / 1 = 1.953125; (6 x (1.953125 - 3) + 6) x 4 / (3 x 2) = -0.28125 x 4 / 6 = -0.1875
    assert kurtosis(x) == pytest.approx(-0.1875, abs=1e-12)
    # 0, 0, 0, 0, 1: mean 0.2, d = -0.2 (x4), 0.8; sum d^2 = 0.8, d^3 = 0.48, d^4 = 0.416
    # skew = sqrt(5) 0.48 / 0.8^1.5 x sqrt(20) / 3 = 1.5 x 1.490712 = 2.236068 (sqrt 5);
    # kurt: r = 5 x 0.416 / 0.64 = 3.25; (6 x 0.25 + 6) x 4 / 6 = 5
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    assert skewness(x) == pytest.approx(5**0.5, abs=1e-12)
    assert kurtosis(x) == pytest.approx(5.0, abs=1e-12)


@pytest.mark.parametrize("values", [[3.0] * 4, [0.1] * 6, [0.7] * 6])
def test_all_tied_values_have_no_skew_and_no_excess_kurtosis(values):
    # numpy's mean of six 0.1s is 0.1 - 1.4e-17 (six 0.7s: 0.7 + 1.1e-16): still all tied, still 0
    x = np.array(values)
    assert (skewness(x), kurtosis(x)) == (0.0, 0.0)
    assert passes_skew_kurtosis(x, 2.0, 3.5)


def test_four_present_values_are_the_minimum():
    # 1, 2, 3, 10 with thresholds 1.5 and 3.0 fails (skew 1.76, kurtosis 3.228): 10 becomes 3; 1, 2, 3, 3 has
    # mean 2.25, d = -1.25, -0.25, 0.75, 0.75, sum d^2 = 2.75, d^3 = -1.125: skew 2 (-1.125) / 2.75^1.5 x
    # sqrt(12) / 2 = -0.8546, |-0.85| < 1.5 passes. The missing value stays missing.
    treated, count = winsorise(np.array([1.0, 2.0, 3.0, 10.0, np.nan]), max_points=5, skew=1.5, kurt=3.0)
    assert treated[:4].tolist() == [1.0, 2.0, 3.0, 3.0] and np.isnan(treated[4]) and count == 1
    # three present values cannot be checked (kurtosis needs 4): untouched, nothing treated, whatever the thresholds
    treated, count = winsorise(np.array([1.0, 2.0, 100.0, np.nan]), max_points=5, skew=0.0, kurt=0.0)
    assert treated[:3].tolist() == [1.0, 2.0, 100.0] and np.isnan(treated[3]) and count == 0


def test_zero_skew_is_treated_at_the_high_end():
    # COINr: `if (skew(x) >= 0)` winsorises the high end. -1, 0, 0, 0, 1: mean 0, sum d^3 = 0 -> skew exactly 0;
    # sum d^2 = 2, d^4 = 2, r = 5 x 2 / 4 = 2.5, kurt = (6 x -0.5 + 6) x 4 / 6 = 2. With thresholds skew 0 (never
    # passes on skew) and kurtosis 1 it fails; one point: the 1 (high end) becomes 0, not the -1
    x = np.array([-1.0, 0.0, 0.0, 0.0, 1.0])
    assert (skewness(x), kurtosis(x)) == (0.0, pytest.approx(2.0, abs=1e-12))
    treated, count = winsorise(x, max_points=1, skew=0.0, kurt=1.0)
    assert (treated.tolist(), count) == ([-1.0, 0.0, 0.0, 0.0, 0.0], 1)


def test_all_tied_values_that_fail_are_returned_untouched():
    # thresholds 0 and 0: skew 0 < 0 and kurtosis 0 < 0 are false, so even all-tied values fail the check;
    # there is no next value in to move the tied points to, so nothing is treated
    for values in ([3.0] * 4, [0.7] * 6):
        treated, count = winsorise(np.array(values), max_points=5, skew=0.0, kurt=0.0)
        assert (treated.tolist(), count) == (values, 0)
