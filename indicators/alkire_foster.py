"""Alkire-Foster multidimensional poverty: household deprivation scores and area counts that roll up by summing.

Identification (dual cut-off, Alkire and Foster 2011): each indicator j has a deprivation rule and a weight w_j
(weights sum to 1); a household's score is c = Σ w_j·g_j over its deprivations g_j ∈ {0, 1}, and it is poor when
c >= k. The household is the unit of identification and persons the unit of analysis, as in the global MPI: every
member carries the household's deprivations and score.

Aggregation per area, with persons as the unit (n = persons in measurable households, q = persons in poor ones):
H = q / n, A = Σ_poor c / q, M0 = H·A = Σ_poor c / n, censored headcount CH_j = persons poor and deprived in j / n,
and contribution_j = w_j·CH_j / M0. Every one is a numerator over a denominator that are sums over households, so
zone counts add up to district and macrodistrict counts exactly (`af_contributions` works after the roll-up).

Indicators, weights and k live in `indicators/poverty.yaml`; docs/poverty.md has the sources and deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from cities import read_yaml
from indicators.margins import AreaCodes, share_counts, shares_counts
from transforms.census import HOUSEHOLD_FIELDS, PERSON_FIELDS

POVERTY_PATH = Path(__file__).resolve().parent / "poverty.yaml"
OPERATORS = ("in", "below", "above")
# Scores are sums of float weights (1/6 + 1/6 is not exactly 1/3 in binary): compare with c >= k - TOLERANCE so
# that a household exactly at the cut-off is poor, as the method says.
TOLERANCE = 1e-9


class AFConfigError(ValueError):
    """An Alkire-Foster entry of the poverty config that cannot be used; the message names the file and entry."""


@dataclass(frozen=True)
class Condition:
    """`field` (divided by `per`, at least `per_min`) `in` a list of answers, `below` or `above` a value."""

    field: str
    op: str
    value: object
    per: str | None = None
    per_min: float | None = None


@dataclass(frozen=True)
class Indicator:
    """A deprivation: household conditions (any of), or one person condition combined over eligible members."""

    id: str
    dimension: str
    weight: float
    conditions: tuple[Condition, ...]
    ages: tuple[float, float] | None = None
    household: str | None = None
    if_no_eligible: str = "not_deprived"


@dataclass(frozen=True)
class AFConfig:
    """The checked `alkire_foster` section of the poverty config."""

    k: float
    indicators: tuple[Indicator, ...]
    source: str

    @property
    def weights(self) -> dict[str, float]:
        """Each indicator's weight, by id."""
        return {i.id: i.weight for i in self.indicators}


def load_af_config(path: Path = POVERTY_PATH) -> AFConfig:
    """The `alkire_foster` section of `path`, checked; errors name the file and the entry."""
    data = read_yaml(Path(path)) or {}
    return parse_af_config(data, str(path))


def _fraction(value, where: str) -> Fraction:
    """A weight or cut-off written as a number or a fraction ("1/3"), kept exact for the sum check."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise AFConfigError(f"{where}: expected a number or a fraction like 1/3, got {value!r}")
    try:
        return Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise AFConfigError(f"{where}: expected a number or a fraction like 1/3, got {value!r}") from None


def _condition(entry, fields: dict, where: str) -> Condition:
    if not isinstance(entry, dict):
        raise AFConfigError(f"{where}: a condition must be a mapping, got {entry!r}")
    field = entry.get("field")
    if field not in fields:
        raise AFConfigError(f"{where}: unknown field {field!r} (known: {', '.join(fields)})")
    ops = [op for op in OPERATORS if op in entry]
    if len(ops) != 1:
        raise AFConfigError(f"{where}: give exactly one of {', '.join(OPERATORS)} for {field!r}")
    op, value, spec = ops[0], entry[ops[0]], fields[field]
    per = entry.get("per")
    if per is not None and (per not in fields or fields[per].kind != "int" or spec.kind != "int"):
        raise AFConfigError(f"{where}: per needs two number fields, got {field!r} per {per!r}")
    if op == "in":
        known = set(spec.codes) if spec.kind == "code" else {True, False} if spec.kind == "bool" else None
        if known is None or not isinstance(value, list) or not value:
            raise AFConfigError(f"{where}: `in` needs a list of answers of a code or yes/no field ({field!r})")
        unknown = [v for v in value if v not in known]
        if unknown:
            raise AFConfigError(f"{where}: unknown answer(s) {unknown} for {field!r} "
                                f"(known: {', '.join(sorted(map(str, known)))})")
        return Condition(field, op, tuple(value), per)
    if spec.kind != "int" or isinstance(value, bool) or not isinstance(value, int | float):
        raise AFConfigError(f"{where}: `{op}` needs a number field and a number, got {field!r} {op} {value!r}")
    per_min = entry.get("per_min")
    if per_min is not None and (isinstance(per_min, bool) or not isinstance(per_min, int | float)):
        raise AFConfigError(f"{where}: per_min must be a number, got {per_min!r}")
    return Condition(field, op, float(value), per, None if per_min is None else float(per_min))


def _indicator(entry, where: str) -> tuple[Indicator, Fraction]:
    name = entry.get("id") if isinstance(entry, dict) else None
    if not name:
        raise AFConfigError(f"{where}: each indicator needs an id, got {entry!r}")
    where = f"{where} {name!r}"
    if not entry.get("dimension"):
        raise AFConfigError(f"{where}: missing dimension")
    weight = _fraction(entry.get("weight"), f"{where}: weight")
    if weight <= 0:
        raise AFConfigError(f"{where}: weight must be positive, got {entry.get('weight')!r}")
    if "persons" in entry:
        persons = entry["persons"]
        ages = persons.get("ages") if isinstance(persons, dict) else None
        bounds_ok = isinstance(ages, list) and len(ages) == 2 and all(
            a is None or (isinstance(a, int | float) and not isinstance(a, bool)) for a in ages)
        if not bounds_ok:
            raise AFConfigError(f"{where}: persons.ages must be [from, to] (null for no bound), got {ages!r}")
        low = -np.inf if ages[0] is None else float(ages[0])
        high = np.inf if ages[1] is None else float(ages[1])
        if entry.get("household") not in ("any", "all"):
            raise AFConfigError(f"{where}: household must be any or all, got {entry.get('household')!r}")
        if entry.get("if_no_eligible", "not_deprived") not in ("not_deprived", "not_measurable"):
            raise AFConfigError(f"{where}: if_no_eligible must be not_deprived or not_measurable")
        condition = _condition(entry.get("condition"), PERSON_FIELDS, f"{where}: condition")
        indicator = Indicator(name, entry["dimension"], float(weight), (condition,), (low, high),
                              entry["household"], entry.get("if_no_eligible", "not_deprived"))
        return indicator, weight
    conditions = entry.get("any_of")
    if not isinstance(conditions, list) or not conditions:
        raise AFConfigError(f"{where}: give any_of (household conditions) or persons + condition")
    parsed = tuple(_condition(c, HOUSEHOLD_FIELDS, f"{where}: any_of") for c in conditions)
    return Indicator(name, entry["dimension"], float(weight), parsed), weight


def parse_af_config(data: dict, source: str) -> AFConfig:
    """Check the `alkire_foster` section: known fields and answers, weights summing to 1, k in (0, 1]."""
    section = data.get("alkire_foster") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise AFConfigError(f"{source}: no `alkire_foster` section")
    k = _fraction(section.get("k"), f"{source}: alkire_foster.k")
    if not 0 < k <= 1:
        raise AFConfigError(f"{source}: alkire_foster.k must be in (0, 1], got {section.get('k')!r}")
    entries = section.get("indicators")
    if not isinstance(entries, list) or not entries:
        raise AFConfigError(f"{source}: alkire_foster.indicators must be a non-empty list")
    parsed = [_indicator(entry, f"{source}: alkire_foster.indicators") for entry in entries]
    ids = [indicator.id for indicator, _ in parsed]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise AFConfigError(f"{source}: alkire_foster.indicators: duplicate id(s) {duplicates}")
    total = sum(weight for _, weight in parsed)
    if abs(float(total) - 1) > TOLERANCE:
        listed = ", ".join(f"{i.id}={w}" for i, w in parsed)
        raise AFConfigError(f"{source}: alkire_foster.indicators: weights sum to {float(total):.6g}, not 1 "
                            f"({listed})")
    return AFConfig(float(k), tuple(indicator for indicator, _ in parsed), source)


def _floats(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()


def condition_holds(frame: pd.DataFrame, condition: Condition) -> pd.array:
    """Whether each row meets `condition`: True, False, or NA where the answer is missing."""
    column = frame[condition.field]
    if condition.op == "in":
        missing = column.isna().to_numpy()
        holds = column.isin(list(condition.value)).to_numpy(dtype=bool)
    else:
        value = _floats(column)
        if condition.per is not None:
            divisor = _floats(frame[condition.per])
            if condition.per_min is not None:
                divisor = np.maximum(divisor, condition.per_min)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = value / divisor
        missing = np.isnan(value)
        holds = value < condition.value if condition.op == "below" else value > condition.value
    return pd.array(np.where(missing, None, holds), dtype="boolean")


def household_deprivation(households: pd.DataFrame, indicator: Indicator) -> pd.array:
    """Deprived if any condition holds; NA if none holds and some answer is missing."""
    holds = [condition_holds(households, c) for c in indicator.conditions]
    any_true = np.logical_or.reduce([h.fillna(False).to_numpy(dtype=bool) for h in holds])
    any_missing = np.logical_or.reduce([h.isna() for h in holds])
    return pd.array(np.where(any_true, True, np.where(any_missing, None, False)), dtype="boolean")


def person_deprivation(persons: pd.DataFrame, household_ids: pd.Series, indicator: Indicator) -> pd.array:
    """Combine eligible members' deprivation per household, with missing answers treated as unknown.

    `any`: deprived if some eligible member is, not deprived if all are known not to be, otherwise unknown.
    `all`: deprived if all eligible members are, not deprived if some member is known not to be (as the global
    MPI's years of schooling: one member with six years is enough), otherwise unknown.
    """
    age = _floats(persons["age"])
    eligible = (age >= indicator.ages[0]) & (age <= indicator.ages[1])
    holds = condition_holds(persons, indicator.conditions[0])
    per_person = pd.DataFrame({
        "household_id": persons["household_id"].to_numpy(),
        "eligible": eligible.astype(int),
        "deprived": (eligible & holds.fillna(False).to_numpy(dtype=bool)).astype(int),
        "not_deprived": (eligible & (~holds).fillna(False).to_numpy(dtype=bool)).astype(int),
        # A member of unknown age might be eligible: the household cannot then be settled by the others alone.
        "unknown": ((eligible & holds.isna()) | np.isnan(age)).astype(int),
    }).groupby("household_id").sum().reindex(household_ids.to_numpy(), fill_value=0)
    deprived, clear = per_person["deprived"].to_numpy() > 0, per_person["not_deprived"].to_numpy() > 0
    unknown = per_person["unknown"].to_numpy() > 0
    if indicator.household == "any":
        result = np.where(deprived, True, np.where(unknown, None, False))
    else:
        result = np.where(clear, False, np.where(unknown, None, deprived))
    none_eligible = (per_person["eligible"].to_numpy() == 0) & ~unknown
    fallback = False if indicator.if_no_eligible == "not_deprived" else None
    return pd.array(np.where(none_eligible, fallback, result), dtype="boolean")


def af_household_scores(households: pd.DataFrame, persons: pd.DataFrame, config: AFConfig) -> pd.DataFrame:
    """One row per household: household_id, area_id, members, d_<indicator> (True/False/NA), score, poor.

    `score` and `poor` are missing when any indicator cannot be determined (the household is not measurable and
    leaves both the numerators and the denominators, as households with missing indicators leave the global MPI).
    """
    out = households[["household_id", "area_id"]].reset_index(drop=True).copy()
    hh = households.reset_index(drop=True)
    out["members"] = _floats(hh["members"])
    for indicator in config.indicators:
        if indicator.ages is None:
            out[f"d_{indicator.id}"] = household_deprivation(hh, indicator)
        else:
            out[f"d_{indicator.id}"] = person_deprivation(persons, out["household_id"], indicator)
    columns = [f"d_{i.id}" for i in config.indicators]
    deprived = out[columns].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    weights = np.array([i.weight for i in config.indicators])
    measured = ~np.isnan(deprived).any(axis=1) & ~np.isnan(out["members"].to_numpy())
    score = np.where(measured, np.nan_to_num(deprived) @ weights, np.nan)
    out["score"] = score
    out["poor"] = pd.array(np.where(measured, score >= config.k - TOLERANCE, None), dtype="boolean")
    return out


def af_area_counts(scores: pd.DataFrame, config: AFConfig) -> pd.DataFrame:
    """AF indicators per area in the long counts format (plus `weight_sq` for margins), persons as the unit:

    `af_h` poor persons / persons; `af_a` Σ poor persons' scores / poor persons; `af_m0` Σ poor persons' scores /
    persons; `af_ch_<j>` persons poor and deprived in j / persons; `af_unmeasured_households` households with no
    score / all households. "Persons" are the members of measurable households.
    """
    groups = AreaCodes.of(scores)
    members = scores["members"].to_numpy(dtype=float)
    measured = scores["score"].notna().to_numpy()
    poor = scores["poor"].fillna(False).to_numpy(dtype=bool)
    score = np.nan_to_num(scores["score"].to_numpy(dtype=float))
    deprived = {f"af_ch_{i.id}": poor & scores[f"d_{i.id}"].fillna(False).to_numpy(dtype=bool)
                for i in config.indicators}
    h_and_ch = shares_counts(groups, {"af_h": poor, **deprived}, measured, members)
    h = h_and_ch[h_and_ch["indicator_id"] == "af_h"]
    # Every count here sums all rows by the same area codes, so their rows line up area by area.
    score_sum = groups.sums(np.nan_to_num(np.where(poor & measured, members * score, 0.0)))   # Σ poor's scores
    m0 = h.assign(indicator_id="af_m0", numerator=score_sum)
    # A's denominator is H's numerator: the poor persons (a poor household is always a measured one)
    poor_members = np.nan_to_num(np.where(poor, members, 0.0))
    a = h.assign(indicator_id="af_a", numerator=score_sum, denominator=h["numerator"].to_numpy(),
                 weight_sq=groups.sums(poor_members * poor_members),
                 denominator_cases=h["numerator_cases"].to_numpy())
    parts = [h, a, m0, h_and_ch[h_and_ch["indicator_id"] != "af_h"]]
    parts.append(share_counts(groups, "af_unmeasured_households", ~measured, np.ones(len(scores), dtype=bool)))
    return pd.concat(parts, ignore_index=True)


CASES = ("numerator_cases", "denominator_cases")


def af_contributions(rolled: pd.DataFrame, config: AFConfig) -> pd.DataFrame:
    """Contribution of each indicator to M0 per area, from (rolled-up) counts: w_j·CH_j / M0.

    As counts: numerator w_j × (persons poor and deprived in j), denominator Σ poor persons' scores (M0's
    numerator); both are sums, so this gives the same at any level before or after rolling up, and the
    contributions of an area add up to 1 (Σ_j w_j·g_j = c for every poor household).
    """
    keys = [c for c in rolled.columns if c not in ("indicator_id", "numerator", "denominator", "multiplier",
                                                    "weight_sq")]
    keys = [c for c in keys if c not in CASES]
    cases = [c for c in CASES if c in rolled.columns]
    m0 = rolled.loc[rolled["indicator_id"] == "af_m0", [*keys, "numerator", *cases]].rename(
        columns={"numerator": "m0", "numerator_cases": "m0_cases"})
    parts = []
    for indicator in config.indicators:
        ch = rolled.loc[rolled["indicator_id"] == f"af_ch_{indicator.id}", [*keys, "numerator", *cases[:1]]]
        joined = ch.merge(m0, on=keys, how="inner")
        part = joined[keys].assign(
            indicator_id=f"af_contrib_{indicator.id}",
            numerator=indicator.weight * joined["numerator"].to_numpy(dtype=float),
            denominator=joined["m0"].to_numpy(dtype=float),
            multiplier=1.0,
        )
        if cases:  # the households behind: poor and deprived in j, of the poor
            part = part.assign(numerator_cases=joined["numerator_cases"].to_numpy(dtype=float),
                               denominator_cases=joined["m0_cases"].to_numpy(dtype=float))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
