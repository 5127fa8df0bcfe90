"""The completeness rule in front of build_indicators: every partition a period needs, staged *and* gated after its
latest staging write; a staging write revokes, a passing staging gate grants."""

import pandas as pd
import pytest

from bienestar import warehouse
from cities import City
from expectations.completeness import Need, days_of, describe, missing, needs
from tests.configs import CENSUS, SENSORS, SERVICES, city_with


def city(tmp_path, **config) -> City:
    base = {"census": {**CENSUS, "earlier_vintages": ["2012"]}, "services": SERVICES, "sensors": SENSORS,
            "months": ["2024-06"]}
    return city_with("tiny", tmp_path, **{**base, **config})


def accept(c: City, *pairs: tuple[str, str]) -> None:
    with warehouse.session(c) as con:
        for suite, partition in pairs:
            frame = pd.DataFrame([{"partition": partition, "run_id": "r", "rows": 1, "accepted_seq": 1}])
            warehouse.replace_partition(con, "audit.accepted_loads", frame,
                                        {"city": c.name, "suite": suite, "partition": partition})


def all_june(suite="staging_sensor_readings"):
    return [(suite, day) for day in days_of("2024-06")]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    return tmp_path


def test_days_of_a_month_including_leap_february():
    assert days_of("2024-06")[0] == "2024-06-01" and len(days_of("2024-06")) == 30
    assert len(days_of("2024-02")) == 29 and len(days_of("2023-02")) == 28
    assert days_of("2024-12")[-1] == "2024-12-31"


def test_sources_of_a_period_follow_the_months_listed(tmp_path):
    c = city(tmp_path)
    assert c.sources_of("2024") == ["census", "services", "sensors"]
    assert c.sources_of("2012") == ["census"]  # no month listed in 2012: an older census alone
    assert city(tmp_path, months=["2023-12"]).sources_of("2024") == ["census"]  # a month of another year
    no_sensors = city_with("t", tmp_path, services=SERVICES, months=["2024-06"])
    assert no_sensors.sources_of("2024") == ["census", "services"]


def test_needs_every_census_year_month_and_day(tmp_path):
    got = needs(city(tmp_path), ["2012", "2024"])
    assert got[:3] == [Need("census", "staging_census", "2012"), Need("census", "staging_census", "2024"),
                       Need("services", "staging_service_records", "2024-06")]
    assert [n.partition for n in got[3:]] == days_of("2024-06")
    assert len(got) == 33


def test_missing_until_the_last_day_is_gated(home, tmp_path):
    c = city(tmp_path)
    periods = ["2012", "2024"]
    assert len(missing(c, periods)) == 33  # nothing staged yet (and no database file before this call)
    accept(c, ("staging_census", "2012"), ("staging_census", "2024"), ("staging_service_records", "2024-06"))
    accept(c, *all_june()[:-1])
    assert missing(c, periods) == [Need("sensors", "staging_sensor_readings", "2024-06-30")]
    accept(c, all_june()[-1])
    assert missing(c, periods) == []


def test_a_raw_gate_or_another_city_does_not_count(home, tmp_path):
    c = city(tmp_path, months=[])
    accept(c, ("raw_census", "2024"))  # raw gated, staging not: not usable
    other = City(name="other", folder=tmp_path, config={**c.config, "name": "other"})
    accept(other, ("staging_census", "2024"))  # another city's database: its own file
    assert missing(c, ["2024"]) == [Need("census", "staging_census", "2024")]


def test_a_monthly_sensor_load_covers_its_days(home, tmp_path):
    c = city(tmp_path)
    accept(c, ("staging_census", "2024"), ("staging_service_records", "2024-06"),
           ("staging_sensor_readings", "2024-06"))
    assert missing(c, ["2024"]) == []
    accept_other_month = city(tmp_path, months=["2024-06", "2024-07"])
    assert {n.partition[:7] for n in missing(accept_other_month, ["2024"])} == {"2024-07"}


def test_a_staging_write_revokes_until_the_gate_passes_again(home, tmp_path):
    c = city(tmp_path, months=[])
    accept(c, ("staging_census", "2024"))
    assert missing(c, ["2024"]) == []
    with warehouse.session(c) as con:  # what stage_census does first
        warehouse.revoke_acceptance(con, c.name, "staging_census", "2024")
    assert missing(c, ["2024"]) == [Need("census", "staging_census", "2024")]
    accept(c, ("staging_census", "2024"))  # the staging gate passed
    assert missing(c, ["2024"]) == []


def test_describe_lists_what_is_missing_per_source():
    gaps = [Need("census", "staging_census", "2024")] + [
        Need("sensors", "staging_sensor_readings", d) for d in days_of("2024-06")[:7]]
    text = describe(gaps, shown=5)
    assert text.startswith("census: 1 partition(s) not staged and gated: 2024; sensors: 7 partition(s)")
    assert "2024-06-05, ... (2 more)" in text and "2024-06-06" not in text


def test_staging_the_census_revokes_its_acceptance(home, tmp_path):
    """The real staging code, not a stand-in: restaging a census year makes it unusable until its gate passes."""
    from bienestar.demo import prepare_demo
    from cities import load_city
    from sources.deliveries import land_census
    from transforms.staging import stage_census

    sample = load_city("la_paz_demo")
    prepare_demo(sample, scale=0.05)
    land_census(sample, "2024")
    accept(sample, ("staging_census", "2024"))
    assert Need("census", "staging_census", "2024") not in missing(sample, ["2024"])
    stage_census(sample, "2024")
    assert Need("census", "staging_census", "2024") in missing(sample, ["2024"])


def test_staging_the_survey_revokes_its_acceptance_and_reads_its_year_only(home, tmp_path):
    """Restaging the survey forgets that its gate passed, and stages the rows landed for the survey's year only
    (rows an earlier survey year left in raw stay out)."""
    from bienestar.demo import prepare_demo
    from cities import load_city
    from sources.deliveries import land_census, land_survey
    from transforms.staging import stage_census, stage_survey

    sample = load_city("la_paz_demo")
    prepare_demo(sample, scale=0.05)
    land_census(sample, "2024")
    stage_census(sample, "2024")
    land_survey(sample)
    with warehouse.session(sample) as con:   # an older survey year's rows, still in raw
        con.execute("INSERT INTO raw.survey_households SELECT * REPLACE ('2012' AS _loaded_for, "
                    "'old-' || household_id AS household_id) FROM raw.survey_households")
    accept(sample, ("staging_survey", "2024"))
    counts = stage_survey(sample)
    with warehouse.session(sample) as con:
        accepted = con.execute("SELECT count(*) FROM audit.accepted_loads WHERE suite = 'staging_survey'").fetchone()
        staged = con.execute("SELECT count(*) FILTER (WHERE household_id LIKE 'old-%'), count(*) "
                             "FROM staging.survey_households").fetchone()
        landed = con.execute("SELECT count(*) FROM raw.survey_households WHERE _loaded_for = '2024'").fetchone()
    assert accepted == (0,)
    assert staged[0] == 0 and staged[1] == counts["households"] > 0
    assert counts["households"] <= landed[0]
