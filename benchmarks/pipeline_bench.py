"""The whole pipeline at several sizes of the sample city: stage by stage, with baselines on the same inputs.

    .venv/bin/python benchmarks/pipeline_bench.py                     # --scale 1, 10 and 30 (make bench)
    .venv/bin/python benchmarks/pipeline_bench.py --scales 0.25 1     # a quick look

For each scale it generates the sample city into a fresh temporary BIENESTAR_HOME (removed afterwards), serves its
portal, and runs the city's DAGs in the order `bienestar demo` does (Airflow `dag.test()`, in this process),
recording every task instance's start and end from Airflow's own metadata and sampling the process's resident
memory every 20 ms. It prints one table per scale:

    stage                 rows         wall s   rows/s     peak RSS   gates s   overhead s

where a stage is a DAG run kind (the two census years apart; the 30 sensor days together), `rows` what the stage
took in (census: persons + households of that year; services: records; sensors: readings; indicators: persons of
both censuses; publication: indicator values), `gates` the time in the stage's `gate_*` tasks and `overhead`
what the DAG runs took beyond their tasks (Airflow's own work: scheduling the run in-process, task start-up).
Then the totals, the share of the whole in gates and in overhead, and for each stage how its rows/s changed
from the smallest scale to the largest (flat is linear).

Baselines, on the same inputs as the stage they stand beside, each printed as a ratio (ours / baseline):
- ingest floor: DuckDB `read_csv` of the census year's two CSV files into a table (`ingest_census`);
- placement: geopandas `sjoin` of the census households' points to the zones, beside our `place_points_fast`
  on the same points (the landing places households and drops their coordinates);
- NBI and Alkire-Foster: a plain pandas groupby of the household-level results by area, the aggregation an
  analyst would write after scoring households (beside our `nbi_area_counts` / `af_area_counts`, same inputs);
- the index: a plain pandas weighted mean of min-max scores over the zones (beside `compute_index`).

The table is written as JSON to `benchmarks/results/pipeline-<UTC time>.json` to compare runs. Timings move
with the machine's load (2 cores here): compare ratios and rows/s across scales, run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
SAMPLE_EVERY = 0.02  # seconds between RSS samples


class Memory:
    """The process's resident set size, sampled in a thread: the peak between two moments."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.process.memory_info().rss))
            time.sleep(SAMPLE_EVERY)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start - SAMPLE_EVERY <= t <= end + SAMPLE_EVERY]
        return max(inside, default=0)


@contextmanager
def home(scale: float):
    folder = Path(tempfile.mkdtemp(prefix=f"bienestar-bench-{scale:g}-"))
    saved = os.environ.get("BIENESTAR_HOME")
    os.environ["BIENESTAR_HOME"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("BIENESTAR_HOME", None)
        else:
            os.environ["BIENESTAR_HOME"] = saved
        shutil.rmtree(folder, ignore_errors=True)


def stage_of(step) -> str:
    kind = step.dag_id.split(".", 1)[1]
    if kind == "ingest_census":
        return f"ingest_census {step.conf.get('year')}"
    return kind


def run_city(city, memory: Memory, out) -> list[dict]:
    """Every DAG run of the sample city, in order; per task instance: stage, task, start, end, peak RSS."""
    from bienestar.runner import configure_airflow

    configure_airflow()  # before Airflow is imported: its settings are read once, from this home
    from airflow.dag_processing.dagbag import DagBag

    from bienestar.demo import serving_portal
    from bienestar.runner import DAGS_FOLDER, for_dag_test, plan, prepare_metadata_db

    os.environ["BIENESTAR_CITIES"] = city.name
    prepare_metadata_db([city])
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    rows = []
    with serving_portal(city):
        steps = plan(city)
        for number, step in enumerate(steps, start=1):
            dag = bag.get_dag(step.dag_id)
            for_dag_test(dag)
            started = time.time()
            run = dag.test(logical_date=step.logical_date, run_conf=step.conf)
            ended = time.time()
            if str(run.state) != "success":
                raise RuntimeError(f"{step.dag_id} ({step.label}) failed: see the Airflow log above")
            tasks = [ti for ti in run.get_task_instances() if ti.start_date and ti.end_date]
            rows.append({"stage": stage_of(step), "dag_id": step.dag_id, "label": step.label, "start": started,
                         "end": ended, "peak_rss": memory.peak(started, ended),
                         "tasks": [{"task_id": ti.task_id, "seconds": (ti.end_date - ti.start_date).total_seconds(),
                                    "peak_rss": memory.peak(ti.start_date.timestamp(), ti.end_date.timestamp())}
                                   for ti in sorted(tasks, key=lambda t: t.start_date)]})
            print(f"  [{number}/{len(steps)}] {step.dag_id} ({step.label}) {ended - started:.1f} s", file=out,
                  flush=True)
    return rows


def stage_rows(city) -> dict[str, int]:
    """What each stage took in, counted in the working database after the run."""
    import duckdb

    from bienestar import settings

    with duckdb.connect(str(settings.paths().warehouse_for(city.name)), read_only=True) as con:
        def count(sql: str) -> int:
            return int(con.execute(sql).fetchall()[0][0])

        out = {}
        for year in city.vintages:
            out[f"ingest_census {year}"] = count(
                f"SELECT (SELECT count(*) FROM raw.census_persons WHERE _loaded_for = '{year}') + "
                f"(SELECT count(*) FROM raw.census_households WHERE _loaded_for = '{year}')")
        out["ingest_services"] = count("SELECT count(*) FROM raw.service_records")
        out["ingest_sensors"] = count("SELECT count(*) FROM staging.sensor_reading_values")
        out["build_indicators"] = count("SELECT count(*) FROM staging.persons")
        out["publish_report"] = count("SELECT count(*) FROM marts.indicator_values")
    return out


def summarise(runs: list[dict], rows: dict[str, int]) -> list[dict]:
    stages: dict[str, dict] = {}
    for run in runs:
        stage = stages.setdefault(run["stage"], {"stage": run["stage"], "runs": 0, "wall": 0.0, "tasks": 0.0,
                                                 "gates": 0.0, "peak_rss": 0, "slowest_task": ("", 0.0)})
        tasks = sum(t["seconds"] for t in run["tasks"])
        stage["runs"] += 1
        stage["wall"] += run["end"] - run["start"]
        stage["tasks"] += tasks
        stage["gates"] += sum(t["seconds"] for t in run["tasks"] if t["task_id"].startswith("gate_"))
        stage["peak_rss"] = max(stage["peak_rss"], run["peak_rss"])
        for task in run["tasks"]:
            if task["seconds"] > stage["slowest_task"][1]:
                stage["slowest_task"] = (task["task_id"], task["seconds"])
    out = []
    for stage in stages.values():
        stage["rows"] = rows.get(stage["stage"], 0)
        stage["overhead"] = stage["wall"] - stage["tasks"]
        stage["rows_per_s"] = stage["rows"] / stage["wall"] if stage["wall"] else 0.0
        out.append(stage)
    return out


# ---------------------------------------------------------------------------------------------------- baselines
def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def baselines(city, runs: list[dict]) -> dict[str, dict]:
    """The baselines on the inputs the stages had, each with the time of the part of ours it stands beside."""
    import duckdb
    import geopandas as gpd
    import pandas as pd

    from bienestar import settings
    from indicators.alkire_foster import af_area_counts, af_household_scores, load_af_config
    from indicators.engine import compute_index, load_spec
    from indicators.nbi import load_nbi_config, nbi_area_counts, nbi_households
    from transforms.point_index import place_points_fast

    paths = settings.paths()
    census = paths.landing_for(city.name) / "census"
    task_seconds = {}
    for run in runs:
        for task in run["tasks"]:
            key = (run["stage"], task["task_id"])
            task_seconds[key] = task_seconds.get(key, 0.0) + task["seconds"]
    out = {}

    def read_csv() -> None:
        with duckdb.connect() as con:
            for name in ("households.csv", "persons.csv"):
                con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{census / name}')")

    landing = task_seconds.get(("ingest_census 2024", "land_census_files"), 0.0)
    out["ingest floor: DuckDB read_csv (census 2024)"] = {"baseline": best_of(3, read_csv), "ours": landing,
                                                          "ours_is": "land_census_files (2024)"}

    with duckdb.connect(str(paths.warehouse_for(city.name)), read_only=True) as con:
        households = con.execute("SELECT * FROM staging.households WHERE vintage = '2024'").df()
        persons = con.execute("SELECT * FROM staging.persons WHERE vintage = '2024'").df()
        zones = con.execute("SELECT area_id, depth, geometry_wkt FROM staging.areas WHERE depth = 0").df()
        values = con.execute("SELECT area_id, indicator_id, value FROM staging.indicator_values "
                             "WHERE period = '2024' AND level = 'zona'").df()
    raw = pd.read_csv(census / "households.csv", usecols=["household_id", "lon", "lat"], dtype=str)  # never in raw
    points = gpd.GeoDataFrame(raw, geometry=gpd.points_from_xy(pd.to_numeric(raw["lon"], errors="coerce"),
                                                               pd.to_numeric(raw["lat"], errors="coerce")),
                              crs="EPSG:4326")
    polygons = gpd.GeoDataFrame(zones, geometry=gpd.GeoSeries.from_wkt(zones["geometry_wkt"]), crs="EPSG:4326")
    out["placement: geopandas sjoin (households 2024)"] = {
        "baseline": best_of(3, lambda: gpd.sjoin(points, polygons, how="left", predicate="within")),
        "ours": best_of(3, lambda: place_points_fast(raw["lon"], raw["lat"], zones)),
        "ours_is": "transforms.point_index.place_points_fast on the same points (at landing)"}

    nbi_config, af_config = load_nbi_config(), load_af_config()
    scored_nbi = nbi_households(households, persons, nbi_config)
    scored_af = af_household_scores(households, persons, af_config)

    def plain_nbi() -> pd.DataFrame:  # persons and households, poor and by stratum, per area
        members, poor = scored_nbi["members"], scored_nbi["nbi_poor"].astype(float)
        frame = pd.DataFrame({"area_id": scored_nbi["area_id"], "persons": members, "poor_persons": members * poor,
                              "households": 1.0, "poor_households": poor})
        for stratum in scored_nbi["stratum"].dropna().unique():
            frame[f"persons_{stratum}"] = members * (scored_nbi["stratum"] == stratum)
        return frame.groupby("area_id").sum()

    def plain_af() -> pd.DataFrame:  # persons, poor persons, their scores and each censored headcount, per area
        members, poor = scored_af["members"], scored_af["poor"].astype(float)
        frame = pd.DataFrame({"area_id": scored_af["area_id"], "persons": members, "poor_persons": members * poor,
                              "poor_score": members * poor * scored_af["score"]})
        for column in [c for c in scored_af.columns if c.startswith("d_")]:
            frame[column] = members * poor * scored_af[column].astype(float)
        return frame.groupby("area_id").sum()

    out["NBI: plain pandas groupby by area (2024)"] = {
        "baseline": best_of(3, plain_nbi), "ours": best_of(3, lambda: nbi_area_counts(scored_nbi, nbi_config)),
        "ours_is": "nbi_area_counts on the same scored households"}
    out["Alkire-Foster: plain pandas groupby by area (2024)"] = {
        "baseline": best_of(3, plain_af), "ours": best_of(3, lambda: af_area_counts(scored_af, af_config)),
        "ours_is": "af_area_counts on the same household scores"}

    spec = load_spec(city.index_spec_path)
    wide = values.pivot(index="area_id", columns="indicator_id", values="value").reset_index()
    wide.columns.name = None
    wide = wide[["area_id", *[spec.column(i) for i in spec.indicator_ids if spec.column(i) in wide.columns]]]

    def plain_scores() -> pd.Series:
        x = wide.set_index("area_id")
        scaled = (x - x.min()) / (x.max() - x.min()) * 100
        return scaled.mean(axis=1)

    out["index: plain pandas min-max mean (zones, 2024)"] = {
        "baseline": best_of(5, plain_scores), "ours": best_of(5, lambda: compute_index(wide, spec)),
        "ours_is": "indicators.engine.compute_index (goalposts, directions, weights, missing rule)"}
    return out


# ---------------------------------------------------------------------------------------------------- output
def mb(n: int) -> str:
    return f"{n / 1024 ** 2:,.0f} MB"


def print_scale(scale: float, stages: list[dict], lines: dict[str, dict], out) -> None:
    print(f"\n--scale {scale:g}", file=out)
    print(f"  {'stage':<22}{'rows':>12}{'wall s':>9}{'rows/s':>11}{'peak RSS':>11}{'gates s':>9}{'overhead s':>12}"
          "  slowest task", file=out)
    for s in stages:
        print(f"  {s['stage']:<22}{s['rows']:>12,}{s['wall']:>9.1f}{s['rows_per_s']:>11,.0f}{mb(s['peak_rss']):>11}"
              f"{s['gates']:>9.1f}{s['overhead']:>12.1f}  {s['slowest_task'][0]} {s['slowest_task'][1]:.1f} s",
              file=out)
    wall = sum(s["wall"] for s in stages)
    print(f"  {'total':<22}{'':>12}{wall:>9.1f}{'':>11}{mb(max(s['peak_rss'] for s in stages)):>11}"
          f"{sum(s['gates'] for s in stages):>9.1f}{sum(s['overhead'] for s in stages):>12.1f}", file=out)
    print(f"  share in gates {sum(s['gates'] for s in stages) / wall:.0%}, in Airflow overhead "
          f"{sum(s['overhead'] for s in stages) / wall:.0%}", file=out)
    for name, line in lines.items():
        ratio = line["ours"] / line["baseline"] if line["baseline"] else float("nan")
        print(f"  baseline {name:<52} {line['baseline']:7.3f} s   ours {line['ours']:7.3f} s   x{ratio:.2f}  "
              f"({line['ours_is']})", file=out)


def print_scaling(results: list[dict], out) -> None:
    """Each stage's rows/s from one scale to the next (1.00 = linear)."""
    for first, last in zip(results, results[1:], strict=False):
        print(f"\nrows/s from --scale {first['scale']:g} to {last['scale']:g} (1.00 = linear; below 1: slower per "
              "row; a stage whose rows do not grow with the scale shows its fixed cost instead):", file=out)
        before = {s["stage"]: s for s in first["stages"]}
        for stage in last["stages"]:
            old = before.get(stage["stage"])
            if old and old["rows_per_s"]:
                print(f"  {stage['stage']:<22} x{stage['rows_per_s'] / old['rows_per_s']:.2f}", file=out)


def one_scale(scale: float, seed: int, result: Path) -> None:
    """Generate, run and measure one scale in this process (a fresh one: Airflow reads its home once)."""
    from bienestar.demo import prepare_demo
    from cities import load_city

    with Memory() as memory, home(scale):
        city = load_city("la_paz_demo")
        print(f"--scale {scale:g}: generating the sample city ...", flush=True)
        started = time.time()
        prepare_demo(city, scale=scale, seed=seed)
        generated = time.time() - started
        runs = run_city(city, memory, sys.stdout)
        stages = summarise(runs, stage_rows(city))
        lines = baselines(city, runs)
    result.write_text(json.dumps({"scale": scale, "generate_s": generated, "stages": stages, "baselines": lines,
                                  "runs": runs}, default=str), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 30],
                        help="sizes of the sample city (default 1 10 30; 12 is about real La Paz)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # a child process: one scale
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one is not None:
        one_scale(args.one, args.seed, args.result)
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bienestar-bench-") as scratch:
        for scale in args.scales:
            result = Path(scratch) / f"{scale:g}.json"
            log = Path(scratch) / f"{scale:g}.log"
            print(f"--scale {scale:g}: running (Airflow's log: {log}) ...", flush=True)
            with log.open("w") as sink:
                child = subprocess.run([sys.executable, __file__, "--one", str(scale), "--seed", str(args.seed),
                                        "--result", str(result)], stdout=sink, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
            if child.returncode != 0:
                print(log.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
                raise SystemExit(f"--scale {scale:g} failed (exit {child.returncode}): its log is above")
            measured = json.loads(result.read_text(encoding="utf-8"))
            results.append(measured)
            print_scale(scale, measured["stages"], measured["baselines"], sys.stdout)
    print_scaling(results, sys.stdout)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    target = args.out / f"pipeline-{stamp}.json"
    target.write_text(json.dumps({"measured_at": stamp, "cpus": os.cpu_count(), "results": results}, indent=1,
                                 default=str) + "\n", encoding="utf-8")
    print(f"\nwritten to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
