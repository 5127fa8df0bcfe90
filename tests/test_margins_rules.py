"""The rules of indicators/margins.py at their boundaries, every expected value computed by hand.

Boundaries: an interval needs n > 0 units (n = 0 and below: no margin, NaN; n = 1: a margin); limits stay inside
[0, 1]; the finite-population correction switches to "no margin" once n reaches N; Kish's n needs Σ w² > 0; an
area's effective n needs Σ w² > 0; a share needs a denominator > 0.
"""

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from indicators.area_indicators import roll_up
from indicators.margins import (
    Z_95,
    attach_moe,
    binomial_moe,
    effective_sizes,
    kish_effective_n,
    wald_interval,
    wilson_interval,
)
from transforms.areas import area_parents

AREAS = pd.DataFrame({
    "area_id": ["Z1", "Z2", "D1"], "level": ["zona", "zona", "distrito"], "depth": [0, 0, 1],
    "name": ["Uno", "Dos", "Distrito"], "parent_id": ["D1", "D1", None], "geometry_wkt": [None, None, None],
})


def limits(frame):
    return frame[["moe_low", "moe_high", "moe"]].to_numpy()


# ---------------------------------------------------------------- the default z


def test_default_z_is_the_two_sided_95_percent_quantile():
    # Z_95 = the 0.975 quantile of the standard normal
    assert abs(Z_95 - NormalDist().inv_cdf(0.975)) < 1e-12
    # Wilson for 3 of 10 at the default z = 1.959963984540054: z² = 3.8414588, z²/n = 0.38414588
    # centre = (0.3 + 0.19207294)/1.38414588 = 0.3555066
    # half = 1.959964/1.38414588 · sqrt(0.3·0.7/10 + 3.8414588/(4·10²)) = 1.4160097 · sqrt(0.0306036) = 0.2477153
    # limits 0.3555066 ∓ 0.2477153 = [0.1077913, 0.6032219] (the textbook [0.1078, 0.6032])
    low, high = wilson_interval(0.3, 10)
    assert (low, high) == (pytest.approx(0.1077913, abs=1e-7), pytest.approx(0.6032219, abs=1e-7))
    moe = binomial_moe(0.3, 10).iloc[0]
    assert (moe["moe_low"], moe["moe_high"], moe["moe"]) == (
        pytest.approx(0.1077913, abs=1e-7), pytest.approx(0.6032219, abs=1e-7), pytest.approx(0.2477153, abs=1e-7))
    # Wald at the default z: 1.959964 · sqrt(0.21/10) = 1.959964 · 0.1449138 = 0.2840258
    assert binomial_moe(0.3, 10, method="wald")["moe"].iloc[0] == pytest.approx(0.2840258, abs=1e-7)
    assert wald_interval(0.3, 10) == (pytest.approx(0.3 - 0.2840258, abs=1e-7), pytest.approx(0.5840258, abs=1e-7))


# ---------------------------------------------------------------- n > 0: the boundary of "no units, no margin"


def test_wald_needs_more_than_zero_units():
    # below (n = -1) and at (n = 0) the boundary: NaN, even for p = 0.5 where sqrt(0.25/0) would be infinite
    for n in (-1, 0):
        assert np.isnan(limits(binomial_moe(0.5, n, z=1.96, method="wald"))).all()
        assert all(np.isnan(wald_interval(0.5, n, z=1.96)))
    # just above (n = 1): half = 1.96 · sqrt(0.5·0.5/1) = 0.98, limits 0.5 ∓ 0.98 clipped to [0, 1]
    assert limits(binomial_moe(0.5, 1, z=1.96, method="wald")).tolist() == [[0.0, 1.0, pytest.approx(0.98)]]
    # n = 0.5 (an effective n can be fractional): 1.96 · sqrt(0.25/0.5) = 1.96 · 0.7071068 = 1.3859293
    assert binomial_moe(0.5, 0.5, z=1.96, method="wald")["moe"].iloc[0] == pytest.approx(1.3859293, abs=1e-7)
    # p = 0.1, n = 1: half 1.96 · sqrt(0.09) = 0.588, limits [0, 0.688] (the centre is p, not NaN)
    assert wald_interval(0.1, 1, z=1.96) == (0.0, pytest.approx(0.688))


def test_wilson_needs_more_than_zero_units():
    for n in (-1, 0):
        assert np.isnan(limits(binomial_moe(0.5, n, z=1.96))).all()
        assert all(np.isnan(wilson_interval(0.5, n, z=1.96)))
    # n = 1, p = 0.5, z = 1.96: z² = 3.8416 = z²/n; centre = (0.5 + 1.9208)/4.8416 = 0.5
    # half = 1.96/4.8416 · sqrt(0.25 + 3.8416/4) = 0.4048249 · 1.1001818 = 0.4453809 -> [0.0546191, 0.9453809]
    row = limits(binomial_moe(0.5, 1, z=1.96))[0]
    assert row == pytest.approx([0.0546191, 0.9453809, 0.4453809], abs=1e-7)
    # n = 1, p = 1: centre ∓ half = (1 + 1.9208 ∓ 1.9208)/4.8416 = 1/4.8416 = 0.2065433 and exactly 1
    assert wilson_interval(1.0, 1, z=1.96) == (pytest.approx(0.2065433, abs=1e-7), pytest.approx(1.0))


# ---------------------------------------------------------------- limits inside [0, 1]


def test_wald_limits_are_clipped_to_zero_and_one():
    # p = 0.9, n = 10, z = 1.96: half = 1.96 · sqrt(0.09/10) = 1.96 · 0.0948683 = 0.1859419
    # 0.9 + 0.1859419 = 1.0859 -> clipped to 1; lower 0.7140581; the moe itself is not clipped
    assert wald_interval(0.9, 10, z=1.96) == (pytest.approx(0.7140581, abs=1e-7), 1.0)
    assert limits(binomial_moe(0.9, 10, z=1.96, method="wald"))[0] == pytest.approx([0.7140581, 1.0, 0.1859419],
                                                                                       abs=1e-7)
    # p = 0.1 mirrors it: 0.1 - 0.1859419 < 0 -> 0
    assert wald_interval(0.1, 10, z=1.96) == (0.0, pytest.approx(0.2859419, abs=1e-7))


def test_wilson_limits_never_leave_zero_and_one():
    # Wilson's limits lie in [0, 1] by construction: for p = 1 the upper limit is (1 + z²/2n + z²/2n)/(1 + z²/n) = 1
    # and for p = 0 the lower one is 0. In floating point the sums can overshoot by one ulp (p = 1, n = 16 gives
    # 1.0000000000000002, p = 0, n = 27 gives a tiny negative number); the clip holds them inside [0, 1].
    for n in (1, 16, 27, 40, 100):
        low, high = wilson_interval(1.0, n)
        assert high <= 1.0 and high == pytest.approx(1.0) and 0 < low < 1
        low, high = wilson_interval(0.0, n)
        assert low >= 0.0 and low == pytest.approx(0.0, abs=1e-15) and 0 < high < 1
        moe = binomial_moe([0.0, 1.0], [n, n])
        assert moe["moe_low"].iloc[0] >= 0.0 and moe["moe_high"].iloc[1] <= 1.0
    # the upper limit is read from centre + half: p = 0.2, n = 100, z = 1.96 (docs/poverty.md) -> 0.2888310
    assert wilson_interval(0.2, 100, z=1.96)[1] == pytest.approx(0.2888310, abs=1e-7)


# ---------------------------------------------------------------- finite population: N > n


def test_finite_population_correction_at_and_around_n_equal_to_population():
    # N = n + 1: n · (N - 1)/(N - n) = 3 · 3/1 = 9 units; Wald 1.96 · sqrt(0.25/9) = 1.96 · 0.5/3 = 0.3266667
    fpc = binomial_moe(0.5, 3, z=1.96, method="wald", population=4)
    assert fpc["moe"].iloc[0] == pytest.approx(0.3266667, abs=1e-7)
    # N = n + 2: 3 · 4/2 = 6 units; Wald 1.96 · sqrt(0.25/6) = 1.96 · 0.2041241 = 0.4000833
    assert binomial_moe(0.5, 3, z=1.96, method="wald", population=5)["moe"].iloc[0] == \
        pytest.approx(0.4000833, abs=1e-7)
    # N = n: a full enumeration, no margin; also for a single unit (n = N = 1, where n · (N - 1)/(N - n) = 0/0)
    for p, n in ((0.5, 3), (1.0, 1), (0.0, 1)):
        for method in ("wilson", "wald"):
            full = binomial_moe(p, n, method=method, population=n).iloc[0]
            assert (full["moe_low"], full["moe_high"], full["moe"]) == (p, p, 0.0)
    # a population given as missing leaves n as it is: Wald 0.5 of 9 -> 0.3266667
    assert binomial_moe([0.5], [9], z=1.96, method="wald", population=[np.nan])["moe"].iloc[0] == \
        pytest.approx(0.3266667, abs=1e-7)


# ---------------------------------------------------------------- Kish: Σ w² > 0


def test_kish_effective_n_needs_positive_squared_weights():
    # Σ w² = 0 (no weight, or all weights 0): no effective n
    assert math.isnan(kish_effective_n([0.0, 0.0]))
    # Σ w² = 0.5 (just above 0, below 1): weights 0.5, 0.5 -> (0.5 + 0.5)² / (0.25 + 0.25) = 1/0.5 = 2
    assert kish_effective_n([0.5, 0.5]) == pytest.approx(2.0)
    # a single unit of weight 1 (Σ w² = 1): 1²/1 = 1
    assert kish_effective_n([1.0]) == pytest.approx(1.0)
    # weights 0.2, 0.6 (Σ w² = 0.4): 0.8²/0.4 = 0.64/0.4 = 1.6; a missing weight is left out
    assert kish_effective_n([0.2, np.nan, 0.6]) == pytest.approx(1.6)


# ---------------------------------------------------------------- effective sizes and attached margins


def test_effective_size_of_areas_with_little_weight():
    counts = pd.DataFrame({
        "area_id": ["Z1", "Z2", "Z1"],
        "indicator_id": ["poor_persons", "poor_persons", "one_household"],
        # Z1: one household of weight 0.5 (Σ w = 0.5, Σ w² = 0.25); Z2: none at all (0 and 0);
        # one_household: one unit of weight 1 counted without weight_sq (Σ w² = denominator = 1)
        "numerator": [0.5, 0.0, 1.0], "denominator": [0.5, 0.0, 1.0], "multiplier": [1.0, 1.0, 1.0],
        "weight_sq": [0.25, 0.0, np.nan],
    })
    sizes = effective_sizes(counts, area_parents(AREAS)).set_index(["area_id", "indicator_id"])["n_eff"]
    # Z1: 0.5²/0.25 = 1; Z2: Σ w² = 0 -> no effective n; D1 = Z1 + Z2: 0.5²/0.25 = 1
    assert sizes["Z1", "poor_persons"] == pytest.approx(1.0)
    assert np.isnan(sizes["Z2", "poor_persons"])
    assert sizes["D1", "poor_persons"] == pytest.approx(1.0)
    # without weight_sq: n = denominator²/denominator = 1
    assert sizes["Z1", "one_household"] == pytest.approx(1.0)
    assert sizes["D1", "one_household"] == pytest.approx(1.0)


def test_attach_moe_needs_a_denominator_above_zero():
    rolled = pd.DataFrame({
        "area_id": ["Z1", "Z2", "Z3"], "indicator_id": ["s", "s", "s"],
        "numerator": [1.0, 0.0, 0.5], "denominator": [1.0, 0.0, 0.5], "multiplier": [1.0, 1.0, 100.0],
    })
    out = attach_moe(rolled, z=1.96).set_index("area_id")
    # Z1: 1 of 1 (n = denominator = 1): [1/4.8416, 1] = [0.2065433, 1]; half = 1.96/4.8416 · sqrt(3.8416/4)
    # = 0.4048249 · 0.98 = 0.3967284
    assert out.loc["Z1", ["moe_low", "moe_high", "moe"]].tolist() == pytest.approx([0.2065433, 1.0, 0.3967284],
                                                                                   abs=1e-7)
    # Z2: no denominator -> no margin
    assert out.loc["Z2", ["moe_low", "moe_high", "moe"]].isna().all()
    # Z3: p = 0.5/0.5 = 1 on n = 0.5 (denominator just below 1), as a percentage: z²/n = 7.6832,
    # lower (1 + 3.8416 - 3.8416)/8.6832 = 0.1151650 -> 11.51650, upper 100
    assert out.loc["Z3", ["moe_low", "moe_high"]].tolist() == pytest.approx([11.51650, 100.0], abs=1e-5)


def test_attach_moe_merges_sizes_on_the_keys_both_frames_have():
    counts = pd.DataFrame({
        "area_id": ["Z1", "Z2"], "indicator_id": ["poor_persons", "poor_persons"],
        "numerator": [3.0, 4.0], "denominator": [5.0, 4.0], "multiplier": [1.0, 1.0], "weight_sq": [13.0, 16.0],
    })
    rolled = roll_up(counts, area_parents(AREAS))
    assert "level" in rolled
    # sizes without a `level` column (one row per area and indicator is enough): merged on area_id, indicator_id
    sizes = pd.DataFrame({"area_id": ["Z1", "Z2", "D1"], "indicator_id": ["poor_persons"] * 3,
                          "n_eff": [25 / 13, 1.0, 81 / 29]})
    out = attach_moe(rolled, sizes, z=1.96, method="wald").set_index("area_id")
    # Z1: p = 0.6 on 25/13: 1.96 · sqrt(0.24 · 13/25) = 1.96 · 0.3532704 = 0.6924100
    assert out.loc["Z1", "moe"] == pytest.approx(0.6924100, abs=1e-7)
    # D1: p = 7/9 on 81/29: 1.96 · sqrt(7/9 · 2/9 · 29/81) = 1.96 · sqrt(0.0618808) = 1.96 · 0.2487585 = 0.4875667
    assert out.loc["D1", "moe"] == pytest.approx(0.4875667, abs=1e-7)


def test_share_counts_sum_by_area_codes_as_a_groupby_would():
    """Counting by integer codes gives what a pandas groupby of the area ids gives: areas sorted, a household
    without an area counted nowhere, an area whose households are all unknown still listed with zeros."""
    from indicators.margins import AreaCodes, share_counts

    rng = np.random.default_rng(3)
    n = 500
    frame = pd.DataFrame({"area_id": pd.array(rng.choice(["Z10", "Z02", "Z1", None], n), dtype="string")})
    members = rng.integers(1, 8, n).astype(float)
    members[rng.random(n) < 0.05] = np.nan
    condition = rng.random(n) < 0.3
    known = (rng.random(n) < 0.9) & (frame["area_id"] != "Z1").fillna(True).to_numpy()
    got = share_counts(AreaCodes.of(frame), "x", condition, known, members)
    w = np.where(np.isnan(members), 0.0, members)
    ok = known & ~np.isnan(members)
    oracle = pd.DataFrame({"area_id": frame["area_id"], "numerator": np.where(condition & ok, w, 0.0),
                           "denominator": np.where(ok, w, 0.0), "weight_sq": np.where(ok, w * w, 0.0),
                           "numerator_cases": (condition & ok).astype(float), "denominator_cases": ok.astype(float)}
                          ).groupby("area_id", as_index=False).sum()
    assert got["area_id"].tolist() == ["Z02", "Z1", "Z10"] == oracle["area_id"].tolist()
    for column in ("numerator", "denominator", "weight_sq", "numerator_cases", "denominator_cases"):
        np.testing.assert_allclose(got[column], oracle[column], rtol=0, atol=1e-9)
    assert got.loc[got["area_id"] == "Z1", "denominator"].item() == 0.0
    assert list(got.columns) == ["area_id", "indicator_id", "numerator", "denominator", "multiplier", "weight_sq",
                                 "numerator_cases", "denominator_cases"]
    # the frame itself works too (codes made on the way)
    pd.testing.assert_frame_equal(share_counts(frame, "x", condition, known, members), got)


def test_several_shares_over_the_same_rows_count_as_one_share_each():
    """shares_counts gives, indicator after indicator, exactly what share_counts gives for each alone (the
    denominators summed once serve them all); a condition may be a nullable array, NA counting as not met."""
    from indicators.margins import AreaCodes, share_counts, shares_counts

    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame({"area_id": pd.array(rng.choice(["B", "A", None], n), dtype="string")})
    members = rng.integers(1, 6, n).astype(float)
    known = rng.random(n) < 0.8
    conditions = {"x": rng.random(n) < 0.4,
                  "y": pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype="boolean")}
    groups = AreaCodes.of(frame)
    got = shares_counts(groups, conditions, known, members)
    each = pd.concat([share_counts(frame, name, c, known, members) for name, c in conditions.items()],
                     ignore_index=True)
    pd.testing.assert_frame_equal(got, each)
    assert got["indicator_id"].tolist() == ["x", "x", "y", "y"] and got["area_id"].tolist() == ["A", "B"] * 2
    # y's NA rows are not met: its numerator counts only the True ones among known rows with an area
    area = frame["area_id"].fillna("").to_numpy(dtype=object)
    y_true = np.asarray(conditions["y"].fillna(False), dtype=bool)
    assert got.loc[3, "numerator_cases"] == np.sum(y_true & known & (area == "B"))


def test_known_rows_may_be_a_scalar_or_numbers_with_gaps_and_conditions_may_be_none():
    """`known` as True for every row, or as 1/0 numbers with NaN (NaN: not known), counts like the booleans;
    no condition or no row at all gives an empty frame with the columns."""
    from indicators.margins import AreaCodes, shares_counts

    frame = pd.DataFrame({"area_id": ["A", "A", "B", "B"]})
    members = np.array([1.0, 2.0, 3.0, 4.0])
    condition = np.array([True, False, True, True])
    every = shares_counts(AreaCodes.of(frame), {"x": condition}, True, members)
    assert every["denominator"].tolist() == [3.0, 7.0] and every["numerator"].tolist() == [1.0, 7.0]
    numbers = shares_counts(frame, {"x": condition}, np.array([1.0, np.nan, 0.0, 1.0]), members)
    assert numbers["denominator"].tolist() == [1.0, 4.0] and numbers["numerator_cases"].tolist() == [1.0, 1.0]
    empty = shares_counts(frame, {}, True, members)
    assert empty.empty and list(empty.columns) == list(every.columns)
    no_rows = shares_counts(frame.iloc[:0], {"x": condition[:0]}, True, members[:0])   # no household at all
    assert no_rows.empty and list(no_rows.columns) == list(every.columns)
