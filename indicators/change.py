"""Change between two periods (census vintages) of the index scores and indicator values, for any city.

    marts.index_change      index_id, area_id, level, node_id, period_from, period_to, score_from, score_to,
                            score_change, rank_from, rank_to, rank_change
    marts.indicator_change  area_id, level, indicator_id, period_from, period_to, value_from, value_to, change,
                            change_pp

`score_change` = score_to - score_from (points of the index scale). `rank_change` = rank_from - rank_to, so a
positive number means the area moved up (rank 5 -> 2 is +3). Ranks are among the areas of the same level scored
in each period: when the set of areas differs between periods, part of a rank change comes from that. `change` =
value_to - value_from in the indicator's unit; for shares (unit `share`, 0..1) `change_pp` is the same change in
percentage points (x 100), NULL for other units. Whether a change is an improvement depends on the indicator's
`direction` in marts.indicator_catalogue (NBI falling is an improvement).

An area or node present in one period only keeps its row, with NULL on the other side and in the changes. Scores
are only comparable between periods when the index normalises both on the same goalposts (see the city's spec).
Differences are rounded to 12 decimals, so that 0.072366 - 0.143192 is stored as -0.070826, not with float noise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bienestar import warehouse
from bienestar.contract import change_basis_name
from bienestar.warehouse import read_frame
from cities import City

INDEX_CHANGE_COLUMNS = ["index_id", "area_id", "level", "node_id", "period_from", "period_to", "score_from",
                        "score_to", "score_change", "rank_from", "rank_to", "rank_change"]
INDICATOR_CHANGE_COLUMNS = ["area_id", "level", "indicator_id", "period_from", "period_to", "value_from",
                            "value_to", "change", "change_pp"]
DECIMALS = 12
log = logging.getLogger(__name__)


def _period_of(frame: pd.DataFrame, name: str) -> str:
    """The one period a frame holds (an error if it holds none or several)."""
    periods = sorted(frame["period"].dropna().astype(str).unique())
    if len(periods) != 1:
        raise ValueError(f"{name}: expected the rows of exactly one period, got {periods or 'none'}")
    return periods[0]


def _periods(a: pd.DataFrame, b: pd.DataFrame) -> tuple[str, str]:
    period_from, period_to = _period_of(a, "first frame"), _period_of(b, "second frame")
    if period_from == period_to:
        raise ValueError(f"both frames hold period {period_from}: a change needs two different periods")
    return period_from, period_to


def index_change(scores_a: pd.DataFrame, scores_b: pd.DataFrame) -> pd.DataFrame:
    """Per index, area and node: score and rank in both periods and their change (rank_change > 0: moved up).

    Takes two frames shaped like marts.index_scores (index_id, area_id, level, period, node_id, score, rank),
    each holding one period: `scores_a` the earlier, `scores_b` the later.
    """
    period_from, period_to = _periods(scores_a, scores_b)
    key = ["index_id", "area_id", "level", "node_id"]
    a = scores_a[[*key, "score", "rank"]].rename(columns={"score": "score_from", "rank": "rank_from"})
    b = scores_b[[*key, "score", "rank"]].rename(columns={"score": "score_to", "rank": "rank_to"})
    out = a.merge(b, on=key, how="outer", validate="one_to_one")
    out["score_from"] = out["score_from"].astype(float)
    out["score_to"] = out["score_to"].astype(float)
    out["score_change"] = (out["score_to"] - out["score_from"]).round(DECIMALS)
    out["rank_from"] = out["rank_from"].astype("Int64")
    out["rank_to"] = out["rank_to"].astype("Int64")
    out["rank_change"] = (out["rank_from"] - out["rank_to"]).astype("Int64")
    out = out.assign(period_from=period_from, period_to=period_to)
    return out[INDEX_CHANGE_COLUMNS].sort_values(["index_id", "level", "node_id", "area_id"]).reset_index(drop=True)


def indicator_change(values_a: pd.DataFrame, values_b: pd.DataFrame,
                     units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per area and indicator: value in both periods and its change (`change_pp` for shares, given `units`).

    Takes two frames shaped like marts.indicator_values (area_id, level, indicator_id, period, value), each
    holding one period: `values_a` the earlier, `values_b` the later. `units` maps indicator_id to its unit
    (marts.indicator_catalogue); without it `change_pp` is NULL throughout.
    """
    period_from, period_to = _periods(values_a, values_b)
    key = ["area_id", "level", "indicator_id"]
    a = values_a[[*key, "value"]].rename(columns={"value": "value_from"})
    b = values_b[[*key, "value"]].rename(columns={"value": "value_to"})
    out = a.merge(b, on=key, how="outer", validate="one_to_one")
    out["value_from"] = out["value_from"].astype(float)
    out["value_to"] = out["value_to"].astype(float)
    change = out["value_to"] - out["value_from"]
    share = out["indicator_id"].map(dict(units or {})).eq("share").to_numpy()
    out["change"] = change.round(DECIMALS)
    # points from the rounded change, to the same precision: a change of 0 is 0 points, never 1e-11
    out["change_pp"] = np.where(share, (out["change"] * 100).round(DECIMALS - 2), np.nan)
    out = out.assign(period_from=period_from, period_to=period_to)
    return out[INDICATOR_CHANGE_COLUMNS].sort_values(["level", "indicator_id", "area_id"]).reset_index(drop=True)


def change_periods(city: City) -> list[tuple[str, str]]:
    """The (period_from, period_to) pairs the city publishes changes for (`changes:` in city.yaml)."""
    return [(change.period_from, change.period_to) for change in city.settings.changes]


def build_change_marts(city: City, period_from: str, period_to: str) -> dict[str, int]:
    """marts.index_change (on the two periods' common basis: indicators/comparable.py) and
    marts.indicator_change of the city between two periods already in the marts, and the weights of that basis
    in marts.index_weights (`basis` = `change <from>-<to>`).

    Each table's partition (city, period_from, period_to) is replaced, so a rerun gives the same rows.
    """
    from indicators.comparable import comparable_scores, used_weights, wide_by_level
    from indicators.engine import load_spec

    period_from, period_to = str(period_from), str(period_to)
    spec = load_spec(city.index_spec_path)
    # the index is scored from the exact values (staging; marts hold them under disclosure control) where the
    # city has microdata; a city of published tables scores its published rates
    scored_from = "marts.indicator_values" if city.census_tables else "staging.indicator_values"
    with warehouse.session(city) as con:
        frames = {}
        for table, columns in ((scored_from, "area_id, level, indicator_id, period, value"),
                               ("marts.indicator_values", "area_id, level, indicator_id, period, value")):
            for period in (period_from, period_to):
                frame = pd.DataFrame()
                if warehouse.table_exists(con, table):
                    frame = read_frame(con, f"SELECT {columns} FROM {table} WHERE city = ? AND period = ?",
                                       [city.name, period])
                if frame.empty:
                    raise RuntimeError(f"no {table} for {city.name!r} {period}: build that period's marts first")
                frames[table, period] = frame
        units = dict(con.execute("SELECT indicator_id, unit FROM marts.indicator_catalogue WHERE city = ?",
                                 [city.name]).fetchall())
        start, end, basis = comparable_scores(spec, wide_by_level(frames[scored_from, period_from], spec.unit),
                                              wide_by_level(frames[scored_from, period_to], spec.unit))
        if basis.within_period:  # marts.change_basis can say what was left out, not how what stayed is scaled
            log.warning("change %s-%s of %s: %s", period_from, period_to, city.name,
                        basis.describe(period_from, period_to))
        scores = index_change(start.assign(index_id=spec.id, period=period_from),
                              end.assign(index_id=spec.id, period=period_to))
        values = indicator_change(frames["marts.indicator_values", period_from],
                                  frames["marts.indicator_values", period_to], units)
        key = {"city": city.name, "period_from": period_from, "period_to": period_to}
        warehouse.replace_partition(con, "marts.index_change", scores, key)
        warehouse.replace_partition(con, "marts.indicator_change", values, key)
        weights = used_weights(basis.spec, set(basis.spec.nodes) | set(basis.spec.indicator_ids))
        for period in (period_from, period_to):
            warehouse.replace_partition(con, "marts.index_weights", weights, {
                "city": city.name, "index_id": spec.id, "period": period,
                "basis": change_basis_name(period_from, period_to)})
    return {"index_change": len(scores), "indicator_change": len(values)}
