"""The report's interactive choropleth: inline SVG plus one small script, no network and no JS library.

`svg_map` returns one `<figure>`: the map as SVG (areas, parent outlines, labels, scale bar, north arrow and,
when a dense core sits among large areas, an enlarged inset), and as HTML the legend, a search box and an info
panel. A page includes `MAP_CSS` and `MAP_SCRIPT` once, whatever the number of maps; the script finds every
map by its `data-svgmap` attribute. Without the script the map is still a map (hatched no-data areas, a
tooltip per area from its `<title>`); search and panel stay hidden.

Layers map more variables (the index's dimensions, say) on the same polygons: each area carries one character
per layer, its class in that layer, and the figure carries each layer's legend as JSON; a `<select>` has the
script recolour the areas and swap the legend. Without the script, and on paper, the map shows its base classes.

Sizes are in viewBox units: the SVG is 1000 wide and scales to its container (width 100%). Text is sized by
CSS container queries on the map's own width so it stays between 11 and 18 CSS px: 32 units below 500 px
(≥ 11 px from 344 px up, and the map is never narrower than 22rem = 352 px unless its container is: a 390 px
phone leaves 358 px inside the report's 1rem padding), 24 units from 500 px, 18 units from 700 px.
Output is a pure function of the arguments: the same input gives the same bytes.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

VIEW_WIDTH = 1000.0
MARGIN = 20.0  # around each panel's content
STRIP = 84.0  # the band under a panel that holds its scale bar (and, under the main map, the north arrow)
TOLERANCE = 0.3  # simplification, in viewBox units of the panel drawn
FONT = 32.0  # label size in units at the smallest map width (see the module docstring); also the fit test's size
DIGIT_WIDTH = 0.62  # a character's advance, in em, generous for digits and mean letters of a sans-serif
# An inset when the smallest half of the areas fits in a box under 1/9 of the map's box: La Paz's 165 zones give
# 0.087 (the city's core beside the rural districts of Zongo and Hampaturi), Bolivia's municipalities 0.54.
INSET_MAX_SHARE = 1 / 9
INSET_MIN_ZOOM = 2.0  # ... and the inset layout enlarges that box at least twice
INSET_MAX_HEIGHT = 0.75  # an inset below the map is at most this share of the width tall
SCREEN_ASPECT = 1.3  # height / width of the room a map gets on screen: 2 in a phone's column, 0.75 on a laptop
LABEL_FIT = 0.8  # a label is drawn on a panel when this share of its box lies inside its area
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG): the scale bar is a haversine distance
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAP_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
MAX_RESULTS = 8  # search results listed; the map highlights all
LAYER_DIGITS = "123456789abcdefghijklmnopqrstuvwxyz"  # an area's class in a layer, one character: base 36, as JS's
NO_DATA_DIGIT = "-"  # parseInt(c, 36) reads it

TEXT = {
    "es": {
        "search": "Buscar un área por nombre",
        "hint": "Pase el cursor, toque o enfoque (tecla Tab) un área del mapa para ver sus datos.",
        "one": "1 área coincide.",
        "many": "{n} áreas coinciden.",
        "more": "Se listan {shown}; siga escribiendo para acotar.",
        "none": "Ninguna área coincide.",
        "legend": "Leyenda",
        "inset_right": "Área ampliada en el recuadro de la derecha",
        "inset_below": "Área ampliada en el recuadro inferior",
        "layer": "Mostrar en el mapa",
    },
    "en": {
        "search": "Find an area by name",
        "hint": "Hover, tap or focus (Tab key) an area of the map to see its figures.",
        "one": "1 area matches.",
        "many": "{n} areas match.",
        "more": "{shown} listed; keep typing to narrow them down.",
        "none": "No area matches.",
        "legend": "Legend",
        "inset_right": "Area enlarged in the panel on the right",
        "inset_below": "Area enlarged in the panel below",
        "layer": "Show on the map",
    },
}


@dataclass(frozen=True)
class MapArea:
    """One area to draw: its class (1 = best; None = no data, hatched), its label number and info-panel lines."""

    area_id: str
    name: str
    geometry_wkt: str  # polygon or multipolygon, EPSG:4326 lon/lat; empty: not drawn
    klass: int | None
    number: int | None  # drawn on the map (where it fits) for areas listed in a legend table
    details: tuple[tuple[str, str], ...]  # (caption, formatted text); the first also names the area's path


@dataclass(frozen=True)
class MapClass:
    """One colour class of the legend."""

    colour: str  # "#rrggbb"
    label: str


@dataclass(frozen=True)
class MapLayer:
    """Another variable on the same areas, chosen in the map's `<select>`: its legend and each area's class."""

    label: str  # the option's text, e.g. "Vivienda"
    classes: tuple[MapClass, ...]  # class k is entry k - 1, as for the base map; at most 35
    klass: Mapping[str, int | None]  # area_id -> class; missing or None: no data (hatched); other ids are ignored
    details: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # panel lines, by area_id


@dataclass(frozen=True)
class Projection:
    """Equirectangular lon/lat to viewBox units: x east, y down, longitudes shrunk by cos(lat_ref) of the map."""

    lon0: float  # the longitude at x = x0
    lat1: float  # the latitude at y = y0
    k: float  # cos of the map's mid-latitude: the same for every panel of a map, so shapes agree
    scale: float  # units per degree of latitude
    x0: float
    y0: float
    lat_mid: float  # the latitude where this panel's scale bar is true (the middle of what it shows)

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float], x: float, y: float, width: float,
            height: float | None = None, k: float | None = None) -> Projection:
        """The projection that fits lon/lat `bounds` into the box at (x, y), centred; as tall as needed when
        `height` is None. `k` defaults to cos of the bounds' mid-latitude."""
        lon_min, lat_min, lon_max, lat_max = bounds
        if k is None:
            k = math.cos(math.radians((lat_min + lat_max) / 2))
        raw_w, raw_h = max((lon_max - lon_min) * k, 1e-12), max(lat_max - lat_min, 1e-12)
        scale = width / raw_w if height is None else min(width / raw_w, height / raw_h)
        x0 = x + (width - raw_w * scale) / 2
        y0 = y if height is None else y + (height - raw_h * scale) / 2
        return cls(lon_min, lat_max, k, scale, x0, y0, (lat_min + lat_max) / 2)

    @classmethod
    def single(cls, bounds: tuple[float, float, float, float]) -> Projection:
        """The main map without an inset: the full width less the margins."""
        return cls.fit(bounds, MARGIN, MARGIN, VIEW_WIDTH - 2 * MARGIN)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """Where a lon/lat point lands, in viewBox units."""
        return self.x0 + (lon - self.lon0) * self.k * self.scale, self.y0 + (self.lat1 - lat) * self.scale

    def geometry(self, geom):
        """A lon/lat shapely geometry in viewBox units."""
        return shapely.transform(
            geom, lambda c: np.column_stack([self.x0 + (c[:, 0] - self.lon0) * self.k * self.scale,
                                             self.y0 + (self.lat1 - c[:, 1]) * self.scale]))

    @property
    def km_per_unit(self) -> float:
        """Ground distance of one horizontal unit at `lat_mid` (haversine along the parallel)."""
        span = 100.0  # units; a long span keeps the arithmetic clear of rounding
        dlon = math.radians(span / (self.k * self.scale))
        return haversine_parallel_km(self.lat_mid, dlon) / span


def haversine_parallel_km(lat: float, dlon_radians: float) -> float:
    """Great-circle distance between two points on the parallel `lat` (degrees), `dlon_radians` apart."""
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.cos(math.radians(lat)) * abs(math.sin(dlon_radians / 2))))


def scale_bar(km_per_unit: float, target_units: float) -> tuple[float, float]:
    """A round length (1, 2 or 5 × 10^n km) nearest, by ratio, to `target_units`: (km, its length in units)."""
    target = km_per_unit * target_units
    exponent = math.floor(math.log10(target))
    candidates = [m * 10.0**e for e in (exponent, exponent + 1) for m in (1, 2, 5)]
    km = min(candidates, key=lambda c: (abs(math.log(c / target)), c))
    return km, km / km_per_unit


# ----------------------------------------------------------------------------------------------------
# Layout: the main map, and the inset when the areas are very uneven in size
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A panel's projection and its content box (x, y, w, h) in viewBox units."""

    projection: Projection
    box: tuple[float, float, float, float]

    @property
    def strip_top(self) -> float:
        """The top of the band under the panel that holds its scale bar."""
        return self.box[1] + self.box[3] + 8


@dataclass(frozen=True)
class Layout:
    """Where the panels go in a viewBox `width` × `height`."""

    width: float
    height: float
    main: Panel
    inset: Panel | None = None
    core: tuple[float, float, float, float] | None = None  # lon/lat bounds the inset shows
    beside: bool = False  # the inset is on the right of the main map (else below it)


def _extent(bounds, projection: Projection) -> tuple[float, float]:
    """Width and height in units of lon/lat `bounds` under `projection`."""
    x0, y0 = projection.point(bounds[0], bounds[3])
    x1, y1 = projection.point(bounds[2], bounds[1])
    return x1 - x0, y1 - y0


def _core_bounds(geoms: list, bounds) -> tuple[float, float, float, float] | None:
    """The lon/lat box of the smallest half of the areas (by projected area), padded by 4% for the inset; None
    when that half's box is not small against the map's box."""
    if len(geoms) < 4:
        return None
    projection = Projection.single(bounds)
    sizes = shapely.area(np.array([projection.geometry(g) for g in geoms], dtype=object))
    order = sorted(range(len(geoms)), key=lambda i: (sizes[i], i))
    small = order[: len(geoms) // 2]
    lon0, lat0, lon1, lat1 = (float(v) for v in shapely.total_bounds(np.array([geoms[i] for i in small],
                                                                               dtype=object)))
    core_w, core_h = _extent((lon0, lat0, lon1, lat1), projection)
    map_w, map_h = _extent(bounds, projection)
    if core_w * core_h >= INSET_MAX_SHARE * map_w * map_h:
        return None
    pad_lon = max(lon1 - lon0, (lat1 - lat0) / projection.k) * 0.04
    pad_lat = pad_lon * projection.k
    return lon0 - pad_lon, lat0 - pad_lat, lon1 + pad_lon, lat1 + pad_lat


def layout_map(geoms: list, bounds, inset: bool = True) -> Layout:
    """Place the main map and, when the areas call for it, the inset: beside the map (as tall as it) or below
    it, whichever shows both larger on a screen SCREEN_ASPECT times as tall as wide."""
    single = Projection.single(bounds)
    map_w, map_h = _extent(bounds, single)
    plain = Layout(VIEW_WIDTH, MARGIN + map_h + STRIP, Panel(single, (MARGIN, MARGIN, map_w, map_h)))
    core = _core_bounds(geoms, bounds) if inset else None
    if core is None:
        return plain
    k = single.k
    core_w, core_h = _extent(core, single)
    main_aspect, core_aspect = map_h / map_w, core_h / core_w

    room = VIEW_WIDTH - 4 * MARGIN
    main_w = room * core_aspect / (main_aspect + core_aspect)  # as tall as the inset beside it
    height = main_w * main_aspect
    inset_x = 3 * MARGIN + main_w
    beside = Layout(VIEW_WIDTH, MARGIN + height + STRIP,
                    Panel(Projection.fit(bounds, MARGIN, MARGIN, main_w, k=k), (MARGIN, MARGIN, main_w, height)),
                    Panel(_centred_lat(Projection.fit(core, inset_x, MARGIN, room - main_w, height, k=k), core),
                          (inset_x, MARGIN, room - main_w, height)), core, beside=True)

    inner = VIEW_WIDTH - 2 * MARGIN
    inset_h = min(inner * core_aspect, inner * INSET_MAX_HEIGHT)
    inset_y = MARGIN + map_h + STRIP + MARGIN
    below = Layout(VIEW_WIDTH, inset_y + inset_h + STRIP, plain.main,
                   Panel(_centred_lat(Projection.fit(core, MARGIN, inset_y, inner, inset_h, k=k), core),
                         (MARGIN, inset_y, inner, inset_h)), core)

    def shown(layout: Layout) -> float:
        fit = min(1.0, SCREEN_ASPECT * layout.width / layout.height)
        return layout.main.projection.scale * layout.inset.projection.scale * fit**2

    result = max((beside, below), key=shown)
    if result.inset.projection.scale < INSET_MIN_ZOOM * result.main.projection.scale:
        return plain
    return result


def _centred_lat(projection: Projection, core) -> Projection:
    """The inset's scale bar is true at the middle of the inset, not of the whole map."""
    return Projection(projection.lon0, projection.lat1, projection.k, projection.scale, projection.x0,
                      projection.y0, (core[1] + core[3]) / 2)


# ----------------------------------------------------------------------------------------------------
# SVG text
# ----------------------------------------------------------------------------------------------------


def _num(tenths: int) -> str:
    """A coordinate held in tenths of a unit, as short as SVG allows: 12 -> 1.2, -5 -> -.5, 30 -> 3."""
    sign, value = ("-" if tenths < 0 else ""), abs(int(tenths))
    whole, frac = divmod(value, 10)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole if whole else ''}.{frac}"


def _numbers(values) -> str:
    out = []
    for value in values:
        text = _num(value)
        if out and not text.startswith("-"):
            out.append(" ")
        out.append(text)
    return "".join(out)


def _path_data(geom) -> str:
    """SVG path data of a (multi)polygon in viewBox units: 1 decimal, each ring as a start point and
    relative steps between rounded points (so rounding never drifts)."""
    parts = []
    for polygon in shapely.get_parts(geom):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            tenths = np.rint(shapely.get_coordinates(ring) * 10).astype(np.int64)
            keep = np.ones(len(tenths), dtype=bool)
            keep[1:] = np.any(np.diff(tenths, axis=0) != 0, axis=1)
            tenths = tenths[keep]
            if len(tenths) > 1 and (tenths[0] == tenths[-1]).all():
                tenths = tenths[:-1]
            if len(tenths) < 3:
                continue
            steps = np.diff(tenths, axis=0).ravel()
            parts.append(f"M{_numbers(tenths[0])}l{_numbers(steps)}z")
    return "".join(parts)


def _dot(x: float, y: float, r: float = 2.0) -> str:
    """A small diamond: the drawing of an area too small to survive rounding, so it can still be found."""
    tenths = [round(x * 10), round((y - r) * 10)]
    step = round(r * 10)
    return f"M{_numbers(tenths)}l{_numbers([step, step, -step, step, -step, -step])}z"


def _f(value: float) -> str:
    """A coordinate for an attribute, 1 decimal."""
    return _num(round(value * 10))


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _attr_single(text: str) -> str:
    """For a value written between single quotes: JSON's double quotes stay as they are (a third of the bytes)."""
    return html.escape(text, quote=False).replace("'", "&#x27;")


def _simplify(geoms: list, tolerance: float, coverage: bool) -> list:
    """Simplified in viewBox units: a valid coverage keeps shared edges shared (no slivers between areas)."""
    if not geoms:
        return []
    arr = np.array(geoms, dtype=object)
    if coverage:
        # Visvalingam-Whyatt removes triangles up to tolerance² in area; twice the distance tolerance gives
        # about the detail of Douglas-Peucker at `tolerance` (a triangle 0.3 high on a 2-unit base)
        return list(shapely.coverage_simplify(arr, tolerance * 2))
    return list(shapely.simplify(arr, tolerance, preserve_topology=True))


def _box(x: float, y: float, text: str, bold: bool) -> tuple[float, float, float, float]:
    """The box a label takes at the largest text size (FONT), centred on its point."""
    width = FONT * (DIGIT_WIDTH + (0.05 if bold else 0)) * len(text) + FONT * 0.3
    return x - width / 2, y - FONT / 2, x + width / 2, y + FONT / 2


def _fits(geom, box: tuple[float, float, float, float]) -> bool:
    square = shapely.box(*box)
    return shapely.intersection(geom, square).area >= LABEL_FIT * square.area


def _overlaps(box, placed: list) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed)


def _inside(box, frame: tuple[float, float, float, float]) -> bool:
    x, y, w, h = frame
    return box[0] >= x and box[1] >= y and box[2] <= x + w and box[3] <= y + h


def _place_labels(items: list[tuple[str, object, bool]], layout: Layout) -> tuple[list, list]:
    """(main, inset) labels as (text, x, y, bold), first come first placed: on the main map where the label fits
    inside its area and clear of the labels already placed, else likewise on the inset, else not drawn (the
    legend table and the info panel still give it)."""
    panels = [(layout.main, [], [])]
    if layout.inset is not None:
        panels.append((layout.inset, [], []))
    for text, geom, bold in items:
        point = shapely.point_on_surface(geom)
        for panel, labels, boxes in panels:
            x, y = panel.projection.point(point.x, point.y)
            box = _box(x, y, text, bold)
            if _inside(box, panel.box) and not _overlaps(box, boxes) and _fits(panel.projection.geometry(geom), box):
                labels.append((text, x, y, bold))
                boxes.append(box)
                break
    return panels[0][1], (panels[1][1] if len(panels) > 1 else [])


def _labels_svg(labels: list) -> str:
    """The labels with a white halo (stroke painted under the fill), ignored by screen readers and the pointer."""
    if not labels:
        return ""
    rows = []
    for text, x, y, bold in labels:
        cls = ' class="svgmap-name"' if bold else ""
        rows.append(f'<text x="{_f(x)}" y="{_f(y)}"{cls}>{html.escape(text)}</text>')
    return ('<g class="svgmap-labels" aria-hidden="true" font-size="32" text-anchor="middle" '
            'dominant-baseline="central" paint-order="stroke" stroke="#fff" stroke-width="7" '
            'stroke-linejoin="round" fill="#1d232b">' + "".join(rows) + "</g>")


def _scale_bar_svg(panel: Panel, km_per_unit: float) -> str:
    """A bar of a round length, ticked at its ends and middle, its length written after it."""
    x, _, width, _ = panel.box
    km, length = scale_bar(km_per_unit, width / 5)
    text = f"{round(km * 1000)} m" if km < 1 else f"{km:g} km"
    y = panel.strip_top + 36
    return (f'<g class="svgmap-scale" data-km="{km:g}" data-units="{_f(length)}">'
            f'<path d="M{_f(x)} {_f(y)}h{_f(length)}M{_f(x)} {_f(y - 10)}v20M{_f(x + length)} {_f(y - 10)}v20'
            f'M{_f(x + length / 2)} {_f(y - 6)}v12"/>'
            f'<text x="{_f(x + length + 12)}" y="{_f(y)}" text-anchor="start" dominant-baseline="central">'
            f"{text}</text></g>")


def _north_svg(panel: Panel) -> str:
    """An arrowhead pointing up, "N" beside it, at the right end of the panel's strip (north is up)."""
    x, _, width, _ = panel.box
    cx, top = x + width - 14, panel.strip_top
    return (f'<g class="svgmap-north"><path d="M{_f(cx)} {_f(top + 6)}l14 60l-14-12l-14 12z"/>'
            f'<text x="{_f(cx - 34)}" y="{_f(top + 52)}">N</text></g>')


def _area_paths(rows: list[tuple[MapArea, str, object]], *, main: bool, fills: dict, hatch: str,
                labels: dict, layers: Sequence[MapLayer]) -> str:
    """One path per area; the main map's carry the data the script shows (with their classes and lines in each
    layer), are focusable and named."""
    out = []
    for area, d, point in rows:
        if not d:
            d = _dot(*point)
        fill = fills[area.klass] if area.klass is not None else f"url(#{hatch})"
        head = f'<path d="{d}" fill="{fill}" data-area="{_attr(area.area_id)}"'
        title = f"<title>{html.escape(labels[area.area_id])}</title></path>"
        if not main:
            out.append(f"{head}>{title}")
            continue
        details = json.dumps([list(line) for line in area.details], ensure_ascii=False, separators=(",", ":"))
        number = f' data-number="{area.number}"' if area.number is not None else ""
        out.append(f'{head} data-class="{area.klass if area.klass is not None else "none"}"{number} '
                   f'data-name="{_attr(area.name)}" data-details=\'{_attr_single(details)}\''
                   f'{_layer_attributes(area.area_id, layers)} tabindex="0" '
                   f'role="button" aria-label="{_attr(labels[area.area_id])}">{title}')
    return "".join(out)


def _layer_attributes(area_id: str, layers: Sequence[MapLayer]) -> str:
    """The area's class in each layer as one character (`data-classes="31-2"`: class 3 in the first layer, no data
    in the third) and, when a layer has panel lines for it, every layer's lines as JSON (`data-layer-details`)."""
    if not layers:
        return ""
    digits = "".join(NO_DATA_DIGIT if (k := layer.klass.get(area_id)) is None else LAYER_DIGITS[k - 1]
                     for layer in layers)
    out = f' data-classes="{digits}"'
    lines = [[list(line) for line in layer.details.get(area_id, ())] for layer in layers]
    if any(lines):
        out += f" data-layer-details='{_attr_single(json.dumps(lines, ensure_ascii=False, separators=(',', ':')))}'"
    return out


def _outline_path(geoms: list) -> str:
    """The parent areas' borders as one path (no fill, no events)."""
    d = "".join(_path_data(g) for g in geoms)
    return f'<path class="svgmap-outline" d="{d}"/>' if d else ""


HIGHLIGHT = '<g class="svgmap-hl"><path class="svgmap-hl-o" d=""/><path class="svgmap-hl-i" d=""/></g>'


def svg_map(areas: Sequence[MapArea], classes: Sequence[MapClass], *, map_id: str, title: str,
            no_data_label: str, outlines: Sequence[tuple[str, str]] = (), outline_label: str | None = None,
            inset: bool = True, lang: str = "es", layers: Sequence[MapLayer] = (),
            base_label: str | None = None) -> str:
    """The interactive map as one `<figure>` of HTML with inline SVG; needs MAP_CSS and MAP_SCRIPT on the page.

    Areas are drawn, tabbed and searched in the order given; an area with an empty geometry is left out.
    `outlines` are (name, WKT) of the parent level, drawn as thick borders and named where the name fits;
    `outline_label` is their legend entry. `layers` add a `<select>` of what the map shows: `base_label` names
    the base classes (its first option), then one option per layer; no layers, no select, and the same bytes as
    without the argument. Ids in the output all start with `map_id`."""
    if not MAP_ID.fullmatch(map_id):
        raise ValueError(f"map_id {map_id!r}: letters, digits, - and _ only, starting with a letter")
    if lang not in TEXT:
        raise ValueError(f"lang {lang!r}: one of {sorted(TEXT)}")
    for klass in classes:
        if not COLOUR.fullmatch(klass.colour):
            raise ValueError(f"class colour {klass.colour!r}: expected #rrggbb")
    _check_layers(layers, base_label)
    drawn = _drawable(areas, len(classes))
    borders = [(name, g) for name, g in ((name, _polygonal(wkt)) for name, wkt in outlines) if g is not None]
    every = np.array([g for _, g in drawn] + [g for _, g in borders], dtype=object)
    layout = layout_map([g for _, g in drawn], tuple(float(v) for v in shapely.total_bounds(every)), inset)
    words = TEXT[lang]
    svg = _svg(layout, drawn, borders, classes, map_id=map_id, title=title, no_data_label=no_data_label,
               words=words, layers=layers)
    figure_class = "svgmap svgmap-layered" if layers else "svgmap"
    legends = f" data-layers='{_attr_single(_layers_json(layers))}'" if layers else ""
    return "".join([
        f'<figure class="{figure_class}" id="{map_id}" lang="{lang}" data-svgmap="{_attr(_script_words(words))}"'
        f"{legends}>",
        f'<figcaption class="svgmap-caption">{html.escape(title)}</figcaption><div class="svgmap-body">',
        _layer_select_html(map_id, base_label, layers, words) if layers else "",
        _search_html(map_id, words),
        f'<div class="svgmap-canvas" style="--svgmap-aspect:{layout.height / layout.width:.3f}">', svg, "</div>",
        f'<div class="svgmap-info" id="{map_id}-info" aria-live="polite" hidden="">'
        f'<p class="svgmap-hint">{html.escape(words["hint"])}</p></div>',
        _legend_html(classes, no_data_label, outline_label if borders else None, layout, words),
        "</div></figure>",
    ])


def _check_layers(layers: Sequence[MapLayer], base_label: str | None) -> None:
    """Every layer's colours are #rrggbb and its classes within its legend; the base needs a name to be chosen by."""
    if layers and not base_label:
        raise ValueError("base_label: the first option of the layer select needs a name when layers are given")
    for layer in layers:
        if not 1 <= len(layer.classes) <= len(LAYER_DIGITS):
            raise ValueError(f"layer {layer.label!r}: {len(layer.classes)} classes, expected 1..{len(LAYER_DIGITS)}")
        for klass in layer.classes:
            if not COLOUR.fullmatch(klass.colour):
                raise ValueError(f"layer {layer.label!r}: class colour {klass.colour!r}, expected #rrggbb")
        for area_id, k in layer.klass.items():
            if k is not None and not (isinstance(k, numbers.Integral) and 1 <= k <= len(layer.classes)):
                raise ValueError(f"layer {layer.label!r}: area {area_id!r} has class {k!r}, outside "
                                 f"1..{len(layer.classes)}")


def _layers_json(layers: Sequence[MapLayer]) -> str:
    """Each layer's name and legend, for the script: [{"label": ..., "classes": [[colour, label], ...]}, ...]."""
    return json.dumps([{"label": layer.label, "classes": [[c.colour, c.label] for c in layer.classes]}
                       for layer in layers], ensure_ascii=False, separators=(",", ":"))


def _layer_select_html(map_id: str, base_label: str, layers: Sequence[MapLayer], words: dict) -> str:
    """The choice of what the map shows, hidden until the script can act on it (and on paper)."""
    options = [f'<option value="0">{html.escape(base_label)}</option>']
    options += [f'<option value="{i}">{html.escape(layer.label)}</option>' for i, layer in enumerate(layers, start=1)]
    return (f'<div class="svgmap-layer" hidden=""><label for="{map_id}-layer">{html.escape(words["layer"])}</label>'
            f'<select id="{map_id}-layer" autocomplete="off">{"".join(options)}</select></div>')


def _drawable(areas: Sequence[MapArea], class_count: int) -> list[tuple[MapArea, object]]:
    """The areas with a geometry, each with its (multi)polygon; a repeated id or an unknown class is an error."""
    seen: set[str] = set()
    drawn = []
    for area in areas:
        if area.area_id in seen:
            raise ValueError(f"area {area.area_id!r} appears twice")
        seen.add(area.area_id)
        if area.klass is not None and not 1 <= area.klass <= class_count:
            raise ValueError(f"area {area.area_id!r}: class {area.klass} outside 1..{class_count}")
        geom = _polygonal(area.geometry_wkt)
        if geom is not None:
            drawn.append((area, geom))
    if not drawn:
        raise ValueError("no area has a geometry to draw")
    return drawn


def _svg(layout: Layout, drawn: list, borders: list, classes: Sequence[MapClass], *, map_id: str, title: str,
         no_data_label: str, words: dict, layers: Sequence[MapLayer]) -> str:
    """The `<svg>`: main panel (areas, outlines, highlight, inset mark), inset panel, labels, furniture."""
    geoms = np.array([g for _, g in drawn], dtype=object)
    coverage = bool(shapely.coverage_is_valid(geoms))
    style = {"fills": {i: c.colour for i, c in enumerate(classes, start=1)}, "hatch": f"{map_id}-nodata",
             "labels": {a.area_id: _aria_label(a, no_data_label) for a, _ in drawn}}
    clip, title_id = f"{map_id}-clip", f"{map_id}-title"
    main = layout.main.projection
    simplified = _simplify([main.geometry(g) for g in geoms], TOLERANCE, coverage)
    points = [main.point(p.x, p.y) for p in shapely.point_on_surface(geoms)]
    rows = [(a, _path_data(g), p) for (a, _), g, p in zip(drawn, simplified, points, strict=True)]
    # parent names first: fewer, and they orient the reader; numbers in the caller's order after them
    label_items = [(name, g, True) for name, g in borders]
    label_items += [(str(a.number), g, False) for a, g in drawn if a.number is not None]
    main_labels, inset_labels = _place_labels(label_items, layout)

    svg = [f'<svg class="svgmap-svg" viewBox="0 0 {_f(layout.width)} {_f(layout.height)}" role="group" '
           f'aria-labelledby="{title_id}"><title id="{title_id}">{html.escape(title)}</title>',
           f'<defs><pattern id="{style["hatch"]}" patternUnits="userSpaceOnUse" width="9" height="9" '
           f'patternTransform="rotate(45)"><rect width="9" height="9" fill="#ececec"/>'
           f'<path d="M0 0v9" stroke="#7a7a7a" stroke-width="3"/></pattern>']
    if layout.inset is not None:
        x, y, w, h = layout.inset.box
        svg.append(f'<clipPath id="{clip}"><rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}"/>'
                   "</clipPath>")
    svg.append('</defs><g class="svgmap-panel" fill-rule="evenodd" stroke="#fff" stroke-width=".6">')
    svg.append(_area_paths(rows, main=True, layers=layers, **style))
    svg.append(_outline_path(_simplify([main.geometry(g) for _, g in borders], TOLERANCE, False)))
    svg.append(HIGHLIGHT)
    if layout.inset is not None:
        x0, y0 = main.point(layout.core[0], layout.core[3])
        x1, y1 = main.point(layout.core[2], layout.core[1])
        svg.append(f'<rect class="svgmap-mark" x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" '
                   f'height="{_f(y1 - y0)}"/>')
    svg.append("</g>")
    if layout.inset is not None:
        svg.append(_inset_svg(layout, drawn, borders, coverage, clip, style))
    svg.append(_labels_svg(main_labels) + _labels_svg(inset_labels))
    svg.append('<g class="svgmap-furniture" aria-hidden="true" font-size="32" text-anchor="middle">')
    svg.append(_scale_bar_svg(layout.main, main.km_per_unit) + _north_svg(layout.main))
    if layout.inset is not None:
        svg.append(_scale_bar_svg(layout.inset, layout.inset.projection.km_per_unit))
    svg.append("</g></svg>")
    return "".join(svg)


def _polygonal(wkt: str | None):
    """The (multi)polygon of a WKT, repaired when invalid (a self-crossing ring would break the label fit test);
    None when empty."""
    if not wkt:
        return None
    geom = shapely.from_wkt(wkt)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        geom = shapely.union_all([p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")])
    return None if geom.is_empty else geom


def _aria_label(area: MapArea, no_data_label: str) -> str:
    """The area's name and its first detail (the score, as the caller orders them)."""
    if area.details:
        caption, value = area.details[0]
        return f"{area.name}: {caption} {value}"
    return f"{area.name}: {no_data_label}" if area.klass is None else area.name


def _inset_svg(layout: Layout, drawn: list, borders: list, coverage: bool, clip: str, style: dict) -> str:
    """The enlarged core: the areas that reach into it, drawn again (not focusable: the main map's copy is),
    clipped to the panel."""
    zoom = layout.inset.projection
    lon0, lat0, lon1, lat1 = layout.core
    window = shapely.box(lon0, lat0, lon1, lat1)
    inside = [(a, g) for a, g in drawn if shapely.intersects(g, window)]
    geoms = _simplify([zoom.geometry(g) for _, g in inside], TOLERANCE, coverage)
    points = [zoom.point(*shapely.point_on_surface(g).coords[0]) for _, g in inside]
    rows = [(a, _path_data(g), p) for (a, _), g, p in zip(inside, geoms, points, strict=True)]
    outline = [zoom.geometry(g) for _, g in borders if shapely.intersects(g, window)]
    x, y, w, h = layout.inset.box
    return (f'<g class="svgmap-panel svgmap-inset" aria-hidden="true" clip-path="url(#{clip})" '
            f'fill-rule="evenodd" stroke="#fff" stroke-width=".6">'
            + _area_paths(rows, main=False, layers=(), **style)
            + _outline_path(_simplify(outline, TOLERANCE, False)) + HIGHLIGHT + "</g>"
            + f'<rect class="svgmap-frame" x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}"/>')


def _script_words(words: dict) -> str:
    keys = ("one", "many", "more", "none")
    return json.dumps({k: words[k] for k in keys} | {"max": MAX_RESULTS}, ensure_ascii=False,
                      separators=(",", ":"))


def _search_html(map_id: str, words: dict) -> str:
    return (f'<div class="svgmap-search" hidden=""><label for="{map_id}-q">{html.escape(words["search"])}</label>'
            f'<input type="search" id="{map_id}-q" autocomplete="off" spellcheck="false" '
            f'aria-controls="{map_id}-results" aria-describedby="{map_id}-count"/>'
            f'<p class="svgmap-count" id="{map_id}-count" aria-live="polite"></p>'
            f'<ul class="svgmap-results" id="{map_id}-results"></ul></div>')


def _legend_html(classes: Sequence[MapClass], no_data_label: str, outline_label: str | None, layout: Layout,
                 words: dict) -> str:
    items = [f'<li data-class="{i}"><span class="svgmap-swatch" style="background:{c.colour}"></span>'
             f"{html.escape(c.label)}</li>" for i, c in enumerate(classes, start=1)]
    items.append(f'<li data-class="none"><span class="svgmap-swatch svgmap-hatch"></span>'
                 f"{html.escape(no_data_label)}</li>")
    if outline_label:
        items.append(f'<li><span class="svgmap-swatch svgmap-line"></span>{html.escape(outline_label)}</li>')
    if layout.inset is not None:
        text = words["inset_right"] if layout.beside else words["inset_below"]
        items.append(f'<li><span class="svgmap-swatch svgmap-box"></span>{html.escape(text)}</li>')
    return f'<ul class="svgmap-legend" aria-label="{_attr(words["legend"])}">' + "".join(items) + "</ul>"


MAP_CSS = """
.svgmap { margin: 1rem 0; container-type: inline-size; }
.svgmap-caption { font-weight: 600; margin: 0 0 .5rem; color: inherit; font-size: 1rem; }
.svgmap-body { display: grid; gap: .75rem 1.5rem; grid-template-columns: minmax(0, 1fr);
  grid-template-areas: "search" "canvas" "info" "legend"; align-items: start; }
@container (min-width: 50rem) {
  .svgmap-body { grid-template-columns: minmax(0, 1fr) 17rem; grid-template-rows: auto auto 1fr;
    grid-template-areas: "canvas search" "canvas info" "canvas legend"; }
}
/* the layer select's row, only where the select shows: not without the script, not on paper */
@media screen {
  .svgmap-layered.svgmap-ready .svgmap-body { grid-template-areas: "layer" "search" "canvas" "info" "legend"; }
  @container (min-width: 50rem) {
    .svgmap-layered.svgmap-ready .svgmap-body { grid-template-rows: auto auto auto 1fr;
      grid-template-areas: "canvas layer" "canvas search" "canvas info" "canvas legend"; }
  }
}
.svgmap-search { grid-area: search; }
.svgmap-layer { grid-area: layer; }
.svgmap-search label, .svgmap-layer label { display: block; font-size: .9rem; margin-bottom: .2rem; }
.svgmap-search input, .svgmap-layer select { width: 100%; font: inherit; padding: .35rem .5rem;
  border: 1px solid #8a94a0; border-radius: 4px; }
.svgmap-layer select { background: #fff; color: inherit; min-height: 2.2rem; }
.svgmap-count { margin: .25rem 0 0; font-size: .85rem; color: #5b6470; min-height: 1.2em; }
.svgmap-count:empty { margin: 0; min-height: 0; }
.svgmap-results:empty { margin: 0; }
.svgmap-results { list-style: none; margin: .25rem 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem; }
.svgmap-results button { font: inherit; font-size: .88rem; padding: .2rem .55rem; min-height: 2rem; cursor: pointer;
  border: 1px solid #8a94a0; border-radius: 1rem; background: #f4f6f8; color: inherit; }
.svgmap-results button:hover, .svgmap-results button:focus-visible { background: #e3f0f2; border-color: #21606e; }
.svgmap-canvas { grid-area: canvas; container-type: inline-size; width: 100%; justify-self: start;
  max-width: max(22rem, calc(82vh / var(--svgmap-aspect, 1))); }
.svgmap-svg { display: block; width: 100%; height: auto; font-family: inherit; }
.svgmap-svg text { font-size: 32px; stroke-width: 7px; }
.svgmap-svg text.svgmap-name { font-weight: 700; }
@container (min-width: 500px) { .svgmap-svg text { font-size: 24px; stroke-width: 5px; } }
@container (min-width: 700px) { .svgmap-svg text { font-size: 18px; stroke-width: 4px; } }
.svgmap-svg path, .svgmap-svg rect { vector-effect: non-scaling-stroke; }
.svgmap-svg path[data-area] { stroke: #fff; stroke-width: .6px; cursor: pointer; }
.svgmap-outline { fill: none; stroke: #1d232b; stroke-width: 2px; stroke-linejoin: round; pointer-events: none; }
.svgmap-hl path { fill: none; pointer-events: none; stroke-linejoin: round; }
.svgmap-hl .svgmap-hl-o { stroke: #000; stroke-width: 5px; }
.svgmap-hl .svgmap-hl-i { stroke: #fff; stroke-width: 2px; }
.svgmap-mark, .svgmap-frame { fill: none; stroke: #1d232b; stroke-width: 1.5px; pointer-events: none; }
.svgmap-mark { stroke-dasharray: 6 4; }
.svgmap-labels, .svgmap-furniture { pointer-events: none; }
.svgmap-furniture path { fill: #1d232b; stroke: #1d232b; stroke-width: 2px; }
.svgmap-furniture text { fill: #1d232b; stroke: #fff; paint-order: stroke; }
.svgmap-searching path[data-area]:not(.svgmap-match) { fill-opacity: .2; }
.svgmap-svg path.svgmap-match { stroke: #000; stroke-width: 1.5px; }
.svgmap-ready path[data-area]:focus { outline: none; }
.svgmap-info { grid-area: info; border-left: 4px solid #21606e; background: #f4f6f8; padding: .5rem .75rem;
  min-height: 6rem; font-size: .92rem; }
.svgmap-info p { margin: 0 0 .3rem; }
.svgmap-hint { color: #5b6470; }
.svgmap-info .svgmap-name { font-weight: 700; font-size: 1rem; }
.svgmap-info .svgmap-of { font-weight: 600; }
.svgmap-info dl + .svgmap-class { margin-top: .5rem; }
.svgmap-num { display: inline-block; min-width: 1.6em; padding: 0 .3em; margin-right: .35em; border-radius: .8em;
  background: #1d232b; color: #fff; text-align: center; font-size: .85em; }
.svgmap-info dl { display: grid; grid-template-columns: auto auto; gap: .1rem .75rem; margin: .3rem 0 0;
  justify-content: start; }
.svgmap-info dt { color: #5b6470; }
.svgmap-info dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
.svgmap-legend { grid-area: legend; list-style: none; margin: 0; padding: 0; font-size: .88rem;
  display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .25rem 1rem; }
.svgmap-legend li { display: flex; align-items: center; gap: .45rem; }
.svgmap-swatch { flex: none; display: inline-block; width: 1.6rem; height: 1rem; border: 1px solid #8a94a0;
  vertical-align: middle; }
.svgmap-hatch { background: repeating-linear-gradient(45deg, #7a7a7a 0 2px, #ececec 2px 6px); }
.svgmap-line { border: 0; border-top: 3px solid #1d232b; height: 0; }
.svgmap-box { border: 1.5px dashed #1d232b; }
.svgmap-legend li.svgmap-key-off { display: none; }
@media print {
  .svgmap-search, .svgmap-info, .svgmap-layer, .svgmap-legend li.svgmap-key-layer { display: none; }
  .svgmap-legend li.svgmap-key-off { display: flex; }
  .svgmap-legend { break-inside: avoid; }
  /* paper shows the base classes whatever layer the screen showed: the script keeps each area's base fill here */
  .svgmap-layered.svgmap-ready path[data-area] { fill: var(--svgmap-base) !important; }
}
"""

MAP_SCRIPT = r"""
(() => {
  "use strict";
  const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function wire(fig) {
    if (fig.classList.contains("svgmap-ready")) return;
    const words = JSON.parse(fig.dataset.svgmap || "{}");
    const svg = fig.querySelector("svg");
    const info = fig.querySelector(".svgmap-info");
    const areas = new Map();
    for (const path of fig.querySelectorAll("path[data-details]")) areas.set(path.dataset.area, path);
    const keys = new Map();
    for (const li of fig.querySelectorAll(".svgmap-legend [data-class]")) keys.set(li.dataset.class, li);
    const legend = fig.querySelector(".svgmap-legend");
    const legendName = legend.getAttribute("aria-label");
    const layers = JSON.parse(fig.dataset.layers || "[]");
    const select = fig.querySelector(".svgmap-layer select");
    let layer = 0;  // what the map shows: 0 the base classes, i the layer layers[i - 1]
    let shown = null;

    const swatch = (colour) => {
      const node = el("span", "svgmap-swatch");
      node.style.background = colour;
      return node;
    };
    // an area's class in the layer shown: [swatch, label], from the layer's legend or the no-data key
    function layerClass(path) {
      const digit = path.dataset.classes[layer - 1];
      const entry = digit === "-" ? null : layers[layer - 1].classes[parseInt(digit, 36) - 1];
      if (entry) return [swatch(entry[0]), entry[1]];
      const none = keys.get("none");
      return [none.querySelector(".svgmap-swatch").cloneNode(true), none.textContent.trim()];
    }
    const classLine = ([mark, text], caption) => {
      const line = el("p", "svgmap-class");
      if (caption) line.append(el("span", "svgmap-of", caption + ":"), " ");
      line.append(mark, " " + text);
      return line;
    };
    const detailList = (lines) => {
      const list = el("dl");
      for (const [caption, value] of lines) list.append(el("dt", "", caption), el("dd", "", value));
      return list;
    };

    function show(id) {
      const path = areas.get(id);
      if (!path || id === shown) return;
      shown = id;
      for (const hl of fig.querySelectorAll(".svgmap-hl")) {
        const copy = hl.parentNode.querySelector('path[data-area="' + CSS.escape(id) + '"]');
        for (const line of hl.children) line.setAttribute("d", copy ? copy.getAttribute("d") : "");
      }
      const name = el("p", "svgmap-name");
      if (path.dataset.number) name.append(el("span", "svgmap-num", path.dataset.number));
      name.append(path.dataset.name);
      const parts = [name];
      if (layer) {  // the layer's class and lines first, then the base ones under the base's name
        parts.push(classLine(layerClass(path), layers[layer - 1].label));
        const lines = JSON.parse(path.dataset.layerDetails || "[]")[layer - 1] || [];
        if (lines.length) parts.push(detailList(lines));
      }
      const key = keys.get(path.dataset.class);
      if (key) {
        parts.push(classLine([key.querySelector(".svgmap-swatch").cloneNode(true), key.textContent.trim()],
          layer ? select.options[0].text : ""));
      }
      const list = detailList(JSON.parse(path.dataset.details));
      if (list.children.length) parts.push(list);
      info.replaceChildren(...parts);
    }

    // every copy of an area (main map and inset) takes the layer's colour; the legend's class entries follow
    function showLayer(index) {
      layer = index;
      const nodata = "url(#" + fig.id + "-nodata)";
      for (const copy of fig.querySelectorAll("path[data-area]")) {
        if (!layer) { copy.style.removeProperty("fill"); continue; }
        const digit = areas.get(copy.dataset.area).dataset.classes[layer - 1];
        copy.style.fill = digit === "-" ? nodata : layers[layer - 1].classes[parseInt(digit, 36) - 1][0];
      }
      for (const li of legend.querySelectorAll(".svgmap-key-layer")) li.remove();
      for (const [klass, li] of keys) if (klass !== "none") li.classList.toggle("svgmap-key-off", layer > 0);
      if (layer) {
        keys.get("none").before(...layers[layer - 1].classes.map(([colour, label]) => {
          const li = el("li", "svgmap-key-layer");
          li.append(swatch(colour), label);
          return li;
        }));
      }
      legend.setAttribute("aria-label", layer ? legendName + ": " + layers[layer - 1].label : legendName);
      const again = shown;
      shown = null;
      if (again) show(again);
    }
    if (select) {
      for (const copy of fig.querySelectorAll("path[data-area]")) {
        copy.style.setProperty("--svgmap-base", copy.getAttribute("fill"));
      }
      select.addEventListener("change", () => showLayer(Number(select.value)));
      if (select.value !== "0") showLayer(Number(select.value));  // a browser that restored the choice
      select.parentNode.hidden = false;
    }

    const areaOf = (target) => {
      const path = target instanceof Element ? target.closest("path[data-area]") : null;
      return path ? path.dataset.area : null;
    };
    for (const type of ["mouseover", "focusin", "click"]) {
      svg.addEventListener(type, (event) => {
        const id = areaOf(event.target);
        if (id) show(id);
      });
    }
    svg.addEventListener("keydown", (event) => {
      const id = (event.key === "Enter" || event.key === " ") && areaOf(event.target);
      if (id) { event.preventDefault(); shown = null; show(id); }
    });

    const search = fig.querySelector(".svgmap-search");
    const input = search.querySelector("input");
    const results = search.querySelector("ul");
    const count = search.querySelector(".svgmap-count");
    const names = [...areas].map(([id, path]) => [id, path.dataset.name, fold(path.dataset.name)]);
    let matches = [];
    const choose = (id) => { shown = null; show(id); areas.get(id).focus(); };
    input.addEventListener("input", () => {
      const query = fold(input.value.trim());
      matches = query ? names.filter((n) => n[2].includes(query)) : [];
      matches.sort((a, b) => (b[2].startsWith(query) - a[2].startsWith(query)) || a[1].localeCompare(b[1]));
      const hits = new Set(matches.map((m) => m[0]));
      fig.classList.toggle("svgmap-searching", query !== "");
      for (const path of fig.querySelectorAll("path[data-area]")) {
        path.classList.toggle("svgmap-match", hits.has(path.dataset.area));
      }
      results.replaceChildren(...matches.slice(0, words.max).map(([id, name]) => {
        const button = el("button", "", name);
        button.type = "button";
        button.dataset.area = id;
        const item = el("li");
        item.append(button);
        return item;
      }));
      let said = !query ? "" : matches.length === 0 ? words.none : matches.length === 1 ? words.one
        : words.many.replace("{n}", matches.length);
      if (matches.length > words.max) said += " " + words.more.replace("{shown}", words.max);
      count.textContent = said;
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && matches.length) { event.preventDefault(); choose(matches[0][0]); }
    });
    results.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest("button[data-area]") : null;
      if (button) choose(button.dataset.area);
    });
    search.hidden = false;
    info.hidden = false;
    fig.classList.add("svgmap-ready");
  }

  const start = () => document.querySelectorAll("[data-svgmap]").forEach(wire);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""
