"""End to end: generate the sample city, run the real DAGs through Airflow, check marts, quarantine and report.

One module-scoped run (about half a minute) serves every test here; a second run checks idempotency.
"""


import json

import duckdb
import pandas as pd
import pytest

from bienestar import settings
from bienestar.runner import run_pipeline
from cities import load_city
from sources.privacy import pseudonymise

pytestmark = pytest.mark.e2e  # real DAG runs of a whole city: make test, not make test-fast

MARTS = ["areas", "area_population", "indicator_values", "index_scores", "indicator_catalogue", "dimensions",
         "index_weights", "index_uncertainty", "index_runs", "data_quality", "index_change", "indicator_change",
         "change_basis", "levels", "schema_version", "survey_measures", "survey_estimates"]
# and publication, sources: the publication event (conftest.PUBLICATION_EVENT)


@pytest.fixture(scope="module")
def city():
    return load_city("la_paz_demo")


@pytest.fixture(scope="module")
def pipeline_run(complete_run):
    """The sample city run once through every DAG in order (conftest.complete_run); its planted faults."""
    return complete_run.manifest


def read(sql, params=(), path=None):
    con = duckdb.connect(str(path or settings.paths().current_snapshot_for("la_paz_demo")), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def zone_ids(city):
    import geopandas as gpd

    zones = gpd.read_file(settings.paths().landing_for(city.name) / city.config["boundaries"])
    return set(zones["zone_code"])


def test_every_zone_has_indicator_values_and_a_score(pipeline_run, city):
    zones = zone_ids(city)
    assert len(zones) >= 150
    values = read("SELECT area_id, indicator_id FROM marts.indicator_values WHERE level = 'zona' AND period = ?",
                  [city.vintage])
    catalogue = read("SELECT indicator_id FROM marts.indicator_catalogue")
    assert set(values["area_id"]) == zones
    assert len(values) == len(zones) * len(catalogue)  # every zone x every indicator, exactly once
    scores = read("SELECT area_id, score, rank, quantile FROM marts.index_scores "
                  "WHERE level = 'zona' AND node_id = 'wellbeing' AND period = ?", [city.vintage])
    assert set(scores["area_id"]) == zones and len(scores) == len(zones)
    scored = scores.dropna(subset=["score"])
    assert len(scored) >= 0.9 * len(zones)
    assert scored["score"].between(0, 100).all()
    assert scored["rank"].min() == 1 and set(scored["quantile"].dropna()) == {1, 2, 3, 4, 5}


def test_every_zone_has_a_rank_band(pipeline_run, city):
    bands = read("SELECT * FROM marts.index_uncertainty WHERE level = 'zona' AND period = ?", [city.vintage])
    ranks = read("SELECT area_id, rank FROM marts.index_scores WHERE level = 'zona' AND node_id = 'wellbeing' "
                 "AND period = ?", [city.vintage])
    assert set(bands["area_id"]) == zone_ids(city)
    scored = bands.dropna(subset=["median_rank"])
    assert (scored["p05_rank"] <= scored["median_rank"]).all() and (scored["median_rank"] <= scored["p95_rank"]).all()
    # the nominal rank of the bands is the published rank
    merged = scored.merge(ranks, on="area_id")
    assert (merged["nominal_rank"] == merged["rank"]).all()


def test_macrodistrict_ranking_follows_la_paz_poverty_studies(pipeline_run, city):
    scores = read("SELECT a.name, s.score FROM marts.index_scores s JOIN marts.areas a USING (city, area_id) "
                  "WHERE s.level = 'macrodistrito' AND s.node_id = 'wellbeing' AND s.period = ?",
                  [city.vintage]).set_index("name")["score"]
    assert len(scores) == 9
    least = ["Zongo", "Max Paredes", "Cotahuma", "Hampaturi", "Periférica"]
    best = ["Sur", "Mallasa", "Centro"]
    assert scores[best].min() > scores[least].max()


def test_change_between_the_two_censuses(pipeline_run, city):
    """Every zone got better off between the 2012 and 2024 censuses of the sample city (the generator made 2012
    poorer everywhere); the change rows agree with the two periods' scores and values."""
    change = read("SELECT * FROM marts.index_change WHERE level = 'zona' AND node_id = 'housing'")
    assert set(change["period_from"]) == {"2012"} and set(change["period_to"]) == {"2024"}
    assert len(change) == len(zone_ids(city))
    both = change.dropna(subset=["score_from", "score_to"])
    assert (both["score_change"] - (both["score_to"] - both["score_from"])).abs().max() < 1e-9
    nbi = read("SELECT a.name, c.value_from, c.value_to, c.change FROM marts.indicator_change c "
               "JOIN marts.areas a USING (city, area_id) WHERE c.level = 'macrodistrito' "
               "AND c.indicator_id = 'nbi_poor_persons'")
    # less NBI poverty in every macrodistrict whose change is published; a change is published only where
    # both censuses' figures are (small rural macrodistricts may be withheld at this scale)
    published = nbi.dropna(subset=["change"])
    assert len(nbi) == 9 and len(published) >= 5 and (published["change"] < 0).all(), nbi
    assert nbi.loc[nbi["change"].isna(), ["value_from", "value_to"]].isna().any(axis=1).all()
    assert (nbi["change"] - (nbi["value_to"] - nbi["value_from"])).abs().max() < 1e-9
    services_2012 = read("SELECT DISTINCT note FROM marts.indicator_values WHERE period = '2012' "
                         "AND indicator_id = 'police_report_rate'")["note"].tolist()
    assert services_2012 == ["no service records delivered for 2012"]


def test_published_snapshot_holds_aggregates_only(pipeline_run):
    from bienestar.views import VIEWS

    tables = read("SELECT table_schema, table_name FROM information_schema.tables")
    assert set(tables["table_schema"]) == {"marts"}
    assert set(tables["table_name"]) == {*MARTS, "publication", "sources", *VIEWS}
    # suppressed cells publish nothing; published cells rest on at least the minimum denominator
    bad = read("SELECT count(*) AS n FROM marts.indicator_values v JOIN marts.indicator_catalogue c "
               "USING (city, indicator_id) WHERE (v.suppressed AND (v.value IS NOT NULL OR v.numerator IS NOT NULL)) "
               "OR (NOT v.suppressed AND v.denominator < c.min_denominator)")
    assert bad["n"].iloc[0] == 0
    assert read("SELECT count(*) AS n FROM marts.indicator_values WHERE suppressed")["n"].iloc[0] > 0


def test_nothing_withheld_can_be_recovered_from_the_snapshot(pipeline_run):
    """The attacker (privacy/attack.py) on the published snapshot: hierarchy, counts shared between
    indicators, parts of a whole and changes between censuses, solved exactly. Nothing comes out."""
    from privacy.attack import attack

    found = attack(settings.paths().current_snapshot_for("la_paz_demo"))
    summary = found.summary()
    assert summary.pop("withheld cells") > 1000, summary  # at this scale many zones are small
    assert summary == {"withheld numerators recovered": 0, "withheld values recovered": 0,
                       "published counts of 1-4": 0, "derived counts of 1-4": 0}
    assert len(found.additive) > 30 and len(found.links) > 50  # it did see the structure it attacks
    reasons = read("SELECT suppression, count(*) AS n FROM marts.indicator_values WHERE suppressed GROUP BY 1")
    assert set(reasons["suppression"]) == {"primary", "secondary", "sensitive"}


def test_scores_come_from_exact_values_and_say_what_they_rest_on(pipeline_run, city):
    """The index is scored from staging.indicator_values (never published), so a zone with withheld
    indicators still gets its score, and says on how many withheld figures it rests."""
    from bienestar import warehouse

    scores = read("SELECT s.area_id, s.node_id, s.score, s.suppressed_inputs FROM marts.index_scores s "
                  "JOIN marts.areas a USING (city, area_id) WHERE s.period = '2024' AND a.depth = 0")
    withheld = read("SELECT area_id, count(*) AS n FROM marts.indicator_values WHERE period = '2024' "
                    "AND suppressed GROUP BY 1").set_index("area_id")["n"]
    resting = scores[scores["suppressed_inputs"] > 0]
    assert len(resting) > 0 and resting["score"].notna().mean() > 0.9
    assert (resting.groupby("area_id")["suppressed_inputs"].max() <= withheld.reindex(
        resting["area_id"].unique()).fillna(0)).all()
    with warehouse.session(city) as con:
        exact = con.execute("SELECT count(*) FROM staging.indicator_values WHERE city = ? AND period = '2024' "
                            "AND value IS NOT NULL", [city.name]).fetchone()[0]
    published = read("SELECT count(*) AS n FROM marts.indicator_values WHERE period = '2024' "
                     "AND value IS NOT NULL")["n"].iloc[0]
    assert exact > published  # the exact values hold what disclosure control withholds


def expected_quarantine(manifest, key: bytes) -> set[tuple[str, str]]:
    """(source prefix, record id as the pipeline stores it) for every planted fault."""
    expected = set()
    for fault in manifest["faults"]:
        source, record = fault["source"], fault["record_id"]
        if source.startswith("census/"):
            expected.add(("census/households", pseudonymise(pd.Series([record]), key).iloc[0]))
        elif source.startswith("services/"):
            expected.add((f"services/{source.split('/')[1].rsplit('_', 1)[0]}", record))
        elif fault["kind"] == "gap":
            expected.add(("sensors/readings", record))  # one entry per parameter: sensor/parameter
        elif fault["kind"] == "stuck_sensor":
            expected.add(("sensors/readings", f"{record}/{fault['parameter']}/{fault['start']}"))
        else:
            expected.add(("sensors/readings", f"{record}/{fault['parameter']}/{fault['observed_at']}"))
    return expected


def test_every_planted_fault_is_quarantined_and_nothing_else(pipeline_run, city):
    quarantine = read('SELECT source, record_id, field, reason, action FROM audit.quarantine WHERE city = ?',
                      [city.name], path=settings.paths().warehouse_for("la_paz_demo"))
    key = settings.pseudonym_key(city.name, demo=True)
    expected = expected_quarantine(pipeline_run, key)
    found = {(src.rsplit("/", 1)[0] if src.startswith(("services/", "sensors/")) else src,
              rid.rsplit("/", 1)[0] if reason.startswith("gap") else rid)
             for src, rid, reason in zip(quarantine["source"], quarantine["record_id"], quarantine["reason"],
                                         strict=True)}
    gap_sensor = {(s, r.split("/")[0]) for s, r in found if s == "sensors/readings" and r.count("/") == 1}
    assert expected <= found | gap_sensor, f"planted but not quarantined: {expected - found - gap_sensor}"
    # Everything else in quarantine follows from a planted fault: the rest of a stuck run, persons of a
    # household rejected for being outside the city, the other parameters of the station with a gap.
    households = {rid for src, rid in expected if src == "census/households"}
    persons = quarantine[quarantine["source"] == "census/persons"]
    assert (persons["reason"].str.startswith("household not in staging")).all()
    stuck = quarantine[quarantine["reason"].str.startswith("stuck")]
    stuck_fault = next(f for f in pipeline_run["faults"] if f["kind"] == "stuck_sensor")
    assert len(stuck) == stuck_fault["hours"]
    others = quarantine[~quarantine["source"].isin(["census/persons"]) & ~quarantine["reason"].str.startswith(
        ("stuck", "gap"))]
    assert len(others) == len([f for f in pipeline_run["faults"] if f["kind"] not in ("stuck_sensor", "gap")])
    assert set(quarantine.loc[quarantine["source"] == "census/households", "record_id"]) <= households
    assert quarantine["reason"].str.len().gt(10).all()


def test_report_shows_map_table_and_charts(pipeline_run, city):
    report = settings.paths().reports_for(city.name)
    html = (report / "index.html").read_text(encoding="utf-8")
    # reports/<city>/<published at>/ with latest pointing at it, self-contained: map, PDF, downloads, Data Docs
    published_at = read("SELECT published_at FROM marts.publication")["published_at"].iloc[0]
    assert report.is_symlink() and report.resolve().name == published_at.strftime("%Y-%m-%dT%H-%M-%SZ")
    assert 'id="index-map"' in html and 'href="map_score.png"' in html
    assert (report / "map_score.png").stat().st_size > 10_000
    for name in ("report.pdf", "indicators.csv", "index.csv", "index.xlsx", "areas.gpkg", "datapackage.json",
                 "data-docs/index.html"):
        assert (report / name).is_file() and f'href="{name}"' in html, name
    assert settings.paths().home.as_posix() not in html  # nothing absolute: the folder can be zipped and shared
    assert "Atención: los índices de ambos años no tienen la misma estructura" in html  # 2012 has no environment
    # every dimension of the index gets a chart (catalogue dimensions outside the index, like poverty, do not)
    dimensions = read("SELECT dimension_id FROM marts.dimensions WHERE dimension_id IN "
                      "(SELECT node_id FROM marts.index_scores)")["dimension_id"]
    assert len(dimensions) == 5 and not (report / "dim_poverty.png").exists()
    for dimension in dimensions:
        assert (report / f"dim_{dimension}.png").exists()
    top = read("SELECT a.name FROM marts.index_scores s JOIN marts.areas a USING (city, area_id) "
               "WHERE s.level = 'zona' AND s.node_id = 'wellbeing' AND s.rank = 1 AND s.period = ?",
               [city.vintage])["name"].iloc[0]
    assert top in html


def test_validation_results_recorded(pipeline_run, city):
    results = read("SELECT suite, severity, success FROM audit.validation_results WHERE city = ?", [city.name],
                   path=settings.paths().warehouse_for("la_paz_demo"))
    from expectations.suites import SUITES

    assert set(results["suite"]) == set(SUITES)
    assert results.loc[results["severity"] == "blocking", "success"].all()


def test_second_run_gives_identical_marts(pipeline_run, city):
    before = {t: read(f"SELECT * FROM marts.{t} ORDER BY ALL") for t in MARTS}
    snapshot_listing = sorted(p.name for p in settings.paths().published_for("la_paz_demo").iterdir())
    # Every DAG again (the census years, the services month, the first days of sensors, the planted stuck run
    # and gap) and the publication; the other days would only repeat what these show.
    rerun = {"2024-06-01", "2024-06-08", "2024-06-09", "2024-06-12"}
    run_pipeline(city, only=lambda step: step.name != "ingest_sensors" or step.label in rerun)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(read(f"SELECT * FROM marts.{table} ORDER BY ALL"), frame, obj=table)
    # the same files, plus the rerun's own publication kept under its time
    from bienestar.publish import STAMPED

    listing = sorted(p.name for p in settings.paths().published_for("la_paz_demo").iterdir())
    assert [n for n in listing if not STAMPED.fullmatch(n)] == [n for n in snapshot_listing if not STAMPED.fullmatch(n)]
    assert len([n for n in listing if STAMPED.fullmatch(n)]) == len(
        [n for n in snapshot_listing if STAMPED.fullmatch(n)]) + 1
    working = settings.paths().warehouse_for(city.name)
    quarantine = read("SELECT count(*) AS n FROM audit.quarantine", path=working)["n"].iloc[0]
    assert quarantine == len(read("SELECT DISTINCT * FROM audit.quarantine", path=working))


def test_failed_run_names_the_task_and_leaves_the_published_files(pipeline_run, city):
    """A delivery missing a field stops the run at its first task; what readers see does not change."""
    from bienestar.runner import PipelineFailed

    paths = settings.paths()
    households = paths.landing_for(city.name) / city.config["census"]["households"]["file"]
    original = households.read_bytes()
    report = paths.reports_for(city.name) / "index.html"
    published = paths.current_snapshot_for(city.name).read_bytes(), report.read_bytes()
    frame = pd.read_csv(households, dtype=str, keep_default_na=False)
    frame.drop(columns=["water_source"]).to_csv(households, index=False)
    try:
        with pytest.raises(PipelineFailed) as failure:
            run_pipeline(city)
    finally:
        households.write_bytes(original)
    message = str(failure.value)
    assert "ingest_census" in message and "land_census_files failed" in message
    assert "missing field(s) water_source" in message and str(households) in message
    skipped = message.split("not run because of it: ")[1].splitlines()[0]
    assert set(skipped.split(", ")) == {"gate_raw_census", "build_staging_census", "gate_staging_census",
                                        "stage_survey_files"}
    assert (paths.current_snapshot_for(city.name).read_bytes(), report.read_bytes()) == published


def test_the_snapshot_keeps_the_published_contract_and_its_docs(pipeline_run):
    """The snapshot's tables, columns and types are those recorded for this schema version (a column removed,
    renamed or retyped needs a new version and fixture), and docs/marts.md is what the snapshot says of itself."""
    from bienestar import contract

    snapshot = settings.paths().current_snapshot_for("la_paz_demo")
    recorded = json.loads((settings.PROJECT_ROOT / "tests" / "fixtures" / "marts_schema.json").read_text())
    assert contract.published_schema(snapshot) == recorded[str(contract.SCHEMA_VERSION)]
    docs = (settings.PROJECT_ROOT / "docs" / "marts.md").read_text(encoding="utf-8")
    assert docs == contract.documentation(snapshot), (
        "docs/marts.md is out of date: .venv/bin/python -m bienestar.contract docs "
        "var/published/la_paz_demo/current.duckdb > docs/marts.md")


def test_lineage_lists_every_delivery_behind_the_snapshot(pipeline_run, city):
    publication = read("SELECT * FROM marts.publication")
    assert len(publication) == 1 and publication["schema_version"].iloc[0] == 5  # bienestar.contract.SCHEMA_VERSION
    sources = read("SELECT source, period, count(*) AS files, sum(rows) AS rows FROM marts.sources GROUP BY ALL")
    by_source = sources.groupby("source")["files"].sum()
    assert by_source["census/households"] == 2 and by_source["census/persons"] == 2  # 2012 and 2024
    sensor_days = sources[sources["source"] == "sensors/readings"]
    assert len(sensor_days) == 30 and (sensor_days["files"] == 1).all()  # one delivery per day, once
    values = read("SELECT period_start, period_end FROM marts.indicator_values WHERE indicator_id = 'pm25_mean' "
                  "AND period = ? LIMIT 1", [city.vintage])
    assert str(values["period_start"].iloc[0])[:10] == "2024-06-01" and str(values["period_end"].iloc[0])[:10] == (
        "2024-06-30")


def test_the_planners_cookbook_answers_as_written(pipeline_run):
    """Every query of docs/planners.md runs on the snapshot and gives the answer the page shows."""
    from bienestar import cookbook

    snapshot = settings.paths().current_snapshot_for("la_paz_demo")
    assert all(len(frame) for frame in cookbook.answers(snapshot))  # every question has an answer
    page = (settings.PROJECT_ROOT / "docs" / "planners.md").read_text(encoding="utf-8")
    assert page == cookbook.page(snapshot), (
        "docs/planners.md is out of date: bienestar demo --scale 0.25, then .venv/bin/python -m bienestar.cookbook "
        "var/published/la_paz_demo/current.duckdb > docs/planners.md")
