"""The rules of the index spec (indicators/index_spec.py), one by one: each threshold at, just below and just above
its boundary, each branch of a validation with its own bad spec, and every refusal naming its spec line.

Every spec here is TEMPLATE with lines put in at one of three places (a test fills one of them, so the lines of
the rest are the ones numbered below):

     1  id: wb
     2  unit: area_id
     3  indicators:
     4    - id: water
     5      direction: 1
        <water: lines 6, 7, ... (keys of the indicator water)>
     6    - id: crime
     7      direction: -1
        <crime: lines 8, 9, ... (keys of crime, or further indicators)>
     8  nodes:
     9    - id: services
    10      children: [water]
    11    - id: wb
    12      children: [services, crime]
        <end: lines 13, 14, ... (keys of node wb, further nodes, or top-level keys)>
"""

import pytest
import yaml

from indicators.index_spec import (
    DEFAULT_FLOOR,
    SpecError,
    aggregate_options,
    normalisation_options,
    parse_spec_text,
)

TEMPLATE = """\
id: {spec_id}
unit: area_id
indicators:
  - id: water
    direction: 1
{water}  - id: crime
    direction: -1
{crime}nodes:
  - id: services
    children: [water]
  - id: wb
    children: {children}
{end}"""


def spec_text(water="", crime="", end="", spec_id="wb", children="[services, crime]"):
    return TEMPLATE.format(water=water, crime=crime, end=end, spec_id=spec_id, children=children)


def parse(**slots):
    return parse_spec_text(spec_text(**slots), source="spec.yaml")


def got(value):
    """How a message shows a YAML value: its Python repr."""
    return repr(yaml.safe_load(value))


def refused(prefix, text):
    """The spec is refused with a message that starts with `prefix` (which names the spec line)."""
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, source="spec.yaml")
    assert str(caught.value).startswith(prefix), str(caught.value)


def test_the_template_is_valid_and_takes_the_defaults():
    spec = parse()
    assert spec.scale == 100.0           # no scale: 100
    assert spec.quantiles is None        # no quantiles: no quantile column
    assert spec.floor("wb") == DEFAULT_FLOOR == 0.01
    assert spec.missing == {"min_share": 1.0, "impute": "none", "group": None}
    assert spec.weights("wb") == [0.5, 0.5]
    assert spec.where("nodes", 1) == "spec.yaml:11"


# ---------------------------------------------------------------- top level: id, scale, quantiles, floor, lists

@pytest.mark.parametrize("spec_id", ['""', "5", ""])
def test_id_must_be_a_non_empty_name(spec_id):
    # "" is a string but empty; 5 is not a string; `id:` alone is null
    refused("spec.yaml:1: id must be a non-empty name", spec_text(spec_id=spec_id))


@pytest.mark.parametrize("scale, ok", [
    ("0", False), ("-1", False), ("0.001", True),   # > 0: at, below, above the boundary
    ("1", True), (".inf", False), ("true", False), ("big", False),
])
def test_scale_is_a_finite_number_above_0(scale, ok):
    text = spec_text(end=f"scale: {scale}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").scale == float(scale)
    else:
        refused(f"spec.yaml:13: scale must be a number > 0 (1 or 100), got {got(scale)}", text)


@pytest.mark.parametrize("quantiles, ok", [
    ("2", True), ("1", False), ("3", True),          # >= 2: at, below, above
    ("2.5", False), ("true", False),
])
def test_quantiles_is_a_whole_number_of_at_least_2(quantiles, ok):
    text = spec_text(end=f"quantiles: {quantiles}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").quantiles == int(quantiles)
    else:
        refused(f"spec.yaml:13: quantiles must be a whole number >= 2 (5 for quintiles), got {got(quantiles)}", text)


@pytest.mark.parametrize("floor, ok", [
    ("0", True), ("-0.01", False), ("0.01", True),   # lower boundary 0 (included): at, below, above
    ("0.5", True),
    ("0.99", True), ("1", False), ("1.5", False),    # upper boundary 1 (excluded): below, at, above
    ("5", False), ("low", False), (".nan", False),
])
def test_floor_is_a_share_in_0_to_1_at_the_top_and_on_a_node(floor, ok):
    top = spec_text(end=f"floor: {floor}\n")
    node = spec_text(end=f"    floor: {floor}\n")   # a key of node wb
    if ok:
        assert parse_spec_text(top, source="spec.yaml").floor("wb") == float(floor)
        spec = parse_spec_text(node, source="spec.yaml")
        assert (spec.floor("wb"), spec.floor("services")) == (float(floor), DEFAULT_FLOOR)
    else:
        rule = f"floor must be a number in [0, 1) (a share of the scale, default 0.01), got {got(floor)}"
        refused(f"spec.yaml:13: the spec: {rule}", top)
        refused(f"spec.yaml:13: node 'wb': {rule}", node)


@pytest.mark.parametrize("key, value", [("indicators", "[]"), ("indicators", "water"),
                                        ("nodes", "[]"), ("nodes", "wb")])
def test_indicators_and_nodes_are_non_empty_lists(key, value):
    good = {"indicators": "\n  - {id: water, direction: 1}", "nodes": "\n  - {id: wb, children: [water]}"}
    text = f"id: wb\nindicators: {good['indicators']}\nnodes: {good['nodes']}\n".replace(good[key], " " + value)
    line = 2 if key == "indicators" else 3 + (key == "nodes")
    refused(f"spec.yaml:{line}: {key} must be a non-empty list", text)


# ---------------------------------------------------------------- indicators

@pytest.mark.parametrize("entry", ["  - lonely\n", "  - {direction: 1}\n", "  - {id: 7, direction: 1}\n"])
def test_each_indicator_is_a_mapping_with_an_id(entry):
    refused("spec.yaml:8: each indicator is a mapping with an id", spec_text(crime=entry))


@pytest.mark.parametrize("points, ok", [("0", True), ("-1", False), ("1", True),   # >= 0: at, below, above
                                        ("2.5", False), ("true", False)])
def test_winsorise_max_points_is_a_whole_number_of_at_least_0(points, ok):
    text = spec_text(water=f"    transform: {{method: winsorise, max_points: {points}}}\n")
    if ok:
        spec = parse_spec_text(text, source="spec.yaml")
        assert spec.transform("water") == {"method": "winsorise", "max_points": int(points), "skew": 2.0,
                                           "kurtosis": 3.5}
    else:
        refused(f"spec.yaml:6: indicator 'water': winsorise max_points must be a whole number >= 0, got {got(points)}",
                text)


@pytest.mark.parametrize("skew, ok", [("1.5", True), (".inf", False), ("high", False), ("true", False)])
def test_winsorise_skew_is_a_finite_number(skew, ok):
    text = spec_text(water=f"    transform: {{method: winsorise, skew: {skew}}}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").transform("water")["skew"] == 1.5
    else:
        refused(f"spec.yaml:6: indicator 'water': winsorise skew must be a number, got {got(skew)}", text)


@pytest.mark.parametrize("low, high, ok", [("5", "5", False), ("4.9", "5", True), ("6", "5", False)])
def test_goalposts_min_is_strictly_below_max(low, high, ok):
    text = spec_text(water=f"    normalise: {{method: goalposts, min: {low}, max: {high}}}\n")
    if ok:
        spec = parse_spec_text(text, source="spec.yaml")
        assert spec.normalisation("water") == {"method": "goalposts", "min": 4.9, "max": 5}
    else:
        refused(f"spec.yaml:6: indicator 'water': goalposts min ({low}) must be below max ({high})", text)


@pytest.mark.parametrize("constant, ok", [("0", False), ("-1", False), ("0.5", True), ("1", True)])
def test_exponential_rank_constant_is_above_0(constant, ok):
    text = spec_text(water=f"    normalise: {{method: exponential_rank, constant: {constant}}}\n")
    if ok:
        spec = parse_spec_text(text, source="spec.yaml")
        assert spec.normalisation("water") == {"method": "exponential_rank", "constant": float(constant), "n": None}
    else:
        refused("spec.yaml:6: indicator 'water': exponential_rank constant must be > 0", text)


@pytest.mark.parametrize("n, ok", [("1", True), ("0", False), ("2", True),   # >= 1: at, below, above
                                   ("2.5", False), ("true", False)])
def test_exponential_rank_n_is_a_whole_number_of_at_least_1(n, ok):
    # crime has direction -1, which a column of ranks needs
    text = spec_text(crime=f"    normalise: {{method: exponential_rank, n: {n}}}\n")
    if ok:
        spec = parse_spec_text(text, source="spec.yaml")
        assert spec.normalisation("crime") == {"method": "exponential_rank", "constant": 23.0, "n": int(n)}
    else:
        refused(f"spec.yaml:8: indicator 'crime': exponential_rank n (number of ranked units) must be a whole number "
                f">= 1, got {got(n)}", text)


@pytest.mark.parametrize("norm, ok", [("0", False), ("-1", False), ("0.5", True), ("1", True)])
def test_nbi_gap_norm_is_above_0(norm, ok):
    text = spec_text(water=f"    normalise: {{method: nbi_gap, norm: {norm}}}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").normalisation("water") == {"method": "nbi_gap",
                                                                                    "norm": float(norm)}
    else:
        refused(f"spec.yaml:6: indicator 'water': nbi_gap norm must be > 0, got {norm}", text)


@pytest.mark.parametrize("transform, low, ok", [
    ("log", "0", False), ("log", "-0.5", False), ("log", "0.5", True),           # log needs > 0
    ("log1p", "-1", False), ("log1p", "-1.5", False), ("log1p", "-0.5", True),  # log1p needs > -1
])
def test_raw_unit_goalposts_are_in_the_transforms_domain(transform, low, ok):
    text = spec_text(water=f"    transform: {transform}\n    normalise: {{method: goalposts, min: {low}, max: 100}}\n")
    if ok:
        spec = parse_spec_text(text, source="spec.yaml")
        assert spec.normalisation("water")["min"] == float(low) and spec.transform("water") == {"method": transform}
    else:
        limit = 0 if transform == "log" else -1
        refused(f"spec.yaml:7: indicator 'water': goalposts min {low} is in raw units and is transformed with "
                f"{transform} too, which needs values > {limit}", text)


# ---------------------------------------------------------------- nodes

@pytest.mark.parametrize("entry", ["  - top\n", "  - {children: [wb]}\n", "  - {id: 3, children: [wb]}\n"])
def test_each_node_is_a_mapping_with_an_id(entry):
    refused("spec.yaml:13: each node is a mapping with an id and children", spec_text(end=entry))


@pytest.mark.parametrize("entry", ["  - id: services\n    children: [wb]\n",    # another node's id
                                   "  - id: water\n    children: [wb]\n"])      # an indicator's id
def test_a_node_id_is_used_once_by_nodes_and_indicators(entry):
    name = entry.split()[2]
    refused(f"spec.yaml:13: node '{name}': the id is already used by another node or an indicator",
            spec_text(end=entry))


@pytest.mark.parametrize("children", ["crime", "[]", "[services, 1]"])
def test_children_are_a_non_empty_list_of_ids(children):
    refused("spec.yaml:12: node 'wb': children must be a non-empty list of indicator or node ids",
            spec_text(children=children))


def test_a_node_without_children_is_named_by_its_own_line():
    # no `children:` line to name: the message names the node's entry (line 11), not the `nodes:` list (line 8)
    text = spec_text().replace("    children: [services, crime]\n", "    label: top\n")
    refused("spec.yaml:11: node 'wb': children must be a non-empty list", text)


@pytest.mark.parametrize("children, twice", [("[services, crime, crime]", "crime"),
                                             ("[services, crime, services, services]", "services")])
def test_a_child_listed_twice_by_one_node(children, twice):
    refused(f"spec.yaml:12: node 'wb' lists {twice} twice", spec_text(children=children))


@pytest.mark.parametrize("weights, expected", [
    ("{services: 0, crime: 1}", [0.0, 1.0]),       # a weight of 0 is allowed
    ("{services: 0, crime: 0.001}", [0.0, 1.0]),   # sum just above 0
    ("{services: 0}", [0.0, 1.0]),                 # crime not given: 1
    ("{services: 2}", [2 / 3, 1 / 3]),             # 2 and 1 (not given), rescaled
    ("{crime: 3}", [0.25, 0.75]),                  # 1 (not given) and 3
])
def test_weights_at_least_0_with_unlisted_children_1(weights, expected):
    spec = parse(end=f"    weights: {weights}\n")
    assert spec.weights("wb") == pytest.approx(expected)
    assert spec.weight_total("wb") == 1.0


@pytest.mark.parametrize("weights, message", [
    ("{services: -1, crime: 1}", "weight of 'services' must be a number >= 0, got -1"),
    ("{services: -0.001}", "weight of 'services' must be a number >= 0, got -0.001"),
    ("{services: heavy}", "weight of 'services' must be a number >= 0, got 'heavy'"),
    ("{services: 0, crime: 0}", "weights sum to 0; give some child a weight > 0"),
])
def test_bad_weights(weights, message):
    refused(f"spec.yaml:13: node 'wb': {message}", spec_text(end=f"    weights: {weights}\n"))


def test_rescale_false_uses_the_weights_as_given_with_unlisted_children_1():
    spec = parse(end="    weights: {services: 0.5}\n    rescale: false\n")
    # 0.5 for services and 1 for crime (not given): the mean is rescaled, then multiplied by 0.5 + 1 = 1.5
    assert spec.weights("wb") == pytest.approx([1 / 3, 2 / 3])
    assert spec.weight_total("wb") == 1.5
    assert spec.weight_total("services") == 1.0


# ---------------------------------------------------------------- missing

@pytest.mark.parametrize("share, ok", [
    ("0", True), ("-0.01", False), ("0.01", True),   # lower boundary 0 (included)
    ("0.99", True), ("1", True), ("1.01", False),    # upper boundary 1 (included)
    ("2", False), ("most", False),
])
def test_min_share_is_a_share_in_0_to_1(share, ok):
    text = spec_text(end=f"missing:\n  min_share: {share}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").missing["min_share"] == float(share)
    else:
        refused(f"spec.yaml:14: missing: min_share must be a number in [0, 1] (the share of a node's weight that must "
                f"be present), got {got(share)}", text)


# ---------------------------------------------------------------- uncertainty

@pytest.mark.parametrize("perturb, ok", [
    ("0", True), ("-0.1", False), ("0.1", True),     # lower boundary 0 (included)
    ("0.99", True), ("1", False), ("1.5", False),    # upper boundary 1 (excluded)
    ("7", False), ("lots", False),
])
def test_perturb_is_a_share_in_0_to_1(perturb, ok):
    text = spec_text(end=f"uncertainty:\n  weights:\n    perturb: {perturb}\n")
    if ok:
        assert parse_spec_text(text, source="spec.yaml").uncertainty == {"weights": {"perturb": float(perturb)}}
    else:
        refused(f"spec.yaml:15: uncertainty: perturb must be a number in [0, 1), got {got(perturb)}", text)


@pytest.mark.parametrize("weights", ["0.25", "[0.25]", "{perturb: 0.25, seed: 1}", "{spread: 0.25}"])
def test_uncertainty_weights_takes_perturb_only(weights):
    refused("spec.yaml:14: uncertainty: weights takes perturb, e.g.",
            spec_text(end=f"uncertainty:\n  weights: {weights}\n"))


@pytest.mark.parametrize("impute", ["[]", "mean", "{mean: 1}"])
def test_uncertainty_impute_is_a_non_empty_list(impute):
    refused("spec.yaml:14: uncertainty: impute is a list of alternatives",
            spec_text(end=f"uncertainty:\n  impute: {impute}\n"))


def test_uncertainty_impute_alternatives_are_accepted():
    spec = parse(end="uncertainty:\n  impute: [nominal, mean]\n")
    assert spec.uncertainty == {"impute": ["nominal", "mean"]}


@pytest.mark.parametrize("entry, line", [
    ("  aggregate: []\n", 14),                  # one list for every node
    ("  aggregate:\n    wb: []\n", 15),         # a node's list
    ("  aggregate:\n    wb: geometric\n", 15),  # a name, not a list
    ("  normalise:\n    water: rank\n", 15),
    ("  normalise:\n    water: []\n", 15),
])
def test_uncertainty_alternatives_are_non_empty_lists(entry, line):
    key = entry.split()[0].rstrip(":")
    refused(f"spec.yaml:{line}: uncertainty: {key}: give a non-empty list of alternatives",
            spec_text(end="uncertainty:\n" + entry))


def test_nominal_alternatives_resolve_to_the_spec_own_choice():
    spec = parse(water="    normalise: {method: goalposts, min: 0, max: 100}\n",
                 end="uncertainty:\n  aggregate: {wb: [nominal, geometric]}\n  normalise: {water: [nominal, rank]}\n")
    goalposts = {"method": "goalposts", "min": 0, "max": 100}
    assert normalisation_options(spec, "water") == [goalposts, goalposts, {"method": "rank"}]
    assert normalisation_options(spec, "crime") == [{"method": "minmax"}]
    assert aggregate_options(spec, "wb") == ["arithmetic", "arithmetic", "geometric"]
    assert aggregate_options(spec, "services") == ["arithmetic"]


def test_an_unbounded_alternative_under_a_geometric_alternative_is_refused():
    # water is nominally minmax (bounded) and wb nominally arithmetic: only the alternatives meet
    text = spec_text(end="uncertainty:\n  aggregate: {wb: [geometric]}\n  normalise: {water: [zscore]}\n")
    refused("spec.yaml:11: node 'wb' may take a geometric mean, but indicator 'water' (spec.yaml:4) may be normalised "
            "with zscore, which gives negative scores", text)
    # the same alternatives apart are fine
    parse(end="uncertainty:\n  aggregate: {wb: [geometric]}\n  normalise: {water: [rank]}\n")
    parse(end="uncertainty:\n  aggregate: {wb: [nominal]}\n  normalise: {water: [zscore]}\n")
