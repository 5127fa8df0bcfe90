"""The analysts' HTML report, built from the published DuckDB snapshot.

The report reads only the `marts` schema described in `docs/marts.md`, from the published snapshot opened
read-only, and writes a static, offline page (`index.html` plus PNG charts) into one directory. The output
is a pure function of the snapshot and the arguments: building twice gives identical bytes.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import jinja2

TEMPLATES = Path(__file__).parent / "templates"
DPI = 110
CMAP = "viridis"
NO_DATA_FACE = "#d4d4d4"
NO_DATA_EDGE = "#7a7a7a"
ALLOWED_URL_SCHEMES = ("", "http", "https", "file")
# The PNG `Software` chunk carries the matplotlib version; dropping it keeps bytes comparable across builds.
PNG_METADATA = {"Software": None}


# ----------------------------------------------------------------------------------------------------
# What the snapshot holds, as plain Python values
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """One row of `marts.areas`."""

    area_id: str
    level: str
    name: str
    parent_id: str | None
    geometry_wkt: str | None


@dataclass(frozen=True)
class Dimension:
    """One row of `marts.dimensions`."""

    dimension_id: str
    name_es: str
    name_en: str


@dataclass(frozen=True)
class Indicator:
    """The columns of `marts.indicator_catalogue` the report shows."""

    indicator_id: str
    name_es: str
    name_en: str
    dimension: str | None
    unit: str | None
    direction: float | None


@dataclass(frozen=True)
class Score:
    """One row of `marts.index_scores` (the key lives in the dict that holds it)."""

    score: float | None
    rank: int | None
    quantile: int | None


@dataclass(frozen=True)
class IndicatorValue:
    """One row of `marts.indicator_values` (the key lives in the dict that holds it)."""

    value: float | None
    suppressed: bool
    note: str | None


@dataclass
class Snapshot:
    """Everything the report needs from one snapshot, for one index and period."""

    index_id: str
    period: str
    areas: dict[str, Area]
    dimensions: list[Dimension]
    indicators: list[Indicator]
    # (area_id, node_id) -> score; areas ids are unique across levels (`Z001`, `D03`, `MD02`).
    scores: dict[tuple[str, str], Score]
    # (area_id, indicator_id) -> value
    values: dict[tuple[str, str], IndicatorValue]
    levels: list[str] = field(default_factory=list)  # smallest first, derived from parent_id
    # latest data-quality results behind the snapshot (marts.data_quality), when the snapshot has them
    quality: list[dict] = field(default_factory=list)

    def areas_of(self, level: str) -> list[Area]:
        """Areas of one level, by id."""
        return sorted((a for a in self.areas.values() if a.level == level), key=lambda a: a.area_id)

    def ancestors(self, area: Area) -> list[Area]:
        """Parents of an area, nearest first (stops at a dangling parent_id or a cycle)."""
        chain: list[Area] = []
        seen = {area.area_id}
        current = area
        while current.parent_id is not None and current.parent_id in self.areas:
            current = self.areas[current.parent_id]
            if current.area_id in seen:
                break
            seen.add(current.area_id)
            chain.append(current)
        return chain

    def ancestor_at(self, area: Area, level: str) -> Area | None:
        """The ancestor of `area` at `level` (the area itself when it is of that level)."""
        if area.level == level:
            return area
        return next((a for a in self.ancestors(area) if a.level == level), None)

    def has_scores(self, level: str, node_id: str) -> bool:
        """Whether index_scores has any row for this level and node."""
        ids = {a.area_id for a in self.areas_of(level)}
        return any(key[1] == node_id and key[0] in ids for key in self.scores)

    @property
    def top_level(self) -> str:
        """The coarsest level (macrodistrito in La Paz)."""
        return self.levels[-1]

    @property
    def map_level(self) -> str:
        """The smallest level that has composite scores (the smallest level of all, normally)."""
        return next((lv for lv in self.levels if self.has_scores(lv, self.index_id)), self.levels[0])


def _city_filter(city: str | None) -> tuple[str, list]:
    """A `city = ?` condition when the snapshot holds several cities and one is asked for."""
    if city is None:
        return "TRUE", []
    return "city = ?", [city]


def _dimension_order(con: duckdb.DuckDBPyConnection) -> str:
    columns = {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = 'dimensions'"
    ).fetchall()}
    for column in ("display_order", "position"):  # position: snapshots before schema version 2
        if column in columns:
            return column
    return "dimension_id"


def _read_snapshot(path: Path, index_id: str, period: str | None, city: str | None = None) -> Snapshot:
    """Read the marts the report uses; the connection is read-only so a running publisher is never blocked."""
    if not path.is_file():
        raise FileNotFoundError(f"snapshot not found: {path}")
    with duckdb.connect(str(path), read_only=True) as con:
        where, params = _city_filter(city)
        period = _resolve_period(con, index_id, period, where, params)
        snap = Snapshot(
            index_id=index_id,
            period=period,
            areas=_read_areas(con, where, params),
            dimensions=[
                Dimension(*row)
                for row in con.execute(
                    f"SELECT dimension_id, name_es, name_en FROM marts.dimensions WHERE {where}"
                    f" ORDER BY {_dimension_order(con)}", params
                ).fetchall()
            ],
            indicators=[
                Indicator(*row)
                for row in con.execute(
                    "SELECT indicator_id, name_es, name_en, dimension, unit, direction"
                    f" FROM marts.indicator_catalogue WHERE {where} ORDER BY indicator_id", params
                ).fetchall()
            ],
            scores={
                (area_id, node_id): Score(score, rank, quantile)
                for area_id, node_id, score, rank, quantile in con.execute(
                    "SELECT area_id, node_id, score, rank, quantile FROM marts.index_scores"
                    f" WHERE index_id = ? AND period = ? AND {where} ORDER BY area_id, node_id",
                    [index_id, period, *params],
                ).fetchall()
            },
            values={
                (area_id, indicator_id): IndicatorValue(value, bool(suppressed), note)
                for area_id, indicator_id, value, suppressed, note in con.execute(
                    "SELECT area_id, indicator_id, value, suppressed, note FROM marts.indicator_values"
                    f" WHERE period = ? AND {where} ORDER BY area_id, indicator_id",
                    [period, *params],
                ).fetchall()
            },
        )
        snap.quality = _read_quality(con, where, params)
    # Catalogue dimensions outside the index (e.g. poverty measures) have indicators but no scores to chart.
    scored_nodes = {node for _, node in snap.scores}
    snap.dimensions = [d for d in snap.dimensions if d.dimension_id in scored_nodes]
    if not snap.areas:
        raise ValueError(f"{path}: marts.areas is empty")
    snap.levels = _level_chain(snap.areas)
    return snap


def _read_quality(con: duckdb.DuckDBPyConnection, where: str, params: list) -> list[dict]:
    """Data-quality results in the snapshot, failures first; none when the snapshot predates the table."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' "
                         "AND table_name = 'data_quality'").fetchall()[0][0]
    if not exists:
        return []
    frame = con.execute(
        "SELECT suite, period, check_key, expectation, column_name, severity, success, unexpected_count, "
        f"examples, why FROM marts.data_quality WHERE {where} ORDER BY success, severity, suite, check_key",
        list(params)).df()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _resolve_period(
    con: duckdb.DuckDBPyConnection, index_id: str, period: str | None, where: str = "TRUE", params: list = ()
) -> str:
    """The requested period, checked, or the latest one of the index (periods are `YYYY`/`YYYY-MM` text)."""
    periods = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT period FROM marts.index_scores WHERE index_id = ? AND {where} ORDER BY period",
            [index_id, *params],
        ).fetchall()
    ]
    if not periods:
        raise ValueError(f"marts.index_scores has no rows for index {index_id!r}")
    if period is None:
        return periods[-1]
    if period not in periods:
        raise ValueError(f"index {index_id!r} has no period {period!r}; available: {', '.join(periods)}")
    return period


def _read_areas(con: duckdb.DuckDBPyConnection, where: str = "TRUE", params: list = ()) -> dict[str, Area]:
    rows = con.execute(
        f"SELECT area_id, level, name, parent_id, geometry_wkt FROM marts.areas WHERE {where} ORDER BY area_id",
        list(params),
    ).fetchall()
    return {row[0]: Area(*row) for row in rows}


def _level_chain(areas: dict[str, Area]) -> list[str]:
    """Levels smallest first. The marts carry no level order, so it is read off the parent_id links."""
    parent_level: dict[str, str] = {}
    for area in areas.values():
        parent = areas.get(area.parent_id) if area.parent_id else None
        if parent is not None and parent.level != area.level:
            parent_level.setdefault(area.level, parent.level)
    counts: dict[str, int] = {}
    for area in areas.values():
        counts[area.level] = counts.get(area.level, 0) + 1
    # The smallest level is the one no other level points to; with odd data, the most populous one.
    leaves = sorted(set(counts) - set(parent_level.values())) or sorted(counts)
    chain = [max(leaves, key=lambda lv: (counts[lv], lv))]
    while chain[-1] in parent_level and parent_level[chain[-1]] not in chain:
        chain.append(parent_level[chain[-1]])
    return chain


# ----------------------------------------------------------------------------------------------------
# Table rows for the template (strings already formatted, so the template stays dumb)
# ----------------------------------------------------------------------------------------------------


def _fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _value_format(values: Iterable[float | None]) -> Callable[[float | None], str]:
    """One number format per indicator so its cells line up: rates, means and counts need different decimals."""
    magnitude = max((abs(v) for v in values if v is not None), default=0.0)
    spec = ",.0f" if magnitude >= 100 else ".1f" if magnitude >= 10 else ".2f" if magnitude >= 1 else ".3f"
    return lambda value: "—" if value is None else format(value, spec)


def _level_label(level: str) -> str:
    return level.replace("_", " ").capitalize()


def _rank_key(area: Area, score: Score | None) -> tuple:
    """Rank 1 first, areas without a rank last; ties broken by id so the order is stable."""
    rank = score.rank if score is not None else None
    return (rank is None, rank if rank is not None else 0, area.area_id)


def _score_rows(snap: Snapshot, level: str) -> list[dict]:
    """Ranked rows of one level: composite and dimension scores, parent names."""
    parent_levels = snap.levels[snap.levels.index(level) + 1 :]
    areas = snap.areas_of(level)
    areas.sort(key=lambda a: _rank_key(a, snap.scores.get((a.area_id, snap.index_id))))
    rows = []
    for area in areas:
        root = snap.scores.get((area.area_id, snap.index_id))
        parents = [snap.ancestor_at(area, lv) for lv in parent_levels]
        rows.append(
            {
                "area_id": area.area_id,
                "name": area.name,
                "parents": [p.name if p else "—" for p in parents],
                "rank": "—" if root is None or root.rank is None else str(root.rank),
                "score": _fmt_score(root.score if root else None),
                "quantile": "—" if root is None or root.quantile is None else str(root.quantile),
                "no_data": root is None or root.score is None,
                "dimensions": [
                    _fmt_score(getattr(snap.scores.get((area.area_id, d.dimension_id)), "score", None))
                    for d in snap.dimensions
                ],
            }
        )
    return rows


def _dimension_bars(snap: Snapshot, dimension: Dimension) -> tuple[list[tuple[str, float | None]], str]:
    """Bars for one dimension chart: (label, score) per top-level area, and where the numbers come from."""
    top, base = snap.top_level, snap.map_level
    node = dimension.dimension_id
    if top == base or snap.has_scores(top, node):
        bars = [
            (a.name, getattr(snap.scores.get((a.area_id, node)), "score", None)) for a in snap.areas_of(top)
        ]
        return bars, "level"
    # No published score at the top level: an unweighted mean of the smaller areas' scores.
    groups: dict[str, list[float]] = {a.area_id: [] for a in snap.areas_of(top)}
    for area in snap.areas_of(base):
        parent = snap.ancestor_at(area, top)
        score = snap.scores.get((area.area_id, node))
        if parent is not None and score is not None and score.score is not None:
            groups[parent.area_id].append(score.score)
    bars = [
        (a.name, math.fsum(groups[a.area_id]) / len(groups[a.area_id]) if groups[a.area_id] else None)
        for a in snap.areas_of(top)
    ]
    return bars, "mean"


def _direction_label(direction: float | None) -> str:
    if direction is None or direction == 0:
        return "—"
    return "↑ mejor / better" if direction > 0 else "↓ mejor / better"


def _ordered_indicators(snap: Snapshot) -> list[Indicator]:
    """Indicators grouped by dimension in display order; ones outside the index last."""
    order = {d.dimension_id: i for i, d in enumerate(snap.dimensions)}
    return sorted(snap.indicators, key=lambda i: (order.get(i.dimension, len(order)), i.indicator_id))


def _indicator_rows(snap: Snapshot) -> list[dict]:
    """One row per catalogued indicator: spread over the smallest level and how many areas were suppressed."""
    names = {d.dimension_id: d for d in snap.dimensions}
    base_areas = snap.areas_of(snap.map_level)
    rows = []
    for ind in _ordered_indicators(snap):
        present = [
            snap.values[(a.area_id, ind.indicator_id)]
            for a in base_areas
            if (a.area_id, ind.indicator_id) in snap.values
        ]
        numbers = [v.value for v in present if v.value is not None]
        fmt = _value_format(numbers)
        dim = names.get(ind.dimension) if ind.dimension else None
        rows.append(
            {
                "indicator_id": ind.indicator_id,
                "name_es": ind.name_es,
                "name_en": ind.name_en,
                "dimension": f"{dim.name_es} / {dim.name_en}" if dim else (ind.dimension or "—"),
                "unit": ind.unit or "—",
                "direction": _direction_label(ind.direction),
                "min": fmt(min(numbers) if numbers else None),
                "median": fmt(statistics.median(numbers) if numbers else None),
                "max": fmt(max(numbers) if numbers else None),
                "suppressed": sum(v.suppressed for v in present),
                "measured": len(present),
            }
        )
    return rows


def _value_cell(value: IndicatorValue | None, fmt: Callable[[float | None], str]) -> dict:
    """A table cell with the reason for a missing value as its tooltip."""
    if value is None:
        return {"text": "—", "note": "sin fila / no row"}
    if value.value is None:
        note = value.note or ("suprimido / suppressed" if value.suppressed else "")
        return {"text": "s" if value.suppressed else "—", "note": note}
    return {"text": fmt(value.value), "note": ""}


def _indicator_top_table(snap: Snapshot) -> dict | None:
    """Indicator values of the top-level areas, when the snapshot publishes them (else None)."""
    tops = snap.areas_of(snap.top_level)
    if snap.top_level == snap.map_level or not any(
        (a.area_id, i.indicator_id) in snap.values for a in tops for i in snap.indicators
    ):
        return None
    rows = []
    for ind in _ordered_indicators(snap):
        values = [snap.values.get((a.area_id, ind.indicator_id)) for a in tops]
        fmt = _value_format(v.value for v in values if v is not None)
        rows.append(
            {
                "name_es": ind.name_es,
                "name_en": ind.name_en,
                "unit": ind.unit or "—",
                "cells": [_value_cell(v, fmt) for v in values],
            }
        )
    return {"areas": [a.name for a in tops], "rows": rows}


# ----------------------------------------------------------------------------------------------------
# Charts
# ----------------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    """A file-name-safe version of an id (dimension ids come from config, not from us)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header, so the <img> tags reserve space before the images load."""
    with path.open("rb") as fh:
        header = fh.read(24)
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _save(fig, path: Path) -> dict:
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.12, facecolor="white", metadata=PNG_METADATA)
    width, height = _png_size(path)
    return {"file": path.name, "width": width, "height": height}


def _geo_frame(areas: Iterable[Area], column: dict[str, float | None] | None = None):
    """GeoDataFrame of areas with a geometry (areas without one cannot be drawn and are left out)."""
    import geopandas as gpd
    import shapely

    drawable = [a for a in areas if a.geometry_wkt]
    return gpd.GeoDataFrame(
        {
            "area_id": [a.area_id for a in drawable],
            "name": [a.name for a in drawable],
            "score": [column.get(a.area_id) if column else None for a in drawable],
        },
        geometry=shapely.from_wkt([a.geometry_wkt for a in drawable]),
        crs="EPSG:4326",
    )


def _top_outlines(snap: Snapshot, base):
    """Top-level polygons: published geometry if there is one, else the union of their smaller areas."""
    tops = _geo_frame(snap.areas_of(snap.top_level))
    if len(tops):
        return tops
    parent_of = {a.area_id: snap.ancestor_at(a, snap.top_level) for a in snap.areas_of(snap.map_level)}
    base = base.assign(top=[getattr(parent_of.get(i), "area_id", None) for i in base["area_id"]])
    return base.dropna(subset=["top"]).dissolve(by="top", sort=True).reset_index()


def _draw_map(snap: Snapshot, path: Path) -> dict | None:
    """Choropleth of the composite score at the map level; None when no area has a geometry."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.patheffects import withStroke

    scores = {
        a.area_id: getattr(snap.scores.get((a.area_id, snap.index_id)), "score", None)
        for a in snap.areas_of(snap.map_level)
    }
    base = _geo_frame(snap.areas_of(snap.map_level), scores)
    if base.empty:
        return None
    xmin, ymin, xmax, ymax = base.total_bounds
    # Degrees of longitude shrink with latitude; stretch y so shapes look as they do on the ground.
    aspect = 1 / math.cos(math.radians((ymin + ymax) / 2))
    ratio = (ymax - ymin) * aspect / max(xmax - xmin, 1e-9)
    fig = Figure(figsize=(8.0, min(max(7.0 * ratio, 3.0), 11.0) + 1.2))
    ax = fig.add_subplot()
    norm = Normalize(vmin=0, vmax=100)
    cmap = matplotlib.colormaps[CMAP]

    scored, missing = base[base["score"].notna()], base[base["score"].isna()]
    if len(scored):
        scored.plot(ax=ax, column="score", cmap=cmap, norm=norm, edgecolor="white", linewidth=0.4)
    if len(missing):
        missing.plot(ax=ax, facecolor=NO_DATA_FACE, edgecolor=NO_DATA_EDGE, hatch="///", linewidth=0.4)
    handles = [
        Patch(facecolor=NO_DATA_FACE, edgecolor=NO_DATA_EDGE, hatch="///", label="Sin datos / No data")
    ]

    if snap.top_level != snap.map_level:
        tops = _top_outlines(snap, base)
        tops.boundary.plot(ax=ax, color="#111111", linewidth=1.6)
        handles.append(
            Line2D([], [], color="#111111", linewidth=1.6, label=f"Límite / Border: {snap.top_level}")
        )
        if len(tops) <= 30:
            _label_areas(ax, tops, withStroke)

    # Colour scale under the map and the key for hatching/borders above it: side by side, a long label
    # would overflow a short map.
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=ax,
        location="bottom",
        shrink=0.7,
        fraction=0.05,
        pad=0.03,
        label="Puntaje / Score (0–100): oscuro = bajo bienestar / dark = low well-being",
    )
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
        ncols=2,
        fontsize=9,
        handleheight=1.4,
    )
    ax.set_aspect(aspect)
    ax.set_axis_off()
    return _save(fig, path)


def _label_areas(ax, frame, with_stroke) -> None:
    """Name the top-level areas on the map; the white halo keeps names legible on any colour."""
    for point, name in zip(frame.geometry.representative_point(), frame["name"], strict=True):
        ax.annotate(
            str(name),
            (point.x, point.y),
            ha="center",
            va="center",
            fontsize=8,
            color="#111111",
            path_effects=[with_stroke(linewidth=2.5, foreground="white")],
        )


def _draw_bars(bars: list[tuple[str, float | None]], title: str, path: Path) -> dict:
    """Horizontal bars, best at the top, coloured like the map; areas without data listed at the bottom."""
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    valued = sorted(((n, v) for n, v in bars if v is not None), key=lambda b: (-b[1], b[0]))
    empty = sorted(n for n, v in bars if v is None)
    labels = [n for n, _ in valued] + empty
    fig = Figure(figsize=(6.4, 0.9 + 0.32 * max(len(labels), 1)))
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]  # first label at the top
    cmap, norm = matplotlib.colormaps[CMAP], Normalize(vmin=0, vmax=100)
    values = [v for _, v in valued]
    ax.barh(positions[: len(values)], values, color=[cmap(norm(v)) for v in values], height=0.7)
    for y, v in zip(positions, values, strict=False):
        ax.text(v + 1.2, y, f"{v:.1f}", va="center", fontsize=8.5)
    for y in positions[len(values) :]:
        ax.text(1.2, y, "sin datos / no data", va="center", fontsize=8.5, color="#666666", style="italic")
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_xlim(0, 109)
    ax.set_xticks(range(0, 101, 20))
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_title(title, fontsize=10.5, loc="left")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, path)


def _draw_charts(snap: Snapshot, out: Path) -> tuple[dict | None, list[dict]]:
    """All images of the report, written into `out`."""
    import matplotlib

    # We only draw on Figure objects, never through pyplot; Agg only matters because geopandas imports pyplot.
    # Switching a pyplot that is already loaded would close the caller's open figures, so leave it alone.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.style

    # The default style, not the user's matplotlibrc, so output depends only on the data.
    with matplotlib.style.context("default"):
        map_image = _draw_map(snap, out / "map_score.png")
        charts = []
        for dim in snap.dimensions:
            bars, source = _dimension_bars(snap, dim)
            image = _draw_bars(
                bars, f"{dim.name_es} / {dim.name_en}", out / f"dim_{_slug(dim.dimension_id)}.png"
            )
            charts.append({**image, "dimension": dim, "source": source})
    return map_image, charts


# ----------------------------------------------------------------------------------------------------
# Page and output directory
# ----------------------------------------------------------------------------------------------------


def _check_url(url: str | None) -> str | None:
    """Only web or file links: autoescape does not stop a `javascript:` URL in an href."""
    if url is not None and urlsplit(url).scheme.lower() not in ALLOWED_URL_SCHEMES:
        raise ValueError(f"quality_url must be an http(s), file or relative URL, got {url!r}")
    return url


def _render(snap: Snapshot, city_name: str, quality_url: str | None, map_image, charts) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # the file ends in .j2, so select_autoescape would not pick it up
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    base, top = snap.map_level, snap.top_level
    has_top_table = top != base and snap.has_scores(top, snap.index_id)
    return env.get_template("report.html.j2").render(
        city_name=city_name,
        index_id=snap.index_id,
        period=snap.period,
        base_level=_level_label(base),
        top_level=_level_label(top),
        parent_levels=[_level_label(lv) for lv in snap.levels[snap.levels.index(base) + 1 :]],
        dimensions=snap.dimensions,
        ranked=_score_rows(snap, base),
        top_ranked=_score_rows(snap, top) if has_top_table else None,
        map_image=map_image,
        charts=charts,
        indicators=_indicator_rows(snap),
        indicator_top=_indicator_top_table(snap),
        quality_url=quality_url,
        quality_failed=[q for q in snap.quality if not q["success"]],
        quality_checked=len(snap.quality),
    )


def _replace_dir(new: Path, target: Path) -> None:
    """Swap the finished directory into place: readers see the old report or the new one, never a mix."""
    if not target.exists():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


ORPHAN_AGE = 600  # seconds: a build or swap folder this old belongs to a run that was killed


def clean_orphans(out_dir: Path, now: float | None = None) -> list[Path]:
    """What a killed build leaves next to `out_dir`, put right: a report moved aside for a swap that never
    finished comes back when `out_dir` is missing; build and swap folders older than ORPHAN_AGE are removed.
    Returns the folders removed."""
    now = time.time() if now is None else now
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    old = sorted(parent.glob(f".{out_dir.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if old and not out_dir.exists():
        old.pop().rename(out_dir)  # the last report, moved aside by a swap that was killed
    removed = []
    for folder in [*old, *parent.glob(f".{out_dir.name}.building-*")]:
        if folder.is_dir() and now - folder.stat().st_mtime > ORPHAN_AGE:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def build_report(
    snapshot: Path,
    out_dir: Path,
    *,
    city_name: str,
    index_id: str = "wellbeing",
    period: str | None = None,
    quality_url: str | None = None,
    city: str | None = None,
) -> Path:
    """Build the analysts' HTML report from a published snapshot and return the path of its index.html.

    `snapshot` is a DuckDB file holding the `marts` schema of docs/marts.md; it is opened read-only. The page
    and its PNG images are written to `out_dir`, replacing an earlier report in one rename. `period=None`
    picks the latest period of `index_id` in marts.index_scores. `quality_url`, when given, is linked from a
    data-quality section. `city` selects one city of a snapshot that holds several. The same snapshot and
    arguments always give byte-identical output.
    """
    snapshot, out_dir = Path(snapshot), Path(out_dir)
    quality_url = _check_url(quality_url)
    snap = _read_snapshot(snapshot, index_id, period, city)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(out_dir)
    # Build next to the target (same file system) so the final rename is atomic.
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        os.chmod(work, 0o755)  # mkdtemp makes 0700; a web server must be able to read the report
        map_image, charts = _draw_charts(snap, work)
        html = _render(snap, city_name, quality_url, map_image, charts)
        (work / "index.html").write_text(html, encoding="utf-8", newline="\n")
        _replace_dir(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir / "index.html"
