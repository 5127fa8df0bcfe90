"""Land a city's deliveries (census, boundaries, services, sensors) from its landing folder into `raw`.

One function per source family, each replacing exactly the partition it loads (the census vintage, or the month
of a data interval), so a rerun never duplicates anything.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from bienestar import settings, warehouse
from cities import City
from sources import NotDeliveredYet
from sources.files import NotStreamable, land, prepare_delivery, stream_delivery
from transforms.areas import areas_from_boundaries
from transforms.boundaries import boundary_check
from transforms.point_index import place_points_fast


def generalise_location(frame: pd.DataFrame, columns: list[str], areas: pd.DataFrame) -> pd.DataFrame:
    """Replace a record's coordinates by the smallest area they fall in, before anything is stored.

    `location` says what happened: `placed`, `outside` (no area holds the point, or the coordinates are not
    numbers) or `missing` (no coordinates), so staging can quarantine the unplaced with a reason.
    """
    lon, lat = (frame[c] for c in columns)
    area = place_points_fast(lon, lat, areas)
    missing = lon.isna() | lat.isna()
    location = pd.Series("placed", index=frame.index, dtype="string")
    location[area.isna()] = "outside"
    location[missing] = "missing"
    return frame.drop(columns=columns).assign(area_id=area, location=location)


def _unchanged(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def land_census(city: City, vintage: str | None = None) -> dict[str, int]:
    """Boundaries and the census (households, persons) of one census year (default: the latest) into raw."""
    vintage = vintage or city.vintage
    census = city.section("census")
    landing = settings.paths().landing_for(city.name)
    key = settings.pseudonym_key(city.name, demo=city.demo)
    counts = {}
    with warehouse.session(city) as con:
        counts["boundaries"] = land(
            con, city=city.name, landing=landing, relative=city.config["boundaries"], source="boundaries",
            table="raw.boundaries", loaded_for=city.vintage,
            required=[level[k] for level in city.levels for k in ("code", "name")] + ["geometry_wkt"],
            check=boundary_check(city),  # a bad polygon is rejected before raw.boundaries is replaced
        )
        areas = None
        for part in ("households", "persons"):
            spec = census[part]
            relative = city.census_file(part, vintage)
            if spec.get("generalise_location") and areas is None:
                boundaries = warehouse.read_frame(con, "SELECT * FROM raw.boundaries WHERE city = ? ORDER BY _row",
                                                  [city.name])
                areas = areas_from_boundaries(city, boundaries)
            options = {"relative": relative, "source": f"census/{part}", "loaded_for": vintage,
                       "required": spec["required"], "drop": spec.get("drop"),
                       "pseudonymise": spec.get("pseudonymise"), "key": key, "keep": spec.get("keep") or ()}
            partition = {"city": city.name, "_source": f"census/{part}", "_loaded_for": vintage}
            generalised = spec.get("generalise_location")
            placed = partial(generalise_location, columns=generalised, areas=areas) if generalised else _unchanged

            try:  # a chunk of the file at a time (settings.chunk_rows()): a national census is never whole
                chunks, lineage = stream_delivery(landing / relative, chunk_rows=settings.chunk_rows(), **options)
                counts[part] = warehouse.replace_partition_in_order(
                    con, f"raw.census_{part}", (placed(chunk) for chunk in chunks), partition, constants=lineage)
            except NotStreamable:  # not UTF-8 CSV, or a line only pandas reads: the whole file, its checks
                delivery = prepare_delivery(landing / relative, split_lineage=True, **options)
                counts[part] = warehouse.replace_partition(con, f"raw.census_{part}", placed(delivery.frame),
                                                           partition, constants=delivery.lineage)
                del delivery
    return counts


def land_survey(city: City) -> dict[str, int]:
    """The household survey's households and persons into raw (raw.survey_households, raw.survey_persons): direct
    identifiers dropped, ids pseudonymised with the census's key (docs/survey.md). A survey is a few thousand
    households: read whole."""
    survey = city.settings.survey
    if survey is None:
        raise ValueError(f"{city.name} has no survey (city.yaml survey:)")
    landing = settings.paths().landing_for(city.name)
    key = settings.pseudonym_key(city.name, demo=city.demo)
    counts = {}
    with warehouse.session(city) as con:
        for part in ("households", "persons"):
            spec = getattr(survey, part)
            counts[part] = land(con, city=city.name, landing=landing, relative=spec.file, source=f"survey/{part}",
                                table=f"raw.survey_{part}", loaded_for=survey.vintage, required=spec.required,
                                drop=spec.drop, pseudonymise=spec.pseudonymise, key=key,
                                partition={"_loaded_for": survey.vintage})
    return counts


def land_services(city: City, month: str) -> dict[str, int]:
    """Every service family's delivery for one month into raw.service_records."""
    services = city.section("services")
    landing = settings.paths().landing_for(city.name)
    files = {family: services["pattern"].format(family=family, month=month) for family in services["families"]}
    absent = [relative for relative in files.values() if not (landing / relative).exists()]
    if len(absent) == len(files):  # nothing of the month yet: a scheduled run is skipped, not failed
        raise NotDeliveredYet(f"{landing}: no service records for {month} yet (expected {', '.join(absent)})")
    counts = {}
    with warehouse.session(city) as con:
        for family, relative in files.items():  # a month half delivered fails, naming the missing file
            counts[family] = land(
                con, city=city.name, landing=landing, relative=relative, source=f"services/{family}",
                table="raw.service_records", loaded_for=month, required=services["required"],
                partition={"_loaded_for": month},
            )
    return counts


def land_sensors(city: City, interval_start, interval_end) -> dict[str, int]:
    """The station list and the readings of one data interval (a day, or a month) into raw.

    The readings file is found from the city's `pattern` ({interval}: the interval's key, `YYYY-MM-DD` for a day;
    {month}: its month, for a network that delivers a monthly file); only readings inside the interval are
    loaded, and reloading the interval replaces them.
    """
    from sources.sensor_deliveries import land_readings, partition_key, utc_naive

    sensors = city.section("sensors")
    landing = settings.paths().landing_for(city.name)
    key = partition_key(interval_start, interval_end)
    relative = sensors["pattern"].format(month=f"{utc_naive(interval_start):%Y-%m}", interval=key)
    if not (landing / relative).exists():  # a scheduled day not delivered yet is skipped, not failed
        raise NotDeliveredYet(f"{landing / relative}: no sensor readings for {key} yet")
    with warehouse.session(city) as con:
        stations = land(
            con, city=city.name, landing=landing, relative=sensors["stations"], source="sensors/stations",
            table="raw.sensor_stations", loaded_for=key, required=["sensor_id", "name", "geometry_wkt"],
        )
        readings = land_readings(con, city=city.name, path=landing / relative, source="sensors/readings",
                                 interval_start=interval_start, interval_end=interval_end, delivery=relative)
    return {"stations": stations, "readings": readings}
