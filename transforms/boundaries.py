"""The boundary gate: a boundaries delivery that would misplace people is rejected before `raw` is touched.

Every household, service record and sensor is placed by these polygons, so one bad polygon corrupts every number
(one zone covering the world once put all 21,196 households in Z001 with every gate green). `boundary_check(city)`
returns the check `sources.files.land` runs on the delivered rows before writing anything; it raises
`BoundaryError` naming the file, the row, the field and what to do when

- a geometry is missing, unreadable, not a polygon (a Point, a line), or invalid (self-intersecting, a ring not
  closed: shapely's `is_valid`). Invalid polygons are rejected, not repaired: `make_valid` may turn a bow-tie into
  two triangles or drop a sliver, i.e. change who lives where, and that is the city's decision to make in its GIS;
- an area code is not as declared: it must be NFC-normalised, ASCII (a Cyrillic "Z" looks like a Latin one) and
  match `boundary_checks.code_pattern` (default: letters, digits, `_ . -`, starting with a letter or digit);
- a smallest-area code appears twice (the second polygon would be silently dropped), or one area's name or parent
  differs between its rows;
- a polygon lies outside the city's `boundary_checks.envelope` (lon/lat box: a zone moved far away or a
  swapped lon/lat), or covers more than `max_zone_share` of the city's total area (a polygon covering everything);
- polygons overlap by more than `max_overlap_share` of the total area (a point in an overlap would go to one of
  them by the border rule; a sliver from digitising is tolerated).

Larger areas are the unions of their members (`transforms.areas.areas_from_boundaries`), so parents always cover
their children exactly; gaps between zones are allowed (lakes, unpopulated land): a point in a gap is quarantined
as `outside`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from cities import City
from cities.schema import BoundaryChecks

_DEFAULTS = BoundaryChecks()


class BoundaryError(ValueError):
    """A boundaries delivery that cannot be used; the message names the file, row and field."""


@dataclass(frozen=True)
class BoundaryRules:
    """The boundary gate's rules (`boundary_checks:` in city.yaml; defaults and checks in cities/schema.py)."""

    envelope: tuple[float, float, float, float] | None = _DEFAULTS.envelope  # min lon, min lat, max lon, max lat
    max_zone_share: float = _DEFAULTS.max_zone_share
    max_overlap_share: float = _DEFAULTS.max_overlap_share
    code_pattern: str = _DEFAULTS.code_pattern

    @classmethod
    def of(cls, city: City) -> BoundaryRules:
        return cls(**city.settings.boundary_checks.model_dump())


def boundary_check(city: City) -> Callable[[pd.DataFrame, str], None]:
    """The check `land` runs on a boundaries delivery (rows with `geometry_wkt`, the level columns, `_row`)."""
    rules = BoundaryRules.of(city)
    return lambda frame, file: check_boundaries(frame, file, city.levels, rules)


def check_boundaries(frame: pd.DataFrame, file: str, levels: list[dict], rules: BoundaryRules) -> None:
    """Raise BoundaryError at the first problem (see the module doc); return when the delivery is usable."""
    rows = frame["_row"].to_numpy() if "_row" in frame else np.arange(1, len(frame) + 1)

    def fail(i: int, field: str, problem: str, fix: str) -> None:
        raise BoundaryError(f"{file}: row {rows[i]}, field {field}: {problem}. {fix}")

    geometries = _geometries(frame["geometry_wkt"], fail)
    for i, geometry in enumerate(geometries):
        if shapely.get_type_id(geometry) not in (3, 6):  # Polygon, MultiPolygon
            fail(i, "geometry", f"a {geometry.geom_type}, not an area", "Deliver polygons of the areas")
        if not shapely.is_valid(geometry):
            fail(i, "geometry", f"an invalid polygon ({shapely.is_valid_reason(geometry)})",
                 "Repair it in the city's GIS (e.g. QGIS 'Fix geometries') and deliver again; the pipeline does not "
                 "repair polygons, because a repair can change who lives where")
    pattern = re.compile(rules.code_pattern)
    for level in levels:
        for column in (level["code"],):
            for i, code in enumerate(frame[column].astype(str)):
                if unicodedata.normalize("NFC", code) != code or not code.isascii() or not pattern.fullmatch(code):
                    fail(i, column, f"code {code!r} is not as declared (NFC, ASCII, pattern {rules.code_pattern})",
                         "Use the city's plain codes; look-alike letters from other alphabets are not the same code")
    smallest = levels[0]["code"]
    codes = frame[smallest].astype(str)
    repeated = codes[codes.duplicated(keep=False)]
    if len(repeated):
        first = repeated[repeated == repeated.iloc[0]].index[:2]  # two rows of the same code
        fail(int(np.flatnonzero(frame.index == first[1])[0]), smallest,
             f"code {repeated.iloc[0]!r} also on row {rows[np.flatnonzero(frame.index == first[0])[0]]}",
             "Each smallest area is one row; merge the polygons into a MultiPolygon or fix the code")
    for depth, level in enumerate(levels[1:], start=1):
        below = levels[depth - 1]
        for column in [level["name"]] + ([levels[depth + 1]["code"]] if depth + 1 < len(levels) else []):
            spread = frame.groupby(frame[level["code"]].astype(str))[column].nunique()
            if (spread > 1).any():
                code = spread[spread > 1].index[0]
                members = np.flatnonzero(frame[level["code"]].astype(str).to_numpy() == code)
                values = frame[column].astype(str).to_numpy()[members]
                i = int(members[values != values[0]][0])  # the first of its rows that differs from its first
                fail(i, column, f"{level['id']} {code!r} has more than one {column} across its {below['id']} rows",
                     "Give every row of an area the same name and parent")
    areas = shapely.area(geometries)
    total = float(areas.sum())
    if rules.envelope is not None:
        min_x, min_y, max_x, max_y = rules.envelope
        bounds = shapely.bounds(geometries)
        outside = (bounds[:, 0] < min_x) | (bounds[:, 1] < min_y) | (bounds[:, 2] > max_x) | (bounds[:, 3] > max_y)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            box = [round(float(v), 4) for v in bounds[i]]
            fail(i, "geometry", f"lies outside the city's envelope {list(rules.envelope)} (bounds {box})",
                 "Check the coordinates (lon/lat swapped? another CRS?) or the envelope in city.yaml "
                 "(boundary_checks.envelope)")
    if total > 0 and len(geometries) > 1:
        share = areas / total
        if (share > rules.max_zone_share).any():
            i = int(np.argmax(share))
            fail(i, "geometry", f"covers {share[i]:.0%} of the city's area, more than max_zone_share "
                 f"{rules.max_zone_share:.0%}", "A polygon that large would take in everyone; check the delivery")
        tree = shapely.STRtree(geometries)
        left, right = tree.query(geometries, predicate="intersects")
        pairs = left < right
        overlap = shapely.area(shapely.intersection(geometries[left[pairs]], geometries[right[pairs]]))
        if overlap.sum() > rules.max_overlap_share * total:
            k = int(np.argmax(overlap))
            i, j = int(left[pairs][k]), int(right[pairs][k])
            fail(j, "geometry", f"overlaps row {rows[i]} ({overlap.sum() / total:.2%} of the area overlaps in all; "
                 f"at most {rules.max_overlap_share:.2%})", "Areas must not overlap: a household there would be "
                 "counted in only one of them by chance; fix the polygons")


def _geometries(wkt: pd.Series, fail) -> np.ndarray:
    out = np.empty(len(wkt), dtype=object)
    for i, text in enumerate(wkt):
        if text is None or pd.isna(text) or not str(text).strip():
            fail(i, "geometry", "no geometry", "Every area needs its polygon")
        try:
            geometry = shapely.from_wkt(str(text))
        except shapely.errors.GEOSException as exc:
            fail(i, "geometry", f"unreadable geometry ({exc})", "Deliver valid GeoJSON or WKT")
        if geometry is None or geometry.is_empty:
            fail(i, "geometry", "an empty geometry", "Every area needs its polygon")
        out[i] = geometry
    return out
