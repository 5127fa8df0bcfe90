"""Publish the validated `marts` as a read-only snapshot, and build the report from it.

The snapshot is written to a temporary file next to `published/<city>/current.duckdb`, validated (suite
`published_snapshot`), and only then moved into place with an atomic rename, so readers see the old snapshot or
the new one, never a half-built one, and a failed run leaves the last published file untouched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bienestar import settings, warehouse
from cities import City

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


def publish_snapshot(city: City, run_id: str | None = None) -> Path:
    """Copy `marts` to a new file, validate it, then atomically replace `published/<city>/current.duckdb`."""
    from expectations.gate import run_gate

    published = settings.paths().published_for(city.name)
    published.mkdir(parents=True, exist_ok=True)
    fresh = published / ".incoming.duckdb"
    fresh.unlink(missing_ok=True)
    with warehouse.session(city) as con:
        con.execute("CHECKPOINT")
        con.execute(f"ATTACH '{fresh}' AS snapshot")
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
    vintage_copy = published / f"{city.vintage}.duckdb"
    shutil.copyfile(fresh, vintage_copy.with_suffix(".tmp"))
    os.replace(vintage_copy.with_suffix(".tmp"), vintage_copy)
    os.replace(fresh, current)
    return current


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
