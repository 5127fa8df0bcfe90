"""The planners' contract: every table and column of the published snapshot, in order, with what it means.

`bienestar.publish` builds the snapshot from it: each table's columns are selected in the contract's order (a
column the marts lack stops the publication; one the contract does not name is not published), and every table
and column gets its meaning as a DuckDB comment (`duckdb_columns().comment`, shown by BI tools).
`marts.schema_version` records SCHEMA_VERSION. docs/marts.md is generated from a published snapshot:

    .venv/bin/python -m bienestar.contract docs var/published/la_paz_demo/current.duckdb > docs/marts.md

and tests/fixtures/marts_schema.json records the columns and types of each version: removing, renaming or
retyping a published column without a new SCHEMA_VERSION (and its fixture) fails a test. Adding one is allowed
and also bumps the version, so planners can tell.

Version history: 1, the marts as first published; 2, `data_quality.partition` and `.column` became `period` and
`column_name`, `dimensions.position` became `display_order` (reserved words in SQL), lineage added
(`publication`, `sources`, `schema_version`), `levels` with their names, `period_start`/`period_end` on
indicator values, `time_basis` in the catalogue, the planners' views and `change_basis`; 3, `area_population`
(every area's population per census year) and `dimensions.in_index` (whether the index scores the dimension);
4, the change on a common basis: `index_change` rebuilt on what both periods measure, `index_weights.weight` the
weight actually used (with `declared_weight` and `basis`), `change_basis.basis`; 5, the household survey:
`survey_measures` and `survey_estimates` (design-based estimates with standard errors, Fay-Herriot small-area
estimates).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 5


def change_basis_name(period_from: str, period_to: str) -> str:
    """marts.index_weights.basis of the weights the change between two periods is computed on."""
    return f"change {period_from}-{period_to}"

INTRO = Path(__file__).with_name("marts_intro.md")  # the prose part of docs/marts.md


@dataclass(frozen=True)
class Table:
    comment: str                  # one line: the table's meaning
    columns: dict[str, str]       # column -> meaning, in the published order
    notes: str = ""               # more for docs/marts.md (markdown), not a comment
    built: bool = True            # False: written by publish itself, not copied from the working database
    optional: bool = False        # True: only when the marts hold it (e.g. change needs two periods)


AREA = {"city": "the city config's name (`la_paz_demo`): one snapshot may hold several cities",
        "area_id": "code of the area (`Z001`, `D03`, `MD02`), unique within the city across levels",
        "level": "area level (`zona`, `distrito`, `macrodistrito`; `municipio`, `departamento`)"}

INDEX_ID, CENSUS_YEAR = "the index spec id", "the census year"

TABLES: dict[str, Table] = {
    "areas": Table(
        "Areas of every level with their parent, population and polygon (EPSG:4326 WKT).",
        {**AREA,
         "depth": "0 for the smallest level, 1 for the next, ...: the order of the levels",
         "name": "name of the area",
         "parent_id": "the area one level up (NULL at the top level)",
         "population": "census persons placed in the area, latest census (NULL when withheld: fewer than 20, or "
                       "withheld so that another withheld population cannot be worked out)",
         "geometry_wkt": "polygon in EPSG:4326 (lon/lat), well-known text"}),
    "area_population": Table(
        "Every area's population in each census year that counts it, under the same disclosure control.",
        {"city": AREA["city"], "area_id": AREA["area_id"], "period": CENSUS_YEAR,
         "population": "census persons placed in the area that year (NULL when withheld, as in `areas`)"},
        notes="`areas.population` is the latest census year's; `v_area` shows every year as `population_<year>`. "
              "A census published only as tables without counts (Bolivia 2012) has no rows."),
    "levels": Table(
        "The area levels, smallest first, with their names in Spanish and English.",
        {"city": AREA["city"], "level": "the level's id, as in every table's `level` column",
         "depth": "0 for the smallest level, 1 for the next, ...", "name_es": "the level's name in Spanish",
         "name_en": "the level's name in English"}, built=False),
    "indicator_catalogue": Table(
        "What every indicator means: definition, unit, direction, source, dimension, time basis.",
        {"city": AREA["city"],
         "indicator_id": "the indicator's id, the key of indicator_values",
         "name_es": "name in Spanish", "name_en": "name in English",
         "definition": "what is counted, over what",
         "dimension": "the dimension it belongs to (marts.dimensions)",
         "unit": "`share` (0..1), `per 1000`, `per 100`, `days`, `hours`, `µg/m³`, ...",
         "direction": "+1 higher is better, -1 lower is better",
         "numerator": "what the numerator counts", "denominator": "what the denominator counts",
         "source": "`census`, `services` or `sensors` (or the statistics office's table)",
         "time_basis": "the time the value covers: the census day, or the days or month of records behind a "
                       "period (period_start .. period_end of each value); a rate from one month is per month",
         "min_denominator": "smallest denominator published (0: outside disclosure control, not a count of "
                            "people)",
         "sensitive": "true: stricter disclosure limits (violence, health)",
         "weighted": "true: the numerator is a weighted sum (deprivation scores), not a count",
         "headline": "true: withheld to protect another cell only when nothing else will do"},
        notes="Which indicators share counts (and are withheld together) is listed under `relations:` in "
              "`indicators/catalogue.yaml` (docs/privacy.md)."),
    "dimensions": Table(
        "The dimensions of the well-being index, in display order.",
        {"city": AREA["city"], "dimension_id": "the dimension's id (index node or catalogue grouping)",
         "name_es": "name in Spanish", "name_en": "name in English",
         "display_order": "display order, from 0",
         "in_index": "true when the well-being index scores the dimension; false for a grouping listed for its "
                     "indicators only (poverty: NBI and Alkire-Foster)"}),
    "indicator_values": Table(
        "One value per area, indicator and period, with numerator and denominator; small counts suppressed.",
        {**AREA,
         "indicator_id": "key into marts.indicator_catalogue",
         "period": "the census year the value belongs to (`2024`)",
         "period_start": "first day the value covers (the census day, or the first day of the records or "
                         "readings behind it); NULL when nothing was measured",
         "period_end": "last day the value covers",
         "value": "the rate or mean (NULL when suppressed or not measurable)",
         "numerator": "count behind the value (NULL when withheld); a weighted sum where the catalogue says "
                      "`weighted`",
         "denominator": "count the value is over (NULL when withheld)",
         "suppressed": "true when disclosure control withholds the cell (value, numerator, denominator NULL)",
         "suppression": "why: `primary` (too few cases), `sensitive` (the stricter limits of a violence or health "
                        "indicator), `secondary` (so that another withheld cell cannot be worked out); NULL when "
                        "published; never which rule (docs/privacy.md)",
         "note": "why a value is NULL, or how it was made (a department: population-weighted mean of its "
                 "municipalities)",
         "moe_low": "Wilson 95% lower bound of a share (model-based for a census: docs/poverty.md); NULL for other "
                    "units and for withheld cells",
         "moe_high": "Wilson 95% upper bound of a share"}),
    "index_scores": Table(
        "Composite index and dimension scores (0-100, higher is better), ranks and quintiles per area.",
        {**AREA,
         "index_id": "the index spec id (`wellbeing`)",
         "period": CENSUS_YEAR,
         "node_id": "the index itself (= index_id) or one of its dimensions",
         "score": "0..100, higher is better (NULL when too few of the node's indicators have a value)",
         "rank": "1 = highest score of that node among the areas of the level; ties share the best rank",
         "quantile": "1..q (quintiles for the sample city), 1 holds rank 1; NULL for dimensions",
         "suppressed_inputs": "how many of the node's indicators are withheld in that area: the score uses the "
                              "exact values and says when it rests on figures that are not published"},
        notes="Scores are computed for every level separately, so a macrodistrict's score compares it with the "
              "other macrodistricts, not with zones. How indicators are normalised is the index spec's choice "
              "(docs/indices.md): the sample city uses min-max over the areas of the level; the Bolivian index "
              "uses fixed goalposts so that 2012 and 2024 are on one scale."),
    "index_weights": Table(
        "Each index node's children and their weights (rescaled to sum to 1).",
        {"city": AREA["city"], "index_id": INDEX_ID, "period": CENSUS_YEAR,
         "node_id": "a node of the index", "child_id": "one of its children (a node or an indicator)",
         "weight": "the weight the scores actually gave the child, rescaled so a node's weights sum to 1: 0 for a "
                   "child with no score or value anywhere in the period (its siblings share its weight)",
         "scale_factor": "what a node with `rescale: false` multiplies its weighted mean by (else 1)",
         "declared_weight": "the child's weight as the index spec declares it, rescaled to sum to 1",
         "basis": "`full`: the period's own index (marts.index_scores); `change <from>-<to>`: the common basis the "
                  "change between those periods is computed on (marts.index_change)"}),
    "index_uncertainty": Table(
        "Each area's rank band: nominal, median, 5th and 95th percentile rank over the index spec's "
        "uncertainty alternatives (Monte Carlo).",
        {**AREA, "index_id": INDEX_ID, "period": CENSUS_YEAR,
         "nominal_rank": "the published rank", "median_rank": "median rank over the Monte Carlo runs",
         "p05_rank": "5th percentile rank (the band's best end)", "p95_rank": "95th percentile rank (its worst)"},
        notes="A wide band means the rank depends on methodological choices (docs/indices.md); read ranks with "
              "their band.", optional=True),
    "index_runs": Table(
        "The spec, its hash and the engine version behind each index's scores.",
        {"city": AREA["city"], "index_id": INDEX_ID, "period": CENSUS_YEAR,
         "spec_sha256": "hash of the spec text", "engine_version": "version of the index engine",
         "spec_yaml": "the spec itself: `bienestar index compute --spec` on it gives the same scores"}),
    "index_change": Table(
        "Change of every area's index and dimension scores and ranks between two periods, on their common basis: "
        "the index rebuilt for both periods on what both measure, with the same goalposts (marts.change_basis "
        "says what was left out; rank_change > 0: moved up).",
        {**AREA, "index_id": INDEX_ID, "node_id": "the index or a dimension",
         "period_from": "the earlier census year", "period_to": "the later one",
         "score_from": "score in period_from on the common basis (may differ from marts.index_scores, which scores "
                       "the period's own index)",
         "score_to": "score in period_to on the common basis",
         "score_change": "score_to - score_from", "rank_from": "rank in period_from on the common basis",
         "rank_to": "rank in period_to on the common basis",
         "rank_change": "rank_from - rank_to: positive when the area moved up"}, optional=True),
    "indicator_change": Table(
        "Change of every area's indicator values between two periods (change_pp: percentage points, shares "
        "only).",
        {**AREA, "indicator_id": "key into marts.indicator_catalogue",
         "period_from": "the earlier census year", "period_to": "the later one",
         "value_from": "value in period_from", "value_to": "value in period_to",
         "change": "value_to - value_from", "change_pp": "the change in percentage points (shares only)"},
        optional=True),
    "survey_measures": Table(
        "What each household-survey measure is: income poverty (FGT), the integrated poverty method's groups, "
        "satisfaction with the neighbourhood by topic (docs/survey.md).",
        {"city": AREA["city"], "measure_id": "key into marts.survey_estimates",
         "name_es": "the measure's name in Spanish", "name_en": "its name in English",
         "definition": "what it measures, with the poverty line it uses",
         "unit": "`share`, `score 1-10` or `score 0-100`", "direction": "+1 higher is better, -1 lower is better",
         "dimension": "`poverty` or `perception` (the subjective dimension beside the objective index)",
         "unit_of": "`persons` (households weighted by their members) or `households`",
         "poverty_line": "the income line the measure uses, per person (NULL for satisfaction)",
         "line_unit": "the line's currency, period and year (`Bs per person per month, 2022`)",
         "line_source": "where the line comes from (publication and table; the sample city's are INE's for La Paz)",
         "source": "the survey's name"}, optional=True),
    "survey_estimates": Table(
        "Every survey measure for the city, each macrodistrict and the small-area level: direct design-based "
        "estimates with their standard errors, and Fay-Herriot estimates with their MSE.",
        {"city": AREA["city"], "period": "the year the survey describes",
         "area_id": "the area (`la_paz_demo` itself for the whole city)",
         "level": "the area's level (`city` for the whole city)", "measure_id": "key into marts.survey_measures",
         "method": "`direct` (the survey alone), `eblup` (Fay-Herriot: the direct estimate shrunk towards a "
                   "census-based prediction) or `synthetic` (no household sampled: the prediction alone)",
         "estimate": "the estimate (NULL when withheld)",
         "se": "its standard error: linearised for direct estimates, the square root of the MSE otherwise",
         "ci_low": "lower end of the 95% interval (t with the design's degrees of freedom for direct estimates; a "
                   "share's interval is cut at 0 and 1)",
         "ci_high": "upper end of the 95% interval", "cv": "se / estimate",
         "households": "responding households behind a direct estimate (those sampled in the area for a model one)",
         "df": "degrees of freedom of the design (PSUs - strata); NULL for model-based estimates",
         "reliable": "false when withheld or when the coefficient of variation is above the city's `max_cv`",
         "suppressed": "true when fewer responding households than the city's `min_households`: withheld",
         "note": "why withheld or unreliable; the model's σ²_v and shrinkage γ for Fay-Herriot rows"},
        notes="Read a survey figure with its interval: a macrodistrict's estimate rests on a few dozen "
              "households. Model-based rows (`eblup`, `synthetic`) borrow strength from census covariates "
              "(`survey.small_area` in city.yaml); their `se` is the estimated root MSE (Prasad-Rao).",
        optional=True),
    "data_quality": Table(
        "The latest result of every data-quality check behind this snapshot (failed warnings included).",
        {"city": AREA["city"], "stage": "`raw`, `staging` or `marts`", "suite": "the gate's suite (docs/quality.md)",
         "period": "the census year, month or day the check validated",
         "check_key": "the check's key within its suite", "expectation": "the Great Expectations class",
         "column_name": "the column checked (`(table)` for table-level checks)",
         "severity": "`blocking` (stops the run) or `warning` (recorded)", "success": "whether the check passed",
         "observed_value": "what the check observed (JSON)", "unexpected_count": "values that failed it",
         "examples": "up to five distinct failing values (JSON)", "why": "why the check exists"}, built=False),
    "change_basis": Table(
        "For each pair of periods of the change tables: whether both indices have the same structure.",
        {"city": AREA["city"], "index_id": INDEX_ID, "period_from": "the earlier census year",
         "period_to": "the later one",
         "comparable": "true when the same dimensions have scores in both periods' own indices and the weights "
                       "used are the same",
         "why": "what differs (NULL when comparable): a dimension scored in one period only, changed weights",
         "basis": "what marts.index_change is computed on: the index rebuilt on what both periods measure, with "
                  "the same goalposts, and what that left out of both"},
        notes="Written with the planners' views (bienestar/views.py); `marts.v_change` carries it per row.",
        built=False),
    "publication": Table(
        "When, by which run and code, from which spec this snapshot was published.",
        {"city": AREA["city"], "published_at": "when the snapshot was published (UTC)",
         "run_id": "the Airflow run that published it (`manual` outside Airflow)",
         "project_version": "bienestar's version", "git_commit": "the code's git commit (NULL when unknown)",
         "schema_version": "this contract's version (marts.schema_version)",
         "spec_sha256": "hash of the index spec behind the scores"}, built=False),
    "sources": Table(
        "Every source delivery the snapshot was built from: file, sha256, rows and the period it covers.",
        {"city": AREA["city"], "source": "the delivery family (`census/households.csv`, `services/...`)",
         "delivery": "the file, relative to the city's landing folder",
         "sha256": "hash of the file's bytes", "period": "the census year, month or day it was delivered for",
         "rows": "rows kept in raw (after ingestion: identifiers dropped, nothing else)",
         "received_at": "the file's modification time in landing (UTC) when published; NULL when the file is "
                        "gone or was replaced since"}, built=False),
    "schema_version": Table(
        "The version of this contract (docs/marts.md): a column removed, renamed or retyped raises it.",
        {"version": "the contract's version", "published_columns": "columns of the tables in this version"},
        built=False),
}


def select_list(table: str, present: list[str]) -> str:
    """The SELECT list copying `table` in the contract's order; an error naming the columns the contract
    promises and `present` lacks. Columns the contract does not name are not published (a working database built
    by an older version keeps columns that were renamed since)."""
    wanted = list(TABLES[table].columns)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ContractError(f"marts.{table} does not match the published contract (bienestar/contract.py): missing "
                            f"{', '.join(missing)}. Fix the step that writes it, or change the contract (with the "
                            "meaning of every column) and raise SCHEMA_VERSION")
    return ", ".join(f'"{c}"' for c in wanted)


def apply_comments(con, schema: str = "snapshot.marts") -> None:
    """Every table's and column's meaning as DuckDB comments."""
    for name, table in TABLES.items():
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name || '.' || schema_name = ? "
                             "AND table_name = ?", [schema, name]).fetchall()[0][0]
        if not exists:
            continue
        con.execute(f"COMMENT ON TABLE {schema}.{name} IS {_quote(table.comment)}")
        for column, meaning in table.columns.items():
            con.execute(f'COMMENT ON COLUMN {schema}.{name}."{column}" IS {_quote(meaning)}')


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class ContractError(RuntimeError):
    """The marts and the published contract disagree."""


def documentation(snapshot: Path) -> str:
    """docs/marts.md from a published snapshot: the intro, then every table with its columns, types and
    meanings as the file holds them."""
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        comments = dict(con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts' "
                                    "UNION ALL SELECT view_name, comment FROM duckdb_views() "
                                    "WHERE schema_name = 'marts'").fetchall())
        columns = con.execute("SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
                              "WHERE schema_name = 'marts' ORDER BY table_name, column_index").fetchall()
        version = con.execute("SELECT version FROM marts.schema_version").fetchall()[0][0]
    by_table: dict[str, list] = {}
    for table, column, kind, comment in columns:
        by_table.setdefault(table, []).append((column, kind, comment))
    out = [INTRO.read_text(encoding="utf-8").rstrip("\n").replace("{version}", str(version)), ""]
    for name, table in TABLES.items():  # the contract's order, as the file holds each table
        if name not in by_table:
            continue
        out += [f"## `marts.{name}`", "", comments.get(name) or "", "", "| column | type | meaning |",
                "| --- | --- | --- |"]
        out += [f"| `{column}` | {kind} | {(comment or '').replace('|', '/')} |" for column, kind, comment
                in by_table[name]]
        if table.notes:
            out += ["", table.notes]
        out.append("")
    from bienestar.views import VIEWS

    out += ["## Views", "", "The joins planners need, done once (bienestar/views.py). Columns that stand for the "
            "city's levels, dimensions or indicators are listed when the snapshot is published; these are the "
            "sample city's.", ""]
    for name in VIEWS:
        if name not in by_table:
            continue
        out += [f"### `marts.{name}`", "", comments.get(name) or "", "", "| column | type | meaning |",
                "| --- | --- | --- |"]
        out += [f"| `{column}` | {kind} | {(comment or '').replace('|', '/')} |" for column, kind, comment
                in by_table[name]]
        out.append("")
    return "\n".join(out)


def published_schema(snapshot: Path) -> dict[str, list[list[str]]]:
    """Every published table's columns and types, in order (views excluded: their columns follow the city)."""
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute("SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() c JOIN "
                           "duckdb_tables() t ON t.schema_name = c.schema_name AND t.table_name = c.table_name "
                           "WHERE c.schema_name = 'marts' ORDER BY c.table_name, c.column_index").fetchall()
    schema: dict[str, list[list[str]]] = {}
    for table, column, kind in rows:
        schema.setdefault(table, []).append([column, kind])
    return schema


USAGE = """usage: python -m bienestar.contract docs SNAPSHOT.duckdb > docs/marts.md
       python -m bienestar.contract schema SNAPSHOT.duckdb    (the columns and types to record in
                                                               tests/fixtures/marts_schema.json under a new version)"""


def main(argv: list[str] | None = None) -> int:
    import json

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("docs", "schema"):
        print(USAGE, file=sys.stderr)
        return 2
    if args[0] == "docs":
        sys.stdout.write(documentation(Path(args[1])))
    else:
        print(json.dumps(published_schema(Path(args[1])), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
