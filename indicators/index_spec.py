"""Reading and checking an index spec: the YAML contract of docs/indices.md, with the line of every entry.

A spec is loaded twice from the same text: `yaml.safe_load` gives the plain data (hashed by `sha256()` and kept
in marts.index_runs), `yaml.compose` gives the line of every key and list item, so every error names
`file:line` and says what to do.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from cities import CityConfigError, refuse_aliases
from indicators.impute import IMPUTATIONS
from indicators.normalise import (
    INDICATOR_SPECIFIC,
    NORMALISATIONS,
    PARAMETERS,
    RAW_UNIT_PARAMETERS,
    UNBOUNDED,
    method_settings,
)
from indicators.transform import TRANSFORMS, WINSORISE_DEFAULTS, transform_settings

AGGREGATIONS = ("arithmetic", "geometric", "harmonic")
# Geometric and harmonic means take scores floored at 1% of the scale, so one zero does not zero the index
# (docs/indices.md, "Zeros in geometric and harmonic means"); `floor:` at the top or on a node changes it.
DEFAULT_FLOOR = 0.01
TEXT_KEYS = {"name", "label", "description", "source", "note", "notes"}
TOP_KEYS = {"id", "unit", "scale", "quantiles", "floor", "indicators", "nodes", "missing", "uncertainty"} | TEXT_KEYS
INDICATOR_KEYS = {"id", "column", "direction", "transform", "normalise"} | TEXT_KEYS
NODE_KEYS = {"id", "children", "aggregate", "weights", "rescale", "floor"} | TEXT_KEYS
MISSING_KEYS = {"min_share", "impute", "group"}
UNCERTAINTY_KEYS = {"weights", "normalise", "aggregate", "impute", "af_k"}
# In an `uncertainty:` list, the spec's own choice for each indicator or node.
NOMINAL = "nominal"
Path_ = tuple[Any, ...]


class SpecError(ValueError):
    """An index spec (or its input) that cannot be evaluated; the message names the spec line or input row."""


class InputError(SpecError):
    """A problem in the input data; `row` is the 1-based data row (CSV line = row + 1 with a header)."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


def line_map(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """1-based line of every mapping key and list item under `node`, keyed by its path in the data."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            child = (*path, key.value)
            lines.update(line_map(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(line_map(item, (*path, i)))
    return lines


def _where(source: str, lines: Mapping[Path_, int], path: Path_) -> str:
    """`source:line` of the nearest recorded entry on `path`, or just `source` (specs given as dicts)."""
    while path and path not in lines:
        path = path[:-1]
    line = lines.get(path)
    return f"{source}:{line}" if line else source


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class IndexSpec:
    """A parsed, checked index spec; `lines` maps entry paths to YAML lines for error messages."""

    data: dict[str, Any]
    source: str = "<spec>"
    lines: Mapping[Path_, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def unit(self) -> str:
        return self.data.get("unit", "area_id")

    @property
    def scale(self) -> float:
        return float(self.data.get("scale", 100))

    @property
    def quantiles(self) -> int | None:
        q = self.data.get("quantiles")
        return int(q) if q else None

    @property
    def indicators(self) -> list[dict]:
        return self.data["indicators"]

    @cached_property
    def nodes(self) -> dict[str, dict]:
        return {node["id"]: node for node in self.data["nodes"]}

    @cached_property
    def indicator_ids(self) -> list[str]:
        return [entry["id"] for entry in self.indicators]

    @cached_property
    def parents(self) -> dict[str, str]:
        """Child id (indicator or node) -> the node that lists it."""
        return {child: node["id"] for node in self.data["nodes"] for child in node["children"]}

    @cached_property
    def root(self) -> str:
        return next(n for n in self.nodes if n not in self.parents)

    @property
    def missing(self) -> dict[str, Any]:
        """min_share (default 1: every child needed), impute (default none) and group."""
        given = self.data.get("missing") or {}
        return {"min_share": float(given.get("min_share", 1.0)), "impute": given.get("impute", "none"),
                "group": given.get("group")}

    @property
    def uncertainty(self) -> dict[str, Any]:
        return self.data.get("uncertainty") or {}

    def where(self, *path: Any) -> str:
        """`file:line` of a spec entry, e.g. where("nodes", 2, "weights")."""
        return _where(self.source, self.lines, tuple(path))

    def indicator_where(self, indicator_id: str) -> str:
        return self.where("indicators", self.indicator_ids.index(indicator_id))

    def node_where(self, node_id: str) -> str:
        return self.where("nodes", list(self.nodes).index(node_id))

    def column(self, indicator_id: str) -> str:
        """The input column of an indicator (`column:`, or its id)."""
        entry = self.indicators[self.indicator_ids.index(indicator_id)]
        return entry.get("column", indicator_id)

    def normalisation(self, indicator_id: str) -> dict[str, Any]:
        return method_settings(self.indicators[self.indicator_ids.index(indicator_id)].get("normalise"))

    def transform(self, indicator_id: str) -> dict[str, Any] | None:
        return transform_settings(self.indicators[self.indicator_ids.index(indicator_id)].get("transform"))

    def direction(self, indicator_id: str) -> int:
        return int(self.indicators[self.indicator_ids.index(indicator_id)]["direction"])

    def weights(self, node_id: str) -> list[float]:
        """The node's weights in children order, rescaled to sum to 1 (default: equal)."""
        node = self.nodes[node_id]
        given = node.get("weights") or {}
        raw = [float(given.get(child, 1.0)) for child in node["children"]]
        return [w / sum(raw) for w in raw]

    def weight_total(self, node_id: str) -> float:
        """What the node's weighted mean is multiplied by: 1, or with `rescale: false` the sum of its weights as
        given (an arithmetic node then scores sum(w x), e.g. the IMD's published weights that sum to 0.999)."""
        node = self.nodes[node_id]
        if node.get("rescale", True):
            return 1.0
        given = node.get("weights") or {}
        return float(sum(float(given.get(child, 1.0)) for child in node["children"]))

    def aggregate(self, node_id: str) -> str:
        return self.nodes[node_id].get("aggregate", "arithmetic")

    def floor(self, node_id: str) -> float:
        return float(self.nodes[node_id].get("floor", self.data.get("floor", DEFAULT_FLOOR)))

    def sha256(self) -> str:
        """Hash of the spec's canonical JSON: the same spec gives the same hash whatever its layout."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True, default=str).encode()).hexdigest()

    def node_order(self) -> list[str]:
        """Nodes children-first, so every node's children are scored before it; the root is last."""
        order: list[str] = []

        def visit(node_id: str) -> None:
            for child in self.nodes[node_id]["children"]:
                if child in self.nodes:
                    visit(child)
            if node_id not in order:
                order.append(node_id)

        visit(self.root)
        return order

    def subtree_indicators(self, node_id: str) -> list[str]:
        """Indicators under a node, at any depth."""
        found: list[str] = []
        for child in self.nodes[node_id]["children"]:
            found.extend(self.subtree_indicators(child) if child in self.nodes else [child])
        return found


def load_spec(path: Path | str) -> IndexSpec:
    """Read and check a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}") from exc
    return parse_spec_text(text, source=str(path))


def parse_spec_text(text: str, source: str = "<spec>") -> IndexSpec:
    """Parse and check a spec from YAML text, recording the line of every entry."""
    try:
        refuse_aliases(text, source)  # an alias bomb would expand in line_map below; our specs need none
    except CityConfigError as exc:
        raise SpecError(str(exc)) from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    return parse_spec(data, source=source, lines=line_map(node) if node is not None else {})


def parse_spec(data: Any, source: str = "<spec>", lines: Mapping[Path_, int] | None = None) -> IndexSpec:
    """Check a spec: known keys and methods, directions, children that exist, weights on children only, one root,
    no cycle, one parent per entry, no unbounded scores under geometric or harmonic means, a valid `uncertainty:`."""
    lines = lines or {}

    def at(*path: Any) -> str:
        return _where(source, lines, tuple(path))

    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec is a YAML mapping with id, unit, indicators and nodes (docs/indices.md)")
    for key in ("id", "indicators", "nodes"):
        if key not in data:
            raise SpecError(f"{source}: missing key {key!r} (a spec needs id, indicators and nodes)")
    _check_keys(data, TOP_KEYS, at(), "the spec", at)
    _check_top(data, at)
    indicator_ids = _check_indicators(data["indicators"], at)
    node_ids = _check_nodes(data["nodes"], set(indicator_ids), at)
    _check_tree(data["nodes"], indicator_ids, node_ids, source, at)
    _check_missing(data.get("missing"), at)
    spec = IndexSpec(data, source, dict(lines))
    _check_uncertainty(spec, at)
    _check_unbounded_means(spec)
    return spec


def _check_keys(entry: dict, allowed: set[str], where: str, what: str, at) -> None:
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise SpecError(f"{where}: {what}: unknown key(s) {', '.join(map(repr, unknown))} "
                        f"(allowed: {', '.join(sorted(allowed - TEXT_KEYS))}, and free text in "
                        f"{', '.join(sorted(TEXT_KEYS))})")


def _check_top(data: dict, at) -> None:
    if not isinstance(data["id"], str) or not data["id"]:
        raise SpecError(f"{at('id')}: id must be a non-empty name")
    if not isinstance(data.get("unit", "area_id"), str):
        raise SpecError(f"{at('unit')}: unit must name the input column holding the unit id")
    if "scale" in data and not (_is_number(data["scale"]) and data["scale"] > 0):
        raise SpecError(f"{at('scale')}: scale must be a number > 0 (1 or 100), got {data['scale']!r}")
    q = data.get("quantiles")
    if q is not None and not (isinstance(q, int) and not isinstance(q, bool) and q >= 2):
        raise SpecError(f"{at('quantiles')}: quantiles must be a whole number >= 2 (5 for quintiles), got {q!r}")
    _check_floor(data.get("floor"), at("floor"), "the spec")
    for key in ("indicators", "nodes"):
        if not isinstance(data[key], list) or not data[key]:
            raise SpecError(f"{at(key)}: {key} must be a non-empty list")


def _check_floor(value: Any, where: str, what: str) -> None:
    if value is not None and not (_is_number(value) and 0 <= value < 1):
        raise SpecError(f"{where}: {what}: floor must be a number in [0, 1) (a share of the scale, default "
                        f"{DEFAULT_FLOOR}), got {value!r}")


def _check_indicators(entries: list, at) -> list[str]:
    ids: list[str] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise SpecError(f"{at('indicators', i)}: each indicator is a mapping with an id, e.g. "
                            "{id: water, direction: 1}")
        what = f"indicator {entry['id']!r}"
        if entry["id"] in ids:
            raise SpecError(f"{at('indicators', i, 'id')}: {what} is defined twice (first at "
                            f"{at('indicators', ids.index(entry['id']))}): ids must be unique")
        _check_keys(entry, INDICATOR_KEYS, at("indicators", i), what, at)
        if "column" in entry and not isinstance(entry["column"], str):
            raise SpecError(f"{at('indicators', i, 'column')}: {what}: column must name an input column")
        direction = entry.get("direction")
        if isinstance(direction, bool) or direction not in (1, -1):
            raise SpecError(f"{at('indicators', i, 'direction')}: {what}: direction must be 1 or -1 (1 = a higher "
                            f"value is better, i.e. raises the index; -1 = lower is better), got {direction!r}")
        transform = _check_transform(entry.get("transform"), at("indicators", i, "transform"), what)
        if not isinstance(entry.get("normalise"), str | dict | None):
            raise SpecError(f"{at('indicators', i, 'normalise')}: {what}: normalise is a method name or a mapping, "
                            "e.g. normalise: {method: goalposts, min: 0, max: 100}")
        settings = method_settings(entry.get("normalise"))
        _check_normalisation(settings, at("indicators", i, "normalise"), what, transform, direction)
        ids.append(entry["id"])
    return ids


def _check_transform(entry: Any, where: str, what: str) -> dict | None:
    if entry is None:
        return None
    if not isinstance(entry, str | dict):
        raise SpecError(f"{where}: {what}: transform must be one of {', '.join(TRANSFORMS)} or a mapping with method")
    settings = transform_settings(entry)
    method = settings.get("method")
    if method not in TRANSFORMS:
        raise SpecError(f"{where}: {what}: unknown transform {method!r} (known: {', '.join(TRANSFORMS)})")
    allowed = {"method", *WINSORISE_DEFAULTS} if method == "winsorise" else {"method"}
    stray = [k for k in settings if k not in allowed]
    if stray:
        raise SpecError(f"{where}: {what}: unknown parameter(s) {', '.join(stray)} for transform {method} "
                        f"(allowed: {', '.join(sorted(allowed - {'method'})) or 'none'})")
    if method == "winsorise":
        points = settings["max_points"]
        if not (isinstance(points, int) and not isinstance(points, bool) and points >= 0):
            raise SpecError(f"{where}: {what}: winsorise max_points must be a whole number >= 0, got {points!r}")
        for key in ("skew", "kurtosis"):
            if not _is_number(settings[key]):
                raise SpecError(f"{where}: {what}: winsorise {key} must be a number, got {settings[key]!r}")
    return settings


def _check_normalisation(settings: dict, where: str, what: str, transform: dict | None, direction: int) -> None:
    method = settings.get("method")
    if method not in NORMALISATIONS:
        raise SpecError(f"{where}: {what}: unknown normalisation {method!r} (known: {', '.join(NORMALISATIONS)})")
    required, optional = PARAMETERS[method]
    absent = [p for p in required if p not in settings]
    if absent:
        example = ", ".join(f"{p}: ..." for p in required)
        raise SpecError(f"{where}: {what}: {method} needs {' and '.join(required)}, e.g. "
                        f"normalise: {{method: {method}, {example}}}")
    stray = [k for k in settings if k not in {"method", *required, *optional}]
    if stray:
        raise SpecError(f"{where}: {what}: unknown parameter(s) {', '.join(stray)} for {method} "
                        f"(allowed: {', '.join([*required, *optional]) or 'none'})")
    for key in (*required, "constant"):
        if key in settings and not _is_number(settings[key]):
            raise SpecError(f"{where}: {what}: {method} {key} must be a number, got {settings[key]!r}")
    if method == "goalposts" and not settings["min"] < settings["max"]:
        raise SpecError(f"{where}: {what}: goalposts min ({settings['min']}) must be below max ({settings['max']}); "
                        "direction -1 reverses the scale, not the goalposts")
    if method == "distance_to_target" and not isinstance(settings["cap"], bool):
        raise SpecError(f"{where}: {what}: distance_to_target cap must be true or false")
    if method == "exponential_rank":
        if settings["constant"] <= 0:
            raise SpecError(f"{where}: {what}: exponential_rank constant must be > 0 (the IoD uses 23)")
        n = settings.get("n")
        if n is not None:
            if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
                raise SpecError(f"{where}: {what}: exponential_rank n (number of ranked units) must be a whole "
                                f"number >= 1, got {n!r}")
            if direction != -1:
                raise SpecError(f"{where}: {what}: with n the column holds ranks where 1 is the top of the index, "
                                "so a lower value is better: set direction: -1")
    if method == "nbi_gap" and settings["norm"] <= 0:
        raise SpecError(f"{where}: {what}: nbi_gap norm must be > 0, got {settings['norm']!r}")
    if transform and transform["method"] in ("log", "log1p"):
        limit = 0 if transform["method"] == "log" else -1
        for key in RAW_UNIT_PARAMETERS.get(method, ()):
            if settings[key] <= limit:
                raise SpecError(f"{where}: {what}: {method} {key} {settings[key]!r} is in raw units and is "
                                f"transformed with {transform['method']} too, which needs values > {limit}")


def _check_nodes(entries: list, indicator_ids: set[str], at) -> list[str]:
    ids: list[str] = []
    for j, node in enumerate(entries):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            raise SpecError(f"{at('nodes', j)}: each node is a mapping with an id and children")
        what = f"node {node['id']!r}"
        if node["id"] in ids or node["id"] in indicator_ids:
            raise SpecError(f"{at('nodes', j, 'id')}: {what}: the id is already used by another node or an "
                            "indicator: ids must be unique")
        ids.append(node["id"])
    known = indicator_ids | set(ids)
    for j, node in enumerate(entries):
        what = f"node {node['id']!r}"
        _check_keys(node, NODE_KEYS, at("nodes", j), what, at)
        children = node.get("children")
        if not isinstance(children, list) or not children or not all(isinstance(c, str) for c in children):
            raise SpecError(f"{at('nodes', j, 'children')}: {what}: children must be a non-empty list of "
                            "indicator or node ids")
        twice = sorted({c for c in children if children.count(c) > 1})
        if twice:
            raise SpecError(f"{at('nodes', j, 'children')}: {what} lists {', '.join(twice)} twice")
        unknown = [c for c in children if c not in known]
        if unknown:
            raise SpecError(f"{at('nodes', j, 'children')}: {what}: unknown children {', '.join(unknown)} "
                            "(children are indicator or node ids defined in this spec)")
        method = node.get("aggregate", "arithmetic")
        if method not in AGGREGATIONS:
            raise SpecError(f"{at('nodes', j, 'aggregate')}: {what}: unknown aggregate {method!r} "
                            f"(known: {', '.join(AGGREGATIONS)})")
        weights = node.get("weights")
        if weights is not None:
            if not isinstance(weights, dict):
                raise SpecError(f"{at('nodes', j, 'weights')}: {what}: weights must map children to numbers, "
                                "e.g. weights: {water: 2, sanitation: 1}")
            stray = [str(w) for w in weights if w not in children]
            if stray:
                raise SpecError(f"{at('nodes', j, 'weights', stray[0])}: {what}: weights given for non-children "
                                f"{', '.join(stray)} (children: {', '.join(children)})")
            for child, w in weights.items():
                if not (_is_number(w) and w >= 0):
                    raise SpecError(f"{at('nodes', j, 'weights', child)}: {what}: weight of {child!r} must be a "
                                    f"number >= 0, got {w!r}")
            if sum(float(weights.get(c, 1.0)) for c in children) <= 0:
                raise SpecError(f"{at('nodes', j, 'weights')}: {what}: weights sum to 0; give some child a weight > 0")
        _check_floor(node.get("floor"), at("nodes", j, "floor"), what)
        rescale = node.get("rescale", True)
        if not isinstance(rescale, bool):
            raise SpecError(f"{at('nodes', j, 'rescale')}: {what}: rescale must be true (weights rescaled to sum "
                            f"to 1, the default) or false (weights used as given), got {rescale!r}")
        if not rescale and method != "arithmetic":
            raise SpecError(f"{at('nodes', j, 'rescale')}: {what}: rescale: false (weights used as given) is only "
                            "defined for an arithmetic aggregate")
    return ids


def _check_tree(entries: list, indicator_ids: list[str], node_ids: list[str], source: str, at) -> None:
    children = {node["id"]: node["children"] for node in entries}
    listed = {c for cs in children.values() for c in cs}
    roots = [n for n in node_ids if n not in listed]
    if len(roots) != 1:
        where, found = source, "none"
        if roots:
            found = ", ".join(f"{r!r} ({at('nodes', node_ids.index(r))})" for r in roots)
            hint = "list all but one of them as children of another node"
        else:
            cycle = _find_cycle(children) or []
            where = at("nodes", node_ids.index(cycle[0])) if cycle else source
            hint = f"every node is listed by another: cycle in the node tree: {' -> '.join(cycle)}"
        raise SpecError(f"{where}: the node tree needs exactly one root (a node no other node lists), found "
                        f"{found}; {hint}")
    cycle = _find_cycle(children)
    if cycle:
        raise SpecError(f"{at('nodes', node_ids.index(cycle[0]))}: cycle in the node tree: {' -> '.join(cycle)}")
    parent: dict[str, str] = {}
    for j, node in enumerate(entries):
        for child in node["children"]:
            if child in parent:
                first = parent[child]
                raise SpecError(f"{at('nodes', j, 'children')}: node {node['id']!r} lists {child!r}, which node "
                                f"{first!r} ({at('nodes', node_ids.index(first))}) already lists: every indicator "
                                "and node has exactly one parent")
            parent[child] = node["id"]
    for i, indicator_id in enumerate(indicator_ids):
        if indicator_id not in parent:
            raise SpecError(f"{at('indicators', i)}: indicator {indicator_id!r} is not a child of any node: list it "
                            "under a node or remove it")


def _find_cycle(children: dict[str, list[str]]) -> list[str] | None:
    """The first cycle met walking the nodes in order, as a path that ends where it loops; None if acyclic."""
    state: dict[str, str] = {}

    def visit(node_id: str, path: list[str]) -> list[str] | None:
        if state.get(node_id) == "open":
            return [*path, node_id]
        if state.get(node_id) == "done" or node_id not in children:
            return None
        state[node_id] = "open"
        for child in children[node_id]:
            found = visit(child, [*path, node_id])
            if found:
                return found
        state[node_id] = "done"
        return None

    for node_id in children:
        found = visit(node_id, [])
        if found:
            return found
    return None


def _check_missing(missing: Any, at) -> None:
    if missing is None:
        return
    if not isinstance(missing, dict):
        raise SpecError(f"{at('missing')}: missing must be a mapping, e.g. missing: {{min_share: 0.75, impute: none}}")
    _check_keys(missing, MISSING_KEYS, at("missing"), "missing", at)
    share = missing.get("min_share", 1.0)
    if not (_is_number(share) and 0 <= share <= 1):
        raise SpecError(f"{at('missing', 'min_share')}: missing: min_share must be a number in [0, 1] (the share "
                        f"of a node's weight that must be present), got {share!r}")
    method = missing.get("impute", "none")
    if method not in IMPUTATIONS:
        raise SpecError(f"{at('missing', 'impute')}: missing: unknown impute {method!r} "
                        f"(known: {', '.join(IMPUTATIONS)})")
    if method == "group_mean" and not isinstance(missing.get("group"), str):
        raise SpecError(f"{at('missing', 'impute')}: missing: group_mean needs the group column, e.g. "
                        "missing: {impute: group_mean, group: district}")


def _check_uncertainty(spec: IndexSpec, at) -> None:
    u = spec.data.get("uncertainty")
    if u is None:
        return
    if not isinstance(u, dict):
        raise SpecError(f"{at('uncertainty')}: uncertainty must be a mapping (docs/indices.md, 'Sensitivity')")
    _check_keys(u, UNCERTAINTY_KEYS, at("uncertainty"), "uncertainty", at)
    if "af_k" in u:
        raise SpecError(f"{at('uncertainty', 'af_k')}: uncertainty: af_k varies the Alkire-Foster cutoff k, but "
                        "this engine has no alkire_foster node yet; compute Alkire-Foster scores on microdata and "
                        "give them as an indicator (docs/indices.md, 'Alkire-Foster hook')")
    weights = u.get("weights")
    if weights is not None:
        if not isinstance(weights, dict) or set(weights) != {"perturb"}:
            raise SpecError(f"{at('uncertainty', 'weights')}: uncertainty: weights takes perturb, e.g. "
                            "weights: {perturb: 0.25} (each weight x U(0.75, 1.25), rescaled)")
        p = weights["perturb"]
        if not (_is_number(p) and 0 <= p < 1):
            raise SpecError(f"{at('uncertainty', 'weights', 'perturb')}: uncertainty: perturb must be a number in "
                            f"[0, 1), got {p!r}")
    _check_normalise_alternatives(spec, u.get("normalise"), at)
    _check_alternatives(u.get("aggregate"), spec.nodes, AGGREGATIONS, "aggregate", "node", at)
    impute = u.get("impute")
    if impute is not None:
        if not isinstance(impute, list) or not impute:
            raise SpecError(f"{at('uncertainty', 'impute')}: uncertainty: impute is a list of alternatives, e.g. "
                            "impute: [none, mean]")
        for k, method in enumerate(impute):
            if method != NOMINAL and method not in IMPUTATIONS:
                raise SpecError(f"{at('uncertainty', 'impute', k)}: uncertainty: unknown impute {method!r} "
                                f"(known: {NOMINAL}, {', '.join(IMPUTATIONS)})")
            if method == "group_mean" and not spec.missing["group"]:
                raise SpecError(f"{at('uncertainty', 'impute', k)}: uncertainty: group_mean needs the group "
                                "column in missing: {group: COLUMN}")


def _alternative_lists(entry: Any, known, key: str, kind: str, at) -> dict:
    """`uncertainty.<key>` as {name or None: non-empty list}: one list for every `kind`, or a mapping kind -> list."""
    if isinstance(entry, list):
        lists = {None: entry}
    elif isinstance(entry, dict):
        lists = entry
        stray = [k for k in entry if k not in known]
        if stray:
            raise SpecError(f"{at('uncertainty', key, stray[0])}: uncertainty: {key}: unknown {kind} {stray[0]!r}")
    else:
        raise SpecError(f"{at('uncertainty', key)}: uncertainty: {key} is a list of alternatives for every {kind}, "
                        f"or a mapping {kind} -> list")
    for name, options in lists.items():
        path = ("uncertainty", key) if name is None else ("uncertainty", key, name)
        if not isinstance(options, list) or not options:
            raise SpecError(f"{at(*path)}: uncertainty: {key}: give a non-empty list of alternatives")
    return lists


def _check_alternatives(entry: Any, known: Mapping, methods: tuple, key: str, kind: str, at) -> None:
    if entry is None:
        return
    for name, options in _alternative_lists(entry, known, key, kind, at).items():
        path = ("uncertainty", key) if name is None else ("uncertainty", key, name)
        for k, option in enumerate(options):
            if option != NOMINAL and option not in methods:
                raise SpecError(f"{at(*path, k)}: uncertainty: unknown {key} {option!r} (known: {NOMINAL}, "
                                f"{', '.join(methods)})")


def _check_normalise_alternatives(spec: IndexSpec, entry: Any, at) -> None:
    if entry is None:
        return
    for name, options in _alternative_lists(entry, spec.indicator_ids, "normalise", "indicator", at).items():
        path = ("uncertainty", "normalise") if name is None else ("uncertainty", "normalise", name)
        targets = spec.indicator_ids if name is None else [name]
        for k, option in enumerate(options):
            if option == NOMINAL:
                continue
            if not isinstance(option, str | dict):
                raise SpecError(f"{at(*path, k)}: uncertainty: normalise: an alternative is {NOMINAL}, a method "
                                "name or a mapping with method")
            settings = method_settings(option)
            if name is None and (settings["method"] in INDICATOR_SPECIFIC or settings.get("n") is not None):
                raise SpecError(f"{at(*path, k)}: uncertainty: normalise: {settings['method']} has parameters of "
                                "one indicator; list it under that indicator: normalise: {INDICATOR: [...]}")
            for indicator_id in targets:
                _check_normalisation(settings, at(*path, k), f"indicator {indicator_id!r} (alternative)",
                                     spec.transform(indicator_id), spec.direction(indicator_id))


def normalisation_alternatives(spec: IndexSpec, indicator_id: str) -> list[Any]:
    """The `uncertainty: normalise` entries that apply to an indicator, as written (empty: not varied)."""
    entry = spec.uncertainty.get("normalise")
    return list(entry) if isinstance(entry, list) else list((entry or {}).get(indicator_id, []))


def aggregate_alternatives(spec: IndexSpec, node_id: str) -> list[str]:
    """The `uncertainty: aggregate` entries that apply to a node, as written (empty: not varied)."""
    entry = spec.uncertainty.get("aggregate")
    return list(entry) if isinstance(entry, list) else list((entry or {}).get(node_id, []))


def normalisation_options(spec: IndexSpec, indicator_id: str) -> list[dict[str, Any]]:
    """Every normalisation an indicator may get: its nominal one and its alternatives, resolved."""
    nominal = spec.normalisation(indicator_id)
    extra = normalisation_alternatives(spec, indicator_id)
    return [nominal, *(nominal if o == NOMINAL else method_settings(o) for o in extra)]


def aggregate_options(spec: IndexSpec, node_id: str) -> list[str]:
    """Every aggregate a node may get: its nominal one and its alternatives, resolved."""
    nominal = spec.aggregate(node_id)
    return [nominal, *(nominal if o == NOMINAL else o for o in aggregate_alternatives(spec, node_id))]


def _check_unbounded_means(spec: IndexSpec) -> None:
    """Negative scores have no geometric or harmonic mean: refuse them here rather than floor them silently."""
    for node_id in spec.nodes:
        means = [m for m in aggregate_options(spec, node_id) if m != "arithmetic"]
        if not means:
            continue
        if not spec.nodes[node_id].get("rescale", True):
            raise SpecError(f"{spec.where('uncertainty', 'aggregate')}: uncertainty: node {node_id!r} has "
                            f"rescale: false ({spec.node_where(node_id)}), defined only for an arithmetic aggregate; "
                            f"do not offer it a {means[0]} mean")
        for indicator_id in spec.subtree_indicators(node_id):
            unbounded = [o["method"] for o in normalisation_options(spec, indicator_id) if o["method"] in UNBOUNDED]
            if unbounded:
                raise SpecError(f"{spec.node_where(node_id)}: node {node_id!r} may take a {means[0]} mean, but "
                                f"indicator {indicator_id!r} ({spec.indicator_where(indicator_id)}) may be normalised "
                                f"with {unbounded[0]}, which gives negative scores: use an arithmetic aggregate, or a "
                                "bounded normalisation (minmax, goalposts, rank, percentile_rank, distance_to_target, "
                                "exponential_rank)")
