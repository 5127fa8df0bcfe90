"""Margins of error: Wald, Wilson, the finite-population correction and Kish's effective n, by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from indicators.area_indicators import roll_up
from indicators.margins import (
    attach_moe,
    binomial_moe,
    effective_sizes,
    kish_effective_n,
    share_counts,
    wald_interval,
    weighted_rate_moe,
    wilson_interval,
)
from transforms.areas import area_parents

AREAS = pd.DataFrame({
    "area_id": ["Z1", "Z2", "D1"], "level": ["zona", "zona", "distrito"], "depth": [0, 0, 1],
    "name": ["Uno", "Dos", "Distrito"], "parent_id": ["D1", "D1", None], "geometry_wkt": [None, None, None],
})


def test_wald_by_hand():
    # p = 0.2, n = 100: 1.96 · sqrt(0.2 · 0.8 / 100) = 1.96 · 0.04 = 0.0784 -> [0.1216, 0.2784]
    moe = binomial_moe(0.2, 100, z=1.96, method="wald").iloc[0]
    assert moe["moe"] == pytest.approx(0.0784)
    assert (moe["moe_low"], moe["moe_high"]) == (pytest.approx(0.1216), pytest.approx(0.2784))
    assert wald_interval(0.2, 100, z=1.96) == (pytest.approx(0.1216), pytest.approx(0.2784))


def test_wilson_by_hand():
    # p = 0.2, n = 100, z² = 3.8416, z²/n = 0.038416
    # centre = (0.2 + 0.019208)/1.038416 = 0.2110984
    # half = 1.96/1.038416 · sqrt(0.2·0.8/100 + 3.8416/(4·100²)) = 1.8874863 · sqrt(0.00169604) = 0.0777325
    # limits 0.2110984 ∓ 0.0777325 = [0.1333659, 0.2888310]
    moe = binomial_moe(0.2, 100, z=1.96).iloc[0]
    assert (moe["moe_low"], moe["moe_high"]) == (pytest.approx(0.1333659, abs=1e-7),
                                                 pytest.approx(0.2888310, abs=1e-7))
    assert moe["moe"] == pytest.approx(0.0777325, abs=1e-7)
    assert wilson_interval(0.2, 100, z=1.96)[0] == pytest.approx(0.1333659, abs=1e-7)


def test_wilson_keeps_a_width_where_wald_collapses():
    # p = 0, n = 10: Wald 1.96 · sqrt(0) = 0; Wilson z²/n = 0.38416, centre 0.19208/1.38416 = 0.1387701,
    # half = 1.96/1.38416 · sqrt(0 + 3.8416/400) = 1.4160212 · 0.098 = 0.1387701 -> [0, 0.2775402]
    assert binomial_moe(0.0, 10, z=1.96, method="wald")["moe"].iloc[0] == 0
    wilson = binomial_moe(0.0, 10, z=1.96).iloc[0]
    assert wilson["moe_low"] == pytest.approx(0.0, abs=1e-12)
    assert wilson["moe_high"] == pytest.approx(0.2775402, abs=1e-7)


def test_finite_population_correction_and_no_units():
    # n = 100 of N = 200: variance × (200 - 100)/(200 - 1); Wald 0.0784 · sqrt(100/199) = 0.0555763
    assert binomial_moe(0.2, 100, z=1.96, method="wald", population=200)["moe"].iloc[0] == pytest.approx(0.0555763)
    # a full census (n = N) has no sampling error at all, with either method
    full = binomial_moe([0.2, 0.2], [100, 100], population=[100, 100])
    assert full["moe"].tolist() == [0.0, 0.0] and full["moe_low"].tolist() == [0.2, 0.2]
    # no units: no margin (NaN), not zero
    assert binomial_moe(0.5, 0)[["moe", "moe_low", "moe_high"]].isna().all(axis=None)
    with pytest.raises(ValueError, match="unknown interval method 'exact'"):
        binomial_moe(0.2, 100, method="exact")


def test_kish_effective_n():
    # weights 1, 1, 2, 4: (1 + 1 + 2 + 4)² / (1 + 1 + 4 + 16) = 64/22 = 2.9090909
    assert kish_effective_n([1, 1, 2, 4]) == pytest.approx(64 / 22)
    # equal weights: n itself, whatever the weight
    assert kish_effective_n([3, 3, 3, 3, 3]) == pytest.approx(5)
    assert math.isnan(kish_effective_n([]))


def test_weighted_rate_moe_by_hand():
    # answered values 1, 0, 1, 0 with weights 1, 1, 2, 4 (the fifth has no answer and is left out):
    # rate = (1 + 2)/8 = 0.375, n_eff = 64/22 = 2.9090909,
    # Wald moe = 1.96 · sqrt(0.375 · 0.625 / 2.9090909) = 1.96 · 0.2838424 = 0.5563308
    result = weighted_rate_moe([1, 0, 1, 0, np.nan], [1, 1, 2, 4, 3], z=1.96, method="wald").iloc[0]
    assert result["rate"] == pytest.approx(0.375)
    assert result["n_eff"] == pytest.approx(64 / 22)
    assert result["moe"] == pytest.approx(0.5563308)
    # per group: a = values 1, 0 weights 1, 1 -> 0.5, n_eff 4/2 = 2; b = 1, 0 weights 2, 4 -> 2/6, n_eff 36/20
    groups = weighted_rate_moe([1, 0, 1, 0], [1, 1, 2, 4], groups=["a", "a", "b", "b"])
    assert groups.loc["a", "rate"] == 0.5 and groups.loc["a", "n_eff"] == pytest.approx(2)
    assert groups.loc["b", "rate"] == pytest.approx(1 / 3) and groups.loc["b", "n_eff"] == pytest.approx(1.8)


def test_share_counts_carry_the_squared_weights():
    households = pd.DataFrame({"area_id": ["Z1", "Z1", "Z1", "Z2"]})
    counts = share_counts(households, "poor_persons", [True, False, None, True], [True, True, False, True],
                          [2, 3, 6, 4]).set_index("area_id")
    # Z1: known rows weigh 2 and 3 (the third is unknown): numerator 2, denominator 5, weight_sq 4 + 9 = 13
    assert counts.loc["Z1", ["numerator", "denominator", "weight_sq"]].tolist() == [2, 5, 13]
    assert counts.loc["Z2", ["numerator", "denominator", "weight_sq"]].tolist() == [4, 4, 16]


def test_effective_sizes_roll_up_and_margins_attach_to_counts():
    counts = pd.DataFrame({
        "area_id": ["Z1", "Z2", "Z1"],
        "indicator_id": ["poor_persons", "poor_persons", "census_share"],
        "numerator": [3.0, 4.0, 20.0], "denominator": [5.0, 4.0, 100.0], "multiplier": [1.0, 1.0, 100.0],
        "weight_sq": [13.0, 16.0, np.nan],  # census_share: units of weight 1, no column in census_counts
    })
    parents = area_parents(AREAS)
    sizes = effective_sizes(counts, parents).set_index(["area_id", "indicator_id"])["n_eff"]
    # Z1: households of 2 and 3 persons -> 5² / 13 = 1.9230769; D1: (5 + 4)² / (13 + 16) = 81/29 = 2.7931034
    assert sizes["Z1", "poor_persons"] == pytest.approx(25 / 13)
    assert sizes["D1", "poor_persons"] == pytest.approx(81 / 29)
    # without weight_sq the units are the denominator: n = 100
    assert sizes["D1", "census_share"] == pytest.approx(100)
    rolled = roll_up(counts, parents)
    with_moe = attach_moe(rolled, effective_sizes(counts, parents), z=1.96).set_index(["area_id", "indicator_id"])
    # census_share 20/100 with multiplier 100 (a percentage): Wilson [0.1333659, 0.2888310] × 100
    row = with_moe.loc[("D1", "census_share")]
    assert (row["moe_low"], row["moe_high"]) == (pytest.approx(13.33659, abs=1e-4), pytest.approx(28.88310, abs=1e-4))
    # poor_persons Z1: p = 0.6 on n_eff = 25/13, Wald: 1.96 · sqrt(0.24 · 13/25) = 1.96 · 0.3532704 = 0.6924100
    wald = attach_moe(rolled, effective_sizes(counts, parents), z=1.96, method="wald")
    z1 = wald.set_index(["area_id", "indicator_id"]).loc[("Z1", "poor_persons")]
    assert z1["moe"] == pytest.approx(0.6924100) and (z1["moe_low"], z1["moe_high"]) == (0.0, 1.0)
    # without sizes n = denominator: 0.6 on 5 -> 1.96 · sqrt(0.24/5) = 1.96 · 0.2190890 = 0.4294145
    plain = attach_moe(rolled, z=1.96, method="wald").set_index(["area_id", "indicator_id"])
    assert plain.loc[("Z1", "poor_persons"), "moe"] == pytest.approx(0.4294145)
