"""The blocking marts gate `marts_coverage`: an index dimension or indicator whose sources were delivered for the
period may lack (no value, not suppressed) at most `max_missing_share` of the smallest areas. Read from real
marts tables by the suite's own SQL, validated by GX through `run_gate`."""

import pandas as pd
import pytest

from bienestar import warehouse
from cities import City
from expectations.gate import GateFailed, run_gate
from expectations.suites import read_marts_coverage
from tests.configs import SENSORS, city_with

ZONES = [f"Z{i:02d}" for i in range(10)]


def city(tmp_path, **quality) -> City:
    return city_with("tiny", tmp_path, sensors=SENSORS, months=["2024-06"], quality=quality)


def build_marts(c: City, *, pm25_missing=0, pm25_suppressed=0, env_unscored=0, period="2024") -> None:
    """Ten zones and a district; an index `wellbeing` = housing (crowding: census) + environment (pm25: sensors)."""
    areas = pd.DataFrame({"area_id": [*ZONES, "D1"], "depth": [0] * 10 + [1]})
    catalogue = pd.DataFrame({"indicator_id": ["crowding", "pm25_mean"], "source": ["census", "sensors"]})
    weights = pd.DataFrame({"node_id": ["housing", "environment", "wellbeing", "wellbeing"],
                            "child_id": ["crowding", "pm25_mean", "housing", "environment"],
                            "weight": [1.0, 1.0, 0.5, 0.5], "basis": "full"})
    values = []
    for i, zone in enumerate([*ZONES, "D1"]):
        values.append({"area_id": zone, "indicator_id": "crowding", "value": 0.1, "suppressed": False})
        suppressed = i < pm25_suppressed
        gone = pm25_suppressed <= i < pm25_suppressed + pm25_missing
        values.append({"area_id": zone, "indicator_id": "pm25_mean", "value": None if suppressed or gone else 9.0,
                       "suppressed": suppressed})
    scores = [{"area_id": z, "node_id": node, "score": None if node == "environment" and i < env_unscored else 50.0}
              for i, z in enumerate(ZONES) for node in ("housing", "environment", "wellbeing")]
    key = {"city": c.name}
    with warehouse.session(c) as con:
        warehouse.replace_partition(con, "marts.areas", areas, key)
        warehouse.replace_partition(con, "marts.indicator_catalogue", catalogue, key)
        warehouse.replace_partition(con, "marts.index_weights", weights, {**key, "period": period})
        warehouse.replace_partition(con, "marts.indicator_values", pd.DataFrame(values), {**key, "period": period})
        warehouse.replace_partition(con, "marts.index_scores", pd.DataFrame(scores), {**key, "period": period})


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    return tmp_path


def coverage(c: City, period="2024") -> dict:
    with warehouse.session(c) as con:
        frame = read_marts_coverage(con, c, period)
    return frame.set_index("item")["coverage"].to_dict()


def test_complete_marts_pass(home, tmp_path):
    c = city(tmp_path)
    build_marts(c)
    assert set(coverage(c).values()) == {"ok"}
    assert len(run_gate(c, "marts_coverage", "t", "2024")) == 1


@pytest.mark.parametrize(("missing", "passes"), [(0, True), (1, True), (2, False), (10, False)])
def test_an_indicator_at_below_and_above_the_threshold(home, tmp_path, missing, passes):
    c = city(tmp_path)  # default max_missing_share 0.1: 1 of 10 zones may lack it, 2 may not
    build_marts(c, pm25_missing=missing)
    verdict = coverage(c)["pm25_mean"]
    if passes:
        assert verdict == "ok"
        run_gate(c, "marts_coverage", "t", "2024")
    else:
        assert verdict == (f"pm25_mean (indicator) has no value for {missing} of 10 smallest areas "
                           f"({missing * 10}%; at most 10%)")
        with pytest.raises(GateFailed, match="pm25_mean"):
            run_gate(c, "marts_coverage", "t", "2024")


def test_suppressed_cells_are_withheld_not_missing(home, tmp_path):
    c = city(tmp_path)
    build_marts(c, pm25_suppressed=5, pm25_missing=1)
    assert coverage(c)["pm25_mean"] == "ok"


def test_a_dimension_withheld_by_suppression_is_not_missing(home, tmp_path):
    c = city(tmp_path)
    build_marts(c, pm25_suppressed=6, env_unscored=6)  # no score where its one indicator is suppressed
    assert coverage(c)["environment"] == "ok"
    build_marts(c, pm25_suppressed=1, env_unscored=3)  # two unscored zones with nothing suppressed: 20%
    assert coverage(c)["environment"].startswith("environment (node) has no value for 2 of 10")


def test_a_dimension_without_scores_blocks(home, tmp_path):
    c = city(tmp_path)
    build_marts(c, env_unscored=10)  # the whole environment dimension NULL: the wrong snapshot
    assert coverage(c)["environment"].startswith("environment (node) has no value for 10 of 10")
    with pytest.raises(GateFailed, match="environment"):
        run_gate(c, "marts_coverage", "t", "2024")


def test_a_source_not_delivered_for_the_period_is_not_expected(home, tmp_path):
    c = city(tmp_path)
    build_marts(c, pm25_missing=10, env_unscored=10, period="2012")  # no month listed in 2012: no sensors
    assert set(coverage(c, "2012").values()) == {"ok"}


def test_the_city_sets_its_threshold(home, tmp_path):
    c = city(tmp_path, max_missing_share=0.2)
    build_marts(c, pm25_missing=2)
    assert coverage(c)["pm25_mean"] == "ok"
    build_marts(c, pm25_missing=3)
    assert "at most 20%" in coverage(c)["pm25_mean"]
