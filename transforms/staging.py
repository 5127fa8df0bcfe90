"""Build the `staging` tables of one city from `raw`, one function per source family.

Each function reads its raw partition, cleans it (see `transforms.cleaning`), and replaces its staging partition
and its quarantine entries in one go, so reruns give the same database.
"""

from __future__ import annotations

import pandas as pd

from bienestar import warehouse
from cities import City
from transforms.areas import areas_from_boundaries
from transforms.census import stage_households, stage_persons
from transforms.sensors import stage_stations
from transforms.services import stage_service_records


def _read(con, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _areas(con, city: City) -> pd.DataFrame:
    """The city's staged areas (none before its first census run: callers say to run ingest_census first)."""
    if not warehouse.table_exists(con, "staging.areas"):
        return pd.DataFrame()
    return _read(con, "SELECT * FROM staging.areas WHERE city = ? ORDER BY depth, area_id", [city.name])


def _quarantine(con, city: City, source: str, entries: list[dict]) -> None:
    warehouse.replace_quarantine(con, city.name, "staging", source, warehouse.quarantine_frame(entries))


def stage_census(city: City, vintage: str | None = None) -> dict[str, int]:
    """staging.areas, staging.households and staging.persons for one census year (default: the latest)."""
    vintage = vintage or city.vintage
    with warehouse.session(city) as con:
        warehouse.revoke_acceptance(con, city.name, "staging_census", vintage)
        boundaries = _read(con, "SELECT * FROM raw.boundaries WHERE city = ? ORDER BY _row", [city.name])
        areas = areas_from_boundaries(city, boundaries)
        warehouse.replace_partition(con, "staging.areas", areas, {"city": city.name})
        raw_households = _read(con, "SELECT * FROM raw.census_households WHERE city = ? AND _loaded_for = ? "
                               "ORDER BY _row", [city.name, vintage])
        households = stage_households(raw_households)
        raw_persons = _read(con, "SELECT * FROM raw.census_persons WHERE city = ? AND _loaded_for = ? ORDER BY _row",
                            [city.name, vintage])
        persons = stage_persons(raw_persons, households.frame)
        key = {"city": city.name, "vintage": vintage}
        warehouse.replace_partition(con, "staging.households", households.frame, key)
        warehouse.replace_partition(con, "staging.persons", persons.frame, key)
        # the latest census keeps the plain source names; earlier ones carry their year
        prefix = "census" if vintage == city.vintage else f"census/{vintage}"
        _quarantine(con, city, f"{prefix}/households", households.quarantine)
        _quarantine(con, city, f"{prefix}/persons", persons.quarantine)
        return {"areas": len(areas), "households": len(households.frame), "persons": len(persons.frame),
                "quarantined": len(households.quarantine) + len(persons.quarantine)}


def stage_services(city: City, month: str) -> dict[str, int]:
    """staging.service_records for one month, every family."""
    counts = {}
    with warehouse.session(city) as con:
        warehouse.revoke_acceptance(con, city.name, "staging_service_records", month)
        areas = _areas(con, city)
        if areas.empty:
            raise RuntimeError(f"no areas for city {city.name!r} in staging: run {city.name}.ingest_census first, "
                               "then clear this run to stage its delivery")
        for family in city.section("services")["families"]:
            raw = _read(con, "SELECT * FROM raw.service_records WHERE city = ? AND _source = ? AND _loaded_for = ? "
                        "ORDER BY _row", [city.name, f"services/{family}", month])
            cleaned = stage_service_records(raw.assign(family=family), areas, month)
            warehouse.replace_partition(con, "staging.service_records", cleaned.frame,
                                        {"city": city.name, "family": family, "month": month})
            _quarantine(con, city, f"services/{family}/{month}", cleaned.quarantine)
            counts[family] = len(cleaned.frame)
            counts["quarantined"] = counts.get("quarantined", 0) + len(cleaned.quarantine)
    return counts


def stage_sensors(city: City, interval_start, interval_end) -> dict[str, int]:
    """staging.sensor_stations and one interval of flagged staging.sensor_readings (see
    transforms/sensor_readings.py: flags, gaps and quarantine are computed in DuckDB)."""
    from sources.sensor_deliveries import partition_key
    from transforms.sensor_readings import stage_readings

    with warehouse.session(city) as con:
        warehouse.revoke_acceptance(con, city.name, "staging_sensor_readings",
                                    partition_key(interval_start, interval_end))
        areas = _areas(con, city)
        if areas.empty:
            raise RuntimeError(f"no areas for city {city.name!r} in staging: run {city.name}.ingest_census first, "
                               "then clear this run to stage its delivery")
        raw_stations = _read(con, "SELECT * FROM raw.sensor_stations WHERE city = ? ORDER BY _row", [city.name])
        stations = stage_stations(raw_stations, areas)
        warehouse.replace_partition(con, "staging.sensor_stations", stations, {"city": city.name})
        staged = stage_readings(con, city_name=city.name, quality=city.section("sensors"),
                                interval_start=interval_start, interval_end=interval_end)
    return {"stations": len(stations), **staged}
