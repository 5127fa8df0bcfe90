"""transforms/census_tables.py's rules on hand-made frames: percentages above 100, shares to 12 decimals."""

import pandas as pd
import pytest

from transforms.census_tables import flag_percent_out_of_range, in_stored_units

CATALOGUE = pd.DataFrame({"indicator_id": ["pct", "rate"], "unit": ["percent", "per 1000"]})


def values(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"area_id": f"A{n}", "indicator_id": i, "period": "2024", "value": v,
                          "_delivery": "data/t.csv", "_row": n, "_field": "2024"} for n, (i, v) in enumerate(rows, 1)])


def test_a_percentage_above_100_is_left_empty_and_named():
    out, entries = flag_percent_out_of_range(values([("pct", 100.0), ("pct", 100.01), ("rate", 250.0),
                                                     ("pct", None)]), CATALOGUE)
    assert out["value"].iloc[0] == 100.0 and pd.isna(out["value"].iloc[1]) and out["value"].iloc[2] == 250.0
    assert [(e["row"], e["record_id"], e["field"]) for e in entries] == [(2, "A2", "2024")]
    assert entries[0]["reason"].startswith("pct: 100.01 is above 100 (expected a percentage)")
    assert entries[0]["delivery"] == "data/t.csv" and entries[0]["action"] == "flagged"


@pytest.mark.parametrize(("percent", "share"), [(71.2, 0.712), (33.333333, 0.33333333), (100.0, 1.0), (0.0, 0.0)])
def test_percentages_are_stored_as_shares_to_12_decimals(percent, share):
    out = in_stored_units(values([("pct", percent), ("rate", 71.2)]), CATALOGUE)
    assert out["value"].iloc[0] == share  # exactly: 71.2 / 100 is 0.7120000000000001 before rounding
    assert out["unit"].tolist() == ["share", "per 1000"] and out["value"].iloc[1] == 71.2


def test_shares_keep_the_figures_6_decimals():
    """A figure with 6 decimals (12.345678 %) keeps all of them as a share (0.12345678): 12 decimals, not 11."""
    out = in_stored_units(values([("pct", 12.345678), ("pct", 0.000000001 * 100)]), CATALOGUE)
    assert out["value"].iloc[0] == 0.12345678
    assert out["value"].iloc[1] == 1e-9  # 1e-7 % is 1e-9: kept at 12 decimals, lost at fewer than 9
    # ... and no more than 12: 1.23456789012345 % is 0.0123456789012345, stored as 0.012345678901
    assert in_stored_units(values([("pct", 1.23456789012345)]), CATALOGUE)["value"].iloc[0] == 0.012345678901
