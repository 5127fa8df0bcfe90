"""Distribution gates against the last accepted delivery: records per family and day (raw_services.day_shift) and
readings per station series (raw_sensors.station_surge / station_drop).

The real SQL of expectations/suites.py runs on a DuckDB file holding planted raw (the new delivery) and
raw_accepted (the deliveries accepted before) rows. Thresholds are the defaults: max_day_shift 0.5,
min_day_shift 10, max_station_shift 0.5, min_station_shift 12. Every expected value below is worked out by hand.
"""

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from cities import load_city
from expectations.suites import DEFAULT_THRESHOLDS, day_shift, station_shift

CITY = load_city("la_paz_demo")


def test_the_defaults_the_cases_below_are_worked_out_for():
    names = ("max_day_shift", "min_day_shift", "day_shift_sigmas", "max_station_shift", "min_station_shift")
    assert {k: DEFAULT_THRESHOLDS[k] for k in names} == {
        "max_day_shift": 0.5, "min_day_shift": 10, "day_shift_sigmas": 5, "max_station_shift": 0.5,
        "min_station_shift": 12,
    }
    assert not set(names) & set(CITY.config.get("quality") or {})


# ------------------------------------------------------------------------------------- services: records per day
def days(month: str) -> list[date]:
    first = date.fromisoformat(f"{month}-01")
    return [d for d in (first + timedelta(days=n) for n in range(31)) if d.month == first.month]


def month_of(month: str, per_day, family: str = "health_visits") -> dict[tuple[str, str], int]:
    """{(family, day): count} for every day of `month`, the count given by `per_day(day)`."""
    return {(family, d.isoformat()): per_day(d) for d in days(month)}


def weekdays(count: int) -> Callable[[date], int]:
    """`count` records Monday to Friday, none at weekends (health visits: the centres close)."""
    return lambda d: count if d.weekday() < 5 else 0


def records(
    path, accepted: dict[str, dict], new: dict, partition: str = "2024-06", city=CITY, accepted_city: str | None = None
) -> str:
    """expectations.suites.day_shift on a database holding the accepted deliveries ({month: {(family, day): n}})
    in raw_accepted (of `accepted_city`, by default the city's) and the new delivery of `partition` in raw (a
    day's records at 10:00 that day)."""
    with duckdb.connect(str(path / "records.duckdb")) as con:
        for schema, deliveries in (("raw", {partition: new}), ("raw_accepted", accepted)):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(
                f"CREATE OR REPLACE TABLE {schema}.service_records (city VARCHAR, _source VARCHAR, "
                "_loaded_for VARCHAR, occurred_at VARCHAR)"
            )
            owner = accepted_city if accepted_city and schema == "raw_accepted" else city.name
            con.register(
                "planted",
                pd.DataFrame(
                    [
                        (owner, f"services/{family}", month, f"{day}T10:00:00", n)
                        for month, counts in deliveries.items()
                        for (family, day), n in counts.items()
                    ],
                    columns=["city", "_source", "_loaded_for", "occurred_at", "n"],
                ),
            )
            con.execute(
                f"INSERT INTO {schema}.service_records SELECT city, _source, _loaded_for, occurred_at "
                "FROM planted, range(n)"
            )
        return day_shift(con, city, partition)


def changed(counts: dict, day: str, n: int, family: str = "health_visits") -> dict:
    return {**counts, (family, day): n}


@pytest.mark.parametrize(
    ("usual", "count", "flagged"),
    [
        # 40 a day: the share binds (50% = 20 records, above min_day_shift 10)
        (40, 60, False),  # +20: at the limit
        (40, 59, False),  # +19
        (40, 61, True),  # +21: just above
        (40, 20, False),  # -20: at the limit
        (40, 21, False),  # -19
        (40, 19, True),  # -21
        # 10 a day: min_day_shift binds (50% = 5 records, fewer than 10)
        (10, 19, False),  # +9 (90%)
        (10, 20, True),  # +10: at min_day_shift, beyond the share
        (10, 1, False),  # -9
        (10, 0, True),  # -10: a day emptied
    ],
)
def test_a_redelivered_day_against_the_same_day_at_and_past_each_limit(tmp_path, usual, count, flagged):
    june = month_of("2024-06", lambda d: usual)
    out = records(tmp_path, {"2024-06": june}, changed(june, "2024-06-14", count))
    if flagged:
        assert out == (
            "1 day(s) of service records differ by more than 50% from the same days of the last accepted "
            f"delivery of the month: health_visits 2024-06-14 {count} (expected {usual})"
        )
    else:
        assert out == "ok"


def test_a_first_delivery_has_nothing_to_compare_with(tmp_path):
    june = month_of("2024-06", lambda d: 40)
    assert records(tmp_path, {}, june) == "ok"  # nothing accepted
    assert records(tmp_path, {"2024-07": month_of("2024-07", lambda d: 1)}, june) == "ok"  # only a later month
    may = {"2024-05": month_of("2024-05", lambda d: 1)}
    assert records(tmp_path, may, june) != "ok"
    assert records(tmp_path, may, june, accepted_city="other_city") == "ok"  # another city's month
    with duckdb.connect() as con:  # no raw_accepted table
        con.execute("CREATE SCHEMA raw")
        assert day_shift(con, CITY, "2024-06") == "ok"


def test_a_new_month_is_held_to_the_same_weekday_of_the_month_before(tmp_path):
    """May 2024 has 23 weekdays of 40 visits and 8 weekend days of none: its flat mean, 29.7 a day, would flag
    every June weekend day (0 against 29.7); the weekday means (40 Monday to Friday, 0 at weekends) flag none."""
    may = month_of("2024-05", weekdays(40))
    assert records(tmp_path, {"2024-05": may}, month_of("2024-06", weekdays(40))) == "ok"
    # a Saturday with 40 visits (Saturdays had none) and a Wednesday with none
    june = changed(changed(month_of("2024-06", weekdays(40)), "2024-06-01", 40), "2024-06-05", 0)
    assert records(tmp_path, {"2024-05": may}, june) == (
        "2 day(s) of service records differ by more than 50% from the mean of the same weekday in 2024-05, the last "
        "accepted month before: health_visits 2024-06-01 40 (expected 0), health_visits 2024-06-05 0 (expected 40)"
    )


@pytest.mark.parametrize(("count", "flagged"), [(12, False), (11, True), (79, False), (80, True)])
def test_a_weekday_mean_at_and_past_its_limit(tmp_path, count, flagged):
    """May 2024's four Mondays (6, 13, 20, 27) had 40, 40, 40 and 30 visits: a mean of 37.5. Chance allows a June
    Monday 2 |sqrt(count) - sqrt(37.5)| <= 5 sqrt(1 + 1/4) = 5.590 (beyond 50%, 18.75, on both sides):
    12 (-5.32) and 79 (+5.53) pass, 11 (-5.61) and 80 (+5.64) do not."""
    may = changed(month_of("2024-05", weekdays(40)), "2024-05-27", 30)
    out = records(tmp_path, {"2024-05": may}, changed(month_of("2024-06", weekdays(40)), "2024-06-03", count))
    assert out == "ok" if not flagged else out.endswith(f": health_visits 2024-06-03 {count} (expected 37.5)")


@pytest.mark.parametrize(("count", "flagged"), [(50, False), (49, True), (163, False), (164, True)])
def test_a_large_weekday_mean_is_held_to_the_share_below_and_to_chance_above(tmp_path, count, flagged):
    """100 visits every weekday of May: 50% allows 50..150; chance (5.590 on the square-root scale) allows 52.1..
    163.9; a day must be outside both: 49 (-51) is flagged, 50 (-50: at the share) is not; 163 (+5.535) passes,
    164 (+5.612) does not."""
    may = month_of("2024-05", weekdays(100))
    out = records(tmp_path, {"2024-05": may}, changed(month_of("2024-06", weekdays(100)), "2024-06-03", count))
    assert out == "ok" if not flagged else out.endswith(f": health_visits 2024-06-03 {count} (expected 100)")


@pytest.mark.parametrize(("usual", "count", "flagged"), [(20, 0, True), (20, 40, False), (34, 63, False)])
def test_chance_lets_a_noisy_day_pass_but_not_an_emptied_one(tmp_path, usual, count, flagged):
    """An emptied day where 20 were usual is 2 sqrt(20) = 8.9 standard errors away; a doubled one 3.7, and a day
    of 63 where 34 were usual (seen in the sample city's months) 4.2: within 5 sqrt(1 + 1/4) = 5.59."""
    may = month_of("2024-05", weekdays(usual))
    out = records(tmp_path, {"2024-05": may}, changed(month_of("2024-06", weekdays(usual)), "2024-06-03", count))
    assert (out != "ok") == flagged, out


def test_the_reference_is_the_same_month_when_accepted_else_the_latest_month_before(tmp_path):
    may, flat = month_of("2024-05", weekdays(40)), (lambda d: 20)
    # June accepted flat (20 a day, weekends too): a re-delivery of it is compared day by day, not with May
    assert records(tmp_path, {"2024-05": may, "2024-06": month_of("2024-06", flat)}, month_of("2024-06", flat)) == "ok"
    # June not accepted yet: May (weekday rhythm) is the reference, not April (flat) nor August (flat)
    accepted = {"2024-04": month_of("2024-04", flat), "2024-05": may, "2024-08": month_of("2024-08", flat)}
    assert records(tmp_path, accepted, month_of("2024-06", weekdays(40))) == "ok"
    # 20 a day against May's 40 on weekdays (-20: at the limit) and 0 at weekends: June's 10 weekend days
    assert records(tmp_path, accepted, month_of("2024-06", flat)).startswith(
        "10 day(s) of service records differ by more than 50% from the mean of the same weekday in 2024-05"
    )


def test_families_are_compared_one_by_one_and_only_those_with_a_reference(tmp_path):
    june = {**month_of("2024-06", lambda d: 40), **month_of("2024-06", lambda d: 12, "water_outages")}
    # a family new to the city (parking) has nothing to compare with
    assert records(tmp_path, {"2024-06": june}, {**june, **month_of("2024-06", lambda d: 50, "parking")}) == "ok"
    # 12 water outages a day become 0 on the 2nd: -12, beyond both limits, while health visits stay as they were
    out = records(tmp_path, {"2024-06": june}, changed(june, "2024-06-02", 0, "water_outages"))
    assert out.endswith(": water_outages 2024-06-02 0 (expected 12)")


def test_days_outside_the_month_do_not_count_for_it(tmp_path):
    """A June delivery whose dates moved a month on (a broken export): every June day is empty."""
    june = month_of("2024-06", lambda d: 40)
    moved = {(family, day.replace("-06-", "-07-")): n for (family, day), n in june.items()}
    out = records(tmp_path, {"2024-06": june}, moved)
    assert out.startswith("30 day(s) of service records differ") and "health_visits 2024-06-01 0 (expected 40)" in out


@pytest.mark.parametrize(
    ("emptied", "listed", "more"), [(10, 10, ""), (11, 10, " and 1 more"), (30, 10, " and 20 more")]
)
def test_at_most_ten_days_are_listed(tmp_path, emptied, listed, more):
    june = month_of("2024-06", lambda d: 40)
    cut = {**june, **{("health_visits", d.isoformat()): 0 for d in days("2024-06")[:emptied]}}
    out = records(tmp_path, {"2024-06": june}, cut)
    assert (
        out.startswith(f"{emptied} day(s)")
        and out.count("(expected 40)") == listed
        and out.endswith(f"health_visits 2024-06-{listed:02d} 0 (expected 40){more}")
    )


def test_a_city_may_set_its_own_day_thresholds(tmp_path):
    strict = dataclasses.replace(CITY, config={**CITY.config, "quality": {"max_day_shift": 0.2, "min_day_shift": 5}})
    june = month_of("2024-06", lambda d: 40)
    assert records(tmp_path, {"2024-06": june}, changed(june, "2024-06-14", 49), city=strict).endswith(
        "health_visits 2024-06-14 49 (expected 40)"
    )  # +9: beyond 20% (8) and 5 records
    assert records(tmp_path, {"2024-06": june}, changed(june, "2024-06-14", 48), city=strict) == "ok"  # +8: at 20%
    # no room for chance: a new month held to the share alone (Monday mean 37.5, 50%: 18.75)
    exact = dataclasses.replace(CITY, config={**CITY.config, "quality": {"day_shift_sigmas": 0}})
    may = changed(month_of("2024-05", weekdays(40)), "2024-05-27", 30)
    june = changed(month_of("2024-06", weekdays(40)), "2024-06-03", 18)
    assert records(tmp_path, {"2024-05": may}, june, city=exact).endswith("2024-06-03 18 (expected 37.5)")
    assert records(tmp_path, {"2024-05": may}, june) == "ok"  # the default: 2 |sqrt(18) - sqrt(37.5)| = 3.76


# ------------------------------------------------------------------------------------- sensors: readings per station
def readings(path, accepted: dict[str, dict], new: dict, partition: str = "2024-06-10") -> tuple[str, str]:
    """expectations.suites.station_shift on a database holding the accepted days ({day: {"sensor/parameter": n}})
    in raw_accepted and the new delivery of `partition` in raw."""
    with duckdb.connect(str(path / "readings.duckdb")) as con:
        for schema, deliveries in (("raw", {partition: new}), ("raw_accepted", accepted)):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(
                f"CREATE OR REPLACE TABLE {schema}.sensor_readings (city VARCHAR, _loaded_for VARCHAR, "
                "sensor_id VARCHAR, parameter VARCHAR)"
            )
            con.register(
                "planted",
                pd.DataFrame(
                    [
                        (CITY.name, key, *series.split("/"), n)
                        for key, counts in deliveries.items()
                        for series, n in counts.items()
                    ],
                    columns=["city", "_loaded_for", "sensor_id", "parameter", "n"],
                ),
            )
            con.execute(
                f"INSERT INTO {schema}.sensor_readings SELECT city, _loaded_for, sensor_id, parameter "
                "FROM planted, range(n)"
            )
        return station_shift(con, CITY, partition)


def surge(listed: str, n: int = 1) -> str:
    return f"{n} station series delivered more than 50% above their usual readings: {listed}"


def drop(listed: str, n: int = 1) -> str:
    return f"{n} station series delivered more than 50% below their usual readings: {listed}"


@pytest.mark.parametrize(
    ("usual", "count", "verdict"),
    [
        # 24 a day (hourly): the share binds (50% = 12 readings, at min_station_shift)
        (24, 36, ("ok", "ok")),  # +12: at the limit
        (24, 37, (surge("S1/pm25 37 (usual 24)"), "ok")),  # +13: a duplicated or re-timed export blocks
        (24, 12, ("ok", "ok")),  # -12: at the limit
        (24, 11, ("ok", drop("S1/pm25 11 (usual 24)"))),  # -13: an outage is a warning
        # 12 a day: min_station_shift binds (50% = 6 readings, fewer than 12)
        (12, 23, ("ok", "ok")),  # +11 (92%)
        (12, 24, (surge("S1/pm25 24 (usual 12)"), "ok")),  # +12: at min_station_shift
        (11, 0, ("ok", "ok")),  # absent, but only 11 readings fewer
        (12, 0, ("ok", drop("S1/pm25 0 (usual 12)"))),  # absent: 12 fewer
    ],
)
def test_a_station_at_and_past_each_limit(tmp_path, usual, count, verdict):
    new = {"S1/pm25": count} if count else {}
    assert readings(tmp_path, {"2024-06-09": {"S1/pm25": usual}}, new) == verdict


def test_series_are_per_station_and_parameter(tmp_path):
    """S1 measures pm25 and no2; doubling its no2 is named alone, with the parameter."""
    usual = {"S1/pm25": 24, "S1/no2": 24, "S2/pm25": 24}
    assert readings(tmp_path, {"2024-06-09": usual}, {**usual, "S1/no2": 48}) == (surge("S1/no2 48 (usual 24)"), "ok")


def test_a_station_back_from_a_partial_outage_is_no_surge(tmp_path):
    """S1 lost 12 hours on the 9th: against that day alone its full 10th (+12, 100%) would block; against its
    usual count (24, on the 8th) it is what it always was."""
    accepted = {"2024-06-08": {"S1/pm25": 24}, "2024-06-09": {"S1/pm25": 12}}
    assert readings(tmp_path, accepted, {"S1/pm25": 24}) == ("ok", "ok")
    assert readings(tmp_path, accepted, {"S1/pm25": 48}) == (surge("S1/pm25 48 (usual 24)"), "ok")


def test_the_usual_count_comes_from_the_last_seven_accepted_days_before(tmp_path):
    """48 readings on the 2nd (a station that once reported every half hour) no longer count on the 10th: the
    seven accepted days before it are the 3rd to the 9th. Later days never count."""
    accepted = {f"2024-06-{d:02d}": {"S1/pm25": 24} for d in range(3, 10)} | {
        "2024-06-02": {"S1/pm25": 48},
        "2024-06-20": {"S1/pm25": 48},
    }
    assert readings(tmp_path, accepted, {"S1/pm25": 48}) == (surge("S1/pm25 48 (usual 24)"), "ok")
    accepted["2024-06-04"] = {"S1/pm25": 48}  # within the seven: 48 is usual
    assert readings(tmp_path, accepted, {"S1/pm25": 48}) == ("ok", "ok")
    accepted["2024-06"] = {"S1/pm25": 1440}  # a monthly partition is not a day before this one
    assert readings(tmp_path, accepted, {"S1/pm25": 48}) == ("ok", "ok")


def test_a_redelivered_day_is_held_to_its_accepted_delivery_too(tmp_path):
    # the day accepted with 24, its re-delivery doubled
    assert readings(tmp_path, {"2024-06-10": {"S1/pm25": 24}}, {"S1/pm25": 48}) == (
        surge("S1/pm25 48 (usual 24)"),
        "ok",
    )
    # the day accepted without S2 (an outage); the re-delivery that fills it in is S2's usual 24: no surge
    accepted = {"2024-06-09": {"S1/pm25": 24, "S2/pm25": 24}, "2024-06-10": {"S1/pm25": 24}}
    assert readings(tmp_path, accepted, {"S1/pm25": 24, "S2/pm25": 24}) == ("ok", "ok")


def test_no_reference_nothing_to_compare_with(tmp_path):
    assert readings(tmp_path, {}, {"S1/pm25": 240}) == ("ok", "ok")  # first day
    assert readings(tmp_path, {"2024-06-09": {"S1/pm25": 24}}, {"S1/pm25": 24, "S9/pm25": 240}) == (
        "ok",
        "ok",
    )  # a new station
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw")
        assert station_shift(con, CITY, "2024-06-10") == ("ok", "ok")  # no raw_accepted


def test_both_directions_at_once_and_at_most_ten_listed(tmp_path):
    usual = {f"S{i:02d}/pm25": 24 for i in range(1, 15)}
    new = {**{f"S{i:02d}/pm25": 48 for i in range(1, 13)}, "S13/pm25": 24}  # 12 doubled, S14 absent
    surged, dropped = readings(tmp_path, {"2024-06-09": usual}, new)
    assert surged == surge(", ".join(f"S{i:02d}/pm25 48 (usual 24)" for i in range(1, 11)) + " and 2 more", 12)
    assert dropped == drop("S14/pm25 0 (usual 24)")


# ------------------------------------------------------------------------------------- the gate, end to end
def test_a_surging_sensor_day_is_rejected_and_the_accepted_day_comes_back(tmp_path, monkeypatch):
    """Through run_gate and real GX on the city's working database: the 10th accepted with 24 hourly pm25
    readings of two stations; its re-delivery with MCA-01's readings twice is rejected by station_surge, moved to
    raw_rejected, and raw.sensor_readings (a view over the archived deliveries) shows the accepted day again."""
    import csv

    from bienestar import warehouse
    from expectations.gate import GateFailed, run_gate
    from sources.sensor_deliveries import land_readings

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))

    def deliver(name: str, doubled: tuple[str, ...] = ()) -> None:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["sensor_id", "parameter", "unit", "observed_at", "value"])
            for sensor in ("MCA-01", "MCA-02"):
                for _ in range(2 if sensor in doubled else 1):
                    writer.writerows([sensor, "pm25", "ug/m3", f"2024-06-10T{h:02d}:00:00Z", 20 + h] for h in range(24))
        with warehouse.session(CITY) as con:
            land_readings(
                con,
                city=CITY.name,
                path=path,
                source="sensors/readings",
                interval_start="2024-06-10",
                interval_end="2024-06-11",
                delivery=name,
            )

    def delivered(table: str) -> list[tuple]:
        with warehouse.session(CITY) as con:
            return con.execute(
                f"SELECT _delivery, sensor_id, count(*) FROM {table} WHERE _loaded_for = "
                "'2024-06-10' GROUP BY ALL ORDER BY ALL"
            ).fetchall()

    deliver("first.csv")
    run_gate(CITY, "raw_sensors", "accepted-run", "2024-06-10")
    accepted = [("first.csv", "MCA-01", 24), ("first.csv", "MCA-02", 24)]
    assert delivered("raw_accepted.sensor_readings") == accepted
    deliver("second.csv", doubled=("MCA-01",))
    with pytest.raises(GateFailed) as failure:
        run_gate(CITY, "raw_sensors", "surge-run", "2024-06-10")
    message = str(failure.value)
    assert (
        "(station_surge) on station_surge failed" in message
        and "1 station series delivered more than 50% above their usual readings: MCA-01/pm25 48 (usual 24)" in message
    )
    assert (
        "the rejected delivery is kept in raw_rejected.sensor_readings; raw.sensor_readings holds the last "
        "accepted one again (48 rows)"
    ) in message
    assert delivered("raw.sensor_readings") == accepted
    assert delivered("raw_rejected.sensor_readings") == [("second.csv", "MCA-01", 48), ("second.csv", "MCA-02", 24)]
    # the accepted day's archive is still there for staging to read (raw.sensor_loads points at it again)
    with warehouse.session(CITY) as con:
        (archive,) = con.execute("SELECT archive FROM raw.sensor_loads WHERE _loaded_for = '2024-06-10'").fetchone()
        assert con.execute(f"SELECT count(*) FROM read_parquet('{archive}')").fetchone() == (48,)
