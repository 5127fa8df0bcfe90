"""Run a suite as a gate: validate with Great Expectations, record every result, fail on a blocking one.

Validations run in a file-backed GX context per city under `BIENESTAR_HOME/quality/<city>/` so that each run's
results are kept and rendered as Data Docs (`build_data_docs`, once at the end of every DAG run, failed runs
included). Every result also goes to `audit.validation_results` so operators and planners can query the history
with SQL.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bienestar import settings, warehouse
from cities import City
from expectations.suites import SUITES, Check, apply_severity

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """A blocking expectation failed: nothing downstream may run."""


@dataclass(frozen=True)
class Outcome:
    check: Check
    success: bool
    observed: object
    unexpected_count: int | None
    examples: list


def _context(city: str):
    """The file-backed GX context of a city in this BIENESTAR_HOME (created on first use, then reused by the
    process)."""
    return _context_at(settings.paths().quality_for(city))


@functools.cache
def _context_at(root: Path):
    # Opening a file context parses its YAML config (~0.4 s): once per process, not once per gate.
    # GX logs hundreds of info lines on import under Airflow's logging set-up; only its warnings matter here.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations.data_docs import configure

    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    if configure(context):  # a new project, or one made by an older version: its config is read when opened
        context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # task logs are not terminals
    return context


def _fingerprint(checks: list[Check]) -> str:
    text = json.dumps([[c.key, c.expectation, c.kwargs, c.severity, c.why] for c in checks], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_checkpoint(context, suite_name: str, checks: list[Check]):
    """The stored checkpoint of the suite when the stored suite has exactly these checks (else None)."""
    try:
        suite = context.suites.get(suite_name)
        if (suite.meta or {}).get("fingerprint") != _fingerprint(checks):
            return None
        return context.checkpoints.get(suite_name)
    except Exception:  # GX raises store-specific errors for "not found"
        return None


def _drop(collection, name: str) -> None:
    """Delete `name` from a GX store if it is there: suites are code, and the store follows the code."""
    with contextlib.suppress(Exception):  # GX raises store-specific errors for "not found"
        collection.delete(name)


def validate(frame: pd.DataFrame, checks: list[Check], suite_name: str, run_name: str = "adhoc", *,
             city: str) -> list[Outcome]:
    """Validate a frame against checks with GX Core; the result is stored for the city's Data Docs."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context(city)
    try:
        source = context.data_sources.get("bienestar")
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(name="bienestar")
    try:
        asset = source.get_asset(suite_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=suite_name)
    try:
        batch = asset.get_batch_definition(suite_name)
    except (KeyError, ValueError, LookupError):
        batch = asset.add_batch_definition_whole_dataframe(suite_name)
    checkpoint = _stored_checkpoint(context, suite_name, checks)
    if checkpoint is None:
        for store in (context.checkpoints, context.validation_definitions, context.suites):
            _drop(store, suite_name)
        # The whole suite in one store write (adding expectations one by one to a stored suite writes it each
        # time); its fingerprint lets the next run with the same checks reuse it.
        suite = context.suites.add(gx.ExpectationSuite(
            name=suite_name, meta={"fingerprint": _fingerprint(checks)}, expectations=[
                getattr(gxe, check.expectation)(**check.kwargs, meta={"key": check.key, "severity": check.severity,
                                                                       "why": check.why})
                for check in checks]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(data=batch, suite=suite, name=suite_name))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=suite_name, validation_definitions=[definition],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 50}))
    result = checkpoint.run(batch_parameters={"dataframe": frame},
                            run_id=gx.RunIdentifier(run_name=f"{run_name}-{suite_name}"))
    validation = next(iter(result.run_results.values()))
    by_key = {res.expectation_config.meta["key"]: res for res in validation.results}
    outcomes = []
    for check in checks:
        res = by_key[check.key]
        detail = res.result or {}
        exception = _exception_message(res.exception_info) if not res.success else None
        outcomes.append(Outcome(
            check=check,
            success=bool(res.success),
            observed=detail.get("observed_value", exception),
            unexpected_count=detail.get("unexpected_count"),
            # distinct examples: ten readings of one stuck sensor-day say less than five different days
            examples=list(dict.fromkeys(map(str, detail.get("partial_unexpected_list") or [])))[:5],
        ))
    return outcomes


def _exception_message(info: dict | None) -> str | None:
    """Why an expectation could not run (e.g. its column is missing): GX 1.x nests the message under each
    metric that failed, {metric id: {"exception_message": ...}}; older results held it at the top."""
    if not info:
        return None
    if "exception_message" in info:
        return info["exception_message"]
    messages = (v.get("exception_message") for v in info.values() if isinstance(v, dict))
    return "; ".join(dict.fromkeys(m for m in messages if m)) or None


KEEP_VALIDATIONS = 10  # per suite in the Data Docs; the full history stays in audit.validation_results


def build_data_docs(city: str, run_id: str | None = None, keep: int = KEEP_VALIDATIONS) -> Path:
    """Render GX Data Docs: the pages of run `run_id`'s validations and the index; returns the index page.

    Older results are pruned first (the latest `keep` per suite stay, in the store and on the site), so the docs
    of a daily pipeline do not grow without end; the full history stays in audit.validation_results. Without a
    run id, or when the run validated nothing, the whole site is rebuilt.
    """
    context = _context(city)
    uncommitted = settings.paths().quality_for(city) / "gx" / "uncommitted"
    prune_validations(uncommitted / "validations", keep)
    prune_validations(data_docs_index(city).parent / "validations", keep)
    mine = [key for key in context.validation_results_store.list_keys()
            if run_id and key.run_id.run_name.startswith(f"{run_id}-")]
    context.build_data_docs(resource_identifiers=mine or None)
    return data_docs_index(city)


def prune_validations(store: Path, keep: int) -> int:
    """Delete all but the newest `keep` runs of each suite under `store` (a GX validations store or the site's
    validations pages, which share the suite/run layout), newest by modification time; return how many."""
    removed = 0
    for suite in (p for p in store.iterdir() if p.is_dir()) if store.exists() else []:
        runs = sorted((p for p in suite.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in runs[keep:]:
            shutil.rmtree(old)
            removed += 1
    return removed


def data_docs_index(city: str) -> Path:
    return settings.paths().quality_for(city) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def column_of(check: Check) -> str:
    """The column(s) an expectation looks at, as text (`(table)` for table-level ones)."""
    kwargs = check.kwargs
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return "(table)"


def describe_failure(suite_name: str, outcome: Outcome) -> str:
    """One line an operator can act on: suite, expectation, column, how many values and examples."""
    check = outcome.check
    text = f"suite {suite_name}: {check.expectation} ({check.key}) on {column_of(check)} failed: {check.why}"
    if outcome.unexpected_count is not None:
        text += f"; {outcome.unexpected_count} unexpected value(s)"
    if outcome.examples:
        text += f", e.g. {outcome.examples}"
    elif outcome.observed is not None:
        text += f"; observed {outcome.observed!r}"
    return text


def _results_frame(outcomes: list[Outcome], suite_name: str, stage: str, run_id: str, partition: str,
                   sequence: int, seconds: float) -> pd.DataFrame:
    return pd.DataFrame([{
        "run_id": run_id, "stage": stage, "suite": suite_name, "partition": partition, "sequence": sequence,
        "check_key": o.check.key, "expectation": o.check.expectation, "column": column_of(o.check),
        "severity": o.check.severity, "success": o.success,
        "observed_value": None if o.observed is None else json.dumps(o.observed, default=str),
        "unexpected_count": o.unexpected_count,
        "examples": json.dumps(o.examples, default=str) if o.examples else None,
        "why": o.check.why,
        "seconds": seconds,  # the whole suite's read and validation time, on each of its rows
    } for o in outcomes])


def _next_sequence(con) -> int:
    """A counter ordering validations (the latest result of each suite wins in the report), not a clock."""
    row = con.execute("SELECT coalesce(max(sequence), 0) + 1 FROM audit.validation_results").fetchall()[0]
    return int(row[0])


def run_gate(city: City, suite_name: str, run_id: str, partition: str | None = None,
             database: Path | None = None) -> list[Outcome]:
    """Validate one stage's partition; record results; raise GateFailed on a blocking failure.

    `partition` is the vintage or month the stage wrote (the census vintage by default). `database` is the file
    to validate (the working database by default; the new snapshot for `published_snapshot`). Results are always
    recorded in the working database. A passing raw gate records the load's row count, the reference for the
    next load's cut-file check, and keeps a copy of the delivery in `raw_accepted`; a failing one moves the
    delivery to `raw_rejected` and restores the last accepted one, so a rejected file loses nothing and raw
    always holds what was last accepted.
    """
    suite = SUITES[suite_name]
    partition = partition or city.vintage
    started = time.perf_counter()
    con = warehouse.connect(database, read_only=True) if database else warehouse.connect(city)
    try:
        frame = suite.read(con, city, partition)
        facts = suite.facts(con, city, partition)
    finally:
        con.close()
    overrides = (city.config.get("quality") or {}).get("severity") or {}
    checks = apply_severity(suite_name, suite.checks(facts), overrides)
    outcomes = validate(frame, checks, suite_name, run_id, city=city.name)
    seconds = time.perf_counter() - started
    failures = [describe_failure(suite_name, o) for o in outcomes if not o.success and o.check.severity == "blocking"]
    with warehouse.session(city) as con:
        sequence = _next_sequence(con)
        warehouse.replace_partition(
            con, "audit.validation_results",
            _results_frame(outcomes, suite_name, suite.stage, run_id, partition, sequence, seconds),
            {"city": city.name, "run_id": run_id, "suite": suite_name, "partition": partition})
        if not failures:
            accepted = pd.DataFrame([{"partition": partition, "run_id": run_id, "rows": len(frame),
                                      "accepted_seq": sequence}])
            warehouse.replace_partition(con, "audit.accepted_loads", accepted,
                                        {"city": city.name, "suite": suite_name, "partition": partition})
        if suite.raw_table and database is None:
            # raw keeps the last accepted delivery: a rejected one moves to raw_rejected and the accepted comes back
            keys = {"city": city.name, "_loaded_for": partition}
            if failures:
                restored = warehouse.restore_accepted(con, suite.raw_table, keys)
                failures.append(f"the rejected delivery is kept in raw_rejected.{suite.raw_table.split('.')[1]}; "
                                f"{suite.raw_table} holds the last accepted one again ({restored} rows)")
            else:
                warehouse.keep_accepted(con, suite.raw_table, keys)
    warnings = [o for o in outcomes if not o.success and o.check.severity == "warning"]
    log.info("gate %s %s %s: %d rows, %d checks, %d blocking failure(s), %d warning(s), %.1f s", suite_name,
             city.name, partition, len(frame), len(outcomes), len(failures), len(warnings), seconds)
    for o in warnings:
        log.warning("data-quality warning: %s", describe_failure(suite_name, o))
    if failures:
        raise GateFailed(f"gate {suite_name} failed for {city.name} {partition} ({len(failures)} blocking):\n  "
                         + "\n  ".join(failures)
                         + f"\nData Docs (built at the end of this run): {data_docs_index(city.name)}")
    return outcomes
