"""The example specs reproduce published composite indices: the UNDP HDI from its published components, the IMD
(English Indices of Deprivation 2019) from published domain ranks, and the IMD method by hand; and the
repository's real specs keep working."""

import math
from pathlib import Path

import pandas as pd
import pytest

from indicators.engine import compute_index, load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "indicators" / "examples"

# UNDP Human Development Report 2015, Table 1 "Human Development Index and its components" (2014 values), as on
# hdr.undp.org/en/composite/HDI (archived 2016-05-15 at megalodon.jp): the rows are in hdi_2014.csv. Published
# components are rounded (one decimal, GNI to the dollar) while UNDP computes from unrounded data, so 17 of the
# 24 countries reproduce to the published 3 decimals exactly and the other 7 fall within the rounding of their
# components (checked below).
REPRODUCED = ["Norway", "Australia", "Denmark", "Netherlands", "Ireland", "United States", "Canada", "New Zealand",
              "Hong Kong, China (SAR)", "Liechtenstein", "Sweden", "United Kingdom", "Israel", "Luxembourg",
              "Belgium", "France", "Finland"]
WITHIN_ROUNDING = ["Switzerland", "Germany", "Singapore", "Iceland", "Korea (Republic of)", "Japan", "Austria"]


@pytest.fixture(scope="module")
def hdi():
    spec = load_spec(EXAMPLES / "hdi.yaml")
    frame = pd.read_csv(EXAMPLES / "hdi_2014.csv")
    return spec, frame, compute_index(frame, spec).set_index("country")


def test_hdi_norway_by_hand(hdi):
    _, _, out = hdi
    # health (81.6 - 20)/(85 - 20) = 61.6/65 = 0.947692
    # education ((17.5/18) + (12.6/15))/2 = (0.972222 + 0.84)/2 = 0.906111
    # income (ln 64992 - ln 100)/(ln 75000 - ln 100) = ln 649.92 / ln 750 = 6.476849/6.620073 = 0.978365
    # HDI = (0.947692 * 0.906111 * 0.978365)^(1/3) = 0.840136^(1/3) = 0.943590 -> published 0.944
    norway = out.loc["Norway"]
    assert norway["health"] == pytest.approx(0.947692, abs=1e-6)
    assert norway["education"] == pytest.approx(0.906111, abs=1e-6)
    assert norway["income"] == pytest.approx(0.978365, abs=1e-6)
    assert norway["hdi"] == pytest.approx(0.943590, abs=1e-6)


def test_hdi_caps(hdi):
    _, _, out = hdi
    # Australia: expected schooling 20.2 is capped at 18: (18/18 + 13.0/15)/2 = (1 + 0.866667)/2 = 0.933333
    assert out.loc["Australia", "education"] == pytest.approx(0.933333, abs=1e-6)
    # Liechtenstein: GNI 79,851 is capped at 75,000: income index 1
    assert out.loc["Liechtenstein", "income"] == 1.0


def test_hdi_reproduces_the_published_values(hdi):
    _, frame, out = hdi
    published = frame.set_index("country")["hdi_published"]
    assert sorted(REPRODUCED + WITHIN_ROUNDING) == sorted(published.index)
    for country in REPRODUCED:
        assert round(out.loc[country, "score"], 3) == published[country], country
    # HDR ranks: Norway 1, Australia 2, Switzerland 3 (from the published table); ours follow
    assert out["rank"].head(3).tolist() == [1, 2, 3]


def test_hdi_others_are_within_the_rounding_of_their_components(hdi):
    spec, frame, out = hdi
    # Each published component stands for an interval (+-0.05 years, +-$0.5); the HDI grows with every component,
    # so the HDIs of the interval's ends bound the true one. The published value (+-0.0005) overlaps that range.
    half = {"life_expectancy": 0.05, "expected_schooling": 0.05, "mean_schooling": 0.05, "gni_per_capita": 0.5}
    low = compute_index(frame.assign(**{c: frame[c] - h for c, h in half.items()}), spec).set_index("country")
    high = compute_index(frame.assign(**{c: frame[c] + h for c, h in half.items()}), spec).set_index("country")
    published = frame.set_index("country")["hdi_published"]
    for country in WITHIN_ROUNDING:
        assert round(out.loc[country, "score"], 3) != published[country]
        assert abs(out.loc[country, "score"] - published[country]) < 0.0011
        assert low.loc[country, "score"] <= published[country] + 0.0005, country
        assert published[country] - 0.0005 <= high.loc[country, "score"], country


@pytest.fixture(scope="module")
def imd():
    spec = load_spec(EXAMPLES / "imd.yaml")
    return compute_index(pd.read_csv(EXAMPLES / "imd_example.csv"), spec).set_index("lsoa")


def test_imd_method_by_hand(imd):
    # Six units: N = 6, R = a/6. k = 1 - exp(-100/23) = 0.987065; X(a) = -23 ln(1 - (a/6) k):
    # X1 = -23 ln(1 - 0.164511) = 4.133972; X2 = -23 ln(0.670978) = 9.177425; X4 = -23 ln(0.341957) = 24.680643;
    # X5 = -23 ln(0.177446) = 39.769078; X6 = 100. Weights as published: .225 .225 .135 .135 .093 .093 .093 (0.999).
    x1, x2, x4, x5 = 4.133972, 9.177425, 24.680643, 39.769078
    # X01 is least deprived on every domain: 0.999 * X1 = 4.129838
    assert imd.loc["X01", "imd"] == pytest.approx(0.999 * x1, abs=1e-5)
    # X05: rank 5 on income..crime (.225+.225+.135+.135+.093 = .813), 6 on barriers, 2 on living environment:
    # .813 * 39.769078 + .093 * 100 + .093 * 9.177425 = 32.332260 + 9.3 + 0.853501 = 42.485761
    assert imd.loc["X05", "imd"] == pytest.approx(0.813 * x5 + 0.093 * 100 + 0.093 * x2, abs=1e-5)
    # X06: 6 everywhere but barriers (22 is the 4th lowest): .906 * 100 + .093 * 24.680643 = 92.895300
    assert imd.loc["X06", "imd"] == pytest.approx(0.906 * 100 + 0.093 * x4, abs=1e-5)
    # rank 1 = most deprived, as in the IoD; deciles (q = 10, N = 6): ceil(1*10/6) = 2 ... ceil(6*10/6) = 10
    assert imd["rank"].tolist() == [6, 5, 4, 3, 2, 1]
    assert imd["quantile"].tolist() == [10, 9, 7, 5, 4, 2]


def test_imd_from_published_ranks_by_hand():
    spec = load_spec(EXAMPLES / "imd_ranks.yaml")
    out = compute_index(pd.read_csv(EXAMPLES / "imd_ranks_example.csv"), spec).set_index("lsoa")
    k = 1 - math.exp(-100 / 23)

    def x(rank):  # R = (32844 + 1 - rank)/32844; X = -23 ln(1 - R k)
        return -23 * math.log(1 - (32845 - rank) / 32844 * k)

    # Y01: rank 1 on every domain: X = 100 each, IMD = 0.999 * 100 = 99.9
    assert out.loc["Y01", "imd"] == pytest.approx(99.9)
    # Y02: last everywhere: X = -23 ln(1 - k/32844) = 0.000691; IMD = 0.999 * 0.000691
    assert out.loc["Y02", "imd"] == pytest.approx(0.999 * 0.000691, abs=1e-6)
    # Y03: X(100) = 95.238338, X(1000) = 72.393255, X(5000) = 41.698069, X(16422) = 15.648155,
    # X(30000) = 2.055719, X(32844) = 0.000691, X(1) = 100:
    # .225*95.238338 + .225*72.393255 + .135*41.698069 + .135*15.648155 + .093*2.055719 + .093*0.000691 + .093*100
    # = 21.428626 + 16.288482 + 5.629239 + 2.112501 + 0.191182 + 0.000064 + 9.3 = 54.950095
    assert [round(x(r), 6) for r in (100, 1000, 5000, 16422, 30000)] == [95.238338, 72.393255, 41.698069,
                                                                         15.648155, 2.055719]
    assert out.loc["Y03", "imd"] == pytest.approx(54.950095, abs=1e-6)


# English Indices of Deprivation 2019 (MHCLG), File 7 "All IoD2019 scores, ranks, deciles and population
# denominators": ten Trafford LSOAs with their seven published domain ranks, IMD score and IMD rank, copied into
# imd_2019_trafford.csv (source note in indicators/examples/README.md). The score is published to 3 decimals.
def test_imd_reproduces_published_iod2019_scores():
    spec = load_spec(EXAMPLES / "imd_ranks.yaml")
    frame = pd.read_csv(EXAMPLES / "imd_2019_trafford.csv")
    out = compute_index(frame, spec).set_index("lsoa")
    published = frame.set_index("lsoa")
    assert len(out) == 10
    # e.g. E01006074 (Trafford 025A): income rank 10248 -> R = (32845 - 10248)/32844 = 0.688010,
    # X = -23 ln(1 - 0.688010 (1 - e^(-100/23))) = 26.14315 (File 9 publishes 26.143);
    # the weighted sum of the seven X is 19.53365 -> 19.534
    k = 1 - math.exp(-100 / 23)
    assert -23 * math.log(1 - (32845 - 10248) / 32844 * k) == pytest.approx(26.14315, abs=5e-6)
    difference = (out["imd"] - published["imd_score_published"]).abs()
    assert (difference <= 0.0005).all(), difference.to_dict()
    # rank 1 = most deprived, as the IoD ranks: the order among the ten follows the published national ranks
    assert out["rank"].tolist() == published["imd_rank_published"].rank().astype(int).tolist()


def test_imd_published_scores_need_the_weights_as_printed(tmp_path):
    # The printed weights sum to 99.9% (9.3% for each of the last three domains). Unrounded thirds of 28% would
    # add (0.28/3 - 0.093) x (X_crime + X_barriers + X_living) to every score: 0.000333 x 107.8 = 0.036 for
    # E01006087 (Barriers rank 3012), far outside the published 3 decimals. So rescale: false, as printed.
    text = (EXAMPLES / "imd_ranks.yaml").read_text(encoding="utf-8")
    thirds = text.replace("crime: 0.093, barriers: 0.093", "crime: 0.0933333333, barriers: 0.0933333333")
    thirds = thirds.replace("living_environment: 0.093}", "living_environment: 0.0933333333}")
    assert thirds.count("0.0933333333") == 3
    (tmp_path / "imd_thirds.yaml").write_text(thirds, encoding="utf-8")
    frame = pd.read_csv(EXAMPLES / "imd_2019_trafford.csv")
    out = compute_index(frame, load_spec(tmp_path / "imd_thirds.yaml")).set_index("lsoa")
    difference = out["imd"] - frame.set_index("lsoa")["imd_score_published"]
    assert difference.loc["E01006087"] == pytest.approx(0.036, abs=0.001)
    assert (difference.abs() > 0.0005).sum() == 10


def test_city_spec_keeps_working_for_the_pipeline():
    spec = load_spec(ROOT / "cities" / "la_paz_demo" / "wellbeing.yaml")
    assert spec.root == "wellbeing" and spec.node_order()[-1] == "wellbeing"
    assert spec.node_order() == ["housing", "services", "education", "health", "environment", "wellbeing"]
    assert len(spec.sha256()) == 64
    frame = pd.DataFrame({"area_id": ["Z1", "Z2", "Z3"], **{i: [0.25, 0.5, 0.75] for i in spec.indicator_ids}})
    out = compute_index(frame, spec)
    assert list(out.columns) == ["area_id", *spec.node_order(), "score", "rank", "quantile"]
    # census shares use goalposts 0..1, reversed: no_health_insurance 0.25, .5, .75 -> .75, .5, .25;
    # health visits (higher is better) use min-max: 0, .5, 1.
    # health = (.75 + 0)/2, (.5 + .5)/2, (.25 + 1)/2 = .375, .5, .625 -> x100
    assert out["health"].tolist() == pytest.approx([37.5, 50.0, 62.5])
    assert str(out["rank"].dtype) == "Int64"


def test_neighbourhood_example_imputes_by_group():
    spec = load_spec(EXAMPLES / "neighbourhoods.yaml")
    out = compute_index(pd.read_csv(EXAMPLES / "neighbourhoods.csv"), spec).set_index("area_id")
    # Z06 has no illiteracy: its macrodistrict (Periferica) mean is Z05's 4.8. minmax over 0.6..7.5:
    # 1 - (4.8 - 0.6)/6.9 = 0.391304; school attendance goalposts 80..100: (90.1 - 80)/20 = 0.505
    # education = (0.391304 + 0.505)/2 = 0.448152 -> 44.8152
    assert out.loc["Z06", "education"] == pytest.approx(44.8152, abs=1e-4)
    # PM2.5 distance to the WHO 5 ug/m3 target, direction -1: (31 - x)/(31 - 5); Z03: (31 - 14)/26 = 0.653846
    # police reports log1p then minmax reversed; Z03: ln 8.5 = 2.140066 over ln 7.1 .. ln 25.3 = 1.960095 .. 3.230804
    # -> 1 - (2.140066 - 1.960095)/1.270709 = 0.858370; environment = (0.653846 + 0.858370)/2 = 0.756108
    assert out.loc["Z03", "environment"] == pytest.approx(75.6108, abs=1e-4)
    assert out["rank"].tolist() == [4, 3, 1, 2, 6, 7, 9, 8, 5, 10]
