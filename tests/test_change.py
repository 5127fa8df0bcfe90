"""Change between two periods (indicators/change.py) on a tiny example checked by hand: 2 periods x 3 areas."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from bienestar import warehouse
from cities import City, CityConfigError
from indicators.change import build_change_marts, change_periods, index_change, indicator_change
from tests.configs import city_with


def scores(period: str, rows: list[tuple]) -> pd.DataFrame:
    """marts.index_scores rows: (area_id, node_id, score, rank)."""
    frame = pd.DataFrame(rows, columns=["area_id", "node_id", "score", "rank"])
    frame["rank"] = frame["rank"].astype("Int64")
    return frame.assign(index_id="wellbeing", level="zona", period=period, quantile=pd.NA)


def values(period: str, rows: list[tuple]) -> pd.DataFrame:
    """marts.indicator_values rows: (area_id, indicator_id, value)."""
    frame = pd.DataFrame(rows, columns=["area_id", "indicator_id", "value"])
    return frame.assign(level="zona", period=period, numerator=np.nan, denominator=np.nan, suppressed=False,
                        note=None)


# Index: A 50 (rank 2) -> 80 (rank 1); B 70 (1) -> 75 (2); C 30 (3) -> 40 (3); C has no health score in 2012.
SCORES_2012 = scores("2012", [("A", "wellbeing", 50.0, 2), ("B", "wellbeing", 70.0, 1), ("C", "wellbeing", 30.0, 3),
                              ("A", "health", 60.0, 1), ("B", "health", 40.0, 2), ("C", "health", np.nan, pd.NA)])
SCORES_2024 = scores("2024", [("A", "wellbeing", 80.0, 1), ("B", "wellbeing", 75.0, 2), ("C", "wellbeing", 40.0, 3),
                              ("A", "health", 65.0, 2), ("B", "health", 70.0, 1), ("C", "health", 20.0, 3)])
# Indicators: no_water (share) A 0.40 -> 0.25, B 0.10 -> 0.12, C not measured in 2012 -> 0.30;
#             visits (per 1000) A 12.5 -> 10.0, B 8.0 -> 8.0, C 4.0 -> 6.5
VALUES_2012 = values("2012", [("A", "no_water", 0.40), ("B", "no_water", 0.10), ("C", "no_water", np.nan),
                              ("A", "visits", 12.5), ("B", "visits", 8.0), ("C", "visits", 4.0)])
VALUES_2024 = values("2024", [("A", "no_water", 0.25), ("B", "no_water", 0.12), ("C", "no_water", 0.30),
                              ("A", "visits", 10.0), ("B", "visits", 8.0), ("C", "visits", 6.5)])
UNITS = {"no_water": "share", "visits": "per 1000"}


def test_index_change_by_hand():
    out = index_change(SCORES_2012, SCORES_2024)
    assert list(out.columns) == ["index_id", "area_id", "level", "node_id", "period_from", "period_to",
                                 "score_from", "score_to", "score_change", "rank_from", "rank_to", "rank_change"]
    assert (out["period_from"] == "2012").all() and (out["period_to"] == "2024").all()
    root = out[out["node_id"] == "wellbeing"].set_index("area_id")
    # A: 80 - 50 = +30, rank 2 -> 1: moved up 1;  B: 75 - 70 = +5, rank 1 -> 2: down 1;  C: 40 - 30 = +10, 3 -> 3: 0
    assert root["score_change"].to_dict() == {"A": 30.0, "B": 5.0, "C": 10.0}
    assert root["rank_change"].to_dict() == {"A": 1, "B": -1, "C": 0}
    assert root.loc["A", ["rank_from", "rank_to"]].tolist() == [2, 1]
    health = out[out["node_id"] == "health"].set_index("area_id")
    # A: 65 - 60 = +5, rank 1 -> 2: -1;  B: 70 - 40 = +30, 2 -> 1: +1;  C: no 2012 score, no change
    assert health.loc["A", ["score_change", "rank_change"]].tolist() == [5.0, -1]
    assert health.loc["B", ["score_change", "rank_change"]].tolist() == [30.0, 1]
    assert health.loc["C", "score_to"] == 20.0 and health.loc["C", "rank_to"] == 3
    assert pd.isna(health.loc["C", "score_change"]) and pd.isna(health.loc["C", "rank_change"])


def test_indicator_change_by_hand():
    out = indicator_change(VALUES_2012, VALUES_2024, UNITS)
    assert list(out.columns) == ["area_id", "level", "indicator_id", "period_from", "period_to", "value_from",
                                 "value_to", "change", "change_pp"]
    out = out.set_index(["area_id", "indicator_id"])
    # no_water: A 0.25 - 0.40 = -0.15 (-15 points), B 0.12 - 0.10 = +0.02 (+2 points), C no 2012 value
    assert out.loc[("A", "no_water"), ["change", "change_pp"]].tolist() == [-0.15, -15.0]
    assert out.loc[("B", "no_water"), ["change", "change_pp"]].tolist() == [0.02, 2.0]
    assert pd.isna(out.loc[("C", "no_water"), "change"]) and out.loc[("C", "no_water"), "value_to"] == 0.30
    # visits is a rate per 1000, not a share: A 10 - 12.5 = -2.5, B 0, C 6.5 - 4 = +2.5; no percentage points
    assert out.xs("visits", level="indicator_id")["change"].to_dict() == {"A": -2.5, "B": 0.0, "C": 2.5}
    assert out.xs("visits", level="indicator_id")["change_pp"].isna().all()
    # without units no change is called percentage points
    assert indicator_change(VALUES_2012, VALUES_2024)["change_pp"].isna().all()


def test_an_area_in_one_period_only_keeps_its_row():
    later = pd.concat([SCORES_2024, scores("2024", [("D", "wellbeing", 90.0, 1)])], ignore_index=True)
    out = index_change(SCORES_2012, later).set_index(["area_id", "node_id"])
    assert len(out) == 7
    assert pd.isna(out.loc[("D", "wellbeing"), "score_from"]) and out.loc[("D", "wellbeing"), "score_to"] == 90.0
    assert pd.isna(out.loc[("D", "wellbeing"), "score_change"]) and pd.isna(out.loc[("D", "wellbeing"), "rank_change"])


def test_two_frames_of_one_period_or_a_mixed_frame_are_refused():
    with pytest.raises(ValueError, match="both frames hold period 2012"):
        index_change(SCORES_2012, SCORES_2012)
    with pytest.raises(ValueError, match=r"exactly one period, got \['2012', '2024'\]"):
        indicator_change(pd.concat([VALUES_2012, VALUES_2024]), VALUES_2024)


TINY_SPEC = """
id: wellbeing
unit: area_id
indicators:
  - {id: no_water, direction: -1, normalise: {method: goalposts, min: 0, max: 1}}
  - {id: visits, direction: 1, normalise: {method: minmax}}
nodes:
  - {id: services, children: [no_water]}
  - {id: health, children: [visits]}
  - {id: wellbeing, children: [services, health]}
missing: {min_share: 0.5, impute: none}
"""


def tiny_city(tmp_path) -> City:
    (tmp_path / "spec.yaml").write_text(TINY_SPEC)
    return city_with("tiny", tmp_path, changes=[{"period_from": "2012", "period_to": "2024"}], index="spec.yaml")


def test_build_change_marts_writes_and_replaces_its_partition(tmp_path, monkeypatch):
    """The index change on the common basis, by hand. services = (1 - no_water) x 100; health = visits on the
    goalposts of both periods together (4 to 12.5): (visits - 4) / 8.5 x 100; the index is their mean, or the one
    present (min_share 0.5).
    A: 2012 (60 + 100) / 2 = 80; 2024 (75 + 70.588235) / 2 = 72.794118: -7.205882, rank 1 -> 1.
    B: 2012 (90 + 47.058824) / 2 = 68.529412; 2024 (88 + 47.058824) / 2 = 67.529412: -1 exactly, rank 2 -> 2.
    C: 2012 0 (health alone: no_water not measured); 2024 (70 + 29.411765) / 2 = 49.705882, rank 3 -> 3.
    Each period's own minmax would have put visits on 0..100 in both years (A 100 -> 100)."""
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = tiny_city(tmp_path)
    assert change_periods(city) == [("2012", "2024")]
    catalogue = pd.DataFrame({"indicator_id": ["no_water", "visits"], "unit": ["share", "per 1000"]})
    with warehouse.session(city) as con:
        # the sample city's indicator values carry margins of error too: extra columns must not matter
        for frame in (VALUES_2012, VALUES_2024):
            period = frame["period"].iloc[0]
            warehouse.replace_partition(con, "marts.indicator_values", frame.assign(moe_low=np.nan, moe_high=np.nan),
                                        {"city": "tiny", "period": period})
            warehouse.replace_partition(con, "staging.indicator_values", frame[["area_id", "level", "indicator_id",
                                                                                "value"]],
                                        {"city": "tiny", "period": period})
        warehouse.replace_partition(con, "marts.indicator_catalogue", catalogue, {"city": "tiny"})
    counts = build_change_marts(city, "2012", "2024")
    assert counts == {"index_change": 9, "indicator_change": 6}  # 3 areas x (index, services, health)
    again = build_change_marts(city, "2012", "2024")  # a rerun replaces, never duplicates
    assert again == counts
    with duckdb.connect(str(tmp_path / "warehouse" / "tiny.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT area_id, change_pp FROM marts.indicator_change WHERE city = 'tiny' AND "
                           "indicator_id = 'no_water' ORDER BY area_id").fetchall()
        root = con.execute("SELECT area_id, score_from, score_to, score_change, rank_change FROM marts.index_change "
                           "WHERE city = 'tiny' AND node_id = 'wellbeing' ORDER BY area_id").fetchall()
        weights = con.execute("SELECT period, node_id, child_id, weight FROM marts.index_weights WHERE city = "
                              "'tiny' ORDER BY ALL").fetchall()
        assert con.execute("SELECT count(*) FROM marts.index_change").fetchone()[0] == 9
    assert rows == [("A", -15.0), ("B", 2.0), ("C", None)]
    expected = [("A", 80.0, 72.794118, -7.205882, 0), ("B", 68.529412, 67.529412, -1.0, 0),
                ("C", 0.0, 49.705882, 49.705882, 0)]
    for got, want in zip(root, expected, strict=True):
        assert got[0] == want[0] and got[1:4] == pytest.approx(want[1:4], abs=1e-6) and got[4] == want[4]
    # the basis is the whole spec here (both indicators measured in both years), recorded for both periods
    assert weights == [(p, n, c, w) for p in ("2012", "2024") for n, c, w in
                       (("health", "visits", 1.0), ("services", "no_water", 1.0), ("wellbeing", "health", 0.5),
                        ("wellbeing", "services", 0.5))]


def test_build_change_marts_needs_both_periods(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="no staging.indicator_values for 'tiny' 2012"):
        build_change_marts(tiny_city(tmp_path), "2012", "2024")


def test_change_periods_must_name_both_ends(tmp_path):
    city = city_with("tiny", tmp_path, changes=[{"period_from": "2012"}])
    with pytest.raises(CityConfigError, match=r"city.yaml: changes.0.period_to: missing \(required\)"):
        change_periods(city)


def test_float_noise_below_12_decimals_is_no_change():
    """0.3 - 0.1 is 0.19999999999999998 in floating point, and 1.0000000000001 - 1.0 is 1e-13: changes are
    rounded to 12 decimals, so the first reads 0.2 and the second 0 (no change), not noise."""
    a = scores("2012", [("A", "wellbeing", 0.1, 1), ("B", "wellbeing", 1.0, 1)])
    b = scores("2024", [("A", "wellbeing", 0.3, 1), ("B", "wellbeing", 1.0000000000001, 1)])
    out = index_change(a, b).set_index("area_id")["score_change"]
    assert out["A"] == 0.2 and out["B"] == 0.0
    v = indicator_change(values("2012", [("A", "x", 1.0)]), values("2024", [("A", "x", 1.0000000000001)]),
                         {"x": "share"})
    assert v["change"].tolist() == [0.0] and v["change_pp"].tolist() == [0.0]


def test_a_change_with_indicators_ranked_within_each_period_is_logged(tmp_path, monkeypatch, caplog):
    """visits normalised by rank cannot share goalposts between the periods: the build says so."""
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = tiny_city(tmp_path)
    (tmp_path / "spec.yaml").write_text(TINY_SPEC.replace("normalise: {method: minmax}", "normalise: rank"))
    with warehouse.session(city) as con:
        for frame in (VALUES_2012, VALUES_2024):
            period = frame["period"].iloc[0]
            warehouse.replace_partition(con, "marts.indicator_values", frame, {"city": "tiny", "period": period})
            warehouse.replace_partition(con, "staging.indicator_values",
                                        frame[["area_id", "level", "indicator_id", "value"]],
                                        {"city": "tiny", "period": period})
        warehouse.replace_partition(con, "marts.indicator_catalogue",
                                    pd.DataFrame({"indicator_id": ["no_water", "visits"], "unit": ["share", "x"]}),
                                    {"city": "tiny"})
    with caplog.at_level("WARNING", logger="indicators.change"):
        build_change_marts(city, "2012", "2024")
    assert caplog.messages == ["change 2012-2024 of tiny: normalised within each period, so compared as "
                               "positions: visits"]
