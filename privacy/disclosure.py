"""Statistical disclosure control: the one place every published count-based figure passes (docs/privacy.md).

`protect` takes the exact counts behind every cell of one period (an area x an indicator: numerator and
denominator, and the households behind them where a figure counts persons of whole households) and returns why
each cell is withheld, or None when it may be published:

- **primary** - the cell itself breaks a rule (`breaks_rules`): fewer cases in its denominator than the indicator's
  minimum; a numerator of 1 to `min_count - 1` cases; for a share, a complement (denominator - numerator) of
  1 to `min_count - 1` cases; for a share of a group smaller than `group_min`, 0% or 100% (everyone in the group
  has the attribute, or no one has).
- **sensitive** - the cell passes those rules but not the stricter ones of an indicator the catalogue flags
  `sensitive: true` (violence, health): `sensitive_min_denominator` and `sensitive_min_count`.
- **secondary** - the cell is published-safe on its own but withheld so that no other cell can be recovered:
  1. *Relations between indicators* (the catalogue's `relations:`: A's numerator is M0's, M0 is the weighted sum
     of the censored headcounts, the strata add up to the whole; `Relation`): in an area, no relation may have
     exactly one withheld cell, and the withheld parts of a sum together must not be a small count nor 0. When
     one would, the published part with the fewest cases is withheld too (a `headline: true` indicator of the
     catalogue, such as the NBI-poor or H, only when nothing else will do).
  2. *The area hierarchy* (zone -> district -> macrodistrict -> city; a parent's counts are the sums of its
     children's). For every parent and each indicator, the cells of the equation `parent = sum of children` that
     are withheld must be none or at least two, and when the parent is published, the withheld children taken
     together (what an attacker gets as parent minus published children) must pass the primary rules and be
     neither 0% nor 100% (counts are never negative: a total of 0 makes each 0). When an
     equation breaks either condition, the published child that costs users least (fewest residents) is withheld
     too, or the parent when no child is left; repeated, with the relations, until nothing changes.

Within one indicator that is enough against exact recovery: each cell is in at most two equations (as a child
of its parent, as the parent of its children) and, the areas forming a tree, the equations form a forest; in a
forest of equations each holding no withheld cell or at least two, any withheld cell can be moved by any amount
with the others compensating along the tree, so none is determined. Relations between indicators join those
forests into cycles, and counts cannot be negative (a total of 0 over withheld cells makes each 0), so the
heuristic is then **audited**: the attacker (`privacy.attack`, linear algebra and non-negativity) is run on what
the pattern would publish, and for every cell it works out, a cheap published neighbour in the same equation (a
sibling, the parent, a child) is withheld; heuristic and audit alternate until the attacker finds nothing. If it
still finds something after `MAX_AUDIT_ROUNDS`, `DisclosureError` stops the run: nothing is published. This is the
singleton/residual heuristic of tau-argus's hypercube method with tau-argus-style auditing: not an optimal
(minimum-loss) pattern, but one whose cost is shown in docs/privacy.md.

Indicators with `min_denominator: 0` in the catalogue are not counts of people (sensor means) or are figures a
statistics office already published (the Bolivian census tables): they are outside disclosure control.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cities import City
from cities.schema import Disclosure

_DEFAULTS = Disclosure()

PRIMARY, SENSITIVE, SECONDARY = "primary", "sensitive", "secondary"
REASONS = (PRIMARY, SENSITIVE, SECONDARY)


@dataclass(frozen=True)
class Rules:
    """The thresholds of a city's disclosure control (`disclosure:` in city.yaml; defaults and checks in
    cities/schema.py `Disclosure`).

    The defaults follow INE Bolivia's and the UK ONS's census practice for small areas: no figure on fewer than
    20 cases, no count of 1 to 4 derivable, and stricter limits for sensitive topics (docs/privacy.md).
    """

    min_denominator: int = _DEFAULTS.min_denominator  # cases (persons, households) behind a figure
    min_count: int = _DEFAULTS.min_count              # numerators (and complements) of 1 .. min_count - 1 withheld
    group_min: int = _DEFAULTS.group_min              # a share of 0% or 100% of fewer cases than this is withheld
    sensitive_min_denominator: int = _DEFAULTS.sensitive_min_denominator
    sensitive_min_count: int = _DEFAULTS.sensitive_min_count

    @classmethod
    def of(cls, city: City) -> Rules:
        """The city's rules (checked when its config was loaded)."""
        return cls(**city.settings.disclosure.model_dump())


@dataclass(frozen=True)
class Limits:
    """The thresholds one indicator's cells are held to."""

    min_denominator: float
    min_count: float
    group_min: float
    share: bool


def limits(rules: Rules, *, min_denominator: float, share: bool, sensitive: bool) -> Limits:
    """An indicator's limits: the catalogue's minimum denominator, and the sensitive thresholds where flagged."""
    if sensitive:
        return Limits(max(min_denominator, rules.sensitive_min_denominator), rules.sensitive_min_count,
                      rules.group_min, share)
    return Limits(min_denominator, rules.min_count, rules.group_min, share)


def breaks_rules(numerator: float, denominator: float, limits: Limits, *, numerator_cases: float | None = None,
                 denominator_cases: float | None = None) -> bool:
    """Whether a cell (or a sum of cells) may not be published under `limits`.

    `numerator` and `denominator` are in the figure's own unit (persons, households, events); the `_cases`
    arguments, where given, are the households behind a share of persons, and the small-count rules apply to
    them (five persons may be one household).
    """
    num = numerator if numerator_cases is None or math.isnan(numerator_cases) else numerator_cases
    den = denominator if denominator_cases is None or math.isnan(denominator_cases) else denominator_cases
    if denominator < limits.min_denominator:
        return True
    if 0 < num < limits.min_count:
        return True
    if not limits.share:
        return False
    rest = den - num
    if 0 < rest < limits.min_count:
        return True
    return (numerator == 0 or numerator == denominator) and den < limits.group_min


def indicator_limits(catalogue: pd.DataFrame, rules: Rules) -> dict[str, tuple[Limits, Limits]]:
    """Per controlled indicator: (its limits, the limits it would have were it not sensitive)."""
    out = {}
    for row in catalogue.itertuples():
        if not row.min_denominator > 0:
            continue  # not a count of people: outside disclosure control (see the module doc)
        sensitive = bool(getattr(row, "sensitive", False))
        share = row.unit == "share"
        out[row.indicator_id] = (limits(rules, min_denominator=row.min_denominator, share=share, sensitive=sensitive),
                                 limits(rules, min_denominator=row.min_denominator, share=share, sensitive=False))
    return out


@dataclass(frozen=True)
class Relation:
    """A linear fact between indicators' counts that holds in every area (declared under `relations:` in the
    catalogue), so that publishing some of them can give away another:

    same  two indicators' numerators are equal, or proportional (A's numerator is M0's; a contribution's numerator
          is its weight times a censored headcount): both withheld or neither.
    gives the first's counts give the second's numerator (A's denominator is H's numerator; a contribution's
          denominator is M0's numerator): when the second is withheld, so is the first (not the other way round:
          a withheld first leaves only a denominator, a count of who is measured, to read in the second).
    sum   `whole` is the (weighted) sum of `parts` (M0 = sum of w_j CH_j; the poor strata make up the NBI-poor);
          no `whole`: the parts add up to their common denominator, which is published (the five strata).
    """

    kind: str
    members: tuple[str, ...]
    whole: str | None = None
    why: str = ""


def protect(cells: pd.DataFrame, catalogue: pd.DataFrame, parents: pd.Series, cost: pd.Series,
            rules: Rules, relations: list[Relation] = ()) -> pd.Series:
    """Why each cell is withheld (`primary`, `sensitive`, `secondary`) or None: the disclosure pattern.

    cells      one period's cells: area_id, indicator_id, numerator, denominator, and optionally
               numerator_cases, denominator_cases (households behind a share of persons)
    catalogue  indicator_id, unit, min_denominator, and optionally sensitive and headline (bool)
    parents    area_id -> parent_id (None at the top)
    cost       area_id -> what withholding the area costs users (its residents): the cheapest goes first
    relations  the catalogue's linear facts between indicators (`Relation`)
    """
    cells = cells.reset_index(drop=True)
    controlled = indicator_limits(catalogue, rules)
    num_cases = cells["numerator_cases"] if "numerator_cases" in cells else pd.Series(math.nan, index=cells.index)
    den_cases = cells["denominator_cases"] if "denominator_cases" in cells else pd.Series(math.nan, index=cells.index)

    reason: list[str | None] = [None] * len(cells)
    where: dict[tuple[str, str], int] = {}
    for i, (area, indicator, num, den, n_cases, d_cases) in enumerate(zip(
            cells["area_id"], cells["indicator_id"], cells["numerator"], cells["denominator"], num_cases, den_cases,
            strict=True)):
        where[(indicator, area)] = i
        if indicator not in controlled or not den > 0:
            continue
        own, plain = controlled[indicator]
        if breaks_rules(num, den, own, numerator_cases=n_cases, denominator_cases=d_cases):
            broken_plain = breaks_rules(num, den, plain, numerator_cases=n_cases, denominator_cases=d_cases)
            reason[i] = PRIMARY if broken_plain else SENSITIVE

    children: dict[str, list[str]] = defaultdict(list)
    for area, parent in parents.items():
        if isinstance(parent, str):
            children[parent].append(area)
    for kids in children.values():
        kids.sort(key=lambda a: (cost.get(a, 0), a))
    areas = sorted({area for _, area in where})
    relations = [r for r in relations if all(m in controlled for m in (*r.members, *([r.whole] if r.whole else [])))]

    headline = set(catalogue.loc[catalogue["headline"].fillna(False).astype(bool), "indicator_id"]) \
        if "headline" in catalogue else set()

    # plain arrays: the passes below read single cells hundreds of thousands of times
    numerators = cells["numerator"].to_numpy(dtype=float)
    denominators = cells["denominator"].to_numpy(dtype=float)
    indicators = cells["indicator_id"].to_numpy(dtype=object)
    cases = {"numerator_cases": np.where(np.isnan(num_cases.to_numpy(dtype=float)), numerators,
                                         num_cases.to_numpy(dtype=float)),
             "denominator_cases": np.where(np.isnan(den_cases.to_numpy(dtype=float)), denominators,
                                           den_cases.to_numpy(dtype=float))}

    def measured(i: int) -> bool:
        return denominators[i] > 0

    def cheapest(candidates) -> list[int]:
        """Cells in the order to withhold them: headline figures last, then the fewest cases first."""
        return sorted(candidates, key=lambda i: (indicators[i] in headline, cases["numerator_cases"][i], i))

    def relation_pass() -> bool:
        """No relation may leave exactly one of its cells withheld in an area; a sum's withheld parts together
        must not be a count of 1 .. min_count - 1 when its whole is known. A member with no one to measure is
        withheld with the others too: "the denominator is zero" would tell (A's denominator is H's numerator)."""
        changed = False
        for relation in relations:
            count = controlled[relation.members[0]][0].min_count
            for area in areas:
                parts = [where.get((m, area)) for m in relation.members]
                whole = where.get((relation.whole, area)) if relation.whole else None
                if None in parts or (relation.whole and whole is None):
                    continue
                if relation.kind in ("same", "gives"):
                    first, second = parts
                    hidden = reason[first] is not None, reason[second] is not None
                    if hidden == (False, True) or (relation.kind == "same" and hidden == (True, False)):
                        for i in parts:
                            reason[i] = reason[i] or SECONDARY
                        changed = True
                    continue
                hidden = [i for i in parts if reason[i] is not None]
                whole_known = whole is None or reason[whole] is None
                unknown = len(hidden) + (not whole_known)
                if unknown == 0:
                    continue
                unsafe = unknown == 1
                if not unsafe and whole_known:  # their total: no small count, and not 0 (counts are >= 0)
                    unsafe = sum(cases["numerator_cases"][i] for i in hidden) < count
                if not unsafe:
                    continue
                candidates = cheapest(i for i in parts if reason[i] is None and measured(i))
                if candidates:
                    reason[candidates[0]] = SECONDARY
                elif whole is not None and reason[whole] is None:
                    reason[whole] = SECONDARY
                else:
                    continue
                changed = True
        return changed

    def hierarchy_pass() -> bool:
        changed = False
        for indicator, (own, _) in controlled.items():
            for parent, kids in children.items():
                p = where.get((indicator, parent))
                if p is None or not measured(p):
                    continue
                rows = [where[(indicator, k)] for k in kids if (indicator, k) in where]
                hidden = [k for k in rows if reason[k] is not None]
                unknown = len(hidden) + (reason[p] is not None)
                if unknown == 0:
                    continue
                unsafe = unknown == 1
                if not unsafe and reason[p] is None:
                    residual = [float(numerators[hidden].sum()), float(denominators[hidden].sum())]
                    unsafe = breaks_rules(*residual, own, numerator_cases=float(cases["numerator_cases"][hidden].sum()),
                                          denominator_cases=float(cases["denominator_cases"][hidden].sum())) \
                        or residual[0] == 0 or (own.share and residual[0] == residual[1])  # all 0%, all 100%
                if not unsafe:
                    continue
                candidates = [k for k in rows if reason[k] is None and measured(k)]
                if candidates:
                    reason[candidates[0]] = SECONDARY  # kids are sorted cheapest first
                elif reason[p] is None:
                    reason[p] = SECONDARY
                else:
                    continue
                changed = True
        return changed

    def settle() -> None:
        while relation_pass() | hierarchy_pass():
            pass

    def repair(indicator: str, areas_first: list[str]) -> bool:
        """Withhold the first published, measured cell of `indicator` among `areas_first`, one that counts
        someone first (adding a 0 to a total of 0 protects nothing)."""
        found = [i for i in (where.get((indicator, a)) for a in areas_first)
                 if i is not None and reason[i] is None and measured(i)]
        found.sort(key=lambda i: cases["numerator_cases"][i] == 0)  # stable: the given order otherwise
        if found:
            reason[found[0]] = SECONDARY
        return bool(found)

    def repair_related(indicator: str, area: str) -> bool:
        """Withhold the published cell with the fewest cases among the indicator's relations in the area."""
        related = {m for r in relations if indicator in (*r.members, r.whole)
                   for m in (*r.members, *([r.whole] if r.whole else []))} - {indicator}
        cells_here = [where[(m, area)] for m in sorted(related) if (m, area) in where]
        candidates = cheapest(i for i in cells_here if reason[i] is None and measured(i))
        if candidates:
            reason[candidates[0]] = SECONDARY
        return bool(candidates)

    settle()
    structure: dict = {}  # the facts the attacker finds in the data: found on the first round, reused after
    for _ in range(MAX_AUDIT_ROUNDS):
        exposed, small_totals = audit(cells, reason, catalogue, parents, relations, structure)
        if not exposed and not small_totals:
            break
        repaired = False
        for indicator, area in exposed:  # a cell worked out: withhold a cheap neighbour in its equations
            parent = parents.get(area)
            siblings = children.get(parent, []) if isinstance(parent, str) else []
            around = [a for a in siblings if a != area] + ([parent] if isinstance(parent, str) else [])
            repaired |= repair(indicator, around + children.get(area, [])) or repair_related(indicator, area)
        for indicator, parent in small_totals:  # a small total of withheld children: one more child
            repaired |= repair(indicator, children.get(parent, []) + [parent])
        if not repaired:
            break
        settle()
    else:
        exposed, small_totals = audit(cells, reason, catalogue, parents, relations, structure)
    if exposed or small_totals:
        shown = ", ".join(f"{i} in {a}" for i, a in [*exposed, *small_totals][:5])
        raise DisclosureError(f"disclosure control could not protect {len(exposed)} withheld cell(s) and "
                              f"{len(small_totals)} total(s) (e.g. {shown}): nothing is published; see "
                              "docs/privacy.md")
    return pd.Series(reason, index=cells.index, dtype="object")


MAX_AUDIT_ROUNDS = 25


class DisclosureError(RuntimeError):
    """The pattern still lets the attacker work out a withheld cell after every repair: publish nothing."""


def audit(cells: pd.DataFrame, reason: list, catalogue: pd.DataFrame, parents: pd.Series,
          relations: list[Relation], structure: dict | None = None) -> tuple[list[tuple[str, str]],
                                                                         list[tuple[str, str]]]:
    """The attacker (privacy/attack.py) on what this pattern would publish: the withheld cells it works out
    (indicator, area) and the parents whose withheld children add up to a small count (indicator, parent)."""
    from privacy.attack import attack_tables

    withheld = pd.Series([r is not None for r in reason], index=cells.index)
    unmeasured = ~(cells["denominator"] > 0) & ~withheld  # published as "no one to measure": 0 of 0
    values = pd.DataFrame({
        "area_id": cells["area_id"], "indicator_id": cells["indicator_id"], "period": "audit",
        "numerator": cells["numerator"].where(~withheld).mask(unmeasured, 0.0),
        "denominator": cells["denominator"].where(~withheld).mask(unmeasured, 0.0), "suppressed": withheld})
    areas = pd.DataFrame({"area_id": parents.index, "parent_id": parents.to_numpy()})
    columns = [c for c in ("indicator_id", "unit", "min_denominator", "weighted") if c in catalogue]
    snapshot = {"values": values, "areas": areas, "catalogue": catalogue[columns], "change": pd.DataFrame()}
    findings = attack_tables(snapshot, relations, structure)
    rec = findings.recovered
    exposed = [] if rec.empty else list(zip(rec.loc[rec["column"] == "numerator", "indicator_id"],
                                            rec.loc[rec["column"] == "numerator", "area_id"], strict=True))
    full = findings.recovered_values
    exposed += [] if full.empty else list(zip(full["indicator_id"], full["area_id"], strict=True))
    small = findings.small_derived
    return exposed, [] if small.empty else list(zip(small["indicator_id"], small["parent_id"], strict=True))


def expand_relations(entries: list, known: list[str], where: str, *, strict: bool = True) -> list[Relation]:
    """The catalogue's `relations:` entries as `Relation`s, globs expanded (`af_ch_*`); two globs in a pair
    match by what `*` stands for. A clear error names the entry for an unknown or unmatched indicator; with
    `strict` false such a relation is left out instead (the attacker reading a snapshot that publishes fewer
    indicators, as `protect` leaves out relations on indicators it does not control)."""
    import fnmatch

    class Unmatched(ValueError):
        pass

    def match(pattern: str, position: int) -> list[str]:
        found = sorted(fnmatch.filter(known, pattern)) if "*" in pattern else [pattern] if pattern in known else []
        if not found:
            raise Unmatched(f"{where}: relation #{position}: no indicator {pattern!r} in the catalogue")
        return found

    out = []
    for position, entry in enumerate(entries or [], start=1):
        try:
            out += _expanded(entry, position, match, where)
        except Unmatched:
            if strict:
                raise
    return out


def _expanded(entry: dict, position: int, match, where: str) -> list[Relation]:
    """One `relations:` entry as its Relations (`match` expands a name or glob)."""
    why = str(entry.get("why", ""))
    kind = [k for k in ("same", "gives", "sum") if k in entry]
    if set(entry) - {"same", "gives", "sum", "parts", "why"} or len(kind) != 1 or \
            (kind[0] == "sum") != ("parts" in entry):
        raise ValueError(f"{where}: relation #{position}: expected `same: [a, b]`, `gives: [a, b]` or "
                         f"`sum: <whole or null>` with `parts:`, got {sorted(entry)}")
    if kind[0] in ("same", "gives"):
        first, second = entry[kind[0]]
        a, b = match(first, position), match(second, position)
        if "*" in first and "*" in second:
            stem = {p: p[len(first.split('*')[0]):] for p in a}
            others = {p[len(second.split('*')[0]):]: p for p in b}
            pairs = [(p, others[suffix]) for p, suffix in stem.items() if suffix in others]
        else:
            pairs = [(x, y) for x in a for y in b]
        return [Relation(kind[0], pair, why=why) for pair in pairs]
    parts = entry["parts"]
    names = [n for p in ([parts] if isinstance(parts, str) else parts) for n in match(p, position)]
    whole = entry.get("sum")
    return [Relation("sum", tuple(names), whole=match(whole, position)[0] if whole else None, why=why)]
