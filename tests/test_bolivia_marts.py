"""The marts of the real Bolivian city (cities/bolivia_municipal): INE's municipal census tables of 2012 and 2024
loaded, staged and built into the same marts as the sample city's, with the index's change between the censuses.

Expected values are INE's published figures (data/SOURCES.md) or are computed here, by hand, from the staged
figures; none is read back from the code under test.
"""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cities import load_city
from indicators.build_tables import NO_FIGURE, build_table_marts, indicator_values
from indicators.catalogue import load_catalogue
from indicators.change import build_change_marts, change_periods
from indicators.engine import load_spec
from sources.census_tables import load_census_tables
from transforms.census_tables import stage_census_tables

CITY = load_city("bolivia_municipal")
PERIODS = ("2012", "2024")
MARTS = ("areas", "area_population", "indicator_catalogue", "dimensions", "indicator_values", "index_scores",
         "index_weights", "index_runs", "index_change", "indicator_change")
LA_PAZ, EL_ALTO = "020101", "020105"


def build_everything(home: Path) -> tuple[dict, dict]:
    """raw -> staging -> marts -> change marts with BIENESTAR_HOME at `home`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(home))
        load_census_tables(CITY)
        stage_census_tables(CITY)
        built = build_table_marts(CITY)
        changed = {pair: build_change_marts(CITY, *pair) for pair in change_periods(CITY)}
    return built, changed


def read(home: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse" / "bolivia_municipal.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).df()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("bolivia-marts")
    result, changed = build_everything(home)
    return home, result, changed


def value(home: Path, area_id: str, indicator_id: str, period: str) -> pd.Series:
    rows = read(home, "SELECT * FROM marts.indicator_values WHERE city = ? AND area_id = ? AND indicator_id = ? "
                "AND period = ?", [CITY.name, area_id, indicator_id, period])
    assert len(rows) == 1
    return rows.iloc[0]


def score(home: Path, area_id: str, node_id: str, period: str) -> pd.Series:
    rows = read(home, "SELECT * FROM marts.index_scores WHERE city = ? AND area_id = ? AND node_id = ? "
                "AND period = ?", [CITY.name, area_id, node_id, period])
    assert len(rows) == 1
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------------------------
# Published figures
# ---------------------------------------------------------------------------------------------------------------

def test_published_nbi_of_la_paz_and_el_alto(built):
    home, *_ = built
    # INE: La Paz 14.3 % (2012) and 7.24 % (2024); El Alto 36.0 % and 16.87 %: stored as shares
    for area_id, period, published, decimals in [(LA_PAZ, "2012", 14.3, 1), (LA_PAZ, "2024", 7.24, 2),
                                                  (EL_ALTO, "2012", 36.0, 1), (EL_ALTO, "2024", 16.87, 2)]:
        row = value(home, area_id, "nbi", period)
        assert round(row["value"] * 100, decimals) == published
        assert row["value"] == pytest.approx(published / 100, abs=0.5 * 10 ** -decimals / 100)
        assert row["level"] == "municipio" and not row["suppressed"] and pd.isna(row["note"])
        assert pd.isna(row["numerator"]) and pd.isna(row["denominator"])  # INE publishes rates, not counts


def test_nbi_change_of_la_paz_lies_within_the_published_figures(built):
    home, *_ = built
    change = read(home, "SELECT * FROM marts.indicator_change WHERE city = ? AND area_id = ? AND indicator_id = "
                  "'nbi'", [CITY.name, LA_PAZ]).iloc[0]
    assert (change["period_from"], change["period_to"]) == PERIODS
    # published 14.3 (14.25..14.35) and 7.24 (7.235..7.245): the change lies in -7.115 .. -7.005 points
    assert -7.115 <= change["change_pp"] <= -7.005
    assert change["change"] == pytest.approx(change["value_to"] - change["value_from"], abs=1e-12)
    assert change["change_pp"] == pytest.approx(100 * change["change"], abs=1e-9)
    # adolescent parity is a mean, not a share: a change, no percentage points (La Paz 0.1 -> 0.0)
    parity = read(home, "SELECT * FROM marts.indicator_change WHERE city = ? AND area_id = ? AND indicator_id = "
                  "'adolescent_parity'", [CITY.name, LA_PAZ]).iloc[0]
    assert parity["change"] == pytest.approx(-0.1) and pd.isna(parity["change_pp"])


# ---------------------------------------------------------------------------------------------------------------
# Areas, catalogue, values
# ---------------------------------------------------------------------------------------------------------------

def test_areas_with_2024_population(built):
    home, *_ = built
    areas = read(home, "SELECT * FROM marts.areas WHERE city = ?", [CITY.name])
    assert areas.groupby("level")["area_id"].count().to_dict() == {"municipio": 343, "departamento": 9}
    published = pd.read_csv(CITY.folder / "data" / "nbi_population.csv", dtype={"codigo": str})
    population = dict(zip(published["codigo"], published["poblacion"], strict=True))
    municipios = areas[areas["level"] == "municipio"].set_index("area_id")
    assert municipios.loc[LA_PAZ, "population"] == population[LA_PAZ]
    assert municipios.loc[EL_ALTO, "population"] == population[EL_ALTO]
    tarija = areas.set_index("area_id").loc["06"]
    assert tarija["population"] == sum(v for k, v in population.items() if k.startswith("06"))
    assert areas["population"].sum() == 2 * published["poblacion"].sum()  # municipalities + departments
    # per census year: the 2012 tables give no population, so 2024 alone, the same as marts.areas
    by_year = read(home, "SELECT area_id, period, population FROM marts.area_population WHERE city = ?", [CITY.name])
    assert set(by_year["period"]) == {"2024"}
    assert by_year.set_index("area_id")["population"].to_dict() == areas.set_index("area_id")["population"].to_dict()


def test_catalogue_and_dimensions_as_the_sample_city_gets_them(built):
    home, *_ = built
    catalogue = read(home, "SELECT * FROM marts.indicator_catalogue WHERE city = ? ORDER BY indicator_id",
                     [CITY.name])
    expected, dimensions = load_catalogue()
    assert list(catalogue.columns) == ["city", *expected.columns.drop("computed_by")]
    assert len(catalogue) == 18 and (catalogue["min_denominator"] == 0).all()
    units = dict(zip(catalogue["indicator_id"], catalogue["unit"], strict=True))
    assert units["nbi"] == "share" and units["adolescent_parity"] == "children_per_woman"
    assert set(units.values()) == {"share", "children_per_woman"}  # percent is published as share
    marts_dimensions = read(home, "SELECT * FROM marts.dimensions WHERE city = ? ORDER BY display_order",
                            [CITY.name])
    assert list(marts_dimensions.columns) == ["city", *dimensions.columns, "display_order", "in_index"]
    assert marts_dimensions["dimension_id"].tolist() == ["health", "education", "services", "connectivity",
                                                         "employment", "identity", "poverty"]
    # wellbeing.yaml scores the first four; the other three group indicators the index leaves out
    assert marts_dimensions["in_index"].tolist() == [True] * 4 + [False] * 3


def test_every_area_has_every_indicator_in_both_censuses(built):
    home, result, _ = built
    assert result["periods"] == list(PERIODS)
    values = read(home, "SELECT * FROM marts.indicator_values WHERE city = ?", [CITY.name])
    assert list(values.columns) == ["city", "area_id", "level", "indicator_id", "period", "value", "numerator",
                                    "denominator", "suppressed", "suppression", "note", "period_start", "period_end",
                                    "moe_low", "moe_high"]
    # the tables describe each census day (INE: 21 November 2012, 23 March 2024); published rates: no margins
    days = values.groupby("period")[["period_start", "period_end"]].agg(lambda s: {str(d)[:10] for d in s})
    assert days.loc["2012"].tolist() == [{"2012-11-21"}] * 2 and days.loc["2024"].tolist() == [{"2024-03-23"}] * 2
    assert values[["moe_low", "moe_high"]].isna().all().all()
    per_period = values.groupby("period").size().to_dict()
    assert per_period == {"2012": 352 * 18, "2024": 352 * 18} == result["indicator_values"]
    municipal = values[values["level"] == "municipio"]
    assert (municipal.groupby(["area_id", "period"]).size() == 18).all()
    assert not values["suppressed"].any()
    assert values[["numerator", "denominator"]].isna().all().all()
    assert values["value"].notna().sum() == 2 * 352 * 18 - 3 * 352  # 3 indicators not asked in 2012


def test_not_asked_in_2012_is_null_with_a_note_at_every_level(built):
    home, *_ = built
    for indicator in ("health_coverage", "mobile_phone_households", "first_birth_before_20"):
        for area_id in (LA_PAZ, "02"):
            row = value(home, area_id, indicator, "2012")
            assert pd.isna(row["value"]) and row["note"].startswith("not measured in 2012")
            assert pd.notna(value(home, area_id, indicator, "2024")["value"])


def test_department_value_is_the_population_weighted_mean_of_its_municipalities(built):
    home, *_ = built
    staged = read(home, "SELECT * FROM staging.area_indicator_values WHERE city = ?", [CITY.name])
    tarija = staged[staged["area_id"].str.startswith("06")]  # Tarija: 11 municipalities, the fewest
    assert tarija["area_id"].nunique() == 11
    # weights: each municipality's 2024 population, for 2012 too (the tables give no 2012 population)
    weight = {r.area_id: r.population for r in tarija[tarija["period"] == "2024"].itertuples()}
    for period in PERIODS:
        for indicator in ("nbi", "improved_water", "adolescent_parity"):
            rows = tarija[(tarija["period"] == period) & (tarija["indicator_id"] == indicator)]
            expected = sum(r.value * weight[r.area_id] for r in rows.itertuples()) / sum(weight.values())
            row = value(home, "06", indicator, period)
            assert row["value"] == pytest.approx(expected, rel=1e-12)
            assert row["note"].startswith("population-weighted mean of its 11 municipio areas' values; weights: "
                                          "total population, census 2024")
            assert ("the tables give no 2012 population" in row["note"]) == (period == "2012")
    # ... and not the plain mean of the rates: the city of Tarija weighs more than the rural municipalities
    nbi_2024 = tarija[(tarija["period"] == "2024") & (tarija["indicator_id"] == "nbi")]["value"]
    assert abs(value(home, "06", "nbi", "2024")["value"] - nbi_2024.mean()) > 0.05


def test_weighted_mean_by_hand_with_a_missing_figure():
    # department D of municipalities M1, M2, M3 (2024 population 100, 300, 50); M3 has no figure for x
    areas = pd.DataFrame({"area_id": ["D", "M1", "M2", "M3"], "level": ["dep", "mun", "mun", "mun"],
                          "depth": [1, 0, 0, 0], "parent_id": [None, "D", "D", "D"]})
    population = {"M1": 100, "M2": 300, "M3": 50}
    rows = [("M1", "x", 0.2), ("M2", "x", 0.5), ("M1", "y", 0.1), ("M2", "y", 0.3), ("M3", "y", 0.9)]
    staged = pd.DataFrame([{"area_id": a, "indicator_id": i, "period": p, "value": v, "note": None,
                            "population": population[a] if p == "2024" else pd.NA}
                           for p in ("2012", "2024") for a, i, v in rows])
    catalogue = pd.DataFrame({"indicator_id": ["x", "y"]})
    for period in ("2012", "2024"):
        out = indicator_values(areas, staged, catalogue, period).set_index(["area_id", "indicator_id"])
        assert len(out) == 8  # every area x every indicator
        # x: (0.2 x 100 + 0.5 x 300) / (100 + 300) = 170 / 400 = 0.425, M3 left out
        assert out.loc[("D", "x"), "value"] == pytest.approx(0.425, abs=1e-15)
        assert out.loc[("D", "x"), "note"].startswith("population-weighted mean of 2 of its 3 mun areas' values "
                                                      "(1 without a value or a population left out)")
        # y: (0.1 x 100 + 0.3 x 300 + 0.9 x 50) / 450 = (10 + 90 + 45) / 450 = 0.3222...; a plain mean is 0.4333
        assert out.loc[("D", "y"), "value"] == pytest.approx(145 / 450, abs=1e-15)
        assert out.loc[("D", "y"), "note"].endswith("weights: total population, census 2024" + (
            " (the tables give no 2012 population)" if period == "2012" else ""))
        assert pd.isna(out.loc[("M3", "x"), "value"]) and out.loc[("M3", "x"), "note"] == NO_FIGURE
        assert out.loc[("M2", "y"), "value"] == 0.3 and pd.isna(out.loc[("M2", "y"), "note"])


# ---------------------------------------------------------------------------------------------------------------
# Index scores
# ---------------------------------------------------------------------------------------------------------------

def test_every_municipality_has_scores_in_both_censuses(built):
    home, result, _ = built
    scores = read(home, "SELECT * FROM marts.index_scores WHERE city = ?", [CITY.name])
    assert result["index_scores"] == {"2012": 352 * 5, "2024": 352 * 5}
    assert result["outside_goalposts"] == {"2012": 0, "2024": 0}
    root = scores[scores["node_id"] == "wellbeing"]
    for period in PERIODS:
        municipal = root[(root["period"] == period) & (root["level"] == "municipio")]
        assert len(municipal) == 343 and municipal["score"].notna().all()
        assert municipal["quantile"].between(1, 5).all()
    assert scores["score"].between(0, 100).all()


def test_la_paz_index_by_hand_and_its_improvement(built):
    home, *_ = built
    # INE's figures for La Paz (020101), 2012 -> 2024, in %; goalposts 0..100 % (parity 0..1.2, lower is better):
    #   health:       births attended 82.2 -> 98.0, parity 0.1 -> 0.0 ((1.2-0.1)/1.2 = 91.6667 -> 100),
    #                 birth registration 95.8 -> 98.5:
    #                 (82.2 + 91.6667 + 95.8)/3 = 89.8889;  (98 + 100 + 98.5)/3 = 98.8333
    #   education:    (97.7 + 67.6 + 97.9 + 87.3)/4 = 87.625;  (98.0 + 95.4 + 99.5 + 92.5)/4 = 96.35
    #   services:     (95.4 + 61.1 + 98.9 + 99.2)/4 = 88.65;   (97.0 + 83.4 + 99.2 + 99.3)/4 = 94.725
    #   connectivity: internet 22.3 -> 91.3
    #   well-being:   (89.8889 + 87.625 + 88.65 + 22.3)/4 = 72.1160;  (98.8333 + 96.35 + 94.725 + 91.3)/4 = 95.3021
    expected = {"2012": {"health": (82.2 + 1.1 / 1.2 * 100 + 95.8) / 3, "education": 87.625, "services": 88.65,
                         "connectivity": 22.3},
                "2024": {"health": (98.0 + 100 + 98.5) / 3, "education": 96.35, "services": 94.725,
                         "connectivity": 91.3}}
    for period, nodes in expected.items():
        for node, points in nodes.items():
            assert score(home, LA_PAZ, node, period)["score"] == pytest.approx(points, abs=1e-9)
        assert score(home, LA_PAZ, "wellbeing", period)["score"] == pytest.approx(sum(nodes.values()) / 4, abs=1e-9)
    assert score(home, LA_PAZ, "wellbeing", "2012")["score"] == pytest.approx(72.1160, abs=1e-4)
    assert score(home, LA_PAZ, "wellbeing", "2024")["score"] == pytest.approx(95.3021, abs=1e-4)
    # the index improves (+23.19 points) and La Paz stays the first municipality of Bolivia in both censuses
    change = read(home, "SELECT * FROM marts.index_change WHERE city = ? AND area_id = ? AND node_id = 'wellbeing'",
                  [CITY.name, LA_PAZ]).iloc[0]
    assert change["score_change"] == pytest.approx(95.302083 - 72.115972, abs=1e-5)
    assert (change["rank_from"], change["rank_to"], change["rank_change"]) == (1, 1, 0)
    # published rates: no figure withheld behind any score; quantiles on the index only
    scores = read(home, "SELECT node_id, suppressed_inputs, quantile FROM marts.index_scores WHERE city = ?",
                  [CITY.name])
    assert (scores["suppressed_inputs"] == 0).all()
    root = scores["node_id"] == "wellbeing"
    assert scores.loc[root, "quantile"].notna().all() and scores.loc[~root, "quantile"].isna().all()


def test_every_municipality_improves_and_el_alto_moves_up(built):
    home, *_ = built
    change = read(home, "SELECT * FROM marts.index_change WHERE city = ? AND node_id = 'wellbeing'", [CITY.name])
    assert len(change) == 352 and change["score_change"].notna().all()
    assert (change["score_change"] > 0).all()  # with common goalposts, every area gains (11 to 42 points)
    el_alto = change.set_index("area_id").loc[EL_ALTO]
    assert el_alto["rank_change"] == el_alto["rank_from"] - el_alto["rank_to"] > 0  # 21st -> 5th in the data


def test_departments_are_scored_on_the_same_goalposts(built):
    home, *_ = built
    # La Paz department, 2024 services: 100 x the mean of its four (population-weighted) shares
    shares = [value(home, "02", i, "2024")["value"] for i in ("improved_water", "safe_sanitation", "electricity",
                                                              "clean_cooking_fuel")]
    assert score(home, "02", "services", "2024")["score"] == pytest.approx(100 * sum(shares) / 4, abs=1e-9)
    ranks = read(home, "SELECT rank FROM marts.index_scores WHERE city = ? AND level = 'departamento' "
                 "AND node_id = 'wellbeing' AND period = '2024' ORDER BY rank", [CITY.name])
    assert ranks["rank"].tolist() == list(range(1, 10))  # ranked among the 9 departments


def test_runs_record_the_spec_of_each_census(built):
    home, *_ = built
    runs = read(home, "SELECT * FROM marts.index_runs WHERE city = ? ORDER BY period", [CITY.name])
    assert runs["period"].tolist() == list(PERIODS)
    assert (runs["spec_yaml"] == CITY.index_spec_path.read_text(encoding="utf-8")).all()
    assert (runs["spec_sha256"] == load_spec(CITY.index_spec_path).sha256()).all()
    weights = read(home, "SELECT period, basis, node_id, sum(weight) AS total FROM marts.index_weights "
                   "WHERE city = ? GROUP BY ALL", [CITY.name])
    assert weights["total"].round(12).eq(1).all()
    # each census's own weights, and the 2012-2024 change's common basis recorded for both years
    assert weights.groupby("basis").size().to_dict() == {"full": 2 * 5, "change 2012-2024": 2 * 5}


def test_the_marts_pass_their_quality_gates(built, monkeypatch):
    from expectations.gate import run_gate

    home, *_ = built
    monkeypatch.setenv("BIENESTAR_HOME", str(home))
    for period in PERIODS:
        for suite in ("marts_indicator_values", "marts_index_scores"):
            outcomes = run_gate(CITY, suite, "test-bolivia-marts", period)  # raises GateFailed on a blocking failure
            assert all(o.success for o in outcomes), suite


def test_rerun_gives_identical_marts(built):
    home, *_ = built
    before = {t: read(home, f"SELECT * FROM marts.{t} WHERE city = ? ORDER BY ALL", [CITY.name]) for t in MARTS}
    build_everything(home)
    for table, frame in before.items():
        after = read(home, f"SELECT * FROM marts.{table} WHERE city = ? ORDER BY ALL", [CITY.name])
        pd.testing.assert_frame_equal(after, frame, obj=table)
