"""staging.sensor_readings for one data interval, built in DuckDB SQL from the raw loads of the interval.

The readings come from the archived deliveries of the interval's loads (`raw.sensor_loads`, see
`sources/sensor_deliveries.py`), those observed in the interval and those without a readable time.

Each reading of the interval is typed (`observed_at` to a UTC TIMESTAMP, `value` to DOUBLE in the parameter's
canonical unit), given its station's area, and flagged, never deleted for its quality:

    ok            usable
    missing       no value, or a value that is not a finite number (the text delivered is in quarantine)
    out_of_range  outside the parameter's physical range (`valid_range`, in the canonical unit)
    stuck         part of a run of `stuck_hours` or more consecutive readings with the same value
    spike         more than `spike_factor` times the median of the sensor's parameter, and above a tenth of the
                  range's upper bound

The first rule that holds wins, in that order (as in `transforms.sensors._flags`). Runs and medians also look at
the `lookback_hours` (default 48) of readings staged before the interval, without rewriting them: a run that
started yesterday and goes on today is stuck today, and a day's median leans on the days before it. A run counts
readings, as `_flags` does (consecutive readings of the series, whatever the clock says between them).

Rejected (kept out of staging, listed in quarantine): a reading without a readable `observed_at`; of a sensor
not in staging.sensor_stations; of a parameter without a physical range; without a unit; and the repeats of a
sensor, parameter and instant, of which the first by (`_delivery`, `_row`) stays. A reading of a known sensor
and parameter in a unit that is neither the canonical one nor a known spelling of it (`UNIT_ALIASES`, with its
factor) stops the batch with a ValueError: it would be read as a different number.

Gaps: runs of at least `gap_hours` clock hours of the interval with no reading of a sensor's parameter, for every
sensor-parameter read in the interval or in the lookback (so a sensor silent all day is a gap, not nothing).

The staging rows and their quarantine (`audit.quarantine`, stage `staging`, source `sensors/readings/<partition>`)
are replaced together in one transaction. The rows replaced are the interval's partition and any staged reading
in the interval's time range (whatever interval staged it), so overlapping intervals never duplicate a reading.

How it is stored: `staging.sensor_reading_values` holds each reading narrow (series id, time, value, flag code,
batch and delivery numbers, row); `staging.sensor_series` the sensor, parameter, unit and area of each series id,
`staging.sensor_batches` the partition and delivery names of each batch, and the view `staging.sensor_readings`
joins them into the columns every reader uses (city, partition, sensor_id, area_id, parameter, unit, observed_at,
value, flag, _delivery, _row). Writing sensor, area, parameter, unit, flag and the constant city, partition and
delivery as text on every reading cost more than the rest of the write.

How it stays fast at tens of millions of readings: the series id is an integer, so the one window pass sorts
fixed-width keys; that pass marks the readings equal to a neighbour, and runs of `stuck_hours` are numbered among
those only (about 1%); repeated readings are found in the same pass (only the series that have some are flagged
again without them); the delivered text is read back from raw only for the readings that go to quarantine.
benchmarks/README.md ("Ingest") has the figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from bienestar import warehouse
from sources.sensor_deliveries import (
    archive_rows_sql,
    create_raw_tables,
    observed_at_sql,
    partition_key,
    utc_naive,
    utc_session,
)

CANONICAL_UNITS = {"pm25": "ug/m3", "pm10": "ug/m3", "no2": "ug/m3", "noise": "dBA"}
# Spellings accepted for each canonical unit, with the factor to it. "µ" is written with the micro sign (U+00B5)
# or the Greek mu (U+03BC), depending on the exporting software: both are accepted.
UNIT_ALIASES = {
    "ug/m3": {"ug/m3": 1.0, "µg/m³": 1.0, "μg/m³": 1.0, "µg/m3": 1.0, "μg/m3": 1.0, "mg/m3": 1000.0,
              "mg/m³": 1000.0},
    "dBA": {"dBA": 1.0, "dB(A)": 1.0},
}
DEFAULT_LOOKBACK_HOURS = 48
FLAGS = ("ok", "missing", "out_of_range", "stuck", "spike")  # position = the code used inside the SQL

FLAG_LIST = "[" + ", ".join(f"'{flag}'" for flag in FLAGS) + "]"

# The readings are stored narrow (integers, a timestamp, a number) and read through the view
# staging.sensor_readings, which has the columns every reader uses; see "How it is stored" above.
STAGING_DDL = [
    """CREATE TABLE IF NOT EXISTS staging.sensor_series (
        series_id INTEGER NOT NULL,      -- numbered in order of first staging, never reused
        city VARCHAR NOT NULL,
        sensor_id VARCHAR NOT NULL,
        area_id VARCHAR,                 -- the station's smallest area (NULL when the station is outside the city)
        parameter VARCHAR NOT NULL,
        unit VARCHAR NOT NULL            -- the canonical unit of the parameter
    )""",
    """CREATE TABLE IF NOT EXISTS staging.sensor_batches (
        batch_id UBIGINT NOT NULL,       -- hash(city, "partition")
        city VARCHAR NOT NULL,
        "partition" VARCHAR NOT NULL,    -- the data interval that staged the readings: YYYY-MM-DD, YYYY-MM, start/end
        delivery_id INTEGER NOT NULL,    -- one row per delivery of the batch, numbered by name
        _delivery VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS staging.sensor_reading_values (
        _batch UBIGINT NOT NULL,         -- staging.sensor_batches.batch_id
        series_id INTEGER NOT NULL,      -- staging.sensor_series.series_id
        observed_at TIMESTAMP NOT NULL,  -- UTC
        value DOUBLE,                    -- in the series' unit; NULL when missing
        flag UTINYINT NOT NULL,          -- position in FLAGS
        _delivery_id INTEGER NOT NULL,   -- staging.sensor_batches.delivery_id
        _row BIGINT
    )""",
    f"""CREATE VIEW IF NOT EXISTS staging.sensor_readings AS
        SELECT s.city, b."partition", s.sensor_id, s.area_id, s.parameter, s.unit, v.observed_at, v.value,
               {FLAG_LIST}[v.flag + 1] AS flag, b._delivery, v._row
        FROM staging.sensor_reading_values v
        JOIN staging.sensor_series s USING (series_id)
        JOIN staging.sensor_batches b ON b.batch_id = v._batch AND b.delivery_id = v._delivery_id""",
]

TEMP_TABLES = ("_sr_units", "_sr_stations", "_sr_wanted", "_sr_pairs", "_sr_deliveries", "_sr_batch", "_sr_duplicates",
               "_sr_repeated", "_sr_flagged", "_sr_gaps", "_sr_texts")
KEPT = "(reading kept, flagged, not used)"


@dataclass(frozen=True)
class ReadingRules:
    """The city's `sensors:` quality settings that staging applies."""

    valid_range: dict[str, tuple[float, float]]
    stuck_hours: int
    spike_factor: float
    gap_hours: int
    lookback_hours: int = DEFAULT_LOOKBACK_HOURS

    @classmethod
    def from_config(cls, quality: dict) -> ReadingRules:
        """From a city's `sensors:` section (`lookback_hours` optional)."""
        ranges = {str(p): (float(r[0]), float(r[1])) for p, r in quality["valid_range"].items()}
        unknown = [p for p in ranges if p not in CANONICAL_UNITS]
        if unknown:
            raise ValueError(f"no canonical unit for parameter(s) {', '.join(unknown)}: add them to "
                             "transforms.sensor_readings.CANONICAL_UNITS")
        rules = cls(ranges, int(quality["stuck_hours"]), float(quality["spike_factor"]), int(quality["gap_hours"]),
                    int(quality.get("lookback_hours", DEFAULT_LOOKBACK_HOURS)))
        if rules.stuck_hours < 1 or rules.gap_hours < 1 or rules.lookback_hours < 0:
            raise ValueError("stuck_hours and gap_hours must be at least 1, lookback_hours at least 0")
        return rules


def _literal(value: object) -> str:
    if isinstance(value, int | float):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def _values(rows: list[tuple]) -> str:
    return ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)


def _create_lookups(con, *, city_name: str, key: str, rules: ReadingRules) -> None:
    """Small tables: accepted units, stations, their series (one integer id per station x parameter, kept in
    staging.sensor_series), deliveries of the batch."""
    units = [(p, alias, factor) for p in rules.valid_range
             for alias, factor in UNIT_ALIASES[CANONICAL_UNITS[p]].items()]
    con.execute("CREATE OR REPLACE TEMP TABLE _sr_units (parameter VARCHAR, unit VARCHAR, factor DOUBLE)")
    con.execute(f"INSERT INTO _sr_units VALUES {_values(units)}")
    con.execute("""CREATE OR REPLACE TEMP TABLE _sr_stations AS
                   SELECT sensor_id, min(area_id) AS area_id FROM staging.sensor_stations
                   WHERE city = ? AND sensor_id IS NOT NULL GROUP BY sensor_id""", [city_name])
    params = [(p, CANONICAL_UNITS[p], low, high) for p, (low, high) in rules.valid_range.items()]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _sr_wanted AS
                    SELECT s.sensor_id, s.area_id, p.parameter, p.unit, p.low, p.high
                    FROM _sr_stations s CROSS JOIN (VALUES {_values(params)}) p(parameter, unit, low, high)""")
    # A station x parameter (in its area) keeps its series id from the first time it was staged.
    con.execute("""INSERT INTO staging.sensor_series
                   SELECT (SELECT coalesce(max(series_id), 0) FROM staging.sensor_series)
                              + CAST(row_number() OVER (ORDER BY w.sensor_id, w.parameter) AS INTEGER),
                          $city, w.sensor_id, w.area_id, w.parameter, w.unit
                   FROM _sr_wanted w
                   ANTI JOIN (SELECT * FROM staging.sensor_series WHERE city = $city) s
                     ON s.sensor_id = w.sensor_id AND s.parameter = w.parameter
                    AND s.area_id IS NOT DISTINCT FROM w.area_id""", {"city": city_name})
    con.execute("""CREATE OR REPLACE TEMP TABLE _sr_pairs AS
                   SELECT s.series_id AS pair_id, w.* FROM _sr_wanted w
                   JOIN staging.sensor_series s ON s.city = ? AND s.sensor_id = w.sensor_id
                    AND s.parameter = w.parameter AND s.area_id IS NOT DISTINCT FROM w.area_id""", [city_name])
    # Numbered in (_delivery, _source) order, so (delivery_id, _row) orders readings as the duplicate rule says.
    con.execute("""CREATE OR REPLACE TEMP TABLE _sr_deliveries AS
                   SELECT CAST(row_number() OVER (ORDER BY _delivery, _source) AS INTEGER) AS delivery_id,
                          _source, _delivery, archive
                   FROM raw.sensor_loads WHERE city = ? AND _loaded_for = ?""", [city_name, key])


def _delivered(con) -> str:
    """SQL reading the batch's archived deliveries: delivery_id, _row and the five fields as delivered."""
    archives = [row[0] for row in con.execute("SELECT archive FROM _sr_deliveries ORDER BY archive").fetchall()]
    return (f"SELECT d.delivery_id, r.* EXCLUDE (archive) FROM ({archive_rows_sql(archives)}) r "
            "JOIN _sr_deliveries d USING (archive)")


def _create_batch(con, *, start: datetime, end: datetime) -> None:
    """The interval's raw readings typed, with their series id and a reject code (NULL when the reading is kept).

    Codes: 1 no observed_at, 2 unreadable observed_at, 4 unknown sensor or parameter, 5 no unit, 6 an unknown
    unit (which stops the batch). Readings of the deliveries observed outside the interval belong to other
    intervals and are not read.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sr_batch AS
        SELECT delivery_id, _row, pair_id, observed_at,
               CASE WHEN isfinite(number) THEN number * factor END AS value,
               CAST(CASE WHEN observed_at IS NULL THEN
                             (CASE WHEN observed_text IS NULL OR trim(observed_text) = '' THEN 1 ELSE 2 END)
                         WHEN pair_id IS NULL THEN 4
                         WHEN unit IS NULL THEN 5
                         WHEN factor IS NULL THEN 6 END AS TINYINT) AS reject
        FROM (
            SELECT r.delivery_id, r._row, p.pair_id, r.unit, u.factor, r.observed_at AS observed_text,
                   {observed_at_sql('r.observed_at')} AS observed_at, TRY_CAST(r.value AS DOUBLE) AS number
            FROM ({_delivered(con)}) r
            LEFT JOIN _sr_pairs p ON p.sensor_id = r.sensor_id AND p.parameter = r.parameter
            LEFT JOIN _sr_units u ON u.parameter = r.parameter AND u.unit = r.unit)
        WHERE observed_at IS NULL OR (observed_at >= $start AND observed_at < $end)""",
                {"start": start, "end": end})


def _check_units(con, *, city_name: str, key: str) -> None:
    """Stop the batch when a reading of a known sensor and parameter comes in a unit that cannot be converted."""
    if not con.execute("SELECT count(*) FROM _sr_batch WHERE reject = 6").fetchone()[0]:
        return
    found = con.execute("""
        SELECT r.parameter, r.unit, count(*) FROM raw.sensor_readings r
        JOIN _sr_pairs p ON p.sensor_id = r.sensor_id AND p.parameter = r.parameter
        ANTI JOIN _sr_units u ON u.parameter = r.parameter AND u.unit = r.unit
        WHERE r.city = ? AND r._loaded_for = ? AND r.unit IS NOT NULL
        GROUP BY ALL ORDER BY ALL""", [city_name, key]).fetchall()
    problems = "; ".join(f"{parameter} in {unit!r} ({count} readings; allowed: "
                         f"{', '.join(UNIT_ALIASES[CANONICAL_UNITS[parameter]])})" for parameter, unit, count in found)
    raise ValueError(f"sensor readings {key}: unknown unit for {problems}. A reading in another unit would be "
                     "read as a different number, so nothing was staged: have the delivery converted, or add the "
                     "unit with its factor to transforms.sensor_readings.UNIT_ALIASES.")


# The readings staged in the lookback before the interval, with the series id of today's station x parameter.
STAGED_BEFORE = """
    SELECT p.pair_id, v.observed_at, v.value
    FROM staging.sensor_reading_values v
    JOIN staging.sensor_series s USING (series_id)
    JOIN _sr_pairs p ON p.sensor_id = s.sensor_id AND p.parameter = s.parameter
    WHERE s.city = $city AND v.observed_at >= $context_start AND v.observed_at < $start"""


def _flag_sql(rules: ReadingRules, *, repeated_only: bool) -> str:
    """The flags of the kept readings over the series they continue (the staged lookback, then the batch).

    One window pass per series, ordered by time only: copies of a reading (same series and time) sit together and
    all but one are marked `later_copy`, which says only which series and times have copies; which copy stays is
    the duplicate rule's business (`_flag`). Every other time of a series is unique, so the order is total where
    it matters. (Ordering by time, delivery and row as well cost 0.8 s more on 10 million readings.)
    `repeated_only`: only the series that have copies, without them (their flags are worked out again once the
    copies are known). Stuck runs are found afterwards (`_flag_stuck`) among the readings equal to a neighbour,
    which this pass marks (`same_before`, `same_after`) and keeps, from the lookback too; the lookback rows are
    dropped once that is done.
    """
    stuck_always = "WHEN n.value IS NOT NULL THEN 3" if rules.stuck_hours <= 1 else ""  # a run of one is any value
    copies = "ANTI JOIN _sr_duplicates d USING (delivery_id, _row)" if repeated_only else ""
    only = "AND pair_id IN (SELECT pair_id FROM _sr_repeated)" if repeated_only else ""
    return f"""
        WITH series AS NOT MATERIALIZED (
            SELECT pair_id, observed_at, value, delivery_id, _row, TRUE AS in_batch
            FROM _sr_batch b {copies}
            WHERE b.reject IS NULL {only}
            UNION ALL
            SELECT pair_id, observed_at, value, NULL, NULL, FALSE FROM ({STAGED_BEFORE}) WHERE TRUE {only}
        ), medians AS (
            SELECT pair_id, median(value) AS median FROM series GROUP BY pair_id
        ), neighbours AS (
            SELECT *, value IS NOT DISTINCT FROM lag(value) OVER w AS same_before,
                   value IS NOT DISTINCT FROM lead(value) OVER w AS same_after,
                   lag(observed_at) OVER w AS previous_at, lead(observed_at) OVER w AS next_at
            FROM series
            WINDOW w AS (PARTITION BY pair_id ORDER BY observed_at)
        )
        SELECT n.pair_id, n.observed_at, n.value, n.delivery_id, n._row, n.in_batch, n.same_before, n.same_after,
               -- the median is quoted in the quarantine of spikes only; narrow columns keep this table cheap
               CASE WHEN n.value > {rules.spike_factor!r} * m.median THEN m.median END AS median,
               CAST(CASE WHEN n.value IS NULL THEN 1
                         WHEN n.value < p.low OR n.value > p.high THEN 2
                         {stuck_always}
                         WHEN n.value > {rules.spike_factor!r} * m.median AND n.value > p.high / 10 THEN 4
                         ELSE 0 END AS TINYINT) AS flag,
               n.previous_at IS NOT DISTINCT FROM n.observed_at AS later_copy,
               -- clock hours with no reading between the previous reading (or the interval's start) and this one
               CAST(date_diff('hour', greatest(coalesce(date_trunc('hour', n.previous_at),
                                                        $start_hour - INTERVAL 1 HOUR), $start_hour - INTERVAL 1 HOUR),
                              date_trunc('hour', n.observed_at)) - 1 AS INTEGER) AS hours_missing_before,
               -- and after the last reading of the interval
               CASE WHEN n.next_at IS NULL
                    THEN CAST(date_diff('hour', date_trunc('hour', n.observed_at), $end_hour) - 1 AS INTEGER)
                    END AS hours_missing_after
        FROM neighbours n JOIN _sr_pairs p USING (pair_id) JOIN medians m USING (pair_id)
        WHERE n.in_batch OR n.same_before OR n.same_after"""


def _flag_stuck(con, *, rules: ReadingRules) -> None:
    """Flag `stuck` the usable or spiking readings of runs of `stuck_hours`+ equal values, then drop the lookback.

    A run is a stretch of readings each equal to the one before, so all of its readings are equal to a neighbour:
    the pass kept those (about 1% of readings), and among them, in series order, a reading not equal to the one
    before starts a run. Numbering runs on that short list replaces the 2 x (stuck_hours - 1) lag/lead columns
    the window pass over every reading needed before (1.5 s of 4.5 s on 10 million readings).
    """
    con.execute(f"""
        UPDATE _sr_flagged SET flag = 3 FROM (
            SELECT pair_id, delivery_id, _row FROM (
                SELECT *, count(*) OVER (PARTITION BY pair_id, run) AS run_length FROM (
                    SELECT pair_id, delivery_id, _row, in_batch,
                           sum(CASE WHEN same_before THEN 0 ELSE 1 END) OVER (
                               PARTITION BY pair_id ORDER BY observed_at, delivery_id, _row ROWS UNBOUNDED PRECEDING)
                               AS run
                    FROM _sr_flagged WHERE same_before OR same_after))
            WHERE in_batch AND run_length >= {rules.stuck_hours}) s
        WHERE _sr_flagged.pair_id = s.pair_id AND _sr_flagged.delivery_id = s.delivery_id
          AND _sr_flagged._row = s._row AND _sr_flagged.flag IN (0, 4)""")
    con.execute("DELETE FROM _sr_flagged WHERE NOT in_batch")


def _flag(con, *, params: dict, rules: ReadingRules) -> None:
    """`_sr_flagged` (the kept readings with their flags) and `_sr_duplicates` (later copies, with the first).

    Copies are rare: the first pass flags every series as delivered, marking later copies; only the series that
    have some are flagged again without them. (A GROUP BY over every reading to find copies first cost as much
    CPU as the whole window pass on 10 million readings.)
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sr_flagged AS {_flag_sql(rules, repeated_only=False)}", params)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _sr_duplicates AS
        WITH ranked AS (
            SELECT b.delivery_id, b._row, row_number() OVER w AS copy,
                   first_value(b.delivery_id) OVER w AS first_delivery_id, first_value(b._row) OVER w AS first_row
            FROM _sr_batch b
            SEMI JOIN (SELECT pair_id, observed_at FROM _sr_flagged WHERE later_copy) c USING (pair_id, observed_at)
            WHERE b.reject IS NULL
            WINDOW w AS (PARTITION BY b.pair_id, b.observed_at ORDER BY b.delivery_id, b._row)
        )
        SELECT delivery_id, _row, first_delivery_id, first_row FROM ranked WHERE copy > 1""")
    con.execute("CREATE OR REPLACE TEMP TABLE _sr_repeated AS SELECT DISTINCT pair_id FROM _sr_flagged "
                "WHERE later_copy")
    if con.execute("SELECT count(*) FROM _sr_repeated").fetchone()[0]:
        con.execute("DELETE FROM _sr_flagged WHERE pair_id IN (SELECT pair_id FROM _sr_repeated)")
        con.execute(f"INSERT INTO _sr_flagged {_flag_sql(rules, repeated_only=True)}", params)
    _flag_stuck(con, rules=rules)


def _find_gaps(con, *, params: dict, rules: ReadingRules) -> None:
    """Runs of `gap_hours`+ clock hours of the interval without a reading, per sensor and parameter."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sr_gaps AS
        SELECT pair_id, first_missing, first_missing + to_hours(hours - 1) AS last_missing, hours FROM (
            SELECT pair_id, date_trunc('hour', observed_at) - to_hours(hours_missing_before) AS first_missing,
                   hours_missing_before AS hours
            FROM _sr_flagged WHERE hours_missing_before >= {rules.gap_hours}
            UNION ALL
            SELECT pair_id, date_trunc('hour', observed_at) + INTERVAL 1 HOUR, hours_missing_after
            FROM _sr_flagged WHERE hours_missing_after >= {rules.gap_hours}
            UNION ALL
            -- series read in the lookback and not once in the interval
            SELECT DISTINCT pair_id, CAST($start_hour AS TIMESTAMP), date_diff('hour', $start_hour, $end_hour)
            FROM ({STAGED_BEFORE})
            WHERE pair_id NOT IN (SELECT pair_id FROM _sr_flagged)
              AND date_diff('hour', $start_hour, $end_hour) >= {rules.gap_hours})""", params)


def _collect_texts(con) -> None:
    """The delivered text of the readings that go to quarantine (and of the copies their duplicates repeat)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sr_texts AS
        WITH listed AS (
            SELECT delivery_id, _row FROM _sr_batch WHERE reject IS NOT NULL
            UNION SELECT delivery_id, _row FROM _sr_duplicates
            UNION SELECT first_delivery_id, first_row FROM _sr_duplicates
            UNION SELECT delivery_id, _row FROM _sr_flagged WHERE flag <> 0
        )
        SELECT r.delivery_id, r._row, d._delivery, r.sensor_id, r.parameter, r.unit, r.observed_at, r.value
        FROM ({_delivered(con)}) r JOIN _sr_deliveries d USING (delivery_id)
        SEMI JOIN listed l ON l.delivery_id = r.delivery_id AND l._row = r._row""")


def _quarantine_sql(*, key: str, rules: ReadingRules) -> str:
    """Every quarantine entry of the batch (rejected readings, flagged readings, gaps), as one SELECT."""
    record = ("json_object('observed_at', t.observed_at, 'parameter', t.parameter, 'sensor_id', t.sensor_id, "
              "'unit', t.unit, 'value', t.value)")
    record_id = "coalesce(t.sensor_id, '') || '/' || coalesce(t.parameter, '') || '/' || coalesce(t.observed_at, '')"
    expected = ", ".join(rules.valid_range)
    return f"""
        SELECT t._delivery AS delivery, t._row AS "row", {record_id} AS record_id,
               CASE WHEN b.reject <= 2 THEN 'observed_at' WHEN b.reject = 5 THEN 'unit'
                    WHEN s.sensor_id IS NULL THEN 'sensor_id' ELSE 'parameter' END AS field,
               CASE b.reject WHEN 1 THEN 'missing value'
                    WHEN 2 THEN 'invalid value ''' || t.observed_at || ''' (expected an ISO 8601 timestamp)'
                    WHEN 5 THEN 'missing unit'
                    ELSE (CASE WHEN s.sensor_id IS NULL THEN 'unknown sensor: not in the station list'
                               ELSE 'unknown parameter (expected one of {expected})' END) END AS reason,
               'rejected' AS action, {record} AS record
        FROM _sr_batch b JOIN _sr_texts t USING (delivery_id, _row)
        LEFT JOIN _sr_stations s ON s.sensor_id = t.sensor_id
        WHERE b.reject IS NOT NULL
        UNION ALL
        SELECT t._delivery, t._row, {record_id}, 'reading_id',
               CASE WHEN t.unit IS NOT DISTINCT FROM f.unit AND t.value IS NOT DISTINCT FROM f.value
                    THEN 'duplicate: exact copy of row ' || f._row || ' of ' || f._delivery
                    ELSE 'duplicate reading_id: differs from row ' || f._row || ' of ' || f._delivery END,
               'rejected', {record}
        FROM _sr_duplicates d JOIN _sr_texts t USING (delivery_id, _row)
        JOIN _sr_texts f ON f.delivery_id = d.first_delivery_id AND f._row = d.first_row
        UNION ALL
        SELECT t._delivery, t._row, {record_id}, 'value',
               CASE x.flag
                   WHEN 1 THEN (CASE WHEN t.value IS NULL OR trim(t.value) = '' THEN 'missing value'
                                     ELSE 'invalid value ''' || t.value || ''' (expected a number)' END)
                               || ' (reading kept, flagged missing, not used)'
                   WHEN 2 THEN 'value ' || x.value || ' ' || p.unit || ' outside the physical range [' || p.low
                               || ', ' || p.high || '] of ' || p.parameter || ' {KEPT}'
                   WHEN 3 THEN 'stuck sensor: the same value ' || x.value || ' for {rules.stuck_hours} or more '
                               || 'readings in a row {KEPT}'
                   ELSE 'spike: ' || x.value || ' ' || p.unit || ' is more than {rules.spike_factor:g}x the '
                        || 'median of the sensor''s ' || p.parameter || ' (' || round(x.median, 3) || ') {KEPT}'
               END,
               'flagged', {record}
        FROM _sr_flagged x JOIN _sr_texts t USING (delivery_id, _row) JOIN _sr_pairs p USING (pair_id)
        WHERE x.flag <> 0
        UNION ALL
        SELECT NULL, NULL, p.sensor_id || '/' || p.parameter, 'observed_at',
               'gap: no readings from ' || strftime(g.first_missing, '%Y-%m-%d %H:%M') || ' to '
                   || strftime(g.last_missing, '%Y-%m-%d %H:%M') || ' UTC (' || g.hours || ' hours)',
               'flagged', json_object('parameter', p.parameter, 'sensor_id', p.sensor_id)
        FROM _sr_gaps g JOIN _sr_pairs p USING (pair_id)"""


def create_staging_tables(con) -> None:
    """The staging sensor tables and their view (a database from before the split is refused, with what to do)."""
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'staging' "
                       "AND table_name = 'sensor_readings'").fetchall()
    if kind and kind[0][0] != "VIEW":
        raise RuntimeError("staging.sensor_readings is a table of an old layout: run `DROP TABLE "
                           "staging.sensor_readings` in the working database and stage the sensor readings again")
    create_raw_tables(con)  # read by the staging steps
    for ddl in STAGING_DDL:
        con.execute(ddl)


def stage_readings(con, *, city_name: str, quality: dict, interval_start: object, interval_end: object) -> dict:
    """Build staging.sensor_readings and its quarantine for one data interval from raw.sensor_readings.

    Reads the raw partition `partition_key(interval_start, interval_end)`, staging.sensor_stations (stage the
    stations first) and the `lookback_hours` of readings staged before the interval. Returns counts (staged
    readings, readings per flag, rejected, gaps, quarantine entries); the entries are in audit.quarantine, and
    `quarantine_entries` returns them as dicts. Raises ValueError on an unknown unit, before anything is written.
    """
    rules = ReadingRules.from_config(quality)
    start, end = utc_naive(interval_start), utc_naive(interval_end)
    key = partition_key(start, end)
    # Gaps are counted in clock hours: from the hour the interval starts in to the hour after it ends.
    start_hour = start.replace(minute=0, second=0, microsecond=0)
    end_hour = end.replace(minute=0, second=0, microsecond=0)
    if end_hour < end:
        end_hour += timedelta(hours=1)
    params = {"city": city_name, "start": start, "context_start": start - timedelta(hours=rules.lookback_hours),
              "start_hour": start_hour, "end_hour": end_hour}
    source = f"sensors/readings/{key}"
    if not warehouse.table_exists(con, "staging.sensor_stations"):
        raise RuntimeError(f"no staging.sensor_stations for {city_name!r}: stage the stations before the readings")
    create_staging_tables(con)
    con.execute(warehouse.AUDIT_DDL)
    batch = int(con.execute("SELECT hash(?, ?)", [city_name, key]).fetchone()[0])
    with utc_session(con):
        try:
            # The working tables are built first, outside the transaction: temporary tables written inside one
            # are copied again when it commits (1.5 s of a 10-million-reading batch). Series ids are given in
            # their own statement; giving them again finds them there.
            _create_lookups(con, city_name=city_name, key=key, rules=rules)
            _create_batch(con, start=start, end=end)
            _check_units(con, city_name=city_name, key=key)
            _flag(con, params=params, rules=rules)
            _find_gaps(con, params=params, rules=rules)
            _collect_texts(con)
            counts = dict(con.execute("SELECT flag, count(*) FROM _sr_flagged GROUP BY flag").fetchall())
            rejected = con.execute("SELECT (SELECT count(*) FROM _sr_batch WHERE reject IS NOT NULL) "
                                   "+ (SELECT count(*) FROM _sr_duplicates)").fetchone()[0]
            gaps = con.execute("SELECT count(*) FROM _sr_gaps").fetchone()[0]
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("""DELETE FROM staging.sensor_reading_values WHERE _batch = $batch
                               OR (observed_at >= $start AND observed_at < $end AND series_id IN
                                   (SELECT series_id FROM staging.sensor_series WHERE city = $city))""",
                            {"city": city_name, "batch": batch, "start": start, "end": end})
                con.execute("DELETE FROM staging.sensor_batches WHERE batch_id = ?", [batch])
                con.execute("INSERT INTO staging.sensor_batches SELECT ?, ?, ?, delivery_id, _delivery "
                            "FROM _sr_deliveries", [batch, city_name, key])
                con.execute("""
                    INSERT INTO staging.sensor_reading_values
                    SELECT $batch, pair_id, observed_at, value, CAST(flag AS UTINYINT), delivery_id, _row
                    FROM _sr_flagged""", {"batch": batch})
                con.execute("DELETE FROM audit.quarantine WHERE city = ? AND stage = 'staging' AND source = ?",
                            [city_name, source])
                con.execute(f"""INSERT INTO audit.quarantine BY NAME
                                SELECT $city AS city, 'staging' AS stage, $source AS source, *
                                FROM ({_quarantine_sql(key=key, rules=rules)})""",
                            {"city": city_name, "source": source})
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        finally:
            for table in TEMP_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
    by_flag = {flag: int(counts.get(code, 0)) for code, flag in enumerate(FLAGS)}
    staged = sum(by_flag.values())
    flagged = staged - by_flag["ok"]
    return {"partition": key, "readings": staged, **{f"flag_{flag}": n for flag, n in by_flag.items()},
            "rejected": int(rejected), "gaps": int(gaps), "quarantined": int(rejected) + flagged + int(gaps)}


def quarantine_entries(con, *, city_name: str, partition: str) -> list[dict]:
    """The staging quarantine of one interval, as dicts shaped like `transforms.cleaning.Cleaned.quarantine`."""
    rows = con.execute("""
        SELECT delivery, "row", record_id, field, reason, action, record FROM audit.quarantine
        WHERE city = ? AND stage = 'staging' AND source = ?
        ORDER BY delivery NULLS LAST, "row", record_id, reason""",
                       [city_name, f"sensors/readings/{partition}"]).fetchall()
    return [{"delivery": delivery, "row": row, "record_id": record_id, "field": field, "reason": reason,
             "action": action, "record": json.loads(record) if record else None}
            for delivery, row, record_id, field, reason, action, record in rows]
