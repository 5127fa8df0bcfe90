"""The SensorThings connector against a real HTTP server replaying recorded FROST-Server (v1.1) answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from http_server import FIXTURES, ScriptedServer, fixture, json_reply

from sources import sensorthings as sta
from sources.http import FetchError, HttpClient

CLIENT = HttpClient(timeout=1, attempts=2, backoff=0.01)
ROOT = "/FROST-Server/v1.1"
DAY = (datetime(2024, 6, 2, tzinfo=UTC), datetime(2024, 6, 3, tzinfo=UTC))
DAY_FILTER = "phenomenonTime ge 2024-06-02T00:00:00Z and phenomenonTime lt 2024-06-03T00:00:00Z"


def recorded_service(datastreams: str = "datastreams.json") -> ScriptedServer:
    """Two stations; MCA-01 with PM2.5 (3 pages of observations) and PM10, MCA-02 with noise and temperature."""
    server = ScriptedServer()
    server.route(f"{ROOT}/Things", fixture("sensorthings/things.json"))
    server.route(f"{ROOT}/Datastreams", fixture(f"sensorthings/{datastreams}"))
    observations = f"{ROOT}/Datastreams(1)/Observations"
    server.route(observations, fixture("sensorthings/observations_ds1_page2.json"), query={"$skip": "2"})
    server.route(observations, fixture("sensorthings/observations_ds1_page3.json"), query={"$skip": "4"})
    server.route(observations, fixture("sensorthings/observations_ds1_page1.json"))
    server.route(f"{ROOT}/Datastreams(2)/Observations", fixture("sensorthings/observations_ds2.json"))
    server.route(f"{ROOT}/Datastreams(3)/Observations", fixture("sensorthings/observations_ds3.json"))
    return server


def test_observations_follow_next_link_over_three_pages():
    with recorded_service() as server:
        stream = sta.Stream(1, "MCA-01 PM2.5", "", 1, "pm25")
        readings = sta.read_observations(f"{server.base_url}{ROOT}", stream, *DAY, client=CLIENT, sensor_id="MCA-01",
                                         page_size=2)
        asked = server.seen(f"{ROOT}/Datastreams(1)/Observations")
    assert [r["observed_at"] for r in readings] == [
        "2024-06-02T00:00:00Z", "2024-06-02T01:00:00Z", "2024-06-02T02:00:00Z", "2024-06-02T03:00:00Z",
        "2024-06-02T23:00:00Z",
    ]
    assert [r["value"] for r in readings] == [21.4, 19.8, 18.1, None, 35.0]
    assert [r.query.get("$skip") for r in asked] == [None, "2", "4"]
    assert asked[0].query == {"$filter": DAY_FILTER, "$orderby": "phenomenonTime asc",
                              "$select": "phenomenonTime,result", "$top": "2"}
    assert all(r.query["$filter"] == DAY_FILTER for r in asked)  # the nextLinks keep the interval


def test_fetch_sensor_interval_lands_readings_and_stations(tmp_path):
    with recorded_service() as server:
        base = f"{server.base_url}{ROOT}"
        path = sta.fetch_sensor_interval(base, *DAY, tmp_path, client=CLIENT, ignore=["Air temperature"],
                                         page_size=2)
        first = path.read_bytes()
        sta.fetch_sensor_interval(base, *DAY, tmp_path, client=CLIENT, ignore=["Air temperature"], page_size=2)
        assert not server.seen(f"{ROOT}/Datastreams(4)/Observations")  # the ignored property is not read
    assert path == tmp_path / "sensors" / "readings_2024-06-02.json"
    assert path.read_bytes() == first  # same answers, same bytes
    readings = json.loads(first)
    assert readings[:2] == [
        # µg/m³ and ug/m3 both land as ug/m3; "38.5" (text) as a number; an interval counts at its start
        {"sensor_id": "MCA-01", "parameter": "pm10", "unit": "ug/m3", "observed_at": "2024-06-02T00:00:00Z",
         "value": 40.0},
        {"sensor_id": "MCA-01", "parameter": "pm10", "unit": "ug/m3", "observed_at": "2024-06-02T01:00:00Z",
         "value": 38.5},
    ]
    assert [(r["parameter"], r["unit"]) for r in readings[2:]] == [("pm25", "ug/m3")] * 5 + [("noise", "dBA")]
    assert first.startswith(b'[\n{"observed_at":"2024-06-02T00:00:00Z","parameter":"pm10"')
    stations = json.loads((tmp_path / "sensors" / "stations.geojson").read_text(encoding="utf-8"))
    assert [f["properties"] for f in stations["features"]] == [
        {"sensor_id": "MCA-01", "name": "Estación Valle Hermoso", "parameters": ["pm25", "pm10"]},
        {"sensor_id": "MCA-02", "name": "Estación Sopocachi", "parameters": ["noise"]},
    ]
    assert stations["features"][0]["geometry"] == {"type": "Point", "coordinates": [-68.111223, -16.494279]}


def test_an_observation_outside_the_interval_is_refused(tmp_path):
    with ScriptedServer() as server:
        server.route(f"{ROOT}/Things", fixture("sensorthings/things.json"))
        server.route(f"{ROOT}/Datastreams", fixture("sensorthings/datastreams_ozone.json"))
        server.route(f"{ROOT}/Datastreams(1)/Observations", fixture("sensorthings/observations_outside_interval.json"))
        with pytest.raises(sta.SensorThingsError) as raised:
            sta.fetch_sensor_interval(f"{server.base_url}{ROOT}", *DAY, tmp_path, client=CLIENT, ignore=["O3"])
    message = str(raised.value)
    assert message.startswith(f"{server.base_url}{ROOT}/Datastreams(1)/Observations: ")
    assert "observation at 2024-06-03T00:00:00Z, outside the interval [2024-06-02T00:00:00Z, " in message
    assert not (tmp_path / "sensors").exists()  # nothing landed


def test_an_unknown_property_names_the_datastream(tmp_path):
    with recorded_service("datastreams_ozone.json") as server, pytest.raises(sta.SensorThingsError) as raised:
        sta.fetch_sensor_interval(f"{server.base_url}{ROOT}", *DAY, tmp_path, client=CLIENT)
    message = str(raised.value)
    assert f"Datastream 5 'MCA-01 O3' ({server.base_url}{ROOT}/Datastreams(5)) observes 'O3'" in message
    assert "pm25: PM2.5" in message and "noise: noise" in message and "ignore_properties" in message


def test_an_unused_property_must_be_ignored_explicitly(tmp_path):
    with recorded_service() as server, pytest.raises(sta.SensorThingsError, match="Datastream 4 'MCA-02 Air tem"):
        sta.fetch_sensor_interval(f"{server.base_url}{ROOT}", *DAY, tmp_path, client=CLIENT)


def test_an_unexpected_unit_names_the_datastream_and_the_unit_expected(tmp_path):
    with recorded_service("datastreams_mg_per_m3.json") as server, pytest.raises(sta.SensorThingsError) as raised:
        sta.fetch_sensor_interval(f"{server.base_url}{ROOT}", *DAY, tmp_path, client=CLIENT)
    message = str(raised.value)
    assert "Datastream 1 'MCA-01 PM2.5'" in message
    assert "measures pm25 in 'mg/m³' ('milligram per cubic metre'); expected ug/m3" in message


def test_property_aliases_map_local_names():
    datastream = {"@iot.id": 9, "name": "x", "ObservedProperty": {"name": "Material particulado fino"},
                  "unitOfMeasurement": {"symbol": "μg/m3"}}  # Greek mu, not the micro sign
    assert sta.parameter_of(datastream, url="u", aliases={"material particulado fino": "pm25"}) == "pm25"
    with pytest.raises(ValueError, match="maps 'Material particulado fino' to 'pm1'; expected one of pm25"):
        sta.parameter_of(datastream, url="u", aliases={"Material particulado fino": "pm1"})


@pytest.mark.parametrize(("name", "unit", "expected"), [
    ("PM2.5", "µg/m³", "pm25"), ("PM 2.5", "ug/m3", "pm25"), ("pm2_5", "ug.m-3", "pm25"), ("PM₂.₅", "ug/m3", "pm25"),
    ("PM10", "microgram per cubic meter", "pm10"), ("Nitrogen dioxide (air)", "µg/m3", "no2"),
    ("LAeq", "dB(A)", "noise"), ("Noise level", "dBA", "noise"),
])
def test_the_documented_names_and_units_map(name, unit, expected):
    datastream = {"@iot.id": 1, "ObservedProperty": {"name": name}, "unitOfMeasurement": {"symbol": unit}}
    assert sta.parameter_of(datastream, url="u") == expected


def test_pm1_is_not_taken_for_pm10():
    datastream = {"@iot.id": 1, "ObservedProperty": {"name": "PM1.0"}, "unitOfMeasurement": {"symbol": "ug/m3"}}
    with pytest.raises(sta.SensorThingsError, match="observes 'PM1.0'"):
        sta.parameter_of(datastream, url="u")


def test_a_next_link_to_another_host_is_not_followed():
    with ScriptedServer() as server:
        server.route(f"{ROOT}/Things", json_reply({"value": [], "@iot.nextLink": "http://198.51.100.7/v1.1/Things"}))
        with pytest.raises(sta.SensorThingsError, match="leaves the service"):
            sta.read_collection(f"{server.base_url}{ROOT}", "Things", {}, client=CLIENT)
        assert len(server.requests) == 1


def test_a_missing_entity_is_a_404_not_retried():
    with ScriptedServer() as server:
        server.route(f"{ROOT}/Things", fixture("sensorthings/not_found.json", status=404))
        with pytest.raises(FetchError, match=r"HTTP 404 Not Found \(Nothing found.\)"):
            sta.read_collection(f"{server.base_url}{ROOT}", "Things", {}, client=CLIENT)
        assert len(server.requests) == 1


def test_readings_land_per_utc_day_or_month():
    assert sta.interval_name(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)) == "2024-06"
    assert sta.interval_name(datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)) == "2024-02-29"
    with pytest.raises(ValueError, match="neither a UTC day nor a UTC month"):
        sta.interval_name(datetime(2024, 6, 1, 4, tzinfo=UTC), datetime(2024, 6, 2, 4, tzinfo=UTC))
    with pytest.raises(ValueError, match="no time zone"):
        sta.as_utc(datetime(2024, 6, 1))
    assert sta.as_utc("2024-06-01") == datetime(2024, 6, 1, tzinfo=UTC)


def test_two_things_with_one_sensor_id_are_refused(tmp_path):
    things = json.loads((FIXTURES / "sensorthings/things.json").read_text(encoding="utf-8"))
    things["value"][1]["properties"]["sensor_id"] = "MCA-01"
    with recorded_service() as server:
        server.routes[0].replies = [json_reply(things)]
        with pytest.raises(sta.SensorThingsError, match=r"several Things have the sensor id\(s\) MCA-01"):
            sta.fetch_sensor_interval(f"{server.base_url}{ROOT}", *DAY, tmp_path, client=CLIENT,
                                      ignore=["Air temperature"])


def test_a_service_with_none_of_our_parameters_is_named():
    with ScriptedServer() as server:
        server.route(f"{ROOT}/Datastreams", json_reply({"value": []}))
        with pytest.raises(sta.SensorThingsError, match=r"none of the 0 Datastream\(s\) observes one of our"):
            sta.read_streams(f"{server.base_url}{ROOT}", client=CLIENT)


def test_airflow_pendulum_interval_bounds_name_the_month():
    """Airflow passes data intervals as pendulum datetimes: a calendar month must still be recognised."""
    import pendulum

    from sources.sensorthings import as_utc, interval_name

    start, end = pendulum.datetime(2024, 6, 1, tz="UTC"), pendulum.datetime(2024, 7, 1, tz="UTC")
    assert interval_name(as_utc(start), as_utc(end)) == "2024-06"
    assert interval_name(as_utc(start), as_utc(pendulum.datetime(2024, 6, 2, tz="UTC"))) == "2024-06-01"
