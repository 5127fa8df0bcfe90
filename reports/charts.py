"""The report's PNG images: the index map for slides and print, and one bar chart per dimension.

Drawn on matplotlib Figure objects (never pyplot) in the default style, so the images depend only on the data;
the PNG `Software` chunk is dropped so two builds of one snapshot give the same bytes.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

from reports.snapshot import Area, Dimension, Snapshot

DPI = 110
NO_DATA_FACE = "#d4d4d4"
NO_DATA_EDGE = "#7a7a7a"
PNG_METADATA = {"Software": None}
# Quantile classes, 1 = best: viridis sampled light to dark, so the best areas are light on the map and paper.
BAR_COLOUR = "#21606e"  # the page's accent: bars are read by length, not colour
CLASS_COLOURS = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487")


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


def _draw_map(snap: Snapshot, path: Path, t: dict) -> dict | None:
    """The composite score at the map level in the quantile classes the tables use (a PNG for slides and paper);
    None when no area has a geometry."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.patheffects import withStroke

    classes = {
        a.area_id: getattr(snap.scores.get((a.area_id, snap.index_id)), "quantile", None)
        for a in snap.areas_of(snap.map_level)
    }
    base = _geo_frame(snap.areas_of(snap.map_level), classes)
    if base.empty:
        return None
    xmin, ymin, xmax, ymax = base.total_bounds
    # Degrees of longitude shrink with latitude; stretch y so shapes look as they do on the ground.
    aspect = 1 / math.cos(math.radians((ymin + ymax) / 2))
    ratio = (ymax - ymin) * aspect / max(xmax - xmin, 1e-9)
    fig = Figure(figsize=(8.0, min(max(7.0 * ratio, 3.0), 11.0) + 1.2))
    ax = fig.add_subplot()
    handles = []
    for number, klass in enumerate(t["classes"], start=1):  # reports.model.class_legend: class k is entry k - 1
        members = base[base["score"] == number]
        if len(members):
            members.plot(ax=ax, facecolor=klass.colour, edgecolor="white", linewidth=0.4)
        handles.append(Patch(facecolor=klass.colour, edgecolor="white", label=klass.label))
    missing = base[base["score"].isna()]
    if len(missing):
        missing.plot(ax=ax, facecolor=NO_DATA_FACE, edgecolor=NO_DATA_EDGE, hatch="///", linewidth=0.4)
        handles.append(Patch(facecolor=NO_DATA_FACE, edgecolor=NO_DATA_EDGE, hatch="///", label=t["no_data"]))
    if snap.top_level != snap.map_level:
        tops = _top_outlines(snap, base)
        tops.boundary.plot(ax=ax, color="#111111", linewidth=1.6)
        handles.append(Line2D([], [], color="#111111", linewidth=1.6,
                              label=f"{t['border']}: {t['level_names'][snap.top_level]}"))
        if len(tops) <= 30:
            _label_areas(ax, tops, withStroke)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9,
              title=t["map_legend"], title_fontsize=9.5, handleheight=1.4, alignment="left")
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


def _draw_bars(bars: list[tuple[str, float | None]], title: str, path: Path, t: dict) -> dict:
    """Horizontal bars, best at the top; areas without data listed at the bottom."""
    from matplotlib.figure import Figure

    valued = sorted(((n, v) for n, v in bars if v is not None), key=lambda b: (-b[1], b[0]))
    empty = sorted(n for n, v in bars if v is None)
    labels = [n for n, _ in valued] + empty
    fig = Figure(figsize=(6.4, 0.9 + 0.32 * max(len(labels), 1)))
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]  # first label at the top
    values = [v for _, v in valued]
    ax.barh(positions[: len(values)], values, color=BAR_COLOUR, height=0.7)
    for y, v in zip(positions, values, strict=False):
        ax.text(v + 1.2, y, t["score"](v), va="center", fontsize=8.5)
    for y in positions[len(values) :]:
        ax.text(1.2, y, t["no_data"], va="center", fontsize=8.5, color="#666666", style="italic")
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


def draw_charts(snap: Snapshot, out: Path, t: dict) -> tuple[dict | None, list[dict]]:
    """All images of the report, written into `out`. `t` holds the words and the score format of the report's
    language (reports/text.py)."""
    import matplotlib

    # We only draw on Figure objects, never through pyplot; Agg only matters because geopandas imports pyplot.
    # Switching a pyplot that is already loaded would close the caller's open figures, so leave it alone.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.style

    # The default style, not the user's matplotlibrc, so output depends only on the data.
    with matplotlib.style.context("default"):
        map_image = _draw_map(snap, out / "map_score.png", t)
        charts = []
        for dim in snap.dimensions:
            bars, source = _dimension_bars(snap, dim)
            title = dim.name_es if t["lang"] == "es" else dim.name_en
            image = _draw_bars(bars, title, out / f"dim_{_slug(dim.dimension_id)}.png", t)
            charts.append({**image, "dimension": dim, "source": source})
    return map_image, charts
