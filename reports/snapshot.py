"""What the report reads from a published snapshot, as plain Python values (the only module with SQL).

The report reads only the `marts` schema of docs/marts.md, from the snapshot opened read-only. Tables that older
snapshots lack (rank bands, change, lineage) are read when present and left empty otherwise, so a report can
still be built from any snapshot a planner kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Area:
    """One row of `marts.areas`."""

    area_id: str
    level: str
    name: str
    parent_id: str | None
    geometry_wkt: str | None
    population: int | None = None


@dataclass(frozen=True)
class Dimension:
    """One row of `marts.dimensions` that the index scores."""

    dimension_id: str
    name_es: str
    name_en: str


@dataclass(frozen=True)
class Indicator:
    """The columns of `marts.indicator_catalogue` the report shows."""

    indicator_id: str
    name_es: str
    name_en: str
    dimension: str | None
    unit: str | None
    direction: float | None
    definition: str | None = None
    source: str | None = None
    time_basis: str | None = None
    min_denominator: int | None = None


@dataclass(frozen=True)
class Score:
    """One row of `marts.index_scores` (the key lives in the dict that holds it), with its rank band."""

    score: float | None
    rank: int | None
    quantile: int | None
    rank_best: int | None = None   # 5th percentile rank over the index's alternatives (floor), when published
    rank_worst: int | None = None  # 95th percentile (ceiling)
    quantile_uncertain: bool = False  # the band crosses a quantile boundary


@dataclass(frozen=True)
class IndicatorValue:
    """One row of `marts.indicator_values` (the key lives in the dict that holds it)."""

    value: float | None
    suppressed: bool
    note: str | None
    suppression: str | None = None


@dataclass(frozen=True)
class Change:
    """One area's index change between two periods (`marts.index_change`), with the rank bands at both ends."""

    area_id: str
    level: str
    period_from: str
    score_from: float | None
    score_to: float | None
    rank_from: int | None
    rank_to: int | None
    band_from: tuple[int | None, int | None]
    band_to: tuple[int | None, int | None]

    @property
    def score_change(self) -> float | None:
        return None if self.score_from is None or self.score_to is None else self.score_to - self.score_from

    @property
    def beyond_uncertainty(self) -> bool:
        """Whether the rank bands of both ends do not overlap: the move is larger than the index's own doubt."""
        (best_from, worst_from), (best_to, worst_to) = self.band_from, self.band_to
        if None in (best_from, worst_from, best_to, worst_to):
            return False
        return worst_to < best_from or worst_from < best_to


@dataclass
class Snapshot:
    """Everything the report needs from one snapshot, for one index and period."""

    index_id: str
    period: str
    areas: dict[str, Area]
    dimensions: list[Dimension]
    indicators: list[Indicator]
    # (area_id, node_id) -> score; areas ids are unique across levels (`Z001`, `D03`, `MD02`).
    scores: dict[tuple[str, str], Score]
    # (area_id, indicator_id) -> value
    values: dict[tuple[str, str], IndicatorValue]
    levels: list[str] = field(default_factory=list)  # smallest first, derived from parent_id
    level_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # level -> (es, en)
    # latest data-quality results behind the snapshot (marts.data_quality), when the snapshot has them
    quality: list[dict] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)  # every period of the index, oldest first
    changes: list[Change] = field(default_factory=list)  # from the previous period to this one
    comparable: tuple[bool, str] | None = None  # change_basis of that pair: comparable, why not
    change_nodes: set[str] | None = None  # the nodes and indicators of the change's common basis (None: before it)
    scored_nodes: dict[str, set[str]] = field(default_factory=dict)  # period -> nodes with a score (this, previous)
    weights_from: list[tuple[str, str, float]] = field(default_factory=list)  # the previous period's weights
    weights: list[tuple[str, str, float]] = field(default_factory=list)  # (node, child, weight) this period
    spec_yaml: str | None = None  # the index spec that built this period's scores (marts.index_runs)
    publication: dict = field(default_factory=dict)  # marts.publication: published_at, run_id, versions
    sources: list[dict] = field(default_factory=list)  # marts.sources: every delivery behind the snapshot
    data_through: object = None  # the last day the period's values cover (max period_end), when published
    # every dimension of the catalogue in display order, scored or not: id -> (es, en)
    dimension_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the household survey of this period (marts.survey_measures, marts.survey_estimates), when there is one
    survey_measures: list[dict] = field(default_factory=list)
    survey_estimates: list[dict] = field(default_factory=list)

    def areas_of(self, level: str) -> list[Area]:
        """Areas of one level, by id."""
        return sorted((a for a in self.areas.values() if a.level == level), key=lambda a: a.area_id)

    def ancestors(self, area: Area) -> list[Area]:
        """Parents of an area, nearest first (stops at a dangling parent_id or a cycle)."""
        chain: list[Area] = []
        seen = {area.area_id}
        current = area
        while current.parent_id is not None and current.parent_id in self.areas:
            current = self.areas[current.parent_id]
            if current.area_id in seen:
                break
            seen.add(current.area_id)
            chain.append(current)
        return chain

    def ancestor_at(self, area: Area, level: str) -> Area | None:
        """The ancestor of `area` at `level` (the area itself when it is of that level)."""
        if area.level == level:
            return area
        return next((a for a in self.ancestors(area) if a.level == level), None)

    def has_scores(self, level: str, node_id: str) -> bool:
        """Whether index_scores has any row for this level and node."""
        ids = {a.area_id for a in self.areas_of(level)}
        return any(key[1] == node_id and key[0] in ids for key in self.scores)

    @property
    def top_level(self) -> str:
        """The coarsest level (macrodistrito in La Paz)."""
        return self.levels[-1]

    @property
    def map_level(self) -> str:
        """The smallest level that has composite scores (the smallest level of all, normally)."""
        return next((lv for lv in self.levels if self.has_scores(lv, self.index_id)), self.levels[0])

    @property
    def published_at(self) -> datetime | None:
        return self.publication.get("published_at")


def _city_filter(city: str | None) -> tuple[str, list]:
    """A `city = ?` condition when the snapshot holds several cities and one is asked for."""
    if city is None:
        return "TRUE", []
    return "city = ?", [city]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ?", [table]
    ).fetchall()}


def _pick(con: duckdb.DuckDBPyConnection, table: str, wanted: list[str]) -> str:
    """The select list of `wanted` columns, NULL for those an older snapshot's table lacks."""
    present = _columns(con, table)
    return ", ".join(c if c in present else f"NULL AS {c}" for c in wanted)


CATALOGUE = ["indicator_id", "name_es", "name_en", "dimension", "unit", "direction", "definition", "source",
             "time_basis", "min_denominator"]
VALUES = ["area_id", "indicator_id", "value", "suppressed", "note", "suppression"]


def read_snapshot(path: Path, index_id: str, period: str | None, city: str | None = None) -> Snapshot:
    """Read the marts the report uses; the connection is read-only so a running publisher is never blocked."""
    if not path.is_file():
        raise FileNotFoundError(f"snapshot not found: {path}")
    with duckdb.connect(str(path), read_only=True) as con:
        where, params = _city_filter(city)
        periods = _periods(con, index_id, where, params)
        period = _resolve_period(periods, index_id, period)
        scored = {r[0] for r in con.execute(
            f"SELECT DISTINCT node_id FROM marts.index_scores WHERE index_id = ? AND period = ? AND {where}",
            [index_id, period, *params]).fetchall()}
        listed = con.execute(f"SELECT dimension_id, name_es, name_en FROM marts.dimensions WHERE {where}"
                             f" ORDER BY {_dimension_order(con)}", params).fetchall()
        snap = Snapshot(
            index_id=index_id,
            period=period,
            periods=periods,
            areas=_read_areas(con, where, params),
            dimensions=[Dimension(*row) for row in listed if row[0] in scored],
            dimension_names={d: (es, en) for d, es, en in listed},
            indicators=[Indicator(*row) for row in con.execute(
                f"SELECT {_pick(con, 'indicator_catalogue', CATALOGUE)}"
                f" FROM marts.indicator_catalogue WHERE {where} ORDER BY indicator_id", params).fetchall()],
            scores=_read_scores(con, index_id, period, where, params),
            values={
                (area_id, indicator_id): IndicatorValue(value, bool(suppressed), note, suppression)
                for area_id, indicator_id, value, suppressed, note, suppression in con.execute(
                    f"SELECT {_pick(con, 'indicator_values', VALUES)}"
                    f" FROM marts.indicator_values WHERE period = ? AND {where} ORDER BY area_id, indicator_id",
                    [period, *params]).fetchall()
            },
        )
        snap.quality = _read_quality(con, where, params)
        if "period_end" in _columns(con, "indicator_values"):
            snap.data_through = con.execute(f"SELECT max(period_end) FROM marts.indicator_values WHERE period = ? "
                                            f"AND {where}", [period, *params]).fetchall()[0][0]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'marts'").fetchall()}
        if "levels" in tables:
            snap.level_names = {lv: (es, en) for lv, es, en in con.execute(
                f"SELECT level, name_es, name_en FROM marts.levels WHERE {where}", params).fetchall()}
        own = ""  # a period's own weights (since schema 4 index_weights also holds the change's common basis)
        if "index_weights" in tables and "basis" in _columns(con, "index_weights"):
            own = "AND coalesce(basis, 'full') = 'full'"
        if "index_weights" in tables:
            snap.weights = [tuple(r) for r in con.execute(
                f"SELECT node_id, child_id, weight FROM marts.index_weights WHERE index_id = ? AND period = ? "
                f"{own} AND {where} ORDER BY node_id, child_id", [index_id, period, *params]).fetchall()]
        if "index_runs" in tables:
            rows = con.execute(f"SELECT spec_yaml FROM marts.index_runs WHERE index_id = ? AND period = ? "
                               f"AND {where}", [index_id, period, *params]).fetchall()
            snap.spec_yaml = rows[0][0] if rows else None
        if "publication" in tables:
            frame = con.execute(f"SELECT * FROM marts.publication WHERE {where}", params).df()
            snap.publication = frame.iloc[0].to_dict() if len(frame) else {}
        if {"survey_measures", "survey_estimates"} <= tables:
            frame = con.execute(f"SELECT * FROM marts.survey_measures WHERE {where} ORDER BY measure_id", params).df()
            snap.survey_measures = frame.to_dict("records")
            frame = con.execute(f"SELECT * FROM marts.survey_estimates WHERE period = ? AND {where} "
                                "ORDER BY level, area_id, measure_id, method", [period, *params]).df()
            snap.survey_estimates = _records(frame)
        if "sources" in tables:
            frame = con.execute(f"SELECT source, delivery, sha256, period, \"rows\", received_at FROM marts.sources "
                                f"WHERE {where} ORDER BY source, period, delivery", params).df()
            snap.sources = _records(frame)
        earlier = [p for p in periods if p < period]
        if earlier and "index_change" in tables:
            snap.changes = _read_changes(con, index_id, earlier[-1], period, where, params, tables)
            for when in (earlier[-1], period):
                snap.scored_nodes[when] = {r[0] for r in con.execute(
                    f"SELECT DISTINCT node_id FROM marts.index_scores WHERE index_id = ? AND period = ? AND "
                    f"score IS NOT NULL AND {where}", [index_id, when, *params]).fetchall()}
            if "index_weights" in tables:
                snap.weights_from = [tuple(r) for r in con.execute(
                    f"SELECT node_id, child_id, weight FROM marts.index_weights WHERE index_id = ? AND period = ? "
                    f"{own} AND {where} ORDER BY node_id, child_id", [index_id, earlier[-1], *params]).fetchall()]
                if own:
                    from bienestar.contract import change_basis_name

                    snap.change_nodes = {r[0] for r in con.execute(
                        f"SELECT child_id FROM marts.index_weights WHERE index_id = ? AND period = ? AND basis = ? "
                        f"AND {where}", [index_id, period, change_basis_name(earlier[-1], period),
                                         *params]).fetchall()}
            if "change_basis" in tables:
                rows = con.execute(f"SELECT comparable, why FROM marts.change_basis WHERE index_id = ? AND "
                                   f"period_from = ? AND period_to = ? AND {where}",
                                   [index_id, earlier[-1], period, *params]).fetchall()
                snap.comparable = (bool(rows[0][0]), rows[0][1] or "") if rows else None
    if not snap.areas:
        raise ValueError(f"{path}: marts.areas is empty")
    snap.levels = _level_chain(snap.areas)
    return snap


def only_city(path: Path) -> str:
    """The one city a snapshot holds (an error naming how many when it holds several: pick one with `city=`)."""
    with duckdb.connect(str(path), read_only=True) as con:
        cities = [r[0] for r in con.execute("SELECT DISTINCT city FROM marts.areas ORDER BY 1").fetchall()]
    if len(cities) != 1:
        raise ValueError(f"{path} holds {len(cities)} cities ({', '.join(map(str, cities))}): name one with city=")
    return cities[0]


def _dimension_order(con: duckdb.DuckDBPyConnection) -> str:
    columns = _columns(con, "dimensions")
    for column in ("display_order", "position"):  # position: snapshots before schema version 2
        if column in columns:
            return column
    return "dimension_id"


def _bands(con, index_id: str, where: str, params: list) -> dict[tuple[str, str], tuple[int, int]]:
    """(area_id, period) -> the 5-95% rank band as whole ranks (floor, ceiling), when the snapshot has them."""
    if "p05_rank" not in _columns(con, "index_uncertainty"):
        return {}
    return {(area, period): (math.floor(p05), math.ceil(p95)) for area, period, p05, p95 in con.execute(
        f"SELECT area_id, period, p05_rank, p95_rank FROM marts.index_uncertainty WHERE index_id = ? AND {where} "
        "AND p05_rank IS NOT NULL AND p95_rank IS NOT NULL", [index_id, *params]).fetchall()}


def _read_scores(con, index_id: str, period: str, where: str, params: list) -> dict[tuple[str, str], Score]:
    rows = con.execute(
        "SELECT area_id, level, node_id, score, rank, quantile FROM marts.index_scores"
        f" WHERE index_id = ? AND period = ? AND {where} ORDER BY area_id, node_id", [index_id, period, *params],
    ).fetchall()
    bands = _bands(con, index_id, where, params)
    ranked: dict[str, int] = {}
    quantiles: dict[str, int] = {}
    for _, level, node, _, rank, quantile in rows:
        if node == index_id and rank is not None:
            ranked[level] = ranked.get(level, 0) + 1
            quantiles[level] = max(quantiles.get(level, 0), quantile or 0)
    scores = {}
    for area_id, level, node, score, rank, quantile in rows:
        best, worst = bands.get((area_id, period), (None, None)) if node == index_id else (None, None)
        uncertain = False
        if best is not None and quantiles.get(level):
            q, n = quantiles[level], ranked[level]
            uncertain = math.ceil(best * q / n) != math.ceil(worst * q / n)
        scores[(area_id, node)] = Score(score, rank, quantile, best, worst, uncertain)
    return scores


def _read_changes(con, index_id: str, period_from: str, period_to: str, where: str, params: list,
                  tables: set[str]) -> list[Change]:
    bands = _bands(con, index_id, where, params) if "index_uncertainty" in tables else {}
    rows = con.execute(
        "SELECT area_id, level, score_from, score_to, rank_from, rank_to FROM marts.index_change WHERE index_id = ? "
        f"AND node_id = index_id AND period_from = ? AND period_to = ? AND {where} ORDER BY area_id",
        [index_id, period_from, period_to, *params]).fetchall()
    return [Change(area, level, period_from, s_from, s_to, r_from, r_to,
                   bands.get((area, period_from), (None, None)), bands.get((area, period_to), (None, None)))
            for area, level, s_from, s_to, r_from, r_to in rows]


def _read_quality(con: duckdb.DuckDBPyConnection, where: str, params: list) -> list[dict]:
    """Data-quality results in the snapshot, failures first; none when the snapshot predates the table."""
    if not _columns(con, "data_quality"):
        return []
    frame = con.execute(
        "SELECT suite, period, check_key, expectation, column_name, severity, success, unexpected_count, "
        f"examples, why FROM marts.data_quality WHERE {where} ORDER BY success, severity, suite, check_key",
        list(params)).df()
    return _records(frame)


def _records(frame) -> list[dict]:
    """The frame's rows as dicts, missing values as None (not NaN or NA) for the templates."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _periods(con: duckdb.DuckDBPyConnection, index_id: str, where: str, params: list) -> list[str]:
    periods = [row[0] for row in con.execute(
        f"SELECT DISTINCT period FROM marts.index_scores WHERE index_id = ? AND {where} ORDER BY period",
        [index_id, *params]).fetchall()]
    if not periods:
        raise ValueError(f"marts.index_scores has no rows for index {index_id!r}")
    return periods


def _resolve_period(periods: list[str], index_id: str, period: str | None) -> str:
    """The requested period, checked, or the latest one of the index (periods are `YYYY`/`YYYY-MM` text)."""
    if period is None:
        return periods[-1]
    if period not in periods:
        raise ValueError(f"index {index_id!r} has no period {period!r}; available: {', '.join(periods)}")
    return period


def _read_areas(con: duckdb.DuckDBPyConnection, where: str = "TRUE", params: list = ()) -> dict[str, Area]:
    rows = con.execute(
        f"SELECT {_pick(con, 'areas', ['area_id', 'level', 'name', 'parent_id', 'geometry_wkt', 'population'])} "
        f"FROM marts.areas WHERE {where} ORDER BY area_id", list(params)).fetchall()
    return {row[0]: Area(*row) for row in rows}


def _level_chain(areas: dict[str, Area]) -> list[str]:
    """Levels smallest first. The marts carry no level order, so it is read off the parent_id links."""
    parent_level: dict[str, str] = {}
    for area in areas.values():
        parent = areas.get(area.parent_id) if area.parent_id else None
        if parent is not None and parent.level != area.level:
            parent_level.setdefault(area.level, parent.level)
    counts: dict[str, int] = {}
    for area in areas.values():
        counts[area.level] = counts.get(area.level, 0) + 1
    # The smallest level is the one no other level points to; with odd data, the most populous one.
    leaves = sorted(set(counts) - set(parent_level.values())) or sorted(counts)
    chain = [max(leaves, key=lambda lv: (counts[lv], lv))]
    while chain[-1] in parent_level and parent_level[chain[-1]] not in chain:
        chain.append(parent_level[chain[-1]])
    return chain
