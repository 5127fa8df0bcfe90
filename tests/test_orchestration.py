"""How a task's errors become Airflow states, which census year a run loads, and the schedules' window."""

import urllib.error
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from bienestar.orchestration import census_year_of, is_transient, period_window, run_timeout, task_errors, task_timeout
from cities import City
from expectations.gate import GateFailed
from sources.ckan import CkanError, ResourceNotPublished
from sources.files import DeliveryError
from sources.http import FetchError
from sources.sensorthings import NoObservations
from tests.configs import CENSUS, city_with


def outcome(error: BaseException) -> type[BaseException]:
    with pytest.raises(BaseException) as raised, task_errors():
        raise error
    return type(raised.value)


@pytest.mark.parametrize(("error", "becomes"), [
    (ResourceNotPublished("http://portal/api", "no resource named 'health_visits_2024-07'"), AirflowSkipException),
    (NoObservations("no observation in the day"), AirflowSkipException),
    (GateFailed("gate raw_census failed"), AirflowFailException),
    (DeliveryError("households.csv row 7, field members"), AirflowFailException),
    (ValueError("bad config"), AirflowFailException),
    (FileNotFoundError("landing/x.csv"), AirflowFailException),
    (FetchError("http://portal", "not found", status=404), AirflowFailException),
    (CkanError("http://portal", "success false"), AirflowFailException),
    # I/O errors are raised as they are, so Airflow retries them
    (ConnectionResetError("reset"), ConnectionResetError),
    (TimeoutError("slow"), TimeoutError),
    (urllib.error.URLError("refused"), urllib.error.URLError),
    (FetchError("http://portal", "503, 4 attempts", status=503, retryable=True), FetchError),
    (FetchError("http://portal", "could not connect, 4 attempts", retryable=True), FetchError),
    (duckdb.IOException("Conflicting lock is held"), duckdb.IOException),
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__)
def test_errors_become_skip_fail_or_retry(error, becomes):
    assert outcome(error) is becomes


def test_a_deterministic_error_keeps_its_message():
    with pytest.raises(AirflowFailException, match=r"^DeliveryError: households.csv row 7, field members$"), \
            task_errors():
        raise DeliveryError("households.csv row 7, field members")


def test_the_http_client_marks_what_outlasted_its_retries(monkeypatch):
    """A 503 after the client's own attempts is worth an Airflow retry later; a 404 is not."""
    from sources.http import HttpClient
    from tests.http_server import Reply, ScriptedServer

    client = HttpClient(attempts=2, backoff=0, timeout=2)
    with ScriptedServer() as server:
        server.route("/busy", Reply(503, "busy"))
        server.route("/gone", Reply(404, "gone"))
        for path, retryable in (("/busy", True), ("/gone", False)):
            with pytest.raises(FetchError) as raised:
                client.get_json(f"{server.base_url}{path}")
            assert raised.value.retryable is retryable and is_transient(raised.value) is retryable
    assert not is_transient(PermissionError("landing/ not writable"))


def city(**config) -> City:
    return city_with("tiny", ".", census={**CENSUS, "earlier_vintages": ["2012"]}, **config)


def test_census_year_from_conf_then_logical_date_then_latest():
    c = city()
    assert census_year_of(c, {"year": "2012"}, None) == "2012"
    assert census_year_of(c, {"year": " 2012 "}, datetime(2024, 1, 1, tzinfo=UTC)) == "2012"  # conf wins
    assert census_year_of(c, {}, datetime(2012, 5, 1, tzinfo=UTC)) == "2012"
    assert census_year_of(c, None, None) == "2024"
    with pytest.raises(ValueError, match=r"tiny has no census 2001 \(census years: 2012, 2024\).*conf"):
        census_year_of(c, {"year": "2001"}, None)


def test_period_window_spans_the_months_listed():
    june = (datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
    assert period_window(city(months=["2024-06"])) == june
    assert period_window(city(months=["2024-12", "2024-11"])) == (datetime(2024, 11, 1, tzinfo=UTC),
                                                                 datetime(2025, 1, 1, tzinfo=UTC))
    # a city delivering from now on: a start and no end
    assert period_window(city(schedule={"start": "2025-01-15"})) == (datetime(2025, 1, 15, tzinfo=UTC), None)
    assert period_window(city()) == (datetime(2024, 1, 1, tzinfo=UTC), None)


def test_timeouts_default_and_per_city():
    assert task_timeout(city()) == timedelta(minutes=30) and run_timeout(city()) == timedelta(hours=3)
    custom = city(schedule={"task_timeout_minutes": 5, "run_timeout_minutes": 45})
    assert task_timeout(custom) == timedelta(minutes=5) and run_timeout(custom) == timedelta(minutes=45)


def test_a_file_delivered_interval_not_there_yet_is_skipped_a_half_delivered_month_fails(tmp_path, monkeypatch):
    """Cities that deliver services and sensors as files into landing/ (no portal): nothing yet -> skip."""
    from sources import NotDeliveredYet
    from sources.deliveries import land_sensors, land_services

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    c = city(services={"families": ["health", "police"], "pattern": "services/{family}_{month}.csv",
                       "required": ["record_id"]},
             sensors={"stations": "sensors/stations.geojson", "pattern": "sensors/readings_{interval}.json"})
    with pytest.raises(NotDeliveredYet, match=r"no service records for 2024-07 yet \(expected "
                                              r"services/health_2024-07.csv, services/police_2024-07.csv\)"):
        land_services(c, "2024-07")
    with pytest.raises(AirflowSkipException), task_errors():
        land_services(c, "2024-07")
    health = tmp_path / "landing" / "tiny" / "services" / "health_2024-07.csv"
    health.parent.mkdir(parents=True)
    health.write_text("record_id\nR1\n", encoding="utf-8")
    with pytest.raises(AirflowFailException, match=r"police_2024-07.csv: delivery not found"), task_errors():
        land_services(c, "2024-07")  # half a month: an error that names the missing file
    with pytest.raises(NotDeliveredYet, match=r"readings_2024-07-02.json: no sensor readings for 2024-07-02 yet"):
        land_sensors(c, datetime(2024, 7, 2, tzinfo=UTC), datetime(2024, 7, 3, tzinfo=UTC))
