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


def load_catalogue(path: Path = CATALOGUE_PATH, *, min_denominator: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicators and the dimensions, checked: ids unique, dimension known, direction +1 or -1.

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
    for position, entry in enumerate(data.get("indicators") or [], start=1):
        name = entry.get("id", f"entry #{position}")
        where = f"{path}: indicator {name!r}"
        missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
        if missing:
            raise CatalogueError(f"{where}: missing {', '.join(missing)}")
        if name in seen:
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
                     "headline": entry.get("headline", False)})
    catalogue = pd.DataFrame(rows).rename(columns={"id": "indicator_id"})
    dimensions = dimensions.rename(columns={"id": "dimension_id"})[["dimension_id", "name_es", "name_en"]]
    return catalogue, dimensions


def dimension_table(dimensions: pd.DataFrame, index_nodes: set[str]) -> pd.DataFrame:
    """marts.dimensions: the catalogue's dimensions in file order (`display_order`), each marked `in_index` when
    it is a node of the well-being index (a grouping such as poverty is listed for its indicators, not scored)."""
    return dimensions.assign(display_order=range(len(dimensions)),
                             in_index=dimensions["dimension_id"].isin(index_nodes).to_numpy())


def load_relations(path: Path = CATALOGUE_PATH) -> list[Relation]:
    """The catalogue's `relations:`: linear facts between indicators' counts that disclosure control must keep
    from giving a withheld cell away (privacy.disclosure.Relation)."""
    data = read_yaml(path)
    known = [entry.get("id") for entry in data.get("indicators") or []]
    try:
        return expand_relations(data.get("relations") or [], known, str(path))
    except (ValueError, TypeError) as error:
        raise CatalogueError(str(error)) from None
