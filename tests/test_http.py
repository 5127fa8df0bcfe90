"""The HTTP client and connection settings, against real HTTP servers on 127.0.0.1 with scripted replies."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from http_server import Reply, ScriptedServer, fixture, json_reply

from sources.connections import ConnectionNotConfigured, endpoint, endpoint_from_fields
from sources.http import FetchError, HttpClient, retry_after_seconds

# Short waits everywhere: the behaviour is the same with seconds or hundredths.
FAST = HttpClient(timeout=0.3, attempts=3, backoff=0.01, max_wait=5)


def test_get_json_sends_user_agent_and_accept():
    with ScriptedServer() as server:
        server.route("/ok", json_reply({"value": [1, 2]}))
        assert FAST.get_json(f"{server.base_url}/ok", {"$top": 2}) == {"value": [1, 2]}
        seen = server.seen("/ok")[0]
    assert seen.headers["User-Agent"].startswith("bienestar/")
    assert seen.headers["Accept"] == "application/json"
    assert seen.query == {"$top": "2"}


def test_503_then_success_waits_for_retry_after_seconds():
    with ScriptedServer() as server:
        server.route("/flaky", Reply(503, "busy", {"Retry-After": "1"}), json_reply({"ok": True}))
        assert FAST.get_json(f"{server.base_url}/flaky") == {"ok": True}
        first, second = server.seen("/flaky")
    # backoff alone would wait 0.01 s: a gap of a second is the server's Retry-After being honoured
    assert 1.0 <= second.at - first.at < 2.5


def test_retry_after_as_http_date_is_honoured():
    when = datetime.fromtimestamp(int(time.time()) + 2, UTC)  # HTTP dates have whole seconds: wait is in (1, 2]
    with ScriptedServer() as server:
        server.route("/flaky", Reply(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
                     json_reply({"ok": True}))
        assert FAST.get_json(f"{server.base_url}/flaky") == {"ok": True}
        first, second = server.seen("/flaky")
    assert second.at - first.at >= 1.0


def test_retry_after_longer_than_max_wait_fails_at_once():
    with ScriptedServer() as server:
        server.route("/busy", Reply(429, headers={"Retry-After": "3600"}))
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"retry after 3600 s \(Retry-After\)") as raised:
            FAST.get_json(f"{server.base_url}/busy")
        assert len(server.seen("/busy")) == 1
    assert time.monotonic() - started < 1
    assert raised.value.status == 429 and f"{server.base_url}/busy" in str(raised.value)


def test_backoff_doubles_between_retries():
    client = HttpClient(timeout=1, attempts=4, backoff=0.1)
    with ScriptedServer() as server:
        server.route("/down", Reply(500), Reply(502), Reply(504), json_reply({"ok": True}))
        assert client.get_json(f"{server.base_url}/down") == {"ok": True}
        times = [r.at for r in server.seen("/down")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4


def test_5xx_every_time_gives_a_clear_error_after_the_last_attempt():
    with ScriptedServer() as server:
        server.route("/down", Reply(500, "<html><body>Internal Server Error</body></html>", content_type="text/html"))
        with pytest.raises(FetchError, match=r"HTTP 500 Internal Server Error .*3 attempt\(s\) in all") as raised:
            FAST.get_json(f"{server.base_url}/down")
        assert len(server.seen("/down")) == 3
    assert raised.value.url == f"{server.base_url}/down"


def test_malformed_json_names_the_url_and_is_not_retried():
    with ScriptedServer() as server:
        server.route("/broken", Reply(200, '{"value": [{"phenomenonTime": "2024-06-02T00:00:00Z", '))
        url = f"{server.base_url}/broken"
        with pytest.raises(FetchError, match=r"expected a JSON body, got one that does not parse") as raised:
            FAST.get_json(url)
        assert len(server.seen("/broken")) == 1
    assert str(raised.value).startswith(f"{url}: ")
    assert "application/json" in str(raised.value) and "phenomenonTime" in str(raised.value)


def test_timeout_is_retried_then_succeeds():
    with ScriptedServer() as server:
        server.route("/slow", Reply(200, '{"late": true}', delay=0.8), json_reply({"late": False}))
        assert FAST.get_json(f"{server.base_url}/slow") == {"late": False}
        assert len(server.seen("/slow")) == 2


def test_timeout_every_time_gives_a_clear_error():
    client = HttpClient(timeout=0.2, attempts=2, backoff=0.01)
    with ScriptedServer() as server:
        server.route("/slow", Reply(200, "{}", delay=0.6))
        with pytest.raises(FetchError, match=r"no answer within the 0.2 s timeout, 2 attempt\(s\) in all"):
            client.get_json(f"{server.base_url}/slow")
        assert len(server.seen("/slow")) == 2


def test_404_is_not_retried_and_quotes_the_server():
    with ScriptedServer() as server:
        server.route("/api/3/action/package_show", fixture("ckan/package_show_not_found.json", status=404))
        url = f"{server.base_url}/api/3/action/package_show"
        with pytest.raises(FetchError) as raised:
            FAST.get_json(url, {"id": "no_such_dataset"})
        assert len(server.seen("/api/3/action/package_show")) == 1
    message = str(raised.value)
    assert raised.value.status == 404
    assert f"{url}?id=no_such_dataset" in message and "Not Found Error: Not found" in message
    assert "Check the base URL" in message


def test_connection_refused_is_retried_then_named():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"could not connect .*3 attempt\(s\) in all"):
        FAST.get_json(f"http://127.0.0.1:{port}/api")


def test_body_cut_short_is_retried():
    with ScriptedServer() as server:
        server.route("/cut", Reply(200, '{"a": 1}', {"Content-Length": "400"}), json_reply({"a": 2}))
        assert FAST.get_json(f"{server.base_url}/cut") == {"a": 2}
        assert len(server.seen("/cut")) == 2


def test_only_http_urls_are_fetched():
    with pytest.raises(FetchError, match="only http and https URLs"):
        FAST.get_bytes("file:///etc/passwd")


def test_credentials_stay_with_their_origin_even_across_a_redirect():
    with ScriptedServer() as portal, ScriptedServer() as elsewhere:
        portal.route("/api", json_reply({"ok": True}))
        portal.route("/file", Reply(302, headers={"Location": f"{elsewhere.base_url}/file"}))
        elsewhere.route("/file", Reply(200, "a,b\n", content_type="text/csv"))
        client = HttpClient(timeout=1, attempts=1, auth_headers={"Authorization": "secret-token"},
                            auth_origin=portal.base_url)
        client.get_json(f"{portal.base_url}/api")
        assert client.get_bytes(f"{portal.base_url}/file") == b"a,b\n"
        client.get_bytes(f"{elsewhere.base_url}/file")
        assert portal.seen("/api")[0].headers["Authorization"] == "secret-token"
        assert all("Authorization" not in r.headers for r in elsewhere.requests)
        assert len(elsewhere.requests) == 2


def test_retry_after_values():
    now = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Sat, 01 Jun 2024 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sat, 01 Jun 2024 11:00:00 GMT", now) == 0  # in the past: retry now
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


# -- where base URLs and credentials come from ---------------------------------------------------------------


def test_endpoint_from_bienestar_variables_sends_the_token(monkeypatch):
    with ScriptedServer() as server:
        server.route("/ckan/api/3/action/status_show", json_reply({"success": True}))
        monkeypatch.setenv("BIENESTAR_CONN_LA_PAZ_DEMO_CKAN_URL", f"{server.base_url}/ckan/")
        monkeypatch.setenv("BIENESTAR_CONN_LA_PAZ_DEMO_CKAN_TOKEN", "tok-123")
        source = endpoint("la_paz_demo_ckan")
        assert source.base_url == f"{server.base_url}/ckan"
        source.client().get_json(f"{source.base_url}/api/3/action/status_show")
        assert server.requests[0].headers["Authorization"] == "tok-123"
    assert "tok-123" not in repr(source)


def test_endpoint_from_an_airflow_connection_uri(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CITY_SENSORS",
                       "http://reader:pa%40ss@127.0.0.1:8765/sta%2Fv1.1?timeout=5&attempts=2")
    source = endpoint("city_sensors")
    assert source.base_url == "http://127.0.0.1:8765/sta/v1.1"
    assert base64.b64decode(source.auth_headers["Authorization"].split()[1]) == b"reader:pa@ss"
    client = source.client()
    assert (client.timeout, client.attempts, client.auth_origin) == (5.0, 2, source.base_url)


def test_endpoint_from_airflow_connection_json(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CITY_CKAN", json.dumps({
        "conn_type": "http", "host": "datos.lapaz.example", "schema": "https",
        "extra": {"token": "abc", "token_type": "Bearer"},
    }))
    source = endpoint("city_ckan")
    assert source.base_url == "https://datos.lapaz.example"
    assert source.auth_headers == {"Authorization": "Bearer abc"}


def test_endpoint_from_connection_fields():
    # The fields of an airflow.sdk.Connection, as BaseHook.get_connection returns it inside a task.
    source = endpoint_from_fields("city_ckan", conn_type="https", host="datos.lapaz.example", port=8443,
                                  schema="portal", login=None, password=None, extra={"token": "abc", "backoff": 0.5})
    assert source.base_url == "https://datos.lapaz.example:8443/portal"
    assert source.auth_headers == {"Authorization": "abc"}
    assert source.client().backoff == 0.5
    with_scheme = endpoint_from_fields("x", conn_type="http", host="http://10.0.0.5", port=8080, schema="ckan",
                                       login="u", password="p", extra=None)
    assert with_scheme.base_url == "http://10.0.0.5:8080/ckan"
    assert with_scheme.auth_headers == {"Authorization": "Basic dTpw"}


def test_missing_connection_says_what_to_set(monkeypatch):
    monkeypatch.delenv("BIENESTAR_CONN_NOWHERE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(ConnectionNotConfigured, match="BIENESTAR_CONN_NOWHERE_URL .* AIRFLOW_CONN_NOWHERE"):
        endpoint("nowhere")


# -- bounded I/O: size, deadline, redirects, nesting -----------------------------------------------------------

def test_a_body_larger_than_max_bytes_is_refused_by_its_content_length():
    small = HttpClient(timeout=1, attempts=1, max_bytes=1000)
    with ScriptedServer() as server:
        server.route("/big", Reply(200, b"x" * 1001, content_type="text/csv"))
        server.route("/fits", Reply(200, b"x" * 1000, content_type="text/csv"))
        with pytest.raises(FetchError, match=r"the body is 1,001 bytes, more than the 1,000 .*max_bytes"):
            small.get_bytes(f"{server.base_url}/big")
        assert small.get_bytes(f"{server.base_url}/fits") == b"x" * 1000


def test_a_body_without_a_length_is_cut_off_at_max_bytes(tmp_path):
    """No Content-Length to trust: the count of bytes received stops it, and no partial file is left."""
    small = HttpClient(timeout=1, attempts=1, max_bytes=100)
    with ScriptedServer() as server:
        server.route("/stream", Reply(200, b"y" * 5000, content_type="text/csv", drip=0.001,
                                      headers={"Content-Length": ""}))
        with pytest.raises(FetchError, match="more than the 100 this client accepts"):
            small.download(f"{server.base_url}/stream", tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_dripping_body_ends_at_the_deadline():
    slow = HttpClient(timeout=1, attempts=3, backoff=0.01, deadline=0.5)
    with ScriptedServer() as server:
        server.route("/drip", Reply(200, b"z" * 4000, content_type="text/csv", drip=0.05))
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"still arriving after the 0.5 s deadline"):
            slow.get_bytes(f"{server.base_url}/drip")
        assert time.monotonic() - started < 2  # 250 chunks x 0.05 s would be 12.5 s
        assert len(server.seen("/drip")) == 1


def test_retries_stop_at_the_deadline():
    tight = HttpClient(timeout=1, attempts=10, backoff=0.3, deadline=0.5)
    with ScriptedServer() as server:
        server.route("/down", Reply(503, "busy"))
        with pytest.raises(FetchError, match="no time left for another attempt within the 0.5 s deadline"):
            tight.get_bytes(f"{server.base_url}/down")
        assert len(server.seen("/down")) <= 3


@pytest.mark.parametrize(("target", "message"), [
    ("ftp://127.0.0.1/file.csv", "only http and https redirects are followed"),  # urllib itself would follow it
    ("file:///etc/passwd", "Redirection to url 'file:///etc/passwd' is not allowed"),  # urllib refuses it
])
def test_a_redirect_to_another_scheme_is_refused(target, message):
    with ScriptedServer() as server:
        server.route("/file", Reply(302, headers={"Location": target}))
        with pytest.raises(FetchError, match=message):
            FAST.get_bytes(f"{server.base_url}/file")
        assert len(server.seen("/file")) == 1  # a final error, not retried


def test_json_nested_too_deeply_is_a_clear_error():
    with ScriptedServer() as server:
        server.route("/deep", Reply(200, "[" * 100_000 + "]" * 100_000))
        with pytest.raises(FetchError, match="nested too deeply"):
            FAST.get_json(f"{server.base_url}/deep")
