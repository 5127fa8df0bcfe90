"""`kill -9` at several points of a run: the published snapshot and report stay readable and as they were, the
working database opens again, and rerunning the killed stage gives the same result.

Each stage runs in its own process (what an Airflow task is) on a copy of the complete run's home, and is killed
with SIGKILL mid-way: census landing and the indicator build at half their measured time, publishing once its
new snapshot file exists, the report once its build folder exists. Slow (a few processes per stage): `-m e2e`.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import snapshot_tables

pytestmark = pytest.mark.e2e

CITY = "la_paz_demo"
STAGES = {
    "land_census": "from sources.deliveries import land_census; land_census(city, '2024')",
    "build_indicator_values": "from indicators.build import build_indicator_values; build_indicator_values(city)",
    "publish_snapshot": "from bienestar.publish import publish_snapshot; publish_snapshot(city, 'fault-test')",
    "build_report": "from bienestar.publish import build_city_report; build_city_report(city)",
}


def start(stage: str, home: Path) -> subprocess.Popen:
    """The stage in a process of its own; it prints `started` once its imports are done."""
    code = f"from cities import load_city; city = load_city({CITY!r}); print('started', flush=True); {STAGES[stage]}"
    env = {**os.environ, "BIENESTAR_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def complete(stage: str, home: Path) -> float:
    """Run the stage to its end; the seconds after its imports."""
    process = start(stage, home)
    assert process.stdout.readline().strip() == "started"
    began = time.monotonic()
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"{stage}: {err[-2000:]}"
    return time.monotonic() - began


def kill(stage: str, home: Path, *, after: float = 0.0, when: str | None = None) -> None:
    """Start the stage and SIGKILL it `after` seconds past its imports (or past the moment a file matching the
    glob `when` exists under home); it must still have been running."""
    process = start(stage, home)
    assert process.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 300
    while when and not list(home.glob(when)):
        assert process.poll() is None, f"{stage} ended before {when} appeared"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(after)
    assert process.poll() is None, f"{stage} had already finished: kill it earlier"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def published_state(home: Path) -> tuple:
    """The published files as bytes: snapshot and every report file."""
    report = (home / "reports" / CITY / "latest").resolve()  # the report readers get (reports/history.py)
    return ((home / "published" / CITY / "current.duckdb").read_bytes(),
            {p.relative_to(report): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()})


def marts(home: Path) -> dict:
    with duckdb.connect(str(home / "warehouse" / f"{CITY}.duckdb"), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").df() for t in
                ("areas", "indicator_values", "indicator_catalogue")}


def raw_census(home: Path) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse" / f"{CITY}.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM raw.census_households WHERE _loaded_for = '2024' ORDER BY ALL").df()


@pytest.fixture()
def home(complete_run, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(complete_run.home, copy, ignore=shutil.ignore_patterns("airflow"), symlinks=True)
    return copy


def test_kill_9_anywhere_leaves_the_published_files_and_a_rerun_gives_the_same(home, complete_run):
    before = published_state(home)
    raw, built = raw_census(home), marts(home)

    for stage, frame_of, reference in (("land_census", raw_census, raw), ("build_indicator_values", marts, built)):
        seconds = complete(stage, home)  # a rerun of the same interval: the same rows
        assert _equal(frame_of(home), reference), f"{stage}: a rerun changed its output"
        kill(stage, home, after=seconds / 2)
        assert published_state(home) == before, f"killed in {stage}: the published files changed"
        complete(stage, home)  # the database opens after the kill, and the stage runs again to the same output
        assert _equal(frame_of(home), reference), f"{stage}: killed then rerun, its output changed"

    kill("publish_snapshot", home, when=f"published/{CITY}/.incoming.duckdb", after=0.3)
    assert published_state(home) == before, "killed while publishing: the published files changed"
    assert snapshot_tables(home / "published" / CITY / "current.duckdb").keys() == complete_run.tables.keys()
    complete("publish_snapshot", home)
    assert not (home / "published" / CITY / ".incoming.duckdb").exists()
    _assert_snapshot(home, complete_run.tables)

    report = published_state(home)[1]
    kill("build_report", home, when=f"reports/{CITY}/.*.building-*", after=0.3)
    assert published_state(home)[1] == report, "killed while building the report: the old report changed"
    [orphan] = (home / "reports" / CITY).glob(".*.building-*")
    complete("build_report", home)
    assert (home / "reports" / CITY / "latest" / "index.html").exists()
    assert orphan.exists()  # a fresh build folder may be another run's: kept until ORPHAN_AGE
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    complete("build_report", home)
    assert not orphan.exists()
    _assert_snapshot(home, complete_run.tables)


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a.shape == b.shape and a.equals(b)


def _assert_snapshot(home: Path, reference: dict) -> None:
    final = snapshot_tables(home / "published" / CITY / "current.duckdb")
    assert final.keys() == reference.keys()
    for table, frame in reference.items():
        pd.testing.assert_frame_equal(final[table], frame, obj=table)
