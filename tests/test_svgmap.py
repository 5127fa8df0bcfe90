"""The interactive SVG map (reports/svgmap.py) on synthetic shapes, with the expected numbers worked by hand."""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import shapely

from reports.svgmap import (
    FONT,
    MAP_CSS,
    MAP_SCRIPT,
    MapArea,
    MapClass,
    MapLayer,
    Projection,
    layout_map,
    scale_bar,
    svg_map,
)

CHROMIUM = Path("/usr/bin/chromium")
CLASSES = [MapClass("#fde725", "1 (mejor) 80,0–91,0"), MapClass("#22a884", "2 60,0–79,9"),
           MapClass("#414487", "3 (peor) 10,0–59,9")]
HOSTILE = 'Miraflores <Alto> & "Co" \'x\''
SQUARE = (-68.15, -16.55, -68.05, -16.45)  # 0.1° wide and tall, centred on latitude -16.5 (La Paz)


def square(lon: float, lat: float, side: float) -> str:
    return shapely.box(lon, lat, lon + side, lat + side).wkt


def area(area_id: str, wkt: str, klass: int | None = 1, number: int | None = None, name: str | None = None,
         details: tuple = (("Puntaje", "72,5"),)) -> MapArea:
    return MapArea(area_id, name or f"Zona {area_id}", wkt, klass, number, details)


def grid(columns: int, rows: int, side: float = 0.1, lon: float = -68.3, lat: float = -16.7) -> list[MapArea]:
    """A uniform grid of squares, classes 1, 2, 3, None in turn."""
    classes = (1, 2, 3, None)
    return [area(f"G{r:02d}{c:02d}", square(lon + c * side, lat + r * side, side), classes[(r * columns + c) % 4])
            for r in range(rows) for c in range(columns)]


def clustered_city() -> list[MapArea]:
    """4 squares of 0.5° in a row west to east, and 20 squares of 0.005° in a 5 x 4 cluster 0.01° east of it."""
    big = [area(f"B{i}", square(-69.0 + i * 0.5, -17.0, 0.5), 3) for i in range(4)]
    small = [area(f"S{i:02d}", square(-66.99 + (i % 5) * 0.005, -16.8 + (i // 5) * 0.005, 0.005), 1 + i % 3)
             for i in range(20)]
    return big + small


def draw(areas: list[MapArea], **kwargs) -> str:
    kwargs = {"map_id": "m", "title": "Mapa", "no_data_label": "Sin datos"} | kwargs
    return svg_map(areas, CLASSES, **kwargs)


def parse(page: str) -> ET.Element:
    """The fragment as XML: proves it is well formed (every tag closed, every attribute quoted and escaped)."""
    return ET.fromstring(page)


def focusable_paths(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter("path") if p.get("tabindex") == "0"]


def test_projection_of_known_points():
    # cos(16.5°) = 0.958820, so the square is 0.1 × 0.958820 = 0.0958820 wide once projected; it fills the
    # 960 units between the 20-unit margins: 960 / 0.0958820 = 10012.31 units per degree. Its 0.1° of latitude
    # are then 1001.23 units tall: the south edge at 20 + 1001.23 = 1021.23. North is up (y grows southwards).
    projection = Projection.single(SQUARE)
    assert projection.point(-68.15, -16.45) == pytest.approx((20.0, 20.0))
    assert projection.point(-68.05, -16.45) == pytest.approx((980.0, 20.0))
    assert projection.point(-68.05, -16.55) == pytest.approx((980.0, 1021.23), abs=0.01)
    assert projection.point(-68.10, -16.50) == pytest.approx((500.0, 520.62), abs=0.01)
    # a shape keeps its proportions: 0.1° of latitude is 1/cos(16.5°) = 1.0429 times 0.1° of longitude
    assert projection.scale * 0.1 / (960.0) == pytest.approx(1 / 0.958820, rel=1e-5)


def test_scale_bar_of_a_tenth_of_a_degree_at_la_paz():
    # Along the parallel -16.5°, 0.1° of longitude is R cos φ Δλ = 6371.0088 km × 0.958820 × 0.00174533 rad
    # = 10.6616 km (the haversine differs from this by 1e-7). Over 960 units: 0.0111058 km per unit.
    # The bar aims at 1/5 of the 960-unit map: 192 units = 2.132 km; of 1, 2, 5 and 10 km, 2 is nearest by
    # ratio, and 2 km are 2 / 0.0111058 = 180.08 units.
    projection = Projection.single(SQUARE)
    assert projection.km_per_unit == pytest.approx(0.0111058, rel=1e-5)
    km, units = scale_bar(projection.km_per_unit, 192)
    assert km == 2
    assert units == pytest.approx(180.08, abs=0.01)
    root = parse(draw([area("A", shapely.box(*SQUARE).wkt)]))
    bar = next(g for g in root.iter("g") if g.get("class") == "svgmap-scale")
    assert (bar.get("data-km"), bar.get("data-units")) == ("2", "180.1")
    assert bar.find("path").get("d").startswith("M20 1065.2h180.1")  # under the map: 1021.2 + 8 + 36
    assert bar.find("text").text == "2 km"


@pytest.mark.parametrize(("target_km", "expected"), [(0.13, 0.1), (0.16, 0.2), (3.3, 5), (3.1, 2), (700, 500),
                                                      (8, 10)])
def test_scale_bar_rounds_to_1_2_5_by_ratio(target_km, expected):
    # 3.3 km: 5/3.3 = 1.52 beats 3.3/2 = 1.65; 3.1: 3.1/2 = 1.55 beats 5/3.1 = 1.61; 8: 10/8 = 1.25 beats 8/5 = 1.6
    km, units = scale_bar(target_km / 100, 100)
    assert km == pytest.approx(expected)
    assert units == pytest.approx(expected / (target_km / 100))


def test_every_area_has_one_path_with_its_fill_or_the_hatch():
    areas = grid(4, 3)
    root = parse(draw(areas))
    paths = focusable_paths(root)
    assert [p.get("data-area") for p in paths] == [a.area_id for a in areas]
    for path, a in zip(paths, areas, strict=True):
        expected = CLASSES[a.klass - 1].colour if a.klass else "url(#m-nodata)"
        assert path.get("fill") == expected
        assert path.get("data-class") == (str(a.klass) if a.klass else "none")
        assert re.fullmatch(r"M[\d.]+ [\d.]+l[-\d. ]+z", path.get("d"))
    patterns = [p.get("id") for p in root.iter("pattern")]
    assert patterns == ["m-nodata"]
    legend = [li.get("data-class") for li in root.iter("li") if li.get("data-class")]
    assert legend == ["1", "2", "3", "none"]


def test_a_square_is_drawn_where_the_projection_puts_it():
    # one 0.1° square alone: its ring runs 20,20 → 980,20 → 980,1021.2 → 20,1021.2 (shapely.box starts at the
    # south-east corner and goes counter-clockwise in lon/lat, clockwise on screen)
    path = focusable_paths(parse(draw([area("A", shapely.box(*SQUARE).wkt)])))[0]
    assert path.get("d") == "M980 1021.2l0-1001.2-960 0 0 1001.2z"


def test_a_hostile_name_is_escaped_and_round_trips():
    details = (("Puntaje", "72,5"), ("Nota <b>", 'a & "b" </script>'))
    areas = [area("Z<1>", square(-68.2, -16.6, 0.1), 1, 7, HOSTILE, details), area("Z2", square(-68.1, -16.6, 0.1))]
    page = draw(areas, title=f"Mapa {HOSTILE}", no_data_label="Sin <datos>", outlines=[(HOSTILE, square(-68.2, -16.6,
                0.2))], outline_label="Límite & <macro>")
    assert "<Alto>" not in page and "</script>" not in page and "<b>" not in page
    root = parse(page)
    path = focusable_paths(root)[0]
    assert path.get("data-area") == "Z<1>"
    assert path.get("data-name") == HOSTILE
    assert path.get("aria-label") == f"{HOSTILE}: Puntaje 72,5"
    assert path.find("title").text == f"{HOSTILE}: Puntaje 72,5"
    assert json.loads(path.get("data-details")) == [list(line) for line in details]
    assert root.find("figcaption").text == f"Mapa {HOSTILE}"
    assert next(root.iter("title")).text == f"Mapa {HOSTILE}"
    texts = {t.text for t in root.iter("text")}
    assert HOSTILE in texts  # the outline's name, on the map
    legend = [" ".join(li.itertext()) for li in root.iter("li")]
    assert "Sin <datos>" in legend and "Límite & <macro>" in legend


def test_two_maps_on_one_page_have_distinct_ids_and_each_refers_to_its_own():
    areas = grid(3, 3) + [area("X", square(-67.9, -16.7, 0.1), None)]
    page = parse(f"<div>{draw(areas, map_id='a')}{draw(areas, map_id='b')}</div>")
    ids = [e.get("id") for e in page.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    for figure in page.iter("figure"):
        own = {e.get("id") for e in figure.iter() if e.get("id")}
        refs = set()
        for e in figure.iter():
            for key in ("aria-labelledby", "aria-controls", "aria-describedby", "for"):
                refs.update((e.get(key) or "").split())
            refs.update(re.findall(r"url\(#([^)]+)\)", (e.get("fill") or "") + (e.get("clip-path") or "")))
        assert refs and refs <= own, refs - own
        assert f"{figure.get('id')}-nodata" in own


def test_map_id_must_be_an_id():
    with pytest.raises(ValueError, match="map_id"):
        draw(grid(2, 2), map_id='a" onload="x')


def test_an_inset_enlarges_a_dense_cluster_beside_large_areas():
    areas = clustered_city()
    geoms = [shapely.from_wkt(a.geometry_wkt) for a in areas]
    bounds = tuple(shapely.total_bounds(geoms))
    layout = layout_map(geoms, bounds)
    # the smallest half (12 of the 24) are 12 of the small squares: a box of about 0.025° × 0.01° (padded),
    # far under 1/9 of the 2.035° × 0.5° map
    assert layout.inset is not None
    assert layout.inset.projection.scale > 10 * layout.main.projection.scale
    assert not layout.beside  # the map is wide (2.035 × 0.959 = 1.95 wide, 0.5 tall): the inset goes below it
    assert layout.inset.box[1] > layout.main.box[1] + layout.main.box[3]
    root = parse(draw(areas))
    inset = next(g for g in root.iter("g") if "svgmap-inset" in (g.get("class") or ""))
    assert sorted(p.get("data-area") for p in inset.iter("path") if p.get("data-area")) == \
        sorted(a.area_id for a in areas[4:])  # the 20 small squares, drawn again; the large ones lie outside
    assert all(p.get("tabindex") is None for p in inset.iter("path"))  # keyboard users tab the main map only
    assert len([r for r in root.iter("rect") if r.get("class") == "svgmap-mark"]) == 1
    assert len([g for g in root.iter("g") if g.get("class") == "svgmap-scale"]) == 2  # one bar per panel
    assert len(focusable_paths(root)) == 24
    assert "svgmap-inset" not in draw(areas, inset=False)


def test_no_inset_for_a_uniform_grid():
    areas = grid(8, 6)
    geoms = [shapely.from_wkt(a.geometry_wkt) for a in areas]
    assert layout_map(geoms, tuple(shapely.total_bounds(geoms))).inset is None
    page = draw(areas)
    assert "svgmap-inset" not in page and "svgmap-mark" not in page and "clipPath" not in page


def test_a_tall_map_gets_its_inset_beside_it():
    # 4 large squares stacked north-south (0.5° × 2°) and the small cluster east of the southern one
    big = [area(f"B{i}", square(-69.0, -17.0 + i * 0.5, 0.5), 3) for i in range(4)]
    small = [area(f"S{i:02d}", square(-68.49 + (i % 5) * 0.005, -16.9 + (i // 5) * 0.005, 0.005)) for i in range(20)]
    geoms = [shapely.from_wkt(a.geometry_wkt) for a in big + small]
    layout = layout_map(geoms, tuple(shapely.total_bounds(geoms)))
    assert layout.beside
    main_x, _, main_w, main_h = layout.main.box
    inset_x, _, inset_w, inset_h = layout.inset.box
    assert main_h == pytest.approx(inset_h)  # side by side, as tall as each other
    assert main_x + main_w + 40 == pytest.approx(inset_x)
    assert inset_x + inset_w + 20 == pytest.approx(1000)


def test_numbers_are_drawn_where_they_fit():
    # inset=False: a 0.1° square is 960 units wide, room for any number; a 0.001° square is 9.6 units, and
    # "2" at 32 units (the text size on a phone) would cover it and its neighbours
    areas = [area("A", square(-68.2, -16.6, 0.1), 1, 1), area("B", square(-68.1, -16.6, 0.001), 2, 2)]
    texts = [t.text for t in parse(draw(areas, inset=False)).iter("text")]
    assert "1" in texts and "2" not in texts


def test_text_stays_legible_on_a_phone():
    # The labels' size is in viewBox units (1000 wide): 32 units below a 500 px map, and the map is never
    # narrower than 22rem (352 px) unless its container is: 32 × 352 / 1000 = 11.3 px ≥ 11 px.
    assert FONT == 32
    assert ".svgmap-svg text { font-size: 32px;" in MAP_CSS and "max(22rem," in MAP_CSS
    assert "@container (min-width: 500px) { .svgmap-svg text { font-size: 24px;" in MAP_CSS  # 500 × 24 = 12 px
    assert "@container (min-width: 700px) { .svgmap-svg text { font-size: 18px;" in MAP_CSS  # 700 × 18 = 12.6 px
    assert FONT * 352 / 1000 >= 11


def test_the_same_input_gives_the_same_bytes():
    areas = clustered_city()
    copy = [MapArea(a.area_id, a.name, str(a.geometry_wkt), a.klass, a.number, tuple(a.details)) for a in areas]
    outlines = [("Oeste", square(-69.0, -17.0, 1.0))]
    assert draw(areas, outlines=outlines) == draw(copy, outlines=list(outlines))


def detailed_areas() -> list[MapArea]:
    """300 Voronoi cells over 4° × 4° with bent, finely cut edges and six detail lines each, classes 1, 2, 3."""
    rng = random.Random(7)
    points = shapely.MultiPoint([(rng.uniform(-66, -62), rng.uniform(-20, -16)) for _ in range(300)])
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=shapely.box(-66, -20, -62, -16)))

    def bend(c):
        return np.column_stack([c[:, 0] + 0.004 * np.sin(c[:, 1] * 100), c[:, 1] + 0.004 * np.sin(c[:, 0] * 100)])

    cells = [shapely.transform(shapely.segmentize(shapely.clip_by_rect(c, -66, -20, -62, -16), 0.002), bend)
             for c in cells]
    assert sum(len(shapely.get_coordinates(c)) for c in cells) > 140_000  # like real borders, not a toy
    details = (("Puntaje", "55,3"), ("Rango", "120"), ("Rango 5–95%", "98–141"), ("Vivienda", "61,2"),
               ("Servicios", "47,9"), ("Salud", "70,0"))
    return [area(f"{i:06d}", c.wkt, 1 + i % 3, i + 1, f"Municipio {i}", details) for i, c in enumerate(cells)]


def test_three_hundred_detailed_areas_stay_small():
    # 300 Voronoi cells over 4° × 4°, every edge cut into 0.002° steps and bent (0.004° waves 0.06° long, about
    # 1 unit high and 15 long on the map, like a river border): 142 000 vertices, 5.6 MB of WKT. Simplified at
    # 0.3 units and written to 0.1 unit, with six detail lines each, they took 198 KB when this was written;
    # Bolivia's 340 municipalities take 283 KB.
    page = draw(detailed_areas())
    assert len(page.encode()) < 300_000
    assert len(focusable_paths(parse(page))) == 300


def test_the_script_wires_both_maps_in_chromium(tmp_path):
    """Hover, keyboard focus and search, run by the real MAP_SCRIPT in headless Chromium on a page with two maps."""
    assert CHROMIUM.exists(), "Chromium is needed to run the map's script: apt-get install chromium"
    areas = [area("Z1", square(-68.2, -16.6, 0.1), 1, 1, HOSTILE, (("Puntaje", "72,5"), ("Rango", "1"))),
             area("Z2", square(-68.1, -16.6, 0.1), 2, 2, "Obrajes"), area("Z3", square(-68.2, -16.5, 0.1), None, 3,
                                                                              "Calacoto", (("Puntaje", "Sin datos"),))]
    drive = """
    document.addEventListener("DOMContentLoaded", () => {
      const out = {};
      const a = document.getElementById("a"), b = document.getElementById("b");
      out.ready = [a, b].map((f) => f.classList.contains("svgmap-ready"));
      a.querySelector('path[data-area="Z1"]').dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
      out.hover = a.querySelector(".svgmap-info").innerText;
      out.highlight = a.querySelector(".svgmap-hl-o").getAttribute("d");
      const z3 = b.querySelector('path[data-area="Z3"]');
      z3.focus();
      // a headless window without system focus (a busy machine) moves focus without firing focusin
      if (!document.hasFocus()) z3.dispatchEvent(new FocusEvent("focusin", {bubbles: true}));
      out.focus = b.querySelector(".svgmap-info").innerText;
      const q = document.getElementById("b-q");
      q.value = "OBRA";
      q.dispatchEvent(new Event("input", {bubbles: true}));
      out.count = b.querySelector(".svgmap-count").textContent;
      out.matches = [...b.querySelectorAll("path.svgmap-match")].map((p) => p.dataset.area);
      b.querySelector(".svgmap-results button").click();
      out.chosen = b.querySelector(".svgmap-info").innerText;
      out.focused = document.activeElement.dataset.area;
      out.untouched = a.querySelectorAll("path.svgmap-match").length;
      document.getElementById("out").textContent = JSON.stringify(out);
    });
    """
    page = tmp_path / "page.html"
    page.write_text(f'<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><style>{MAP_CSS}</style></head>'
                    f'<body>{draw(areas, map_id="a")}{draw(areas, map_id="b")}<pre id="out"></pre>'
                    f"<script>{MAP_SCRIPT}</script><script>{drive}</script></body></html>", encoding="utf-8")
    run = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=3000", "--window-size=390,900", "--dump-dom", page.as_uri()],
        check=True, capture_output=True, timeout=90, text=True)
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    dumped = re.search(r'<pre id="out">(.*?)</pre>', run.stdout, re.S)
    assert dumped and dumped.group(1), run.stdout[-2000:]
    out = json.loads(html.unescape(dumped.group(1)))
    assert out["ready"] == [True, True]
    assert HOSTILE in out["hover"] and "Puntaje" in out["hover"] and "72,5" in out["hover"]
    assert "1 (mejor) 80,0–91,0" in out["hover"]  # the class, from the legend
    assert out["highlight"].startswith("M")
    assert "Calacoto" in out["focus"] and "Sin datos" in out["focus"]
    assert out["count"] == "1 área coincide."
    assert out["matches"] == ["Z2"]
    assert "Obrajes" in out["chosen"] and out["focused"] == "Z2"
    assert out["untouched"] == 0


# ----------------------------------------------------------------------------------------------------
# Layers: the index's dimensions on the same polygons
# ----------------------------------------------------------------------------------------------------

HOUSING = MapLayer("Vivienda", (MapClass("#08306b", "alta"), MapClass("#6baed6", "media"), MapClass("#f7fbff", "baja")),
                   {"G0000": 3, "G0001": 1, "G0002": None, "G0100": 2, "G0101": 2})  # G0102 missing: no data
# twelve classes: 9 is written "9", 10 "a", 12 "c" (base 36, one character per layer)
HEALTH = MapLayer("Salud", tuple(MapClass(f"#0000{k:02x}", f"clase {k}") for k in range(1, 13)),
                  {"G0000": 10, "G0001": 12, "G0002": 9}, {"G0001": (("Puntaje salud", "81,0"),)})


def test_no_layers_give_the_same_bytes_as_before():
    areas = clustered_city()
    outlines = [("Oeste", square(-69.0, -17.0, 1.0))]
    plain = draw(areas, outlines=outlines, outline_label="Límite")
    assert draw(areas, outlines=outlines, outline_label="Límite", layers=()) == plain
    assert draw(areas, outlines=outlines, outline_label="Límite", layers=[], base_label="Índice") == plain
    assert "data-classes" not in plain and "svgmap-layer" not in plain and "<select" not in plain


def test_the_select_lists_the_base_then_the_layers_in_order():
    root = parse(draw(grid(3, 2), layers=[HOUSING, HEALTH], base_label="Índice compuesto"))
    assert "svgmap-layered" in root.get("class").split()
    select = next(root.iter("select"))
    assert select.get("id") == "m-layer"
    assert [(o.get("value"), o.text) for o in select.iter("option")] == [
        ("0", "Índice compuesto"), ("1", "Vivienda"), ("2", "Salud")]
    box = next(d for d in root.iter("div") if d.get("class") == "svgmap-layer")
    assert box.get("hidden") == ""  # shown by the script only: without it the map shows the base classes
    assert box.find("label").get("for") == "m-layer" and box.find("label").text == "Mostrar en el mapa"
    legends = json.loads(root.get("data-layers"))
    assert [layer["label"] for layer in legends] == ["Vivienda", "Salud"]
    assert legends[0]["classes"] == [["#08306b", "alta"], ["#6baed6", "media"], ["#f7fbff", "baja"]]
    assert legends[1]["classes"][9] == ["#00000a", "clase 10"]
    # the drawing itself is the base map's: its fills and legend
    paths = focusable_paths(root)
    assert [p.get("fill") for p in paths] == ["#fde725", "#22a884", "#414487", "url(#m-nodata)", "#fde725", "#22a884"]
    assert [li.get("data-class") for li in root.iter("li") if li.get("data-class")] == ["1", "2", "3", "none"]


def test_each_area_carries_its_class_in_every_layer():
    # grid(3, 2) is G0000 G0001 G0002 / G0100 G0101 G0102. Vivienda gives 3 1 - / 2 2 - (G0002 None, G0102 left
    # out); Salud 10 12 9 and nothing for the second row: "a" "c" "9" / - - -
    root = parse(draw(grid(3, 2), layers=[HOUSING, HEALTH], base_label="Índice compuesto"))
    classes = {p.get("data-area"): p.get("data-classes") for p in focusable_paths(root)}
    assert classes == {"G0000": "3a", "G0001": "1c", "G0002": "-9", "G0100": "2-", "G0101": "2-", "G0102": "--"}
    lines = {p.get("data-area"): p.get("data-layer-details") for p in focusable_paths(root)}
    assert json.loads(lines.pop("G0001")) == [[], [["Puntaje salud", "81,0"]]]  # one list per layer, in order
    assert set(lines.values()) == {None}  # no lines in any layer: no attribute


@pytest.mark.parametrize("klass", [0, 4, 2.0])
def test_a_class_outside_a_layers_legend_names_the_layer(klass):
    wrong = MapLayer("Servicios básicos", HOUSING.classes, {"G0000": 1, "G0101": klass})
    with pytest.raises(ValueError, match=r"layer 'Servicios básicos': area 'G0101' has class .* outside 1\.\.3"):
        draw(grid(3, 2), layers=[HOUSING, wrong], base_label="Índice compuesto")


def test_layers_need_a_base_label_and_colours():
    with pytest.raises(ValueError, match="base_label"):
        draw(grid(2, 2), layers=[HOUSING])
    bad = MapLayer("Salud", (MapClass("red", "x"),), {})
    with pytest.raises(ValueError, match="layer 'Salud': class colour 'red'"):
        draw(grid(2, 2), layers=[bad], base_label="Índice")


def test_a_hostile_layer_label_round_trips_escaped():
    label = '<b>&"\''
    hostile = MapLayer(label, (MapClass("#112233", f"1 {label}"),), {"G0000": 1},
                       {"G0000": ((label, "</script>"),)})
    page = draw(grid(2, 2), layers=[hostile], base_label=f"Índice {label}")
    assert "<b>" not in page and "</script>" not in page
    root = parse(page)
    assert [o.text for o in root.iter("option")] == [f"Índice {label}", label]
    assert json.loads(root.get("data-layers")) == [{"label": label, "classes": [["#112233", f"1 {label}"]]}]
    first = focusable_paths(root)[0]
    assert json.loads(first.get("data-layer-details")) == [[[label, "</script>"]]]


def test_five_layers_over_three_hundred_areas_add_under_a_tenth():
    # Each area gains ' data-classes="12345"' (21 bytes; 300 areas: 6 300 bytes); the figure gains its class, the
    # five legends as JSON (5 × 5 entries of about 40 bytes: about 1 KB) and the select (about 400 bytes): about
    # 8 KB, 4% of the 198 KB map. Drawing the polygons again per layer would add 5 × 198 KB.
    areas = detailed_areas()
    colours = ("#1a9850", "#91cf60", "#ffffbf", "#fc8d59", "#d73027")
    layers = [MapLayer(f"Dimensión {d}", tuple(MapClass(c, f"{k} (de 5) 12,3–45,6") for k, c in enumerate(colours, 1)),
                       {a.area_id: None if i % 17 == 0 else 1 + (i + d) % 5 for i, a in enumerate(areas)})
              for d in range(1, 6)]
    plain = len(draw(areas).encode())
    layered = draw(areas, layers=layers, base_label="Índice compuesto")
    added = len(layered.encode()) - plain
    assert 6_300 < added < 0.1 * plain, (added, plain)
    assert len(focusable_paths(parse(layered))) == 300


def layered_city() -> tuple[list[MapArea], list[MapLayer]]:
    """The clustered city (4 large squares, an inset of 20 small ones) with two layers. In Salud, B0 is class 2
    (red), B1 has no data, B2 is class 1 (green), each small square S_i is class 1 + i % 2; B0 has a panel line."""
    areas = clustered_city()
    housing = MapLayer("Vivienda", HOUSING.classes, {a.area_id: 1 + i % 3 for i, a in enumerate(areas)})
    health = MapLayer("Salud", (MapClass("#1a9850", "Salud alta"), MapClass("#d73027", "Salud baja")),
                      {"B0": 2, "B1": None, "B2": 1, "B3": 2} | {f"S{i:02d}": 1 + i % 2 for i in range(20)},
                      {"B0": (("Puntaje salud", "31,5"),)})
    return areas, [housing, health]


def test_choosing_a_layer_recolours_the_map_and_swaps_the_legend_in_chromium(tmp_path):
    """The real MAP_SCRIPT in headless Chromium: pick the second layer, then see colours, legend, panel and paper."""
    from browser import Chromium, is_blank

    areas, layers = layered_city()
    page_file = tmp_path / "layers.html"
    page_file.write_text(
        f'<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><style>body {{ margin: 0; padding: 1rem; font-family: '
        f'sans-serif; }} {MAP_CSS}</style></head><body>'
        f'{draw(areas, layers=layers, base_label="Índice compuesto", outlines=[("Oeste", square(-69, -17, 1))])}'
        f"<script>{MAP_SCRIPT}</script></body></html>", encoding="utf-8")
    fill = 'getComputedStyle(document.querySelector({!r})).fill'.format
    legend = """[...document.querySelectorAll(".svgmap-legend li")].filter((li) => li.offsetParent)
                .map((li) => li.textContent)"""
    rgb = {"#1a9850": "rgb(26, 152, 80)", "#d73027": "rgb(215, 48, 39)", "#414487": "rgb(65, 68, 135)",
           "#fde725": "rgb(253, 231, 37)", "#22a884": "rgb(34, 168, 132)"}
    with Chromium() as chromium:
        for width, mobile in ((390, True), (1366, False)):
            page = chromium.open(page_file.as_uri(), width=width, mobile=mobile)
            assert page.evaluate('document.querySelector(".svgmap-layer").hidden') is False
            assert page.evaluate(fill('path[data-area="B0"]')) == rgb["#414487"]  # base class 3
            page.evaluate("""(() => { const s = document.getElementById("m-layer"); s.value = "2";
                             s.dispatchEvent(new Event("change", {bubbles: true})); })()""")
            # B0 is Salud class 2 on the main map; S01 (1 + 1 % 2 = 2) also in the inset; B1 is hatched
            assert page.evaluate(fill('path[data-area="B0"][tabindex]')) == rgb["#d73027"]
            assert page.evaluate(fill('.svgmap-inset path[data-area="S01"]')) == rgb["#d73027"]
            assert page.evaluate(fill('.svgmap-inset path[data-area="S00"]')) == rgb["#1a9850"]
            assert page.evaluate(fill('path[data-area="B1"]')) == 'url("#m-nodata")'
            shown = page.evaluate(legend)
            assert shown[:3] == ["Salud alta", "Salud baja", "Sin datos"], shown
            assert not any(text.startswith("1 (mejor)") for text in shown)
            assert page.evaluate('document.querySelector(".svgmap-legend").getAttribute("aria-label")') == \
                "Leyenda: Salud"
            if mobile:
                page.tap('path[data-area="B0"][tabindex]')
            else:
                page.click('path[data-area="B0"][tabindex]')
            panel = page.evaluate('document.querySelector(".svgmap-info").innerText')
            lines = [" ".join(line.split()) for line in panel.splitlines() if line.strip()]  # a swatch: 2 spaces
            assert lines == ["Zona B0", "Salud: Salud baja", "Puntaje salud", "31,5",  # the layer's, first
                             "Índice compuesto: 3 (peor) 10,0–59,9", "Puntaje", "72,5"], lines  # then the base's
            assert not is_blank(page.screenshot(tmp_path / f"layers-{width}.png"))
            assert page.scroll_width() <= width
            # on paper: the base classes and legend, whatever the screen showed; no select
            page.send("Emulation.setEmulatedMedia", media="print")
            assert page.evaluate(fill('path[data-area="B0"][tabindex]')) == rgb["#414487"]
            assert page.evaluate(fill('.svgmap-inset path[data-area="S01"]')) == rgb["#22a884"]  # base 1 + 1 % 3
            assert page.evaluate(legend)[:4] == ["1 (mejor) 80,0–91,0", "2 60,0–79,9", "3 (peor) 10,0–59,9",
                                                 "Sin datos"]
            assert page.evaluate('getComputedStyle(document.querySelector(".svgmap-layer")).display') == "none"
            page.send("Emulation.setEmulatedMedia", media="")
            # back to the base: the fills are the attributes again and the panel drops the layer
            page.evaluate("""(() => { const s = document.getElementById("m-layer"); s.value = "0";
                             s.dispatchEvent(new Event("change", {bubbles: true})); })()""")
            assert page.evaluate(fill('path[data-area="B0"][tabindex]')) == rgb["#414487"]
            assert page.evaluate(legend)[0] == "1 (mejor) 80,0–91,0"
            assert "Salud" not in page.evaluate('document.querySelector(".svgmap-info").innerText')
            assert page.console_errors == []
