"""Are a city's sources complete enough to build its marts? The guard in front of `build_indicators`.

The marts of a period may only be built from partitions that were staged *and* passed their staging gate after
their latest staging write: every census year, every month of service records and every day of sensor readings
the period's indicators use (`City.sources_of`, `months:` in city.yaml). A staging write revokes its partition's
acceptance (`warehouse.revoke_acceptance`) and the staging gate grants it again (`audit.accepted_loads`), so a
rewrite that is still ungated, or that failed its gate, counts as missing.

Under a real scheduler the ingest DAGs finish in any order (census first, sensors late, a source failing), and
`build_indicators` runs whenever any staging Asset changes: this check makes every such run either build from
complete, gated data or skip with the list of what is missing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from bienestar import warehouse
from cities import City

STAGING_SUITE = {"census": "staging_census", "services": "staging_service_records",
                 "sensors": "staging_sensor_readings"}


@dataclass(frozen=True)
class Need:
    """One partition a period's marts need: the source, the staging suite that must have accepted it, the key."""

    source: str
    suite: str
    partition: str


def days_of(month: str) -> list[str]:
    year, number = int(month[:4]), int(month[5:7])
    return [f"{month}-{day:02d}" for day in range(1, calendar.monthrange(year, number)[1] + 1)]


def needs(city: City, periods: list[str]) -> list[Need]:
    """Every partition the marts of `periods` are built from."""
    out = []
    for period in periods:
        months = [m for m in city.months if m.startswith(f"{period}-")]
        for source in city.sources_of(period):
            suite = STAGING_SUITE[source]
            if source == "census":
                out.append(Need(source, suite, period))
            elif source == "services":
                out += [Need(source, suite, month) for month in months]
            else:
                out += [Need(source, suite, day) for month in months for day in days_of(month)]
    return out


def accepted(con, city: City) -> set[tuple[str, str]]:
    if not warehouse.table_exists(con, "audit.accepted_loads"):
        return set()
    rows = con.execute('SELECT suite, "partition" FROM audit.accepted_loads WHERE city = ?', [city.name]).fetchall()
    return {(suite, partition) for suite, partition in rows}


def is_met(need: Need, done: set[tuple[str, str]]) -> bool:
    # a day of readings is also covered by a gated load of its whole month (a monthly sensor run)
    return (need.suite, need.partition) in done or (
        need.source == "sensors" and (need.suite, need.partition[:7]) in done)


def missing(city: City, periods: list[str]) -> list[Need]:
    """The partitions of `periods` not (or no longer) staged and gated, in `needs` order.

    A city with aggregate census tables has one need: its tables staged (their contracts are checked while they
    load, which stops a delivery that does not match before anything is written).
    """
    with warehouse.session(city) as con:
        if city.census_tables:
            staged = warehouse.table_exists(con, "staging.area_indicator_values") and con.execute(
                "SELECT count(*) FROM staging.area_indicator_values WHERE city = ?", [city.name]).fetchall()[0][0]
            return [] if staged else [Need("census", "census tables", "every census year")]
        done = accepted(con, city)
    return [need for need in needs(city, periods) if not is_met(need, done)]


def describe(missing_needs: list[Need], *, shown: int = 5) -> str:
    """What is missing, one line per source, e.g. `sensors: 29 of the days needed (2024-06-02, ...)`."""
    lines = []
    for source in dict.fromkeys(n.source for n in missing_needs):
        keys = [n.partition for n in missing_needs if n.source == source]
        listed = ", ".join(keys[:shown]) + (f", ... ({len(keys) - shown} more)" if len(keys) > shown else "")
        lines.append(f"{source}: {len(keys)} partition(s) not staged and gated: {listed}")
    return "; ".join(lines)
