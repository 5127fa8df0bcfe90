"""One source of truth for indicators (indicators/registry.py): every indicator computed is catalogued, every
catalogued one is computed, the poverty entries come from poverty.yaml, and docs/indicators.md is generated."""

import copy
from pathlib import Path

import pytest
import yaml

from cities import load_city
from indicators.alkire_foster import af_area_counts, af_contributions, af_household_scores, load_af_config
from indicators.area_indicators import CENSUS_INDICATORS, census_counts, roll_up
from indicators.catalogue import CATALOGUE_PATH, CatalogueError, load_relations
from indicators.nbi import POVERTY_PATH, load_nbi_config, nbi_area_counts, nbi_households
from indicators.registry import (
    city_catalogue,
    computed_indicators,
    indicators_markdown,
    poverty_entries,
    poverty_texts,
)
from indicators.sensor_indicators import SENSORS_PATH, load_sensor_config
from indicators.service_indicators import SERVICE_INDICATORS
from sources.census_tables import load_indicator_catalogue
from tests.test_nbi import AREAS, HOUSEHOLDS, PERSONS
from transforms.areas import area_parents

ROOT = Path(__file__).resolve().parents[1]


def copy_catalogue(tmp_path, change=None) -> Path:
    data = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    if change:
        change(data)
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def copy_poverty(tmp_path, change) -> Path:
    data = yaml.safe_load(POVERTY_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "poverty.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_catalogue_lists_exactly_what_the_code_computes():
    catalogue, dimensions, relations = city_catalogue()
    computed = computed_indicators(load_nbi_config(), load_af_config(), load_sensor_config())
    assert dict(zip(catalogue["indicator_id"], catalogue["computed_by"], strict=True)) == computed
    # the three that were computed and dropped before (issue 15) are catalogued now
    assert {"nbi_deprived_education", "nbi_unmeasured_households", "af_unmeasured_households"} <= set(computed)
    assert len(relations) > 0 and set(catalogue["dimension"]) <= set(dimensions["dimension_id"])


def test_census_counts_are_the_registered_functions():
    counts = census_counts(HOUSEHOLDS.assign(area_id=HOUSEHOLDS["area_id"]),
                           PERSONS.merge(HOUSEHOLDS[["household_id", "area_id"]], on="household_id"))
    assert list(dict.fromkeys(counts["indicator_id"])) == list(CENSUS_INDICATORS)
    # overcrowding by hand: h3 has 4 members and no bedroom (counted as one) -> 4 > 3; h2 3 per bedroom is not
    over = counts[counts["indicator_id"] == "overcrowding"].set_index("area_id")
    assert over.loc["Z1", ["numerator", "denominator"]].tolist() == [0, 2]
    assert over.loc["Z2", ["numerator", "denominator"]].tolist() == [1, 2]


def test_nbi_and_af_counts_are_exactly_the_generated_entries():
    persons = PERSONS.merge(HOUSEHOLDS[["household_id", "area_id"]], on="household_id")
    nbi, af = load_nbi_config(), load_af_config()
    counted = set(nbi_area_counts(nbi_households(HOUSEHOLDS, persons, nbi), nbi)["indicator_id"])
    af_counts = af_area_counts(af_household_scores(HOUSEHOLDS, persons, af), af)
    rolled = roll_up(af_counts, area_parents(AREAS))
    counted |= set(af_counts["indicator_id"]) | set(af_contributions(rolled, af)["indicator_id"])
    generated = {e["id"] for e in poverty_entries(nbi, af, poverty_texts(POVERTY_PATH))}
    assert counted == generated


def test_service_and_sensor_indicators_are_their_rules():
    computed = computed_indicators(load_nbi_config(), load_af_config(), load_sensor_config())
    assert {i for i, how in computed.items() if how.startswith("services:")} == set(SERVICE_INDICATORS)
    assert {i for i, how in computed.items() if how.startswith("sensors:")} == \
        set(load_sensor_config()["indicators"])


def test_an_entry_nothing_computes_fails_naming_the_file_and_the_indicator(tmp_path):
    def add(data):
        data["indicators"].append({**data["indicators"][0], "id": "ghost", "computed_by": "census:ghost"})
    path = copy_catalogue(tmp_path, add)
    with pytest.raises(CatalogueError, match=r"indicator 'ghost' is catalogued \(computed_by: census:ghost\) but "
                                             "nothing computes it") as error:
        city_catalogue(path=path)
    assert str(path) in str(error.value)


def test_an_indicator_computed_without_an_entry_fails(tmp_path):
    path = copy_catalogue(tmp_path, lambda data: data["indicators"].pop(
        next(i for i, e in enumerate(data["indicators"]) if e["id"] == "illiteracy")))
    with pytest.raises(CatalogueError, match="'illiteracy' is computed \\(census:illiteracy\\) but not in the "
                                             "catalogue: add an entry"):
        city_catalogue(path=path)


def test_an_entry_naming_the_wrong_rule_fails(tmp_path):
    def wrong(data):
        next(e for e in data["indicators"] if e["id"] == "pm25_mean")["computed_by"] = "census:pm25_mean"
    with pytest.raises(CatalogueError, match="'pm25_mean' says computed_by: census:pm25_mean, but it is computed "
                                             "by sensors:pm25_mean"):
        city_catalogue(path=copy_catalogue(tmp_path, wrong))


def test_a_poverty_entry_written_by_hand_is_refused(tmp_path):
    def written(data):
        data["indicators"].append({**data["indicators"][0], "id": "af_h", "computed_by": "poverty:alkire_foster"})
    with pytest.raises(CatalogueError, match="indicator 'af_h': generated from the poverty rules .* remove the entry"):
        city_catalogue(path=copy_catalogue(tmp_path, written))


def test_an_af_indicator_added_to_poverty_yaml_is_computed_and_catalogued(tmp_path):
    def add(data):
        indicators = data["alkire_foster"]["indicators"]
        water = next(i for i in indicators if i["id"] == "water")
        water["weight"] = "1/32"
        indicators.append({**copy.deepcopy(water), "id": "water_again", "name_es": "agua otra vez",
                           "name_en": "water again"})
    path = copy_poverty(tmp_path, add)
    catalogue = city_catalogue(poverty_path=path)[0].set_index("indicator_id")
    assert catalogue.loc["af_ch_water_again", "name_en"] == "Censored headcount: water again"
    assert catalogue.loc["af_contrib_water_again", "computed_by"] == "poverty:alkire_foster.indicators.water_again"
    assert "w_j = 1/32" in catalogue.loc["af_contrib_water", "definition"]


def test_definitions_follow_the_rules_values(tmp_path):
    def change(data):
        data["alkire_foster"]["k"] = "1/2"
        strata = data["nbi"]["strata"]
        strata[1]["upper"], strata[1]["includes_upper"] = 0.2, False  # threshold now [-0.1, 0.2)
        data["nbi"]["component_deprived_above"] = 0.25
    catalogue = city_catalogue(poverty_path=copy_poverty(tmp_path, change))[0].set_index("indicator_id")
    definition = catalogue["definition"]
    assert "at least k = 1/2 of" in definition["af_h"]
    assert definition["nbi_stratum_needs_met"] == "Share of persons in households whose NBI index is below -0.1."
    assert definition["nbi_stratum_threshold"].endswith("NBI index is from -0.1 below 0.2.")
    assert definition["nbi_stratum_moderate_poverty"].endswith("is from 0.2 up to 0.4.")
    assert definition["nbi_stratum_marginality"] == "Share of persons in households whose NBI index is above 0.7."
    assert definition["nbi_poor_households"].startswith("Share of households whose NBI index is from 0.2 (")
    assert "is above 0.25: the component is unmet" in definition["nbi_deprived_space"]


def test_the_shipped_strata_read_as_ine_bands():
    definition = city_catalogue()[0].set_index("indicator_id")["definition"]
    assert definition["nbi_stratum_threshold"].endswith("is from -0.1 up to 0.1.")
    assert definition["nbi_stratum_moderate_poverty"].endswith("is above 0.1 up to 0.4.")
    assert definition["nbi_poor_households"] == ("Share of households whose NBI index is above 0.1 (moderate poverty, "
                                                 "indigence or marginality).")


def test_stratum_directions_and_the_poor_band_follow_the_strata(tmp_path):
    catalogue = city_catalogue()[0].set_index("indicator_id")
    assert catalogue.loc["nbi_stratum_needs_met", "direction"] == 1      # the best stratum
    assert catalogue.loc["nbi_stratum_threshold", "direction"] == -1
    assert catalogue.loc["nbi_stratum_marginality", "direction"] == -1

    def two_poor(data):
        data["nbi"]["poor_strata"] = ["indigence", "marginality"]
    definition = city_catalogue(poverty_path=copy_poverty(tmp_path, two_poor))[0].set_index("indicator_id")[
        "definition"]
    assert definition["nbi_poor_households"] == ("Share of households whose NBI index is above 0.4 (indigence or "
                                                 "marginality).")


def test_a_poverty_rule_without_a_name_fails_naming_the_file_and_the_key(tmp_path):
    def unnamed(data):
        del data["alkire_foster"]["indicators"][0]["name_en"]
    path = copy_poverty(tmp_path, unnamed)
    with pytest.raises(CatalogueError, match="poverty.yaml: alkire_foster.indicators.schooling: missing name_en"):
        city_catalogue(poverty_path=path)


def test_relations_may_name_the_generated_entries():
    known = list(city_catalogue()[0]["indicator_id"])
    kinds = {r.kind for r in load_relations(CATALOGUE_PATH, known=known)}
    assert kinds == {"same", "gives", "sum"}


def test_the_tables_city_catalogue_matches_its_tables(tmp_path):
    city = load_city("bolivia_municipal")
    assert len(load_indicator_catalogue(city)) == 18


def table_city(tmp_path, change):
    import shutil

    folder = tmp_path / "bolivia_municipal"
    shutil.copytree(load_city("bolivia_municipal").folder, folder)
    path = folder / "indicators.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from cities import City, read_yaml

    return City(name="bolivia_municipal", folder=folder, config=read_yaml(folder / "city.yaml")), path


@pytest.mark.parametrize("change, message", [
    (lambda data: data["indicators"].append({**data["indicators"][0], "id": "ghost", "label": None}),
     "'ghost' is catalogued .* but nothing computes it"),
    (lambda data: data["indicators"].pop(next(i for i, e in enumerate(data["indicators"]) if e["id"] == "nbi")),
     "'nbi' is computed \\(table:nbi_population\\) but not in the catalogue"),
    (lambda data: next(e for e in data["indicators"] if e["id"] == "nbi").update(computed_by="table:census_indicators"),
     "'nbi' says computed_by: table:census_indicators, but it is computed by table:nbi_population"),
])
def test_a_tables_catalogue_out_of_step_with_its_tables_fails(tmp_path, change, message):
    city, path = table_city(tmp_path, change)
    with pytest.raises(CatalogueError, match=message) as error:
        load_indicator_catalogue(city)
    assert str(path) in str(error.value)


def test_docs_indicators_md_is_generated_from_the_catalogues():
    from cities import available_cities

    expected = indicators_markdown([load_city(name) for name in available_cities()])
    assert (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8") == expected, \
        "docs/indicators.md is out of date: python -m indicators.registry docs > docs/indicators.md"
    assert "#### `nbi_deprived_health`" in expected and "- computed by: `census:overcrowding`" in expected
    assert "- formula: (regular-education enrolments (initial, primary, secondary)) ÷ (census residents aged 4-19) " \
        "× 100\n" in expected
    assert expected.count(" × 1,000\n") == 5  # the five rates per 1,000 (SERVICE_INDICATORS' multipliers)


def test_the_check_command_reports_every_city(capsys):
    from indicators.registry import main

    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "la_paz_demo: 68 indicators" in out and "bolivia_municipal: 18 indicators" in out


def test_sensor_rules_from_another_file_are_checked_too(tmp_path):
    path = tmp_path / "rules.yaml"
    rules = yaml.safe_load(SENSORS_PATH.read_text(encoding="utf-8"))
    del rules["indicators"]["noise_valid_hours"]
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError, match="indicator 'noise_valid_hours' is catalogued \\(computed_by: "
                                             "sensors:noise_valid_hours\\) but nothing computes it"):
        city_catalogue(sensors_path=path)
