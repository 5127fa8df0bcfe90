"""The boundary gate's rules pinned at their limits (transforms/boundaries.py): the default shares, the overlap
limit exactly at its share, the zone-share check for two zones and for a city smaller than one square degree,
the row each message names (delivered `_row`, or the 1-based position), and the consistency of names and
parents across three levels. Every expected number is computed by hand in the test's docstring or comment."""

from __future__ import annotations

import pandas as pd
import pytest

from cities import City, CityConfigError
from tests.configs import city_with
from transforms.boundaries import BoundaryError, BoundaryRules, boundary_check, check_boundaries

FILE = "boundaries/zones.geojson"
LEVELS = [{"id": level, "code": code, "name": name, "label_es": level, "label_en": level}
          for level, code, name in [("zona", "zone_code", "zone_name"), ("distrito", "district_code", "district_name"),
                                    ("macrodistrito", "macro_code", "macro_name")]]


def rectangle(x: float, y: float, width: float = 1.0, height: float = 1.0) -> str:
    return f"POLYGON (({x} {y}, {x + width} {y}, {x + width} {y + height}, {x} {y + height}, {x} {y}))"


def zones(*polygons: str, **columns: list | None) -> pd.DataFrame:
    """Zones Z1, Z2, ... (one per polygon), each its own district D1, D2, ..., all in macrodistrict M1; `columns`
    replaces whole columns (e.g. district_code=[...]; `_row=None` leaves `_row` out). A district's or
    macrodistrict's name is made from its code unless given."""
    n = len(polygons)
    frame = pd.DataFrame({"_row": list(range(1, n + 1)), "zone_code": [f"Z{k}" for k in range(1, n + 1)],
                          "zone_name": [f"Zona {k}" for k in range(1, n + 1)],
                          "district_code": [f"D{k}" for k in range(1, n + 1)], "macro_code": ["M1"] * n,
                          "geometry_wkt": list(polygons)})
    for column, values in columns.items():
        if values is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = values
    for level in ("district", "macro"):
        if f"{level}_name" not in frame:
            frame[f"{level}_name"] = "Area " + frame[f"{level}_code"]
    return frame


def row_of_squares(n: int) -> list[str]:
    """n unit squares side by side, from (0, 0)."""
    return [rectangle(k, 0) for k in range(n)]


def check(frame: pd.DataFrame, rules: BoundaryRules | None = None) -> None:
    check_boundaries(frame, FILE, LEVELS, rules or BoundaryRules())


def rejected(frame: pd.DataFrame, message: str, rules: BoundaryRules | None = None) -> None:
    """The whole message after the file, up to the problem's end (the fix follows)."""
    with pytest.raises(BoundaryError) as caught:
        check(frame, rules)
    assert str(caught.value).startswith(f"{FILE}: {message}"), str(caught.value)


def city(block: dict | None = None) -> City:
    return city_with(levels=LEVELS, **({"boundary_checks": block} if block is not None else {}))


# --- the defaults: max_zone_share 0.5, max_overlap_share 0.001, no envelope --------------------------------------

def test_a_city_without_boundary_checks_gets_the_defaults():
    assert BoundaryRules.of(city()) == BoundaryRules(envelope=None, max_zone_share=0.5, max_overlap_share=0.001)
    assert BoundaryRules.of(city({})) == BoundaryRules()


@pytest.mark.parametrize(("height", "passes"), [(1.99, True), (2.0, True), (2.01, False)])
def test_the_default_zone_share_is_a_half_at_below_and_above(height, passes):
    """Unit squares Z1, Z2 and a 1 x `height` rectangle Z3: Z3's share is height / (2 + height); at 2.0 it is
    2 / 4 = 0.5 exactly (allowed: the limit is `more than`), 1.99 / 3.99 = 0.4987 passes, 2.01 / 4.01 = 0.5012
    is rejected."""
    frame = zones(rectangle(0, 0), rectangle(1, 0), rectangle(2, 0, 1, height))
    check_default = boundary_check(city())  # the rules a city without `boundary_checks` gets
    if passes:
        check_default(frame, FILE)
    else:
        with pytest.raises(BoundaryError, match=r"^boundaries/zones.geojson: row 3, field geometry: covers 50% of "
                                                r"the city's area, more than max_zone_share 50%\. "):
            check_default(frame, FILE)


def test_a_zone_past_the_default_share_names_its_share():
    """Z3 = 1 x 2.5 next to two unit squares: 2.5 / 4.5 = 55.6%, shown as 56%."""
    rejected(zones(rectangle(0, 0), rectangle(1, 0), rectangle(2, 0, 1, 2.5)),
             "row 3, field geometry: covers 56% of the city's area, more than max_zone_share 50%.")


@pytest.mark.parametrize(("shift", "passes"), [(1.875, True), (2.0, True), (2.125, False)])
def test_the_default_overlap_share_at_below_and_above(shift, passes):
    """Two 1000 x 1000 squares, the second moved `shift` onto the first: total area 2,000,000 (each square counts
    whole), default limit 0.001 x 2,000,000 = 2000; the overlap is 1000 x shift: 1875 and 2000 (exactly the
    limit: allowed) pass, 2125 (0.10625%) is rejected. Binary fractions keep each square exactly half the city,
    which the default zone share allows."""
    frame = zones(rectangle(0, 0, 1000, 1000), rectangle(1000 - shift, 0, 1000, 1000))
    if passes:
        check(frame)
    else:
        rejected(frame, "row 2, field geometry: overlaps row 1 (0.11% of the area overlaps in all; at most 0.10%).")


def test_the_overlap_message_gives_the_shares():
    """Shift 3: 3000 of 2,000,000 = 0.15% overlaps; the limit 0.001 shows as 0.10%."""
    rejected(zones(rectangle(0, 0, 1000, 1000), rectangle(997, 0, 1000, 1000)),
             "row 2, field geometry: overlaps row 1 (0.15% of the area overlaps in all; at most 0.10%).")


@pytest.mark.parametrize(("limit", "passes"), [(0.125, True), (0.124, False)])
def test_a_configured_overlap_share_exactly_at_the_overlap(limit, passes):
    """Unit squares, the second moved 0.25 onto the first (to x 0.75): total 2, overlap 0.25 = 0.125 of it
    (binary fractions: exact). 0.125 is allowed, 0.124 is not."""
    frame = zones(rectangle(0, 0), rectangle(0.75, 0))
    rules = BoundaryRules(max_overlap_share=limit)
    if passes:
        check(frame, rules)
    else:
        rejected(frame, "row 2, field geometry: overlaps row 1 (12.50% of the area overlaps in all; at most 12.40%).",
                 rules)


# --- which deliveries the share and overlap checks apply to ------------------------------------------------------

def test_a_city_of_one_zone_passes():
    """The only zone is all of the city (share 1): nothing to compare it with, so the share check does not apply."""
    check(zones(rectangle(0, 0, 3, 2)))
    check(zones(rectangle(0, 0, 0.01, 0.01)))


def test_two_zones_are_checked():
    """Z1 1 x 1, Z2 1 x 3: Z2 is 3 / 4 = 75%."""
    rejected(zones(rectangle(0, 0), rectangle(1, 0, 1, 3)),
             "row 2, field geometry: covers 75% of the city's area, more than max_zone_share 50%.")


def test_a_city_smaller_than_one_square_degree_is_checked():
    """Real cities in lon/lat: zones of 0.01 degrees, the whole city 0.0004 square degrees. Z2 (0.01 x 0.03) is
    0.0003 / 0.0004 = 75%; in a second delivery Z2 overlaps Z1 by half (0.00005 of 0.0002 = 25%)."""
    rejected(zones(rectangle(-68.15, -16.5, 0.01, 0.01), rectangle(-68.14, -16.5, 0.01, 0.03)),
             "row 2, field geometry: covers 75% of the city's area, more than max_zone_share 50%.")
    rejected(zones(rectangle(-68.15, -16.5, 0.01, 0.01), rectangle(-68.145, -16.5, 0.01, 0.01)),
             "row 2, field geometry: overlaps row 1 (25.00% of the area overlaps in all; at most 0.10%).")


# --- geometries -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wkt", ["POLYGON EMPTY", "MULTIPOLYGON EMPTY", "GEOMETRYCOLLECTION EMPTY"])
def test_an_empty_geometry_is_rejected(wkt):
    rejected(zones(rectangle(0, 0), wkt, rectangle(2, 0)),
             "row 2, field geometry: an empty geometry. Every area needs its polygon")


def test_the_envelope_message_gives_the_bounds_to_four_decimals():
    """A zone at lon 30.123456 (lat 1.5 to 2.5): bounds rounded to 4 decimals, 30.1235 and 31.1235; the envelope
    from city.yaml as floats."""
    rules = BoundaryRules.of(city({"envelope": [0, 0, 10, 10]}))
    assert rules.envelope == (0.0, 0.0, 10.0, 10.0)
    rejected(zones(rectangle(1, 1), rectangle(30.123456, 1.5)),
             "row 2, field geometry: lies outside the city's envelope [0.0, 0.0, 10.0, 10.0] "
             "(bounds [30.1235, 1.5, 31.1235, 2.5]).", rules)


@pytest.mark.parametrize(("envelope", "valid"), [
    ([4, 0, 5, 10], True),
    ([5, 0, 4, 10], False),   # min lon past max lon (and below max lat)
    ([0, 5, 10, 4], False),   # min lat past max lat (and below max lon)
])
def test_an_envelope_with_min_past_max_is_refused(envelope, valid):
    if valid:
        assert BoundaryRules.of(city({"envelope": envelope})).envelope == tuple(map(float, envelope))
    else:
        with pytest.raises(CityConfigError, match=r"boundary_checks\.envelope: expected \[min_lon, min_lat"):
            BoundaryRules.of(city({"envelope": envelope}))


# --- the row a message names ------------------------------------------------------------------------------------

def test_without_row_numbers_the_position_is_named_from_1():
    """No `_row` column (a frame not from read_delivery): rows are counted from 1, up to the last."""
    frame = zones(*row_of_squares(3), _row=None)
    frame.loc[2, "zone_code"] = "Z 3"
    rejected(frame, "row 3, field zone_code: code 'Z 3' is not as declared")
    frame = zones(*row_of_squares(3), _row=None)
    frame.loc[0, "geometry_wkt"] = "POINT (0.5 0.5)"
    rejected(frame, "row 1, field geometry: a Point, not an area.")


def test_the_delivered_row_is_named():
    """`_row` as delivered (here 7, 9, 12: the file's own numbering) names the row, not the position."""
    frame = zones(*row_of_squares(3), _row=[7, 9, 12])
    frame.loc[2, "geometry_wkt"] = rectangle(1.5, 0)
    rejected(frame, "row 12, field geometry: overlaps row 9 (")


@pytest.mark.parametrize(("codes", "message"), [
    (["Z1", "Z2", "Z1", "Z2"], "row 30, field zone_code: code 'Z1' also on row 10."),
    (["Z1", "Z2", "Z2", "Z1"], "row 40, field zone_code: code 'Z1' also on row 10."),
    (["Z9", "Z1", "Z1", "Z1"], "row 30, field zone_code: code 'Z1' also on row 20."),
])
def test_a_duplicate_code_names_two_rows_holding_it(codes, message):
    """The first code (in row order) that repeats: the row of its second occurrence, and its first."""
    rejected(zones(*row_of_squares(4), zone_code=codes, _row=[10, 20, 30, 40]), message)


# --- names and parents across levels ----------------------------------------------------------------------------

def test_three_consistent_levels_pass():
    check(zones(*row_of_squares(4), district_code=["D1", "D1", "D2", "D2"], macro_code=["M1", "M1", "M2", "M2"]))
    check(zones(*row_of_squares(4), district_code=["D1", "D1", "D2", "D2"],
                district_name=["Norte", "Norte", "Sur", "Sur"], macro_name=["Centro"] * 4))


@pytest.mark.parametrize(("columns", "message"), [
    # D1 (rows 1, 2) in M1 and M2: its parent differs between its zones
    ({"district_code": ["D1", "D1", "D2"], "macro_code": ["M1", "M2", "M2"]},
     "row 2, field macro_code: distrito 'D1' has more than one macro_code across its zona rows."),
    # D1 consistent; D2 (rows 2, 3) named twice
    ({"district_code": ["D1", "D2", "D2"], "district_name": ["Norte", "Sur", "Sud"]},
     "row 3, field district_name: distrito 'D2' has more than one district_name across its zona rows."),
    # the top level: M1's name differs between its districts
    ({"macro_name": ["Centro", "Centro", "Periferia"]},
     "row 3, field macro_name: macrodistrito 'M1' has more than one macro_name across its distrito rows."),
    # D1 on three rows, the third with another name: the row that differs from the area's first is named
    ({"district_code": ["D1", "D1", "D1"], "district_name": ["Norte", "Norte", "Sur"]},
     "row 3, field district_name: distrito 'D1' has more than one district_name across its zona rows."),
])
def test_an_area_with_two_names_or_parents_is_rejected(columns, message):
    rejected(zones(*row_of_squares(3), **columns), message)


def test_zone_names_may_repeat():
    """Names are checked per area of the larger levels; two zones may share a name (the codes tell them apart)."""
    check(zones(*row_of_squares(2), zone_name=["Centro", "Centro"]))
