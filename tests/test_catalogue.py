"""The indicator catalogue loads, and a bad entry fails naming the file and the entry."""

import pandas as pd
import pytest
import yaml

from indicators.catalogue import CATALOGUE_PATH, CatalogueError, dimension_table, load_catalogue

ENTRY = {"id": "x", "name_es": "x", "name_en": "x", "definition": "d", "dimension": "housing", "unit": "share",
         "direction": -1, "numerator": "n", "denominator": "d", "source": "census"}


def write(tmp_path, indicators):
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump({"dimensions": [{"id": "housing", "name_es": "Vivienda", "name_en": "Housing"}],
                                    "indicators": indicators}), encoding="utf-8")
    return path


def test_the_project_catalogue_loads():
    catalogue, dimensions = load_catalogue(CATALOGUE_PATH, min_denominator=20)
    assert catalogue["indicator_id"].is_unique and len(catalogue) >= 30  # + the poverty entries (test_registry)
    assert set(catalogue["dimension"]) <= set(dimensions["dimension_id"])
    assert set(catalogue["direction"]) <= {1, -1}
    # the default threshold fills entries that do not set one; sensor means publish with 0
    assert catalogue.set_index("indicator_id").loc["illiteracy", "min_denominator"] == 20
    assert catalogue.set_index("indicator_id").loc["pm25_mean", "min_denominator"] == 0


@pytest.mark.parametrize("entries, message", [
    ([{**ENTRY, "dimension": "leisure"}], "indicator 'x': unknown dimension 'leisure'"),
    ([{k: v for k, v in ENTRY.items() if k != "direction"}], "indicator 'x': missing direction"),
    ([ENTRY, dict(ENTRY)], "indicator 'x': duplicate id"),  # two objects: one twice would dump as an alias
    ([{**ENTRY, "direction": 0}], "indicator 'x': direction must be 1"),
])
def test_a_bad_entry_names_the_file_and_the_entry(tmp_path, entries, message):
    path = write(tmp_path, entries)
    with pytest.raises(CatalogueError, match=message) as error:
        load_catalogue(path)
    assert str(path) in str(error.value)


def test_the_default_minimum_denominator_is_20_and_an_entry_may_set_its_own(tmp_path):
    path = write(tmp_path, [ENTRY, {**ENTRY, "id": "y", "min_denominator": 5}])
    catalogue = load_catalogue(path)[0].set_index("indicator_id")
    assert catalogue.loc["x", "min_denominator"] == 20 and catalogue.loc["y", "min_denominator"] == 5
    assert load_catalogue(path, min_denominator=30)[0].set_index("indicator_id").loc["x", "min_denominator"] == 30


def test_an_entry_without_an_id_is_named_by_its_position(tmp_path):
    path = write(tmp_path, [ENTRY, {k: v for k, v in ENTRY.items() if k != "id"}])
    with pytest.raises(CatalogueError, match="indicator 'entry #2': missing id"):
        load_catalogue(path)


def test_a_catalogue_without_relations_has_none(tmp_path):
    from indicators.catalogue import load_relations

    assert load_relations(write(tmp_path, [ENTRY])) == []
    with pytest.raises(CatalogueError, match="relation #1: no indicator 'af_a'"):  # generated: indicators.registry
        load_relations(CATALOGUE_PATH)


def test_dimensions_keep_file_order_and_say_which_the_index_scores():
    dimensions = pd.DataFrame({"dimension_id": ["health", "poverty", "services"], "name_es": ["S", "P", "B"],
                               "name_en": ["H", "P", "S"]})
    table = dimension_table(dimensions, {"wellbeing", "health", "services"})
    assert table["display_order"].tolist() == [0, 1, 2]
    assert table["in_index"].tolist() == [True, False, True]


def test_relations_on_indicators_a_snapshot_lacks_are_left_out_only_when_asked():
    """The attacker reads a snapshot that may publish fewer indicators: relations naming others are left out;
    the pipeline's own load (strict) names the missing one."""
    from indicators.catalogue import load_relations

    known = ["nbi_poor_persons", "nbi_stratum_moderate_poverty", "nbi_stratum_indigence", "nbi_stratum_marginality",
             "nbi_stratum_needs_met", "nbi_stratum_threshold"]
    lenient = load_relations(CATALOGUE_PATH, known=known, strict=False)
    assert {r.kind for r in lenient} == {"sum"} and all(set(r.members) <= set(known) for r in lenient)
    assert len(lenient) == 3   # the three NBI sums; every Alkire-Foster relation is left out
    with pytest.raises(CatalogueError, match="no indicator 'af_a'"):
        load_relations(CATALOGUE_PATH, known=known)
