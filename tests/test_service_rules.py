"""Service rules at their boundaries: a year runs from its first second to the next year's, and a smallest area
without census persons or households has denominators of 0, not 1. Values by hand."""

import pandas as pd

from indicators.service_indicators import period_bounds, service_counts, service_denominators
from tests.test_service_indicators import counts_of, households, persons


def visits(*stamps):
    return pd.DataFrame({"family": "health_visits", "occurred_at": pd.to_datetime(list(stamps)), "area_id": "Z1",
                         "category": "outpatient", "record_id": [f"R{i}" for i in range(len(stamps))]})


def test_a_year_runs_to_the_next_years_first_second():
    assert period_bounds("2024") == (pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"))
    records = visits("2023-12-31 23:59:59", "2024-01-01 00:00:00", "2024-12-31 23:59:59", "2025-01-01 00:00:00",
                     "2025-06-15 12:00:00")
    counts = service_counts(records, service_denominators(households(), persons(), ["Z1", "Z2"]), "2024")
    # in 2024: its first and its last second -> 2; the second before, 2025's first second and mid-2025 are not
    assert counts_of(counts, "Z1", "health_visits_rate") == (2, 5, 1000)


def test_an_area_without_census_persons_or_households_has_zero_denominators():
    # Z3 is a smallest area with no census person and no household (persons and households place none there)
    table = service_denominators(households(), persons(), ["Z1", "Z2", "Z3"]).set_index("area_id")
    assert table.loc["Z3"].tolist() == [0, 0, 0]  # residents, aged 4-19, piped households
    assert table.loc["Z1"].tolist() == [5, 2, 2]
    denominators = service_denominators(households(), persons(), ["Z1", "Z2", "Z3"])
    counts = service_counts(visits("2024-06-01 10:00:00"), denominators, "2024-06")
    # no record and no residents: 0 over 0 (a rate without a denominator, not 0 per 1,000 over 1 resident)
    assert counts_of(counts, "Z3", "health_visits_rate") == (0, 0, 1000)
    assert counts_of(counts, "Z3", "water_outage_rate") == (0, 0, 1000)
