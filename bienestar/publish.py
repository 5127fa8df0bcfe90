"""Publish the validated `marts` as a read-only snapshot, and build the report from it.

The snapshot is written to a temporary file next to `published/<city>/current.duckdb`, validated (suite
`published_snapshot`), and only then moved into place with an atomic rename, so readers see the old snapshot or
the new one, never a half-built one, and a failed run leaves the last published file untouched.

It is written in DuckDB's storage format of version SNAPSHOT_STORAGE, which every DuckDB since 1.0 reads (the
CLI planners install, BI tools and QGIS plugins built on DuckDB 1.x), not in the newest format of the DuckDB the
pipeline runs. Every publication is also kept as `published/<city>/<published at>.duckdb` (UTC, e.g.
`2026-12-07T02-50-12Z.duckdb`), the newest `publication.keep` of them (city.yaml, default 30), and the areas are
written beside it as `areas.gpkg` (a layer per level) and `areas.parquet` (GeoParquet) for GIS tools
(bienestar/geodata.py).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bienestar import contract, geodata, settings, views, warehouse
from cities import City

SNAPSHOT_STORAGE = "v1.0.0"  # DuckDB storage version 64: readable by DuckDB 1.0 and every later version
STAMP = "%Y-%m-%dT%H-%M-%SZ"
STAMPED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z(-\d+)?\.duckdb")

LATEST_VALIDATIONS = """
    SELECT city, stage, suite, "partition" AS period, check_key, expectation, "column" AS column_name, severity,
           success, observed_value, unexpected_count, examples, why
    FROM audit.validation_results
    WHERE suite <> 'published_snapshot'
    QUALIFY sequence = max(sequence) OVER (PARTITION BY city, suite, "partition")
"""


def keep(city: City) -> int:
    """How many publications of the city are kept (`publication.keep`, a whole number >= 1)."""
    return city.settings.publication.keep


def publish_snapshot(city: City, run_id: str | None = None, now: datetime | None = None) -> Path:
    """Copy `marts` to a new file, validate it, then atomically replace `published/<city>/current.duckdb`; keep
    it as `<published at>.duckdb` too and drop publications beyond `publication.keep`."""
    from expectations.gate import run_gate

    kept = keep(city)
    published = settings.paths().published_for(city.name)
    published.mkdir(parents=True, exist_ok=True)
    fresh = published / ".incoming.duckdb"
    fresh.unlink(missing_ok=True)
    with warehouse.session(city) as con:
        con.execute("CHECKPOINT")
        con.execute(f"ATTACH '{fresh}' AS snapshot (STORAGE_VERSION '{SNAPSHOT_STORAGE}')")
        try:
            con.execute("CREATE SCHEMA snapshot.marts")
            _copy_marts(con)
            _write_lineage(con, city, run_id or "manual", now or datetime.now(UTC))
            views.create_views(con)
            contract.apply_comments(con)
        finally:
            con.execute("DETACH snapshot")
    try:
        run_gate(city, "published_snapshot", run_id or "manual", database=fresh)
        # the areas as files GIS tools open (areas.gpkg, areas.parquet), from the validated file, before the swap
        geodata.write_area_files(fresh, published)
    except Exception:
        fresh.unlink(missing_ok=True)
        raise
    current = settings.paths().current_snapshot_for(city.name)
    stamp = _published_at(fresh).strftime(STAMP)
    history = published / f"{stamp}.duckdb"
    for n in range(1, 1000):  # two publications within a second: the second gets -1, ...
        if not history.exists():
            break
        history = published / f"{stamp}-{n}.duckdb"
    shutil.copyfile(fresh, published / ".history.tmp")
    os.replace(published / ".history.tmp", history)
    os.replace(fresh, current)
    for old in publications(city)[:-kept]:
        old.unlink()
    return current


def _copy_marts(con) -> None:
    """Every table of the contract from the working database's marts, its columns in the contract's order."""
    for name, table in contract.TABLES.items():
        if not table.built:
            continue
        if not warehouse.table_exists(con, f"marts.{name}"):
            if table.optional:
                continue  # e.g. a city with one census year: no change tables
            raise contract.ContractError(f"marts.{name} is missing: run build_indicators before publishing")
        present = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = "
                                             "current_database() AND schema_name = 'marts' AND table_name = ? "
                                             "ORDER BY column_index", [name]).fetchall()]
        columns = contract.select_list(name, present)
        con.execute(f"CREATE TABLE snapshot.marts.{name} AS SELECT {columns} FROM marts.{name} ORDER BY ALL")
    columns = ", ".join(contract.TABLES["data_quality"].columns)
    con.execute(f"CREATE TABLE snapshot.marts.data_quality AS SELECT {columns} FROM ({LATEST_VALIDATIONS}) "
                "ORDER BY ALL")


def _write_lineage(con, city: City, run_id: str, now: datetime) -> None:
    """marts.publication (when, which run and code, which spec), marts.sources (every delivery behind the raw
    data: file, sha256, period, rows, received), marts.levels (from city.yaml) and marts.schema_version."""
    import pandas as pd

    from indicators.engine import load_spec

    publication = pd.DataFrame([{
        "city": city.name, "published_at": now.astimezone(UTC).replace(tzinfo=None), "run_id": run_id,
        "project_version": _project_version(), "git_commit": _git_commit(), "schema_version": contract.SCHEMA_VERSION,
        "spec_sha256": load_spec(city.index_spec_path).sha256()}])
    sources = _sources(con, city)
    levels = pd.DataFrame([{"city": city.name, "level": level["id"], "depth": depth,
                            "name_es": level.get("label_es") or level["id"], "name_en": level.get("label_en") or
                            level["id"]} for depth, level in enumerate(city.levels)])
    columns = sum(len(t.columns) for t in contract.TABLES.values())
    version = pd.DataFrame([{"version": contract.SCHEMA_VERSION, "published_columns": columns}])
    for name, frame in (("publication", publication), ("sources", sources), ("levels", levels),
                        ("schema_version", version)):
        con.register("_lineage", frame)
        try:
            con.execute(f"CREATE TABLE snapshot.marts.{name} AS SELECT {contract.select_list(name, list(frame))} "
                        "FROM _lineage ORDER BY ALL")
        finally:
            con.unregister("_lineage")


def _sources(con, city: City):
    """One row per delivery in raw (the last accepted of each period: what the marts were built from)."""
    import pandas as pd

    from sources.files import file_sha256

    # raw tables of delivered records (each has the record's _row and its file's _sha256; load records do not)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = 'raw' AND column_name IN ('_sha256', '_row') GROUP BY 1 HAVING count(*) = 2 "
        "ORDER BY 1").fetchall()]
    parts = [con.execute(f"""SELECT city, _source AS source, _delivery AS delivery, _sha256 AS sha256,
                                    _loaded_for AS period, count(*) AS rows
                             FROM raw.{table} WHERE city = ? GROUP BY ALL""", [city.name]).df() for table in tables]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["city", "source", "delivery", "sha256", "period", "rows"])
    roots = [settings.paths().landing_for(city.name), city.folder]
    received = []
    for delivery, sha in zip(frame["delivery"], frame["sha256"], strict=True):
        path = next((root / str(delivery) for root in roots if (root / str(delivery)).is_file()), None)
        same = path is not None and file_sha256(path) == sha
        received.append(datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None) if same else None)
    return frame.assign(received_at=pd.Series(received, dtype="datetime64[us]"))


def _project_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bienestar")
    except PackageNotFoundError:
        return "unknown"


def _git_commit() -> str | None:
    """The checkout's commit, when the code runs from a git checkout (None in an installed package)."""
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(settings.PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _published_at(snapshot: Path) -> datetime:
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute("SELECT published_at FROM marts.publication").fetchone()[0].replace(tzinfo=UTC)


def publications(city: City) -> list[Path]:
    """The kept publications of a city, oldest first."""
    published = settings.paths().published_for(city.name)
    found = [p for p in published.glob("*.duckdb") if STAMPED.fullmatch(p.name)] if published.is_dir() else []
    return sorted(found, key=lambda p: (p.name[:20], int(p.stem[21:] or 0)))


def build_city_report(city: City, *, lang: str | None = None, period: str | None = None) -> Path:
    """The report of a city from the current published snapshot, kept as `reports/<city>/<published at>/` with
    `latest` pointing at it (reports/history.py); the newest `publication.keep` reports stay. `lang` defaults to
    the city's `report.lang` ("es"), `period` to the city's vintage. Returns the report's index.html."""
    from expectations.gate import data_docs_index
    from indicators.engine import load_spec
    from reports import history
    from reports.build import build_report

    paths = settings.paths()
    options = city.settings.report
    snapshot = paths.current_snapshot_for(city.name)
    city_dir = paths.report_history_for(city.name)
    history.migrate(city_dir)
    target = city_dir / history.stamp(_published_at(snapshot))
    earlier = [r for r in history.reports(city_dir) if r.name < target.name]
    quality = data_docs_index(city.name)
    page = build_report(
        snapshot,
        target,
        city_name=city.display_name,
        index_id=load_spec(city.index_spec_path).id,
        period=period or city.vintage,
        quality_url=quality.as_uri() if quality.exists() else None,
        city=city.name,
        lang=lang or options.lang,
        citation=options.citation,
        licence=options.licence,
        previous=earlier[-1] if earlier else None,
    )
    history.point_latest(city_dir, target)
    history.prune(city_dir, keep(city))
    return city_dir / history.LATEST / page.name
