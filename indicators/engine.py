"""The composite-index engine: an index is a YAML spec (see docs/indices.md), evaluated here.

Steps, each a small pure function: direction and normalisation of every indicator to 0..1, then a tree of nodes,
each aggregating its children with weights; node scores are reported on 0..`scale`. The root is the node no
other node lists. Ranks: 1 = highest score, ties share the lowest rank; quantile = ceil(rank * q / N).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ENGINE_VERSION = "0.1.0"
AGGREGATIONS = ("arithmetic", "geometric")
NORMALISATIONS = ("minmax", "goalposts")


class SpecError(ValueError):
    """An index spec that cannot be evaluated; the message names the spec and the entry."""


@dataclass(frozen=True)
class IndexSpec:
    """A parsed, checked index spec."""

    data: dict[str, Any]
    source: str

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
    def indicators(self) -> list[dict]:
        return self.data["indicators"]

    @property
    def nodes(self) -> dict[str, dict]:
        return {node["id"]: node for node in self.data["nodes"]}

    @property
    def root(self) -> str:
        listed = {child for node in self.data["nodes"] for child in node["children"]}
        roots = [n for n in self.nodes if n not in listed]
        return roots[0]

    def sha256(self) -> str:
        """Hash of the spec's canonical JSON: the same spec gives the same hash whatever its layout."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True).encode()).hexdigest()

    def node_order(self) -> list[str]:
        """Nodes children-first, so every node's children are scored before it."""
        order: list[str] = []

        def visit(node_id: str) -> None:
            for child in self.nodes[node_id]["children"]:
                if child in self.nodes:
                    visit(child)
            if node_id not in order:
                order.append(node_id)

        visit(self.root)
        return order


def load_spec(path: Path | str) -> IndexSpec:
    """Read and check a spec file."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        return parse_spec(yaml.safe_load(fh), source=str(path))


def parse_spec(data: dict[str, Any], source: str = "<spec>") -> IndexSpec:
    """Check a spec: known methods, directions, children that exist, weights on children only, one root, no cycle."""
    for key in ("id", "indicators", "nodes"):
        if key not in (data or {}):
            raise SpecError(f"{source}: missing key {key!r}")
    indicator_ids = []
    for entry in data["indicators"]:
        where = f"{source}: indicator {entry.get('id')!r}"
        if entry.get("direction") not in (1, -1):
            raise SpecError(f"{where}: direction must be 1 or -1")
        method = (entry.get("normalise") or {"method": "minmax"}).get("method")
        if method not in NORMALISATIONS:
            raise SpecError(f"{where}: unknown normalisation {method!r} (known: {', '.join(NORMALISATIONS)})")
        indicator_ids.append(entry["id"])
    node_ids = [node["id"] for node in data["nodes"]]
    known = set(indicator_ids) | set(node_ids)
    for node in data["nodes"]:
        where = f"{source}: node {node['id']!r}"
        unknown = [c for c in node.get("children", []) if c not in known]
        if unknown:
            raise SpecError(f"{where}: unknown children {', '.join(unknown)}")
        if node.get("aggregate", "arithmetic") not in AGGREGATIONS:
            raise SpecError(f"{where}: unknown aggregate {node['aggregate']!r} (known: {', '.join(AGGREGATIONS)})")
        stray = [w for w in (node.get("weights") or {}) if w not in node["children"]]
        if stray:
            raise SpecError(f"{where}: weights given for non-children {', '.join(stray)}")
    listed = {c for node in data["nodes"] for c in node["children"]}
    roots = [n for n in node_ids if n not in listed]
    if len(roots) != 1:
        raise SpecError(f"{source}: the node tree needs exactly one root (a node no other node lists), found "
                        f"{roots or 'none (a cycle?)'}")
    spec = IndexSpec(data, source)
    _check_acyclic(spec)
    return spec


def _check_acyclic(spec: IndexSpec) -> None:
    nodes = spec.nodes
    state: dict[str, str] = {}

    def visit(node_id: str, path: list[str]) -> None:
        if state.get(node_id) == "open":
            raise SpecError(f"{spec.source}: cycle in the node tree: {' -> '.join([*path, node_id])}")
        if state.get(node_id) == "done" or node_id not in nodes:
            return
        state[node_id] = "open"
        for child in nodes[node_id]["children"]:
            visit(child, [*path, node_id])
        state[node_id] = "done"

    for node_id in nodes:
        visit(node_id, [])


def normalise(values: pd.Series, direction: int, method: dict[str, Any]) -> pd.Series:
    """Indicator values to 0..1 with 1 the best after direction.

    minmax: (x - min) / (max - min), reversed for direction -1; a constant indicator gives 0.5 to everyone (it
    ranks nobody above anybody). goalposts: the same with fixed bounds, clipped to [0, 1].
    """
    x = values.astype(float)
    name = method.get("method", "minmax")
    if name == "goalposts":
        low, high = float(method["min"]), float(method["max"])
    else:
        low, high = x.min(), x.max()
    if not np.isfinite(high - low) or high == low:
        return pd.Series(np.where(x.notna(), 0.5, np.nan), index=x.index)
    score = ((x - low) / (high - low)).clip(0, 1)
    return score if direction == 1 else 1 - score


def aggregate(children: pd.DataFrame, weights: pd.Series, method: str, min_share: float) -> pd.Series:
    """Weighted aggregate of child scores (0..1) per unit, over the children that have a value.

    Weights are rescaled to the present children; a unit whose present children carry less than `min_share` of
    the weight gets no score. Geometric means are taken on scores floored at 0.01 (1 on a 0..100 scale), so that
    one zero does not silently zero the whole index.
    """
    present = children.notna()
    w = present.mul(weights, axis=1)
    share = w.sum(axis=1) / weights.sum()
    w = w.div(w.sum(axis=1).replace(0, np.nan), axis=0)
    if method == "geometric":
        logs = np.log(children.clip(lower=0.01))
        score = np.exp((logs * w).sum(axis=1, min_count=1))
    else:
        score = (children * w).sum(axis=1, min_count=1)
    return score.where(share >= min_share - 1e-12)


def rank_scores(score: pd.Series) -> pd.Series:
    """1 = highest score; ties share the lowest rank; no score, no rank."""
    return score.rank(method="min", ascending=False).astype("Int64")


def quantiles(rank: pd.Series, q: int) -> pd.Series:
    """Quantile 1 holds rank 1: ceil(rank * q / N) with N the number of ranked units."""
    n = rank.notna().sum()
    return rank.map(lambda r: pd.NA if pd.isna(r) else math.ceil(r * q / n)).astype("Int64")


def compute_index(frame: pd.DataFrame, spec: IndexSpec | dict) -> pd.DataFrame:
    """Scores of every node for every unit: the unit column, one column per node, `score`, `rank`, `quantile`."""
    if isinstance(spec, dict):
        spec = parse_spec(spec)
    if spec.unit not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise SpecError(f"{spec.source}: unit column {spec.unit!r} not in the input (columns: {columns})")
    missing = spec.data.get("missing") or {}
    min_share = float(missing.get("min_share", 1.0))
    scores: dict[str, pd.Series] = {}
    for entry in spec.indicators:
        column = entry.get("column", entry["id"])
        if column not in frame.columns:
            raise SpecError(f"{spec.source}: indicator {entry['id']!r}: column {column!r} not in the input")
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SpecError(f"input row {row + 1} ({spec.unit}={frame[spec.unit].iloc[row]!r}): {column!r} is not "
                            f"a number: {frame[column].iloc[row]!r}")
        scores[entry["id"]] = normalise(values, entry["direction"], entry.get("normalise") or {"method": "minmax"})
    for node_id in spec.node_order():
        node = spec.nodes[node_id]
        children = pd.DataFrame({c: scores[c] for c in node["children"]})
        given = node.get("weights") or {}
        weights = pd.Series({c: float(given.get(c, 1.0)) for c in node["children"]})
        scores[node_id] = aggregate(children, weights / weights.sum(), node.get("aggregate", "arithmetic"), min_share)
    out = pd.DataFrame({spec.unit: frame[spec.unit].to_numpy()})
    for node_id in spec.node_order():
        out[node_id] = (scores[node_id] * spec.scale).to_numpy()
    out["score"] = out[spec.root]
    out["rank"] = rank_scores(out["score"])
    if spec.data.get("quantiles"):
        out["quantile"] = quantiles(out["rank"], int(spec.data["quantiles"]))
    return out
