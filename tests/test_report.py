"""The analysts' report, built from a small snapshot planted by hand (tests/planted.py), checked by hand: every
section, numbers as each language prints them, rank bands, change beyond uncertainty, method from the weights,
"since the last report", downloads; then in a real headless Chromium at laptop and phone widths and on paper."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import shapely
from planted import plant

from reports.build import build_report

CITY = "c1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIMENSIONS = [("housing", "Vivienda", "Housing"), ("services", "Servicios", "Services"),
              ("environment", "Medio ambiente", "Environment")]
# zone: (name, district, column, row) on a 3 x 2 grid of 0.01-degree squares near La Paz
ZONES = {
    "Z001": ("Sopocachi", "D01", 0, 0),
    "Z002": ("San Pedro", "D01", 1, 0),
    "Z003": ("Miraflores <Alto> & Co", "D02", 0, 1),
    "Z004": ("Obrajes", "D02", 1, 1),
    "Z005": ("Achumani", "D03", 2, 0),
    "Z006": ("Calacoto", "D03", 2, 1),
}
DISTRICTS = {"D01": ("Distrito 1", "MD01"), "D02": ("Distrito 2", "MD01"), "D03": ("Distrito 3", "MD02")}
MACRODISTRICTS = {"MD01": "Centro", "MD02": "Sur"}
# zone: (composite score, rank, quintile, 5th and 95th percentile rank) in 2024; Z005 has no score
ROOT_2024 = {
    "Z006": (80.0, 1, 1, 1.0, 1.0),
    "Z003": (72.5, 2, 2, 1.4, 3.6),    # band 1-4: quintiles 1..4 -> uncertain
    "Z001": (55.26, 3, 3, 3.0, 3.0),
    "Z004": (40.0, 4, 4, 3.2, 4.8),    # band 3-5
    "Z002": (12.34, 5, 5, 5.0, 5.0),
    "Z005": (None, None, None, None, None),
}
EXPECTED_ORDER = ["Z006", "Z003", "Z001", "Z004", "Z002", "Z005"]
# 2023: the order reversed, score 10 x (7 - rank), band = the rank itself
RANK_2023 = dict(zip(EXPECTED_ORDER, [6, 5, 4, 3, 2, 1], strict=True))
INDICATORS = [  # id, es, en, dimension, unit, direction
    ("overcrowding", "Hacinamiento", "Overcrowding", "housing", "share", -1),
    ("piped_water", "Agua por cañería", "Piped water", "services", "share", 1),
    ("school_attendance", "Asistencia escolar", "School attendance", "services", "share", 1),
    ("pm25", "PM2,5 medio", "Mean PM2.5", "environment", "ug/m3", -1),
    ("nbi", "Pobreza NBI", "NBI poverty", "poverty", "share", -1),
]
SPEC = """id: wellbeing
indicators:
  - {id: overcrowding, direction: -1, normalise: {method: goalposts, min: 0, max: 1}}
  - {id: piped_water, direction: 1, normalise: {method: minmax}}
  - {id: school_attendance, direction: 1, normalise: {method: minmax}}
  - {id: pm25, direction: -1, normalise: {method: minmax}}
missing: {min_share: 0.5, impute: none}
"""
PUBLISHED = datetime(2026, 12, 7, 5, 26, 0)


def _square(column: int, row: int) -> shapely.Polygon:
    x, y = -68.15 + 0.01 * column, -16.52 + 0.01 * row
    return shapely.box(x, y, x + 0.01, y + 0.01)


def _areas() -> list[dict]:
    zones = {z: _square(c, r) for z, (_, _, c, r) in ZONES.items()}
    districts = {d: shapely.union_all([zones[z] for z, v in ZONES.items() if v[1] == d]) for d in DISTRICTS}
    macros = {m: shapely.union_all([districts[d] for d, v in DISTRICTS.items() if v[1] == m]) for m in MACRODISTRICTS}
    rows = [dict(area_id=z, level="zona", depth=0, name=n, parent_id=d, population=1000, geometry_wkt=zones[z].wkt)
            for z, (n, d, _, _) in ZONES.items()]
    rows += [dict(area_id=d, level="distrito", depth=1, name=n, parent_id=m, population=2000,
                  geometry_wkt=districts[d].wkt) for d, (n, m) in DISTRICTS.items()]
    rows += [dict(area_id=m, level="macrodistrito", depth=2, name=n, population=4000, geometry_wkt=macros[m].wkt)
             for m, n in MACRODISTRICTS.items()]
    return rows


def _scores(top_scores: bool) -> tuple[list[dict], list[dict]]:
    scores, bands = [], []
    key = dict(index_id="wellbeing", level="zona")
    for zone, (score, rank, quantile, p05, p95) in ROOT_2024.items():
        scores.append(dict(key, area_id=zone, period="2024", node_id="wellbeing", score=score, rank=rank,
                           quantile=quantile))
        for offset, (dim, _, _) in enumerate(DIMENSIONS):
            scores.append(dict(key, area_id=zone, period="2024", node_id=dim, rank=rank,
                               score=None if score is None else min(100.0, score + 5 * offset)))
        if p05 is not None:
            bands.append(dict(key, area_id=zone, period="2024", nominal_rank=rank, median_rank=rank, p05_rank=p05,
                              p95_rank=p95))
    for zone, rank in RANK_2023.items():
        scores.append(dict(key, area_id=zone, period="2023", node_id="wellbeing", score=10.0 * (7 - rank),
                           rank=rank, quantile=min(rank, 5)))
        scores += [dict(key, area_id=zone, period="2023", node_id=dim, score=50.0) for dim in ("housing", "services")]
        bands.append(dict(key, area_id=zone, period="2023", nominal_rank=rank, median_rank=rank, p05_rank=rank,
                          p95_rank=rank))
    if top_scores:
        for macro, (score, rank) in {"MD01": (60.1, 2), "MD02": (75.0, 1)}.items():
            top = dict(key, level="macrodistrito", area_id=macro, period="2024")
            scores.append(dict(top, node_id="wellbeing", score=score, rank=rank, quantile=rank))
            scores += [dict(top, node_id=d, score=score - 3, rank=rank) for d, _, _ in DIMENSIONS]
    return scores, bands


def _changes() -> list[dict]:
    rows = []
    for zone, (score, rank, *_rest) in ROOT_2024.items():
        before = 10.0 * (7 - RANK_2023[zone])
        rows.append(dict(area_id=zone, level="zona", index_id="wellbeing", node_id="wellbeing", period_from="2023",
                         period_to="2024", score_from=before, score_to=score, rank_from=RANK_2023[zone], rank_to=rank,
                         score_change=None if score is None else score - before))
    return rows


def _values() -> list[dict]:
    rows = []
    day = dict(period="2024", period_start=date(2024, 3, 23), period_end=date(2024, 6, 30))
    for i, (indicator, *_rest) in enumerate(INDICATORS):
        for j, zone in enumerate(ZONES):
            if zone == "Z005":
                rows.append(dict(day, area_id=zone, level="zona", indicator_id=indicator, suppressed=True,
                                 suppression="primary", note="fewer than 20 persons"))
            else:
                value = (10.0 * i + j) if indicator == "pm25" else 0.1 * i + 0.01 * j
                rows.append(dict(day, area_id=zone, level="zona", indicator_id=indicator, value=value, numerator=j,
                                 denominator=100.0, suppressed=False))
        for k, macro in enumerate(MACRODISTRICTS):
            rows.append(dict(day, area_id=macro, level="macrodistrito", indicator_id=indicator, value=0.25 + 0.5 * k,
                             numerator=25.0, denominator=100.0, suppressed=False))
    return rows


def _weights() -> list[dict]:
    rows = []
    for period, dims in (("2024", ["housing", "services", "environment"]), ("2023", ["housing", "services"])):
        key = dict(index_id="wellbeing", period=period, scale_factor=1.0)
        rows += [dict(key, node_id="wellbeing", child_id=d, weight=1 / len(dims)) for d in dims]
        rows += [dict(key, node_id="housing", child_id="overcrowding", weight=1.0),
                 dict(key, node_id="services", child_id="piped_water", weight=0.5),
                 dict(key, node_id="services", child_id="school_attendance", weight=0.5)]
        if "environment" in dims:
            rows.append(dict(key, node_id="environment", child_id="pm25", weight=1.0))
    rows = [dict(row, basis="full") for row in rows]
    # the 2023-2024 change's common basis: housing and services (environment has no 2023 values)
    for period in ("2023", "2024"):
        key = dict(index_id="wellbeing", period=period, scale_factor=1.0, basis="change 2023-2024")
        rows += [dict(key, node_id="wellbeing", child_id="housing", weight=0.5),
                 dict(key, node_id="wellbeing", child_id="services", weight=0.5),
                 dict(key, node_id="housing", child_id="overcrowding", weight=1.0),
                 dict(key, node_id="services", child_id="piped_water", weight=0.5),
                 dict(key, node_id="services", child_id="school_attendance", weight=0.5)]
    return rows


def make_snapshot(path: Path, *, top_scores: bool = True) -> Path:
    """A published snapshot of one city: 6 zones, 3 districts, 2 macrodistricts, 3 dimensions, 2 periods."""
    scores, bands = _scores(top_scores)
    rows = {
        "areas": _areas(),
        "levels": [dict(level="zona", depth=0, name_es="Zona", name_en="Zone"),
                   dict(level="distrito", depth=1, name_es="Distrito", name_en="District"),
                   dict(level="macrodistrito", depth=2, name_es="Macrodistrito", name_en="Macrodistrict")],
        "indicator_catalogue": [dict(indicator_id=i, name_es=es, name_en=en, definition="def", dimension=dim,
                                     unit=unit, direction=d, source="census", time_basis="census day",
                                     min_denominator=20) for i, es, en, dim, unit, d in INDICATORS],
        "dimensions": [dict(dimension_id=d, name_es=es, name_en=en, display_order=k, in_index=True)
                       for k, (d, es, en) in enumerate(DIMENSIONS)]
        + [dict(dimension_id="poverty", name_es="Pobreza", name_en="Poverty", display_order=3, in_index=False)],
        "indicator_values": _values(),
        "index_scores": scores,
        "index_uncertainty": bands,
        "index_change": _changes(),
        "index_weights": _weights(),
        "index_runs": [dict(index_id="wellbeing", period=p, spec_yaml=SPEC) for p in ("2023", "2024")],
        "publication": [dict(published_at=PUBLISHED, run_id="manual__1", project_version="0.1.0",
                             git_commit="0123456789abcdef", schema_version=3)],
        "sources": [dict(source="census/households", delivery="census/households.csv", sha256="ab" * 32,
                         period="2024", rows=5303, received_at=datetime(2026, 12, 7, 5, 24))],
        "data_quality": [dict(stage="raw", suite="raw_census", period="2024", check_key="households_rows",
                              severity="warning", success=False, unexpected_count=1234, why="a reason"),
                         dict(stage="raw", suite="raw_census", period="2024", check_key="ids", severity="blocking",
                              success=True)],
    }
    for table in rows.values():
        for row in table:
            row["city"] = CITY
    return plant(path, rows)


def build(snapshot: Path, out: Path, **options) -> Path:
    options = {"city_name": "La Paz", "city": CITY, "licence": "CC-BY-4.0", "pdf": False, **options}
    return build_report(snapshot, out, **options)


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start:html.index("</table>", start)]


def _row(table: str, area_id: str) -> str:
    start = table.rindex("<tr", 0, table.index(f'data-area="{area_id}"'))
    return table[start:table.index("</tr>", start)]


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    return make_snapshot(tmp_path_factory.mktemp("snap") / "current.duckdb")


@pytest.fixture(scope="module")
def built(snapshot, tmp_path_factory) -> Path:
    return build(snapshot, tmp_path_factory.mktemp("site") / "report", pdf=True,
                 quality_url="https://example.org/quality/index.html", citation="Fuente: INE <2024>")


@pytest.fixture(scope="module")
def html(built) -> str:
    return built.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def english(snapshot, tmp_path_factory) -> str:
    return build(snapshot, tmp_path_factory.mktemp("en") / "report", lang="en").read_text(encoding="utf-8")


SECTIONS = ["findings", "how-to-read", "map", "ranking", "change", "dimensions", "outside-index", "indicators",
            "profiles", "suppression", "quality", "method", "sources", "downloads"]


def test_every_section_is_there_in_order_and_listed_in_the_contents(html):
    found = re.findall(r'<section id="([a-z-]+)"', html)
    assert found == SECTIONS
    nav = html[html.index("<nav"):html.index("</nav>")]
    assert re.findall(r'href="#([a-z-]+)"', nav) == [s for s in SECTIONS if s != "how-to-read"]


def test_header_says_period_publication_and_data_date_in_spanish(html, english):
    assert '<html lang="es">' in html and "<strong>2024</strong>" in html
    assert "Publicado el 7 de diciembre de 2026" in html and "Datos hasta 30 de junio de 2024" in html
    assert '<html lang="en">' in english and "Published 7 December 2026" in english
    assert "Data up to 30 June 2024" in english


def test_key_findings_from_the_data(html, english):
    findings = html[html.index('id="findings"'):html.index('id="how-to-read"')]
    # median of 80, 72.5, 55.26, 40, 12.34 is 55.26; the zone without a score is left out
    assert "Puntaje mediano de zona: 55,3 (entre 12,3 y 80,0; 5 áreas con puntaje)." in findings
    assert "Median zone score: 55.3 (from 12.3 to 80.0; 5 areas scored)." in english
    best = re.findall(r"<li><strong>([^<]+)</strong>", findings)
    assert best[:5] == ["Calacoto", "Miraflores &lt;Alto&gt; &amp; Co", "Sopocachi", "Obrajes", "San Pedro"]
    assert best[5:10] == best[:5][::-1]  # the worst five
    # beyond uncertainty (bands 2023 -> 2024 apart): Z006 +70, Z003 +52.5, Z002 -37.66, Z001 +25.26; Z004 is not
    # (3 -> band 3-5 overlaps); largest absolute change first
    changes = findings[findings.index("Mayores cambios"):]
    assert re.findall(r"<li><strong>([^<]+)</strong>: ([^<]+)</li>", changes) == [
        ("Calacoto", "10,0 → 80,0 (+70,0); Rango 6 → 1"),
        ("Miraflores &lt;Alto&gt; &amp; Co", "20,0 → 72,5 (+52,5); Rango 5 → 2"),
        ("San Pedro", "50,0 → 12,3 (−37,7); Rango 2 → 5"),
        ("Sopocachi", "30,0 → 55,3 (+25,3); Rango 4 → 3")]
    assert "1 advertencias de calidad de datos" in findings
    # 2023 scored housing and services only: the change is flagged as not comparable, in the report's language
    assert "Medio ambiente sin puntaje en 2023" in findings and 'class="warn"' in findings


def test_ranked_table_with_rank_bands_and_uncertain_quintiles(html, english):
    table = _table(html, "ranking-table")
    assert re.findall(r'data-area="(Z\d+)"', table) == EXPECTED_ORDER
    assert _cells(_row(table, "Z006"))[:5] == ["1", "1", "Calacoto", "80,0", "1"]
    assert _cells(_row(table, "Z003"))[:5] == ["2", "1–4", "Miraflores &lt;Alto&gt; &amp; Co", "72,5", "2 ≈"]
    assert _cells(_row(table, "Z004"))[:5] == ["4", "3–5", "Obrajes", "40,0", "4 ≈"]  # quintiles 3..5
    assert _cells(_row(table, "Z001"))[:5] == ["3", "3", "Sopocachi", "55,3", "3"]
    assert "Distrito 3" in _row(table, "Z006") and "Sur" in _row(table, "Z006")  # every level above
    missing = _row(table, "Z005")
    assert 'class="no-data"' in missing and "Sin datos" in missing
    assert _cells(_row(_table(english, "ranking-table"), "Z001"))[:5] == ["3", "3", "Sopocachi", "55.3", "3"]
    assert "<Alto>" not in html  # names are escaped, never markup


def test_a_map_at_every_level_with_scores(html):
    # zones and macrodistricts have scores in the planted snapshot (districts have none): a map for each, and the
    # change map
    assert re.findall(r'<figure class="svgmap[^"]*" id="([a-z-]+)"', html) == [
        "index-map", "index-map-macrodistrito", "change-map"]
    top = html[html.index('id="index-map-macrodistrito"'):html.index('id="ranking"')]
    assert sorted(set(re.findall(r'data-area="(\w+)"', top))) == ["MD01", "MD02"]  # the macrodistricts only


def test_without_rank_bands_no_band_is_shown_and_changes_are_not_called_beyond_uncertainty(tmp_path):
    """Bolivia's index has no uncertainty section: no band column anywhere, and the largest changes are listed as
    changes whose uncertainty was not measured."""
    snapshot = make_snapshot(tmp_path / "snap.duckdb")
    with duckdb.connect(str(snapshot)) as con:
        con.execute("DELETE FROM marts.index_uncertainty")
    html = build(snapshot, tmp_path / "report", downloads=False).read_text(encoding="utf-8")
    assert "Banda 5–95" not in html and "Fuera de la incertidumbre" not in html
    findings = html[html.index('id="findings"'):html.index('id="how-to-read"')]
    assert "Mayores cambios (2023 → 2024; sin bandas de rango publicadas" in findings
    # every zone with a change, the largest first: Z006 +70, Z003 +52.5, Z002 -37.66, Z001 +25.26, Z004 0
    assert re.findall(r"<li><strong>([^<]+)</strong>: [^<]+ → ", findings)[:5] == [
        "Calacoto", "Miraflores &lt;Alto&gt; &amp; Co", "San Pedro", "Sopocachi", "Obrajes"]
    assert _cells(_row(_table(html, "ranking-table"), "Z003"))[:4] == ["2", "Miraflores &lt;Alto&gt; &amp; Co",
                                                                       "72,5", "2"]


def test_top_level_table_charts_and_profiles(built, html):
    assert re.findall(r'data-area="(MD\d+)"', _table(html, "top-ranking-table")) == ["MD02", "MD01"]
    for dim, _, _ in DIMENSIONS:
        assert f'src="dim_{dim}.png"' in html and _is_png(built.parent / f"dim_{dim}.png")
    profiles = html[html.index('id="profiles"'):html.index('id="suppression"')]
    assert re.findall(r'id="profile-(MD\d+)"', profiles) == ["MD02", "MD01"]
    sur = profiles[profiles.index('id="profile-MD02"'):profiles.index('id="profile-MD01"')]
    assert re.findall(r'data-area="(Z\d+)"', sur) == ["Z006", "Z005"]
    assert "2 áreas de nivel zona; puntaje 75,0 (rango 1 de 2)." in sur


def test_change_tables_by_level_largest_rise_first(html):
    change = html[html.index('id="change"'):html.index('id="dimensions"')]
    assert 'id="change-map"' in change and 'data-area="Z006"' in change  # the change map, zone by zone
    table = _table(html, "change-table-zona")
    assert re.findall(r'data-area="(Z\d+)"', table) == ["Z006", "Z003", "Z001", "Z004", "Z002", "Z005"]
    assert _cells(_row(table, "Z004")) == ["Obrajes", "40,0", "40,0", "0,0", "3 → 4", "3", "3–5", ""]
    assert _cells(_row(table, "Z002"))[3] == "−37,7" and _cells(_row(table, "Z002"))[-1] == "✓"
    # the two years' indices differ: the change is on what both measure, named from its weights
    # the planted basis keeps both dimensions whole: nothing left out inside them
    assert "sobre lo que ambos miden, con las mismas metas: Vivienda, Servicios." in change
    assert "Puntaje 2023 (base común)" in change


def test_indicators_as_percentages_poverty_apart_and_suppression_explained(html):
    table = _table(html, "indicator-table")
    row = table[table.index('data-indicator="piped_water"'):]
    row = row[:row.index("</tr>")]
    # piped_water (i = 1) over the five published zones: 0.10, 0.11, 0.12, 0.13, 0.15 (Z005 withheld)
    assert _cells(row)[1:9] == ["Servicios", "%", "↑ más es mejor", "10,0%", "12,0%", "15,0%", "1 / 6",
                                "census day"]
    assert "— " not in _cells(row)[1]
    poverty = _table(html, "outside-table-poverty")
    assert "Pobreza NBI" in poverty and "Hacinamiento" not in poverty
    assert "Pobreza: necesidades básicas insatisfechas (NBI)" in html  # an nbi indicator is there
    assert re.findall(r'<td class="num">([^<]+)</td>', poverty) == ["25,0%", "75,0%"]  # Centro, Sur
    suppression = html[html.index('id="suppression"'):html.index('id="quality"')]
    assert "menos de 20 personas" in suppression and "5 cifras suprimidas de 30" in suppression


def test_method_from_the_weights_and_spec_sources_and_citation(html, english):
    method = _table(html, "method-table")
    assert _cells(method)[6:12] == ["Vivienda", "33,3%", "Hacinamiento", "100,0%", "↓ menos es mejor",
                                    "límites fijos 0%–100%"]
    assert "Agua por cañería" in method and "50,0%" in method and "mínimo–máximo" in method
    assert "combina 4 indicadores en 3 dimensiones" in html and "al menos el 50% de los indicadores" in html
    assert "combines 4 indicators in 3 dimensions" in english
    sources = html[html.index('id="sources"'):html.index('id="downloads"')]
    assert "Fuente: INE &lt;2024&gt;" in sources and "census/households.csv" in sources and "5.303" in sources
    assert "versión 0.1.0 · commit 0123456789ab" in sources


def test_quality_link_and_failed_checks(html):
    assert '<a href="https://example.org/quality/index.html">' in html
    table = _table(html, "quality-table")
    assert "households_rows" in table and "1.234" in table and 'data-check="raw_census.ids"' not in table


def test_downloads_beside_the_report_hold_no_withheld_figure(built, html):
    folder = built.parent
    for name in ("indicators.csv", "index.csv", "index.xlsx", "areas.gpkg", "datapackage.json", "report.pdf"):
        assert (folder / name).stat().st_size > 0 and f'href="{name}"' in html
    with (folder / "indicators.csv").open(encoding="utf-8", newline="") as handle:
        z005 = [r for r in csv.DictReader(handle) if r["area_id"] == "Z005"]
    assert len(z005) == 5 and all(r["value"] == "" and r["numerator"] == "" for r in z005)
    assert json.loads((folder / "datapackage.json").read_text())["licenses"][0]["name"] == "CC-BY-4.0"


def test_data_docs_on_this_machine_are_copied_in_and_linked_relatively(snapshot, tmp_path):
    docs = tmp_path / "gx" / "local_site"
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text("<h1>docs</h1>")
    (docs / "validations" / "one.html").write_text("one")
    page = build(snapshot, tmp_path / "report", quality_url=(docs / "index.html").as_uri())
    assert '<a href="data-docs/index.html">' in page.read_text(encoding="utf-8")
    assert (page.parent / "data-docs" / "validations" / "one.html").read_text() == "one"
    assert str(tmp_path) not in page.read_text(encoding="utf-8")  # nothing absolute: the folder can be shared


def test_since_the_last_report(snapshot, tmp_path):
    first = build(snapshot, tmp_path / "one")
    assert "Este es el primer informe" in first.read_text(encoding="utf-8")
    again = build(snapshot, tmp_path / "two", previous=first.parent).read_text(encoding="utf-8")
    assert "Las cifras no cambiaron desde el informe anterior." in again
    older = tmp_path / "older"
    older.mkdir()
    (older / "report.json").write_text(json.dumps({
        "published_at": "2026-11-01", "period": "2023", "indicators": ["nbi", "overcrowding", "piped_water", "pm25"],
        "areas": {"Z002": {"name": "San Pedro", "rank": 2, "band": [1, 2]},
                  "Z004": {"name": "Obrajes", "rank": 3, "band": [3, 4]}}}))
    since = build(snapshot, tmp_path / "three", previous=older).read_text(encoding="utf-8")
    since = since[since.index('id="since"'):since.index('id="how-to-read"')]
    assert "Informe anterior: 2026-11-01." in since
    assert "Nuevo en esta publicación: Periodo 2024, Asistencia escolar." in since
    assert "San Pedro (1–2 → 5)" in since and "Obrajes" not in since  # rank 4 is inside 3-4


def test_same_snapshot_same_bytes_and_old_output_replaced(snapshot, tmp_path):
    out = tmp_path / "report"
    build(snapshot, out)
    first = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()}
    (out / "stale.png").write_bytes(b"old")
    build(snapshot, out)
    second = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()}
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temp or backup dirs left behind


def test_snapshot_is_opened_read_only(snapshot, tmp_path):
    before = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    # DuckDB refuses a second connection with a different configuration in the same process, so this build
    # only works if the report (and its downloads) also connect read-only.
    with duckdb.connect(str(snapshot), read_only=True) as reader:
        build(snapshot, tmp_path / "report")
        assert reader.execute("SELECT count(*) FROM marts.areas").fetchall() == [(11,)]
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == before


def test_period_selection_and_bad_arguments(snapshot, tmp_path):
    html = build(snapshot, tmp_path / "r", period="2023").read_text(encoding="utf-8")
    assert re.findall(r'data-area="(Z\d+)"', _table(html, "ranking-table")) == EXPECTED_ORDER[::-1]
    assert 'id="change"' not in html  # nothing before 2023
    with pytest.raises(ValueError, match="2019"):
        build(snapshot, tmp_path / "r", period="2019")
    with pytest.raises(ValueError, match="quality_url"):
        build(snapshot, tmp_path / "r", quality_url="javascript:alert(1)")
    with pytest.raises(ValueError, match="lang must be one of es, en"):
        build(snapshot, tmp_path / "r", lang="fr")


def test_dimension_bars_fall_back_to_means_without_top_level_scores(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap.duckdb", top_scores=False)
    index = build(snapshot, tmp_path / "report", city_name="El Alto <demo>")
    html = index.read_text(encoding="utf-8")
    assert "top-ranking-table" not in html and "Promedio simple" in html
    assert "El Alto &lt;demo&gt;" in html
    assert all(_is_png(index.parent / f"dim_{d}.png") for d, _, _ in DIMENSIONS)


def test_missing_top_geometry_and_single_level_snapshots(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap.duckdb")
    with duckdb.connect(str(snapshot)) as con:
        # Top-level outlines are then dissolved from the zones.
        con.execute("UPDATE marts.areas SET geometry_wkt = NULL WHERE level = 'macrodistrito'")
    assert _is_png(build(snapshot, tmp_path / "a", downloads=False).parent / "map_score.png")
    with duckdb.connect(str(snapshot)) as con:
        con.execute("DELETE FROM marts.areas WHERE level <> 'zona'")
        con.execute("UPDATE marts.areas SET parent_id = NULL")
    html = build(snapshot, tmp_path / "b", downloads=False).read_text(encoding="utf-8")
    assert re.findall(r'data-area="(Z\d+)"', _table(html, "ranking-table")) == EXPECTED_ORDER
    assert "top-ranking-table" not in html and "indicator-top-table" not in html and 'id="profiles"' not in html


# ---------------------------------------------------------------------------------------------- in a browser
CONTRAST = """(() => {
  const lum = c => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const background = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
      const a = c.match(/[\\d.]+/g); if (a && (a.length < 4 || Number(a[3]) > 0.9)) return c; }
    return 'rgb(255,255,255)'; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.offsetParent) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el), a = lum(s.color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + '.' + el.className + ' ' + ratio.toFixed(2) + ' '
                                            + el.textContent.trim().slice(0, 30));
  }
  return bad;
})()"""


@pytest.mark.parametrize(("width", "mobile"), [(1366, False), (390, True)])
def test_reads_on_a_laptop_and_a_phone(built, tmp_path, width, mobile):
    from browser import Chromium

    with Chromium(tmp_path / "chromium") as browser:
        page = browser.open(built.as_uri(), width=width, height=900, mobile=mobile)
        assert page.scroll_width() <= width, "the page scrolls sideways"
        ids = page.evaluate("[...document.querySelectorAll('section[id]')].map(s => s.id)")
        assert ids == SECTIONS
        assert page.broken_images() == [] and page.failed == []
        assert page.remote_requests() == [] and page.console_errors == []
        assert page.evaluate(CONTRAST) == []
        # the map answers a tap (phone) or a click (laptop) on an area with its figures
        (page.tap if mobile else page.click)('path[data-area="Z006"]')
        panel = page.evaluate("document.querySelector('#index-map-info').textContent")
        assert "Calacoto" in panel and "80,0" in panel
        # each dimension is a layer of the same map: choosing one recolours the areas and says so in the panel
        page.evaluate("(() => { const s = document.getElementById('index-map-layer'); s.value = s.options[1].value;"
                      " s.dispatchEvent(new Event('change')); })()")
        assert "Vivienda" in page.evaluate("document.querySelector('#index-map-info').textContent")
        page.type('input[type="search"]', "Obra")
        assert "Obrajes" in page.evaluate("document.querySelector('#index-map-results').textContent")
        page.screenshot(tmp_path / f"report-{width}.png")


def test_the_pdf_has_dated_numbered_pages_with_ink(built, tmp_path):
    from browser import is_blank, pdf_pages_png

    pdf = built.parent / "report.pdf"
    pages = pdf_pages_png(pdf, tmp_path, dpi=30)
    assert len(pages) >= 5 and not any(is_blank(p) for p in pages)
    text = subprocess.run([shutil.which("pdftotext") or "pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert f"Página 1 / {len(pages)}" in text and "Publicado el 7 de diciembre de 2026" in text
    # sections start on a new page: the method's heading is at the top of its page
    method_page = next(p for p in text.split("\f") if "Metodología" in p)
    assert method_page.lstrip().startswith("Metodología")
