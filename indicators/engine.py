"""The composite-index engine: an index is a YAML spec (docs/indices.md), evaluated here.

Steps, each a small pure function in its own module: read the indicator columns (here), impute
(indicators/impute.py), transform (indicators/transform.py), normalise with direction (indicators/normalise.py),
aggregate up the node tree (indicators/aggregate.py), rank (indicators/ranking.py). Node scores are reported on
0..`scale` (internal scores x scale). The root is the node no other node lists. Ranks: 1 = highest score, ties
share the lowest rank; quantile = ceil(rank * q / N).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from indicators.aggregate import Tree, aggregate, aggregate_scores, evaluate_tree
from indicators.impute import impute_values
from indicators.index_spec import (
    AGGREGATIONS,
    IndexSpec,
    InputError,
    SpecError,
    load_spec,
    parse_spec,
    parse_spec_text,
)
from indicators.normalise import NORMALISATIONS, RAW_UNIT_PARAMETERS, normalise, normalise_values
from indicators.ranking import quantiles, rank_scores
from indicators.transform import DomainError, transform_parameter, transform_values

ENGINE_VERSION = "0.2.0"

__all__ = [
    "AGGREGATIONS", "ENGINE_VERSION", "NORMALISATIONS", "IndexSpec", "InputError", "SpecError", "aggregate",
    "aggregate_scores", "compile_tree", "compute_index", "evaluate_tree", "group_values", "load_spec", "normalise",
    "parse_spec", "parse_spec_text", "quantiles", "rank_scores", "read_indicator_matrix", "score_indicators",
]


def as_spec(spec: IndexSpec | dict) -> IndexSpec:
    """A checked spec from an IndexSpec or a plain dict."""
    return spec if isinstance(spec, IndexSpec) else parse_spec(spec)


def _row_label(frame: pd.DataFrame, spec: IndexSpec, position: int) -> str:
    return f"input row {position + 1} ({spec.unit}={frame[spec.unit].iloc[position]!r})"


def read_indicator_matrix(frame: pd.DataFrame, spec: IndexSpec) -> np.ndarray:
    """The raw indicator values, units x indicators in spec order; missing cells are NaN.

    Errors name the spec line (a column the input lacks) or the input row (a unit id given twice, a value that is
    not a number).
    """
    if spec.unit not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise SpecError(f"{spec.where('unit')}: unit column {spec.unit!r} not in the input (columns: {columns}); "
                        "set unit: to the column holding the unit id")
    if frame.empty:
        raise InputError("the input has no rows")
    ids = frame[spec.unit]
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty:
        rows = ", ".join(str(int(p) + 1) for p in np.flatnonzero(ids.duplicated(keep=False).to_numpy())[:5])
        raise InputError(f"input rows {rows}: {spec.unit} {repeated.iloc[0]!r} appears more than once; give one row "
                         "per unit", row=int(np.flatnonzero(ids.duplicated().to_numpy())[0]) + 1)
    matrix = np.empty((len(frame), len(spec.indicator_ids)))
    for j, indicator_id in enumerate(spec.indicator_ids):
        column = spec.column(indicator_id)
        if column not in frame.columns:
            raise SpecError(f"{spec.indicator_where(indicator_id)}: indicator {indicator_id!r}: column {column!r} not "
                            f"in the input (columns: {', '.join(map(str, frame.columns))}); add it or set column:")
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = (np.isnan(values) & frame[column].notna().to_numpy()) | np.isinf(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            kind = "a finite number" if np.isinf(values[row]) else "a number"
            raise InputError(f"{_row_label(frame, spec, row)}: {column!r} is not {kind}: {frame[column].iloc[row]!r}",
                             row=row + 1)
        matrix[:, j] = values
    return matrix


def group_values(frame: pd.DataFrame, spec: IndexSpec) -> np.ndarray | None:
    """The group column for group_mean imputation, when the spec names one."""
    group = spec.missing["group"]
    if group is None:
        return None
    if group not in frame.columns:
        raise SpecError(f"{spec.where('missing', 'group')}: missing: group column {group!r} not in the input")
    return frame[group].to_numpy(dtype=object)


def _on_transformed_scale(settings: dict[str, Any], transform: dict[str, Any] | None) -> dict[str, Any]:
    """Normalisation parameters given in raw units (goalposts, target, norm) moved onto the transformed scale."""
    keys = RAW_UNIT_PARAMETERS.get(settings["method"], ())
    return {**settings, **{k: transform_parameter(settings[k], transform) for k in keys}}


def score_indicators(raw: np.ndarray, spec: IndexSpec, impute: str = "none", groups: np.ndarray | None = None,
                     normalisations: list[dict[str, Any]] | None = None,
                     unit_ids: pd.Series | None = None) -> np.ndarray:
    """Impute, transform and normalise every indicator: units x indicators scores in the internal unit (1 = top).

    `normalisations` replaces the spec's methods (one canonical dict per indicator), as the sensitivity analysis
    does; `unit_ids` only serves error messages.
    """
    imputed = impute_values(raw, impute, groups)
    scores = np.empty_like(imputed)
    for j, indicator_id in enumerate(spec.indicator_ids):
        settings = normalisations[j] if normalisations else spec.normalisation(indicator_id)
        transform = spec.transform(indicator_id)
        where = f"{spec.indicator_where(indicator_id)}: indicator {indicator_id!r}"
        try:
            values = transform_values(imputed[:, j], transform)
            scores[:, j] = normalise_values(values, spec.direction(indicator_id),
                                            _on_transformed_scale(settings, transform))
        except DomainError as exc:
            unit = "" if unit_ids is None else f" ({spec.unit}={unit_ids.iloc[exc.position]!r})"
            raise InputError(f"input row {exc.position + 1}{unit}: {spec.column(indicator_id)!r}: {exc} ({where})",
                             row=exc.position + 1) from exc
        except ValueError as exc:
            raise SpecError(f"{where}: {exc}") from exc
    return scores


def compile_tree(spec: IndexSpec) -> Tree:
    """The spec's node tree as arrays for evaluate_tree."""
    order = spec.node_order()
    return Tree(
        indicators=tuple(spec.indicator_ids),
        order=tuple(order),
        children={n: tuple(spec.nodes[n]["children"]) for n in order},
        weights={n: np.array(spec.weights(n)) for n in order},
        aggregates={n: spec.aggregate(n) for n in order},
        floors={n: spec.floor(n) for n in order},
        min_share=spec.missing["min_share"],
        totals={n: spec.weight_total(n) for n in order},
    )


def score_frame(frame: pd.DataFrame, spec: IndexSpec, node_scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The output table: unit, one column per node (x scale), score (the root's), rank, and quantile if asked."""
    out = pd.DataFrame({spec.unit: frame[spec.unit].to_numpy()})
    for node_id in spec.node_order():
        out[node_id] = node_scores[node_id] * spec.scale
    out["score"] = out[spec.root]
    out["rank"] = rank_scores(out["score"])
    if spec.quantiles:
        out["quantile"] = quantiles(out["rank"], spec.quantiles)
    return out


def compute_index(frame: pd.DataFrame, spec: IndexSpec | dict) -> pd.DataFrame:
    """Scores of every node for every unit: the unit column, one column per node, `score`, `rank`, `quantile`."""
    spec = as_spec(spec)
    raw = read_indicator_matrix(frame, spec)
    impute = spec.missing["impute"]
    groups = group_values(frame, spec) if impute == "group_mean" else None
    scores = score_indicators(raw, spec, impute, groups, unit_ids=frame[spec.unit])
    return score_frame(frame, spec, evaluate_tree(scores, compile_tree(spec)))
