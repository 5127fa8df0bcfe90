"""indicators/build.py's scoring step on planted marts (a real DuckDB working database): the published scores are
the engine's, level by level; quantiles only on the index itself; rank bands from the city's Monte Carlo
settings (500 runs, seed 0 when it sets none); every score counts the withheld figures it rests on."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bienestar import warehouse
from cities import load_city
from indicators.build import _areas_with_population, build_index_scores
from indicators.engine import compute_index, load_spec
from indicators.sensitivity import run_sensitivity
from privacy import disclosure

CITY = load_city("la_paz_demo")
SPEC = load_spec(CITY.index_spec_path)
LEVELS = {"zona": [f"Z{i}" for i in range(1, 9)], "distrito": ["D1", "D2", "D3"]}


def planted(period: str, seed: int) -> pd.DataFrame:
    """A value in [0, 1] for every area, level and indicator of the spec (the zone Z3 withholds one)."""
    rng = np.random.default_rng(seed)
    rows = [{"area_id": area, "level": level, "indicator_id": column, "period": period,
             "value": float(rng.uniform(0.05, 0.95)), "suppressed": area == "Z3" and k == 0}
            for level, areas in LEVELS.items() for area in areas
            for k, column in enumerate(SPEC.column(i) for i in SPEC.indicator_ids)]
    return pd.DataFrame(rows)


@pytest.fixture()
def built(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = dataclasses.replace(CITY, config={k: v for k, v in CITY.config.items() if k != "index_uncertainty"})
    values = {period: planted(period, seed) for seed, period in enumerate(city.vintages)}
    with warehouse.session(city) as con:
        staged = pd.concat(values.values(), ignore_index=True)
        warehouse.replace_partition(con, "staging.indicator_values", staged.drop(columns="suppressed"),
                                    {"city": city.name})
        warehouse.replace_partition(con, "marts.indicator_values", staged, {"city": city.name})
        catalogue = pd.DataFrame({"indicator_id": staged["indicator_id"].unique(), "unit": "share"})
        warehouse.replace_partition(con, "marts.indicator_catalogue", catalogue, {"city": city.name})
    build_index_scores(city)
    with warehouse.session(city) as con:
        tables = {t: con.execute(f"SELECT * FROM marts.{t} WHERE city = ?", [city.name]).df()
                  for t in ("index_scores", "index_uncertainty", "index_weights", "index_runs")}
    return values, tables


def test_scores_are_the_engines_level_by_level(built):
    values, tables = built
    scores = tables["index_scores"]
    for period, frame in values.items():
        for level, group in frame.groupby("level"):
            wide = group.pivot(index="area_id", columns="indicator_id", values="value").reset_index()
            wide.columns.name = None
            expected = compute_index(wide, SPEC).set_index("area_id")
            mine = scores[(scores["period"] == period) & (scores["level"] == level)]
            root = mine[mine["node_id"] == SPEC.root].set_index("area_id")
            assert root["score"].to_dict() == pytest.approx(expected["score"].to_dict())
            assert root["rank"].astype(int).to_dict() == expected["rank"].astype(int).to_dict()
            assert root["quantile"].astype(int).to_dict() == expected["quantile"].astype(int).to_dict()
            others = mine[mine["node_id"] != SPEC.root]
            assert others["quantile"].isna().all() and others["rank"].notna().all()  # quantiles: the index only
            node = SPEC.node_order()[0]
            assert mine[mine["node_id"] == node].set_index("area_id")["score"].to_dict() == pytest.approx(
                expected[node].to_dict())


def test_rank_bands_default_to_500_runs_seed_0(built):
    values, tables = built
    bands = tables["index_uncertainty"]
    frame = values[CITY.vintage]
    wide = frame[frame["level"] == "zona"].pivot(index="area_id", columns="indicator_id", values="value")
    wide = wide.reset_index()
    wide.columns.name = None
    expected = run_sensitivity(wide, SPEC, runs=500, seed=0).summary.set_index(SPEC.unit)
    mine = bands[(bands["period"] == CITY.vintage) & (bands["level"] == "zona")].set_index("area_id")
    assert mine["p95_rank"].to_dict() == expected["p95_rank"].to_dict()
    assert mine["median_rank"].to_dict() == expected["median_rank"].to_dict()


def test_every_score_counts_the_withheld_figures_it_rests_on(built):
    _, tables = built
    scores = tables["index_scores"].set_index(["period", "level", "area_id", "node_id"])
    assert scores.loc[(CITY.vintage, "zona", "Z3", SPEC.root), "suppressed_inputs"] == 1
    assert scores.loc[(CITY.vintage, "zona", "Z1", SPEC.root), "suppressed_inputs"] == 0


def test_weights_and_the_spec_behind_the_scores_are_recorded(built):
    _, tables = built
    weights = tables["index_weights"]
    for basis, group in weights.groupby("basis"):  # each period's own weights, and the change's common basis
        assert group.groupby(["period", "node_id"])["weight"].sum().to_numpy() == pytest.approx(1.0), basis
    assert set(weights["basis"]) == {"full", "change 2012-2024"}
    # every planted indicator has values in both years: the basis is the whole spec, as declared
    own = weights[weights["basis"] == "full"]
    assert (own["weight"] == own["declared_weight"]).all()
    assert set(tables["index_runs"]["spec_sha256"]) == {SPEC.sha256()}


def test_populations_under_the_minimum_are_withheld_and_not_given_away_by_their_parent():
    """Z1 30 residents, Z2 10 (under 20: withheld), their district D 40: publishing D and Z1 would give Z2 away
    (40 - 30), so one of them is withheld too; the other district E (25 in one zone) publishes both."""
    areas = pd.DataFrame({"area_id": ["D", "E", "Z1", "Z2", "Z3"], "level": ["d", "d", "z", "z", "z"],
                          "depth": [1, 1, 0, 0, 0], "name": list("DEabc"), "parent_id": [None, None, "D", "D", "E"],
                          "geometry_wkt": None})
    pop = pd.DataFrame({"area_id": ["Z1", "Z2", "Z3"], "residents": [30, 10, 25]})
    out = _areas_with_population(areas, pop, disclosure.Rules.of(CITY)).set_index("area_id")["population"]
    assert pd.isna(out["Z2"]) and pd.isna(out["Z1"]) != pd.isna(out["D"])
    assert out["Z3"] == 25 and out["E"] == 25
