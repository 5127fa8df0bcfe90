"""Write docs/quality.md from the suites themselves, so the page cannot drift from the code.

    python -m expectations.document > docs/quality.md

A test regenerates the page and compares it with the committed one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cities import load_city
from expectations.gate import column_of
from expectations.suites import DEFAULT_THRESHOLDS, SUITES, apply_severity, thresholds

# Facts a suite needs from the database, with placeholders for the page (the values do not change the checks'
# nature, only their bounds).
PLACEHOLDER_FACTS = {"previous_rows": 1000, "required": ["<the fields the city config lists as required>"],
                     "families": ["<configured service families>"], "units": ["pm25:ug/m3", "…"],
                     "persons": 1000, "low": 0, "high": 600, "expected_rows": 0, "zones": ["<every zone>"],
                     "topics": ["<topic>"]}

INTRO = Path(__file__).with_name("quality_intro.md")  # the prose part of the page

MEANINGS = {
    "max_row_drop": "a delivery this much shorter than the last accepted one is a cut file",
    "max_redelivery_drop": "a re-delivery of a period (census year, month, day) this much shorter than the one "
                           "accepted for the same period is a cut file",
    "batch_fault_share": "more unusable values than this share in one field stop the batch (fewer: quarantine rows)",
    "population_tolerance": "persons listed may differ from household sizes declared by this share",
    "sensor_day_completeness": "share of valid hourly readings a sensor needs each day (warning below it)",
    "min_scored_share": "share of smallest areas that must get a composite score (warning below it)",
    "max_missing_share": "share of smallest areas an index dimension or indicator may lack, for a source delivered "
                         "for the period (blocking above it: `marts_coverage`)",
    "max_area_shift": "a re-delivered census year whose zone changed by more than this share of its households "
                      "(against the last accepted delivery) is blocked (`raw_census.area_shift`)",
    "min_area_shift": "... and only when the zone changed by at least this many households",
    "max_day_shift": "a month of service records with a family's day differing by more than this share from its "
                     "reference is blocked (`raw_services.day_shift`): the same day of the accepted delivery for a "
                     "re-delivered month, the mean of the same weekday in the last accepted month before for a new one",
    "min_day_shift": "... and only when the day differs by at least this many records",
    "day_shift_sigmas": "... and, for a new month (compared with the mean of the same weekday of the month "
                        "before), only beyond this many standard errors of chance on the square-root scale "
                        "(2(sqrt(count) - sqrt(mean)) against sqrt(1 + 1/weekdays)): an emptied day of 20 records "
                        "blocks, a doubled one is within chance and passes",
    "max_station_shift": "a day of sensor readings with a station delivering more than this share above its usual "
                         "readings of a parameter (the most in a day over the last accepted days) is blocked "
                         "(`raw_sensors.station_surge`); as far below, or absent, is a warning (`station_drop`)",
    "min_station_shift": "... and only when the station differs by at least this many readings",
}


def render(city_name: str = "la_paz_demo") -> str:
    """The page, for the thresholds and severities of one city config."""
    city = load_city(city_name)
    lines = [INTRO.read_text(encoding="utf-8").rstrip("\n")]
    lines += [f"| `{k}` | {v} | {MEANINGS[k]} |" for k, v in DEFAULT_THRESHOLDS.items()]
    overrides = (city.config.get("quality") or {}).get("severity") or {}
    facts = {**thresholds(city), **PLACEHOLDER_FACTS}
    for suite in SUITES.values():
        lines += ["", f"## `{suite.name}` ({suite.stage})", "", f"{suite.describe[0].upper()}{suite.describe[1:]}.",
                  "", "| check | expectation | column | severity | why |", "| --- | --- | --- | --- | --- |"]
        for check in apply_severity(suite.name, suite.checks(facts), overrides):
            if check.key.startswith("column_"):
                continue
            lines.append(f"| `{check.key}` | {check.expectation} | `{column_of(check)}` | {check.severity} | "
                         f"{check.why} |")
        if any(c.key.startswith("column_") for c in suite.checks(facts)):
            lines.append("| `column_<field>` | ExpectColumnToExist | each required field | blocking | the next "
                         "stage reads this field |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else "la_paz_demo"))
