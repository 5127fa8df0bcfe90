"""The suites: for each gate, the frame it validates (read from DuckDB) and its expectations with a severity.

A suite is a function `(con, city) -> (frame, checks)`. Frames come from SQL on the working database (GX's own
SQL path does not work with DuckDB), with derived columns where an expectation needs a condition (e.g.
`share_value` holds a value only for indicators measured as shares, so one between-check covers all of them).
Severity `blocking` fails the gate; `warning` is recorded and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cities import City


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: GX class name, its arguments, severity, and why it exists."""

    expectation: str
    kwargs: dict[str, Any]
    severity: str
    why: str


@dataclass(frozen=True)
class Suite:
    name: str
    stage: str
    describe: str
    build: Callable[[Any, City], tuple[pd.DataFrame, list[Check]]]


def _frame(con, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).df()


def blocking(expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(expectation, kwargs, "blocking", why)


def warning(expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(expectation, kwargs, "warning", why)


def raw_census(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    frame = _frame(con, "SELECT * FROM raw.census_households WHERE city = ?", [city.name])
    required = city.section("census")["households"]["required"]
    checks = [blocking("ExpectTableRowCountToBeBetween", "an empty census file must not replace a full one",
                       min_value=1)]
    checks += [blocking("ExpectColumnToExist", "the staging step reads this field", column=c) for c in required]
    checks.append(warning("ExpectColumnValuesToNotBeNull", "households without an id cannot be linked to persons",
                          column="household_id"))
    return frame, checks


def staging_census(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    frame = _frame(con, "SELECT h.*, (SELECT count(*) FROM staging.persons p WHERE p.city = h.city "
                        "AND p.household_id = h.household_id) AS persons_listed "
                        "FROM staging.households h WHERE h.city = ? AND h.vintage = ?", [city.name, city.vintage])
    checks = [
        blocking("ExpectColumnValuesToBeUnique", "one row per household after de-duplication", column="household_id"),
        blocking("ExpectColumnValuesToNotBeNull", "every staged household is placed in an area", column="area_id"),
        blocking("ExpectColumnValuesToBeBetween", "household sizes are positive and plausible",
                 column="members", min_value=1, max_value=60),
        blocking("ExpectColumnPairValuesAToBeGreaterThanB", "a dwelling has no more bedrooms than rooms",
                 column_A="rooms", column_B="bedrooms", or_equal=True, ignore_row_if="either_value_is_missing"),
        warning("ExpectColumnPairValuesToBeEqual", "the declared household size matches the persons listed",
                column_A="members", column_B="persons_listed", mostly=0.95),
    ]
    return frame, checks


def staging_services(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    frame = _frame(con, "SELECT * FROM staging.service_records WHERE city = ? AND month LIKE ?",
                   [city.name, f"{city.vintage}-%"])
    families = city.section("services")["families"]
    checks = [
        blocking("ExpectCompoundColumnsToBeUnique", "one row per service record", column_list=["family", "record_id"]),
        blocking("ExpectColumnValuesToNotBeNull", "every staged record is placed in an area", column="area_id"),
        blocking("ExpectColumnValuesToBeInSet", "only the configured service families", column="family",
                 value_set=families),
        blocking("ExpectColumnDistinctValuesToContainSet", "every service family delivered something",
                 column="family", value_set=families),
    ]
    return frame, checks


def staging_sensors(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    ranges = city.section("sensors")["valid_range"]
    frame = _frame(con, "SELECT *, CASE WHEN flag = 'ok' THEN value END AS ok_value FROM staging.sensor_readings "
                        "WHERE city = ? AND month LIKE ?", [city.name, f"{city.vintage}-%"])
    low = min(r[0] for r in ranges.values())
    high = max(r[1] for r in ranges.values())
    checks = [
        blocking("ExpectCompoundColumnsToBeUnique", "one reading per sensor, parameter and time",
                 column_list=["sensor_id", "parameter", "observed_at"]),
        blocking("ExpectColumnValuesToBeInSet", "every reading carries a known quality flag", column="flag",
                 value_set=["ok", "missing", "out_of_range", "stuck", "spike"]),
        blocking("ExpectColumnValuesToBeBetween", "readings used by indicators lie within physical ranges",
                 column="ok_value", min_value=low, max_value=high),
        warning("ExpectColumnValuesToBeInSet", "most readings pass their quality flags", column="flag",
                value_set=["ok"], mostly=0.9),
    ]
    return frame, checks


def marts_indicator_values(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    frame = _frame(con, """
        SELECT v.*, c.unit,
               CASE WHEN c.unit = 'share' THEN v.value END AS share_value,
               CASE WHEN c.unit = 'share' THEN v.numerator END AS share_numerator,
               CASE WHEN c.unit = 'share' THEN v.denominator END AS share_denominator,
               v.denominator - c.min_denominator AS denominator_margin
        FROM marts.indicator_values v JOIN marts.indicator_catalogue c
          ON c.city = v.city AND c.indicator_id = v.indicator_id
        WHERE v.city = ? AND v.period = ?""", [city.name, city.vintage])
    expected_rows = _frame(con, "SELECT (SELECT count(*) FROM marts.areas WHERE city = ?) * "
                                "(SELECT count(*) FROM marts.indicator_catalogue WHERE city = ?) AS n",
                           [city.name, city.name])["n"].iloc[0]
    checks = [
        blocking("ExpectCompoundColumnsToBeUnique", "one value per area, indicator and period",
                 column_list=["area_id", "indicator_id", "period"]),
        blocking("ExpectTableRowCountToEqual", "every area has a row for every indicator",
                 value=int(expected_rows)),
        blocking("ExpectColumnValuesToBeBetween", "shares lie within [0, 1]", column="share_value",
                 min_value=0, max_value=1),
        blocking("ExpectColumnPairValuesAToBeGreaterThanB", "a share's numerator never exceeds its denominator",
                 column_A="share_denominator", column_B="share_numerator", or_equal=True,
                 ignore_row_if="either_value_is_missing"),
        blocking("ExpectColumnValuesToBeBetween", "no published value rests on fewer cases than the minimum",
                 column="denominator_margin", min_value=0),
    ]
    return frame, checks


def marts_index_scores(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    frame = _frame(con, "SELECT * FROM marts.index_scores WHERE city = ? AND period = ?", [city.name, city.vintage])
    zones = _frame(con, "SELECT area_id FROM marts.areas WHERE city = ? AND depth = 0", [city.name])
    checks = [
        blocking("ExpectCompoundColumnsToBeUnique", "one score per area, node and period",
                 column_list=["index_id", "area_id", "node_id", "period"]),
        blocking("ExpectColumnValuesToBeBetween", "scores lie within [0, 100]", column="score",
                 min_value=0, max_value=100),
        blocking("ExpectColumnValuesToBeBetween", "ranks start at 1", column="rank", min_value=1),
        blocking("ExpectColumnDistinctValuesToContainSet", "every smallest area has a composite score row",
                 column="area_id", value_set=sorted(zones["area_id"])),
        warning("ExpectColumnValuesToNotBeNull", "most areas get a composite score", column="score", mostly=0.9),
    ]
    return frame, checks


def published_snapshot(con, city: City) -> tuple[pd.DataFrame, list[Check]]:
    """Runs on the new snapshot file before it replaces current.duckdb."""
    frame = _frame(con, """
        SELECT v.*, v.denominator - c.min_denominator AS denominator_margin,
               CASE WHEN v.suppressed THEN v.value END AS suppressed_value
        FROM marts.indicator_values v JOIN marts.indicator_catalogue c
          ON c.city = v.city AND c.indicator_id = v.indicator_id WHERE v.city = ?""", [city.name])
    checks = [
        blocking("ExpectTableRowCountToBeBetween", "the snapshot is not empty", min_value=1),
        blocking("ExpectColumnValuesToBeBetween", "no published cell below the suppression threshold",
                 column="denominator_margin", min_value=0),
        blocking("ExpectColumnValuesToBeNull", "suppressed cells carry no value", column="suppressed_value"),
    ]
    return frame, checks


SUITES = {suite.name: suite for suite in [
    Suite("raw_census", "raw", "census households as delivered", raw_census),
    Suite("staging_census", "staging", "typed, placed households and persons", staging_census),
    Suite("staging_service_records", "staging", "typed, placed public-service records", staging_services),
    Suite("staging_sensor_readings", "staging", "flagged sensor readings", staging_sensors),
    Suite("marts_indicator_values", "marts", "indicator values per area", marts_indicator_values),
    Suite("marts_index_scores", "marts", "composite index scores per area", marts_index_scores),
    Suite("published_snapshot", "published", "the snapshot before it goes live", published_snapshot),
]}
