"""Build the `staging` tables of one city from `raw`, one function per source family.

Each function reads its raw partition, cleans it (see `transforms.cleaning`), and replaces its staging partition
and its quarantine entries in one go, so reruns give the same database.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pandas as pd

from bienestar import settings, warehouse
from bienestar.warehouse import read_frame
from cities import City
from transforms.areas import areas_from_boundaries
from transforms.census import stage_households, stage_persons
from transforms.sensors import stage_stations
from transforms.services import stage_service_records
from transforms.survey import stage_survey_households, stage_survey_persons

log = logging.getLogger(__name__)


def _areas(con, city: City) -> pd.DataFrame:
    """The city's staged areas (none before its first census run: callers say to run ingest_census first)."""
    if not warehouse.table_exists(con, "staging.areas"):
        return pd.DataFrame()
    return read_frame(con, "SELECT * FROM staging.areas WHERE city = ? ORDER BY depth, area_id", [city.name])


def _quarantine(con, city: City, source: str, entries: list[dict]) -> None:
    warehouse.replace_quarantine(con, city.name, "staging", source, warehouse.quarantine_frame(entries))


def raw_chunks(con, table: str, key: str, city: City, vintage: str) -> Iterator[pd.DataFrame]:
    """One census year's raw rows in chunks of about `settings.chunk_rows()` rows, each in delivery order; every
    copy of an id falls in the same chunk (chunks split by a hash of `key`), so de-duplication per chunk is
    de-duplication of the whole year."""
    where = "city = ? AND _loaded_for = ?"
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", [city.name, vintage]).fetchall()[0][0]
    parts = max(1, math.ceil(rows / settings.chunk_rows()))
    for part in range(parts):
        if parts > 1:
            log.info("%s %s: chunk %d of %d", table, vintage, part + 1, parts)
        yield read_frame(con, f"SELECT * FROM {table} WHERE {where} AND hash({key}) % ? = ? ORDER BY _row",
                         [city.name, vintage, parts, part])


def stage_census(city: City, vintage: str | None = None) -> dict[str, int]:
    """staging.areas, staging.households and staging.persons for one census year (default: the latest), a chunk
    of `settings.chunk_rows()` raw rows at a time: memory is bounded by that setting, not by the census."""
    vintage = vintage or city.vintage
    key = {"city": city.name, "vintage": vintage}
    with warehouse.session(city) as con:
        warehouse.revoke_acceptance(con, city.name, "staging_census", vintage)
        boundaries = read_frame(con, "SELECT * FROM raw.boundaries WHERE city = ? ORDER BY _row", [city.name])
        areas = areas_from_boundaries(city, boundaries)
        warehouse.replace_partition(con, "staging.areas", areas, {"city": city.name})
        quarantine = {"households": [], "persons": []}
        placed: list[pd.DataFrame] = []  # household_id -> area_id, what persons need of the households

        def staged(raw_table: str, id_column: str, stage, kind: str) -> Iterator[pd.DataFrame]:
            for raw in raw_chunks(con, raw_table, id_column, city, vintage):
                cleaned = stage(raw)
                quarantine[kind].extend(cleaned.quarantine)
                yield cleaned.frame

        def households_placed(raw: pd.DataFrame):
            cleaned = stage_households(raw)
            placed.append(cleaned.frame[["household_id", "area_id"]])
            return cleaned

        households = warehouse.replace_partition_in_chunks(
            con, "staging.households", staged("raw.census_households", "household_id", households_placed,
                                              "households"), key, order_by="household_id")
        homes = pd.concat(placed, ignore_index=True)
        del placed[:]
        persons = warehouse.replace_partition_in_chunks(
            con, "staging.persons", staged("raw.census_persons", "person_id", lambda raw: stage_persons(raw, homes),
                                           "persons"), key, order_by="person_id")
        # the latest census keeps the plain source names; earlier ones carry their year
        prefix = "census" if vintage == city.vintage else f"census/{vintage}"
        for kind, entries in quarantine.items():
            _quarantine(con, city, f"{prefix}/{kind}", sorted(entries, key=_delivery_order))
        return {"areas": len(areas), "households": households, "persons": persons,
                "quarantined": sum(len(entries) for entries in quarantine.values())}


def _delivery_order(entry: dict) -> tuple:
    """Quarantine entries in delivery order, as one unchunked pass would list them."""
    return (str(entry.get("delivery")), entry.get("row") or 0, str(entry.get("field")), str(entry.get("reason")))


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
            raw = read_frame(con, "SELECT * FROM raw.service_records WHERE city = ? AND _source = ? "
                             "AND _loaded_for = ? ORDER BY _row", [city.name, f"services/{family}", month])
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
        raw_stations = read_frame(con, "SELECT * FROM raw.sensor_stations WHERE city = ? ORDER BY _row", [city.name])
        stations = stage_stations(raw_stations, areas)
        warehouse.replace_partition(con, "staging.sensor_stations", stations, {"city": city.name})
        staged = stage_readings(con, city_name=city.name, quality=city.section("sensors"),
                                interval_start=interval_start, interval_end=interval_end)
    return {"stations": len(stations), **staged}


def stage_survey(city: City) -> dict[str, int]:
    """staging.survey_households and staging.survey_persons from the survey year's raw rows, the quarantine
    beside them (transforms/survey.py types them)."""
    survey = city.settings.survey
    key = {"city": city.name, "vintage": survey.vintage}
    where = "city = ? AND _loaded_for = ? ORDER BY _row"
    with warehouse.session(city) as con:
        areas = _areas(con, city)
        if areas.empty:
            raise RuntimeError(f"no areas for {city.name!r} in staging: stage the census first")
        warehouse.revoke_acceptance(con, city.name, "staging_survey", survey.vintage)
        zones = set(areas.loc[areas["depth"] == 0, "area_id"])
        raw = read_frame(con, f"SELECT * FROM raw.survey_households WHERE {where}", [city.name, survey.vintage])
        households = stage_survey_households(raw, city, zones)
        raw = read_frame(con, f"SELECT * FROM raw.survey_persons WHERE {where}", [city.name, survey.vintage])
        persons = stage_survey_persons(raw, households.frame)
        counts = {"households": warehouse.replace_partition(con, "staging.survey_households", households.frame, key),
                  "persons": warehouse.replace_partition(con, "staging.survey_persons", persons.frame, key)}
        for kind, cleaned in (("households", households), ("persons", persons)):
            _quarantine(con, city, f"survey/{kind}", cleaned.quarantine)
    return {**counts, "quarantined": len(households.quarantine) + len(persons.quarantine)}
