"""The indicator catalogue (`indicators/catalogue.yaml`): load and check it, fail fast on a bad entry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cities import read_yaml
from privacy.disclosure import Relation, expand_relations

CATALOGUE_PATH = Path(__file__).resolve().parent / "catalogue.yaml"
REQUIRED = ("id", "name_es", "name_en", "definition", "dimension", "unit", "direction", "numerator",
            "denominator", "source")


# What time a value covers, by source (an entry may say it itself with `time_basis:`): the dates are each value's
# period_start and period_end in marts.indicator_values.
TIME_BASIS = {
    "census": "the census day",
    "services": "the months of records delivered for the census year (period_start to period_end): a rate per "
                "month, not per year",
    "sensors": "the days of readings delivered for the census year (period_start to period_end), not a year",
}


class CatalogueError(ValueError):
    """A catalogue entry that cannot be used; the message names the file and the entry."""


def load_catalogue(path: Path = CATALOGUE_PATH, *, min_denominator: int = 20,
                   generated: list[dict] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicators (the file's entries, then `generated` ones: indicators/registry.py makes the poverty
    entries from the poverty config) and the dimensions, checked: ids unique, dimension known, direction +1 or -1.
    `computed_by` (how the code computes the entry) is kept as given; indicators.registry.check_computed checks
    it against what the code computes.

    Disclosure control (privacy/disclosure.py) reads three optional keys: `min_denominator` (default: the
    city's), `sensitive: true` (stricter thresholds: violence, health), `weighted: true` (a numerator that is a
    weighted sum, not a count) and `headline: true` (withheld to protect another cell only when nothing else
    will do); and the top-level `relations:` (`load_relations`).
    """
    data = read_yaml(path)
    dimensions = pd.DataFrame(data.get("dimensions") or [])
    if dimensions.empty:
        raise CatalogueError(f"{path}: no dimensions listed")
    known = set(dimensions["id"])
    seen: set[str] = set()
    rows = []
    entries = [*(data.get("indicators") or []), *generated]
    written = len(data.get("indicators") or [])
    for position, entry in enumerate(entries, start=1):
        name = entry.get("id", f"entry #{position}")
        where = f"{path}: indicator {name!r}"
        missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
        if missing:
            raise CatalogueError(f"{where}: missing {', '.join(missing)}")
        if name in seen:
            if position > written:
                raise CatalogueError(f"{where}: generated from the {entry['computed_by'].split(':')[0]} rules "
                                     "(indicators/registry.py): remove the entry written in the catalogue")
            raise CatalogueError(f"{where}: duplicate id")
        if entry["dimension"] not in known:
            known_text = ", ".join(sorted(known))
            raise CatalogueError(f"{where}: unknown dimension {entry['dimension']!r} (known: {known_text})")
        if entry["direction"] not in (1, -1):
            raise CatalogueError(f"{where}: direction must be 1 (higher is better) or -1, got {entry['direction']!r}")
        for flag in ("sensitive", "weighted", "headline"):
            if not isinstance(entry.get(flag, False), bool):
                raise CatalogueError(f"{where}: {flag} must be true or false, got {entry[flag]!r}")
        seen.add(name)
        rows.append({**{k: entry[k] for k in REQUIRED},
                     "time_basis": entry.get("time_basis") or TIME_BASIS.get(entry["source"], TIME_BASIS["census"]),
                     "min_denominator": entry.get("min_denominator", min_denominator),
                     "sensitive": entry.get("sensitive", False), "weighted": entry.get("weighted", False),
                     "headline": entry.get("headline", False), "computed_by": entry.get("computed_by")})
    catalogue = pd.DataFrame(rows).rename(columns={"id": "indicator_id"})
    dimensions = dimensions.rename(columns={"id": "dimension_id"})[["dimension_id", "name_es", "name_en"]]
    return catalogue, dimensions


def check_computed(catalogue: pd.DataFrame, computed: dict[str, str], where: str) -> None:
    """Fail when an indicator is computed but not catalogued, catalogued but not computed, or catalogued with a
    `computed_by` that is not how the code computes it."""
    listed = dict(zip(catalogue["indicator_id"], catalogue["computed_by"], strict=True))
    for indicator, how in computed.items():
        if indicator not in listed:
            raise CatalogueError(f"{where}: {indicator!r} is computed ({how}) but not in the catalogue: add an entry "
                                 f"with computed_by: {how}, or stop computing it")
    for indicator, how in listed.items():
        if indicator not in computed:
            raise CatalogueError(f"{where}: indicator {indicator!r} is catalogued (computed_by: {how}) but nothing "
                                 "computes it: register it, or remove the entry")
        if how != computed[indicator]:
            raise CatalogueError(f"{where}: indicator {indicator!r} says computed_by: {how}, but it is computed by "
                                 f"{computed[indicator]}")


def table_computed(census: dict, catalogue: pd.DataFrame) -> dict[str, str]:
    """What a city's census tables deliver, id -> `table:<name>`: each wide table's column indicators, and every
    catalogued indicator with a `label` (a long table's rows carry it; the entry names which long table)."""
    computed = {}
    for name, spec in census["tables"].items():
        if spec.get("shape") == "wide":
            computed.update({column["indicator"]: f"table:{name}" for column in spec["columns"].values()})
    long = {f"table:{name}" for name, spec in census["tables"].items() if spec.get("shape") == "long"}
    for indicator, how, label in zip(catalogue["indicator_id"], catalogue["computed_by"], catalogue["label"],
                                     strict=True):
        if isinstance(label, str) and indicator not in computed:
            computed[indicator] = how if how in long else f"table:{sorted(long)[0]}" if len(long) == 1 else \
                f"one of the long tables ({', '.join(sorted(long))})"
    return computed


def dimension_table(dimensions: pd.DataFrame, index_nodes: set[str]) -> pd.DataFrame:
    """marts.dimensions: the catalogue's dimensions in file order (`display_order`), each marked `in_index` when
    it is a node of the well-being index (a grouping such as poverty is listed for its indicators, not scored)."""
    return dimensions.assign(display_order=range(len(dimensions)),
                             in_index=dimensions["dimension_id"].isin(index_nodes).to_numpy())


def load_relations(path: Path = CATALOGUE_PATH, known: list[str] | None = None, *,
                   strict: bool = True) -> list[Relation]:
    """The catalogue's `relations:`: linear facts between indicators' counts that disclosure control must keep
    from giving a withheld cell away (privacy.disclosure.Relation). `known`: the indicator ids the relations may
    name (default: the file's entries; the registry adds the generated ones)."""
    data = read_yaml(path)
    if known is None:
        known = [entry.get("id") for entry in data.get("indicators") or []]
    try:
        return expand_relations(data.get("relations") or [], known, str(path), strict=strict)
    except (ValueError, TypeError) as error:
        raise CatalogueError(str(error)) from None
