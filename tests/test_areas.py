"""transforms/areas.py: larger areas are the unions of their members, stored valid at the 1e-7 degree grid."""

import pandas as pd
import shapely

from cities import load_city
from transforms.areas import areas_from_boundaries

CITY = load_city("la_paz_demo")  # levels: zona < distrito < macrodistrito


def boundaries(polygons: dict[str, str]) -> pd.DataFrame:
    """Zones (code -> WKT) of one district D1 in one macrodistrict MD1."""
    zona, distrito, macro = CITY.levels
    return pd.DataFrame({zona["code"]: list(polygons), zona["name"]: list(polygons),
                         distrito["code"]: "D1", distrito["name"]: "Distrito 1", macro["code"]: "MD1",
                         macro["name"]: "Centro", "geometry_wkt": list(polygons.values())})


def test_a_ring_thinner_than_the_grid_leaves_a_valid_area_at_every_level():
    """Z1 is a square with a hole 2e-8 wide (valid as delivered): rounded to 7 decimals its hole collapses to a
    line, an invalid polygon; snapped to the grid keeping validity the hole goes and the area stays valid."""
    hole = "(0.5 0.5, 0.50000002 0.5, 0.50000001 0.50000002, 0.5 0.5)"
    z1 = f"POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0), {hole})"
    assert shapely.is_valid(shapely.from_wkt(z1))
    assert not shapely.is_valid(shapely.from_wkt(shapely.to_wkt(shapely.from_wkt(z1), rounding_precision=7)))
    z2 = "POLYGON ((1 0, 2 0, 2 1, 1 1, 1 0))"
    areas = areas_from_boundaries(CITY, boundaries({"Z1": z1, "Z2": z2})).set_index("area_id")
    assert set(areas.index) == {"Z1", "Z2", "D1", "MD1"}
    for area_id, wkt in areas["geometry_wkt"].items():
        assert shapely.is_valid(shapely.from_wkt(wkt)), area_id
    # the parents are the unions: 2 x 1 rectangles
    assert shapely.area(shapely.from_wkt(areas.loc["D1", "geometry_wkt"])) == 2.0
    assert areas.loc["Z1", "parent_id"] == "D1" and areas.loc["D1", "parent_id"] == "MD1"
