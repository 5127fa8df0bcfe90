"""Round trip: the sample city served as CKAN + SensorThings by its portal, landed back by the real connectors."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cities import load_city
from cities.la_paz_demo.generate import generate
from cities.la_paz_demo.portal import STA_PATH, make_server, serve_portal
from sources import ckan
from sources import sensorthings as sta
from sources.http import FetchError, HttpClient

CLIENT = HttpClient(timeout=5, attempts=2, backoff=0.01)
FAMILIES = ("health_visits", "school_enrolments", "water_outages", "waste_complaints", "police_reports")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """A small sample city (one month, 2024-06), as the generator writes it."""
    folder = tmp_path_factory.mktemp("la_paz_demo")
    generate(folder, scale=0.05)
    return folder


@pytest.fixture(scope="module")
def portal(city) -> str:
    with serve_portal(city) as base_url:
        yield base_url


def test_the_portal_listens_on_loopback_only(portal):
    assert portal.startswith("http://127.0.0.1:")
    assert ckan.call_action(portal, "package_list", {}, client=CLIENT) == sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_month_of_services_lands_as_the_source_file(portal, city, tmp_path, family):
    # page_size 50 makes health_visits (230 rows at this scale) take five pages
    path = ckan.fetch_service_month(portal, family, "2024-06", tmp_path, client=CLIENT, page_size=50)
    assert path.read_bytes() == (city / "services" / f"{family}_2024-06.csv").read_bytes()


def test_a_month_of_services_lands_the_same_by_download(portal, city, tmp_path):
    path = ckan.fetch_service_month(portal, "water_outages", "2024-06", tmp_path, client=CLIENT, via="download")
    assert path.read_bytes() == (city / "services" / "water_outages_2024-06.csv").read_bytes()


def test_a_day_of_sensors_lands_that_days_source_rows(portal, city, tmp_path):
    path = sta.fetch_sensor_interval(portal + STA_PATH, "2024-06-02", "2024-06-03", tmp_path, client=CLIENT)
    source = json.loads((city / "sensors" / "readings_2024-06.json").read_text(encoding="utf-8"))
    day = [r for r in source if r["observed_at"].startswith("2024-06-02T")]
    landed = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "readings_2024-06-02.json"
    assert landed == day
    assert {r["observed_at"] for r in landed} >= {"2024-06-02T00:00:00Z", "2024-06-02T23:00:00Z"}  # both ends
    assert (tmp_path / "sensors" / "stations.geojson").read_bytes() == \
        (city / "sensors" / "stations.geojson").read_bytes()


def test_a_month_of_sensors_lands_as_the_source_file(portal, city, tmp_path):
    # page_size 250 makes each Datastream's 720 hourly readings take three pages of @iot.nextLink
    path = sta.fetch_sensor_interval(portal + STA_PATH, "2024-06-01", "2024-07-01", tmp_path, client=CLIENT,
                                     page_size=250)
    assert path.read_bytes() == (city / "sensors" / "readings_2024-06.json").read_bytes()
    assert (tmp_path / "sensors" / "stations.geojson").read_bytes() == \
        (city / "sensors" / "stations.geojson").read_bytes()


def test_an_interval_with_no_readings_is_not_delivered_yet(portal, tmp_path):
    """A day the network has not reported (yet): the run is skipped, not failed; nothing is landed."""
    with pytest.raises(sta.NoObservations, match=r"no observation in \[2024-07-01 00:00, 2024-07-02 00:00\) UTC "
                       r"from any of \d+ datastream\(s\): the interval has not been delivered yet"):
        sta.fetch_sensor_interval(portal + STA_PATH, "2024-07-01", "2024-07-02", tmp_path, client=CLIENT)
    assert not (tmp_path / "sensors" / "readings_2024-07-01.json").exists()


def test_portal_errors_look_like_the_real_apis(portal):
    with pytest.raises(FetchError, match=r"HTTP 404 Not Found \(Not Found Error: Not found\)"):
        ckan.package_show(portal, "parking_tickets", client=CLIENT)
    with pytest.raises(FetchError, match=r"HTTP 409 Conflict \(Validation Error: .*Missing value"):
        ckan.call_action(portal, "datastore_search", {}, client=CLIENT)
    with pytest.raises(FetchError, match=r"HTTP 400 Bad Request \(Unsupported \$filter term 'result gt 5'"):
        CLIENT.get_json(f"{portal}{STA_PATH}/Observations", {"$filter": "result gt 5"})
    page = CLIENT.get_json(f"{portal}{STA_PATH}/Things", {"$top": 5, "$count": "true", "$expand": "Locations"})
    assert page["@iot.count"] == 16 and len(page["value"]) == 5
    assert page["@iot.nextLink"].startswith(f"{portal}{STA_PATH}/Things?") and "$skip=5" in page["@iot.nextLink"]
    assert page["value"][0]["Locations"][0]["encodingType"] == "application/geo+json"


def test_the_portal_needs_the_generators_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no services/ or sensors/ folder"):
        make_server(tmp_path, 0)


def test_the_city_entry_points_read_the_connection_and_land_under_bienestar_home(portal, city, tmp_path,
                                                                                monkeypatch):
    # What the DAG tasks call: the city config names the connections, the environment holds the URLs.
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    monkeypatch.setenv("BIENESTAR_CONN_LA_PAZ_DEMO_CKAN_URL", portal)
    monkeypatch.setenv("BIENESTAR_CONN_LA_PAZ_DEMO_SENSORTHINGS_URL", portal + STA_PATH)
    base = load_city("la_paz_demo")
    config = copy.deepcopy(base.config)
    config["services"]["portal"] = {"kind": "ckan", "conn_id": "la_paz_demo_ckan"}
    config["sensors"]["portal"] = {"kind": "sensorthings", "conn_id": "la_paz_demo_sensorthings"}
    configured = dataclasses.replace(base, config=config)
    landed = ckan.fetch_services(configured, "2024-06")
    readings = sta.fetch_sensors(configured, datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
    landing = tmp_path / "landing" / "la_paz_demo"
    assert sorted(landed) == sorted(FAMILIES)
    for family, path in landed.items():
        assert path == landing / "services" / f"{family}_2024-06.csv"
        assert path.read_bytes() == (city / "services" / f"{family}_2024-06.csv").read_bytes()
    assert readings.read_bytes() == (city / "sensors" / "readings_2024-06.json").read_bytes()
    without = copy.deepcopy(base.config)
    del without["services"]["portal"]
    with pytest.raises(ValueError, match="services.portal.conn_id is missing"):
        ckan.fetch_services(dataclasses.replace(base, config=without), "2024-06")


def test_a_stream_whose_readings_change_unit_says_so(tmp_path):
    """When the network reports a parameter in another unit, the Datastream's unitOfMeasurement shows it, and the
    connector refuses it rather than landing numbers a thousand times too small."""
    import json
    import shutil

    from cities.la_paz_demo.generate import generate
    from cities.la_paz_demo.portal import serve_portal

    folder = tmp_path / "city"
    generate(folder, scale=0.05)
    path = folder / "sensors" / "readings_2024-06.json"
    readings = json.loads(path.read_text())
    for reading in readings:
        if reading["parameter"] == "pm10":
            reading["unit"] = "mg/m3"
    path.write_text(json.dumps(readings))
    shutil.rmtree(folder / "services")
    with serve_portal(folder) as base, pytest.raises(Exception, match="mg/m3"):
        sta.fetch_sensor_interval(base + STA_PATH, "2024-06-01", "2024-06-02", tmp_path / "landing")
