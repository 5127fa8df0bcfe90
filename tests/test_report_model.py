"""reports/model.py on Snapshot values built here: the rules behind the legend, the change beyond uncertainty and
the comparability note, at and around their boundaries."""

import pytest

from reports.model import CLASS_COLOURS, Words, class_legend, structural_difference
from reports.numbers import Numbers
from reports.snapshot import Area, Change, Dimension, Score, Snapshot


def snapshot(quantiles: dict[str, tuple[float, int]], **more) -> Snapshot:
    areas = {a: Area(a, "zona", a.lower(), None, None) for a in quantiles}
    scores = {(a, "wb"): Score(score, k, quantile) for k, (a, (score, quantile)) in enumerate(quantiles.items(), 1)}
    snap = Snapshot("wb", "2024", areas, [Dimension("env", "Ambiente", "Environment"),
                                          Dimension("hou", "Vivienda", "Housing")], [], scores, {}, **more)
    snap.levels = ["zona"]
    return snap


def test_the_legend_has_one_entry_per_class_up_to_the_last_used_even_an_empty_one():
    snap = snapshot({"A": (90.0, 1), "B": (80.04, 1), "C": (40.0, 3)})
    legend = class_legend(snap, "zona", Numbers("es"), Words(snap, "es"))
    assert [c.colour for c in legend] == list(CLASS_COLOURS[:3])  # class k is entry k - 1, as the map needs
    assert [c.label for c in legend] == ["1 (mejor): 80,0–90,0", "2", "3 (peor): 40,0–40,0"]


@pytest.mark.parametrize(("band_from", "band_to", "beyond"), [
    ((5, 6), (1, 4), True),      # the new band ends just above the old one
    ((5, 6), (1, 5), False),     # they touch at 5: not told apart
    ((5, 6), (6, 9), False),
    ((5, 6), (7, 9), True),      # fell beyond it
    ((5, 6), (None, None), False),  # no band: nothing claimed
])
def test_a_change_is_beyond_uncertainty_only_when_the_bands_do_not_overlap(band_from, band_to, beyond):
    change = Change("A", "zona", "2012", 50.0, 60.0, 5, 3, band_from, band_to)
    assert change.beyond_uncertainty is beyond


def test_the_structural_difference_names_the_dimensions_scored_in_one_year_and_changed_weights():
    change = Change("A", "zona", "2012", 50.0, 60.0, 1, 1, (1, 1), (1, 1))
    snap = snapshot({"A": (60.0, 1)}, changes=[change], scored_nodes={"2012": {"hou"}, "2024": {"hou", "env"}},
                    weights=[("wb", "env", 0.5), ("wb", "hou", 0.5)], weights_from=[("wb", "hou", 1.0)])
    assert structural_difference(snap, Words(snap, "es")) == "Ambiente sin puntaje en 2012; pesos distintos"
    assert structural_difference(snap, Words(snap, "en")) == "Environment not scored in 2012; different weights"
    same = snapshot({"A": (60.0, 1)}, changes=[change], scored_nodes={"2012": {"hou"}, "2024": {"hou"}},
                    weights=[("wb", "hou", 1.0)], weights_from=[("wb", "hou", 1.0 + 1e-12)])
    assert structural_difference(same, Words(same, "es")) == ""


def test_the_change_map_classes_equal_counts_largest_rise_first():
    from reports.model import CHANGE_COLOURS, change_map

    deltas = {"A": -10.0, "B": 0.0, "C": 5.0, "D": 20.0, "E": 30.0, "F": 30.5, "G": None}
    changes = [Change(a, "zona", "2012", 50.0, None if d is None else 50.0 + d, 1, 1, (1, 1), (1, 1))
               for a, d in deltas.items()]
    snap = snapshot({a: (50.0, 1) for a in deltas}, changes=changes)
    snap.areas = {a: Area(a, "zona", a.lower(), None, "POLYGON ((0 0, 1 0, 1 1, 0 0))") for a in deltas}
    areas, classes = change_map(snap, Numbers("es"), Words(snap, "es"))
    # six known changes in five classes: position p (0 = lowest) -> 5 - (5p // 6): A 5, B 5, C 4, D 3, E 2, F 1
    assert {a.area_id: a.klass for a in areas} == {"A": 5, "B": 5, "C": 4, "D": 3, "E": 2, "F": 1, "G": None}
    assert [c.colour for c in classes] == list(CHANGE_COLOURS)
    assert [c.label for c in classes] == ["+30,5 … +30,5", "+30,0 … +30,0", "+20,0 … +20,0", "+5,0 … +5,0",
                                          "−10,0 … 0,0"]


def test_each_dimension_is_a_map_layer_in_five_equal_count_classes_highest_first():
    from reports.model import dimension_layers, equal_count_classes

    assert equal_count_classes({"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0, "E": 50.0, "F": None}) == \
        {"A": 5, "B": 4, "C": 3, "D": 2, "E": 1}
    assert equal_count_classes({"A": 1.0, "B": 2.0}) == {"A": 2, "B": 1}  # fewer areas than classes
    snap = snapshot({a: (50.0, 1) for a in "ABCDEFG"})
    for k, area in enumerate("ABCDEFG"):  # housing 10..70; environment only for A and B
        snap.scores[(area, "hou")] = Score(10.0 * (k + 1), None, None)
    snap.scores[("A", "env")], snap.scores[("B", "env")] = Score(5.0, None, None), Score(95.0, None, None)
    environment, housing = dimension_layers(snap, Numbers("en"), Words(snap, "en"))
    assert housing.label == "Housing" and environment.label == "Environment"
    # seven values in five classes: position p -> 5 - (5p // 7): 5 5 4 3 3 2 1
    assert dict(housing.klass) == {"A": 5, "B": 5, "C": 4, "D": 3, "E": 3, "F": 2, "G": 1}
    assert [c.label for c in housing.classes] == ["1 (best): 70.0–70.0", "2: 60.0–60.0", "3: 40.0–50.0",
                                                   "4: 30.0–30.0", "5 (worst): 10.0–20.0"]
    assert dict(environment.klass) == {"A": 2, "B": 1} and len(environment.classes) == 2


def test_the_common_basis_names_its_dimensions_and_the_indicators_it_left_out_inside_them():
    from reports.model import common_basis
    from reports.snapshot import Indicator

    snap = snapshot({"A": (90.0, 1)})
    snap.indicators = [Indicator("cuts", "Cortes de agua", "Water cuts", "hou", "rate", -1.0),
                       Indicator("rooms", "Hacinamiento", "Overcrowding", "hou", "share", -1.0)]
    snap.weights = [("wb", "hou", 0.5), ("wb", "env", 0.5), ("hou", "rooms", 0.5), ("hou", "cuts", 0.5),
                    ("env", "pm25", 1.0)]
    assert common_basis(snap, Words(snap, "es")) == "—"  # a snapshot from before the common basis
    snap.change_nodes = {"hou", "rooms"}  # environment and water cuts measured in one year only
    assert common_basis(snap, Words(snap, "es")) == "Vivienda (sin Cortes de agua: no medidos en ambos años)"
    assert common_basis(snap, Words(snap, "en")) == "Housing (without Water cuts: not measured in both years)"
    snap.change_nodes = {"hou", "rooms", "cuts", "env", "pm25"}
    assert common_basis(snap, Words(snap, "en")) == "Environment, Housing"  # display order of the dimensions
