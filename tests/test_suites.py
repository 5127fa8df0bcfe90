"""Each suite passes a clean frame and fails on exactly the expected check for each planted defect.

Frames are made by hand in the shape each suite's SQL reads; validation runs through real GX Core.
"""

import pandas as pd
import pytest

from expectations.gate import validate
from expectations.suites import DEFAULT_THRESHOLDS, SUITES, apply_severity

FACTS = {**DEFAULT_THRESHOLDS, "previous_rows": None}


def failures(suite: str, frame: pd.DataFrame, facts: dict) -> set[str]:
    checks = SUITES[suite].checks(facts)
    return {o.check.key for o in validate(frame, checks, f"test_{suite}", city="suites") if not o.success}


def raw_households(n=10):
    return pd.DataFrame({
        "household_id": [f"h{i}" for i in range(n)],
        "members": ["3"] * n, "members_number": [3.0] * n, "area_id": ["Z001"] * n, "location": ["placed"] * n,
        "area_shift": ["ok"] * n,
    })


RAW_FACTS = {**FACTS, "required": ["household_id", "area_id", "location", "members"], "previous_rows": 10}


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("cut file: 7 of the 10 rows last accepted (max drop 20%: at least 8)", lambda f: f.iloc[:7], {"row_count"}),
    ("missing column", lambda f: f.drop(columns=["members"]), {"column_members"}),
    ("negative household sizes", lambda f: f.assign(members_number=-2.0), {"members_range"}),
    ("coordinates broken: every household outside the city", lambda f: f.assign(location="outside"), {"placed"}),
    ("zones emptied since the last accepted delivery", lambda f: f.assign(area_shift="1 zone(s) changed ..."),
     {"area_shift"}),
])
def test_raw_census(defect, change, expected):
    assert failures("raw_census", change(raw_households()), RAW_FACTS) == expected, defect


@pytest.mark.parametrize(("rows", "passes"), [(98, True), (97, False)])
def test_a_redelivery_may_lose_at_most_two_percent(rows, passes):
    """The same census year delivered again with 100 rows accepted before: 98 pass, 97 are a cut file."""
    facts = {**RAW_FACTS, "previous_rows": 100, "redelivered_rows": 100}
    assert failures("raw_census", raw_households(rows), facts) == (set() if passes else {"row_count"})


def test_raw_census_one_bad_row_is_left_to_quarantine():
    # 1 bad size in 100 rows is within batch_fault_share (2%): the row is quarantined later, the batch goes on
    frame = raw_households(100)
    frame.loc[0, "members_number"] = -1
    assert failures("raw_census", frame, {**RAW_FACTS, "previous_rows": 100}) == set()


def raw_records(n=4):
    return pd.DataFrame({"family": ["health_visits", "police_reports"] * (n // 2),
                         "record_id": [f"r{i}" for i in range(n)], "occurred_at": ["2024-06-03T10:00:00"] * n,
                         "lon": ["-68.1"] * n, "lat": ["-16.5"] * n, "category": ["x"] * n,
                         "occurred_at_time": pd.to_datetime(["2024-06-03 10:00"] * n), "lon_number": [-68.1] * n,
                         "day_shift": ["ok"] * n})


SERVICE_FACTS = {**FACTS, "required": ["record_id", "occurred_at", "lon", "lat", "category"], "previous_rows": 4,
                 "families": ["health_visits", "police_reports"]}


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("a family missing", lambda f: f.assign(family="health_visits"), {"families"}),
    ("a day emptied since the last accepted delivery", lambda f: f.assign(
        day_shift="1 day(s) of service records differ ...: health_visits 2024-06-14 0 (expected 38)"), {"day_shift"}),
])
def test_raw_services(defect, change, expected):
    assert failures("raw_services", change(raw_records()), SERVICE_FACTS) == expected, defect


def raw_readings():
    return pd.DataFrame({"sensor_id": ["s1", "s1", "s2"], "parameter": ["pm25", "pm10", "noise"],
                         "unit": ["ug/m3", "ug/m3", "dBA"], "observed_at": ["t"] * 3, "value": ["10", "20", "60"],
                         "parameter_unit": ["pm25:ug/m3", "pm10:ug/m3", "noise:dBA"], "in_range": [True] * 3,
                         "station_surge": ["ok"] * 3, "station_drop": ["ok"] * 3})


SENSOR_FACTS = {**FACTS, "required": ["sensor_id", "parameter", "unit", "observed_at", "value"],
                "units": ["pm25:ug/m3", "pm10:ug/m3", "noise:dBA"]}


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("unit changed", lambda f: f.assign(parameter_unit=["pm25:mg/m3", "pm10:mg/m3", "noise:dBA"]), {"units"}),
    ("out of physical range", lambda f: f.assign(in_range=[False, True, True]), {"physical_range"}),
    ("a station's readings doubled", lambda f: f.assign(station_surge="1 station series ...: s1/pm25 48 (usual 24)"),
     {"station_surge"}),
    ("a station silent (a warning)", lambda f: f.assign(station_drop="1 station series ...: s3/no2 0 (usual 24)"),
     {"station_drop"}),
])
def test_raw_sensors(defect, change, expected):
    assert failures("raw_sensors", change(raw_readings()), SENSOR_FACTS) == expected, defect


def test_distribution_checks_block_or_warn():
    """A surge or a day's shift stops the batch; a station's drop is an outage, recorded and let through."""
    severity = {c.key: c.severity for suite, facts in (("raw_sensors", SENSOR_FACTS), ("raw_services", SERVICE_FACTS))
                for c in SUITES[suite].checks(facts)}
    assert (severity["station_surge"], severity["station_drop"], severity["day_shift"]) == (
        "blocking", "warning", "blocking")


def staging_households():
    return pd.DataFrame({"household_id": ["a", "b", "c"], "area_id": ["Z1", "Z1", "Z2"],
                         "members": [2, 3, 4], "rooms": [3, 2, 4], "bedrooms": [1, 2, None],
                         "persons_listed": [2, 3, 4]})


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("duplicate household", lambda f: f.assign(household_id=["a", "a", "c"]), {"household_unique"}),
    ("unplaced household", lambda f: f.assign(area_id=["Z1", None, "Z2"]), {"area_placed"}),
    ("size zero", lambda f: f.assign(members=[0, 3, 4], persons_listed=[0, 3, 4]), {"members_range"}),
    ("more bedrooms than rooms", lambda f: f.assign(bedrooms=[5, 2, None]), {"rooms_bedrooms"}),
    ("declared size differs from persons listed", lambda f: f.assign(persons_listed=[1, 3, 4]),
     {"members_listed"}),
])
def test_staging_census(defect, change, expected):
    frame = change(staging_households())
    # persons in staging = the sum of declared sizes (2 + 3 + 4 = 9 when clean), so only the defect shows
    facts = {**FACTS, "persons": int(frame["members"].sum())}
    assert failures("staging_census", frame, facts) == expected, defect


def test_staging_census_population_total():
    # declared sizes sum to 9; 12 persons listed is 33% off, beyond the 2% tolerance
    assert failures("staging_census", staging_households(), {**FACTS, "persons": 12}) == {"population_total"}


def staging_survey():
    return pd.DataFrame({"household_id": ["a", "b", "c"], "area_id": ["Z1", "Z1", "Z2"],
                         "design_weight": [1.0, 12.5, 40.0], "responding_psus_in_stratum": [2, 2, 3],
                         "income_per_capita": [0.0, 850.0, None], "satisfaction_water": [1, 10, None],
                         "stratum_response_rate": [0.5, 0.9, 1.0]})


@pytest.mark.parametrize("defect, change, expected", [
    ("clean, every value at its limit", lambda f: f, set()),
    ("duplicate household", lambda f: f.assign(household_id=["a", "a", "c"]), {"household_unique"}),
    ("unplaced household", lambda f: f.assign(area_id=["Z1", None, "Z2"]), {"area_placed"}),
    ("weight below 1", lambda f: f.assign(design_weight=[0.99, 12.5, 40.0]), {"design_weight"}),
    ("one responding PSU in a stratum", lambda f: f.assign(responding_psus_in_stratum=[1, 2, 3]),
     {"two_psus_per_stratum"}),
    ("negative income", lambda f: f.assign(income_per_capita=[-0.01, 850.0, None]), {"income_not_negative"}),
    ("satisfaction 0", lambda f: f.assign(satisfaction_water=[0, 10, None]), {"satisfaction_water"}),
    ("satisfaction 11", lambda f: f.assign(satisfaction_water=[1, 11, None]), {"satisfaction_water"}),
    ("response rate below half", lambda f: f.assign(stratum_response_rate=[0.49, 0.9, 1.0]), {"response_rate"}),
])
def test_staging_survey(defect, change, expected):
    facts = {**FACTS, "topics": ["water"]}
    assert failures("staging_survey", change(staging_survey()), facts) == expected, defect
    severity = {c.key: c.severity for c in SUITES["staging_survey"].checks(facts)}
    assert severity["response_rate"] == "warning" and severity["two_psus_per_stratum"] == "blocking"


def staging_records():
    return pd.DataFrame({"family": ["police_reports", "water_outages"], "record_id": ["r1", "r1"],
                         "area_id": ["Z1", "Z2"]})


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("duplicate record", lambda f: pd.concat([f, f.iloc[:1]]), {"record_unique"}),
    ("unknown family", lambda f: f.assign(family=["police_reports", "parking"]),
     {"families_known", "families_present"}),
])
def test_staging_services(defect, change, expected):
    facts = {**FACTS, "families": ["police_reports", "water_outages"]}
    assert failures("staging_service_records", change(staging_records()), facts) == expected, defect


def staging_readings():
    return pd.DataFrame({"sensor_id": ["s1", "s1"], "parameter": ["pm25", "pm25"],
                         "observed_at": pd.to_datetime(["2024-06-01 00:00", "2024-06-01 01:00"]),
                         "flag": ["ok", "stuck"], "ok_value": [12.0, None],
                         "unflagged_stuck": ["ok", "ok"], "incomplete_day": ["ok", "ok"]})


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("a used reading beyond physical range", lambda f: f.assign(ok_value=[900.0, None]), {"used_in_range"}),
    ("stuck run not flagged", lambda f: f.assign(unflagged_stuck=["s1/pm25/2024-06-01T00", "ok"]),
     {"no_unflagged_stuck"}),
    ("unknown flag", lambda f: f.assign(flag=["ok", "weird"]), {"flags_known"}),
    ("incomplete day (a warning)", lambda f: f.assign(incomplete_day=["s1/pm25/2024-06-01"] * 2),
     {"day_completeness"}),
])
def test_staging_sensors(defect, change, expected):
    facts = {**FACTS, "low": 0, "high": 600}
    assert failures("staging_sensor_readings", change(staging_readings()), facts) == expected, defect


def indicator_values():
    return pd.DataFrame({"area_id": ["Z1", "Z2"], "indicator_id": ["x", "x"], "period": ["2024", "2024"],
                         "share_value": [0.2, 0.5], "share_numerator": [4.0, 10.0],
                         "share_denominator": [20.0, 20.0], **published_cells()})


def published_cells(n: int = 2) -> dict:
    """The disclosure columns (expectations.suites.disclosure_columns) of `n` cells that pass every rule."""
    return {"denominator_margin": [0.0] * n, "small_count": ["ok"] * n, "reason": ["published"] * n,
            "reason_consistent": [True] * n}


DISCLOSURE_DEFECTS = [
    ("published below the threshold", lambda f: f.assign(denominator_margin=[-5.0, 0.0]), {"suppression"}),
    ("a published count of 1-4", lambda f: f.assign(small_count=["Z1 x: 3.0 of 40.0", "ok"]), {"no_small_counts"}),
    ("an unknown reason", lambda f: f.assign(reason=["published", "tertiary"]), {"suppression_reason"}),
    ("withheld without a reason", lambda f: f.assign(reason_consistent=[True, False]), {"suppression_flag"}),
]


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("zone missing", lambda f: f.iloc[:1], {"every_area"}),
    ("rate above 1", lambda f: f.assign(share_value=[1.2, 0.5]), {"shares_in_unit_interval"}),
    ("numerator above denominator", lambda f: f.assign(share_numerator=[30.0, 10.0]),
     {"numerator_le_denominator"}),
    ("zone twice", lambda f: pd.concat([f, f.iloc[:1]]), {"value_unique", "every_area"}),
    *DISCLOSURE_DEFECTS,
])
def test_marts_indicator_values(defect, change, expected):
    facts = {**FACTS, "expected_rows": 2}
    assert failures("marts_indicator_values", change(indicator_values()), facts) == expected, defect


def index_scores():
    return pd.DataFrame({"index_id": ["wb"] * 3, "area_id": ["Z1", "Z2", "Z3"], "node_id": ["wb"] * 3,
                         "period": ["2024"] * 3, "score": [80.0, 50.0, 50.0], "rank": [1, 2, 2],
                         "rank_mismatch": [False] * 3, "weight_sum": [1.0] * 3})


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("score above scale", lambda f: f.assign(score=[120.0, 50.0, 50.0]), {"score_range"}),
    ("ranks not following scores", lambda f: f.assign(rank_mismatch=[False, True, False]), {"ranks_consistent"}),
    ("weights not summing to one", lambda f: f.assign(weight_sum=[0.9] * 3), {"weights_sum_to_one"}),
    ("zone without a score row", lambda f: f.iloc[:2], {"every_zone"}),
])
def test_marts_index_scores(defect, change, expected):
    facts = {**FACTS, "zones": ["Z1", "Z2", "Z3"]}
    assert failures("marts_index_scores", change(index_scores()), facts) == expected, defect


@pytest.mark.parametrize("defect, change, expected", [
    ("clean", lambda f: f, set()),
    ("suppressed cell still has a value", lambda f: f.assign(suppressed_content=[None, 0.3]),
     {"suppressed_cells_empty"}),
    *DISCLOSURE_DEFECTS,
])
def test_published_snapshot(defect, change, expected):
    frame = pd.DataFrame({**published_cells(), "suppressed_content": [None, None]})
    assert failures("published_snapshot", change(frame), FACTS) == expected, defect


def test_severity_overrides_come_from_the_city():
    checks = SUITES["marts_index_scores"].checks({**FACTS, "zones": []})
    changed = apply_severity("marts_index_scores", checks, {"marts_index_scores.score_range": "warning"})
    assert {c.key: c.severity for c in changed}["score_range"] == "warning"
    with pytest.raises(ValueError, match="quality.severity.marts_index_scores.score_range"):
        apply_severity("marts_index_scores", checks, {"marts_index_scores.score_range": "fatal"})


def test_disclosure_checks_cannot_be_made_warnings():
    checks = SUITES["published_snapshot"].checks(FACTS)
    with pytest.raises(ValueError, match="disclosure checks are always blocking"):
        apply_severity("published_snapshot", checks, {"published_snapshot.no_small_counts": "warning"})
    assert apply_severity("published_snapshot", checks, {"published_snapshot.no_small_counts": "blocking"})


def test_quality_page_matches_the_suites():
    """docs/quality.md is generated from the suites; regenerate it when a suite changes."""
    from bienestar.settings import PROJECT_ROOT
    from expectations.document import render

    committed = (PROJECT_ROOT / "docs" / "quality.md").read_text(encoding="utf-8")
    assert committed == render(), "run: .venv/bin/python -m expectations.document > docs/quality.md"
    for suite in SUITES:
        assert f"## `{suite}`" in committed


def test_data_docs_keep_the_latest_runs_of_each_suite(tmp_path):
    import os

    from expectations.gate import prune_validations

    store = tmp_path / "validations"
    for suite in ("raw_census", "raw_sensors"):
        for n in range(4):
            run = store / suite / f"run{n}"
            run.mkdir(parents=True)
            os.utime(run, ns=(n * 10**9, n * 10**9))  # run3 is the newest
    assert prune_validations(store, keep=2) == 4
    assert sorted(p.name for p in (store / "raw_census").iterdir()) == ["run2", "run3"]
    assert prune_validations(tmp_path / "absent", keep=2) == 0


def test_the_disclosure_columns_apply_the_city_rules_at_their_thresholds():
    """The SQL behind the disclosure checks, on cells at, below and above each threshold (min_count 5,
    sensitive: 50 cases and 10 events)."""
    import duckdb

    from cities import load_city
    from expectations.suites import read_published_snapshot

    city = load_city("la_paz_demo")
    cells = [  # area, indicator, numerator, denominator, suppression
        ("A", "share", 4, 40, None), ("B", "share", 5, 40, None), ("C", "share", 0, 40, None),
        ("D", "share", 36, 40, None), ("E", "share", 35, 40, None), ("F", "share", 40, 40, None),
        ("G", "rate", 38, 40, None), ("H", "violence", 9, 60, None), ("I", "violence", 10, 49, None),
        ("J", "violence", 10, 50, None), ("K", "share", None, None, "secondary"), ("L", "pm", 1, 1, None),
        ("M", "contrib", 3, 40, None),  # a weighted numerator (AF contributions): not a count
    ]
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.indicator_catalogue (city VARCHAR, indicator_id VARCHAR, unit VARCHAR, "
                    "min_denominator INTEGER, sensitive BOOLEAN, weighted BOOLEAN)")
        con.execute("INSERT INTO marts.indicator_catalogue VALUES (?, 'share', 'share', 20, false, false), "
                    "(?, 'rate', 'per 1000', 20, false, false), (?, 'violence', 'per 1000', 20, true, false), "
                    "(?, 'pm', 'µg/m³', 0, false, false), (?, 'contrib', 'share', 20, false, true)", [city.name] * 5)
        con.execute("CREATE TABLE marts.indicator_values (city VARCHAR, area_id VARCHAR, indicator_id VARCHAR, "
                    "period VARCHAR, level VARCHAR, value DOUBLE, numerator DOUBLE, denominator DOUBLE, "
                    "suppressed BOOLEAN, suppression VARCHAR)")
        for area, indicator, num, den, reason in cells:
            con.execute("INSERT INTO marts.indicator_values VALUES (?, ?, ?, '2024', 'zona', ?, ?, ?, ?, ?)",
                        [city.name, area, indicator, None if num is None else num / den, num, den,
                         reason is not None, reason])
        frame = read_published_snapshot(con, city, "2024").set_index("area_id")
    flagged = set(frame.index[frame["small_count"] != "ok"])
    assert flagged == {"A", "D", "H"}  # 4 of 40; 36 of 40 (4 without); 9 violent reports (sensitive: 10)
    assert frame.loc["A", "small_count"] == "A share: 4.0 of 40.0"
    assert set(frame.index[frame["denominator_margin"] < 0]) == {"I"}  # sensitive: 49 < 50
    assert frame.loc["K", "reason"] == "secondary" and frame["reason_consistent"].all()
