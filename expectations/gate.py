"""Run a suite as a gate: validate with Great Expectations, record every result, fail on a blocking one."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bienestar import warehouse
from cities import City
from expectations.suites import SUITES, Check


class GateFailed(RuntimeError):
    """A blocking expectation failed: nothing downstream may run."""


@dataclass(frozen=True)
class Outcome:
    check: Check
    success: bool
    observed: object
    unexpected_count: int | None
    examples: list


def validate(frame: pd.DataFrame, checks: list[Check], suite_name: str) -> list[Outcome]:
    """Validate a frame against checks with GX Core (ephemeral context, pandas datasource)."""
    # GX logs hundreds of info lines on import under Airflow's logging set-up; only its warnings matter here.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # task logs are not terminals
    batch = (context.data_sources.add_pandas(name=suite_name)
             .add_dataframe_asset(name=suite_name)
             .add_batch_definition_whole_dataframe(suite_name))
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for check in checks:
        suite.add_expectation(getattr(gxe, check.expectation)(**check.kwargs))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(data=batch, suite=suite, name=f"{suite_name}_validation"))
    result = definition.run(batch_parameters={"dataframe": frame},
                            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    outcomes = []
    for check, res in zip(checks, result.results, strict=True):
        detail = res.result or {}
        if res.exception_info and res.exception_info.get("raised_exception"):
            detail = {"observed_value": res.exception_info.get("exception_message")}
        outcomes.append(Outcome(
            check=check,
            success=bool(res.success),
            observed=detail.get("observed_value"),
            unexpected_count=detail.get("unexpected_count"),
            examples=list(detail.get("partial_unexpected_list") or [])[:5],
        ))
    return outcomes


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
    text = f"suite {suite_name}: {check.expectation} on {column_of(check)} failed ({check.why})"
    if outcome.unexpected_count is not None:
        text += f"; {outcome.unexpected_count} unexpected value(s)"
    if outcome.examples:
        text += f", e.g. {outcome.examples}"
    elif outcome.observed is not None:
        text += f"; observed {outcome.observed!r}"
    return text


def _results_frame(outcomes: list[Outcome], suite_name: str, stage: str, run_id: str) -> pd.DataFrame:
    return pd.DataFrame([{
        "run_id": run_id, "stage": stage, "suite": suite_name, "expectation": o.check.expectation,
        "column": column_of(o.check),
        "severity": o.check.severity, "success": o.success,
        "observed_value": None if o.observed is None else json.dumps(o.observed, default=str),
        "unexpected_count": o.unexpected_count,
        "examples": json.dumps(o.examples, default=str) if o.examples else None,
    } for o in outcomes])


def run_gate(city: City, suite_name: str, run_id: str, database: Path | None = None) -> list[Outcome]:
    """Validate one stage; record results in audit.validation_results; raise GateFailed on a blocking failure.

    `database` is the file to validate (the working database by default; the new snapshot for
    `published_snapshot`). Results are always recorded in the working database.
    """
    suite = SUITES[suite_name]
    con = warehouse.connect(database, read_only=True) if database else warehouse.connect()
    try:
        frame, checks = suite.build(con, city)
    finally:
        con.close()
    outcomes = validate(frame, checks, suite_name)
    with warehouse.session() as con:
        warehouse.replace_partition(con, "audit.validation_results",
                                    _results_frame(outcomes, suite_name, suite.stage, run_id),
                                    {"city": city.name, "run_id": run_id, "suite": suite_name})
    failures = [describe_failure(suite_name, o) for o in outcomes if not o.success and o.check.severity == "blocking"]
    warnings = [describe_failure(suite_name, o) for o in outcomes if not o.success and o.check.severity == "warning"]
    for text in warnings:
        logging.getLogger(__name__).warning("warning: %s", text)
    if failures:
        raise GateFailed(f"gate {suite_name} failed for {city.name} ({len(failures)} blocking):\n  "
                         + "\n  ".join(failures))
    return outcomes
