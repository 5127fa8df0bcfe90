"""The analysts' HTML report, built from a small hand-made snapshot that follows docs/marts.md."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import shapely

from reports.build import build_report

CHROMIUM = Path("/usr/bin/chromium")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIMENSIONS = [
    ("housing", "Vivienda", "Housing"),
    ("services", "Servicios", "Services"),
    ("environment", "Medio ambiente", "Environment"),
]
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
# zone: (composite score, rank, quintile) for 2024; Z005 has no score (everything suppressed)
ROOT_2024 = {
    "Z006": (80.0, 1, 1),
    "Z003": (72.5, 2, 2),
    "Z001": (55.26, 3, 3),
    "Z004": (40.0, 4, 4),
    "Z002": (12.34, 5, 5),
    "Z005": (None, None, None),
}
EXPECTED_ORDER = ["Z006", "Z003", "Z001", "Z004", "Z002", "Z005"]
INDICATORS = [
    ("overcrowding", "Hacinamiento", "Overcrowding", "housing", "%", -1),
    ("piped_water", "Agua por cañería", "Piped water", "services", "%", 1),
    ("school_attendance", "Asistencia escolar", "School attendance", "services", "%", 1),
    ("pm25", "PM2,5 medio", "Mean PM2.5", "environment", "ug/m3", -1),
]

SCHEMA = """
CREATE SCHEMA marts;
CREATE TABLE marts.areas (area_id VARCHAR, level VARCHAR, name VARCHAR, parent_id VARCHAR, population BIGINT,
                          geometry_wkt VARCHAR);
CREATE TABLE marts.indicator_values (area_id VARCHAR, level VARCHAR, indicator_id VARCHAR, period VARCHAR,
    value DOUBLE, numerator DOUBLE, denominator DOUBLE, suppressed BOOLEAN, note VARCHAR);
CREATE TABLE marts.index_scores (index_id VARCHAR, area_id VARCHAR, level VARCHAR, period VARCHAR,
    node_id VARCHAR, score DOUBLE, rank INTEGER, quantile INTEGER);
CREATE TABLE marts.indicator_catalogue (indicator_id VARCHAR, name_en VARCHAR, name_es VARCHAR,
    definition VARCHAR, dimension VARCHAR, unit VARCHAR, direction INTEGER, numerator VARCHAR,
    denominator VARCHAR, source VARCHAR, min_denominator INTEGER);
CREATE TABLE marts.dimensions (dimension_id VARCHAR, name_en VARCHAR, name_es VARCHAR, display_order INTEGER);
"""


def _square(column: int, row: int) -> shapely.Polygon:
    x, y = -68.15 + 0.01 * column, -16.52 + 0.01 * row
    return shapely.box(x, y, x + 0.01, y + 0.01)


def _areas() -> list[tuple]:
    zones = {z: _square(c, r) for z, (_, _, c, r) in ZONES.items()}
    districts = {d: shapely.union_all([zones[z] for z, v in ZONES.items() if v[1] == d]) for d in DISTRICTS}
    macros = {
        m: shapely.union_all([districts[d] for d, v in DISTRICTS.items() if v[1] == m])
        for m in MACRODISTRICTS
    }
    rows = [(z, "zona", name, d, 1000, zones[z].wkt) for z, (name, d, _, _) in ZONES.items()]
    rows += [(d, "distrito", name, m, 2000, districts[d].wkt) for d, (name, m) in DISTRICTS.items()]
    rows += [(m, "macrodistrito", name, None, 4000, macros[m].wkt) for m, name in MACRODISTRICTS.items()]
    return rows


def _scores(top_scores: bool) -> list[tuple]:
    rows = []
    for zone, (score, rank, quantile) in ROOT_2024.items():
        rows.append(("wellbeing", zone, "zona", "2024", "wellbeing", score, rank, quantile))
        for offset, (dim, _, _) in enumerate(DIMENSIONS):
            dim_score = None if score is None else min(100.0, score + 5 * offset)
            rows.append(("wellbeing", zone, "zona", "2024", dim, dim_score, rank, None))
    # An older vintage in reverse order, to check that the latest period is the default.
    for zone, rank in zip(EXPECTED_ORDER, [6, 5, 4, 3, 2, 1], strict=True):
        rows.append(("wellbeing", zone, "zona", "2023", "wellbeing", 10.0 * (7 - rank), rank, min(rank, 5)))
    if top_scores:
        for macro, (score, rank) in {"MD01": (60.1, 2), "MD02": (75.0, 1)}.items():
            rows.append(("wellbeing", macro, "macrodistrito", "2024", "wellbeing", score, rank, rank))
            rows += [
                ("wellbeing", macro, "macrodistrito", "2024", d, score - 3, rank, None)
                for d, _, _ in DIMENSIONS
            ]
    return rows


def _values() -> list[tuple]:
    rows = []
    for i, (indicator, *_rest) in enumerate(INDICATORS):
        for j, zone in enumerate(ZONES):
            if zone == "Z005":
                rows.append(
                    (
                        zone,
                        "zona",
                        indicator,
                        "2024",
                        None,
                        None,
                        None,
                        True,
                        "suppressed: denominator below 20",
                    )
                )
            else:
                rows.append((zone, "zona", indicator, "2024", 10.0 * i + j, j, 10.0, False, None))
        for k, macro in enumerate(MACRODISTRICTS):
            rows.append((macro, "macrodistrito", indicator, "2024", 20.0 + i + k, 1.0, 50.0, False, None))
    return rows


def make_snapshot(path: Path, *, top_scores: bool = True) -> Path:
    """A published snapshot with 6 zones, 3 districts, 2 macrodistricts and 3 dimensions."""
    with duckdb.connect(str(path)) as con:
        con.execute(SCHEMA)
        con.executemany("INSERT INTO marts.areas VALUES (?, ?, ?, ?, ?, ?)", _areas())
        con.executemany("INSERT INTO marts.index_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _scores(top_scores))
        con.executemany("INSERT INTO marts.indicator_values VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _values())
        con.executemany(
            "INSERT INTO marts.indicator_catalogue"
            " VALUES (?, ?, ?, 'def', ?, ?, ?, 'num', 'den', 'census', 20)",
            [(i, en, es, dim, unit, direction) for i, es, en, dim, unit, direction in INDICATORS],
        )
        con.executemany(
            "INSERT INTO marts.dimensions VALUES (?, ?, ?, ?)",
            [(d, en, es, i) for i, (d, es, en) in enumerate(DIMENSIONS)],
        )
    return path


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def _row(table: str, area_id: str) -> str:
    start = table.rindex("<tr", 0, table.index(f'data-area="{area_id}"'))
    return table[start : table.index("</tr>", start)]


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    return make_snapshot(tmp_path_factory.mktemp("snap") / "current.duckdb")


@pytest.fixture(scope="module")
def built(snapshot, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "report"
    return build_report(
        snapshot, out, city_name="La Paz", quality_url="https://example.org/quality/index.html"
    )


def test_page_has_title_map_and_explanation(built):
    html = built.read_text(encoding="utf-8")
    assert built.name == "index.html"
    assert "La Paz" in html and "<code>wellbeing</code>" in html and "<strong>2024</strong>" in html
    assert "0 a 100" in html and "0 to 100" in html and "suppressed" in html
    assert re.search(r'<img src="map_score.png" width="\d+" height="\d+"\s+alt="[^"]+"', html)
    assert _is_png(built.parent / "map_score.png")


def test_ranked_table_in_rank_order_with_no_data_last(built):
    table = _table(built.read_text(encoding="utf-8"), "ranking-table")
    assert re.findall(r'data-area="(Z\d+)"', table) == EXPECTED_ORDER
    first = _row(table, "Z006")
    assert '<td class="num">1</td>' in first and "Calacoto" in first and "80.0" in first
    assert "Distrito 3" in first and "Sur" in first  # parents at every level above
    assert "55.3" in _row(table, "Z001") and "12.3" in _row(table, "Z002")
    missing = _row(table, "Z005")
    assert 'class="no-data"' in missing and "sin datos / no data" in missing
    # Names are escaped, never injected as markup.
    assert "Miraflores &lt;Alto&gt; &amp; Co" in table and "<Alto>" not in table


def test_top_level_table_and_one_chart_per_dimension(built):
    html = built.read_text(encoding="utf-8")
    assert re.findall(r'data-area="(MD\d+)"', _table(html, "top-ranking-table")) == ["MD02", "MD01"]
    for dim, name_es, _ in DIMENSIONS:
        assert f'src="dim_{dim}.png"' in html and name_es in html
        assert _is_png(built.parent / f"dim_{dim}.png")
    assert sorted(p.name for p in built.parent.glob("*.png")) == sorted(
        ["map_score.png"] + [f"dim_{d}.png" for d, _, _ in DIMENSIONS]
    )


def test_indicator_table_and_quality_link(built):
    html = built.read_text(encoding="utf-8")
    table = _table(html, "indicator-table")
    assert table.index("Hacinamiento") < table.index("Agua por cañería") < table.index("PM2,5 medio")
    row = table[table.index('data-indicator="piped_water"') :]
    row = row[: row.index("</tr>")]
    # piped_water (i=1) over the five unsuppressed zones (Z005 is suppressed): 10, 11, 12, 13, 15.
    assert "↑ mejor / better" in row and "1 / 6" in row
    assert re.findall(r'<td class="num">([\d.]+)</td>', row) == ["10.0", "12.0", "15.0"]
    assert "↓ mejor / better" in table
    assert "indicator-top-table" in html
    assert '<a href="https://example.org/quality/index.html">' in html and "Calidad de datos" in html


def test_same_snapshot_same_bytes_and_old_output_replaced(snapshot, tmp_path):
    out = tmp_path / "report"
    build_report(snapshot, out, city_name="La Paz")
    first = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    (out / "stale.png").write_bytes(b"old")
    build_report(snapshot, out, city_name="La Paz")
    second = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temp or backup dirs left behind


def test_snapshot_is_opened_read_only(snapshot, tmp_path):
    before = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    # DuckDB refuses a second connection with a different configuration in the same process, so this build
    # only works if the report also connects read-only.
    with duckdb.connect(str(snapshot), read_only=True) as reader:
        build_report(snapshot, tmp_path / "report", city_name="La Paz")
        assert reader.execute("SELECT count(*) FROM marts.areas").fetchone() == (11,)
    assert hashlib.sha256(snapshot.read_bytes()).hexdigest() == before


def test_period_selection(snapshot, tmp_path):
    html = build_report(snapshot, tmp_path / "r", city_name="La Paz", period="2023").read_text(
        encoding="utf-8"
    )
    assert re.findall(r'data-area="(Z\d+)"', _table(html, "ranking-table")) == EXPECTED_ORDER[::-1]
    with pytest.raises(ValueError, match="2019"):
        build_report(snapshot, tmp_path / "r", city_name="La Paz", period="2019")
    with pytest.raises(ValueError, match="quality_url"):
        build_report(snapshot, tmp_path / "r", city_name="La Paz", quality_url="javascript:alert(1)")


def test_dimension_bars_fall_back_to_means_without_top_level_scores(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap.duckdb", top_scores=False)
    index = build_report(snapshot, tmp_path / "report", city_name="El Alto <demo>")
    html = index.read_text(encoding="utf-8")
    assert "top-ranking-table" not in html and "Promedio simple" in html
    assert "El Alto &lt;demo&gt;" in html
    assert all(_is_png(index.parent / f"dim_{d}.png") for d, _, _ in DIMENSIONS)


def test_missing_top_geometry_and_single_level_snapshots(tmp_path):
    snapshot = make_snapshot(tmp_path / "snap.duckdb")
    with duckdb.connect(str(snapshot)) as con:
        # Top-level outlines are then dissolved from the zones.
        con.execute("UPDATE marts.areas SET geometry_wkt = NULL WHERE level = 'macrodistrito'")
    assert _is_png(build_report(snapshot, tmp_path / "a", city_name="La Paz").parent / "map_score.png")
    with duckdb.connect(str(snapshot)) as con:
        con.execute("DELETE FROM marts.areas WHERE level <> 'zona'")
        con.execute("UPDATE marts.areas SET parent_id = NULL")
    html = build_report(snapshot, tmp_path / "b", city_name="La Paz").read_text(encoding="utf-8")
    assert re.findall(r'data-area="(Z\d+)"', _table(html, "ranking-table")) == EXPECTED_ORDER
    assert "top-ranking-table" not in html and "indicator-top-table" not in html


def test_page_renders_in_headless_chromium(built, tmp_path):
    import matplotlib.image
    import numpy as np

    assert CHROMIUM.exists(), "Chromium is needed to render the report: apt-get install chromium"
    shot = tmp_path / "screenshot.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--window-size=1400,2000",
            f"--screenshot={shot}",
            built.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    assert _is_png(shot)
    pixels = matplotlib.image.imread(shot)[:, :, :3].reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 50, "the screenshot looks blank"
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
