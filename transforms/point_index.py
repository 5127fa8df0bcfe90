"""Point-in-area placement for millions of points: a uniform grid over the smallest areas.

Same contract as `transforms.areas.place_points`: the smallest area holding each point (a point on a shared border
goes to the area with the smallest id), NA for missing coordinates and for points outside every area. Points are
binned into grid cells with numpy; a cell lying wholly inside one area answers for all its points at once, and only
points in the cells an area border crosses are tested exactly (`shapely.intersects_xy`, the predicate
`place_points` uses, against prepared polygons, candidates in id order). With ~160 zones and the default grid
(1,024 cells per area: 169,000 cells for the sample city's 165 zones) about 4% of points spread over the city's
bounding box need the exact test; 10 million points take ~1.3 s here against ~17 s for `place_points`
(benchmarks/ingest_benchmark.py).

`place_points_fast` takes the grid from GRID_FROM_POINTS points on (below it, building the grid costs more than
shapely's STRtree spends) and keeps the last CACHED_GRIDS grids by boundary version, so thirty sensor days in one
process build it once.

Cells are classified on boxes widened by a millionth of a cell, so a point that floating-point rounding puts in
the neighbouring cell still lies in the box its cell was judged on.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import shapely

EMPTY, MIXED = -1, -2  # cell owners besides an area's position


class PointIndex:
    """The grid of one set of smallest areas; build once, then `place` as many points as needed."""

    def __init__(self, areas: pd.DataFrame, *, cells_per_area: int = 1024, max_cells: int = 1 << 21) -> None:
        smallest = areas[areas["depth"] == 0].sort_values("area_id").reset_index(drop=True)
        self.area_ids = smallest["area_id"].astype(str).to_numpy(dtype=object)
        self.polygons = shapely.from_wkt(smallest["geometry_wkt"].to_numpy(dtype=object))
        shapely.prepare(self.polygons)
        count = len(self.polygons)
        if count == 0:
            self.nx = self.ny = 0
            return
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.polygons)
        width, height = max(xmax - xmin, 1e-12), max(ymax - ymin, 1e-12)
        cells = min(cells_per_area * count, max_cells)  # classifying a cell costs a box: ~2 million at most
        self.nx = max(1, round(math.sqrt(cells * width / height)))
        self.ny = max(1, math.ceil(cells / self.nx))
        # A hair wider than the areas, so points on the outermost borders fall inside the grid.
        pad = 1e-9 * max(width, height)
        self.x0, self.y0 = xmin - pad, ymin - pad
        self.dx, self.dy = (width + 2 * pad) / self.nx, (height + 2 * pad) / self.ny
        self._classify_cells()

    def _classify_cells(self) -> None:
        """Each cell's owner (an area position, EMPTY or MIXED) and, for mixed cells, the candidate areas."""
        iy, ix = np.divmod(np.arange(self.nx * self.ny), self.nx)
        slack_x, slack_y = self.dx * 1e-6, self.dy * 1e-6
        boxes = shapely.box(self.x0 + ix * self.dx - slack_x, self.y0 + iy * self.dy - slack_y,
                            self.x0 + (ix + 1) * self.dx + slack_x, self.y0 + (iy + 1) * self.dy + slack_y)
        cell, area = shapely.STRtree(self.polygons).query(boxes, predicate="intersects")
        order = np.lexsort((area, cell))  # by cell, then area position (= area id order)
        cell, area = cell[order], area[order]
        hits = np.bincount(cell, minlength=len(boxes))
        owner = np.where(hits == 0, EMPTY, MIXED).astype(np.int32)
        single = np.flatnonzero(hits == 1)
        first = np.searchsorted(cell, single)
        inside = shapely.covers(self.polygons[area[first]], boxes[single])
        owner[single[inside]] = area[first][inside]
        self.owner = owner
        mixed = owner[cell] == MIXED
        self.candidates = area[mixed].astype(np.int32)  # grouped by cell, ascending area position in each
        counts = np.bincount(cell[mixed], minlength=len(boxes))
        self.offsets = np.concatenate([[0], np.cumsum(counts)])

    def place_indices(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The position (in area-id order) of the area holding each point, or -1."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        result = np.full(len(x), -1, dtype=np.int32)
        if self.nx == 0 or len(x) == 0:
            return result
        fx, fy = (x - self.x0) / self.dx, (y - self.y0) / self.dy
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)  # False for NaN
        where = np.flatnonzero(inside)
        cell = fy[where].astype(np.int64) * self.nx + fx[where].astype(np.int64)
        owner = self.owner[cell]
        result[where] = np.where(owner >= 0, owner, -1)
        mixed = owner == MIXED
        if mixed.any():
            self._place_mixed(x, y, where[mixed], cell[mixed], result)
        return result

    def _place_mixed(self, x: np.ndarray, y: np.ndarray, points: np.ndarray, cells: np.ndarray,
                     result: np.ndarray) -> None:
        """Exact tests for the points of cells a border crosses: the first candidate (smallest id) that holds it."""
        starts, counts = self.offsets[cells], self.offsets[cells + 1] - self.offsets[cells]
        total = int(counts.sum())
        # One (point, candidate) pair per candidate of the point's cell, points in order, candidates by id.
        pair_point = np.repeat(np.arange(len(points)), counts)
        pair_area = self.candidates[np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                                    + np.repeat(starts, counts)]
        hit = np.zeros(total, dtype=bool)
        by_area = np.argsort(pair_area, kind="stable")
        bounds = np.searchsorted(pair_area[by_area], np.arange(len(self.polygons) + 1))
        for position in range(len(self.polygons)):
            chosen = by_area[bounds[position]:bounds[position + 1]]
            if len(chosen):
                owner = points[pair_point[chosen]]
                hit[chosen] = shapely.intersects_xy(self.polygons[position], x[owner], y[owner])
        hit_point, hit_area = pair_point[hit], pair_area[hit]
        first = np.concatenate([[True], hit_point[1:] != hit_point[:-1]]) if len(hit_point) else hit_point
        result[points[hit_point[first]]] = hit_area[first]

    def place(self, lon: pd.Series, lat: pd.Series) -> pd.Series:
        """The smallest area id holding each point (NA outside every area or without coordinates)."""
        x = pd.to_numeric(lon, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        y = pd.to_numeric(lat, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        positions = self.place_indices(x, y)
        ids = pd.array(list(self.area_ids), dtype="string")
        placed = ids.take(positions, allow_fill=True) if len(ids) else pd.array([pd.NA] * len(x), dtype="string")
        return pd.Series(placed, index=lon.index, dtype="string")


# Below this many points the grid does not pay for itself: building it for the sample city's 165 zones takes
# ~0.28 s, what shapely's STRtree (transforms.areas.place_points) needs for ~150,000 points (issue 14: the grid
# was built 30 times per demo to place 16 sensor stations).
GRID_FROM_POINTS = 100_000
CACHED_GRIDS = 4  # boundary versions kept: a city's zones, or a few cities' in one process
_GRIDS: dict[str, PointIndex] = {}  # by boundary version, oldest first


def uses_grid(points: int) -> bool:
    """Whether `place_points_fast` indexes `points` points with the grid (else with an STRtree)."""
    return points >= GRID_FROM_POINTS


def grid_for(areas: pd.DataFrame) -> PointIndex:
    """The grid of these areas, built once per boundary version (the smallest areas' ids and polygons) and kept
    for the next call in this process."""
    smallest = areas[areas["depth"] == 0].sort_values("area_id")
    key = hashlib.sha256("\x1e".join(f"{a}\x1f{w}" for a, w in zip(smallest["area_id"], smallest["geometry_wkt"],
                                                                     strict=True)).encode()).hexdigest()
    grid = _GRIDS.get(key)
    if grid is None:
        grid = PointIndex(areas)
        _GRIDS[key] = grid
        while len(_GRIDS) > CACHED_GRIDS:
            _GRIDS.pop(next(iter(_GRIDS)))
    return grid


def place_points_fast(lon: pd.Series, lat: pd.Series, areas: pd.DataFrame) -> pd.Series:
    """`transforms.areas.place_points`, the same answers: an STRtree for a few points, the grid (cached per
    boundary version) for many."""
    if not uses_grid(len(lon)):
        from transforms.areas import place_points

        return place_points(lon, lat, areas)
    return grid_for(areas).place(lon, lat)
