"""Land a city's deliveries (census, boundaries, services, sensors) from its landing folder into `raw`.

One function per source family, each replacing exactly the partition it loads (the census vintage, or the month
of a data interval), so a rerun never duplicates anything.
"""

from __future__ import annotations

from bienestar import settings, warehouse
from cities import City
from sources.files import land


def land_census(city: City) -> dict[str, int]:
    """Boundaries and the census (households, persons) of the city's vintage into raw."""
    census = city.section("census")
    landing = settings.paths().landing_for(city.name)
    key = settings.pseudonym_key(city.name, demo=city.demo)
    counts = {}
    with warehouse.session() as con:
        counts["boundaries"] = land(
            con, city=city.name, landing=landing, relative=city.config["boundaries"], source="boundaries",
            table="raw.boundaries", loaded_for=city.vintage,
            required=[level[k] for level in city.levels for k in ("code", "name")] + ["geometry_wkt"],
        )
        for part in ("households", "persons"):
            spec = census[part]
            counts[part] = land(
                con, city=city.name, landing=landing, relative=spec["file"], source=f"census/{part}",
                table=f"raw.census_{part}", loaded_for=city.vintage, required=spec["required"],
                drop=spec.get("drop"), pseudonymise=spec.get("pseudonymise"), key=key,
            )
    return counts


def land_services(city: City, month: str) -> dict[str, int]:
    """Every service family's delivery for one month into raw.service_records."""
    services = city.section("services")
    landing = settings.paths().landing_for(city.name)
    counts = {}
    with warehouse.session() as con:
        for family in services["families"]:
            relative = services["pattern"].format(family=family, month=month)
            counts[family] = land(
                con, city=city.name, landing=landing, relative=relative, source=f"services/{family}",
                table="raw.service_records", loaded_for=month, required=services["required"],
                partition={"_loaded_for": month},
            )
    return counts


def land_sensors(city: City, month: str) -> dict[str, int]:
    """The station list and one month of readings into raw."""
    sensors = city.section("sensors")
    landing = settings.paths().landing_for(city.name)
    with warehouse.session() as con:
        stations = land(
            con, city=city.name, landing=landing, relative=sensors["stations"], source="sensors/stations",
            table="raw.sensor_stations", loaded_for=month, required=["sensor_id", "name", "geometry_wkt"],
        )
        readings = land(
            con, city=city.name, landing=landing, relative=sensors["pattern"].format(month=month),
            source="sensors/readings", table="raw.sensor_readings", loaded_for=month,
            required=sensors["required"], partition={"_loaded_for": month},
        )
    return {"stations": stations, "readings": readings}
