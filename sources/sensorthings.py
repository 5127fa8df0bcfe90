"""Sensor readings from an OGC SensorThings API v1.1 service, landed as our stations GeoJSON and readings JSON.

What is read (the service root is the base URL, e.g. `https://sensores.example.org/FROST-Server/v1.1`):

- `Things?$expand=Locations`: one Thing per station, its place from its Location (GeoJSON Point);
- `Datastreams?$expand=Thing,ObservedProperty`: one Datastream per station and parameter, with its
  `unitOfMeasurement`;
- `Datastreams(<id>)/Observations?$filter=phenomenonTime ge <start> and phenomenonTime lt <end>`, ordered by
  phenomenonTime, for the data interval [start, end).

Collections come in pages: every page's `@iot.nextLink` is followed (only on the service's own origin) until
there is none. An observation whose phenomenonTime is an interval counts at its start. An observation outside
[start, end) means the server did not apply the filter, and is an error rather than a silent extra row.

How ObservedProperties and units map to our parameters. Names and units are compared after Unicode NFKC
normalisation, lower-casing and dropping spaces, `_`, `-` and brackets (for units also every other
non-alphanumeric), so `PM 2.5`, `pm2_5` and `PM2.5` are one name and `µg/m³`, `ug/m3` and `ug.m-3` one unit:

| parameter | unit | ObservedProperty name (or definition URI) | unitOfMeasurement symbol or name |
| --- | --- | --- | --- |
| `pm25` | `ug/m3` | PM2.5, PM25, PM2p5, PM2,5, fine particulate matter; EEA pollutant 6001 | µg/m³, ug/m3, ug.m-3 (1) |
| `pm10` | `ug/m3` | PM10, particulate matter < 10 µm (aerosol); EEA pollutant 5 | as for pm25 |
| `no2` | `ug/m3` | NO2, nitrogen dioxide, nitrogen dioxide (air); EEA pollutant 8 | as for pm25 |
| `noise` | `dBA` | noise, noise level, LAeq, ambient noise, sound pressure level | dB(A), dBA, dB[A] (2) |

(1) or the name "microgram(s) per cubic metre/meter"; (2) or "decibel A-weighted", "A-weighted decibel". EEA
pollutant N is the definition URI http://dd.eionet.europa.eu/vocabulary/aq/pollutant/N. `PARAMETERS` below is the
table as code.

A city adds names with `property_aliases` (name -> parameter) and skips properties it does not use with
`ignore_properties` (names). Any other property, or a unit other than the parameter's, is an error that names
the Datastream and what was expected: readings are never landed in a unit the pipeline does not expect.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from sources import NotDeliveredYet
from sources.http import FetchError, HttpClient, origin, with_params

PAGE_SIZE = 1000
MAX_PAGES = 10_000
PARAMETER_ORDER = ("pm25", "pm10", "no2", "noise")
EEA_POLLUTANT = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
GEOJSON_ENCODINGS = ("application/geo+json", "application/vnd.geo+json")


@dataclass(frozen=True)
class Parameter:
    """One of our sensor parameters and the names and units a SensorThings service may use for it."""

    id: str
    unit: str
    names: tuple[str, ...]
    definitions: tuple[str, ...]
    units: tuple[str, ...]


MASS_CONCENTRATION = ("ug/m3", "µg/m³", "ug.m-3", "microgram per cubic metre", "microgram per cubic meter",
                      "micrograms per cubic metre", "micrograms per cubic meter")
PARAMETERS = {
    p.id: p
    for p in (
        Parameter("pm25", "ug/m3",
                  ("PM2.5", "PM25", "PM2p5", "PM2,5", "particulate matter < 2.5 µm (aerosol)",
                   "particulate matter < 2.5 µm", "fine particulate matter"),
                  (f"{EEA_POLLUTANT}6001",), MASS_CONCENTRATION),
        Parameter("pm10", "ug/m3", ("PM10", "particulate matter < 10 µm (aerosol)", "particulate matter < 10 µm"),
                  (f"{EEA_POLLUTANT}5",), MASS_CONCENTRATION),
        Parameter("no2", "ug/m3", ("NO2", "nitrogen dioxide", "nitrogen dioxide (air)"),
                  (f"{EEA_POLLUTANT}8",), MASS_CONCENTRATION),
        Parameter("noise", "dBA", ("noise", "noise level", "LAeq", "ambient noise", "sound pressure level"),
                  (), ("dB(A)", "dBA", "dB[A]", "decibel A-weighted", "A-weighted decibel", "decibel (A-weighted)")),
    )
}


class SensorThingsError(FetchError):
    """A SensorThings answer we cannot land: unknown property or unit, missing field, out-of-interval time."""


class NoObservations(NotDeliveredYet):
    """No datastream has an observation in the interval."""


def _name_key(text: str) -> str:
    """A property name compared loosely: NFKC (PM₂.₅ -> pm2.5), lower case, no spaces, `_`, `-` or brackets."""
    return re.sub(r"[\s_\-()\[\]]", "", unicodedata.normalize("NFKC", text).lower())


def _unit_key(text: str) -> str:
    """A unit compared loosely: NFKC (µ/μ -> u, ³ -> 3), lower case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("μ", "u")
    return re.sub(r"[^a-z0-9]", "", folded)


@dataclass(frozen=True)
class Stream:
    """A Datastream mapped to one of our parameters."""

    id: Any
    name: str
    url: str
    thing_id: Any
    parameter: str


def parameter_of(
    datastream: Mapping[str, Any], *, url: str, aliases: Mapping[str, str] | None = None,
    ignore: Collection[str] = (),
) -> str | None:
    """Our parameter for a Datastream (None when its property is ignored); an unknown property or unit raises."""
    prop = datastream.get("ObservedProperty")
    if not isinstance(prop, Mapping):
        raise SensorThingsError(url, f"{_describe(datastream)} has no ObservedProperty; expected it expanded "
                                "($expand=ObservedProperty)")
    name, definition = str(prop.get("name", "")), str(prop.get("definition", ""))
    if _name_key(name) in {_name_key(n) for n in ignore}:
        return None
    parameter = _match_property(name, definition, aliases or {})
    if parameter is None:
        known = "; ".join(f"{p.id}: {', '.join(p.names[:3])}" for p in PARAMETERS.values())
        raise SensorThingsError(
            url, f"{_describe(datastream)} observes {name!r} (definition {definition or 'none'!r}), which is not "
            f"one of our parameters. Expected one of — {known}. Map it with sensors.portal.property_aliases or "
            "skip it with sensors.portal.ignore_properties in the city config.")
    _check_unit(datastream, PARAMETERS[parameter], url)
    return parameter


def _match_property(name: str, definition: str, aliases: Mapping[str, str]) -> str | None:
    """The parameter a property name or definition stands for, aliases first."""
    key = _name_key(name)
    for alias, parameter in aliases.items():
        if _name_key(alias) == key:
            if parameter not in PARAMETERS:
                raise ValueError(f"property_aliases maps {alias!r} to {parameter!r}; expected one of "
                                 f"{', '.join(PARAMETERS)}")
            return parameter
    for parameter in PARAMETERS.values():
        if key in {_name_key(n) for n in parameter.names} or (definition and definition in parameter.definitions):
            return parameter.id
    return None


def _check_unit(datastream: Mapping[str, Any], parameter: Parameter, url: str) -> None:
    """The Datastream's unitOfMeasurement must be the parameter's unit, by symbol or by name."""
    unit = datastream.get("unitOfMeasurement") or {}
    accepted = {_unit_key(u) for u in parameter.units}
    spellings = [str(unit.get(k)) for k in ("symbol", "name") if unit.get(k)]
    if not any(_unit_key(s) in accepted for s in spellings):
        raise SensorThingsError(
            url, f"{_describe(datastream)} measures {parameter.id} in {unit.get('symbol')!r} "
            f"({unit.get('name')!r}); expected {parameter.unit} (any of: {', '.join(parameter.units)}). "
            "Readings are not converted: ask the publisher, or leave this Datastream out with ignore_properties.")


def _describe(datastream: Mapping[str, Any]) -> str:
    """`Datastream 12 'MCA-01 pm25' (selfLink)` for error messages."""
    link = datastream.get("@iot.selfLink")
    return f"Datastream {datastream.get('@iot.id')} {datastream.get('name', '')!r}" + (f" ({link})" if link else "")


def read_collection(
    base_url: str, path: str, params: Mapping[str, Any], *, client: HttpClient, max_pages: int = MAX_PAGES,
) -> list[dict[str, Any]]:
    """Every entity of a collection, following `@iot.nextLink` page after page on the service's own origin."""
    url: str | None = with_params(f"{base_url.rstrip('/')}/{path}", params)
    seen: set[str] = set()
    entities: list[dict[str, Any]] = []
    while url:
        if url in seen or len(seen) >= max_pages:
            raise SensorThingsError(url, f"paging does not end ({len(seen)} pages read, a nextLink repeats or "
                                    f"the {max_pages}-page limit was reached)")
        if origin(url) != origin(base_url):
            raise SensorThingsError(url, f"an @iot.nextLink leaves the service ({origin(base_url)}); refusing "
                                    "to follow it (credentials and data must stay with the configured service)")
        seen.add(url)
        page = client.get_json(url)
        if not isinstance(page, dict) or not isinstance(page.get("value"), list):
            raise SensorThingsError(url, "expected a collection {\"value\": [...]}; check that the base URL is the "
                                    "service root with its version, e.g. https://host/FROST-Server/v1.1")
        entities.extend(page["value"])
        link = page.get("@iot.nextLink")
        url = urljoin(url, link) if link else None
    return entities


def read_streams(
    base_url: str, *, client: HttpClient, aliases: Mapping[str, str] | None = None, ignore: Collection[str] = (),
    page_size: int = PAGE_SIZE,
) -> list[Stream]:
    """Every Datastream mapped to our parameters (ignored properties left out); all mapping errors at once."""
    url = f"{base_url.rstrip('/')}/Datastreams"
    raw = read_collection(base_url, "Datastreams", {"$expand": "Thing,ObservedProperty", "$top": page_size},
                          client=client)
    streams, problems = [], []
    for datastream in raw:
        try:
            parameter = parameter_of(datastream, url=url, aliases=aliases, ignore=ignore)
        except SensorThingsError as exc:
            problems.append(str(exc).removeprefix(f"{url}: "))
            continue
        if parameter is None:
            continue
        thing = datastream.get("Thing")
        if not isinstance(thing, Mapping) or "@iot.id" not in thing:
            raise SensorThingsError(url, f"{_describe(datastream)} has no Thing; expected it expanded ($expand=Thing)")
        streams.append(Stream(datastream["@iot.id"], str(datastream.get("name", "")),
                              str(datastream.get("@iot.selfLink", "")), thing["@iot.id"], parameter))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise SensorThingsError(url, " | ".join(problems[:5]) + more)
    if not streams:
        raise SensorThingsError(url, f"none of the {len(raw)} Datastream(s) observes one of our parameters "
                                f"({', '.join(PARAMETERS)}); check the base URL and ignore_properties")
    return streams


def station_features(
    things: Iterable[Mapping[str, Any]], streams: Iterable[Stream], *, base_url: str,
    id_property: str | None = "sensor_id",
) -> list[dict[str, Any]]:
    """Our stations (GeoJSON Point features with sensor_id, name, parameters) for the Things that have streams."""
    parameters: dict[Any, set[str]] = {}
    for stream in streams:
        parameters.setdefault(stream.thing_id, set()).add(stream.parameter)
    features = []
    for thing in things:
        if thing.get("@iot.id") not in parameters:
            continue
        features.append({
            "type": "Feature",
            "properties": {
                "sensor_id": sensor_id_of(thing, id_property, base_url=base_url),
                "name": str(thing.get("name", "")),
                "parameters": [p for p in PARAMETER_ORDER if p in parameters[thing["@iot.id"]]],
            },
            "geometry": {"type": "Point", "coordinates": _point_of(thing, base_url)},
        })
    ids = [f["properties"]["sensor_id"] for f in features]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SensorThingsError(f"{base_url.rstrip('/')}/Things", f"several Things have the sensor id(s) "
                                f"{', '.join(repeated)} (properties.{id_property}); expected one Thing per sensor")
    return sorted(features, key=lambda f: f["properties"]["sensor_id"])


def sensor_id_of(thing: Mapping[str, Any], id_property: str | None, *, base_url: str) -> str:
    """Our sensor_id for a Thing: `properties[id_property]`, or the Thing's @iot.id when id_property is None."""
    if id_property is None:
        return str(thing["@iot.id"])
    value = (thing.get("properties") or {}).get(id_property)
    if value in (None, ""):
        raise SensorThingsError(f"{base_url.rstrip('/')}/Things({thing.get('@iot.id')})",
                                f"Thing {thing.get('name')!r} has no properties.{id_property}; expected our sensor "
                                "id there. Set sensors.portal.sensor_id_property (or null to use @iot.id).")
    return str(value)


def _point_of(thing: Mapping[str, Any], base_url: str) -> list[float]:
    """[lon, lat] of the Thing's first GeoJSON Point Location (a Feature's geometry counts too)."""
    for location in thing.get("Locations") or []:
        if location.get("encodingType") not in GEOJSON_ENCODINGS:
            continue
        geometry = location.get("location") or {}
        if geometry.get("type") == "Feature":
            geometry = geometry.get("geometry") or {}
        coordinates = geometry.get("coordinates")
        if geometry.get("type") == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
            return [float(coordinates[0]), float(coordinates[1])]
    raise SensorThingsError(f"{base_url.rstrip('/')}/Things({thing.get('@iot.id')})/Locations",
                            f"Thing {thing.get('name')!r} has no Location with a GeoJSON Point; expected one "
                            f"(encodingType {' or '.join(GEOJSON_ENCODINGS)}), e.g. with $expand=Locations")


def read_observations(
    base_url: str, stream: Stream, start: datetime, end: datetime, *, client: HttpClient, sensor_id: str,
    page_size: int = PAGE_SIZE,
) -> list[dict[str, Any]]:
    """The stream's observations in [start, end) as our reading records."""
    path = f"Datastreams({_id_literal(stream.id)})/Observations"
    params = {
        "$filter": f"phenomenonTime ge {format_instant(start)} and phenomenonTime lt {format_instant(end)}",
        "$orderby": "phenomenonTime asc",
        "$select": "phenomenonTime,result",
        "$top": page_size,
    }
    url = f"{base_url.rstrip('/')}/{path}"
    readings = []
    for observation in read_collection(base_url, path, params, client=client):
        observed = _instant(observation.get("phenomenonTime"), url)
        if not start <= observed < end:
            raise SensorThingsError(
                url, f"the server returned an observation at {format_instant(observed)}, outside the interval "
                f"[{format_instant(start)}, {format_instant(end)}) it was asked for: it did not apply the "
                "$filter on phenomenonTime. Nothing was landed.")
        readings.append({
            "sensor_id": sensor_id, "parameter": stream.parameter, "unit": PARAMETERS[stream.parameter].unit,
            "observed_at": format_instant(observed), "value": _number(observation.get("result"), url, stream),
        })
    return readings


def _id_literal(entity_id: Any) -> str:
    """An @iot.id as it goes in a URL: numbers as they are, strings quoted OData-style."""
    if isinstance(entity_id, int) and not isinstance(entity_id, bool):
        return str(entity_id)
    return "'" + str(entity_id).replace("'", "''") + "'"


def _instant(value: Any, url: str) -> datetime:
    """A phenomenonTime as an aware UTC datetime (an interval `a/b` counts at `a`)."""
    text = str(value or "").split("/")[0]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SensorThingsError(url, f"phenomenonTime {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SensorThingsError(url, f"phenomenonTime {value!r} has no UTC offset; expected e.g. "
                                "2024-06-01T04:00:00Z")
    return moment.astimezone(UTC)


def _number(value: Any, url: str, stream: Stream) -> float | None:
    """An observation's result as a number or null; anything else names the Datastream."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise SensorThingsError(url, f"Datastream {stream.id} {stream.name!r} has a result {value!r}; expected a "
                            "number or null")


def format_instant(moment: datetime) -> str:
    """`2024-06-01T04:00:00Z`: UTC, seconds, a Z (fractions only when there are any)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else "") + "Z"


def as_utc(value: datetime | date | str) -> datetime:
    """An interval bound as an aware UTC datetime; `YYYY-MM-DD` means midnight UTC; naive datetimes are refused."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        raise ValueError(f"interval bound {value.isoformat()} has no time zone; give an aware datetime (UTC)")
    moment = value.astimezone(UTC)
    # Airflow hands over pendulum datetimes, whose arithmetic and equality differ from the standard library's.
    return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                    moment.microsecond, tzinfo=UTC)


def interval_name(start: datetime, end: datetime) -> str:
    """`2024-06` for a UTC calendar month, `2024-06-02` for a UTC day; other intervals are refused."""
    midnight = start == start.replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight and start.day == 1:
        days = calendar.monthrange(start.year, start.month)[1]
        if end == start + timedelta(days=days):
            return start.strftime("%Y-%m")
    if midnight and end == start + timedelta(days=1):
        return start.strftime("%Y-%m-%d")
    raise ValueError(f"the interval [{format_instant(start)}, {format_instant(end)}) is neither a UTC day nor a "
                     "UTC month; readings land per day or per month")


def _json_line(item: Any) -> str:
    """One compact JSON item with sorted keys, as the sample city's files have them."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _write_lines(path: Path, head: str, items: list[Any], tail: str) -> Path:
    """A JSON document with one item per line, written through a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")  # concurrent runs write the same stations file
    body = ",\n".join(_json_line(item) for item in items)
    partial.write_text(f"{head}\n{body}\n{tail}\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def write_stations(path: Path, features: list[dict[str, Any]]) -> Path:
    """`sensors/stations.geojson`: a FeatureCollection, one feature per line."""
    return _write_lines(path, '{"features":[', features, '],"type":"FeatureCollection"}')


def write_readings(path: Path, readings: list[dict[str, Any]]) -> Path:
    """`sensors/readings_<interval>.json`: a JSON array, one reading per line."""
    return _write_lines(path, "[", readings, "]")


def fetch_sensor_interval(
    base_url: str,
    start: datetime | date | str,
    end: datetime | date | str,
    landing_dir: Path,
    *,
    client: HttpClient | None = None,
    id_property: str | None = "sensor_id",
    aliases: Mapping[str, str] | None = None,
    ignore: Collection[str] = (),
    page_size: int = PAGE_SIZE,
) -> Path:
    """Land [start, end) (a UTC day or month) as `sensors/readings_<interval>.json` plus `sensors/stations.geojson`.

    Returns the readings file. Readings are sorted by sensor_id, parameter and observed_at, so the same service
    content always lands as the same bytes.
    """
    start, end = as_utc(start), as_utc(end)
    name = interval_name(start, end)
    client = client or HttpClient()
    things = read_collection(base_url, "Things", {"$expand": "Locations", "$top": page_size}, client=client)
    streams = read_streams(base_url, client=client, aliases=aliases, ignore=ignore, page_size=page_size)
    stations = station_features(things, streams, base_url=base_url, id_property=id_property)
    sensor_ids = {t["@iot.id"]: sensor_id_of(t, id_property, base_url=base_url) for t in things
                  if any(s.thing_id == t.get("@iot.id") for s in streams)}
    readings = []
    for stream in streams:
        readings += read_observations(base_url, stream, start, end, client=client,
                                      sensor_id=sensor_ids[stream.thing_id], page_size=page_size)
    if not readings:
        raise NoObservations(f"{base_url}: no observation in [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC "
                             f"from any of {len(streams)} datastream(s): the interval has not been delivered yet")
    readings.sort(key=lambda r: (r["sensor_id"], r["parameter"], r["observed_at"]))
    sensors = Path(landing_dir) / "sensors"
    write_stations(sensors / "stations.geojson", stations)
    return write_readings(sensors / f"readings_{name}.json", readings)


def fetch_sensors(city, start: datetime | date | str, end: datetime | date | str) -> Path:
    """Land `city`'s readings for [start, end) from the SensorThings service its config names (sensors.portal)."""
    from bienestar import settings
    from sources.connections import endpoint

    portal = city.section("sensors").get("portal")
    if not isinstance(portal, Mapping) or not portal.get("conn_id"):
        raise ValueError(f"{city.folder / 'city.yaml'}: sensors.portal.conn_id is missing; add e.g. "
                         "`portal: {kind: sensorthings, conn_id: <city>_sensorthings}` under sensors")
    source = endpoint(portal["conn_id"])
    return fetch_sensor_interval(
        source.base_url, start, end, settings.paths().landing_for(city.name), client=source.client(),
        id_property=portal.get("sensor_id_property", "sensor_id"), aliases=portal.get("property_aliases"),
        ignore=portal.get("ignore_properties") or (),
    )
