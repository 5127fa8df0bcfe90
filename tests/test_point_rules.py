"""The grid point index's rules (transforms.point_index), each worked out by hand: the grid's shape and padding,
which cells an area owns outright and which a border crosses, the grid's edges, and the smallest-id border rule,
with shapely's own `intersects` answer (transforms.areas.place_points) as the oracle on seeded random points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from transforms.areas import place_points
from transforms.point_index import (
    CACHED_GRIDS,
    EMPTY,
    GRID_FROM_POINTS,
    MIXED,
    PointIndex,
    grid_for,
    place_points_fast,
    uses_grid,
)

# Two 2 x 2 squares side by side, listed out of id order: A = [0, 2] x [0, 2], B = [2, 4] x [0, 2].
TWO = pd.DataFrame({"area_id": ["B", "A", "D1"], "depth": [0, 0, 1],
                    "geometry_wkt": ["POLYGON ((2 0, 4 0, 4 2, 2 2, 2 0))", "POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))",
                                     "POLYGON ((0 0, 4 0, 4 2, 0 2, 0 0))"]})


def square(x0: float, y0: float, side: float = 1.0) -> str:
    return f"POLYGON (({x0} {y0}, {x0 + side} {y0}, {x0 + side} {y0 + side}, {x0} {y0 + side}, {x0} {y0}))"


def one(wkt: str) -> pd.DataFrame:
    return pd.DataFrame({"area_id": ["A"], "depth": [0], "geometry_wkt": [wkt]})


def test_the_grid_has_1024_cells_per_area_padded_by_a_billionth():
    index = PointIndex(TWO)
    # 2 areas x 1,024 = 2,048 cells over a 4 x 2 box: nx = round(sqrt(2048 * 4 / 2)) = 64, ny = ceil(2048 / 64) = 32.
    assert (index.nx, index.ny) == (64, 32)
    # pad = 1e-9 x the larger side (4) = 4e-9 on every side.
    assert (index.x0, index.y0) == (-4e-9, -4e-9)
    assert index.dx == (4 + 8e-9) / 64 and index.dy == (2 + 8e-9) / 32
    assert list(index.area_ids) == ["A", "B"]  # depth 0 only, in id order
    # One square: 1,024 cells, 32 x 32.
    single = PointIndex(one(square(0, 0)))
    assert (single.nx, single.ny) == (32, 32)
    assert single.x0 == -1e-9 and single.dx == (1 + 2e-9) / 32


def test_the_grid_shape_rounds_and_keeps_at_least_one_cell_each_way():
    # 1 cell per area on a 100 x 1 strip: nx = round(sqrt(1 * 100 / 1)) = 10, ny = ceil(1 / 10) = 1.
    wide = PointIndex(one("POLYGON ((0 0, 100 0, 100 1, 0 1, 0 0))"), cells_per_area=1)
    assert (wide.nx, wide.ny) == (10, 1)
    # On a 1 x 100 strip: nx = max(1, round(sqrt(0.01)) = 0) = 1, ny = ceil(1 / 1) = 1.
    tall = PointIndex(one("POLYGON ((0 0, 1 0, 1 100, 0 100, 0 0))"), cells_per_area=1)
    assert (tall.nx, tall.ny) == (1, 1)
    # 3 x 2 box, 5 cells per area: nx = round(sqrt(5 * 1.5)) = round(2.74) = 3, ny = ceil(5 / 3) = 2.
    small = PointIndex(one("POLYGON ((0 0, 3 0, 3 2, 0 2, 0 0))"), cells_per_area=5)
    assert (small.nx, small.ny) == (3, 2)
    assert small.dx == (3 + 6e-9) / 3 and small.dy == (2 + 6e-9) / 2


def test_the_cell_count_is_capped():
    # 2 areas x 1,000 = 2,000 cells, capped at 200: nx = round(sqrt(200 * 2)) = 20, ny = ceil(200 / 20) = 10.
    capped = PointIndex(TWO, cells_per_area=1000, max_cells=200)
    assert (capped.nx, capped.ny) == (20, 10)
    # Below the cap the per-area count decides: 2 x 50 = 100 < 200: nx = round(sqrt(200)) = 14, ny = ceil(100/14) = 8.
    under = PointIndex(TWO, cells_per_area=50, max_cells=200)
    assert (under.nx, under.ny) == (14, 8)
    # The default cap is 2 ** 21 cells (2,097,152: "~2 million at most").
    assert PointIndex.__init__.__kwdefaults__ == {"cells_per_area": 1024, "max_cells": 2 ** 21}


def test_areas_without_extent_get_a_grid_a_trillionth_wide():
    # A vertical segment (width 0, height 2): width is floored at 1e-12, so nx = max(1, round(sqrt(1024e-12 / 2)))
    # = 1 and ny = 1024 (a floor of 1 would give nx = round(sqrt(512)) = 23).
    line = PointIndex(one("POLYGON ((0 0, 0 1, 0 2, 0 0))"))
    assert (line.nx, line.ny) == (1, 1024)
    # A single point (width and height 0): a 1 x 1 grid 1e-12 + 2e-21 a side (the pad 1e-21 starts it at 5 itself).
    point = PointIndex(one("POLYGON ((5 5, 5 5, 5 5, 5 5))"), cells_per_area=1)
    assert (point.nx, point.ny) == (1, 1)
    assert point.dx == 1e-12 + 2e-21 and point.dy == 1e-12 + 2e-21 and (point.x0, point.y0) == (5.0, 5.0)


def test_cells_are_owned_outright_inside_an_area_and_mixed_where_a_border_crosses():
    index = PointIndex(TWO)
    owner = index.owner.reshape(index.ny, index.nx)
    # The outermost ring of cells reaches past the squares (pad + slack): mixed. So are columns 31 and 32, which
    # meet on the shared border x = 2 (x0 + 32 dx = 2) and, widened by a millionth of a cell, touch both squares.
    expected = np.full((32, 64), MIXED)
    expected[1:31, 1:31] = 0   # A
    expected[1:31, 33:63] = 1  # B
    np.testing.assert_array_equal(owner, expected)
    # Candidates of mixed cells, cell by cell, in id order: cells in columns 31/32 have A and B, the rest one.
    counts = np.diff(index.offsets)
    assert index.offsets[0] == 0 and len(index.offsets) == 64 * 32 + 1
    expected_counts = (expected == MIXED).astype(int)
    expected_counts[:, 31:33] = 2
    np.testing.assert_array_equal(counts.reshape(32, 64), expected_counts)
    assert index.candidates[:2].tolist() == [0, 0]  # cells 0 and 1, bottom left: A
    cell = 31  # bottom row, column 31: A then B
    assert index.candidates[index.offsets[cell]:index.offsets[cell + 1]].tolist() == [0, 1]
    assert len(index.candidates) == 248 - 64 + 2 * 64  # 248 mixed cells, 64 of them with two candidates
    assert EMPTY == -1 and MIXED < 0 and MIXED != EMPTY


def test_cells_outside_every_area_are_empty():
    # A and C in opposite corners of a 3 x 3 box; one cell per unit (9 cells): the middle and the two other corners
    # are empty, except where widening by a millionth of a cell touches a square (cells next to A or C).
    areas = pd.DataFrame({"area_id": ["A", "C"], "depth": [0, 0], "geometry_wkt": [square(0, 0), square(2, 2)]})
    index = PointIndex(areas, cells_per_area=4, max_cells=9)
    assert (index.nx, index.ny) == (3, 3)
    owner = index.owner.reshape(3, 3)
    # Cell (0, 0) reaches past A by the pad: mixed; (1, 1) touches both corners: mixed with A and C.
    assert owner[0, 0] == MIXED and owner[2, 2] == MIXED and owner[1, 1] == MIXED
    assert owner[0, 2] == EMPTY and owner[2, 0] == EMPTY
    assert index.candidates[index.offsets[4]:index.offsets[5]].tolist() == [0, 1]
    got = index.place_indices(np.array([2.5, 0.5, 1.5, 0.5, 2.5]), np.array([0.5, 2.5, 1.5, 0.5, 2.5]))
    assert got.tolist() == [-1, -1, -1, 0, 1]


def test_points_in_owned_and_mixed_cells_and_on_borders():
    index = PointIndex(TWO)
    x = np.array([0.01, 1.0, 3.0, 2.0, 2.0, 0.0, 4.0, 1.0, 1.0, 4.01, -0.01, 2.0, np.nan])
    y = np.array([0.01, 1.0, 1.0, 1.0, 0.0, 0.0, 2.0, 0.0, 2.0, 1.0, 1.0, 2.01, 1.0])
    # bottom-left cell (mixed: A only) -> A; inside A; inside B; shared border -> A (smaller id), shared corner at
    # the bottom -> A; outer corners and borders -> their square; just outside -> none; NaN -> none.
    assert index.place_indices(x, y).tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, -1, -1, -1, -1]
    got = index.place(pd.Series(x, index=list("abcdefghijklm")), pd.Series(y, index=list("abcdefghijklm")))
    assert got.tolist() == ["A", "A", "B", "A", "A", "A", "B", "A", "A", pd.NA, pd.NA, pd.NA, pd.NA]
    assert list(got.index) == list("abcdefghijklm")


def test_points_exactly_on_the_far_edges_of_the_grid_are_outside():
    # fx = nx (or fy = ny) is past the last cell: outside the grid, not in a cell of the next row or beyond the end.
    index = PointIndex(TWO)
    far_x = index.x0 + index.nx * index.dx
    far_y = index.y0 + index.ny * index.dy
    assert (far_x - index.x0) / index.dx == index.nx and (far_y - index.y0) / index.dy == index.ny
    top_row = index.y0 + (index.ny - 0.5) * index.dy
    last_col = index.x0 + (index.nx - 0.5) * index.dx
    got = index.place_indices(np.array([far_x, last_col, far_x, 3.999]), np.array([top_row, far_y, far_y, 1.999]))
    assert got.tolist() == [-1, -1, -1, 1]  # the last point: in the last cell's neighbour, inside B


def test_a_point_on_the_grid_origin_is_inside_when_the_pad_rounds_away():
    # Far from the origin, a pad of 1e-9 is below the spacing of floats (2 ** 33 has a spacing of ~2e-6): the grid
    # starts exactly on the areas' west and south borders, and a point there (fx = 0, fy = 0) is still placed.
    base = float(2 ** 33)
    index = PointIndex(one(square(base, base)))
    assert (index.x0, index.y0) == (base, base)
    got = index.place_indices(np.array([base, base, base + 0.5, base - 1e-5]), np.array([base + 0.5, base, base, base]))
    assert got.tolist() == [0, 0, 0, -1]


def test_the_grid_agrees_with_shapely_on_random_and_grid_aligned_points():
    # Three irregular areas sharing borders, plus seeded random points, points on cell edges and on the borders.
    areas = pd.DataFrame({"area_id": ["Z3", "Z1", "Z2"], "depth": [0, 0, 0], "geometry_wkt": [
        "POLYGON ((0 0, 3 0, 2 1.5, 0 1, 0 0))", "POLYGON ((3 0, 5 0, 5 3, 2 1.5, 3 0))",
        "POLYGON ((0 1, 2 1.5, 5 3, 0 3, 0 1))"]})
    index = PointIndex(areas, cells_per_area=16)
    rng = np.random.default_rng(11)
    x = rng.uniform(-0.5, 5.5, 3000)
    y = rng.uniform(-0.5, 3.5, 3000)
    ix, iy = rng.integers(0, index.nx + 1, 500), rng.integers(0, index.ny + 1, 500)
    edge_x, edge_y = index.x0 + ix * index.dx, index.y0 + iy * index.dy
    t = rng.uniform(0, 1, 300)
    border_x, border_y = 2 + 3 * t, 1.5 + 1.5 * t  # on the Z1 / Z2 border
    lon = pd.Series(np.concatenate([x, edge_x, border_x, [0, 5, 2, 3]]))
    lat = pd.Series(np.concatenate([y, edge_y, border_y, [0, 3, 1.5, 0]]))
    expected = place_points(lon, lat, areas)
    pd.testing.assert_series_equal(index.place(lon, lat), expected)  # the grid itself, not the small-input path
    assert set(expected.dropna()) == {"Z1", "Z2", "Z3"} and expected.isna().sum() > 100
    assert expected.iloc[-4:].tolist() == ["Z3", "Z1", "Z1", "Z1"]  # corners, the triple point: smallest id
    assert math.isclose(index.dx * index.nx, 5 + 1e-8)


def test_the_grid_is_used_from_a_hundred_thousand_points_and_built_once_per_boundary_version():
    assert GRID_FROM_POINTS == 100_000
    assert not uses_grid(99_999) and uses_grid(100_000) and uses_grid(100_001)
    first = grid_for(TWO)
    # the same zones in another order, with a larger level beside them: the same boundary version
    shuffled = pd.concat([TWO.iloc[::-1], pd.DataFrame({"area_id": ["D1"], "depth": [1],
                                                         "geometry_wkt": ["POLYGON ((0 0, 4 0, 4 2, 0 2, 0 0))"]})])
    assert grid_for(shuffled) is first
    moved = TWO.assign(geometry_wkt=TWO["geometry_wkt"].str.replace("4 ", "4.5 ", regex=False))
    assert grid_for(moved) is not first
    # a few points take the STRtree and give the grid's answers
    x, y = pd.Series([0.5, 3.0, 9.0]), pd.Series([0.5, 1.0, 9.0])
    assert place_points_fast(x, y, TWO).tolist() == first.place(x, y).tolist() == ["A", "B", pd.NA]


def test_only_a_few_boundary_versions_are_kept():
    from transforms import point_index

    grids = [grid_for(one(square(float(k), 0.0))) for k in range(CACHED_GRIDS + 1)]
    assert len(point_index._GRIDS) == CACHED_GRIDS
    assert grid_for(one(square(float(CACHED_GRIDS), 0.0))) is grids[-1]  # the newest stays
    assert grid_for(one(square(0.0, 0.0))) is not grids[0]  # the oldest was dropped and is built again
