"""The attacker: what someone with the published snapshot and a spreadsheet can recover of the cells we withhold.

    python -m privacy.attack var/published/la_paz_demo/current.duckdb

Written to be read by a sceptic. It knows only what a planner gets - `marts.indicator_values` (with numerators
and denominators), `marts.areas` (the tree), `marts.area_population`, `marts.indicator_catalogue` and the change
tables - and writes down every linear fact the snapshot states, then solves them:

1. **The hierarchy.** An additive count (numerator, denominator, population) of a parent is the sum of its
   children's (a district is the sum of its zones). Additivity is not assumed: an indicator counts as additive
   when every fully published family of it sums exactly.
2. **Counts shared between indicators.** Two count columns that are proportional in every area where both are
   published (A's numerator is M0's; A's denominator is H's numerator; a contribution's numerator is the weight
   times a censored headcount) are taken to be so where one is withheld.
3. **Parts that add up to a whole.** Indicators sharing a denominator whose numerators add up to it in every
   published area (the NBI strata; the AF contributions add up to their common denominator), and the sums the
   catalogue declares (M0 is the weighted sum of the censored headcounts; the NBI-poor are three strata), with
   their weights fitted on the published areas and used only where they hold exactly.
4. **Vintage differences.** `marts.indicator_change` publishes value_to - value_from: with one end published and
   the change published, the other end follows.

Facts 1-3 are solved together as one linear system per period: first by substitution (an equation with one
unknown gives it) and by the sign of counts (an equation whose unknowns add up to 0 makes each of them 0),
repeated until nothing new, then exactly, with linear algebra - a withheld count is determined when every
solution of the system gives it the same value (its coordinate is zero in every null-space vector). A published
share whose withheld children's complement adds up to 0 makes each of them 100%. It reports the withheld cells
it recovered and the counts of 1-4 it can read or derive: published numerators or complements of 1-4, and sums
an attacker gets as a published parent minus its published children.
Index scores are not attacked: they are computed from exact values and flagged (`suppressed_inputs`), see
docs/privacy.md.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TOLERANCE = 1e-6
SMALL = (1, 4)  # counts an attacker must never read or derive
COLUMNS = ("numerator", "denominator")


@dataclass
class Findings:
    """What the attack found."""

    recovered: pd.DataFrame = field(default_factory=pd.DataFrame)     # withheld counts worked out exactly
    recovered_values: pd.DataFrame = field(default_factory=pd.DataFrame)  # withheld values: changes, 100% residuals
    small_published: pd.DataFrame = field(default_factory=pd.DataFrame)   # published counts of 1-4
    small_derived: pd.DataFrame = field(default_factory=pd.DataFrame)     # parent minus children: 1-4
    additive: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    suppressed: int = 0

    @property
    def denominators(self) -> int:
        """Withheld denominators worked out (from another indicator over the same persons or households): the
        number measured in an area, not anyone's answer, so not counted as a leak (docs/privacy.md)."""
        return int((self.recovered["column"] == "denominator").sum()) if len(self.recovered) else 0

    def summary(self) -> dict[str, int]:
        """The leaks: every figure must be 0 but the first."""
        rec = self.recovered
        numerators = int((rec["column"] == "numerator").sum()) if len(rec) else 0
        return {
            "withheld cells": self.suppressed,
            "withheld numerators recovered": numerators,
            "withheld values recovered": len(self.recovered_values),
            "published counts of 1-4": len(self.small_published),
            "derived counts of 1-4": len(self.small_derived),
        }


def _tiny(numerator: pd.Series, denominator: pd.Series, share: pd.Series) -> pd.Series:
    """Counts whose numerator, or (for shares) complement, is 1 to 4 cases."""
    rest = denominator - numerator
    return numerator.between(*SMALL) | (share & rest.between(*SMALL))


def read_snapshot(path: Path) -> dict[str, pd.DataFrame]:
    """What a planner can read."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'marts'").fetchall()}
        out = {
            "values": con.execute("SELECT * FROM marts.indicator_values").df(),
            "areas": con.execute("SELECT area_id, parent_id, population FROM marts.areas").df(),
            "population": (con.execute("SELECT area_id, period, population FROM marts.area_population").df()
                           if "area_population" in tables else pd.DataFrame()),
            "catalogue": con.execute("SELECT DISTINCT * EXCLUDE (city) FROM marts.indicator_catalogue"
                                     if "city" in _columns(con, "indicator_catalogue")
                                     else "SELECT DISTINCT * FROM marts.indicator_catalogue").df(),
        }
        out["change"] = (con.execute("SELECT area_id, indicator_id, period_from, period_to, value_from, value_to, "
                                     "change FROM marts.indicator_change").df()
                         if "indicator_change" in tables else pd.DataFrame())
    return out


def _columns(con, table: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_schema = 'marts' AND table_name = ?", [table]).fetchall()}


def counted_shares(catalogue: pd.DataFrame) -> tuple[set[str], set[str]]:
    """(indicators whose numerators are counts of cases, those of them that are shares): what the small-count
    findings look at. A `weighted` numerator (a sum of deprivation scores) is not a count of anyone."""
    weighted = catalogue["weighted"].fillna(False).astype(bool) if "weighted" in catalogue else False
    counts = catalogue[(catalogue["min_denominator"] > 0) & ~weighted]
    return set(counts["indicator_id"]), set(counts.loc[counts["unit"] == "share", "indicator_id"])


def cells_of(snapshot: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every count cell: indicator values of people-count indicators, and the areas' populations per census year
    (`marts.area_population`, as the indicator `population`; the latest census, period `latest`, in a snapshot
    without that table)."""
    catalogue = snapshot["catalogue"]
    counted = set(catalogue.loc[catalogue["min_denominator"] > 0, "indicator_id"])
    values = snapshot["values"]
    values = values[values["indicator_id"].isin(counted)].copy()
    if "note" in values:  # "no one to measure: the denominator is zero" tells the counts: 0 of 0
        zero = ~values["suppressed"].fillna(False).astype(bool) & values["denominator"].isna() & \
            values["note"].fillna("").str.contains("denominator is zero")
        values.loc[zero, ["numerator", "denominator"]] = 0.0
    areas = snapshot["areas"]
    parts = [values[["area_id", "indicator_id", "period", "numerator", "denominator", "suppressed"]]]
    by_period = snapshot.get("population", pd.DataFrame())
    if by_period.empty and "population" in areas:  # a snapshot before area_population: the latest census only
        by_period = areas.assign(period="latest")
    if not by_period.empty:
        parts.append(pd.DataFrame({"area_id": by_period["area_id"], "indicator_id": "population",
                                   "period": by_period["period"],
                                   "numerator": by_period["population"].astype(float),
                                   "denominator": by_period["population"].astype(float),
                                   "suppressed": by_period["population"].isna()}))
    cells = pd.concat(parts, ignore_index=True)
    cells["suppressed"] = cells["suppressed"].fillna(False).astype(bool)
    return cells


def additive_indicators(cells: pd.DataFrame, areas: pd.DataFrame) -> list[str]:
    """Indicators whose every fully published family sums exactly: children's counts add up to their parent's."""
    families = cells.merge(areas[["area_id", "parent_id"]], on="area_id").dropna(subset=["parent_id"])
    sums = families.groupby(["indicator_id", "parent_id", "period"]).agg(
        num=("numerator", "sum"), den=("denominator", "sum"), size=("numerator", "size"),
        known=("numerator", "count")).reset_index()
    complete = sums[sums["size"] == sums["known"]]
    parents = cells.rename(columns={"area_id": "parent_id", "numerator": "p_num", "denominator": "p_den"})
    joined = complete.merge(parents[["indicator_id", "parent_id", "period", "p_num", "p_den"]],
                            on=["indicator_id", "parent_id", "period"])
    joined = joined[joined["p_num"].notna() & joined["p_den"].notna()]
    adds = ((joined["num"] - joined["p_num"]).abs() < TOLERANCE) & ((joined["den"] - joined["p_den"]).abs() < TOLERANCE)
    verdict = adds.groupby(joined["indicator_id"]).all()
    return sorted(str(i) for i in verdict[verdict].index)


Var = tuple[str, str, str, str]  # period, indicator, area, column


class System:
    """Linear equations sum(coef * var) = constant over the withheld counts; the published ones are constants."""

    def __init__(self, cells: pd.DataFrame):
        self.known: dict[Var, float] = {}
        self.unknown: set[Var] = set()
        for row in cells.itertuples():
            for column in COLUMNS:
                var = (row.period, row.indicator_id, row.area_id, column)
                value = getattr(row, column)
                if row.suppressed or pd.isna(value):
                    self.unknown.add(var)
                else:
                    self.known[var] = float(value)
        self.equations: list[dict[Var, float]] = []

    def add(self, terms: dict[Var, float]) -> None:
        """sum(coef * var) = 0; every var must be a cell of the snapshot (known or withheld)."""
        terms = {v: c for v, c in terms.items() if abs(c) > 1e-12}  # a fitted weight of 0 says nothing
        if terms and all(v in self.known or v in self.unknown for v in terms) and any(v in self.unknown for v in terms):
            self.equations.append(terms)

    def _reduced(self, terms: dict[Var, float]) -> tuple[dict[Var, float], float]:
        unknown = {v: c for v, c in terms.items() if v not in self.known}
        constant = -sum(c * self.known[v] for v, c in terms.items() if v in self.known)
        return unknown, constant

    def solve(self) -> list[Var]:
        """What a patient attacker gets by hand, then by linear algebra; the vars found, in order.

        By hand: an equation left with one unknown gives it (substitution), and, counts being never negative, an
        equation whose unknowns all carry the same sign and add up to 0 makes each of them 0. Every equation is
        looked at again whenever one of its unknowns becomes known, until nothing changes.
        """
        open_vars = [{v for v in terms if v not in self.known} for terms in self.equations]
        by_var: dict[Var, list[int]] = defaultdict(list)
        for e, variables in enumerate(open_vars):
            for var in variables:
                by_var[var].append(e)
        queue = deque(range(len(self.equations)))
        found: list[Var] = []

        def learn(var: Var, value: float) -> None:
            self.known[var] = value
            found.append(var)
            for e in by_var[var]:
                open_vars[e].discard(var)
                queue.append(e)

        while queue:
            e = queue.popleft()
            unknown = open_vars[e]
            if not unknown:
                continue
            terms = self.equations[e]
            constant = -sum(c * self.known[v] for v, c in terms.items() if v not in unknown)
            if len(unknown) == 1:
                var = next(iter(unknown))
                learn(var, constant / terms[var])
            elif len({terms[v] > 0 for v in unknown}) == 1 and abs(constant) < TOLERANCE:
                for var in sorted(unknown):
                    learn(var, 0.0)
        return found + self.determined()

    def determined(self) -> list[Var]:
        """Withheld vars every solution agrees on (linear algebra on what substitution left), now known."""
        rows = [self._reduced(t) for t in self.equations]
        rows = [(u, c) for u, c in rows if u]
        components = _components([list(u) for u, _ in rows])
        found = []
        for members, equations in components:
            index = {v: i for i, v in enumerate(members)}
            matrix = np.zeros((len(equations), len(members)))
            rhs = np.zeros(len(equations))
            for r, e in enumerate(equations):
                unknown, constant = rows[e]
                for v, c in unknown.items():
                    matrix[r, index[v]] = c
                rhs[r] = constant
            _, singular, vt = np.linalg.svd(matrix)
            rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0))).sum())
            null = vt[rank:]
            fixed = [i for i in index.values() if not len(null) or np.abs(null[:, i]).max() < 1e-9]
            if not fixed:
                continue
            solution = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
            for v, i in index.items():
                if i in fixed:
                    self.known[v] = float(solution[i])
                    found.append(v)
        return found


def _components(equations: list[list[Var]]) -> list[tuple[list[Var], list[int]]]:
    """Groups of equations that share unknowns (union-find), with their unknowns."""
    parent: dict[Var, Var] = {}

    def root(v: Var) -> Var:
        while parent.setdefault(v, v) != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for vars_ in equations:
        for v in vars_[1:]:
            parent[root(v)] = root(vars_[0])
    groups: dict[Var, tuple[set, list]] = defaultdict(lambda: (set(), []))
    for e, vars_ in enumerate(equations):
        members, eqs = groups[root(vars_[0])]
        members.update(vars_)
        eqs.append(e)
    return [(sorted(m), eqs) for m, eqs in groups.values()]


def hierarchy_equations(system: System, cells: pd.DataFrame, areas: pd.DataFrame, additive: list[str]) -> None:
    children = areas.dropna(subset=["parent_id"]).groupby("parent_id")["area_id"].apply(list).to_dict()
    for (period, indicator), group in cells[cells["indicator_id"].isin(additive)].groupby(["period", "indicator_id"]):
        present = set(group["area_id"])
        for parent, kids in children.items():
            if parent in present:
                for column in COLUMNS:
                    terms = {(period, indicator, parent, column): 1.0}
                    terms.update({(period, indicator, k, column): -1.0 for k in kids if k in present})
                    system.add(terms)


def shared_count_links(cells: pd.DataFrame, min_areas: int = 5) -> list[tuple[str, str, str, str, float]]:
    """(indicator x, column, indicator y, column, k): x's column = k x y's column in every area and period where
    both are published and nonzero (and zero together), in at least `min_areas` areas."""
    published = cells[~cells["suppressed"] & cells["numerator"].notna()]
    long = published.melt(id_vars=["period", "indicator_id", "area_id"], value_vars=list(COLUMNS), var_name="column")
    wide = long.pivot_table(index=["period", "area_id"], columns=["indicator_id", "column"], values="value")
    names = list(wide.columns)
    data = wide.to_numpy()
    links = []
    for i, x in enumerate(names):
        for j, y in enumerate(names):
            if j <= i or x[0] == y[0]:
                continue
            both = ~np.isnan(data[:, i]) & ~np.isnan(data[:, j])
            a, b = data[both, i], data[both, j]
            if both.sum() < min_areas or not (b != 0).any() or ((a == 0) != (b == 0)).any():
                continue
            k = a[b != 0][0] / b[b != 0][0]
            if k != 0 and np.allclose(a, k * b, rtol=0, atol=TOLERANCE * max(1.0, np.abs(a).max())):
                links.append((x[0], x[1], y[0], y[1], float(k)))
    return links


def partition_links(cells: pd.DataFrame, min_areas: int = 5) -> list[tuple[list[str], str]]:
    """(parts, whole): indicators named `<prefix>_<part>` whose numerators add up to their common denominator in
    every area where all are published (strata, contributions)."""
    published = cells[~cells["suppressed"] & cells["numerator"].notna()]
    groups = defaultdict(list)
    for indicator in published["indicator_id"].unique():
        if "_" in indicator:
            groups[indicator.rsplit("_", 1)[0]].append(indicator)
    out = []
    for _prefix, parts in groups.items():
        if len(parts) < 2:
            continue
        mine = published[published["indicator_id"].isin(parts)]
        num = mine.pivot_table(index=["period", "area_id"], columns="indicator_id", values="numerator").dropna()
        den = mine.pivot_table(index=["period", "area_id"], columns="indicator_id", values="denominator").dropna()
        if len(num) < min_areas or den.nunique(axis=1).max() != 1:
            continue
        if np.allclose(num.sum(axis=1), den.iloc[:, 0], atol=TOLERANCE):
            out.append((sorted(parts), sorted(parts)[0]))
    return out


def declared_sums(cells: pd.DataFrame, relations) -> list[tuple[tuple[str, str], list[str], np.ndarray]]:
    """The catalogue's sum relations (public: the repository's indicators/catalogue.yaml), their weights fitted
    on the areas where everything is published and kept only where they hold exactly: ((whole, column), parts,
    weights). A sum without a whole adds up to its parts' common denominator."""
    published = cells[~cells["suppressed"] & cells["numerator"].notna()]
    num = published.pivot_table(index=["period", "area_id"], columns="indicator_id", values="numerator")
    den = published.pivot_table(index=["period", "area_id"], columns="indicator_id", values="denominator")
    out = []
    for relation in relations:
        if relation.kind != "sum" or not set(relation.members) <= set(num.columns):
            continue
        parts = list(relation.members)
        whole = (relation.whole, "numerator") if relation.whole else (parts[0], "denominator")
        if whole[0] not in num.columns:
            continue
        y = (num if whole[1] == "numerator" else den)[whole[0]]
        rows = num[parts].notna().all(axis=1) & y.notna()
        if rows.sum() < len(parts) + 2:
            continue
        weights = np.linalg.lstsq(num.loc[rows, parts].to_numpy(), y[rows].to_numpy(), rcond=None)[0]
        fitted = num.loc[rows, parts].to_numpy() @ weights
        if np.abs(fitted - y[rows].to_numpy()).max() < TOLERANCE * max(1.0, float(y[rows].abs().max())):
            out.append((whole, parts, weights))
    return out


def link_equations(system: System, cells: pd.DataFrame, links, partitions, sums=()) -> None:
    keys = cells[["period", "area_id"]].drop_duplicates().itertuples(index=False)
    for period, area in keys:
        for x, cx, y, cy, k in links:
            system.add({(period, x, area, cx): 1.0, (period, y, area, cy): -k})
        for parts, whole in partitions:
            terms = {(period, p, area, "numerator"): 1.0 for p in parts}
            terms[(period, whole, area, "denominator")] = terms.get((period, whole, area, "denominator"), 0.0) - 1.0
            system.add(terms)
        for (whole, column), parts, weights in sums:
            terms = {(period, p, area, "numerator"): float(w) for p, w in zip(parts, weights, strict=True)}
            terms[(period, whole, area, column)] = terms.get((period, whole, area, column), 0.0) - 1.0
            system.add(terms)


def residuals(cells: pd.DataFrame, areas: pd.DataFrame, additive: list[str], shares: set[str]) -> pd.DataFrame:
    """Published parent minus its published children: the withheld children's total, where at least one child
    is withheld; `small` when it is 1-4 cases (or, for a share, its complement is), `full` when a share's
    complement is 0 (every withheld child is 100%)."""
    kids = cells.merge(areas[["area_id", "parent_id"]], on="area_id").dropna(subset=["parent_id"])
    kids = kids[kids["indicator_id"].isin(additive)]
    sums = kids[~kids["suppressed"]].groupby(["period", "indicator_id", "parent_id"])[list(COLUMNS)].sum()
    withheld = kids.groupby(["period", "indicator_id", "parent_id"])["suppressed"].any()
    parents = cells[~cells["suppressed"]].rename(columns={"area_id": "parent_id"}).set_index(
        ["period", "indicator_id", "parent_id"])[list(COLUMNS)]
    sums.columns = [f"{c}_kids" for c in sums.columns]
    joined = parents.join(sums, how="inner").join(withheld, how="inner")
    joined = joined[joined["suppressed"]].reset_index()
    num = (joined["numerator"] - joined["numerator_kids"]).round(9)
    den = (joined["denominator"] - joined["denominator_kids"]).round(9)
    share = joined["indicator_id"].isin(shares)
    return joined[["period", "indicator_id", "parent_id"]].assign(
        numerator=num, denominator=den, small=_tiny(num, den, share), full=share & (den > 0) & (num == den))


def full_children(cells: pd.DataFrame, areas: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """The withheld children under a `full` residual: each is 100%, its value recovered."""
    full = found[found["full"]]
    kids = cells[cells["suppressed"]].merge(areas[["area_id", "parent_id"]], on="area_id")
    hit = kids.merge(full[["period", "indicator_id", "parent_id"]], on=["period", "indicator_id", "parent_id"])
    return hit[["area_id", "indicator_id", "period"]].assign(value=1.0)


def change_attack(snapshot: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Withheld values given by a published change and the other end."""
    change = snapshot["change"]
    if change.empty:
        return pd.DataFrame(columns=["area_id", "indicator_id", "period", "value"])
    values = snapshot["values"].set_index(["area_id", "indicator_id", "period"])
    rows = []
    for r in change.dropna(subset=["change"]).itertuples():
        for period, other, sign in ((r.period_to, r.value_from, 1), (r.period_from, r.value_to, -1)):
            key = (r.area_id, r.indicator_id, period)
            if key in values.index and bool(values.at[key, "suppressed"]) and pd.notna(other):
                rows.append({"area_id": r.area_id, "indicator_id": r.indicator_id, "period": period,
                             "value": other + sign * r.change})
    return pd.DataFrame(rows, columns=["area_id", "indicator_id", "period", "value"])


def attack(path: Path, relations: list | None = None) -> Findings:
    """Every attack on the snapshot at `path`. `relations`: the sums the catalogue declares (default: those of
    the shared indicators/catalogue.yaml, which is public, over the indicators the snapshot publishes)."""
    snapshot = read_snapshot(path)
    if relations is None:
        from indicators.catalogue import load_relations

        relations = load_relations(known=list(snapshot["catalogue"]["indicator_id"]), strict=False)
    return attack_tables(snapshot, relations)


def attack_tables(snapshot: dict[str, pd.DataFrame], relations: list, structure: dict | None = None) -> Findings:
    """Every attack on a snapshot's tables (`read_snapshot`'s keys; `change` may be empty).

    `structure`, when given, holds the facts found on an earlier pattern of the same data (additive indicators,
    links, parts, sums: true of the data, so withholding more cannot unmake them): reused instead of found again,
    and filled in when empty (disclosure control audits pattern after pattern of one period).
    """
    cells, areas = cells_of(snapshot), snapshot["areas"]
    counts, shares = counted_shares(snapshot["catalogue"])
    if structure:
        additive, links, partitions, sums = (structure[k] for k in ("additive", "links", "partitions", "sums"))
    else:
        additive = additive_indicators(cells, areas)
        links, partitions, sums = shared_count_links(cells), partition_links(cells), declared_sums(cells, relations)
        if structure is not None:
            structure.update(additive=additive, links=links, partitions=partitions, sums=sums)

    system = System(cells)
    hierarchy_equations(system, cells, areas, additive)
    link_equations(system, cells, links, partitions, sums)
    found = system.solve()
    recovered = pd.DataFrame([{"period": p, "indicator_id": i, "area_id": a, "column": c, "count": system.known[v]}
                              for v in found for p, i, a, c in [v]],
                             columns=["period", "indicator_id", "area_id", "column", "count"])

    published = cells[~cells["suppressed"] & cells["numerator"].notna() & cells["indicator_id"].isin(counts)]
    small = published[_tiny(published["numerator"], published["denominator"],
                            published["indicator_id"].isin(shares))]
    totals = residuals(cells, areas, [i for i in additive if i in counts], shares)
    values = pd.concat([change_attack(snapshot), full_children(cells, areas, totals)], ignore_index=True)
    return Findings(recovered=recovered, recovered_values=values, small_published=small,
                    small_derived=totals[totals["small"]].drop(columns=["small", "full"]).reset_index(drop=True),
                    additive=additive,
                    links=[f"{x}.{cx} = {k:g} x {y}.{cy}" for x, cx, y, cy, k in links]
                    + [f"sum of {', '.join(p)} numerators = their denominator" for p, _ in partitions]
                    + [f"{w}.{c} = weighted sum of {', '.join(p)} numerators" for (w, c), p, _ in sums],
                    suppressed=int(cells["suppressed"].sum()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privacy.attack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="a published snapshot, e.g. var/published/<city>/current.duckdb")
    parser.add_argument("--show", type=int, default=5, metavar="N", help="print up to N examples of each finding")
    args = parser.parse_args(argv)
    if not args.snapshot.exists():
        parser.error(f"no snapshot at {args.snapshot}: run the pipeline first (make demo)")
    findings = attack(args.snapshot)
    for name, count in findings.summary().items():
        print(f"{name:<32} {count:>8}")
    print(f"{'(withheld denominators derived)':<32} {findings.denominators:>8}")
    print(f"{'additive indicators attacked':<32} {len(findings.additive):>8}")
    print(f"{'links between indicators':<32} {len(findings.links):>8}")
    numerators = findings.recovered[findings.recovered["column"] == "numerator"] if len(findings.recovered) else []
    for name, frame in (("recovered", numerators), ("values", findings.recovered_values),
                        ("published 1-4", findings.small_published), ("derived 1-4", findings.small_derived)):
        if len(frame) and args.show:
            print(f"\n{name} (first {min(args.show, len(frame))} of {len(frame)}):")
            print(frame.head(args.show).to_string(index=False))
    leaks = sum(v for k, v in findings.summary().items() if k != "withheld cells")
    print("\nno withheld figure recovered, no count of 1-4 readable" if not leaks else f"\n{leaks} leaks")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
