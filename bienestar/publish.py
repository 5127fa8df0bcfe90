"""Publish the validated `marts` as a read-only snapshot, and build the report from it.

The snapshot is written to a temporary file next to `published/<city>/current.duckdb`, validated (suite
`published_snapshot`), and only then moved into place with an atomic rename, so readers see the old snapshot or
the new one, never a half-built one, and a failed run leaves the last published file untouched.

It is written in DuckDB's storage format of version SNAPSHOT_STORAGE, which every DuckDB since 1.0 reads (the
CLI planners install, BI tools and QGIS plugins built on DuckDB 1.x), not in the newest format of the DuckDB the
pipeline runs. Every publication is also kept as `published/<city>/<published at>.duckdb` (UTC, e.g.
`2026-12-07T02-50-12Z.duckdb`), the newest `publication.keep` of them (city.yaml, default 30).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bienestar import settings, warehouse
from cities import City, CityConfigError

SNAPSHOT_STORAGE = "v1.0.0"  # DuckDB storage version 64: readable by DuckDB 1.0 and every later version
DEFAULT_KEEP = 30            # publications kept per city (city.yaml: publication.keep)
STAMP = "%Y-%m-%dT%H-%M-%SZ"
STAMPED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z(-\d+)?\.duckdb")

MARTS_TABLES = {
    "areas": "Areas of every level with their parent, population and polygon (EPSG:4326 WKT).",
    "indicator_catalogue": "What every indicator means: definition, unit, direction, source, dimension.",
    "dimensions": "The dimensions of the well-being index, in display order.",
    "indicator_values": "One value per area, indicator and period, with numerator and denominator; small counts "
                        "suppressed.",
    "index_scores": "Composite index and dimension scores (0-100, higher is better), ranks and quintiles per area.",
    "index_weights": "Each index node's children and their weights (rescaled to sum to 1).",
    "index_uncertainty": "Each area's rank band: nominal, median, 5th and 95th percentile rank over the index "
                         "spec's uncertainty alternatives (Monte Carlo).",
    "index_runs": "The spec, its hash and the engine version behind each index's scores.",
    "index_change": "Change of every area's index and dimension scores and ranks between two periods "
                    "(rank_change > 0: moved up).",
    "indicator_change": "Change of every area's indicator values between two periods (change_pp: percentage "
                        "points, shares only).",
    "data_quality": "The latest result of every data-quality check behind this snapshot (failed warnings included).",
}

LATEST_VALIDATIONS = """
    SELECT city, stage, suite, "partition", check_key, expectation, "column", severity, success, observed_value,
           unexpected_count, examples, why
    FROM audit.validation_results
    WHERE suite <> 'published_snapshot'
    QUALIFY sequence = max(sequence) OVER (PARTITION BY city, suite, "partition")
"""


def keep(city: City) -> int:
    """How many publications of the city are kept (`publication.keep`, a whole number >= 1)."""
    value = (city.config.get("publication") or {}).get("keep", DEFAULT_KEEP)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CityConfigError(f"{city.name}: publication.keep must be a whole number >= 1 (publications kept), "
                              f"got {value!r}")
    return value


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
            for table, comment in MARTS_TABLES.items():
                if table != "data_quality" and not warehouse.table_exists(con, f"marts.{table}"):
                    continue  # e.g. no city has two vintages yet: no change tables
                source = f"({LATEST_VALIDATIONS})" if table == "data_quality" else f"marts.{table}"
                con.execute(f"CREATE TABLE snapshot.marts.{table} AS SELECT * FROM {source} ORDER BY ALL")
                quoted = comment.replace("'", "''")
                con.execute(f"COMMENT ON TABLE snapshot.marts.{table} IS '{quoted}'")
        finally:
            con.execute("DETACH snapshot")
    try:
        run_gate(city, "published_snapshot", run_id or "manual", database=fresh)
    except Exception:
        fresh.unlink(missing_ok=True)
        raise
    current = settings.paths().current_snapshot_for(city.name)
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
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


def publications(city: City) -> list[Path]:
    """The kept publications of a city, oldest first."""
    published = settings.paths().published_for(city.name)
    found = [p for p in published.glob("*.duckdb") if STAMPED.fullmatch(p.name)] if published.is_dir() else []
    return sorted(found, key=lambda p: (p.name[:20], int(p.stem[21:] or 0)))


def build_city_report(city: City) -> Path:
    """The HTML report of a city from the current published snapshot."""
    from expectations.gate import data_docs_index
    from indicators.engine import load_spec
    from reports.build import build_report

    paths = settings.paths()
    quality = data_docs_index(city.name)
    return build_report(
        paths.current_snapshot_for(city.name),
        paths.reports_for(city.name),
        city_name=city.display_name,
        index_id=load_spec(city.index_spec_path).id,
        period=city.vintage,
        quality_url=quality.as_uri() if quality.exists() else None,
        city=city.name,
    )
