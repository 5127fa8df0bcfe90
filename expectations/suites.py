"""The suites: for each gate, the frame it validates (read from DuckDB) and its expectations with a severity.

A suite reads one frame for one partition (the census vintage, or a month) with SQL on the working database
(GX's own SQL path does not work with DuckDB), adding derived columns where an expectation needs a condition
(e.g. `share_value` holds a value only for indicators measured as shares, so one between-check covers all of
them). Its checks are built from *facts*: the city's quality thresholds (`quality:` in city.yaml) and what the
suite needs to know of the rest of the database (the zones that exist, the last accepted row count, ...).
Reading and checking are separate so that tests can validate hand-made frames.

Severity `blocking` fails the gate and stops everything downstream; `warning` is recorded (audit, Data Docs,
the report's data-quality section) and the run goes on. A city can change a check's severity in
`quality.severity` (`suite.check: warning`).

Row-level problems (one bad value) are the sources layer's business: the row is quarantined and the rest go on.
Batch-level problems stop the run: a missing column, a file cut short (`max_row_drop`), a unit changed, or more
than `batch_fault_share` of a field's values unusable. The `mostly` of each raw check draws that line.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from bienestar import warehouse
from bienestar.warehouse import read_frame
from cities import City
from privacy import disclosure

DEFAULT_THRESHOLDS = {
    "max_row_drop": 0.2,            # fewer rows than (1 - this) x the last accepted load: a cut file
    "max_redelivery_drop": 0.02,    # the same, against the last accepted delivery of the same period
    "batch_fault_share": 0.02,      # more unusable values than this share in one field: stop, do not quarantine
    "population_tolerance": 0.02,   # persons listed vs household sizes declared
    "sensor_day_completeness": 0.75,  # share of valid hourly readings a sensor needs on a day
    "min_scored_share": 0.9,        # share of smallest areas that must get a composite score
    "max_missing_share": 0.1,       # share of smallest areas an index dimension or indicator may lack (no data)
    "max_area_shift": 0.5,          # households of a zone changing by more than this share vs the last accepted
    "min_area_shift": 10,           # ... and by at least this many households, block a re-delivery
    "max_day_shift": 0.5,           # a family's records on a day differing by more than this share from the same day
                                    # of the accepted month (a re-delivery) or the previous month's weekday mean
    "min_day_shift": 10,            # ... and by at least this many records, block the month
    "day_shift_sigmas": 5,          # a new month's day must also lie this many standard errors from chance
    "max_station_shift": 0.5,       # a station's readings of a parameter on a day beyond this share of its usual
    "min_station_shift": 12,        # ... and by at least this many readings: more blocks (surge), fewer warns (drop)
}

LISTED = 10      # zones, days or stations a shift message names before "and N more"
USUAL_DAYS = 7   # accepted days before a sensor day that give each station its usual readings a day


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: a stable key, the GX class name and arguments, severity, and why it exists."""

    key: str
    expectation: str
    kwargs: dict[str, Any]
    severity: str
    why: str


@dataclass(frozen=True)
class Suite:
    """A gate's suite: what it reads, the facts it needs, and the checks it builds from them."""

    name: str
    stage: str
    describe: str
    read: Callable[[Any, City, str], pd.DataFrame]
    checks: Callable[[dict], list[Check]]
    facts: Callable[[Any, City, str], dict] = field(default=lambda con, city, partition: {})
    raw_table: str | None = None  # a raw gate's table: kept when accepted, restored when a delivery is rejected


def blocking(key: str, expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(key, expectation, kwargs, "blocking", why)


def warning(key: str, expectation: str, why: str, **kwargs: Any) -> Check:
    return Check(key, expectation, kwargs, "warning", why)


def thresholds(city: City) -> dict:
    """The city's quality thresholds over the defaults."""
    configured = dict(city.config.get("quality") or {})
    configured.pop("severity", None)
    return {**DEFAULT_THRESHOLDS, **configured}


def apply_severity(suite: str, checks: list[Check], overrides: dict[str, str]) -> list[Check]:
    """Checks with the city's severity overrides (`suite.key: warning|blocking`) applied."""
    out = []
    for check in checks:
        severity = overrides.get(f"{suite}.{check.key}", check.severity)
        if severity not in ("blocking", "warning"):
            raise ValueError(f"quality.severity.{suite}.{check.key}: {severity!r} is not blocking or warning")
        if check.key in DISCLOSURE_CHECKS and severity != "blocking":
            raise ValueError(f"quality.severity.{suite}.{check.key}: disclosure checks are always blocking (a "
                             "warning would publish the cells it names, and their counts, in marts.data_quality)")
        out.append(Check(check.key, check.expectation, check.kwargs, severity, check.why))
    return out



def _scalar(con, sql: str, params: list) -> Any:
    row = con.execute(sql, params).fetchall()
    return row[0][0] if row else None


def _base_facts(con, city: City, suite: str, partition: str) -> dict:
    """Thresholds, and for the cut-file check the row count of the last accepted load of this suite and of the
    last accepted load of this very partition (a re-delivery: the same census year, month or day)."""
    previous = _scalar(con, "SELECT rows FROM audit.accepted_loads WHERE city = ? AND suite = ? "
                            "ORDER BY accepted_seq DESC LIMIT 1", [city.name, suite])
    same = _scalar(con, "SELECT rows FROM audit.accepted_loads WHERE city = ? AND suite = ? AND \"partition\" = ?",
                   [city.name, suite, partition])
    return {**thresholds(city), "previous_rows": previous, "redelivered_rows": same}


def _row_count(facts: dict) -> Check:
    """A cut file: fewer rows than the last accepted re-delivery of the partition allows (max_redelivery_drop),
    or than the last accepted load of another partition allows (max_row_drop); never an empty delivery."""
    same, previous = facts.get("redelivered_rows"), facts.get("previous_rows")
    if same:
        minimum = max(1, math.ceil(same * (1 - facts["max_redelivery_drop"])))
    else:
        minimum = max(1, int(previous * (1 - facts["max_row_drop"]))) if previous else 1
    # one text for both cases: a rerun of the same interval must publish the same data_quality rows
    why = (f"a delivery with {facts['max_row_drop']:.0%} fewer rows than the last accepted one, or a re-delivery "
           f"of the same period with {facts['max_redelivery_drop']:.0%} fewer, is a cut file (an empty one never "
           "replaces data)")
    return blocking("row_count", "ExpectTableRowCountToBeBetween", why, min_value=minimum)


def _columns(required: list[str]) -> list[Check]:
    return [blocking(f"column_{c}", "ExpectColumnToExist", "the next stage reads this field", column=c)
            for c in required]


def _mostly(facts: dict) -> float:
    return 1 - facts["batch_fault_share"]


# ---------------------------------------------------------------- raw: deliveries as received
def _raw_columns(con, table: str, required: list[str]) -> str:
    """The columns a raw census gate reads: `_row` and the required fields the delivery has (a missing one fails
    its column check). The lineage columns stay in DuckDB: on a national census they are most of the bytes."""
    present = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    return ", ".join(f'"{c}"' for c in ["_row", *required] if c in present)


def _required_households(city: City) -> list[str]:
    spec = city.section("census")["households"]
    generalised = spec.get("generalise_location") or []
    # coordinates are replaced by area_id and location at ingestion: raw has those instead
    return [c for c in spec["required"] if c not in generalised] + (["area_id", "location"] if generalised else [])


def read_raw_census(con, city: City, partition: str) -> pd.DataFrame:
    columns = _raw_columns(con, "raw.census_households", _required_households(city))
    frame = read_frame(con, f"SELECT {columns}, TRY_CAST(members AS DOUBLE) AS members_number "
                            "FROM raw.census_households WHERE city = ? AND _loaded_for = ? ORDER BY _row",
                       [city.name, partition])
    return frame.assign(area_shift=area_shift(con, city, partition))


def area_shift(con, city: City, partition: str) -> str:
    """`ok`, or the zones whose households changed beyond the city's thresholds against the last accepted
    delivery of the same census year (raw_accepted): a re-delivery cut short, or placed by broken coordinates,
    shows here as zones emptied or swollen. A first delivery has nothing to compare with."""
    if not warehouse.table_exists(con, "raw_accepted.census_households"):
        return "ok"
    limits = thresholds(city)
    counts = read_frame(con, """
        WITH new AS (SELECT area_id, count(*) AS n FROM raw.census_households
                     WHERE city = ? AND _loaded_for = ? GROUP BY area_id),
             old AS (SELECT area_id, count(*) AS n FROM raw_accepted.census_households
                     WHERE city = ? AND _loaded_for = ? GROUP BY area_id)
        SELECT coalesce(new.area_id, old.area_id) AS area_id, coalesce(old.n, 0) AS before,
               coalesce(new.n, 0) AS after
        FROM new FULL JOIN old USING (area_id) ORDER BY area_id NULLS LAST""", [city.name, partition] * 2)
    if counts["before"].sum() == 0:
        return "ok"
    change = counts["after"] - counts["before"]
    share = change.abs() / counts["before"].where(counts["before"] > 0, 1)
    moved = counts[(share > limits["max_area_shift"]) & (change.abs() >= limits["min_area_shift"])]
    if moved.empty:
        return "ok"
    listed = ", ".join(f"{r.area_id or 'unplaced'} {r.before} -> {r.after}" for r in moved.head(10).itertuples())
    more = f" and {len(moved) - 10} more" if len(moved) > 10 else ""
    return (f"{len(moved)} zone(s) changed by more than {limits['max_area_shift']:.0%} of their households since "
            f"the last accepted delivery: {listed}{more}")


def facts_raw_census(con, city: City, partition: str) -> dict:
    return {**_base_facts(con, city, "raw_census", partition), "required": _required_households(city)}


def checks_raw_census(facts: dict) -> list[Check]:
    mostly = _mostly(facts)
    return [_row_count(facts), *_columns(facts["required"]),
            blocking("household_id", "ExpectColumnValuesToNotBeNull", "households are linked to persons by id",
                     column="household_id", mostly=mostly),
            blocking("members_range", "ExpectColumnValuesToBeBetween",
                     "household sizes are positive whole numbers; many bad ones mean a broken export",
                     column="members_number", min_value=1, max_value=60, mostly=mostly),
            blocking("placed", "ExpectColumnValuesToBeInSet", "households are placed in zones from their "
                     "coordinates; many missing or outside the city mean broken coordinates", column="location",
                     value_set=["placed"], mostly=mostly),
            blocking("area_shift", "ExpectColumnValuesToBeInSet", "a re-delivery of a census year keeps each "
                     "zone's households within max_area_shift of the last accepted one (a cut file or broken "
                     "coordinates empty or swell zones)", column="area_shift", value_set=["ok"])]


def read_raw_persons(con, city: City, partition: str) -> pd.DataFrame:
    columns = _raw_columns(con, "raw.census_persons", city.section("census")["persons"]["required"])
    return read_frame(con, f"SELECT {columns}, TRY_CAST(age AS DOUBLE) AS age_number FROM raw.census_persons "
                           "WHERE city = ? AND _loaded_for = ? ORDER BY _row", [city.name, partition])


def facts_raw_persons(con, city: City, partition: str) -> dict:
    return {**_base_facts(con, city, "raw_census_persons", partition),
            "required": city.section("census")["persons"]["required"]}


def checks_raw_persons(facts: dict) -> list[Check]:
    return [_row_count(facts), *_columns(facts["required"]),
            blocking("age_range", "ExpectColumnValuesToBeBetween", "ages are whole years from 0 to 120",
                     column="age_number", min_value=0, max_value=120, mostly=_mostly(facts))]


def read_raw_services(con, city: City, partition: str) -> pd.DataFrame:
    frame = read_frame(con, "SELECT *, regexp_extract(_source, '[^/]+$') AS family, "
                        "TRY_CAST(occurred_at AS TIMESTAMP) AS occurred_at_time, TRY_CAST(lon AS DOUBLE) AS lon_number "
                        "FROM raw.service_records WHERE city = ? AND _loaded_for = ? ORDER BY _source, _row",
                   [city.name, partition])
    return frame.assign(day_shift=day_shift(con, city, partition))


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(items[:LISTED]) + more


def _number(value: float) -> str:
    """12 for 12.0, 37.5 for 37.5, 9.3 for 9.333: an expected count as a message shows it."""
    return f"{value:.1f}".removesuffix(".0")


def _days_of(month: str) -> list[date]:
    start = date.fromisoformat(f"{month}-01")
    return [start + timedelta(days=d) for d in range(calendar.monthrange(start.year, start.month)[1])]


def _daily_records(con, table: str, city: City, month: str) -> dict[tuple[str, date], int]:
    """Records of one month's delivery per (family, day) (the callers look up the days of the month only)."""
    rows = con.execute(f"""
        SELECT regexp_extract(_source, '[^/]+$') AS family, CAST(TRY_CAST(occurred_at AS TIMESTAMP) AS DATE) AS day,
               count(*)
        FROM {table} WHERE city = ? AND _loaded_for = ? GROUP BY ALL""", [city.name, month]).fetchall()
    return {(family, day): n for family, day, n in rows}


def day_shift(con, city: City, partition: str) -> str:
    """`ok`, or the family-days whose record counts moved beyond the city's thresholds against the last accepted
    delivery (raw_accepted): of this month if there is one (a re-delivery: each day against the same day), else of
    the most recent earlier accepted month (a new month: each day against that month's mean for the same weekday,
    so a Monday is held to the Mondays). A file cut short, a day lost or doubled, dates shifted, show here.

    Every day of the month counts (a day without records counts 0); only families of the reference are compared
    (a family new to the city has nothing to compare with; a family missing is the `families` check's). No
    accepted delivery yet, or a partition that is not a month: nothing to compare with.
    """
    if not re.fullmatch(r"\d{4}-\d{2}", partition) or not warehouse.table_exists(con, "raw_accepted.service_records"):
        return "ok"
    reference = _scalar(con, "SELECT max(_loaded_for) FROM raw_accepted.service_records WHERE city = ? "
                             "AND _loaded_for <= ? AND regexp_full_match(_loaded_for, '\\d{4}-\\d{2}')",
                        [city.name, partition])
    if reference is None:
        return "ok"
    limits = thresholds(city)
    new = _daily_records(con, "raw.service_records", city, partition)
    old = _daily_records(con, "raw_accepted.service_records", city, reference)
    if reference == partition:
        def expected(family: str, day: date) -> float:
            return old.get((family, day), 0)
        basis = "the same days of the last accepted delivery of the month"
    else:
        means, weekdays = {}, {}
        for weekday in range(7):
            weekdays[weekday] = [d for d in _days_of(reference) if d.weekday() == weekday]
            for family in {f for f, _ in old}:
                means[family, weekday] = sum(old.get((family, d), 0) for d in weekdays[weekday]) / len(
                    weekdays[weekday])

        def expected(family: str, day: date) -> float:
            return means[family, day.weekday()]
        basis = f"the mean of the same weekday in {reference}, the last accepted month before"

    def by_chance(count: int, usual: float, day: date) -> bool:
        """A new month's day is a new count: chance moves it. On the square-root scale a Poisson count has a
        standard error of 1/2 whatever its mean (Anscombe), and the reference mean of k weekdays adds 1/k of
        it; within day_shift_sigmas of those is chance (an emptied day of 20 records is 9 away, a day of 63
        where 34 were usual 4.2). A re-delivery repeats its days exactly: no room for chance."""
        if reference == partition:
            return False
        noise = limits["day_shift_sigmas"] * math.sqrt(1 + 1 / len(weekdays[day.weekday()]))
        return abs(2 * (math.sqrt(count) - math.sqrt(usual))) <= noise

    shifted = []
    for family in sorted({f for f, _ in old}):
        for day in _days_of(partition):
            count, usual = new.get((family, day), 0), expected(family, day)
            change = abs(count - usual)
            if change > limits["max_day_shift"] * usual and change >= limits["min_day_shift"] \
                    and not by_chance(count, usual, day):
                shifted.append(f"{family} {day} {count} (expected {_number(usual)})")
    if not shifted:
        return "ok"
    return (f"{len(shifted)} day(s) of service records differ by more than {limits['max_day_shift']:.0%} from "
            f"{basis}: {_listing(shifted)}")


def facts_raw_services(con, city: City, partition: str) -> dict:
    services = city.section("services")
    return {**_base_facts(con, city, "raw_services", partition), "families": services["families"],
            "required": services["required"]}


def checks_raw_services(facts: dict) -> list[Check]:
    mostly = _mostly(facts)
    return [_row_count(facts), *_columns(facts["required"]),
            blocking("families", "ExpectColumnDistinctValuesToContainSet", "every service family delivered",
                     column="family", value_set=facts["families"]),
            blocking("record_id", "ExpectColumnValuesToNotBeNull", "records are de-duplicated by id",
                     column="record_id", mostly=mostly),
            blocking("occurred_at", "ExpectColumnValuesToNotBeNull", "dates in ISO 8601; many unreadable ones mean "
                     "a changed export format", column="occurred_at_time", mostly=mostly),
            blocking("coordinates", "ExpectColumnValuesToNotBeNull", "records are placed in zones from coordinates",
                     column="lon_number", mostly=mostly),
            blocking("day_shift", "ExpectColumnValuesToBeInSet", "each family's records of each day stay within "
                     f"{facts['max_day_shift']:.0%}, or move by fewer than {facts['min_day_shift']} records, from the "
                     "last accepted delivery: the same day of a re-delivered month, the same weekday's mean of the "
                     f"month before for a new one, beyond {facts['day_shift_sigmas']} standard errors of chance (a cut "
                     "file, a lost or doubled day, shifted dates)",
                     column="day_shift", value_set=["ok"])]


def read_raw_sensors(con, city: City, partition: str) -> pd.DataFrame:
    ranges = city.section("sensors")["valid_range"]
    cases = " ".join(f"WHEN '{p}' THEN v BETWEEN {lo} AND {hi}" for p, (lo, hi) in ranges.items())
    frame = read_frame(con, f"""
        SELECT *, parameter || ':' || unit AS parameter_unit,
               CASE WHEN v IS NULL THEN NULL ELSE (CASE parameter {cases} ELSE FALSE END) END AS in_range
        FROM (SELECT *, TRY_CAST(value AS DOUBLE) AS v FROM raw.sensor_readings WHERE city = ? AND _loaded_for = ?)
        ORDER BY _row""", [city.name, partition])
    surge, drop = station_shift(con, city, partition)
    return frame.assign(station_surge=surge, station_drop=drop)


def station_shift(con, city: City, partition: str) -> tuple[str, str]:
    """(`station_surge`, `station_drop`): `ok`, or the station series (sensor and parameter: readings come one per
    parameter) whose readings in this delivery differ from their usual count beyond the city's thresholds.

    A series' usual count is the most readings it delivered in one partition over the last accepted delivery of
    this partition and the USUAL_DAYS accepted partitions before it (raw_accepted, the same kind of key). Not
    the previous day alone: a station back from a partial outage would look like a surge against its outage day,
    and block every later day until a week of outage had passed. More readings than usual are a duplicated or
    re-timed export (blocking); fewer, or none, an outage (a warning: `sensor_day_completeness` deals with it
    downstream). A series with no accepted reference (a new station or parameter) has nothing to compare with.
    """
    if not warehouse.table_exists(con, "raw_accepted.sensor_readings"):
        return "ok", "ok"
    limits = thresholds(city)
    counts = read_frame(con, """
        WITH reference AS (
            SELECT _loaded_for FROM (
                SELECT DISTINCT _loaded_for FROM raw_accepted.sensor_readings
                WHERE city = $city AND _loaded_for < $partition AND length(_loaded_for) = length($partition)
                ORDER BY _loaded_for DESC LIMIT $days)
            UNION SELECT $partition),
        usual AS (
            SELECT sensor_id, parameter, max(n) AS usual FROM (
                SELECT _loaded_for, sensor_id, parameter, count(*) AS n FROM raw_accepted.sensor_readings
                WHERE city = $city AND _loaded_for IN (SELECT _loaded_for FROM reference)
                  AND sensor_id IS NOT NULL AND parameter IS NOT NULL
                GROUP BY ALL)
            GROUP BY ALL),
        delivered AS (
            SELECT sensor_id, parameter, count(*) AS n FROM raw.sensor_readings
            WHERE city = $city AND _loaded_for = $partition GROUP BY ALL)
        SELECT sensor_id, parameter, usual, coalesce(d.n, 0) AS n
        FROM usual LEFT JOIN delivered d USING (sensor_id, parameter) ORDER BY sensor_id, parameter""",
                    {"city": city.name, "partition": partition, "days": USUAL_DAYS})
    change = counts["n"] - counts["usual"]
    beyond = (change.abs() > limits["max_station_shift"] * counts["usual"]) & (
        change.abs() >= limits["min_station_shift"])
    verdicts = []
    for moved, direction in ((beyond & (change > 0), "above"), (beyond & (change < 0), "below")):
        listed = [f"{r.sensor_id}/{r.parameter} {r.n} (usual {r.usual})" for r in counts[moved].itertuples()]
        verdicts.append("ok" if not listed else
                        f"{len(listed)} station series delivered more than {limits['max_station_shift']:.0%} "
                        f"{direction} their usual readings: {_listing(listed)}")
    return verdicts[0], verdicts[1]


def facts_raw_sensors(con, city: City, partition: str) -> dict:
    sensors = city.section("sensors")
    from transforms.sensor_readings import CANONICAL_UNITS, UNIT_ALIASES

    # units staging knows how to convert are fine (mg/m3 -> ug/m3); any other unit is a batch-level change
    units = [f"{p}:{u}" for p in sensors["valid_range"] if p in CANONICAL_UNITS
             for u in UNIT_ALIASES[CANONICAL_UNITS[p]]]
    return {**_base_facts(con, city, "raw_sensors", partition), "required": sensors["required"], "units": units}


def checks_raw_sensors(facts: dict) -> list[Check]:
    mostly = _mostly(facts)
    return [_row_count(facts), *_columns(facts["required"]),
            blocking("units", "ExpectColumnValuesToBeInSet", "a parameter reported in another unit would be read "
                     "as a different number", column="parameter_unit", value_set=facts["units"], mostly=mostly),
            blocking("physical_range", "ExpectColumnValuesToBeInSet", "values within each parameter's physical "
                     "range; many outside means a unit or sensor-network fault", column="in_range",
                     value_set=[True], mostly=mostly),
            blocking("station_surge", "ExpectColumnValuesToBeInSet", "no station delivers more than "
                     f"{facts['max_station_shift']:.0%} (and at least {facts['min_station_shift']} readings) above "
                     f"its usual readings of a parameter (the most in one day of the last {USUAL_DAYS} accepted days "
                     "and of this day's accepted delivery): a duplicated or re-timed export", column="station_surge",
                     value_set=["ok"]),
            warning("station_drop", "ExpectColumnValuesToBeInSet", "stations delivering more than "
                    f"{facts['max_station_shift']:.0%} (and at least {facts['min_station_shift']} readings) below "
                    "their usual readings, or none, are named: an outage, which sensor_day_completeness handles "
                    "downstream (a warning, so one dead station never blocks later days)", column="station_drop",
                    value_set=["ok"])]


# ---------------------------------------------------------------- staging: typed, cleaned, placed
def read_staging_census(con, city: City, partition: str) -> pd.DataFrame:
    return read_frame(con, """
        SELECT h.*, coalesce(p.persons, 0) AS persons_listed
        FROM staging.households h
        LEFT JOIN (SELECT household_id, count(*) AS persons FROM staging.persons WHERE city = ? AND vintage = ?
                   GROUP BY household_id) p USING (household_id)
        WHERE h.city = ? AND h.vintage = ? ORDER BY h.household_id""",
                  [city.name, partition, city.name, partition])


def facts_staging_census(con, city: City, partition: str) -> dict:
    persons = _scalar(con, "SELECT count(*) FROM staging.persons WHERE city = ? AND vintage = ?",
                      [city.name, partition])
    return {**thresholds(city), "persons": int(persons or 0)}


def checks_staging_census(facts: dict) -> list[Check]:
    tolerance = facts["population_tolerance"]
    return [
        blocking("household_unique", "ExpectColumnValuesToBeUnique", "one row per household after de-duplication",
                 column="household_id"),
        blocking("area_placed", "ExpectColumnValuesToNotBeNull", "every staged household is placed in an area",
                 column="area_id"),
        blocking("members_range", "ExpectColumnValuesToBeBetween", "household sizes are positive and plausible",
                 column="members", min_value=1, max_value=60),
        blocking("rooms_bedrooms", "ExpectColumnPairValuesAToBeGreaterThanB", "a dwelling has no more bedrooms "
                 "than rooms", column_A="rooms", column_B="bedrooms", or_equal=True,
                 ignore_row_if="either_value_is_missing"),
        blocking("population_total", "ExpectColumnSumToBeBetween", "the persons listed add up to the household "
                 f"sizes declared, within {tolerance:.0%}", column="members",
                 min_value=facts["persons"] * (1 - tolerance), max_value=facts["persons"] * (1 + tolerance)),
        warning("members_listed", "ExpectColumnPairValuesToBeEqual", "each household's declared size matches the "
                "persons listed", column_A="members", column_B="persons_listed", mostly=0.95),
    ]


def read_staging_survey(con, city: City, partition: str) -> pd.DataFrame:
    """The staged survey households, each with the responding PSUs of its stratum and its stratum's response
    rate (docs/survey.md)."""
    return read_frame(con, """
        SELECT h.*, s.psus AS responding_psus_in_stratum, s.rate AS stratum_response_rate
        FROM staging.survey_households h JOIN (
            SELECT stratum, count(DISTINCT CASE WHEN responded THEN psu END) AS psus, avg(responded::INT) AS rate
            FROM staging.survey_households WHERE city = ? AND vintage = ? GROUP BY stratum) s USING (stratum)
        WHERE h.city = ? AND h.vintage = ? ORDER BY h.household_id""",
                      [city.name, partition, city.name, partition])


def facts_staging_survey(con, city: City, partition: str) -> dict:
    survey = city.settings.survey
    return {**thresholds(city), "topics": list(survey.perception_topics) if survey else []}


def checks_staging_survey(facts: dict) -> list[Check]:
    return [
        blocking("household_unique", "ExpectColumnValuesToBeUnique", "one row per sampled household",
                 column="household_id"),
        blocking("area_placed", "ExpectColumnValuesToNotBeNull", "every sampled household lives in a zone of the "
                 "city", column="area_id"),
        blocking("design_weight", "ExpectColumnValuesToBeBetween", "a design weight is the inverse of a selection "
                 "probability: at least 1", column="design_weight", min_value=1),
        blocking("two_psus_per_stratum", "ExpectColumnValuesToBeBetween", "every stratum keeps at least two "
                 "responding PSUs, or its variance cannot be estimated", column="responding_psus_in_stratum",
                 min_value=2),
        blocking("income_not_negative", "ExpectColumnValuesToBeBetween", "income per capita is not negative",
                 column="income_per_capita", min_value=0),
        *[blocking(f"satisfaction_{topic}", "ExpectColumnValuesToBeBetween", "satisfaction is rated 1 to 10",
                   column=f"satisfaction_{topic}", min_value=1, max_value=10) for topic in facts["topics"]],
        warning("response_rate", "ExpectColumnValuesToBeBetween", "every stratum's response rate is at least half "
                "(below it, non-response weighting carries more of the estimate than the answers do)",
                column="stratum_response_rate", min_value=0.5),
    ]


def read_staging_services(con, city: City, partition: str) -> pd.DataFrame:
    return read_frame(con, "SELECT * FROM staging.service_records WHERE city = ? AND month = ? "
                           "ORDER BY family, record_id", [city.name, partition])


def facts_staging_services(con, city: City, partition: str) -> dict:
    return {**thresholds(city), "families": city.section("services")["families"]}


def checks_staging_services(facts: dict) -> list[Check]:
    families = facts["families"]
    return [
        blocking("record_unique", "ExpectCompoundColumnsToBeUnique", "one row per service record",
                 column_list=["family", "record_id"]),
        blocking("area_placed", "ExpectColumnValuesToNotBeNull", "every staged record is placed in an area",
                 column="area_id"),
        blocking("families_known", "ExpectColumnValuesToBeInSet", "only the configured service families",
                 column="family", value_set=families),
        blocking("families_present", "ExpectColumnDistinctValuesToContainSet", "every service family has records",
                 column="family", value_set=families),
    ]


def read_staging_sensors(con, city: City, partition: str) -> pd.DataFrame:
    stuck = int(city.section("sensors")["stuck_hours"])
    need = float(thresholds(city)["sensor_day_completeness"])
    return read_frame(con, f"""
        WITH runs AS (
            SELECT *, sum(CASE WHEN value IS NOT DISTINCT FROM previous THEN 0 ELSE 1 END)
                      OVER (PARTITION BY sensor_id, parameter ORDER BY observed_at) AS run_id
            FROM (SELECT *, lag(value) OVER (PARTITION BY sensor_id, parameter ORDER BY observed_at) AS previous
                  FROM staging.sensor_readings WHERE city = ? AND "partition" = ?)
        ), measured AS (
            SELECT *, count(*) OVER (PARTITION BY sensor_id, parameter, run_id) AS run_length,
                   count(*) FILTER (WHERE flag = 'ok')
                       OVER (PARTITION BY sensor_id, parameter, CAST(observed_at AS DATE)) AS day_ok
            FROM runs
        )
        SELECT sensor_id, parameter, unit, observed_at, value, flag,
               CASE WHEN flag = 'ok' THEN value END AS ok_value,
               CASE WHEN flag = 'ok' AND value IS NOT NULL AND run_length >= {stuck}
                    THEN sensor_id || '/' || parameter || '/' || strftime(observed_at, '%Y-%m-%dT%H') ELSE 'ok' END
                   AS unflagged_stuck,
               CASE WHEN day_ok < {need} * 24
                    THEN sensor_id || '/' || parameter || '/' || strftime(observed_at, '%Y-%m-%d') ELSE 'ok' END
                   AS incomplete_day
        FROM measured ORDER BY sensor_id, parameter, observed_at""", [city.name, partition])


def facts_staging_sensors(con, city: City, partition: str) -> dict:
    ranges = city.section("sensors")["valid_range"]
    return {**thresholds(city), "low": min(r[0] for r in ranges.values()), "high": max(r[1] for r in ranges.values())}


def checks_staging_sensors(facts: dict) -> list[Check]:
    return [
        blocking("reading_unique", "ExpectCompoundColumnsToBeUnique", "one reading per sensor, parameter and hour",
                 column_list=["sensor_id", "parameter", "observed_at"]),
        blocking("flags_known", "ExpectColumnValuesToBeInSet", "every reading carries a known quality flag",
                 column="flag", value_set=["ok", "missing", "out_of_range", "stuck", "spike"]),
        blocking("used_in_range", "ExpectColumnValuesToBeBetween", "readings used by indicators lie within "
                 "physical ranges", column="ok_value", min_value=facts["low"], max_value=facts["high"]),
        blocking("no_unflagged_stuck", "ExpectColumnValuesToBeInSet", "a stuck sensor is flagged, never used",
                 column="unflagged_stuck", value_set=["ok"]),
        warning("day_completeness", "ExpectColumnValuesToBeInSet", f"each sensor has at least "
                f"{facts['sensor_day_completeness']:.0%} valid hours every day (sensor/parameter/day listed)",
                column="incomplete_day", value_set=["ok"]),
    ]


# ---------------------------------------------------------------- marts: what planners read
def read_marts_indicator_values(con, city: City, partition: str) -> pd.DataFrame:
    return read_frame(con, f"""
        SELECT v.*, c.unit,
               CASE WHEN c.unit = 'share' THEN v.value END AS share_value,
               CASE WHEN c.unit = 'share' THEN v.numerator END AS share_numerator,
               CASE WHEN c.unit = 'share' THEN v.denominator END AS share_denominator,
               {disclosure_columns(city)}
        FROM marts.indicator_values v JOIN marts.indicator_catalogue c
          ON c.city = v.city AND c.indicator_id = v.indicator_id
        WHERE v.city = ? AND v.period = ? ORDER BY v.level, v.area_id, v.indicator_id""", [city.name, partition])


def disclosure_columns(city: City) -> str:
    """SQL columns (over `marts.indicator_values v` joined to its catalogue `c`) that check the city's disclosure
    rules (privacy/disclosure.py) on what is published:

    denominator_margin  a published cell's denominator minus its minimum (the sensitive one where flagged): >= 0
    small_count         `ok`, or the published numerator (or a share's complement) of 1 .. min_count - 1 cases
    reason              `published`, or why the cell is withheld (`primary`, `sensitive`, `secondary`)
    reason_consistent   a cell is withheld exactly when it has a reason
    The households behind a share of persons are not in the marts, and weighted numerators (Alkire-Foster scores
    and contributions) are not counts: the stage holds both to the rules on the households behind them, and
    `small_count` checks the numerators that are counts (the catalogue's `weighted: false`).
    """
    rules = disclosure.Rules.of(city)
    minimum = (f"CASE WHEN c.sensitive THEN greatest(c.min_denominator, {rules.sensitive_min_denominator}) "
               "ELSE c.min_denominator END")
    count = f"CASE WHEN c.sensitive THEN {rules.sensitive_min_count} ELSE {rules.min_count} END"
    return f"""v.denominator - ({minimum}) AS denominator_margin,
               CASE WHEN c.min_denominator > 0 AND NOT v.suppressed AND NOT c.weighted AND (
                        (v.numerator > 0 AND v.numerator < {count}) OR
                        (c.unit = 'share' AND v.denominator - v.numerator > 0
                         AND v.denominator - v.numerator < {count}))
                    THEN v.area_id || ' ' || v.indicator_id || ': ' || v.numerator || ' of ' || v.denominator
                    ELSE 'ok' END AS small_count,
               coalesce(v.suppression, 'published') AS reason,
               v.suppressed = (v.suppression IS NOT NULL) AS reason_consistent"""


DISCLOSURE_CHECKS = ("suppression", "no_small_counts", "suppression_reason", "suppression_flag",
                     "suppressed_cells_empty")


def disclosure_checks() -> list[Check]:
    """The disclosure rules as blocking checks (columns from `disclosure_columns`)."""
    return [
        blocking("suppression", "ExpectColumnValuesToBeBetween", "no published value rests on fewer cases than the "
                 "indicator's minimum (the sensitive minimum where flagged)", column="denominator_margin",
                 min_value=0),
        blocking("no_small_counts", "ExpectColumnValuesToBeInSet", "no published count, nor a share's complement, "
                 "of 1 to min_count - 1 cases", column="small_count", value_set=["ok"]),
        blocking("suppression_reason", "ExpectColumnValuesToBeInSet", "every cell is published or withheld for a "
                 "stated reason", column="reason", value_set=["published", *disclosure.REASONS]),
        blocking("suppression_flag", "ExpectColumnValuesToBeInSet", "a cell is flagged suppressed exactly when it "
                 "has a reason", column="reason_consistent", value_set=[True]),
    ]


def facts_marts_indicator_values(con, city: City, partition: str) -> dict:
    areas = _scalar(con, "SELECT count(*) FROM marts.areas WHERE city = ?", [city.name])
    indicators = _scalar(con, "SELECT count(*) FROM marts.indicator_catalogue WHERE city = ?", [city.name])
    return {**thresholds(city), "expected_rows": int(areas * indicators)}


def checks_marts_indicator_values(facts: dict) -> list[Check]:
    return [
        blocking("value_unique", "ExpectCompoundColumnsToBeUnique", "one value per area, indicator and period",
                 column_list=["area_id", "indicator_id", "period"]),
        blocking("every_area", "ExpectTableRowCountToEqual", "every area has a row for every indicator",
                 value=facts["expected_rows"]),
        blocking("shares_in_unit_interval", "ExpectColumnValuesToBeBetween", "shares lie within [0, 1]",
                 column="share_value", min_value=0, max_value=1),
        blocking("numerator_le_denominator", "ExpectColumnPairValuesAToBeGreaterThanB", "a share's numerator never "
                 "exceeds its denominator", column_A="share_denominator", column_B="share_numerator", or_equal=True,
                 ignore_row_if="either_value_is_missing"),
        *disclosure_checks(),
    ]


def read_marts_index_scores(con, city: City, partition: str) -> pd.DataFrame:
    return read_frame(con, """
        SELECT s.*, z.is_smallest,
               s.rank IS DISTINCT FROM (CASE WHEN s.score IS NOT NULL THEN
                   rank() OVER (PARTITION BY s.level, s.node_id ORDER BY s.score DESC NULLS LAST) END) AS rank_mismatch,
               -- a node scored nowhere in the period used none of its children's weights (all 0): nothing to sum
               CASE WHEN w.weight_sum = 0 AND s.score IS NULL THEN NULL ELSE w.weight_sum END AS weight_sum
        FROM marts.index_scores s
        JOIN (SELECT area_id, depth = 0 AS is_smallest FROM marts.areas WHERE city = ?) z USING (area_id)
        LEFT JOIN (SELECT node_id, sum(weight) AS weight_sum FROM marts.index_weights WHERE city = ? AND period = ?
                   AND coalesce(basis, 'full') = 'full' GROUP BY node_id) w USING (node_id)
        WHERE s.city = ? AND s.period = ? ORDER BY s.level, s.node_id, s.area_id""",
        [city.name, city.name, partition, city.name, partition])


def facts_marts_index_scores(con, city: City, partition: str) -> dict:
    zones = read_frame(con, "SELECT area_id FROM marts.areas WHERE city = ? AND depth = 0 ORDER BY area_id",
                       [city.name])
    return {**thresholds(city), "zones": zones["area_id"].tolist()}


def checks_marts_index_scores(facts: dict) -> list[Check]:
    return [
        blocking("score_unique", "ExpectCompoundColumnsToBeUnique", "one score per area, node and period",
                 column_list=["index_id", "area_id", "node_id", "period"]),
        blocking("score_range", "ExpectColumnValuesToBeBetween", "scores lie within [0, 100]", column="score",
                 min_value=0, max_value=100),
        blocking("ranks_consistent", "ExpectColumnValuesToBeInSet", "ranks follow the scores: 1 = highest, ties "
                 "share the lowest rank, no gaps otherwise", column="rank_mismatch", value_set=[False]),
        blocking("weights_sum_to_one", "ExpectColumnValuesToBeBetween", "each node's weights sum to 1",
                 column="weight_sum", min_value=1 - 1e-9, max_value=1 + 1e-9),
        blocking("every_zone", "ExpectColumnDistinctValuesToContainSet", "every smallest area has score rows",
                 column="area_id", value_set=facts["zones"]),
        warning("scored_share", "ExpectColumnValuesToNotBeNull", "most areas get a composite score",
                column="score", mostly=facts["min_scored_share"]),
    ]


def read_marts_coverage(con, city: City, partition: str) -> pd.DataFrame:
    """One row per indicator and node of the index spec in a period: whether its sources were delivered for the
    period (`City.sources_of`), how many smallest areas lack it, and `coverage`: `ok`, or what is missing.

    An indicator is missing in an area when its value is NULL without being suppressed (a suppressed cell is
    withheld, not absent); a node, when its score is NULL and none of its indicators was suppressed there. A node
    is expected when one of its indicators is; an item the marts do not hold at all lacks every area.
    """
    weights = read_frame(con, "SELECT node_id, child_id FROM marts.index_weights WHERE city = ? AND period = ? "
                              "AND coalesce(basis, 'full') = 'full'", [city.name, partition])
    sources = dict(con.execute("SELECT indicator_id, coalesce(source, 'census') FROM marts.indicator_catalogue "
                               "WHERE city = ?", [city.name]).fetchall())
    smallest = _scalar(con, "SELECT count(*) FROM marts.areas WHERE city = ? AND depth = 0", [city.name]) or 0
    values = read_frame(con, """
        SELECT v.area_id, v.indicator_id, v.value IS NULL AND NOT coalesce(v.suppressed, FALSE) AS absent,
               coalesce(v.suppressed, FALSE) AS suppressed
        FROM marts.indicator_values v JOIN marts.areas a ON a.city = v.city AND a.area_id = v.area_id
        WHERE v.city = ? AND v.period = ? AND a.depth = 0""", [city.name, partition])
    scores = read_frame(con, """
        SELECT s.area_id, s.node_id, s.score IS NULL AS absent
        FROM marts.index_scores s JOIN marts.areas a ON a.city = s.city AND a.area_id = s.area_id
        WHERE s.city = ? AND s.period = ? AND a.depth = 0""", [city.name, partition])
    delivered = set(city.sources_of(partition))
    children = weights.groupby("node_id")["child_id"].apply(list).to_dict()

    def leaves(item: str) -> list[str]:
        return [leaf for child in children[item] for leaf in leaves(child)] if item in children else [item]

    def missing_in(item: str) -> int:
        if item not in children:
            mine = values[values["indicator_id"] == item]
            return int(mine["absent"].sum()) if len(mine) else smallest
        mine = scores[scores["node_id"] == item]
        if not len(mine):
            return smallest
        withheld = set(values.loc[values["indicator_id"].isin(leaves(item)) & values["suppressed"], "area_id"])
        return int((mine["absent"] & ~mine["area_id"].isin(withheld)).sum())

    rows = [{"item": item, "kind": "node" if item in children else "indicator",
             "expected": any(sources.get(leaf, "census") in delivered for leaf in leaves(item)),
             "areas": smallest, "missing": missing_in(item)}
            for item in [*dict.fromkeys(weights["child_id"]), *children]]
    frame = pd.DataFrame(rows, columns=["item", "kind", "expected", "areas", "missing"])
    frame["missing_share"] = frame["missing"] / frame["areas"].where(frame["areas"] > 0)
    frame["coverage"] = coverage_verdicts(frame, thresholds(city)["max_missing_share"])
    return frame


def facts_marts_coverage(con, city: City, partition: str) -> dict:
    return thresholds(city)


def coverage_verdicts(frame: pd.DataFrame, max_missing_share: float) -> pd.Series:
    """`ok`, or e.g. `environment (node) has no value for 197 of 197 smallest areas (100%; at most 10%)` for an
    expected item missing in more than `max_missing_share` of the smallest areas."""
    bad = frame["expected"] & ~(frame["missing_share"].fillna(1.0) <= max_missing_share)
    text = (frame["item"] + " (" + frame["kind"] + ") has no value for " + frame["missing"].astype(str) + " of "
            + frame["areas"].astype(str) + " smallest areas (" + (frame["missing_share"].fillna(1.0) * 100)
            .round().astype(int).astype(str) + f"%; at most {max_missing_share:.0%})")
    return text.where(bad, "ok")


def checks_marts_coverage(facts: dict) -> list[Check]:
    return [
        blocking("spec_coverage", "ExpectColumnValuesToBeInSet", "every indicator and dimension of the index whose "
                 "sources were delivered for the period has a value in all but "
                 f"{facts['max_missing_share']:.0%} of the smallest areas (a source missing for a whole period "
                 "must stop the index, not shift it)", column="coverage", value_set=["ok"]),
    ]


def read_published_snapshot(con, city: City, partition: str) -> pd.DataFrame:
    return read_frame(con, f"""
        SELECT v.*, c.unit, {disclosure_columns(city)},
               CASE WHEN v.suppressed THEN coalesce(v.value, v.numerator, v.denominator) END AS suppressed_content
        FROM marts.indicator_values v JOIN marts.indicator_catalogue c
          ON c.city = v.city AND c.indicator_id = v.indicator_id WHERE v.city = ?
        ORDER BY v.period, v.level, v.area_id, v.indicator_id""", [city.name])


def checks_published_snapshot(facts: dict) -> list[Check]:
    return [
        blocking("not_empty", "ExpectTableRowCountToBeBetween", "the snapshot is not empty", min_value=1),
        *disclosure_checks(),
        blocking("suppressed_cells_empty", "ExpectColumnValuesToBeNull", "suppressed cells carry no value, "
                 "numerator or denominator", column="suppressed_content"),
    ]


SUITES = {suite.name: suite for suite in [
    Suite("raw_census", "raw", "census households as delivered", read_raw_census, checks_raw_census,
          facts_raw_census, raw_table="raw.census_households"),
    Suite("raw_census_persons", "raw", "census persons as delivered", read_raw_persons, checks_raw_persons,
          facts_raw_persons, raw_table="raw.census_persons"),
    Suite("raw_services", "raw", "public-service records as delivered, one month", read_raw_services,
          checks_raw_services, facts_raw_services, raw_table="raw.service_records"),
    Suite("raw_sensors", "raw", "sensor readings as delivered, one data interval (a day)", read_raw_sensors,
          checks_raw_sensors, facts_raw_sensors, raw_table="raw.sensor_readings"),
    Suite("staging_census", "staging", "typed, placed households and persons", read_staging_census,
          checks_staging_census, facts_staging_census),
    Suite("staging_survey", "staging", "the typed household survey: design, response, answers (docs/survey.md)",
          read_staging_survey, checks_staging_survey, facts_staging_survey),
    Suite("staging_service_records", "staging", "typed, placed public-service records, one month",
          read_staging_services, checks_staging_services, facts_staging_services),
    Suite("staging_sensor_readings", "staging", "flagged sensor readings, one data interval (a day)",
          read_staging_sensors, checks_staging_sensors, facts_staging_sensors),
    Suite("marts_indicator_values", "marts", "indicator values per area", read_marts_indicator_values,
          checks_marts_indicator_values, facts_marts_indicator_values),
    Suite("marts_index_scores", "marts", "composite index scores per area", read_marts_index_scores,
          checks_marts_index_scores, facts_marts_index_scores),
    Suite("marts_coverage", "marts", "the index spec's indicators and dimensions present in the period",
          read_marts_coverage, checks_marts_coverage, facts_marts_coverage),
    Suite("published_snapshot", "published", "the snapshot before it replaces current.duckdb",
          read_published_snapshot, checks_published_snapshot),
]}
