"""The attacker: what someone with the published snapshot and a spreadsheet can recover of the cells we suppress.

    python -m privacy.attack var/published/la_paz_demo/current.duckdb [--threshold 20]

Written to be read by a sceptic. It knows only what a planner gets (`marts.indicator_values`, `marts.areas`) and
tries, for every indicator and period:

1. **Differencing in the hierarchy.** An additive indicator's numerator and denominator at a parent are the sums
   over its children (a district is the sum of its zones). When exactly one child is suppressed and the parent and
   all its siblings are published, the suppressed child's counts are the parent's minus the siblings'. A published
   parent that is itself recovered this way is used again (the attack is iterated until nothing new is found).
   Additivity is not assumed: an indicator counts as additive when every fully published family of it sums
   exactly.
2. **Small published counts.** A published cell whose numerator, or whose complement (denominator − numerator),
   is between 1 and 4 reveals a handful of people, households or events directly.

It reports the suppressed cells it recovered, and how many of those (and of the published cells) rest on fewer
than `threshold` cases or on 1 to 4: the figures the disclosure-control stage must bring to zero.
Ratios between indicators (A = M0/H), complements and contributions across indicators, and differences between
vintages are not attacked here yet.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

TOLERANCE = 1e-6


@dataclass
class Findings:
    """What the attack found: recovered cells (area, indicator, period, numerator, denominator) and counts."""

    recovered: pd.DataFrame = field(default_factory=pd.DataFrame)
    small_published: pd.DataFrame = field(default_factory=pd.DataFrame)
    additive: list[str] = field(default_factory=list)
    suppressed: int = 0

    def summary(self, threshold: float) -> dict[str, int]:
        rec = self.recovered
        return {
            "suppressed cells": self.suppressed,
            "recovered by differencing": len(rec),
            "recovered below the threshold": int((rec["denominator"] < threshold).sum()) if len(rec) else 0,
            "recovered counts of 1-4": int(_tiny(rec).sum()) if len(rec) else 0,
            "published counts of 1-4": len(self.small_published),
        }


def _tiny(cells: pd.DataFrame) -> pd.Series:
    """Cells whose numerator or complement is 1 to 4 cases."""
    numerator, rest = cells["numerator"], cells["denominator"] - cells["numerator"]
    return numerator.between(1, 4) | rest.between(1, 4)


def read_snapshot(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a planner can read: the values (with their counts) and the area tree."""
    with duckdb.connect(str(path), read_only=True) as con:
        values = con.execute("SELECT area_id, indicator_id, period, numerator, denominator, suppressed "
                             "FROM marts.indicator_values").df()
        areas = con.execute("SELECT area_id, parent_id FROM marts.areas").df()
    return values, areas


def additive_indicators(values: pd.DataFrame, areas: pd.DataFrame) -> list[str]:
    """Indicators whose every fully published family sums exactly: children's numerators and denominators add
    up to their parent's."""
    families = values.merge(areas, on="area_id")
    parents = values.rename(columns={"area_id": "parent_id", "numerator": "p_num", "denominator": "p_den",
                                     "suppressed": "p_sup"})
    out = []
    for indicator, group in families.groupby("indicator_id"):
        sums = group.groupby(["parent_id", "period"]).agg(
            num=("numerator", "sum"), den=("denominator", "sum"), complete=("numerator", lambda s: s.notna().all()))
        joined = sums[sums["complete"]].reset_index().merge(
            parents[parents["indicator_id"] == indicator], on=["parent_id", "period"])
        joined = joined[joined["p_num"].notna() & joined["p_den"].notna()]
        if len(joined) and ((joined["num"] - joined["p_num"]).abs() < TOLERANCE).all() and \
                ((joined["den"] - joined["p_den"]).abs() < TOLERANCE).all():
            out.append(str(indicator))
    return out


def difference_attack(values: pd.DataFrame, areas: pd.DataFrame, indicators: list[str]) -> pd.DataFrame:
    """Suppressed cells recovered as parent minus published siblings, repeated until nothing new is found."""
    known = values[values["indicator_id"].isin(indicators)].copy()
    known["known"] = known["numerator"].notna() & known["denominator"].notna()
    known = known.merge(areas, on="area_id", how="left").set_index(["indicator_id", "period", "area_id"])
    recovered = []
    while True:
        found = []
        for (indicator, period), cells in known.groupby(level=["indicator_id", "period"]):
            cells = cells.droplevel(["indicator_id", "period"])
            for parent, children in cells.groupby("parent_id"):
                if parent not in cells.index or not cells.at[parent, "known"]:
                    continue
                unknown = children[~children["known"]]
                if len(unknown) != 1:
                    continue
                siblings = children[children["known"]]
                area = unknown.index[0]
                numerator = cells.at[parent, "numerator"] - siblings["numerator"].sum()
                denominator = cells.at[parent, "denominator"] - siblings["denominator"].sum()
                found.append((indicator, period, area, numerator, denominator))
        if not found:
            break
        for indicator, period, area, numerator, denominator in found:
            known.loc[(indicator, period, area), ["numerator", "denominator", "known"]] = [numerator, denominator,
                                                                                             True]
            recovered.append({"indicator_id": indicator, "period": period, "area_id": area,
                              "numerator": numerator, "denominator": denominator})
    return pd.DataFrame(recovered, columns=["indicator_id", "period", "area_id", "numerator", "denominator"])


def attack(path: Path) -> Findings:
    values, areas = read_snapshot(path)
    additive = additive_indicators(values, areas)
    published = values[~values["suppressed"].fillna(False) & values["numerator"].notna()]
    return Findings(recovered=difference_attack(values, areas, additive),
                    small_published=published[_tiny(published)], additive=additive,
                    suppressed=int(values["suppressed"].fillna(False).sum()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m privacy.attack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path, help="a published snapshot, e.g. var/published/<city>/current.duckdb")
    parser.add_argument("--threshold", type=float, default=20, help="the minimum denominator (default 20)")
    args = parser.parse_args(argv)
    if not args.snapshot.exists():
        parser.error(f"no snapshot at {args.snapshot}: run the pipeline first (make demo)")
    findings = attack(args.snapshot)
    for name, count in findings.summary(args.threshold).items():
        print(f"{name:<32} {count:>8}")
    print(f"{'additive indicators attacked':<32} {len(findings.additive):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
