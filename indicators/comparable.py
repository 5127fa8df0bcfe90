"""Change on a common basis: the index rebuilt for two periods on what both measured (issue 15).

A period's own index scores what that period has: in the sample city the 2012 census has no service records and
no sensor readings, so its environment dimension is empty and its composite averages four dimensions where 2024's
averages five. Subtracting the two mixes a change in wellbeing with a change in what was measured. The comparable
change rebuilds both periods' index on one spec:

- only the indicators with a value somewhere in *both* periods; a node left without children is left out too,
  and the weights of what remains are rescaled as the spec rescales any node's weights;
- the same goalposts in both periods: an indicator normalised by `minmax` (its own period's range) gets the
  goalposts of the two periods' values together, level by level; methods that rank within a period (`zscore`,
  `rank`, `percentile_rank`, `exponential_rank`) cannot share a scale and are named in the basis, so a reader
  knows those parts compare positions, not levels;
- no `uncertainty:` section (the basis is for the change, its rank bands are the periods' own).

The full-structure scores of each period (marts.index_scores) stay what they are; marts.index_change is computed
from the common-basis scores and marts.change_basis says what the basis left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from indicators.engine import compute_index
from indicators.index_spec import IndexSpec, parse_spec
from indicators.normalise import method_settings

WITHIN_PERIOD = ("zscore", "rank", "percentile_rank", "exponential_rank")


@dataclass
class Basis:
    """What two periods' indices have in common: the spec both are scored on and what it left out."""

    data: dict
    dropped_nodes: list[str] = field(default_factory=list)      # nodes left without children
    dropped_indicators: list[str] = field(default_factory=list)  # indicators left out under a node that stays
    within_period: list[str] = field(default_factory=list)      # kept, but normalised within each period

    @property
    def spec(self) -> IndexSpec:
        """The basis as a spec (its minmax indicators still on each period's range: see shared_goalposts)."""
        return parse_spec(self.data, source=f"common basis of {self.data['id']}")

    def describe(self, period_from: str, period_to: str) -> str | None:
        """What the basis left out, in one sentence (None when it is each period's full index)."""
        parts = []
        if self.dropped_nodes:
            parts.append(f"left out of both periods (no values in one of {period_from} and {period_to}): "
                         f"{', '.join(self.dropped_nodes)}")
        if self.dropped_indicators:
            parts.append(f"indicators left out of both periods: {', '.join(self.dropped_indicators)}")
        if self.within_period:
            parts.append(f"normalised within each period, so compared as positions: {', '.join(self.within_period)}")
        return "; ".join(parts) or None


def common_basis(spec: IndexSpec, present: set[str]) -> Basis:
    """The spec reduced to the indicators whose columns are in `present`; a node left without children is left
    out, and the weights of what remains are the spec's for those children (rescaled as any node's are)."""
    kept = [entry for entry in spec.indicators if spec.column(entry["id"]) in present]
    alive = {entry["id"] for entry in kept}
    reduced, dropped_nodes = {}, []
    for node_id in spec.node_order():  # children before parents
        node = spec.nodes[node_id]
        children = [c for c in node["children"] if c in alive]
        if not children:
            dropped_nodes.append(node_id)
            continue
        alive.add(node_id)
        reduced[node_id] = {**node, "children": children}
        if node.get("weights"):
            reduced[node_id]["weights"] = {c: w for c, w in node["weights"].items() if c in children}
    if spec.root in dropped_nodes:
        raise ValueError(f"index {spec.id!r}: no indicator has values in both periods, so there is no common basis")
    data = {k: v for k, v in spec.data.items() if k != "uncertainty"}
    data.update(indicators=kept, nodes=[reduced[n["id"]] for n in spec.data["nodes"] if n["id"] in reduced])
    under_kept = {c for node in reduced.values() for c in spec.nodes[node["id"]]["children"]}
    loose = [i for i in spec.indicator_ids if i not in alive and i in under_kept]
    within = [e["id"] for e in kept if method_settings(e.get("normalise"))["method"] in WITHIN_PERIOD]
    return Basis(data, dropped_nodes, loose, within)


def shared_goalposts(basis: Basis, frames: list[pd.DataFrame]) -> IndexSpec:
    """The basis with every `minmax` indicator normalised on goalposts spanning all `frames` (wide, one column
    per indicator): the same scale in every period. An indicator with one value throughout keeps minmax."""
    indicators = []
    for entry in basis.data["indicators"]:
        settings = method_settings(entry.get("normalise"))
        column = entry.get("column", entry["id"])
        if settings["method"] == "minmax":
            values = pd.concat([pd.to_numeric(f[column], errors="coerce") for f in frames if column in f])
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            if low < high:
                entry = {**entry, "normalise": {"method": "goalposts", "min": low, "max": high}}
        indicators.append(entry)
    return parse_spec({**basis.data, "indicators": indicators}, source=f"common basis of {basis.data['id']}")


def comparable_scores(spec: IndexSpec, wide_from: dict[str, pd.DataFrame], wide_to: dict[str, pd.DataFrame]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, Basis]:
    """Both periods' scores on their common basis, level by level (`wide_*`: level -> one row per area, one
    column per indicator), long like marts.index_scores (area_id, level, node_id, score, rank)."""
    def present(wides: dict[str, pd.DataFrame]) -> set[str]:
        return {c for wide in wides.values() for c in wide.columns if c != spec.unit and wide[c].notna().any()}

    basis = common_basis(spec, present(wide_from) & present(wide_to))
    out: dict[str, list[pd.DataFrame]] = {"from": [], "to": []}
    for level in [lv for lv in wide_from if lv in wide_to]:
        level_spec = shared_goalposts(basis, [wide_from[level], wide_to[level]])
        for end, wide in (("from", wide_from[level]), ("to", wide_to[level])):
            out[end].append(long_scores(compute_index(wide, level_spec), level_spec).assign(level=level))
    return pd.concat(out["from"], ignore_index=True), pd.concat(out["to"], ignore_index=True), basis


def wide_by_level(values: pd.DataFrame, unit: str = "area_id") -> dict[str, pd.DataFrame]:
    """Long indicator values (area_id, level, indicator_id, value) as one wide frame per level: a row per area,
    a column per indicator, as the index engine reads them."""
    wides = {}
    for level, group in values.groupby("level", sort=False):
        wide = group.pivot(index="area_id", columns="indicator_id", values="value").reset_index()
        wide.columns.name = None
        wides[level] = wide.rename(columns={"area_id": unit})
    return wides


def long_scores(scored: pd.DataFrame, spec: IndexSpec) -> pd.DataFrame:
    """compute_index's wide output as one row per area and node, with the rank among the areas (1 = best)."""
    nodes = spec.node_order()
    long = scored[[spec.unit, *nodes]].melt(id_vars=[spec.unit], var_name="node_id", value_name="score")
    long["rank"] = pd.concat([scored[n].rank(method="min", ascending=False) for n in nodes]).to_numpy()
    return long.rename(columns={spec.unit: "area_id"})


def used_weights(spec: IndexSpec, scored_nodes: set[str]) -> pd.DataFrame:
    """Every node's children with the weight the period's scores actually give them: a child with no score in
    any area of the period weighs 0 and its siblings' weights are rescaled, as the engine does for an area
    missing that child; `declared_weight` is the spec's."""
    rows = []
    for node_id in spec.node_order():
        children = spec.nodes[node_id]["children"]
        declared = spec.weights(node_id)
        present = [w if child in scored_nodes else 0.0 for child, w in zip(children, declared, strict=True)]
        total = sum(present)
        rows += [{"node_id": node_id, "child_id": child, "weight": (w / total if total else 0.0),
                  "declared_weight": d, "scale_factor": spec.weight_total(node_id)}
                 for child, w, d in zip(children, present, declared, strict=True)]
    return pd.DataFrame(rows)


def period_weights(spec: IndexSpec, scores: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """marts.index_weights of a period's own index (`basis` full): the weights its scores (long, node_id and
    score) actually used, given which nodes have a score and which indicators (values: indicator_id, value) a
    value somewhere in the period."""
    used = set(scores.loc[scores["score"].notna(), "node_id"]) | set(
        values.loc[values["value"].notna(), "indicator_id"])
    return used_weights(spec, used).assign(basis="full")
