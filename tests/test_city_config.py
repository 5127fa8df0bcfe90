"""The typed city config (cities/schema.py), `bienestar city check` and `bienestar city new`."""

import shutil
from pathlib import Path

import pytest
import yaml

from bienestar.cityconfig import check_city, new_city
from cities import CityConfigError, available_cities, load_city
from cities.schema import docs_with_reference, validate
from indicators.registry import city_catalogue
from tests.configs import SENSORS, SERVICES, minimal_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def own_cities(tmp_path, monkeypatch):
    """BIENESTAR_CITIES_DIR: a folder of the user's own cities, searched before the bundled ones."""
    folder = tmp_path / "cities"
    folder.mkdir()
    monkeypatch.setenv("BIENESTAR_CITIES_DIR", str(folder))
    return folder


def edit(city_folder: Path, change) -> None:
    path = city_folder / "city.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_bundled_cities_validate_with_every_default_filled_in():
    demo = load_city("la_paz_demo").settings
    assert demo.disclosure.min_denominator == 20 and demo.publication.keep == 30
    assert demo.schedule.task_timeout_minutes == 30 and demo.schedule.run_timeout_minutes == 180
    assert demo.boundary_checks.envelope == (-68.4, -16.8, -67.8, -15.8)
    assert demo.index_uncertainty.runs == 500 and demo.index_uncertainty.seed == 20240601
    bolivia = load_city("bolivia_municipal").settings
    assert bolivia.services is None and bolivia.census.tables and bolivia.index_uncertainty.runs == 500
    assert bolivia.report.licence == "CC-BY-4.0" and bolivia.rules.catalogue is None


@pytest.mark.parametrize("change, message", [
    ({"disclosre": {}}, "disclosre: unknown key (a typo?"),
    ({"levels": []}, "levels: List should have at least 1 item"),
    ({"months": ["2024-13"]}, "months: months are YYYY-MM, got '2024-13'"),
    ({"months": ["2024-6"]}, "months are YYYY-MM"),
    ({"report": {"lang": "fr"}}, "report.lang: Input should be 'es' or 'en', got 'fr'"),
    ({"census": {"vintage": "2024"}}, "census: give either households and persons (microdata) or tables"),
    ({"census": {"vintage": "2024", "days": {"2024": "23/03/2024"}, "tables": {"t": {}}}}, "census.days.2024:"),
    ({"schedule": {"task_timeout_minutes": 0}}, "schedule.task_timeout_minutes: Input should be greater than 0"),
    ({"publication": {"keep": "30"}}, "publication.keep: Input should be a valid integer"),
    ({"services": {**SERVICES, "portal": {"kind": "ckan"}}}, "services.portal.conn_id: missing (required)"),
    ({"sensors": {**SENSORS, "stuck_hours": 0}}, "sensors.stuck_hours: Input should be greater than or equal to 1"),
    ({"sensors": {**SENSORS, "spike_factor": 1}}, "sensors.spike_factor: Input should be greater than 1"),
    ({"rules": {"povrety": "p.yaml"}}, "rules.povrety: unknown key"),
    ({"census": {"vintage": "2024", "households": {"file": "h.csv", "required": []}}},
     "census: give either households and persons"),
    ({"disclosure": {"min_count": 0}, "publication": {"keep": 0}}, "disclosure.min_count: Input should be greater "
                                                                   "than or equal to 1, got 0 (and 1 more)"),
])
def test_a_bad_key_names_the_file_and_the_key(change, message):
    with pytest.raises(CityConfigError) as error:
        validate(minimal_config(**change), "cities/x/city.yaml")
    assert str(error.value).startswith("cities/x/city.yaml: ") and message in str(error.value)


SURVEY = {"name": "s", "vintage": "2024", "households": {"file": "h.csv", "required": []},
          "persons": {"file": "p.csv", "required": []},
          "poverty_lines": {"extreme": 500, "moderate": 1000, "unit": "Bs", "year": 2024, "source": "x"}}


@pytest.mark.parametrize("change, message", [
    ({}, None),
    ({"poverty_lines": {**SURVEY["poverty_lines"], "extreme": 1000}}, "the extreme line (1000.0) must be below"),
    ({"poverty_lines": {**SURVEY["poverty_lines"], "extreme": 999.99}}, None),
    ({"poverty_lines": {**SURVEY["poverty_lines"], "extreme": 0}}, "extreme: Input should be greater than 0"),
    ({"max_cv": 0}, "max_cv: Input should be greater than 0"),
    ({"min_households": 0}, "min_households: Input should be greater than or equal to 1"),
    ({"small_area": {"level": "distrito", "covariates": []}}, "covariates: List should have at least 1 item"),
    ({"vintage": 2024}, None),
])
def test_the_survey_section(change, message):
    config = minimal_config(survey={**SURVEY, **change})
    if message is None:
        assert validate(config, "x").survey.vintage == "2024"
    else:
        with pytest.raises(CityConfigError, match="survey"):
            validate(config, "x")
        with pytest.raises(CityConfigError) as error:
            validate(config, "x")
        assert message in str(error.value)


def test_years_written_as_numbers_are_read_as_text():
    settings = validate(minimal_config(census={"vintage": 2024, "earlier_vintages": [2012],
                                               "households": {"file": "h.csv", "required": []},
                                               "persons": {"file": "p.csv", "required": []}}), "x")
    assert settings.census.vintage == "2024" and settings.census.earlier_vintages == ["2012"]


@pytest.mark.parametrize("share, valid", [(0, True), (1, True), (0.5, True), (1.0001, False), (-0.0001, False),
                                          (True, False)])
def test_a_share_is_from_0_to_1_and_not_a_boolean(share, valid):
    config = minimal_config(boundary_checks={"max_zone_share": share})
    if valid:
        assert validate(config, "x").boundary_checks.max_zone_share == share
    else:
        with pytest.raises(CityConfigError, match="boundary_checks.max_zone_share"):
            validate(config, "x")


@pytest.mark.parametrize("name", ["la_paz_demo", "bolivia_municipal"])
def test_city_check_passes_on_the_bundled_cities(name):
    lines = check_city(name)
    assert any(line.startswith("catalogue: ") and "each computed and catalogued" in line for line in lines)
    assert any(line.startswith("index: wellbeing") for line in lines)


def test_city_new_copies_a_city_under_its_name(own_cities):
    city = new_city("lima_demo", "la_paz_demo")
    assert city.folder == own_cities / "lima_demo" and city.settings.name == "lima_demo"
    assert "lima_demo" in available_cities() and "la_paz_demo" in available_cities()
    assert (city.folder / "wellbeing.yaml").exists() and not (city.folder / "__pycache__").exists()
    with pytest.raises(CityConfigError, match="city 'lima_demo' exists already"):
        new_city("lima_demo", "la_paz_demo")
    with pytest.raises(CityConfigError, match="use lower-case letters, digits and _"):
        new_city("Lima-Demo", "la_paz_demo")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(quality={"max_row_dorp": 0.3}), "quality.max_row_dorp: unknown threshold"),
    (lambda d: d.update(quality={"severity": {"raw_census.row_count": "fatal"}}), "quality.severity.raw_census."),
    (lambda d: d.update(changes=[{"period_from": "2001", "period_to": "2024"}]), "changes: 2001 is not a census year"),
    (lambda d: d.update(index="missing.yaml"), "missing.yaml"),
    (lambda d: d.update(rules={"poverty": "missing.yaml"}), "missing.yaml: cannot read it"),
])
def test_city_check_names_what_is_wrong(own_cities, change, message):
    city = new_city("lima_demo", "la_paz_demo")
    edit(city.folder, change)
    with pytest.raises(Exception, match=message):
        check_city("lima_demo")


def test_an_index_on_an_uncatalogued_indicator_fails_the_check(own_cities):
    city = new_city("lima_demo", "la_paz_demo")
    spec = city.folder / "wellbeing.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("overcrowding", "crowding_typo"), encoding="utf-8")
    with pytest.raises(CityConfigError, match="crowding_typo are not in the city's catalogue"):
        check_city("lima_demo")


def test_a_city_uses_its_own_poverty_rules(own_cities):
    city = new_city("lima_demo", "la_paz_demo")
    shutil.copy(ROOT / "indicators" / "poverty.yaml", city.folder / "poverty.yaml")
    rules = city.folder / "poverty.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("  k: 1/3", "  k: 1/2", 1), encoding="utf-8")
    edit(city.folder, lambda d: d.update(rules={"poverty": "poverty.yaml"}))
    city = load_city("lima_demo")
    assert city.rule_path("poverty") == rules and load_city("la_paz_demo").rule_path("poverty") != rules
    definition = city_catalogue(city)[0].set_index("indicator_id")["definition"]
    assert "at least k = 1/2 of" in definition["af_h"]
    assert "at least k = 1/3 of" in city_catalogue(load_city("la_paz_demo"))[0].set_index("indicator_id").loc[
        "af_h", "definition"]


def test_the_city_cli_checks_and_creates(own_cities, capsys):
    from bienestar.cli import main

    assert main(["city", "new", "lima_demo", "--from", "la_paz_demo"]) == 0
    assert "bienestar city check lima_demo" in capsys.readouterr().out
    assert main(["city", "check", "lima_demo"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("lima_demo: OK")
    edit(own_cities / "lima_demo", lambda d: d.update(disclosure={"min_count": 0}))
    assert main(["city", "check", "lima_demo"]) != 0
    assert "disclosure.min_count: Input should be greater than or equal to 1, got 0" in capsys.readouterr().err


def test_docs_city_md_reference_is_generated_from_the_schema():
    text = (ROOT / "docs" / "city.md").read_text(encoding="utf-8")
    assert text == docs_with_reference(text), "docs/city.md is out of date: python -m cities.schema docs"
    assert "| `min_denominator` | int | `20` |" in text and "| `keep` | int | `30` |" in text
