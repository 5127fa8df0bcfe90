"""The report's view model: what each section shows, as plain dicts of strings the template prints as they are.

Everything here is computed from a `reports.snapshot.Snapshot` (no SQL) and formatted with `reports.numbers`
in the report's language, so the template stays free of logic and a change of wording or format never touches
the data. Each function builds one section; `page` puts them together.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable

import yaml

from reports.numbers import Numbers, decimals_for
from reports.snapshot import Area, Change, Indicator, IndicatorValue, Snapshot
from reports.svgmap import MapArea, MapClass, MapLayer
from reports.text import TEXT

FINDINGS_SHOWN = 5
# Quantile classes, 1 = best: viridis sampled light to dark (the best areas light on screen and paper); the
# template's .q1-.q5 badges use the same colours.
CLASS_COLOURS = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487")


def name(lang: str, es: str | None, en: str | None) -> str:
    """The label in the report's language, the other one when it is missing."""
    return (es if lang == "es" else en) or en or es or ""


class Words:
    """The report's words in one language, with the snapshot's names of levels and dimensions."""

    def __init__(self, snap: Snapshot, lang: str):
        self.lang, self.text, self.snap = lang, TEXT[lang], snap

    def __getitem__(self, key: str) -> str:
        return self.text[key]

    def level(self, level: str, *, lower: bool = False) -> str:
        es_en = self.snap.level_names.get(level)
        label = name(self.lang, *es_en) if es_en else level.replace("_", " ").capitalize()
        return label.lower() if lower else label

    def dimension(self, dimension_id: str | None) -> str:
        found = next((d for d in self.snap.dimensions if d.dimension_id == dimension_id), None)
        return name(self.lang, found.name_es, found.name_en) if found else (dimension_id or "—")

    def indicator(self, indicator: Indicator) -> str:
        return name(self.lang, indicator.name_es, indicator.name_en)


def _root(snap: Snapshot, area: Area):
    return snap.scores.get((area.area_id, snap.index_id))


def _rank_key(snap: Snapshot, area: Area) -> tuple:
    """Rank 1 first, areas without a rank last; ties broken by id so the order is stable."""
    score = _root(snap, area)
    rank = score.rank if score is not None else None
    return (rank is None, rank if rank is not None else 0, area.area_id)


def ranked_areas(snap: Snapshot, level: str) -> list[Area]:
    return sorted(snap.areas_of(level), key=lambda a: _rank_key(snap, a))


def score_rows(snap: Snapshot, level: str, nums: Numbers) -> list[dict]:
    """Ranked rows of one level: rank and rank band, composite and dimension scores, parent names; `number` is
    the row's position, the label the map draws."""
    parent_levels = snap.levels[snap.levels.index(level) + 1:]
    rows = []
    for number, area in enumerate(ranked_areas(snap, level), start=1):
        root = _root(snap, area)
        has_score = root is not None and root.score is not None
        rows.append({
            "number": number,
            "area_id": area.area_id,
            "name": area.name,
            "parents": [getattr(snap.ancestor_at(area, lv), "name", "—") for lv in parent_levels],
            "rank": nums.integer(root.rank) if root is not None and root.rank is not None else "—",
            "band": nums.range(root.rank_best, root.rank_worst) if root is not None else "—",
            "uncertain": bool(root is not None and root.quantile_uncertain),
            "score": nums.score(root.score) if has_score else "—",
            "quantile": str(root.quantile) if root is not None and root.quantile is not None else "",
            "no_data": not has_score,
            "dimensions": [nums.score(getattr(snap.scores.get((area.area_id, d.dimension_id)), "score", None))
                           for d in snap.dimensions],
        })
    return rows


def _tag(number: int, last: int, words: Words) -> str:
    return f" ({words['best']})" if number == 1 else f" ({words['worst']})" if number == last else ""


def class_legend(snap: Snapshot, level: str, nums: Numbers, words: Words) -> list[MapClass]:
    """One legend entry per quantile, 1 to the last one used at `level` (class k is entry k - 1, as the map needs
    it), with its colour and the span of scores it holds."""
    spans: dict[int, list[float]] = {}
    for area in snap.areas_of(level):
        root = _root(snap, area)
        if root is not None and root.quantile in range(1, len(CLASS_COLOURS) + 1) and root.score is not None:
            spans.setdefault(root.quantile, []).append(root.score)
    last = max(spans, default=0)
    out = []
    for number, colour in enumerate(CLASS_COLOURS[:last], start=1):
        scores = spans.get(number)
        span = f": {nums.score(min(scores))}–{nums.score(max(scores))}" if scores else ""
        out.append(MapClass(colour, f"{number}{_tag(number, last, words)}{span}"))
    return out


def map_areas(snap: Snapshot, level: str, nums: Numbers, words: Words) -> list[MapArea]:
    """The areas of `level` for the interactive map, numbered as in the ranking table, with their details."""
    out = []
    for number, area in enumerate(ranked_areas(snap, level), start=1):
        if not area.geometry_wkt:
            continue
        root = _root(snap, area)
        has_score = root is not None and root.score is not None
        details = [(words["score"], nums.score(root.score) if has_score else words["no_data"])]
        if has_score:
            details.append((words["rank"], nums.integer(root.rank)))
            if root.rank_best is not None:
                details.append((words["band"], nums.range(root.rank_best, root.rank_worst)))
            details.append((words["quintile"], f"{root.quantile}{' ≈' if root.quantile_uncertain else ''}"))
        details += [(name(words.lang, d.name_es, d.name_en),
                     nums.score(getattr(snap.scores.get((area.area_id, d.dimension_id)), "score", None)))
                    for d in snap.dimensions]
        klass = root.quantile if has_score and root.quantile in range(1, len(CLASS_COLOURS) + 1) else None
        out.append(MapArea(area.area_id, area.name, area.geometry_wkt, klass, number, tuple(details)))
    return out


def equal_count_classes(values: dict[str, float], k: int = 5) -> dict[str, int]:
    """Class 1 (highest) to k over the known values, equal counts (as the index's quintiles): the value at position
    p of n, lowest first, gets class k - (p * k) // n; ties keep their order by id."""
    known = sorted((v, a) for a, v in values.items() if v is not None)
    k = min(k, len(known))
    return {area: k - (position * k) // len(known) for position, (_, area) in enumerate(known)}


def _spans(classes: dict[str, int], values: dict[str, float]) -> dict[int, list[float]]:
    spans: dict[int, list[float]] = {}
    for area, klass in classes.items():
        spans.setdefault(klass, []).append(values[area])
    return spans


def dimension_layers(snap: Snapshot, nums: Numbers, words: Words, level: str | None = None) -> list[MapLayer]:
    """One map layer per dimension at `level` (default: the map level): its scores in five classes of equal
    counts, highest first (the dimensions have no published quantiles; the legend gives each class's span)."""
    layers = []
    for dimension in snap.dimensions:
        scores = {a.area_id: getattr(snap.scores.get((a.area_id, dimension.dimension_id)), "score", None)
                  for a in snap.areas_of(level or snap.map_level)}
        scores = {a: v for a, v in scores.items() if v is not None}
        if not scores:
            continue
        classes = equal_count_classes(scores)
        spans = _spans(classes, scores)
        last = max(spans)
        legend = tuple(MapClass(CLASS_COLOURS[n - 1], f"{n}{_tag(n, last, words)}: {nums.score(min(spans[n]))}–"
                                                      f"{nums.score(max(spans[n]))}") for n in range(1, last + 1))
        layers.append(MapLayer(name(words.lang, dimension.name_es, dimension.name_en), legend, classes))
    return layers


def findings(snap: Snapshot, nums: Numbers, words: Words) -> dict:
    """The first page: the typical score, the best and worst areas, the changes that exceed their uncertainty,
    and the data-quality warnings; every sentence from the data."""
    level = snap.map_level
    scored = [a for a in ranked_areas(snap, level) if getattr(_root(snap, a), "score", None) is not None]
    scores = [_root(snap, a).score for a in scored]
    lines = []
    if scores:
        lines.append(words["finding_median"].format(
            words.level(level, lower=True), nums.score(statistics.median(scores)), nums.score(min(scores)),
            nums.score(max(scores)), nums.integer(len(scores))))

    def brief(area: Area) -> dict:
        root = _root(snap, area)
        return {"name": area.name, "score": nums.score(root.score), "rank": nums.integer(root.rank),
                "band": nums.range(root.rank_best, root.rank_worst), "uncertain": root.quantile_uncertain}

    banded = any(c.band_from[0] is not None for c in snap.changes)
    moved = sorted((c for c in snap.changes if c.level == level and (c.beyond_uncertainty or not banded)
                    and c.score_change is not None), key=lambda c: (-abs(c.score_change), c.area_id))
    failed = [q for q in snap.quality if not q["success"]]
    return {
        "lines": lines,
        "best": [brief(a) for a in scored[:FINDINGS_SHOWN]],
        "worst": [brief(a) for a in scored[::-1][:FINDINGS_SHOWN]],
        "best_title": words["finding_best"].format(FINDINGS_SHOWN),
        "worst_title": words["finding_worst"].format(FINDINGS_SHOWN),
        "changes": [change_row(snap, c, nums) for c in moved[:FINDINGS_SHOWN]],
        "changes_title": words["finding_changes" if banded else "finding_changes_unbanded"].format(
            snap.changes[0].period_from, snap.period) if snap.changes else "",
        "no_changes": words["finding_no_changes"] if snap.changes and not moved else "",
        "quality": (words["finding_quality"].format(nums.integer(len(failed))) if failed
                    else words["finding_quality_ok"] if snap.quality else ""),
    }


def findings_text(found: dict) -> list[str]:
    """The key findings as plain sentences (for the notice of a new report)."""
    lines = list(found["lines"])
    for title, areas in ((found["best_title"], found["best"]), (found["worst_title"], found["worst"])):
        if areas:
            lines.append(f"{title}: " + ", ".join(f"{a['name']} ({a['score']})" for a in areas) + ".")
    if found["changes"]:
        lines.append(f"{found['changes_title']}: " + ", ".join(f"{c['name']} ({c['change']})"
                                                               for c in found["changes"]) + ".")
    return lines + ([found["quality"]] if found["quality"] else [])


def change_row(snap: Snapshot, change: Change, nums: Numbers) -> dict:
    area = snap.areas.get(change.area_id)
    return {
        "area_id": change.area_id,
        "name": area.name if area else change.area_id,
        "score_from": nums.score(change.score_from),
        "score_to": nums.score(change.score_to),
        "change": nums.signed(change.score_change, 1),
        "rank_from": nums.integer(change.rank_from) if change.rank_from is not None else "—",
        "rank_to": nums.integer(change.rank_to) if change.rank_to is not None else "—",
        "band_from": nums.range(*change.band_from),
        "band_to": nums.range(*change.band_to),
        "beyond": change.beyond_uncertainty,
    }


def change_section(snap: Snapshot, nums: Numbers, words: Words) -> dict | None:
    """The change since the previous period at every level that has one, largest rise first, and whether the
    two periods' indices can be compared."""
    if not snap.changes:
        return None
    period_from = snap.changes[0].period_from
    tables = []
    for level in snap.levels:
        rows = [c for c in snap.changes if c.level == level]
        if not rows:
            continue
        rows.sort(key=lambda c: (c.score_change is None, -(c.score_change or 0.0), c.area_id))
        tables.append({"level": level, "title": words.level(level),
                       "rows": [change_row(snap, c, nums) for c in rows]})
    comparable = snap.comparable[0] if snap.comparable is not None else True
    return {
        "title": words["change"].format(period_from, snap.period),
        "period_from": period_from,
        "intro": words["change_intro"].format(words.level(snap.map_level, lower=True)),
        "note": words["comparable"] if comparable else words["not_comparable"].format(
            structural_difference(snap, words) or (snap.comparable or (True, ""))[1], common_basis(snap, words)),
        "comparable": comparable,
        "tables": tables,
    }


def common_basis(snap: Snapshot, words: Words) -> str:
    """The dimensions the change is computed on (marts.index_weights, basis `change <from>-<to>`), by name, and
    the indicators of those dimensions it left out."""
    if snap.change_nodes is None:
        return "—"
    kept = [d.dimension_id for d in snap.dimensions if d.dimension_id in snap.change_nodes]
    named = {i.indicator_id: words.indicator(i) for i in snap.indicators}
    left = sorted(named.get(child, child) for node, child, _ in snap.weights
                  if node in kept and child not in snap.change_nodes)
    text = ", ".join(words.dimension(d) for d in kept)
    return text + (words["basis_without"].format(", ".join(left)) if left else "")


def structural_difference(snap: Snapshot, words: Words) -> str:
    """Why the two periods' indices differ, in the report's language: the dimensions scored in one period only
    and whether the weights changed (marts.change_basis says the same in English)."""
    if not snap.changes:
        return ""
    before, now = snap.changes[0].period_from, snap.period
    dimensions = [d.dimension_id for d in snap.dimensions]
    reasons = []
    for scored, missing_in in ((now, before), (before, now)):
        gone = [words.dimension(d) for d in dimensions if d in snap.scored_nodes.get(scored, set())
                and d not in snap.scored_nodes.get(missing_in, set())]
        if gone:
            reasons.append(words["why_missing"].format(", ".join(gone), missing_in))
    weights = {(n, c): round(w, 9) for n, c, w in snap.weights}
    if snap.weights_from and weights != {(n, c): round(w, 9) for n, c, w in snap.weights_from}:
        reasons.append(words["why_weights"])
    return "; ".join(reasons)


def _direction(direction: float | None, words: Words) -> str:
    if direction is None or direction == 0:
        return "—"
    return words["higher_better"] if direction > 0 else words["lower_better"]


def ordered_indicators(snap: Snapshot) -> list[Indicator]:
    """Indicators grouped by dimension in display order; ones outside the index last."""
    order = {d.dimension_id: i for i, d in enumerate(snap.dimensions)}
    return sorted(snap.indicators, key=lambda i: (order.get(i.dimension, len(order)), i.indicator_id))


def in_index(snap: Snapshot, indicator: Indicator) -> bool:
    return indicator.dimension in {d.dimension_id for d in snap.dimensions}


def indicator_rows(snap: Snapshot, nums: Numbers, words: Words) -> list[dict]:
    """One row per catalogued indicator: its spread over the smallest level and how many areas were withheld."""
    base_areas = snap.areas_of(snap.map_level)
    rows = []
    for ind in ordered_indicators(snap):
        present = [snap.values[(a.area_id, ind.indicator_id)] for a in base_areas
                   if (a.area_id, ind.indicator_id) in snap.values]
        numbers = [v.value for v in present if v.value is not None]
        fmt = value_format(numbers, ind.unit, nums)
        rows.append({
            "indicator_id": ind.indicator_id,
            "name": words.indicator(ind),
            "definition": ind.definition or "",
            "dimension": words.dimension(ind.dimension) if in_index(snap, ind) else "—",
            "unit": unit_label(ind.unit),
            "time_basis": ind.time_basis or "",
            "direction": _direction(ind.direction, words),
            "min": fmt(min(numbers) if numbers else None),
            "median": fmt(statistics.median(numbers) if numbers else None),
            "max": fmt(max(numbers) if numbers else None),
            "suppressed": nums.integer(sum(v.suppressed for v in present)),
            "measured": nums.integer(len(present)),
        })
    return rows


def unit_label(unit: str | None) -> str:
    return "%" if unit == "share" else (unit or "—").replace("_", " ")


def value_format(values: list[float], unit: str | None, nums: Numbers) -> Callable[[float | None], str]:
    """One format per indicator so its cells line up: shares as percentages, counts whole, others by size."""
    places = decimals_for(values, unit or "")
    return lambda value: nums.value(value, unit or "", places)


def _cell(value: IndicatorValue | None, fmt: Callable[[float | None], str]) -> dict:
    if value is None:
        return {"text": "—", "note": ""}
    if value.value is None:
        return {"text": "s" if value.suppressed else "—", "note": value.note or ""}
    return {"text": fmt(value.value), "note": ""}


def level_table(snap: Snapshot, level: str, indicators: list[Indicator], nums: Numbers, words: Words) -> dict | None:
    """Indicator values of every area of `level` (rows: indicators, columns: areas), when published."""
    areas = snap.areas_of(level)
    if not indicators or not any((a.area_id, i.indicator_id) in snap.values for a in areas for i in indicators):
        return None
    rows = []
    for ind in indicators:
        values = [snap.values.get((a.area_id, ind.indicator_id)) for a in areas]
        fmt = value_format([v.value for v in values if v is not None and v.value is not None], ind.unit, nums)
        rows.append({"name": words.indicator(ind), "unit": unit_label(ind.unit),
                     "cells": [_cell(v, fmt) for v in values]})
    return {"areas": [a.name for a in areas], "rows": rows}


def outside_section(snap: Snapshot, nums: Numbers, words: Words) -> dict | None:
    """The indicators the index leaves out (NBI strata, Alkire-Foster H, A, M0 and contributions; Bolivia's
    employment and identity), by the top level, one table per catalogue dimension in display order."""
    outside = [i for i in ordered_indicators(snap) if not in_index(snap, i)]
    order = {d: k for k, d in enumerate(snap.dimension_names)}
    groups = []
    for dimension in sorted({i.dimension for i in outside}, key=lambda d: (order.get(d, len(order)), str(d))):
        table = level_table(snap, snap.top_level, [i for i in outside if i.dimension == dimension], nums, words)
        if table is not None:
            es_en = snap.dimension_names.get(dimension)
            groups.append({"id": dimension, "title": name(words.lang, *es_en) if es_en else str(dimension),
                           "table": table})
    if not groups:
        return None
    intro = words["outside_intro"].format(words.level(snap.top_level, lower=True))
    if any(i.indicator_id.startswith(("nbi", "af_")) for i in outside):
        intro += " " + words["poverty_intro"]
    return {"intro": intro, "groups": groups}


def _survey_value(value, unit: str, nums: Numbers) -> str:
    return nums.percent(value) if unit == "share" else nums.decimal(value, 1)


def survey_cell(row: dict | None, unit: str, nums: Numbers) -> str:
    """A direct survey estimate with its interval, "32,9% (27,9–37,9)"; "s" when withheld; † when unreliable."""
    if row is None:
        return "—"
    if row["suppressed"]:
        return "s"
    text = (f"{_survey_value(row['estimate'], unit, nums)} ({_survey_value(row['ci_low'], unit, nums)}"
            f"–{_survey_value(row['ci_high'], unit, nums)})")
    return text if row["reliable"] else text + " †"


def survey_section(snap: Snapshot, nums: Numbers, words: Words) -> dict | None:
    """The household survey: every measure for the city and each top-level area (direct estimates with their
    intervals), and the small-area estimates of income poverty by the level the city models."""
    if not snap.survey_measures or not snap.survey_estimates:
        return None
    direct = {(r["area_id"], r["measure_id"]): r for r in snap.survey_estimates if r["method"] == "direct"}
    city_rows = [r for r in snap.survey_estimates if r["level"] == "city" and r["method"] == "direct"]
    city_id = city_rows[0]["area_id"] if city_rows else None
    tops = snap.areas_of(snap.top_level)
    columns = [words["survey_all"], *[a.name for a in tops]]
    rows = []
    for measure in snap.survey_measures:
        unit = measure["unit"]
        cells = [survey_cell(direct.get((city_id, measure["measure_id"])), unit, nums),
                 *[survey_cell(direct.get((a.area_id, measure["measure_id"])), unit, nums) for a in tops]]
        rows.append({"name": name(words.lang, measure["name_es"], measure["name_en"]),
                     "unit": "%" if unit == "share" else unit, "cells": cells})
    model_rows = sorted((r for r in snap.survey_estimates if r["method"] in ("eblup", "synthetic")),
                        key=lambda r: r["area_id"])
    small = None
    if model_rows:
        level = model_rows[0]["level"]
        small = {"title": words["survey_small"].format(words.level(level, lower=True)),
                 "intro": words["survey_small_intro"].format(words.level(level, lower=True)),
                 "rows": [{"name": snap.areas[r["area_id"]].name if r["area_id"] in snap.areas else r["area_id"],
                           "value": nums.percent(r["estimate"]), "margin": "± " + nums.percent(1.96 * r["se"]),
                           "households": nums.integer(r["households"]),
                           "how": words[f"survey_method_{r['method']}"]} for r in model_rows]}
    answered = max((r["households"] for r in city_rows), default=0)
    by_id = {m["measure_id"]: m for m in snap.survey_measures}
    extreme, moderate = by_id.get("income_poverty_extreme", {}), by_id.get("income_poverty_moderate", {})
    intro = words["survey_intro"].format(snap.survey_measures[0]["source"], nums.integer(answered),
                                         nums.decimal(extreme.get("poverty_line"), 2),
                                         nums.decimal(moderate.get("poverty_line"), 2), moderate.get("line_unit") or "",
                                         moderate.get("line_source") or "")
    return {"intro": intro, "columns": columns, "rows": rows, "small": small}


def profiles(snap: Snapshot, nums: Numbers, words: Words) -> list[dict]:
    """One profile per top-level area: its own score and the ranked areas of the smallest level inside it."""
    top, base = snap.top_level, snap.map_level
    if top == base:
        return []
    rows = score_rows(snap, base, nums)
    by_top: dict[str, list[dict]] = {}
    for row in rows:
        parent = snap.ancestor_at(snap.areas[row["area_id"]], top)
        if parent is not None:
            by_top.setdefault(parent.area_id, []).append(row)
    ranked_tops = [a for a in snap.areas_of(top) if getattr(_root(snap, a), "rank", None) is not None]
    out = []
    for area in ranked_areas(snap, top):
        root = _root(snap, area)
        members = by_top.get(area.area_id, [])
        summary = words["profile_areas"].format(
            nums.integer(len(members)), words.level(base, lower=True),
            nums.score(getattr(root, "score", None)),
            nums.integer(root.rank) if root is not None and root.rank is not None else "—",
            nums.integer(len(ranked_tops)))
        dims = [(name(words.lang, d.name_es, d.name_en),
                 nums.score(getattr(snap.scores.get((area.area_id, d.dimension_id)), "score", None)))
                for d in snap.dimensions]
        out.append({"area_id": area.area_id, "name": area.name, "summary": summary, "dimensions": dims,
                    "rows": members})
    return out


def suppression(snap: Snapshot, nums: Numbers, words: Words) -> dict:
    """How many figures of the smallest level were withheld this period, by reason."""
    base = {a.area_id for a in snap.areas_of(snap.map_level)}
    cells = [v for (area, _), v in snap.values.items() if area in base]
    reasons = Counter(v.suppression or "primary" for v in cells if v.suppressed)
    minimum = Counter(i.min_denominator for i in snap.indicators if i.min_denominator)
    threshold = minimum.most_common(1)[0][0] if minimum else 20
    return {
        "text": words["suppression_text"].format(nums.integer(threshold), words.level(snap.map_level, lower=True),
                                                 nums.integer(sum(reasons.values())), nums.integer(len(cells))),
        "reasons": [(words.text.get(f"reason_{r}", r), nums.integer(n)) for r, n in sorted(reasons.items())],
    }


def method(snap: Snapshot, nums: Numbers, words: Words) -> dict | None:
    """The index as built: from the spec stored beside the scores (marts.index_runs) and the weights the engine
    used (marts.index_weights), so the description cannot drift from the numbers."""
    if not snap.weights:
        return None
    spec = yaml.safe_load(snap.spec_yaml) if snap.spec_yaml else {}
    normalise = {i["id"]: i.get("normalise") or {} for i in spec.get("indicators") or [] if "id" in i}
    direction = {i["id"]: i.get("direction") for i in spec.get("indicators") or [] if "id" in i}
    catalogue = {i.indicator_id: i for i in snap.indicators}
    weights: dict[str, list[tuple[str, float]]] = {}
    for node, child, weight in snap.weights:
        weights.setdefault(node, []).append((child, weight))

    def how(indicator_id: str) -> str:
        rule = normalise.get(indicator_id, {})
        if rule.get("method") == "goalposts":
            unit = getattr(catalogue.get(indicator_id), "unit", None) or ""
            ends = [rule.get("min"), rule.get("max")]
            places = 0 if unit == "share" else decimals_for(ends, unit)
            return words["normalise_goalposts"].format(*(nums.value(v, unit, places) for v in ends))
        return words["normalise_rank"] if rule.get("method") == "rank" else words["normalise_minmax"]

    dimensions = []
    order = {d.dimension_id: k for k, d in enumerate(snap.dimensions)}
    for dimension, dim_weight in sorted(weights.get(snap.index_id, []), key=lambda w: (order.get(w[0], len(order)),
                                                                                         w[0])):
        children = [{"name": words.indicator(catalogue[c]) if c in catalogue else c,
                     "weight": nums.percent(w, 1), "direction": _direction(direction.get(c), words),
                     "normalisation": how(c)} for c, w in weights.get(dimension, [])]
        dimensions.append({"name": words.dimension(dimension), "weight": nums.percent(dim_weight, 1),
                           "indicators": children})
    methods = sorted({how(i) for d in dimensions for i in [c["normalisation"] for c in d["indicators"]]})
    indicators = sum(len(d["indicators"]) for d in dimensions)
    missing = (spec.get("missing") or {}).get("min_share")
    return {
        "intro": words["method_intro"].format(snap.index_id, nums.integer(indicators), nums.integer(len(dimensions)),
                                              "; ".join(methods)),
        "missing": words["method_missing"].format(nums.percent(missing, 0)) if missing is not None else "",
        "dimensions": dimensions,
    }


def sources(snap: Snapshot, nums: Numbers, words: Words, citation: str | None) -> dict:
    pub = snap.publication
    line = ""
    if pub:
        stamp = pub.get("published_at")
        line = words["publication"].format(nums.date(stamp.date()) if stamp else "—", pub.get("project_version") or "—",
                                           (pub.get("git_commit") or "—")[:12])
    groups: dict[tuple[str, str], list[dict]] = {}
    for delivery in snap.sources:  # daily sensor files by the dozen: one line per source and year
        groups.setdefault((delivery["source"], str(delivery["period"] or "")[:4]), []).append(delivery)
    rows = []
    for (source, _), files in groups.items():
        periods = sorted(str(f["period"] or "") for f in files)
        received = sorted(f["received_at"].date() for f in files if f.get("received_at"))
        counted = [f["rows"] for f in files if f.get("rows") is not None]
        rows.append({
            "source": source,
            "delivery": files[0]["delivery"] if len(files) == 1 else words["files"].format(nums.integer(len(files))),
            "period": periods[0] if periods[0] == periods[-1] else f"{periods[0]} – {periods[-1]}",
            "rows": nums.integer(sum(counted)) if counted else "—",
            "sha256": (files[0]["sha256"] or "")[:16] + "…" if len(files) == 1 else "datapackage.json",
            "received": " – ".join(dict.fromkeys(nums.date(d) for d in (received[0], received[-1]))) if received
            else "—",
        })
    return {"publication": line, "rows": rows, "citation": citation or ""}


def summary_areas(snap: Snapshot) -> dict[str, dict]:
    """Each area of the smallest level with its score, rank and band: what the next report compares itself with
    (written as report.json)."""
    return {area.area_id: {"name": area.name, "score": score.score, "rank": score.rank,
                           "band": [score.rank_best, score.rank_worst]}
            for area in snap.areas_of(snap.map_level)
            if (score := snap.scores.get((area.area_id, snap.index_id))) is not None}


def since_last(snap: Snapshot, previous: dict | None, nums: Numbers, words: Words) -> list[str]:
    """What changed since the previous report: a new period or indicators, and the areas whose rank left the
    band the previous report gave them (a move larger than the index's own uncertainty)."""
    if previous is None:
        return [words["since_none"]]
    lines = [words["since_previous"].format(previous.get("published_at") or "—")]
    entered = []
    if previous.get("period") != snap.period:
        entered.append(f"{words['period']} {snap.period}")
    new = sorted(set(i.indicator_id for i in snap.indicators) - set(previous.get("indicators") or []))
    entered += [words.indicator(next(i for i in snap.indicators if i.indicator_id == n)) for n in new]
    if entered:
        lines.append(words["since_entered"].format(", ".join(entered)))
    moved = []
    now = summary_areas(snap)
    for area_id, before in sorted((previous.get("areas") or {}).items()):
        after = now.get(area_id)
        best, worst = before.get("band") or [None, None]
        if after is None or after["rank"] is None or best is None or worst is None:
            continue
        if not best <= after["rank"] <= worst:
            moved.append(f"{after['name']} ({nums.range(best, worst)} → {nums.integer(after['rank'])})")
    if moved:
        lines.append(words["since_moved"].format("; ".join(moved)))
    elif not entered and previous.get("areas") == now:
        lines.append(words["since_same"])
    return lines


CHANGE_COLOURS = ("#1b7837", "#7fbf7b", "#e7e1ef", "#af8dc3", "#762a83")  # largest rise first (PRGn, reversed)


def change_map(snap: Snapshot, nums: Numbers, words: Words) -> tuple[list[MapArea], list[MapClass]]:
    """The change of the composite score at the smallest level in five classes of equal counts, largest rise
    first; each area's details say both scores, both ranks and whether the change exceeds its uncertainty."""
    level = snap.map_level
    changes = {c.area_id: c for c in snap.changes if c.level == level}
    banded = any(c.band_from[0] is not None for c in snap.changes)
    values = {c.area_id: c.score_change for c in changes.values() if c.score_change is not None}
    if not values:
        return [], []
    klass = equal_count_classes(values, len(CHANGE_COLOURS))
    spans = _spans(klass, values)
    classes = [MapClass(CHANGE_COLOURS[n - 1], f"{nums.signed(min(spans[n]), 1)} … {nums.signed(max(spans[n]), 1)}")
               for n in range(1, max(spans) + 1)]
    out = []
    for area in snap.areas_of(level):
        change = changes.get(area.area_id)
        if not area.geometry_wkt or change is None:
            continue
        row = change_row(snap, change, nums)
        details = ((words["change_col"], row["change"]),
                   (words["score_from"].format(change.period_from), row["score_from"]),
                   (words["score_to"].format(snap.period), row["score_to"]),
                   (words["rank_change"].format(change.period_from, snap.period),
                    f"{row['rank_from']} → {row['rank_to']}"))
        if banded:
            details += ((words["beyond"], "✓" if row["beyond"] else "—"),)
        out.append(MapArea(area.area_id, area.name, area.geometry_wkt, klass.get(area.area_id), None, details))
    return out, classes
