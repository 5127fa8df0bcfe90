"""The planners' views: the joins a planner would otherwise write by hand, inside the published snapshot.

    marts.v_area             every area with its ancestors as columns (`<level>_id`, `<level>_name`) and its
                             population in each census year (`population_<year>`)
    marts.v_index            the index per area: score, rank, quantile, rank band as whole ranks, whether the band
                             crosses a quantile boundary, and every dimension's score as a column
    marts.v_change           the index change between two periods with the rank band at both ends and whether the
                             two periods' indices are comparable (and why not)
    marts.v_indicator_change indicator change with the margins of error at both ends
    marts.v_indicator_wide   one row per area and period, one column per indicator

They are SQL views written into the snapshot at publication (`create_views`), so any DuckDB opens them; columns
that depend on the city (its levels, dimensions and indicators) are listed when the view is made, from the
snapshot's own tables. `marts.change_basis` (written with them) says for each pair of periods whether the index
has the same structure: the same nodes scored and the same weights.
"""

from __future__ import annotations

import re

import pandas as pd

VIEWS = {
    "v_area": "Every area with its ancestors as columns (<level>_id, <level>_name) and its population in each census "
              "year (population_<year>): no self-joins needed.",
    "v_index": "The index per area and period: score, rank, quantile, rank band (whole ranks), whether the band "
               "crosses a quantile boundary, and each dimension's score (score_<dimension>).",
    "v_change": "Index change between two periods, with the rank band at both ends and whether the two indices "
                "are comparable (same dimensions scored, same weights) and why not.",
    "v_indicator_change": "Indicator change between two periods with the Wilson 95% bounds at both ends.",
    "v_indicator_wide": "One row per area and period, one column per indicator (the published value).",
}


def _name(text: str) -> str:
    """A column name from a level, dimension or indicator id: lower case letters, digits and _."""
    return re.sub(r"[^a-z0-9_]", "_", str(text).lower())


def _exists(con, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND "
                       "schema_name = 'marts' AND table_name = ?", [table]).fetchall()[0][0] > 0


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def area_view(con) -> str:
    levels = con.execute("SELECT DISTINCT level, depth FROM marts.areas ORDER BY depth, level").fetchall()
    top = max((depth for _, depth in levels), default=0)
    joins = "\n".join(f"LEFT JOIN marts.areas a{k} ON a{k}.city = a{k - 1}.city AND a{k}.area_id = a{k - 1}.parent_id"
                      for k in range(1, top + 1))
    columns = []
    for level, depth in levels:  # the ancestor at that level: a_k with k = depth - the area's depth
        pick = lambda field, depth=depth: "CASE a0.depth " + " ".join(  # noqa: E731
            f"WHEN {depth - k} THEN a{k}.{field}" for k in range(0, depth + 1)) + " END"
        columns += [f'{pick("area_id")} AS "{_name(level)}_id"', f'{pick("name")} AS "{_name(level)}_name"']
    periods = [r[0] for r in con.execute("SELECT DISTINCT period FROM marts.area_population ORDER BY 1").fetchall()]
    populations = [f"(SELECT p.population FROM marts.area_population p WHERE p.city = a0.city AND "
                   f"p.area_id = a0.area_id AND p.period = {_quote(period)}) AS \"population_{_name(period)}\""
                   for period in periods]
    fields = ["a0.city", "a0.area_id", "a0.level", "a0.depth", "a0.name", "a0.parent_id", "a0.population", *columns,
              *populations, "a0.geometry_wkt"]
    return f"SELECT {', '.join(fields)}\nFROM marts.areas a0\n{joins}"


def index_view(con) -> str:
    dimensions = [r[0] for r in con.execute(
        "SELECT DISTINCT child_id FROM marts.index_weights WHERE node_id = index_id AND child_id IN "
        "(SELECT DISTINCT node_id FROM marts.index_scores) ORDER BY 1").fetchall()]
    wide = ", ".join(f"max(score) FILTER (WHERE node_id = {_quote(d)}) AS \"score_{_name(d)}\"" for d in dimensions)
    band = ("CAST(floor(u.p05_rank) AS BIGINT)", "CAST(ceil(u.p95_rank) AS BIGINT)") if _exists(
        con, "index_uncertainty") else ("CAST(NULL AS BIGINT)", "CAST(NULL AS BIGINT)")
    join = ("LEFT JOIN marts.index_uncertainty u ON u.city = r.city AND u.index_id = r.index_id AND "
            "u.area_id = r.area_id AND u.level = r.level AND u.period = r.period") if _exists(
        con, "index_uncertainty") else ""
    return f"""WITH root AS (
    SELECT *, count(rank) OVER (PARTITION BY city, index_id, level, period) AS ranked,
           max(quantile) OVER (PARTITION BY city, index_id, level, period) AS quantiles
    FROM marts.index_scores WHERE node_id = index_id),
dims AS (
    SELECT city, index_id, area_id, level, period{", " + wide if wide else ""}
    FROM marts.index_scores GROUP BY city, index_id, area_id, level, period),
banded AS (
    SELECT r.*, {band[0]} AS rank_best, {band[1]} AS rank_worst FROM root r {join})
SELECT b.city, b.index_id, b.area_id, b.level, b.period, b.score, b.rank, b.quantile, b.rank_best, b.rank_worst,
       CAST(ceil(b.rank_best * b.quantiles / b.ranked) AS BIGINT)
           <> CAST(ceil(b.rank_worst * b.quantiles / b.ranked) AS BIGINT) AS quantile_uncertain,
       b.suppressed_inputs{"".join(f', d."score_{_name(d)}"' for d in dimensions)}
FROM banded b JOIN dims d ON d.city = b.city AND d.index_id = b.index_id AND d.area_id = b.area_id
    AND d.level = b.level AND d.period = b.period"""


def change_view(con) -> str:
    bands = _exists(con, "index_uncertainty")
    ends = []
    joins = []
    for end in ("from", "to"):
        if bands:
            ends += [f"CAST(floor(u_{end}.p05_rank) AS BIGINT) AS rank_best_{end}",
                     f"CAST(ceil(u_{end}.p95_rank) AS BIGINT) AS rank_worst_{end}"]
            joins.append(f"LEFT JOIN marts.index_uncertainty u_{end} ON u_{end}.city = c.city AND u_{end}.index_id = "
                         f"c.index_id AND u_{end}.area_id = c.area_id AND u_{end}.level = c.level AND "
                         f"u_{end}.period = c.period_{end}")
        else:
            ends += [f"CAST(NULL AS BIGINT) AS rank_best_{end}", f"CAST(NULL AS BIGINT) AS rank_worst_{end}"]
    return f"""SELECT c.city, c.index_id, c.area_id, c.level, c.node_id, c.period_from, c.period_to, c.score_from,
       c.score_to, c.score_change, c.rank_from, c.rank_to, c.rank_change, {", ".join(ends)},
       b.comparable, b.why AS not_comparable_because, b.basis AS change_basis
FROM marts.index_change c
{chr(10).join(joins)}
LEFT JOIN marts.change_basis b ON b.city = c.city AND b.index_id = c.index_id AND b.period_from = c.period_from
    AND b.period_to = c.period_to"""


def indicator_change_view(con) -> str:
    ends = ", ".join(f"v_{end}.moe_low AS moe_low_{end}, v_{end}.moe_high AS moe_high_{end}"
                     for end in ("from", "to"))
    joins = "\n".join(f"LEFT JOIN marts.indicator_values v_{end} ON v_{end}.city = c.city AND v_{end}.area_id = "
                      f"c.area_id AND v_{end}.indicator_id = c.indicator_id AND v_{end}.period = c.period_{end}"
                      for end in ("from", "to"))
    return f"""SELECT c.city, c.area_id, c.level, c.indicator_id, c.period_from, c.period_to, c.value_from,
       c.value_to, c.change, c.change_pp, {ends}
FROM marts.indicator_change c
{joins}"""


def indicator_wide_view(con) -> str:
    indicators = [r[0] for r in con.execute("SELECT DISTINCT indicator_id FROM marts.indicator_catalogue "
                                            "ORDER BY 1").fetchall()]
    # a static PIVOT (the catalogue's ids listed): four times faster than one filtered aggregate per indicator
    listed = ", ".join(_quote(i) for i in indicators)
    return f"""PIVOT (SELECT city, area_id, level, period, indicator_id, value FROM marts.indicator_values)
ON indicator_id IN ({listed}) USING first(value) GROUP BY city, area_id, level, period"""


BUILDERS = {"v_area": (area_view, "areas"), "v_index": (index_view, "index_scores"),
            "v_change": (change_view, "index_change"), "v_indicator_change": (indicator_change_view,
                                                                             "indicator_change"),
            "v_indicator_wide": (indicator_wide_view, "indicator_values")}


def change_basis(con) -> pd.DataFrame:
    """For each pair of periods of marts.index_change: whether both periods' own indices have the same structure
    (the same nodes with a score somewhere, the same weights used), what differs when not, and what the change
    is computed on (the common basis of indicators/comparable.py, from its weights in marts.index_weights)."""
    columns = ["city", "index_id", "period_from", "period_to", "comparable", "why", "basis"]
    if not _exists(con, "index_change"):
        return pd.DataFrame(columns=columns)
    pairs = con.execute("SELECT DISTINCT city, index_id, period_from, period_to FROM marts.index_change "
                        "ORDER BY ALL").fetchall()
    scored = con.execute("SELECT city, index_id, period, list(DISTINCT node_id ORDER BY node_id) FROM "
                         "marts.index_scores WHERE score IS NOT NULL GROUP BY ALL").fetchall()
    scored = {(c, i, p): set(nodes) for c, i, p, nodes in scored}
    weights = con.execute("SELECT city, index_id, period, node_id, child_id, weight, basis "
                          "FROM marts.index_weights").df()
    rows = []
    for city, index_id, a, b in pairs:
        why = []
        for only, other, period in ((scored.get((city, index_id, a), set()) - scored.get((city, index_id, b), set()),
                                     b, a),
                                    (scored.get((city, index_id, b), set()) - scored.get((city, index_id, a), set()),
                                     a, b)):
            if only:
                why.append(f"scored in {period} but not in {other}: {', '.join(sorted(only))}")

        before, after = (_weights(weights, city, index_id, period, "full") for period in (a, b))
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if changed:
            why.append("weights differ: " + ", ".join(f"{n} -> {c}" for n, c in changed[:10]))
        rows.append({"city": city, "index_id": index_id, "period_from": a, "period_to": b, "comparable": not why,
                     "why": "; ".join(why) or None,
                     "basis": _basis(weights, city, index_id, a, b)})
    return pd.DataFrame(rows, columns=columns)


def _basis(weights: pd.DataFrame, city: str, index_id: str, period_from: str, period_to: str) -> str:
    """What a change is computed on, in words: the common basis and what it left out of both periods."""
    from bienestar.contract import change_basis_name

    common = _weights(weights, city, index_id, period_to, change_basis_name(period_from, period_to))
    if not common:  # a change built before the common basis existed
        return "the difference of the two periods' own scores"
    declared = {child for period in (period_from, period_to)
                for _, child in _weights(weights, city, index_id, period, "full")}
    nodes = {node for period in (period_from, period_to) for node, _ in _weights(weights, city, index_id, period,
                                                                                   "full")}
    kept = {child for _, child in common}
    out = sorted(declared - kept)
    text = "the index rebuilt on what both periods measure, with the same goalposts in both"
    if out:
        dimensions = [c for c in out if c in nodes]
        indicators = [c for c in out if c not in nodes]
        left = [f"{kind} {', '.join(items)}" for kind, items in (("nodes", dimensions), ("indicators", indicators))
                if items]
        text += "; left out of both: " + "; ".join(left)
    return text


MEANINGS = {
    "rank_best": "best rank of the area's band: floor of the 5th percentile rank (marts.index_uncertainty)",
    "rank_worst": "worst rank of the band: ceiling of the 95th percentile rank",
    "quantile_uncertain": "true when the band's two ends fall in different quantiles: the quantile depends on "
                          "methodological choices",
    "rank_best_from": "best rank of the band in period_from", "rank_worst_from": "worst rank of the band in "
                                                                                 "period_from",
    "rank_best_to": "best rank of the band in period_to", "rank_worst_to": "worst rank of the band in period_to",
    "comparable": "true when both periods' own indices score the same dimensions with the same weights "
                  "(marts.change_basis)",
    "not_comparable_because": "what differs between the two periods' own indices (NULL when comparable)",
    "change_basis": "what score_from, score_to and their change are computed on: the index rebuilt on what both "
                    "periods measure, and what that left out (marts.change_basis.basis)",
    "moe_low_from": "Wilson 95% lower bound in period_from", "moe_high_from": "upper bound in period_from",
    "moe_low_to": "Wilson 95% lower bound in period_to", "moe_high_to": "upper bound in period_to",
}


def column_meaning(con, view: str, column: str) -> str:
    """What a view's column means: its own meaning, the level, dimension or indicator it stands for, or the
    meaning of the table column it repeats."""
    from bienestar.contract import TABLES

    if column in MEANINGS:
        return MEANINGS[column]
    levels = {_name(r[0]): r[0] for r in con.execute("SELECT DISTINCT level FROM marts.areas").fetchall()}
    for suffix, what in (("_id", "code"), ("_name", "name")):
        if view == "v_area" and column.endswith(suffix) and column[: -len(suffix)] in levels:
            return f"{what} of the {levels[column[: -len(suffix)]]} the area lies in (the area itself at its level)"
    if view == "v_index" and column.startswith("score_"):
        return f"score of the {column[6:]} dimension (0-100, higher is better; marts.index_scores)"
    if view == "v_indicator_wide" and column not in ("city", "area_id", "level", "period"):
        rows = con.execute("SELECT name_en, unit FROM marts.indicator_catalogue WHERE indicator_id = ? LIMIT 1",
                           [column]).fetchall()
        if rows:
            return f"{rows[0][0]} ({rows[0][1]}): the published value of marts.indicator_values"
    return next((t.columns[column] for t in TABLES.values() if column in t.columns), "")


def _weights(weights: pd.DataFrame, city: str, index_id: str, period: str,
             basis: str) -> dict[tuple[str, str], float]:
    mine = weights[(weights["city"] == city) & (weights["index_id"] == index_id) & (weights["period"] == period)
                   & (weights["basis"].fillna("full") == basis)]
    return {(n, c): round(float(w), 9) for n, c, w in zip(mine["node_id"], mine["child_id"], mine["weight"],
                                                          strict=True)}


def create_views(con, catalog: str = "snapshot") -> None:
    """Write marts.change_basis and the views into the attached snapshot `catalog`, with their comments."""
    before = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"USE {catalog}")
    try:
        basis = change_basis(con)
        con.register("_basis", basis)
        con.execute("CREATE TABLE marts.change_basis AS SELECT * FROM _basis ORDER BY ALL")
        con.unregister("_basis")
        for name, (build, needs) in BUILDERS.items():
            if not _exists(con, needs):
                continue
            con.execute(f"CREATE VIEW marts.{name} AS {build(con)}")
            con.execute(f"COMMENT ON VIEW marts.{name} IS {_quote(VIEWS[name])}")
            columns = [r[0] for r in con.execute(f"DESCRIBE marts.{name}").fetchall()]
            for column in columns:
                con.execute(f'COMMENT ON COLUMN marts.{name}."{column}" IS '
                            f"{_quote(column_meaning(con, name, column))}")
    finally:
        con.execute(f"USE {before}")
