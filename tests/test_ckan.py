"""The CKAN connector against a real HTTP server replaying recorded Action API answers."""

from __future__ import annotations

import json

import pytest
from http_server import FIXTURES, Reply, ScriptedServer, fixture, json_reply

from sources import NotDeliveredYet, ckan
from sources.http import FetchError, HttpClient

CLIENT = HttpClient(timeout=1, attempts=2, backoff=0.01)
ACTION = "/api/3/action"
RESOURCE_ID = "e41a9c07-6d2b-4b8e-a3f5-7c91d0e2b468"  # health_visits_2024-06 in the recorded portal
DOWNLOAD = (f"/dataset/8f1c2a64-3b7e-4d0a-9c55-2e6f1d9a7b10/resource/{RESOURCE_ID}/download/"
            "health_visits_2024-06.csv")
LANDED = (FIXTURES / "ckan/landed_health_visits_2024-06.csv").read_bytes()


def recorded_portal() -> ScriptedServer:
    """The recorded health_visits dataset: package, resource, three datastore pages and the file."""
    server = ScriptedServer()
    server.route(f"{ACTION}/package_show", fixture("ckan/package_show_health_visits.json"),
                 query={"id": "health_visits"})
    server.route(f"{ACTION}/package_show", fixture("ckan/package_show_not_found.json", status=404))
    server.route(f"{ACTION}/resource_show", fixture("ckan/resource_show_2024-06.json"))
    for offset in (0, 2, 4):
        server.route(f"{ACTION}/datastore_search", fixture(f"ckan/datastore_search_offset_{offset}.json"),
                     query={"offset": str(offset)})
    server.route(DOWNLOAD, fixture("ckan/health_visits_2024-06.csv", content_type="text/csv"))
    return server


def test_package_show_and_resource_show():
    with recorded_portal() as server:
        package = ckan.package_show(server.base_url, "health_visits", client=CLIENT)
        resource = ckan.resource_show(server.base_url, RESOURCE_ID, client=CLIENT)
    assert package["name"] == "health_visits"
    assert [r["name"] for r in package["resources"]] == ["health_visits_2024-05", "health_visits_2024-06"]
    assert resource["datastore_active"] is True
    assert resource["url"] == f"{server.base_url}{DOWNLOAD}"  # the recorded host is this server's


def test_datastore_search_reads_three_pages_until_total():
    with recorded_portal() as server:
        fields, records = ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT)
        asked = server.seen(f"{ACTION}/datastore_search")
    assert [r["_id"] for r in records] == [1, 2, 3, 4, 5]
    assert [f["id"] for f in fields] == ["_id", "record_id", "occurred_at", "lon", "lat", "category"]
    assert [r.query for r in asked] == [
        {"resource_id": RESOURCE_ID, "limit": "2", "offset": str(offset), "sort": "_id"} for offset in (0, 2, 4)
    ]


@pytest.mark.parametrize("via", ["datastore", "download"])
def test_fetch_service_month_lands_our_csv(tmp_path, via):
    with recorded_portal() as server:
        path = ckan.fetch_service_month(server.base_url, "health_visits", "2024-06", tmp_path, client=CLIENT,
                                        via=via, page_size=2)
        again = ckan.fetch_service_month(server.base_url, "health_visits", "2024-06", tmp_path / "again",
                                         client=CLIENT, via=via, page_size=2)
    assert path == tmp_path / "services" / "health_visits_2024-06.csv"
    # Both routes (rows as text from the DataStore; an Excel-exported file with a BOM, CRLF, other column
    # order and an extra column) land the same bytes, and landing twice gives the same bytes.
    assert path.read_bytes() == LANDED
    assert again.read_bytes() == LANDED
    assert sorted(p.name for p in path.parent.iterdir()) == ["health_visits_2024-06.csv"]  # no temporary files


def test_download_resource_writes_the_file(tmp_path):
    with recorded_portal() as server:
        resource = ckan.resource_show(server.base_url, RESOURCE_ID, client=CLIENT)
        path = ckan.download_resource(server.base_url, resource, tmp_path / "month.csv", client=CLIENT)
    assert path.read_bytes() == (FIXTURES / "ckan/health_visits_2024-06.csv").read_bytes()


def test_month_not_in_the_datastore_says_to_download(tmp_path):
    with recorded_portal() as server, pytest.raises(ckan.CkanError, match="datastore_active is false.*via: download"):
        ckan.fetch_service_month(server.base_url, "health_visits", "2024-05", tmp_path, client=CLIENT)


def test_unpublished_month_lists_the_resources_there_are(tmp_path):
    with recorded_portal() as server, pytest.raises(ckan.CkanError) as raised:
        ckan.fetch_service_month(server.base_url, "health_visits", "2024-07", tmp_path, client=CLIENT)
    assert "no resource named 'health_visits_2024-07'" in str(raised.value)
    assert "health_visits_2024-05, health_visits_2024-06" in str(raised.value)
    assert not (tmp_path / "services").exists()
    assert isinstance(raised.value, NotDeliveredYet)  # the run is skipped until the month is published


def test_two_resources_of_one_name_are_an_error_not_a_wait():
    package = {"name": "health_visits", "resources": [{"name": "health_visits_2024-06"}] * 2}
    with pytest.raises(ckan.CkanError, match="has 2 resources named") as raised:
        ckan.find_resource(package, "health_visits_2024-06")
    assert not isinstance(raised.value, NotDeliveredYet)


def test_unknown_dataset_is_a_404_naming_the_url(tmp_path):
    with recorded_portal() as server:
        with pytest.raises(FetchError) as raised:
            ckan.fetch_service_month(server.base_url, "water_outages", "2024-06", tmp_path, client=CLIENT)
        assert len(server.seen(f"{ACTION}/package_show")) == 1  # a 404 is not retried
    assert raised.value.status == 404
    assert f"{server.base_url}{ACTION}/package_show?id=water_outages" in str(raised.value)
    assert "Not Found Error: Not found" in str(raised.value)


def _page(offset: int, total: int) -> Reply:
    """A recorded page with its total changed, as if rows were added while paging."""
    payload = json.loads((FIXTURES / f"ckan/datastore_search_offset_{offset}.json").read_text())
    payload["result"]["total"] = total
    return json_reply(payload)


def test_rows_added_while_paging_fail_clearly():
    with ScriptedServer() as server:
        server.route(f"{ACTION}/datastore_search", _page(0, 5), query={"offset": "0"})
        server.route(f"{ACTION}/datastore_search", _page(2, 6), query={"offset": "2"})
        with pytest.raises(ckan.CkanError, match=r"changed while it was being read \(total went from 5 to 6\)"):
            ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT)


def test_a_portal_ignoring_offset_is_caught():
    with ScriptedServer() as server:
        server.route(f"{ACTION}/datastore_search", _page(0, 4))  # the first page, whatever the offset
        with pytest.raises(ckan.CkanError, match="repeats rows already read"):
            ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT)


def test_a_base_url_that_is_not_ckan_is_named():
    with ScriptedServer() as server:
        server.route(f"{ACTION}/package_show", json_reply({"value": []}))
        with pytest.raises(ckan.CkanError, match=r"expected the Action API's envelope .* portal's root"):
            ckan.package_show(server.base_url, "health_visits", client=CLIENT)


def test_a_portal_capping_the_limit_is_still_read_completely():
    # The recorded portal answers limit=2 whatever is asked, as CKAN does above ckan.datastore.search.rows_max.
    with recorded_portal() as server:
        _, records = ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=1000, client=CLIENT)
        assert [r.query["offset"] for r in server.seen(f"{ACTION}/datastore_search")] == ["0", "2", "4"]
    assert len(records) == 5


def _rows_without_id(total: int, estimated: bool = False) -> Reply:
    """A page of two rows with no `_id`, the same whatever the offset (a portal ignoring offset)."""
    payload = json.loads((FIXTURES / "ckan/datastore_search_offset_0.json").read_text())
    for row in payload["result"]["records"]:
        row.pop("_id", None)
    payload["result"].update(total=total, total_was_estimated=estimated)
    return json_reply(payload)


@pytest.mark.parametrize("estimated", [False, True])
def test_paging_ends_when_pages_repeat_without_ids(estimated):
    """Pages without `_id`, a huge (or estimated) total and a portal ignoring offset: once looped forever."""
    with ScriptedServer() as server:
        server.route(f"{ACTION}/datastore_search", _rows_without_id(10_000_000, estimated))
        with pytest.raises(ckan.CkanError, match="the page at offset 2 repeats the previous page"):
            ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT)
        assert len(server.seen(f"{ACTION}/datastore_search")) == 2


def test_paging_stops_at_max_rows():
    with recorded_portal() as server:
        with pytest.raises(ckan.CkanError, match=r"more than 4 rows \(max_rows\)"):
            ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT, max_rows=4)
        # at the cap exactly, the same resource reads (5 rows with max_rows=5)
        _, records = ckan.datastore_search_all(server.base_url, RESOURCE_ID, page_size=2, client=CLIENT,
                                               max_rows=5)
    assert len(records) == 5


@pytest.mark.parametrize("payload", [{"success": True, "result": None}, {"success": True}])
def test_a_result_that_is_null_or_missing_is_named(payload):
    with ScriptedServer() as server:
        server.route(f"{ACTION}/package_show", json_reply(payload))
        with pytest.raises(ckan.CkanError, match=r"no \"result\" \(missing or null\)"):
            ckan.package_show(server.base_url, "health_visits", client=CLIENT)
