"""The boundary gate (transforms/boundaries.py): each rule on a small planted delivery, at and past its limit,
and a rejected delivery leaving raw.boundaries as it was."""

from __future__ import annotations

import pandas as pd
import pytest

from cities import CityConfigError
from tests.configs import city_with
from transforms.boundaries import BoundaryError, BoundaryRules, check_boundaries

LEVELS = [{"id": "zona", "code": "zone_code", "name": "zone_name"},
          {"id": "distrito", "code": "district_code", "name": "district_name"}]
RULES = BoundaryRules(envelope=(0.0, 0.0, 10.0, 10.0), max_zone_share=0.5, max_overlap_share=0.01)


def square(x: float, y: float, size: float = 1.0) -> str:
    return f"POLYGON (({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, {x} {y}))"


def delivery(**changes) -> pd.DataFrame:
    """Three unit squares side by side: Z1, Z2 in D1, Z3 in D2; `changes` maps a row index to column values."""
    frame = pd.DataFrame({
        "zone_code": ["Z1", "Z2", "Z3"], "zone_name": ["Uno", "Dos", "Tres"],
        "district_code": ["D1", "D1", "D2"], "district_name": ["Norte", "Norte", "Sur"],
        "geometry_wkt": [square(1, 1), square(2, 1), square(3, 1)], "_row": [1, 2, 3],
    })
    for row, values in changes.items():
        for column, value in values.items():
            frame.loc[int(row[1:]), column] = value
    return frame


def check(frame: pd.DataFrame, rules: BoundaryRules = RULES) -> None:
    check_boundaries(frame, "boundaries/zones.geojson", LEVELS, rules)


def test_a_clean_delivery_passes():
    check(delivery())


@pytest.mark.parametrize(("changes", "message"), [
    ({"r1": {"geometry_wkt": None}}, "row 2, field geometry: no geometry"),
    ({"r1": {"geometry_wkt": "POLYGON ((1 1, 2"}}, "row 2, field geometry: unreadable geometry"),
    ({"r1": {"geometry_wkt": "POINT (2.5 1.5)"}}, "row 2, field geometry: a Point, not an area"),
    ({"r1": {"geometry_wkt": "POLYGON ((2 1, 3 2, 3 1, 2 2, 2 1))"}},
     r"row 2, field geometry: an invalid polygon \(Self-intersection"),
    ({"r2": {"zone_code": "Z1"}}, "row 3, field zone_code: code 'Z1' also on row 1"),
    ({"r1": {"zone_code": "\u0417" + "2"}}, r"row 2, field zone_code: code 'З2' is not as declared"),  # Cyrillic Ze
    ({"r1": {"zone_code": "Z2 "}}, "row 2, field zone_code: code 'Z2 ' is not as declared"),
    ({"r1": {"zone_code": "=HYPERLINK(1)"}}, r"row 2, field zone_code: code '=HYPERLINK\(1\)' is not as declared"),
    ({"r1": {"district_name": "Sur"}}, "row 2, field district_name: distrito 'D1' has more than one"),
    ({"r2": {"geometry_wkt": square(30, 30)}}, r"row 3, field geometry: lies outside the city's envelope"),
    ({"r2": {"geometry_wkt": square(1.5, 0.5, 8)}}, r"row 3, field geometry: covers 97% of the city's area"),
    ({"r2": {"geometry_wkt": square(2.5, 1)}}, r"row 3, field geometry: overlaps row 2"),
])
def test_a_bad_delivery_is_rejected_naming_the_row_and_field(changes, message):
    with pytest.raises(BoundaryError, match=rf"^boundaries/zones.geojson: {message}"):
        check(delivery(**changes))


@pytest.mark.parametrize(("share", "passes"), [(0.34, True), (0.33, False)])
def test_the_zone_share_limit_at_and_past_it(share, passes):
    """Three equal squares: each is 1/3 (0.333...) of the city."""
    rules = BoundaryRules(envelope=RULES.envelope, max_zone_share=share)
    if passes:
        check(delivery(), rules)
    else:
        with pytest.raises(BoundaryError, match="more than max_zone_share 33%"):
            check(delivery(), rules)


@pytest.mark.parametrize(("limit", "passes"), [(0.1, True), (0.05, False)])
def test_the_overlap_limit_at_and_past_it(limit, passes):
    """Z3 shifted 0.2 into Z2: 0.2 of 3 = 6.7% of the area overlaps."""
    frame = delivery(r2={"geometry_wkt": square(2.8, 1)})
    rules = BoundaryRules(envelope=RULES.envelope, max_overlap_share=limit)
    if passes:
        check(frame, rules)
    else:
        with pytest.raises(BoundaryError, match="overlaps row 2"):
            check(frame, rules)


def test_a_multipolygon_and_a_gap_are_fine():
    frame = delivery(r2={"geometry_wkt": "MULTIPOLYGON (((5 1, 6 1, 6 2, 5 2, 5 1)), ((7 1, 8 1, 8 2, 7 2, 7 1)))"})
    check(frame)


@pytest.mark.parametrize(("block", "message"), [
    ({"envelope": [1, 2, 3]}, "boundary_checks.envelope: expected"),
    ({"envelope": [10, 0, 0, 10]}, "boundary_checks.envelope: expected"),
    ({"max_zone_share": 2}, "boundary_checks.max_zone_share: Input should be less than or equal to 1"),
    ({"code_pattern": "("}, "boundary_checks.code_pattern: not a regular expression"),
    ({"envelop": [0, 0, 1, 1]}, "boundary_checks.envelop: unknown key"),
])
def test_bad_boundary_settings_name_the_key(block, message):
    city = city_with(boundary_checks=block)
    with pytest.raises(CityConfigError, match=message):
        BoundaryRules.of(city)


def test_a_rejected_delivery_leaves_raw_boundaries_as_it_was(tmp_path, monkeypatch):
    """One zone polygon covering the whole world: rejected, raw.boundaries keeps the last accepted delivery."""
    import json

    import duckdb

    from bienestar import settings
    from bienestar.demo import prepare_demo
    from cities import load_city
    from sources.deliveries import land_census

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("la_paz_demo")
    prepare_demo(city, scale=0.05)
    land_census(city, city.vintage)
    database = settings.paths().warehouse_for(city.name)

    def boundaries() -> list:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute("SELECT zone_code, geometry_wkt FROM raw.boundaries ORDER BY zone_code").fetchall()

    before = boundaries()
    path = settings.paths().landing_for(city.name) / city.config["boundaries"]
    collection = json.loads(path.read_text(encoding="utf-8"))
    collection["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [
        [[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(BoundaryError, match=r"zones.geojson: row 1, field geometry: lies outside the city's envelope"):
        land_census(city, city.vintage)
    assert boundaries() == before



@pytest.mark.parametrize(("square_at", "passes"), [
    ((0, 0), True),        # touching the envelope's lower-left corner: inside
    ((9, 9), True),        # touching its upper-right corner
    ((-0.1, 2), False),    # past min lon
    ((2, -0.1), False),    # past min lat
    ((9.1, 2), False),     # past max lon
    ((2, 9.1), False),     # past max lat
])
def test_the_envelope_at_each_edge(square_at, passes):
    frame = delivery(r2={"geometry_wkt": square(*square_at)})
    if passes:
        check(frame)
    else:
        with pytest.raises(BoundaryError, match="outside the city's envelope"):
            check(frame)


@pytest.mark.parametrize(("block", "valid"), [
    ({"envelope": [0, 0, 1, 1]}, True),
    ({"envelope": [1, 0, 1, 1]}, False),   # min lon = max lon: an empty box
    ({"envelope": [0, 1, 1, 1]}, False),   # min lat = max lat
    ({"max_zone_share": 0}, True), ({"max_zone_share": 1}, True), ({"max_zone_share": 1.01}, False),
    ({"max_zone_share": -0.01}, False), ({"max_overlap_share": True}, False),
])
def test_boundary_settings_at_their_limits(block, valid):
    city = city_with(boundary_checks=block)
    if valid:
        BoundaryRules.of(city)
    else:
        with pytest.raises(CityConfigError):
            BoundaryRules.of(city)


def test_a_share_exactly_at_the_limit_passes():
    """Two equal squares: each is exactly half the city."""
    frame = delivery().iloc[:2]
    check(frame, BoundaryRules(envelope=RULES.envelope, max_zone_share=0.5))
