"""docs/city.md's walk-through, step by step, on a throwaway city: `bienestar city new`, the city's own sensor
rules and catalogue with a new indicator, `bienestar city check` (failing until the entry exists), a run of the
pipeline, and the new indicator in the published marts. End to end: about 1.5 minutes."""

import shutil
from pathlib import Path

import duckdb
import pytest

from bienestar.cli import main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
RULE = """  pm25_days_above_24h_dry: {parameter: pm25, statistic: days_above_daily, season: dry, method: nearest,
                            max_distance_m: 3000}
"""
ENTRY = """  - id: pm25_days_above_24h_dry
    computed_by: sensors:pm25_days_above_24h_dry
    name_es: Días de época seca con PM2.5 sobre la guía diaria de la OMS
    name_en: Dry-season days with PM2.5 above the WHO 24-hour guideline
    definition: Valid days of the dry season whose mean PM2.5 is above the WHO 2021 24-hour guideline.
    dimension: environment
    unit: days
    direction: -1
    numerator: sum over zones of dry-season days above × residents
    denominator: residents of zones with a value
    source: sensors
    min_denominator: 0
"""


def test_a_new_city_with_a_new_indicator_as_docs_city_md_walks_it(tmp_path, monkeypatch, capsys, airflow_db):
    cities = tmp_path / "my-cities"
    cities.mkdir()
    monkeypatch.setenv("BIENESTAR_CITIES_DIR", str(cities))
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path / "home"))

    # 1. start from the sample city
    assert main(["city", "new", "lima_demo", "--from", "la_paz_demo"]) == 0
    folder = cities / "lima_demo"

    # 2. edit city.yaml: the name reports show, the disclosure threshold, the city's own rules
    config = folder / "city.yaml"
    text = config.read_text(encoding="utf-8").replace(
        "display_name: La Paz (ciudad de ejemplo / sample city)", "display_name: Lima (ciudad de ejemplo)")
    config.write_text(text.replace("  min_count: 5 ", "  min_count: 6 ")
                      + "\nrules: {catalogue: catalogue.yaml, sensors: sensors.yaml}\n", encoding="utf-8")

    # 3. add an indicator: the rule first ...
    shutil.copy(ROOT / "indicators" / "sensors.yaml", folder / "sensors.yaml")
    shutil.copy(ROOT / "indicators" / "catalogue.yaml", folder / "catalogue.yaml")
    rules = folder / "sensors.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("  pm25_days_above_24h: {", RULE + "  pm25_days_above_24h: {", 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["city", "check", "lima_demo"]) != 0  # ... which the check refuses until it is catalogued
    assert "'pm25_days_above_24h_dry' is computed (sensors:pm25_days_above_24h_dry) but not in the catalogue" in \
        capsys.readouterr().err
    catalogue = folder / "catalogue.yaml"
    catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(
        "  - id: pm25_days_above_24h\n", ENTRY + "  - id: pm25_days_above_24h\n", 1), encoding="utf-8")

    # 4. check it
    assert main(["city", "check", "lima_demo"]) == 0
    out = capsys.readouterr().out
    assert "catalogue: 69 indicators" in out and "min_count 6" in out and out.rstrip().endswith("lima_demo: OK")

    # 5. run it, and find the indicator in the published marts
    assert main(["demo", "--city", "lima_demo", "--scale", "0.1"]) == 0
    snapshot = tmp_path / "home" / "published" / "lima_demo" / "current.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute("SELECT level, count(*), count(value), min(value), max(value) FROM marts.indicator_values "
                           "WHERE indicator_id = 'pm25_days_above_24h_dry' AND period = '2024' GROUP BY level "
                           "ORDER BY level").fetchall()
        name = con.execute("SELECT name_en FROM marts.indicator_catalogue WHERE indicator_id = "
                           "'pm25_days_above_24h_dry'").fetchone()[0]
    assert [r[0] for r in rows] == ["distrito", "macrodistrito", "zona"]
    assert all(r[2] > 0 and 0 <= r[3] <= r[4] <= 123 for r in rows)  # days of May to August, at most 123
    assert name == "Dry-season days with PM2.5 above the WHO 24-hour guideline"
    report = (tmp_path / "home" / "reports" / "lima_demo" / "latest" / "index.html").read_text(encoding="utf-8")
    assert "Lima (ciudad de ejemplo)" in report
