"""Unsatisfied basic needs (NBI) per household, INE Bolivia / CEPAL gap method, and its area counts.

Each component compares an achievement with a norm: gap = (norm - achievement) / norm, clipped to [-1, 1], so 0
is "exactly at the norm", 1 "nothing of it" and negative values "better than the norm". A component's gap is the
mean of its items' gaps; person components (education, health) are scored per member and averaged over the
members they apply to. The household index is the mean of the component gaps, and its stratum (needs met,
threshold, moderate poverty, indigence, marginality) follows INE's cut-offs; the top three are "NBI-poor".
Norms, scores and cut-offs live in `indicators/poverty.yaml`; docs/poverty.md has the formulas and sources.

A household whose component cannot be scored (a missing answer, or no member of the ages a person component
applies to) gets no index and is counted as not measurable: never a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cities import read_yaml
from indicators.margins import AreaCodes, share_counts, shares_counts
from transforms.census import HOUSEHOLD_FIELDS, PERSON_FIELDS

POVERTY_PATH = Path(__file__).resolve().parent / "poverty.yaml"
LEVEL_FIELDS = {"household": HOUSEHOLD_FIELDS, "person": PERSON_FIELDS}
# The index is a mean of gaps in binary floating point: round it so that a household exactly on a cut-off
# (0.1, 0.4, ...) is not pushed across it by the last bit.
INDEX_DECIMALS = 10


class NBIConfigError(ValueError):
    """An NBI entry of the poverty config that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Item:
    """One scored answer: `scores` (code -> points), `per` (field / per-field) or `norm_by_age` (years)."""

    id: str
    field: str
    norm: float | None = None
    scores: dict | None = None
    per: str | None = None
    entry_age: float | None = None
    max_years: float | None = None
    ages: tuple[float, float] = (-np.inf, np.inf)


@dataclass(frozen=True)
class Component:
    """A basic need: its items, scored on households or on persons."""

    id: str
    level: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Stratum:
    """A band of the household index, bounded above by `upper` (included or not)."""

    id: str
    upper: float
    includes_upper: bool


@dataclass(frozen=True)
class NBIConfig:
    """The checked `nbi` section of the poverty config."""

    components: tuple[Component, ...]
    strata: tuple[Stratum, ...]
    poor_strata: frozenset[str]
    component_deprived_above: float
    source: str


def load_nbi_config(path: Path = POVERTY_PATH) -> NBIConfig:
    """The `nbi` section of `path`, checked; errors name the file and the entry."""
    data = read_yaml(Path(path)) or {}
    return parse_nbi_config(data, str(path))


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NBIConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _ages(value, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise NBIConfigError(f"{where}: ages must be [from, to] (null for no bound), got {value!r}")
    low = -np.inf if value[0] is None else _number(value[0], where)
    high = np.inf if value[1] is None else _number(value[1], where)
    if low > high:
        raise NBIConfigError(f"{where}: ages {value!r} are empty (from > to)")
    return low, high


def _scores(entry: dict, spec, where: str) -> dict:
    scores = entry["scores"]
    if not isinstance(scores, dict):
        raise NBIConfigError(f"{where}: scores must map each answer to its points, got {scores!r}")
    expected = set(spec.codes) if spec.kind == "code" else {True, False} if spec.kind == "bool" else None
    if expected is None:
        raise NBIConfigError(f"{where}: field {entry['field']!r} is a number; score it with `per` or `norm_by_age`")
    unknown, missing = set(scores) - expected, expected - set(scores)
    if unknown:
        raise NBIConfigError(f"{where}: unknown answer(s) {sorted(map(str, unknown))} for {entry['field']!r} "
                             f"(known: {', '.join(sorted(map(str, expected)))})")
    if missing:
        # An unscored valid answer would quietly make its households unmeasurable.
        raise NBIConfigError(f"{where}: no score for {sorted(map(str, missing))} of {entry['field']!r}")
    return {key: _number(value, f"{where}: score of {key!r}") for key, value in scores.items()}


def _item(entry: dict, level: str, where: str) -> Item:
    if not isinstance(entry, dict) or not entry.get("id"):
        raise NBIConfigError(f"{where}: each item needs an id, got {entry!r}")
    where = f"{where} item {entry['id']!r}"
    fields = LEVEL_FIELDS[level]
    field = entry.get("field")
    if field not in fields:
        raise NBIConfigError(f"{where}: unknown {level} field {field!r} (known: {', '.join(fields)})")
    kinds = [k for k in ("scores", "per", "norm_by_age") if k in entry]
    if len(kinds) != 1:
        raise NBIConfigError(f"{where}: give exactly one of scores, per, norm_by_age (got {kinds or 'none'})")
    ages = (-np.inf, np.inf)
    if "ages" in entry:
        if level != "person":
            raise NBIConfigError(f"{where}: ages apply to person components only")
        ages = _ages(entry["ages"], where)
    if kinds == ["norm_by_age"]:
        rule = entry["norm_by_age"]
        if level != "person" or not isinstance(rule, dict) or fields[field].kind != "int":
            raise NBIConfigError(f"{where}: norm_by_age needs a person number field and {{entry_age, max_years}}")
        entry_age = _number(rule.get("entry_age"), f"{where}: entry_age")
        max_years = _number(rule.get("max_years"), f"{where}: max_years")
        if max_years <= 0:
            raise NBIConfigError(f"{where}: max_years must be positive, got {max_years}")
        return Item(entry["id"], field, entry_age=entry_age, max_years=max_years, ages=ages)
    norm = _number(entry.get("norm"), f"{where}: norm")
    if norm <= 0:
        raise NBIConfigError(f"{where}: norm must be positive (gaps divide by it), got {norm}")
    if kinds == ["per"]:
        per = entry["per"]
        if level != "household" or per not in fields or fields[field].kind != "int" or fields[per].kind != "int":
            raise NBIConfigError(f"{where}: per needs two household number fields, got {field!r} per {per!r}")
        return Item(entry["id"], field, norm=norm, per=per)
    return Item(entry["id"], field, norm=norm, scores=_scores(entry, fields[field], where), ages=ages)


def _strata(entries, where: str) -> tuple[Stratum, ...]:
    if not isinstance(entries, list) or not entries:
        raise NBIConfigError(f"{where}: strata must be a non-empty list")
    strata = []
    for entry in entries:
        name = entry.get("id") if isinstance(entry, dict) else None
        if not name or not isinstance(entry.get("includes_upper"), bool):
            raise NBIConfigError(f"{where}: each stratum needs an id, upper and includes_upper (true/false), "
                                 f"got {entry!r}")
        upper = _number(entry.get("upper"), f"{where} {name!r}: upper")
        if strata and upper <= strata[-1].upper:
            raise NBIConfigError(f"{where} {name!r}: upper bounds must increase ({upper} after {strata[-1].upper})")
        strata.append(Stratum(name, upper, entry["includes_upper"]))
    if strata[-1].upper != 1 or not strata[-1].includes_upper:
        raise NBIConfigError(f"{where} {strata[-1].id!r}: the last stratum must end at 1 included, so every "
                             f"index in [-1, 1] has a stratum")
    return tuple(strata)


def parse_nbi_config(data: dict, source: str) -> NBIConfig:
    """Check the `nbi` section of a parsed poverty config (`source` names the file in errors)."""
    section = data.get("nbi") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise NBIConfigError(f"{source}: no `nbi` section")
    strata = _strata(section.get("strata"), f"{source}: nbi.strata")
    poor = section.get("poor_strata") or []
    unknown = set(poor) - {s.id for s in strata}
    if not poor or unknown:
        raise NBIConfigError(f"{source}: nbi.poor_strata: unknown or no strata {sorted(unknown)} "
                             f"(known: {', '.join(s.id for s in strata)})")
    components_data = section.get("components")
    if not isinstance(components_data, dict) or not components_data:
        raise NBIConfigError(f"{source}: nbi.components must map component ids to their items")
    components = []
    for name, entry in components_data.items():
        where = f"{source}: nbi.components.{name}"
        level = entry.get("level") if isinstance(entry, dict) else None
        if level not in LEVEL_FIELDS:
            raise NBIConfigError(f"{where}: level must be household or person, got {level!r}")
        items = entry.get("items")
        if not isinstance(items, list) or not items:
            raise NBIConfigError(f"{where}: no items")
        components.append(Component(name, level, tuple(_item(item, level, where) for item in items)))
    above = _number(section.get("component_deprived_above"), f"{source}: nbi.component_deprived_above")
    return NBIConfig(tuple(components), strata, frozenset(poor), above, source)


def _floats(values) -> np.ndarray:
    """Any column (nullable ints, booleans, pyarrow doubles) as float64 with NaN for missing."""
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()


def _achievement(frame: pd.DataFrame, item: Item) -> tuple[np.ndarray, np.ndarray]:
    """Achievement and norm of `item` for every row (NaN where the answer is missing)."""
    if item.scores is not None:
        return _floats(frame[item.field].map(item.scores)), np.full(len(frame), item.norm)
    if item.per is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return _floats(frame[item.field]) / _floats(frame[item.per]), np.full(len(frame), item.norm)
    norm = np.clip(_floats(frame["age"]) - item.entry_age, 0, item.max_years)
    return _floats(frame[item.field]), norm


def item_gaps(frame: pd.DataFrame, item: Item) -> np.ndarray:
    """(norm - achievement) / norm clipped to [-1, 1] per row; NaN where missing or where the norm is 0."""
    achievement, norm = _achievement(frame, item)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(norm > 0, (norm - achievement) / norm, np.nan)
    return np.clip(gap, -1, 1)


def _applies(persons: pd.DataFrame, item: Item) -> np.ndarray:
    """Whether `item` is asked of each person: age within its range (and a positive norm for years)."""
    age = _floats(persons["age"])
    applies = (age >= item.ages[0]) & (age <= item.ages[1])
    if item.entry_age is not None:
        applies &= age - item.entry_age > 0
    return applies


def household_component_gaps(households: pd.DataFrame, component: Component) -> np.ndarray:
    """Mean of the item gaps per household; NaN when any item is missing."""
    gaps = np.column_stack([item_gaps(households, item) for item in component.items])
    return gaps.mean(axis=1)


def person_component_gaps(persons: pd.DataFrame, component: Component) -> pd.DataFrame:
    """Per household: members the component applies to, how many of them could not be scored, and the mean of
    their person gaps (each person's gap is the mean over the items that apply to their age)."""
    gaps = np.column_stack([item_gaps(persons, item) for item in component.items])
    applies = np.column_stack([_applies(persons, item) for item in component.items])
    unknown_age = np.isnan(_floats(persons["age"]))
    eligible = applies.any(axis=1) | unknown_age
    unscored = unknown_age | (applies & np.isnan(gaps)).any(axis=1)
    person_gap = np.where(applies, np.nan_to_num(gaps), 0).sum(axis=1) / np.maximum(applies.sum(axis=1), 1)
    per_person = pd.DataFrame({
        "household_id": persons["household_id"].to_numpy(),
        "eligible": eligible.astype(int),
        "unscored": (eligible & unscored).astype(int),
        "gap_sum": np.where(eligible & ~unscored, person_gap, 0.0),
    })
    return per_person.groupby("household_id").sum()


def nbi_stratum(index, config: NBIConfig) -> pd.Series:
    """The stratum id of each index value (None where there is no index)."""
    x = _floats(index)
    conditions = [x <= s.upper if s.includes_upper else x < s.upper for s in config.strata]
    ids = np.select(conditions, [s.id for s in config.strata], default="")
    return pd.Series(np.where(np.isnan(x) | (ids == ""), None, ids), dtype=object)


def nbi_households(households: pd.DataFrame, persons: pd.DataFrame, config: NBIConfig) -> pd.DataFrame:
    """One row per household: household_id, area_id, members, gap_<component>, nbi_index, stratum, nbi_poor.

    `nbi_index`, `stratum` and `nbi_poor` are missing for households that cannot be measured (see module doc).
    """
    out = households[["household_id", "area_id"]].reset_index(drop=True).copy()
    out["members"] = _floats(households["members"])
    hh = households.reset_index(drop=True)
    for component in config.components:
        if component.level == "household":
            out[f"gap_{component.id}"] = household_component_gaps(hh, component)
            continue
        per_household = person_component_gaps(persons, component).reindex(out["household_id"])
        eligible = per_household["eligible"].fillna(0).to_numpy()
        complete = per_household["unscored"].fillna(0).to_numpy() == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = per_household["gap_sum"].to_numpy(dtype=float) / eligible
        out[f"gap_{component.id}"] = np.where((eligible > 0) & complete, mean, np.nan)
    gap_columns = [f"gap_{c.id}" for c in config.components]
    index = out[gap_columns].to_numpy(dtype=float).mean(axis=1).round(INDEX_DECIMALS)
    out["nbi_index"] = index
    out["stratum"] = nbi_stratum(index, config)
    poor = out["stratum"].isin(config.poor_strata)
    out["nbi_poor"] = pd.array(np.where(np.isnan(index), None, poor), dtype="boolean")
    return out


def nbi_area_counts(hh_nbi: pd.DataFrame, config: NBIConfig) -> pd.DataFrame:
    """NBI indicators per area in the long counts format (plus `weight_sq` for margins of error).

    - `nbi_poor_persons`: persons in NBI-poor households / persons in measurable households (INE publishes NBI
      as a share of the population);
    - `nbi_poor_households`: NBI-poor households / measurable households;
    - `nbi_stratum_<id>`: persons in households of each stratum / persons in measurable households;
    - `nbi_deprived_<component>`: persons in households whose component gap is above the configured line /
      persons in households where that component could be scored;
    - `nbi_unmeasured_households`: households with no index / all households.
    """
    groups = AreaCodes.of(hh_nbi)
    members = hh_nbi["members"].to_numpy(dtype=float)
    measured = hh_nbi["nbi_index"].notna().to_numpy()
    poor = hh_nbi["nbi_poor"].fillna(False).to_numpy(dtype=bool)
    strata, stratum_ids = pd.factorize(hh_nbi["stratum"])   # compared as integer codes, not text
    stratum_code = {s: i for i, s in enumerate(stratum_ids)}
    persons = shares_counts(groups, {"nbi_poor_persons": poor,
                                     **{f"nbi_stratum_{s.id}": strata == stratum_code.get(s.id, -2)
                                        for s in config.strata}}, measured, members)
    first = persons["indicator_id"] == "nbi_poor_persons"
    parts = [persons[first], share_counts(groups, "nbi_poor_households", poor, measured), persons[~first]]
    for component in config.components:
        gap = hh_nbi[f"gap_{component.id}"].to_numpy(dtype=float)
        # rounded like the index: a gap exactly on the line (0.1 as 0.10000000000000002) is not above it
        parts.append(share_counts(groups, f"nbi_deprived_{component.id}",
                                  gap.round(INDEX_DECIMALS) > config.component_deprived_above, ~np.isnan(gap),
                                  members))
    parts.append(share_counts(groups, "nbi_unmeasured_households", ~measured, np.ones(len(hh_nbi), dtype=bool)))
    return pd.concat(parts, ignore_index=True)
