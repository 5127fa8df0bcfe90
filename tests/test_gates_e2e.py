"""Gates end to end: corrupt one landing file of the sample city, run the real DAGs, and check that the right gate
failed with a message naming the problem, that nothing after it ran, that readers see exactly what they saw
before, and that the failure is on record; then restore the file and run again successfully.

Runs in its own BIENESTAR_HOME so it does not disturb the other end-to-end module.
"""

import json

import duckdb
import pandas as pd
import pytest

from bienestar import settings
from bienestar.demo import portal_dir, prepare_demo
from bienestar.runner import PipelineFailed, run_pipeline
from cities import load_city

pytestmark = pytest.mark.e2e  # real DAG runs of a whole city: make test, not make test-fast


@pytest.fixture(scope="module")
def city():
    return load_city("la_paz_demo")


@pytest.fixture(scope="module")
def home(tmp_path_factory, airflow_db, city):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(tmp_path_factory.mktemp("gates-home")))
        prepare_demo(city, scale=0.15)
        run_pipeline(city)
        yield settings.paths()


def published_bytes(paths, city):
    return (paths.current_snapshot_for(city.name).read_bytes(),
            (paths.reports_for(city.name) / "index.html").read_bytes())


def table(paths, sql):
    con = duckdb.connect(str(paths.warehouse_for("la_paz_demo")), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def failed_checks(paths, suite):
    return table(paths, f"SELECT check_key, run_id FROM audit.validation_results WHERE suite = '{suite}' "
                        "AND NOT success AND severity = 'blocking'")


def run_corrupted(paths, city, relative, corrupt, folder=None):
    """Corrupt one file (in landing/, or in `folder`), run, restore it; return the failure message and what
    readers saw before."""
    path = (folder or paths.landing_for(city.name)) / relative
    original = path.read_bytes()
    before = published_bytes(paths, city)
    staged_before = table(paths, "SELECT count(*) AS n, sum(hash(household_id)) AS h FROM staging.households")
    corrupt(path)
    try:
        with pytest.raises(PipelineFailed) as failure:
            run_pipeline(city)
    finally:
        path.write_bytes(original)
    assert published_bytes(paths, city) == before, "the published snapshot or report changed"
    return str(failure.value), staged_before


def rewrite_csv(path, change):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def test_negative_household_sizes_stop_at_the_raw_gate(home, city):
    message, staged_before = run_corrupted(
        home, city, "census/households.csv", lambda p: rewrite_csv(p, lambda f: f.assign(members="-3")))
    assert "task gate_raw_census failed" in message
    assert "suite raw_census: ExpectColumnValuesToBeBetween (members_range) on members_number failed" in message
    assert "unexpected value(s), e.g. ['-3.0']" in message
    skipped = message.split("not run because of it: ")[1].splitlines()[0].split(", ")
    assert {"build_staging_census", "gate_staging_census"} <= set(skipped)
    # staging was not rebuilt from the bad delivery
    assert table(home, "SELECT count(*) AS n, sum(hash(household_id)) AS h FROM staging.households").equals(
        staged_before)
    assert "members_range" in set(failed_checks(home, "raw_census")["check_key"])
    assert "Data Docs" in message and (home.quality_for(city.name) / "gx" / "uncommitted" / "data_docs" / "local_site"
                                       / "index.html").exists()


def test_truncated_census_file_is_a_cut_file(home, city):
    def truncate(path):
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[: len(lines) // 2]))

    message, _ = run_corrupted(home, city, "census/households.csv", truncate)
    assert "suite raw_census: ExpectTableRowCountToBeBetween (row_count) on (table) failed" in message
    assert "row_count" in set(failed_checks(home, "raw_census")["check_key"])


def test_sensor_unit_change_stops_the_sensor_run(home, city):
    month = city.config["months"][0]

    def to_milligrams(path):
        readings = json.loads(path.read_text())
        for reading in readings:
            if reading["parameter"] in ("pm25", "pm10"):
                reading["unit"] = "mg/m3"
                reading["value"] = None if reading["value"] is None else reading["value"] / 1000
        path.write_text(json.dumps(readings))

    # The sensor network now reports PM in mg/m3: the SensorThings connector refuses the unit before anything
    # is landed (a delivered file in another unit is stopped by the raw gate instead: see test_suites.py).
    message, _ = run_corrupted(home, city, f"sensors/readings_{month}.json", to_milligrams, portal_dir(city))
    assert message.startswith(f"la_paz_demo.ingest_sensors ({month}-01) failed")
    assert "task fetch_from_portal failed" in message and "mg/m" in message


def test_stuck_sensor_for_a_day_is_flagged_and_reported_not_blocking(home, city):
    month = city.config["months"][0]
    path = portal_dir(city) / f"sensors/readings_{month}.json"
    original = path.read_bytes()
    readings = json.loads(original)
    victim = sorted({r["sensor_id"] for r in readings})[0]
    day = f"{month}-03"
    for reading in readings:
        if reading["sensor_id"] == victim and reading["parameter"] == "pm25" and reading["observed_at"].startswith(day):
            reading["value"] = 21.5
    path.write_text(json.dumps(readings))
    before = latest_unexpected(home, "day_completeness")
    try:
        run_pipeline(city, only=day_and_publication(day))  # flagged readings are row-level: the run goes on
    finally:
        path.write_bytes(original)
    stuck = table(home, f"SELECT count(*) AS n FROM staging.sensor_readings WHERE sensor_id = '{victim}' "
                        f"AND parameter = 'pm25' AND flag = 'stuck' AND CAST(observed_at AS DATE) = DATE '{day}'")
    assert stuck["n"].iloc[0] == 24
    report = (home.reports_for(city.name) / "index.html").read_text(encoding="utf-8")
    assert 'data-check="staging_sensor_readings.day_completeness"' in report
    # the day's gate now counts its 24 stuck readings as incomplete (it had none before)
    assert before == 0 and latest_unexpected(home, "day_completeness") == 24


def latest_unexpected(paths, check_key, partition="2024-06-03"):
    found = table(paths, f"""SELECT unexpected_count FROM audit.validation_results WHERE check_key = '{check_key}'
                             AND "partition" = '{partition}' QUALIFY sequence = max(sequence) OVER ()""")
    return int(found["unexpected_count"].iloc[0] or 0)


def day_and_publication(day):
    """Only the sensor run of `day`, then the indicators and the publication: what a rerun of one day needs."""
    return lambda step: step.label == day or step.name in ("build_indicators", "publish_report")


def test_restored_files_run_clean_again(home, city):
    # the census runs (which failed above) and the stuck day again, with the files restored
    run_pipeline(city, only=lambda step: step.name == "ingest_census" or day_and_publication("2024-06-03")(step))
    latest = table(home, """SELECT suite, check_key, success, severity FROM audit.validation_results
                            QUALIFY sequence = max(sequence) OVER (PARTITION BY suite, "partition")""")
    assert latest.loc[latest["severity"] == "blocking", "success"].all()
