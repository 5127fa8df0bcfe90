"""Service indicators (rates per 1,000, coverage ratios, period filter, roll-up) against values computed by hand."""

import pandas as pd
import pytest

from indicators.area_indicators import roll_up
from indicators.service_indicators import SERVICE_INDICATORS, period_bounds, service_counts, service_denominators
from transforms.areas import area_parents

AREAS = pd.DataFrame({
    "area_id": ["Z1", "Z2", "D1"],
    "level": ["zona", "zona", "distrito"],
    "depth": [0, 0, 1],
    "parent_id": ["D1", "D1", None],
})
BASE_IDS = ["Z1", "Z2"]


def persons():
    # Z1: 5 residents, aged 4 and 19 are school age (3 and 20 are not, the missing age is not) -> 2
    # Z2: 3 residents, the 10-year-old is school age -> 1
    return pd.DataFrame({
        "area_id": ["Z1"] * 5 + ["Z2"] * 3,
        "age": pd.array([3, 4, 19, 20, None, 10, 40, 70], dtype="Int64"),
    })


def households():
    # Z1: 4 households, 2 piped (inside, outside); the well is not, the unreported one is in neither count
    # Z2: 2 households, 1 piped
    return pd.DataFrame({
        "area_id": ["Z1", "Z1", "Z1", "Z1", "Z2", "Z2"],
        "water_source": ["piped_inside", "piped_outside", "well", None, "public_tap", "piped_inside"],
    })


def records():
    rows = [
        # health visits: Z1 two in June (its first and its last second), one just before, one just after
        ("health_visits", "2024-06-01 00:00:00", "Z1", "outpatient"),
        ("health_visits", "2024-06-30 23:59:59", "Z1", "dental"),
        ("health_visits", "2024-05-31 23:59:59", "Z1", "outpatient"),
        ("health_visits", "2024-07-01 00:00:00", "Z1", "outpatient"),
        ("health_visits", "2024-06-10 09:00:00", "Z2", "vaccination"),
        # police reports: Z1 five (three violent, one without category), Z2 one traffic accident
        ("police_reports", "2024-06-02 22:00:00", "Z1", "robbery"),
        ("police_reports", "2024-06-03 22:00:00", "Z1", "theft"),
        ("police_reports", "2024-06-04 22:00:00", "Z1", "domestic_violence"),
        ("police_reports", "2024-06-05 22:00:00", "Z1", "assault"),
        ("police_reports", "2024-06-06 22:00:00", "Z1", None),
        ("police_reports", "2024-06-07 22:00:00", "Z2", "traffic_accident"),
        # water outages: three in Z1, none in Z2
        ("water_outages", "2024-06-08 07:00:00", "Z1", "no_supply"),
        ("water_outages", "2024-06-09 07:00:00", "Z1", "low_pressure"),
        ("water_outages", "2024-06-10 07:00:00", "Z1", "pipe_burst"),
        # enrolments: Z1 two regular + one alternative (left out); Z2 two secondary
        ("school_enrolments", "2024-06-11 10:00:00", "Z1", "primary"),
        ("school_enrolments", "2024-06-11 10:00:00", "Z1", "initial"),
        ("school_enrolments", "2024-06-11 10:00:00", "Z1", "alternative_education"),
        ("school_enrolments", "2024-06-12 10:00:00", "Z2", "secondary"),
        ("school_enrolments", "2024-06-12 10:00:00", "Z2", "secondary"),
        ("waste_complaints", "2024-06-13 10:00:00", "Z2", "illegal_dump"),
        # placed in no known smallest area: never counted
        ("waste_complaints", "2024-06-13 10:00:00", "Z9", "illegal_dump"),
    ]
    frame = pd.DataFrame(rows, columns=["family", "occurred_at", "area_id", "category"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame["record_id"] = [f"R{i:02d}" for i in range(len(frame))]
    return frame


def counts_of(counts, area, indicator):
    row = counts[(counts["area_id"] == area) & (counts["indicator_id"] == indicator)].iloc[0]
    return row["numerator"], row["denominator"], row["multiplier"]


def rate(counts, area, indicator):
    numerator, denominator, multiplier = counts_of(counts, area, indicator)
    return numerator / denominator * multiplier


def test_denominators_by_hand():
    table = service_denominators(households(), persons(), BASE_IDS).set_index("area_id")
    assert table.loc["Z1"].tolist() == [5, 2, 2]  # residents, aged 4-19, piped households
    assert table.loc["Z2"].tolist() == [3, 1, 1]


def test_rates_per_1000_residents_by_hand():
    counts = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-06")
    # health visits in June: Z1 2 / 5 residents x 1000 = 400; Z2 1 / 3 x 1000 = 333.33
    assert counts_of(counts, "Z1", "health_visits_rate") == (2, 5, 1000)
    assert rate(counts, "Z2", "health_visits_rate") == pytest.approx(1000 / 3)
    # police: Z1 5 / 5 x 1000 = 1000; violent (robbery, domestic violence, assault) 3 / 5 x 1000 = 600
    assert rate(counts, "Z1", "police_report_rate") == pytest.approx(1000)
    assert rate(counts, "Z1", "violent_report_rate") == pytest.approx(600)
    # Z2's traffic accident is a report but not a violent one: 1 / 3 x 1000 and 0 / 3
    assert rate(counts, "Z2", "police_report_rate") == pytest.approx(1000 / 3)
    assert counts_of(counts, "Z2", "violent_report_rate") == (0, 3, 1000)
    # waste: Z2 1 / 3 x 1000; Z1 has none -> a real zero, not a gap; the record in Z9 is not counted anywhere
    assert rate(counts, "Z2", "waste_complaint_rate") == pytest.approx(1000 / 3)
    assert counts_of(counts, "Z1", "waste_complaint_rate") == (0, 5, 1000)
    assert set(counts["area_id"]) == {"Z1", "Z2"}


def test_coverage_ratios_by_hand():
    counts = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-06")
    # outages per 1,000 piped households: Z1 3 / 2 x 1000 = 1500; Z2 0 / 1
    assert counts_of(counts, "Z1", "water_outage_rate") == (3, 2, 1000)
    assert rate(counts, "Z1", "water_outage_rate") == 1500
    assert counts_of(counts, "Z2", "water_outage_rate") == (0, 1, 1000)
    # regular enrolments per 100 aged 4-19: Z1 (primary + initial) 2 / 2 x 100 = 100, alternative left out;
    # Z2 2 / 1 x 100 = 200: a gross ratio, above 100 where a zone enrols more than its own children
    assert counts_of(counts, "Z1", "school_enrolment_ratio") == (2, 2, 100)
    assert rate(counts, "Z2", "school_enrolment_ratio") == 200


def test_period_filter_year_and_month():
    june = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-06")
    year = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024")
    may = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-05")
    # Z1 health visits: June keeps 06-01 00:00:00 and 06-30 23:59:59 -> 2; the year adds 05-31 and 07-01 -> 4
    assert counts_of(june, "Z1", "health_visits_rate")[0] == 2
    assert counts_of(year, "Z1", "health_visits_rate")[0] == 4
    assert counts_of(may, "Z1", "health_visits_rate")[0] == 1
    assert period_bounds("2024-12") == (pd.Timestamp("2024-12-01"), pd.Timestamp("2025-01-01"))
    for bad in ("2024-13", "June 2024", "24"):
        with pytest.raises(ValueError, match="YYYY"):
            period_bounds(bad)


def test_every_indicator_every_area_in_counts_format():
    counts = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-06")
    assert list(counts.columns) == ["area_id", "numerator", "denominator", "indicator_id", "multiplier"]
    assert len(counts) == len(SERVICE_INDICATORS) * len(BASE_IDS)


def test_district_equals_the_pooled_computation():
    counts = service_counts(records(), service_denominators(households(), persons(), BASE_IDS), "2024-06")
    district = roll_up(counts, area_parents(AREAS))
    district = district[district["area_id"] == "D1"].set_index("indicator_id")
    # the same records, households and persons as if D1 were one zone
    pooled = service_counts(records().replace({"area_id": {"Z1": "D1", "Z2": "D1"}}),
                            service_denominators(households().assign(area_id="D1"), persons().assign(area_id="D1"),
                                                 ["D1"]), "2024-06")
    pooled = pooled.set_index("indicator_id")
    for indicator in SERVICE_INDICATORS:
        assert district.loc[indicator, ["numerator", "denominator"]].tolist() == \
            pooled.loc[indicator, ["numerator", "denominator"]].tolist()
    # health visits: (2 + 1) / (5 + 3) x 1000 = 375, not the mean of the zones' rates (400 + 333.3) / 2 = 366.7
    row = district.loc["health_visits_rate"]
    assert row["numerator"] / row["denominator"] * row["multiplier"] == 375
