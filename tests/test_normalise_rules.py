"""The rules of indicators/normalise.py at their boundaries, every expected value computed by hand: the IoD's
exponential constant 23 as the default, z-scores from two values up, percentile ranks of one and two values,
distance to a target from one value and with the target just past the worst value, goalposts away from 0."""

import math

import numpy as np
import pandas as pd
import pytest

from indicators.normalise import distance_to_target, exponential_rank, method_settings, normalise, normalise_values

NAN = np.nan


def norm(x, direction, method, **params):
    return normalise_values(np.asarray(x, dtype=float), direction, method_settings({"method": method, **params}))


# ---------------------------------------------------------------- exponential_rank: the constant 23


def test_exponential_rank_defaults_to_the_iod_constant_23():
    # The English IoD (and the Scottish IoD 2003, Appendix 5: "The constant (23) determines that ten percent of
    # wards have a score higher than 50"). N = 4, R = a/N = .25, .5, .75, 1; k = 1 - exp(-100/23) = 0.9870651
    # R=.25: -23 ln(1 - .25k) = -23 ln(0.7532337) = 6.517733; R=.5: -23 ln(0.5064675) = 15.646790
    # R=.75: -23 ln(0.2597012) = 31.009144; R=1: -23 ln(exp(-100/23)) = 100; internal unit = X/100
    expected = [0.06517733, 0.15646790, 0.31009144, 1.0]
    x = np.array([2.0, 4.0, 6.0, 10.0])
    # the function's own default, the spec's default (no `constant:` given), and the short form
    assert exponential_rank(x, 1) == pytest.approx(expected, abs=1e-8)
    assert norm(x, 1, "exponential_rank") == pytest.approx(expected, abs=1e-8)
    assert normalise(pd.Series(x), 1, "exponential_rank").tolist() == pytest.approx(expected, abs=1e-8)
    # with n (published ranks r, direction -1): r = 2 of n = 4 -> R = (4 + 1 - 2)/4 = .75 -> 0.31009144
    assert norm([2.0], -1, "exponential_rank", n=4) == pytest.approx([0.31009144], abs=1e-8)


def test_exponential_rank_default_puts_ten_percent_above_50():
    # X > 50 <=> R > (1 - exp(-50/23)) / (1 - exp(-100/23)) = 0.8862681/0.9870651 = 0.8978823: a/1000 for
    # a = 898..1000, 103 of 1,000 units (a constant of 24 would put 111 there: R > 0.8755/0.9845 = 0.8892727)
    x = np.arange(1000.0)
    assert (exponential_rank(x, 1) > 0.5).sum() == 103
    assert (normalise(pd.Series(x), 1, "exponential_rank") > 0.5).sum() == 103


# ---------------------------------------------------------------- zscore: needs two values that differ


def test_zscore_from_two_values_up():
    # one value: no spread, z = 0
    assert norm([5.0], 1, "zscore").tolist() == [0.0]
    assert norm([NAN, 5.0], 1, "zscore")[1] == 0.0
    # two values (the boundary): mean 2, sd sqrt(((1-2)² + (3-2)²)/1) = sqrt(2); z = ∓1/sqrt(2) = ∓0.7071068
    out = norm([1.0, NAN, 3.0], 1, "zscore")
    assert out[[0, 2]] == pytest.approx([-0.7071068, 0.7071068], abs=1e-7) and np.isnan(out[1])
    assert norm([1.0, 3.0], -1, "zscore") == pytest.approx([0.7071068, -0.7071068], abs=1e-7)
    # three values: mean 2, sd sqrt((1 + 0 + 1)/2) = 1; z = -1, 0, 1
    assert norm([1.0, 2.0, 3.0], 1, "zscore") == pytest.approx([-1.0, 0.0, 1.0])
    # two or three equal values: sd 0, z = 0 for everyone (not 0/0)
    assert norm([5.0, 5.0], 1, "zscore").tolist() == [0.0, 0.0]
    assert norm([5.0, 5.0, 5.0], -1, "zscore").tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------- percentile_rank: one, two, three values


def test_percentile_rank_of_one_two_and_three_values():
    # one value: (a - 1)/(N - 1) = 0/0, so 0.5 (COINr's n_prank); a missing value stays missing
    assert norm([4.0], 1, "percentile_rank").tolist() == [0.5]
    out = norm([NAN, 4.0], -1, "percentile_rank")
    assert np.isnan(out[0]) and out[1] == 0.5
    # two values: a = 1, 2 -> (a - 1)/1 = 0, 1; direction -1 reverses
    assert norm([3.0, 7.0], 1, "percentile_rank").tolist() == [0.0, 1.0]
    assert norm([3.0, 7.0], -1, "percentile_rank").tolist() == [1.0, 0.0]
    # two equal values: both a = 1 -> 0
    assert norm([3.0, 3.0], 1, "percentile_rank").tolist() == [0.0, 0.0]
    # three values: (a - 1)/2 = 0, .5, 1
    assert norm([9.0, 1.0, 5.0], 1, "percentile_rank").tolist() == [1.0, 0.0, 0.5]


# ---------------------------------------------------------------- distance_to_target


def test_distance_to_target_of_no_value_and_one_value():
    # nothing observed: nothing scored
    assert np.isnan(norm([NAN, NAN], 1, "distance_to_target", target=8.0)).all()
    # one value, direction 1, target 8: worst = 2, (2 - 2)/(8 - 2) = 0
    out = norm([NAN, 2.0], 1, "distance_to_target", target=8.0)
    assert np.isnan(out[0]) and out[1] == 0.0
    # one value, direction -1, target 3: worst = 10, (10 - 10)/(3 - 10) = 0 (the function's default cap)
    assert distance_to_target(np.array([10.0]), -1, 3.0).tolist() == [0.0]


def test_distance_to_target_needs_the_target_beyond_the_worst_value():
    x = [0.2, 0.4, 0.6, 1.0]
    # direction 1, worst = min 0.2. At the worst value, or below it: refused
    for target in (0.2, 0.1):
        with pytest.raises(ValueError, match="must lie above the lowest observed value"):
            norm(x, 1, "distance_to_target", target=target)
    # just above it (less than one unit away): target 0.7 -> (x - 0.2)/0.5 = 0, .4, .8, 1.6 -> capped at 1
    assert norm(x, 1, "distance_to_target", target=0.7) == pytest.approx([0.0, 0.4, 0.8, 1.0])
    assert norm(x, 1, "distance_to_target", target=0.7, cap=False) == pytest.approx([0.0, 0.4, 0.8, 1.6])
    # direction -1, worst = max 1.0. At it, or above it: refused
    for target in (1.0, 1.2):
        with pytest.raises(ValueError, match="must lie below the highest observed value"):
            norm(x, -1, "distance_to_target", target=target)
    # just below it: target 0.5 -> (x - 1)/(0.5 - 1) = 1.6, 1.2, .8, 0 -> capped 1, 1, .8, 0
    assert norm(x, -1, "distance_to_target", target=0.5) == pytest.approx([1.0, 1.0, 0.8, 0.0])


# ---------------------------------------------------------------- goalposts away from 0


def test_goalposts_with_a_lower_goalpost_above_zero():
    x = [1.0, 2.0, 6.0, 10.0, 11.0]
    # goalposts 2..10, width 8. direction 1: (x - 2)/8 = -1/8, 0, .5, 1, 9/8 -> clipped 0, 0, .5, 1, 1
    assert norm(x, 1, "goalposts", min=2, max=10).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    # direction -1: (10 - x)/8 = 9/8, 1, .5, 0, -1/8 -> clipped 1, 1, .5, 0, 0
    assert norm(x, -1, "goalposts", min=2, max=10).tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]
    # inside the goalposts nothing is clipped: 3 -> 1/8 = 0.125 and (10 - 3)/8 = 0.875
    assert norm([3.0], 1, "goalposts", min=2, max=10).tolist() == [0.125]
    assert norm([3.0], -1, "goalposts", min=2, max=10).tolist() == [0.875]
    assert math.isnan(norm([NAN], -1, "goalposts", min=2, max=10)[0])
