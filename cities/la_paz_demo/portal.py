"""The sample city's open-data portal, served on this machine: service records as CKAN, sensors as SensorThings.

Real cities publish service records on a CKAN portal and sensor readings on an OGC SensorThings API. So that the
demo exercises the real connectors (`sources.ckan`, `sources.sensorthings`), this module serves the files the
generator writes (`services/<family>_<YYYY-MM>.csv`, `sensors/stations.geojson`, `sensors/readings_<YYYY-MM>.json`
under one folder) through both APIs, from a standard-library HTTP server bound to 127.0.0.1 only.

CKAN (Action API v3, at the root of the base URL):
    /api/3/action/package_list, package_show?id=, resource_show?id=, status_show
    /api/3/action/datastore_search?resource_id=&limit=&offset=&sort=_id   (rows as text, like xloader loads them)
    /dataset/<package id>/resource/<resource id>/download/<family>_<YYYY-MM>.csv
One dataset per service family (named after the family), one resource per month (named `<family>_<YYYY-MM>`).

SensorThings API v1.1 (under /sta/v1.1):
    Things, Locations, Datastreams, ObservedProperties, Observations, by id (`Things(3)`) and by navigation
    (`Things(3)/Datastreams`, `Datastreams(7)/Observations`); $top (max 1000), $skip, $count, $select,
    $expand (comma-separated names), $orderby (phenomenonTime or @iot.id, asc/desc) and, on Observations,
    $filter on phenomenonTime with ge/gt/le/lt/eq joined by `and`. Pages link on with @iot.nextLink.
One Thing (with one Location) per station, its sensor id in `properties.sensor_id`; one Datastream per station
and parameter; one Observation per reading.

    with serve_portal(folder) as base_url:       # http://127.0.0.1:<port>; SensorThings at base_url + STA_PATH
        ...
    python -m cities.la_paz_demo.portal --folder var/landing/la_paz_demo --port 8765
"""

from __future__ import annotations

import argparse
import bisect
import csv
import functools
import json
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

STA_PATH = "/sta/v1.1"
HOST = "127.0.0.1"
# Fixed namespace for uuid5: the same folder always gets the same dataset and resource ids.
NAMESPACE = uuid.UUID("5b1d3c1e-7a0f-4c2e-9d6b-0b1e5a7c9f21")
SERVICE_FILE = re.compile(r"(?P<family>[a-z][a-z0-9_]*)_(?P<month>\d{4}-\d{2})\.csv")
READINGS_FILE = re.compile(r"readings_(?P<month>\d{4}-\d{2})\.json")
CKAN_DEFAULT_LIMIT, CKAN_MAX_LIMIT = 100, 32000
STA_DEFAULT_TOP, STA_MAX_TOP = 100, 1000

FAMILY_TITLES = {
    "health_visits": "Atenciones en establecimientos de salud",
    "school_enrolments": "Inscripciones escolares",
    "water_outages": "Reclamos por cortes de agua",
    "waste_complaints": "Reclamos de recojo de residuos",
    "police_reports": "Denuncias policiales",
}
ORGANIZATION = {
    "id": str(uuid.uuid5(NAMESPACE, "organization")),
    "name": "gamlp-demo",
    "title": "Gobierno Autónomo Municipal de La Paz (datos de ejemplo)",
    "type": "organization",
    "description": "Synthetic sample data; none of its people exist.",
    "image_url": "",
    "created": "2024-01-01T00:00:00.000000",
    "is_organization": True,
    "approval_status": "approved",
    "state": "active",
}
UG_M3 = {"name": "microgram per cubic metre", "symbol": "µg/m³",
         "definition": "http://qudt.org/vocab/unit/MicroGM-PER-M3"}
DBA = {"name": "decibel A-weighted", "symbol": "dB(A)", "definition": "https://en.wikipedia.org/wiki/A-weighting"}
OBSERVED_PROPERTIES = {  # parameter -> (ObservedProperty, unitOfMeasurement)
    "pm25": ({"name": "PM2.5", "description": "Particulate matter < 2.5 µm (aerosol)",
              "definition": "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/6001"}, UG_M3),
    "pm10": ({"name": "PM10", "description": "Particulate matter < 10 µm (aerosol)",
              "definition": "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/5"}, UG_M3),
    "no2": ({"name": "NO2", "description": "Nitrogen dioxide (air)",
             "definition": "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8"}, UG_M3),
    "noise": ({"name": "Noise level", "description": "A-weighted equivalent continuous sound level, LAeq 1 h",
               "definition": "https://en.wikipedia.org/wiki/Equivalent_continuous_sound_level"}, DBA),
}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


class ApiError(Exception):
    """An error answer: HTTP status plus the API's own error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


# ---------------------------------------------------------------------------------------------------------
# What the folder holds
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ServiceMonth:
    """One family's month: a CKAN resource backed by a CSV file."""

    family: str
    month: str
    path: Path
    resource_id: str
    package_id: str


@dataclass
class Datastream:
    """One station's parameter, with its observations sorted by time."""

    id: int
    thing_id: int
    parameter: str
    times: list[datetime] = field(default_factory=list)
    rows: list[tuple[int, str, float | None]] = field(default_factory=list)  # (observation id, time, value)
    unit: str | None = None  # the unit the readings files give, when it is not the parameter's usual one


@dataclass
class Portal:
    """Everything the server answers from, read once from the folder."""

    base_url: str
    folder: Path
    months: dict[str, ServiceMonth]  # by resource id
    stations: list[dict[str, Any]]  # GeoJSON features, Thing id = position + 1
    datastreams: list[Datastream]  # Datastream id = position + 1

    @property
    def sta_url(self) -> str:
        return self.base_url + STA_PATH


def load_portal(folder: Path, base_url: str) -> Portal:
    """Index the generator's files under `folder`: service CSVs, stations and readings."""
    folder = Path(folder)
    if not (folder / "services").is_dir() and not (folder / "sensors").is_dir():
        raise FileNotFoundError(f"{folder}: no services/ or sensors/ folder; point --folder at the generator's "
                                "output (e.g. var/landing/la_paz_demo after `bienestar generate`)")
    months = {}
    for path in sorted((folder / "services").glob("*.csv")):
        match = SERVICE_FILE.fullmatch(path.name)
        if match:
            family, month = match["family"], match["month"]
            resource_id = str(uuid.uuid5(NAMESPACE, f"resource:{family}:{month}"))
            months[resource_id] = ServiceMonth(family, month, path, resource_id,
                                               str(uuid.uuid5(NAMESPACE, f"package:{family}")))
    stations, datastreams = _load_sensors(folder / "sensors")
    return Portal(base_url.rstrip("/"), folder, months, stations, datastreams)


def _load_sensors(sensors: Path) -> tuple[list[dict[str, Any]], list[Datastream]]:
    """Stations sorted by sensor id, one Datastream per station and parameter, filled with every month's readings."""
    if not (sensors / "stations.geojson").exists():
        return [], []
    features = json.loads((sensors / "stations.geojson").read_text(encoding="utf-8"))["features"]
    stations = sorted(features, key=lambda f: f["properties"]["sensor_id"])
    datastreams, by_key = [], {}
    for thing_id, station in enumerate(stations, start=1):
        for parameter in station["properties"]["parameters"]:
            stream = Datastream(len(datastreams) + 1, thing_id, parameter)
            datastreams.append(stream)
            by_key[(station["properties"]["sensor_id"], parameter)] = stream
    pending: dict[int, list[tuple[datetime, str, float | None]]] = {s.id: [] for s in datastreams}
    for path in sorted(sensors.glob("readings_*.json")):
        if READINGS_FILE.fullmatch(path.name):
            for reading in json.loads(path.read_text(encoding="utf-8")):
                stream = by_key.get((reading["sensor_id"], reading["parameter"]))
                if stream is not None:
                    # A network that switches a stream's unit says so in its Datastream; the portal does too.
                    usual = OBSERVED_PROPERTIES[stream.parameter][1]["symbol"]
                    if reading.get("unit") not in (None, usual, "ug/m3", "dBA"):
                        stream.unit = reading["unit"]
                    moment = _parse_time(reading["observed_at"])
                    pending[stream.id].append((moment, reading["observed_at"], reading["value"]))
    next_id = 1
    for stream in datastreams:
        for moment, text, value in sorted(pending[stream.id], key=lambda item: item[0]):
            stream.times.append(moment)
            stream.rows.append((next_id, text, value))
            next_id += 1
    return stations, datastreams


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time with offset (or Z) as aware UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def _read_service_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a service CSV, as text."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return (rows[0], rows[1:]) if rows else ([], [])


@functools.lru_cache(maxsize=32)
def _service_records(path: Path, version: tuple[int, int]) -> tuple[list[str], tuple[dict[str, Any], ...]]:
    """A month's rows as DataStore records, read once per version of the file (its mtime and size), not once per
    page: paging through a month read the whole file for every page, quadratic in its rows (issue 14)."""
    header, rows = _read_service_rows(path)
    return header, tuple({"_id": i, **{c: (v if v != "" else None) for c, v in zip(header, row, strict=True)}}
                         for i, row in enumerate(rows, start=1))


# ---------------------------------------------------------------------------------------------------------
# CKAN
# ---------------------------------------------------------------------------------------------------------


def _ckan_time(month: str) -> str:
    """A fixed, plausible publication time for a month's resource: noon on the first day of the next month."""
    year, mon = (int(p) for p in month.split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04d}-{mon:02d}-01T12:00:00.000000"


def ckan_resource(portal: Portal, item: ServiceMonth, position: int) -> dict[str, Any]:
    """A resource dict as CKAN 2.10 returns it (an uploaded CSV in the DataStore)."""
    stamp = _ckan_time(item.month)
    filename = item.path.name
    return {
        "cache_last_updated": None,
        "cache_url": None,
        "created": stamp,
        "datastore_active": True,
        "datastore_contains_all_records_of_source_file": True,
        "description": f"{FAMILY_TITLES.get(item.family, item.family)}, {item.month} (one row per record).",
        "format": "CSV",
        "hash": "",
        "id": item.resource_id,
        "last_modified": stamp,
        "metadata_modified": stamp,
        "mimetype": "text/csv",
        "mimetype_inner": None,
        "name": f"{item.family}_{item.month}",
        "package_id": item.package_id,
        "position": position,
        "resource_type": None,
        "size": item.path.stat().st_size,
        "state": "active",
        "url": f"{portal.base_url}/dataset/{item.package_id}/resource/{item.resource_id}/download/{filename}",
        "url_type": "upload",
    }


def ckan_package(portal: Portal, family: str) -> dict[str, Any]:
    """A package dict as CKAN 2.10's package_show returns it."""
    items = sorted((m for m in portal.months.values() if m.family == family), key=lambda m: m.month)
    if not items:
        raise ApiError(404, {"__type": "Not Found Error", "message": "Not found"})
    resources = [ckan_resource(portal, item, i) for i, item in enumerate(items)]
    title = FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())
    return {
        "author": None,
        "author_email": None,
        "creator_user_id": str(uuid.uuid5(NAMESPACE, "user:publisher")),
        "extras": [],
        "groups": [],
        "id": items[0].package_id,
        "isopen": True,
        "license_id": "cc-by",
        "license_title": "Creative Commons Attribution",
        "license_url": "http://www.opendefinition.org/licenses/cc-by",
        "maintainer": "Unidad de datos abiertos (ejemplo)",
        "maintainer_email": None,
        "metadata_created": resources[0]["created"],
        "metadata_modified": resources[-1]["metadata_modified"],
        "name": family,
        "notes": f"{title}: one CSV per month with record_id, occurred_at (local time), lon, lat, category. "
                 "Synthetic sample data.",
        "num_resources": len(resources),
        "num_tags": 0,
        "organization": ORGANIZATION,
        "owner_org": ORGANIZATION["id"],
        "private": False,
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "resources": resources,
        "state": "active",
        "tags": [],
        "title": title,
        "type": "dataset",
        "url": "",
        "version": None,
    }


def _find_package(portal: Portal, key: str) -> str:
    """The family whose dataset has this name or id."""
    for item in portal.months.values():
        if key in (item.family, item.package_id):
            return item.family
    raise ApiError(404, {"__type": "Not Found Error", "message": "Not found"})


def _required(params: dict[str, str], *names: str) -> str:
    """The first of `names` present in the parameters, or CKAN's validation error."""
    for name in names:
        if params.get(name):
            return params[name]
    raise ApiError(409, {"__type": "Validation Error", names[0]: ["Missing value"]})


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high], or CKAN's validation error."""
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(409, {"__type": "Validation Error", name: ["Invalid integer"]}) from None
    if number < low:
        raise ApiError(409, {"__type": "Validation Error", name: [f"Must be a natural number >= {low}"]})
    return min(number, high)


def datastore_search(portal: Portal, params: dict[str, str]) -> dict[str, Any]:
    """CKAN's datastore_search over a month's rows: records as objects, text fields, sorted by _id."""
    resource_id = _required(params, "resource_id", "id")
    item = portal.months.get(resource_id)
    if item is None:
        raise ApiError(404, {"__type": "Not Found Error",
                             "message": f'Not found: Resource "{resource_id}" was not found.'})
    limit = _integer(params, "limit", CKAN_DEFAULT_LIMIT, 0, CKAN_MAX_LIMIT)
    offset = _integer(params, "offset", 0, 0, 10**9)
    sort = params.get("sort", "_id").strip()
    if sort not in ("_id", "_id asc", "_id desc"):
        raise ApiError(409, {"__type": "Validation Error", "sort": [f'field "{sort.split()[0]}" not in table']})
    stat = item.path.stat()
    header, records = _service_records(item.path, (stat.st_mtime_ns, stat.st_size))
    if sort == "_id desc":
        records = records[::-1]
    kept = {k: v for k, v in params.items() if k != "offset"}
    start = "/api/3/action/datastore_search?" + urlencode(kept)
    result = {
        "include_total": True,
        "limit": limit,
        "records_format": "objects",
        "resource_id": resource_id,
        "total_estimation_threshold": None,
        "records": list(records[offset: offset + limit]),
        "fields": [{"id": "_id", "type": "int"}] + [{"id": c, "type": "text"} for c in header],
        "_links": {"start": start, "next": f"{start}&offset={offset + limit}"},
        "total": len(records),
        "total_was_estimated": False,
    }
    if "offset" in params:
        result["offset"] = offset
    if "sort" in params:
        result["sort"] = sort
    return result


def ckan_action(portal: Portal, action: str, params: dict[str, str]) -> Any:
    """The `result` of one Action API call, or an ApiError carrying CKAN's error."""
    if action == "status_show":
        return {"site_title": "La Paz (datos de ejemplo)", "site_url": portal.base_url, "ckan_version": "2.10.5",
                "site_description": "Synthetic sample city served by bienestar", "locale_default": "es",
                "extensions": ["datastore"]}
    if action == "package_list":
        return sorted({m.family for m in portal.months.values()})
    if action == "package_show":
        return ckan_package(portal, _find_package(portal, _required(params, "id")))
    if action == "resource_show":
        resource_id = _required(params, "id")
        item = portal.months.get(resource_id)
        if item is None:
            raise ApiError(404, {"__type": "Not Found Error", "message": "Not found: Resource was not found."})
        package = ckan_package(portal, item.family)
        return next(r for r in package["resources"] if r["id"] == resource_id)
    if action == "datastore_search":
        return datastore_search(portal, params)
    raise ApiError(400, {"__type": "Bad Request", "message": f"Bad request - Action name not known: {action}"})


# ---------------------------------------------------------------------------------------------------------
# SensorThings
# ---------------------------------------------------------------------------------------------------------

ENTITY_SETS = ("Things", "Locations", "Datastreams", "ObservedProperties", "Observations")
PATH = re.compile(r"/(?P<set>[A-Za-z]+)(?:\((?P<id>\d+)\))?(?:/(?P<nav>[A-Za-z]+))?/?")
FILTER_TERM = re.compile(r"phenomenonTime\s+(?P<op>ge|gt|le|lt|eq)\s+(?P<time>\S+)")


def _sta_error(status: int, message: str) -> ApiError:
    """An error in the shape FROST-Server uses."""
    return ApiError(status, {"code": status, "type": "error", "message": message})


@dataclass
class Query:
    """The OData query options of one request."""

    top: int
    skip: int
    count: bool
    select: list[str]
    expand: list[str]
    orderby: tuple[str, bool]  # (field, descending)
    bounds: list[tuple[str, datetime]]  # phenomenonTime comparisons
    raw: dict[str, str]


def parse_query(params: dict[str, str]) -> Query:
    """$top, $skip, $count, $select, $expand, $orderby and $filter, or a 400 naming the option at fault."""
    try:
        top = min(int(params.get("$top", STA_DEFAULT_TOP)), STA_MAX_TOP)
        skip = int(params.get("$skip", 0))
    except ValueError:
        raise _sta_error(400, "$top and $skip must be integers") from None
    if top < 0 or skip < 0:
        raise _sta_error(400, "$top and $skip must not be negative")
    order = params.get("$orderby", "@iot.id asc").split()
    if not order or order[0] not in ("@iot.id", "id", "phenomenonTime") or order[1:] not in ([], ["asc"], ["desc"]):
        raise _sta_error(400, f"Unsupported $orderby: {params.get('$orderby')!r} (phenomenonTime or @iot.id)")
    return Query(
        top=top, skip=skip, count=params.get("$count", "false").lower() == "true",
        select=[s.strip() for s in params["$select"].split(",")] if params.get("$select") else [],
        expand=[e.strip() for e in params["$expand"].split(",")] if params.get("$expand") else [],
        orderby=("@iot.id" if order[0] == "id" else order[0], order[1:] == ["desc"]),
        bounds=_parse_filter(params.get("$filter", "")), raw=params,
    )


def _parse_filter(text: str) -> list[tuple[str, datetime]]:
    """`phenomenonTime ge <t> and phenomenonTime lt <t>` (any number of terms) as (operator, time) pairs."""
    if not text.strip():
        return []
    bounds = []
    for term in re.split(r"\s+and\s+", text.strip()):
        match = FILTER_TERM.fullmatch(term.strip())
        if not match:
            raise _sta_error(400, f"Unsupported $filter term {term!r}: this server filters on phenomenonTime "
                             "with ge, gt, le, lt or eq, joined by and")
        try:
            bounds.append((match["op"], _parse_time(match["time"])))
        except ValueError:
            raise _sta_error(400, f"Invalid time in $filter: {match['time']!r}") from None
    return bounds


def _window(stream: Datastream, bounds: list[tuple[str, datetime]]) -> range:
    """Positions of the stream's observations that satisfy every bound (times are sorted)."""
    low, high = 0, len(stream.times)
    for op, moment in bounds:
        if op in ("ge", "eq"):
            low = max(low, bisect.bisect_left(stream.times, moment))
        if op == "gt":
            low = max(low, bisect.bisect_right(stream.times, moment))
        if op in ("le", "eq"):
            high = min(high, bisect.bisect_right(stream.times, moment))
        if op == "lt":
            high = min(high, bisect.bisect_left(stream.times, moment))
    return range(low, max(low, high))


class SensorThings:
    """Answers SensorThings requests from a Portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.root = portal.sta_url

    # -- entities ------------------------------------------------------------------------------------------

    def _link(self, entity_set: str, entity_id: int) -> str:
        return f"{self.root}/{entity_set}({entity_id})"

    def thing(self, thing_id: int) -> dict[str, Any]:
        props = self.portal.stations[thing_id - 1]["properties"]
        link = self._link("Things", thing_id)
        return {
            "@iot.selfLink": link, "@iot.id": thing_id, "name": props["name"],
            "description": f"Estación de monitoreo de calidad del aire {props['sensor_id']}",
            "properties": {"sensor_id": props["sensor_id"], "network": "Red MoniCA La Paz (ejemplo)"},
            "Datastreams@iot.navigationLink": f"{link}/Datastreams",
            "Locations@iot.navigationLink": f"{link}/Locations",
        }

    def location(self, location_id: int) -> dict[str, Any]:
        station = self.portal.stations[location_id - 1]
        link = self._link("Locations", location_id)
        return {
            "@iot.selfLink": link, "@iot.id": location_id, "name": station["properties"]["name"],
            "description": f"Ubicación de {station['properties']['sensor_id']}",
            "encodingType": "application/geo+json", "location": station["geometry"],
            "Things@iot.navigationLink": f"{link}/Things",
        }

    def datastream(self, datastream_id: int) -> dict[str, Any]:
        stream = self.portal.datastreams[datastream_id - 1]
        sensor_id = self.portal.stations[stream.thing_id - 1]["properties"]["sensor_id"]
        prop, unit = OBSERVED_PROPERTIES[stream.parameter]
        link = self._link("Datastreams", datastream_id)
        entity = {
            "@iot.selfLink": link, "@iot.id": datastream_id, "name": f"{sensor_id} {prop['name']}",
            "description": f"Hourly {prop['description']} at {sensor_id}",
            "observationType": MEASUREMENT,
            "unitOfMeasurement": dict(unit) if stream.unit is None else {"name": stream.unit, "symbol": stream.unit,
                                                                          "definition": ""},
            "Thing@iot.navigationLink": f"{link}/Thing",
            "ObservedProperty@iot.navigationLink": f"{link}/ObservedProperty",
            "Observations@iot.navigationLink": f"{link}/Observations",
        }
        if stream.rows:
            entity["phenomenonTime"] = f"{stream.rows[0][1]}/{stream.rows[-1][1]}"
        return entity

    def observed_property(self, property_id: int) -> dict[str, Any]:
        parameter = list(OBSERVED_PROPERTIES)[property_id - 1]
        link = self._link("ObservedProperties", property_id)
        return {"@iot.selfLink": link, "@iot.id": property_id, **OBSERVED_PROPERTIES[parameter][0],
                "Datastreams@iot.navigationLink": f"{link}/Datastreams"}

    def observation(self, stream: Datastream, position: int) -> dict[str, Any]:
        observation_id, time, value = stream.rows[position]
        link = self._link("Observations", observation_id)
        return {
            "@iot.selfLink": link, "@iot.id": observation_id, "phenomenonTime": time, "resultTime": time,
            "result": value, "Datastream@iot.navigationLink": f"{link}/Datastream",
        }

    # -- expansion and selection ---------------------------------------------------------------------------

    def _related(self, entity_set: str, entity_id: int, name: str) -> tuple[str, list[int] | int]:
        """The set and id(s) that navigation property `name` of an entity points at (400 when there is none)."""
        streams = self.portal.datastreams
        relations = {
            ("Things", "Locations"): ("Locations", [entity_id]),
            ("Things", "Datastreams"): ("Datastreams", [s.id for s in streams if s.thing_id == entity_id]),
            ("Locations", "Things"): ("Things", [entity_id]),
            ("ObservedProperties", "Datastreams"): (
                "Datastreams", [s.id for s in streams if list(OBSERVED_PROPERTIES).index(s.parameter) + 1 == entity_id]
            ),
        }
        if entity_set == "Datastreams":
            stream = streams[entity_id - 1]
            relations[("Datastreams", "Thing")] = ("Things", stream.thing_id)
            relations[("Datastreams", "ObservedProperty")] = (
                "ObservedProperties", list(OBSERVED_PROPERTIES).index(stream.parameter) + 1)
        if (entity_set, name) not in relations:
            raise _sta_error(400, f"{entity_set} has no navigation property {name!r} this server can follow")
        return relations[(entity_set, name)]

    def render(self, entity_set: str, entity_id: int, query: Query) -> dict[str, Any]:
        """One entity with its expansions, reduced to $select when given."""
        render = {"Things": self.thing, "Locations": self.location, "Datastreams": self.datastream,
                  "ObservedProperties": self.observed_property}[entity_set]
        entity = render(entity_id)
        for name in query.expand:
            target_set, ids = self._related(entity_set, entity_id, name)
            plain = Query(STA_MAX_TOP, 0, False, [], [], ("@iot.id", False), [], {})
            if isinstance(ids, list):
                entity[name] = [self.render(target_set, i, plain) for i in ids]
            else:
                entity[name] = self.render(target_set, ids, plain)
        if query.select:
            entity = {k: v for k, v in entity.items() if k in query.select or k in query.expand}
        return entity

    # -- requests ------------------------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """The JSON answer for a path below the service root."""
        if path in ("", "/"):
            return self.service_document()
        match = PATH.fullmatch(path)
        if not match or match["set"] not in ENTITY_SETS:
            raise _sta_error(404, "Nothing found.")
        query = parse_query(params)
        entity_set, nav = match["set"], match["nav"]
        entity_id = int(match["id"]) if match["id"] else None
        if entity_set == "Observations":
            if entity_id is not None or nav:
                return self._one_observation(entity_id, nav, query)
            return self._page(self._observation_items(self.portal.datastreams, query), query)
        if entity_id is not None and not 1 <= entity_id <= self._size(entity_set):
            raise _sta_error(404, "Nothing found.")
        if entity_id is None:
            if nav:
                raise _sta_error(404, "Nothing found.")
            return self._page([(entity_set, i) for i in range(1, self._size(entity_set) + 1)], query)
        if not nav:
            return self.render(entity_set, entity_id, query)
        if (entity_set, nav) == ("Datastreams", "Observations"):
            stream = self.portal.datastreams[entity_id - 1]
            return self._page(self._observation_items([stream], query), query)
        target_set, ids = self._related(entity_set, entity_id, nav)
        if isinstance(ids, list):
            return self._page([(target_set, i) for i in ids], query)
        return self.render(target_set, ids, query)

    def _size(self, entity_set: str) -> int:
        return {"Things": len(self.portal.stations), "Locations": len(self.portal.stations),
                "Datastreams": len(self.portal.datastreams), "ObservedProperties": len(OBSERVED_PROPERTIES)}[entity_set]

    def _observation_items(self, streams: list[Datastream], query: Query) -> list[tuple[Datastream, int]]:
        """(stream, position) of the observations that pass the filter, in the requested order."""
        items = [(s, i) for s in streams for i in _window(s, query.bounds)]
        field_name, descending = query.orderby
        if field_name == "phenomenonTime":
            items.sort(key=lambda item: (item[0].times[item[1]], item[0].rows[item[1]][0]), reverse=descending)
        elif descending:
            items.reverse()
        return items

    def _one_observation(self, observation_id: int | None, nav: str | None, query: Query) -> dict[str, Any]:
        """Observations(<id>) or Observations(<id>)/Datastream."""
        for stream in self.portal.datastreams:
            for position, row in enumerate(stream.rows):
                if row[0] == observation_id:
                    if nav == "Datastream":
                        return self.render("Datastreams", stream.id, query)
                    if nav:
                        break
                    return _select(self.observation(stream, position), query)
        raise _sta_error(404, "Nothing found.")

    def _page(self, items: list, query: Query) -> dict[str, Any]:
        """One page of a collection with @iot.count (when asked) and @iot.nextLink (when more remain)."""
        page = items[query.skip: query.skip + query.top]
        answer: dict[str, Any] = {}
        if query.count:
            answer["@iot.count"] = len(items)
        if query.skip + query.top < len(items):
            answer["@iot.nextLink"] = self._next_link(query)
        values = []
        for item in page:
            if isinstance(item[0], Datastream):
                values.append(_select(self.observation(item[0], item[1]), query))
            else:
                values.append(self.render(item[0], item[1], query))
        answer["value"] = values
        return answer

    def _next_link(self, query: Query) -> str:
        """The request's own URL with $skip moved on by $top (the path is the current request's)."""
        params = {**query.raw, "$top": str(query.top), "$skip": str(query.skip + query.top)}
        return "?" + urlencode(params, quote_via=quote, safe="$(),:'/")

    def service_document(self) -> dict[str, Any]:
        """The service root: its entity sets and the conformance classes this server implements."""
        core = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
        return {
            "value": [{"name": name, "url": f"{self.root}/{name}"} for name in ENTITY_SETS],
            "serverSettings": {"conformance": [f"{core}datamodel", f"{core}request-data"]},
        }


def _select(entity: dict[str, Any], query: Query) -> dict[str, Any]:
    """The entity reduced to the $select properties, when given."""
    if not query.select:
        return entity
    return {k: v for k, v in entity.items() if k in query.select}


# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Routes GET requests to CKAN, SensorThings or a resource download."""

    server_version = "bienestar-portal/1.0"
    portal: Portal  # set on the subclass made per server
    sta: SensorThings

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            if parts.path.startswith("/api/3/action/"):
                self._ckan(parts.path.removeprefix("/api/3/action/"), params)
            elif parts.path == STA_PATH or parts.path.startswith(STA_PATH + "/"):
                answer = self.sta.answer(parts.path.removeprefix(STA_PATH), params)
                if "@iot.nextLink" in answer:
                    answer["@iot.nextLink"] = f"{self.portal.base_url}{parts.path}{answer['@iot.nextLink']}"
                    answer = {k: answer[k] for k in ("@iot.count", "@iot.nextLink", "value") if k in answer}
                self._send_json(200, answer, compact=True)
            elif parts.path.startswith("/dataset/"):
                self._download(parts.path)
            elif parts.path == "/":
                self._send_json(200, {"ckan": f"{self.portal.base_url}/api/3/action/package_list",
                                      "sensorthings": self.portal.sta_url})
            else:
                self._send_bytes(404, b"404 Not Found\n", "text/plain; charset=utf-8")
        except ApiError as err:
            if parts.path.startswith("/api/"):
                self._send_json(err.status, self._ckan_envelope(parts.path, False, error=err.body))
            else:
                self._send_json(err.status, err.body, compact=True)
        except Exception as exc:  # a bug here must reach the client as a 500, not as a dropped connection
            self.log_error("%s failed: %r", self.path, exc)
            self._send_json(500, {"code": 500, "type": "error", "message": f"Internal error: {exc}"})

    def _ckan(self, action: str, params: dict[str, str]) -> None:
        """One Action API call wrapped in CKAN's envelope."""
        result = ckan_action(self.portal, action, params)
        self._send_json(200, self._ckan_envelope(action, True, result=result))

    def _ckan_envelope(self, action: str, success: bool, **content: Any) -> dict[str, Any]:
        name = action.rsplit("/", 1)[-1]
        return {"help": f"{self.portal.base_url}/api/3/action/help_show?name={name}", "success": success, **content}

    def _download(self, path: str) -> None:
        """/dataset/<package>/resource/<resource>/download/<file>: the month's CSV as uploaded."""
        match = re.fullmatch(r"/dataset/([^/]+)/resource/([^/]+)/download/([^/]+)", path)
        item = self.portal.months.get(match[2]) if match else None
        if item is None or match[1] != item.package_id or match[3] != item.path.name:
            self._send_bytes(404, b"404 Not Found\n", "text/plain; charset=utf-8")
            return
        self._send_bytes(200, item.path.read_bytes(), "text/csv",
                         {"Content-Disposition": f'attachment; filename="{item.path.name}"'})

    def _send_json(self, status: int, payload: Any, *, compact: bool = False) -> None:
        separators = (",", ":") if compact else (", ", ": ")
        body = json.dumps(payload, ensure_ascii=False, separators=separators).encode("utf-8")
        self._send_bytes(status, body, "application/json; charset=utf-8")

    def _send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        """Quiet by default; `--verbose` on the command line turns request logging on."""
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)


class PortalServer(ThreadingHTTPServer):
    """The portal's HTTP server, bound to 127.0.0.1."""

    daemon_threads = True
    block_on_close = False
    verbose = False


def make_server(folder: Path, port: int = 0, *, host: str = HOST, public_url: str | None = None) -> PortalServer:
    """Bind `host`:`port` (0 picks a free port) and load the folder; call serve_forever() to answer.

    `public_url` is the base of the links the portal writes (next pages, downloads) when clients reach it under
    another name (a container's service name); by default the address it listens on.
    """
    server = PortalServer((host, port), _Handler)
    base_url = public_url or f"http://{HOST if host in ('0.0.0.0', '') else host}:{server.server_address[1]}"
    try:
        portal = load_portal(folder, base_url)
    except Exception:
        server.server_close()
        raise
    server.RequestHandlerClass = type("PortalHandler", (_Handler,), {"portal": portal, "sta": SensorThings(portal)})
    return server


@contextmanager
def serve_portal(folder: Path, port: int = 0) -> Iterator[str]:
    """Serve `folder` in a background thread; yield the base URL (CKAN there, SensorThings at + STA_PATH)."""
    server = make_server(folder, port)
    # shutdown() waits up to one poll interval; the default half second adds up in tests.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="la-paz-portal", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """`python -m cities.la_paz_demo.portal --folder F --port 8765`: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m cities.la_paz_demo.portal",
        description="Serve the sample city's generated files as a CKAN portal (service records) and an OGC "
                    "SensorThings API v1.1 service (sensors) on 127.0.0.1, for the demo and for trying the "
                    "connectors. Stop with Ctrl-C.",
    )
    from bienestar import settings

    default = settings.paths().home / "portal" / "la_paz_demo"
    parser.add_argument("--folder", type=Path, default=default,
                        help="the generator's output folder, holding services/ and sensors/ "
                             f"(default: {default}, where `bienestar generate` writes it)")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST}; 0.0.0.0 in a "
                        "container)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--public-url", help="base URL clients use to reach the portal, written into its links "
                        "(e.g. http://portal:8765 in compose; default: the address it listens on)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.folder, args.port, host=args.host, public_url=args.public_url)
    except (FileNotFoundError, OSError) as err:
        parser.error(str(err))
    server.verbose = args.verbose
    base = args.public_url or f"http://{HOST if args.host in ('0.0.0.0', '') else args.host}:{server.server_address[1]}"
    print(f"CKAN          {base}/api/3/action/package_list")
    print(f"SensorThings  {base}{STA_PATH}")
    print(f"for the connectors: BIENESTAR_CONN_<ID>_URL={base} (CKAN) or {base}{STA_PATH} (SensorThings)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
