"""indicators/build_tables.py's rules on hand-made frames: a larger area's value and note from its members,
values outside the index's goalposts counted, an empty staging refused."""

import dataclasses

import pandas as pd
import pytest

from indicators.build_tables import _parent_note, outside_goalposts, parent_values
from indicators.engine import parse_spec

SOURCE = "weights: total population, census 2024"


@pytest.mark.parametrize(("used", "members", "notes", "expected"), [
    (0, 3, ["not asked in 2012"], "not asked in 2012"),            # no member measured, one reason: that reason
    (0, 3, ["not asked", "no figure"], "no mun area has both a value and a population"),
    (0, 3, [], "no mun area has both a value and a population"),
    (3, 3, [], f"population-weighted mean of its 3 mun areas' values; {SOURCE}"),
    (1, 3, [], f"population-weighted mean of 1 of its 3 mun areas' values (2 without a value or a population "
               f"left out); {SOURCE}"),
])
def test_a_larger_areas_note_says_how_its_value_was_made(used, members, notes, expected):
    assert _parent_note(used, members, notes, "mun", SOURCE) == expected


def test_one_measured_member_is_enough_for_a_value():
    """D has M1 (0.2, 100 persons) and M2 (no figure): its value is M1's, 0.2, from 1 of its 2 areas."""
    areas = pd.DataFrame({"area_id": ["D", "M1", "M2"], "level": ["dep", "mun", "mun"], "depth": [1, 0, 0],
                          "parent_id": [None, "D", "D"]})
    base = pd.DataFrame({"area_id": ["M1", "M2"], "level": "mun", "indicator_id": "x", "value": [0.2, None],
                         "note": [None, "no figure"]})
    out = parent_values(base, areas, pd.Series({"M1": 100, "M2": 50}), "2024", "2024").set_index("area_id")
    assert out.loc["D", "value"] == pytest.approx(0.2)
    assert out.loc["D", "note"].startswith("population-weighted mean of 1 of its 2 mun areas' values")


SPEC = parse_spec({
    "id": "wb", "unit": "area_id",
    "indicators": [{"id": "a", "direction": 1, "normalise": {"method": "goalposts", "min": 10, "max": 90}},
                   {"id": "b", "direction": 1, "normalise": {"method": "minmax"}}],
    "nodes": [{"id": "wb", "children": ["a", "b"]}],
})


def test_values_outside_the_goalposts_are_counted_at_and_past_each_end():
    values = pd.DataFrame({"indicator_id": ["a"] * 6 + ["b"] * 2,
                           "value": [9.9, 10, 50, 90, 90.1, None, -5, 500]})  # b has no goalposts: never counted
    assert outside_goalposts(values, SPEC) == 2  # 9.9 and 90.1; 10 and 90 are on the goalposts
    assert outside_goalposts(values[values["indicator_id"] == "b"], SPEC) == 0


def test_build_refuses_a_city_with_nothing_staged(tmp_path, monkeypatch):
    from bienestar import warehouse
    from cities import load_city
    from indicators.build_tables import build_table_marts

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("bolivia_municipal")
    with warehouse.session(city) as con:
        con.execute("CREATE TABLE staging.areas (city VARCHAR, area_id VARCHAR, level VARCHAR, depth INTEGER, "
                    "name VARCHAR, parent_id VARCHAR, geometry_wkt VARCHAR)")
        con.execute("INSERT INTO staging.areas VALUES (?, 'M1', 'municipio', 0, 'x', NULL, NULL)", [city.name])
        con.execute("CREATE TABLE staging.area_indicator_values (city VARCHAR, area_id VARCHAR, "
                    "indicator_id VARCHAR, period VARCHAR, value DOUBLE, population BIGINT, note VARCHAR)")
    with pytest.raises(RuntimeError, match="no staged census tables for 'bolivia_municipal'"):
        build_table_marts(dataclasses.replace(city))
