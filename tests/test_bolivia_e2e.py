"""The real Bolivian municipal census through the real DAGs: aggregate tables in, an index for 2012 and 2024 and
its change out, published and reported, with INE's published figures checked on the way."""

import duckdb
import pytest

pytestmark = pytest.mark.e2e  # real DAG runs of a whole city: make test, not make test-fast


@pytest.fixture(scope="module")
def published(bolivia_run):
    """conftest.bolivia_run: the city run once per session (the notebook tests read the same snapshot)."""
    return bolivia_run


def read(paths, sql, params=()):
    con = duckdb.connect(str(paths.current_snapshot_for("bolivia_municipal")), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def test_published_nbi_of_la_paz_and_el_alto(published):
    paths, _ = published
    nbi = read(paths, "SELECT area_id, period, value FROM marts.indicator_values WHERE indicator_id = 'nbi' "
                      "AND area_id IN ('020101', '020105')").set_index(["area_id", "period"])["value"]
    # INE, census 2012 and 2024: La Paz 14.3% -> 7.24%, El Alto 36.0% -> 16.87%
    assert round(nbi[("020101", "2012")] * 100, 1) == 14.3 and round(nbi[("020101", "2024")] * 100, 2) == 7.24
    assert round(nbi[("020105", "2012")] * 100, 1) == 36.0 and round(nbi[("020105", "2024")] * 100, 2) == 16.87


def test_index_for_both_census_years_and_its_change(published):
    paths, _ = published
    scores = read(paths, "SELECT period, count(*) AS n FROM marts.index_scores WHERE node_id = index_id "
                         "AND level = 'municipio' AND score IS NOT NULL GROUP BY period ORDER BY period")
    assert scores["period"].tolist() == ["2012", "2024"] and (scores["n"] >= 330).all()
    change = read(paths, "SELECT * FROM marts.index_change WHERE area_id = '020101' AND node_id = index_id")
    assert len(change) == 1 and change["period_from"].iloc[0] == "2012" and change["period_to"].iloc[0] == "2024"
    row = change.iloc[0]
    assert row["score_change"] == pytest.approx(row["score_to"] - row["score_from"])


def test_report_and_quality_record(published):
    paths, city = published
    html = (paths.reports_for(city.name) / "index.html").read_text(encoding="utf-8")
    assert "Bolivia" in html and 'id="index-map"' in html and "Fuente: INE, Censo de Población y Vivienda" in html
    con = duckdb.connect(str(paths.warehouse_for(city.name)), read_only=True)
    try:
        gates = con.execute("SELECT DISTINCT suite, \"partition\" FROM audit.validation_results WHERE city = ? "
                            "ORDER BY ALL", [city.name]).fetchall()
    finally:
        con.close()
    assert ("marts_indicator_values", "2012") in gates and ("marts_index_scores", "2024") in gates


def test_nothing_to_recover_from_the_published_tables(published):
    """INE's published rates carry no counts: disclosure control has nothing to withhold, and the attacker
    finds no count of anyone in the snapshot."""
    from privacy.attack import attack

    paths, _ = published
    summary = attack(paths.current_snapshot_for("bolivia_municipal")).summary()
    assert summary == {"withheld cells": 0, "withheld numerators recovered": 0, "withheld values recovered": 0,
                       "published counts of 1-4": 0, "derived counts of 1-4": 0}
