"""The indicator catalogue (`indicators/catalogue.yaml`): load and check it, fail fast on a bad entry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

CATALOGUE_PATH = Path(__file__).resolve().parent / "catalogue.yaml"
REQUIRED = ("id", "name_es", "name_en", "definition", "dimension", "unit", "direction", "numerator",
            "denominator", "source")


class CatalogueError(ValueError):
    """A catalogue entry that cannot be used; the message names the file and the entry."""


def load_catalogue(path: Path = CATALOGUE_PATH, *, min_denominator: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicators and the dimensions, checked: ids unique, dimension known, direction +1 or -1.

    Disclosure control (privacy/disclosure.py) reads three optional keys: `min_denominator` (default: the
    city's), `sensitive: true` (stricter thresholds: violence, health), `family` (indicators that share counts,
    withheld together in an area) and `weighted: true` (a numerator that is a weighted sum, not a count).
    """
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
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
        for flag in ("sensitive", "weighted"):
            if not isinstance(entry.get(flag, False), bool):
                raise CatalogueError(f"{where}: {flag} must be true or false, got {entry[flag]!r}")
        family = entry.get("family")
        if family is not None and (not isinstance(family, str) or not family.strip()):
            raise CatalogueError(f"{where}: family must be a name shared by indicators with common counts, "
                                 f"got {family!r}")
        seen.add(name)
        rows.append({**{k: entry[k] for k in REQUIRED},
                     "min_denominator": entry.get("min_denominator", min_denominator),
                     "sensitive": entry.get("sensitive", False), "family": family,
                     "weighted": entry.get("weighted", False)})
    catalogue = pd.DataFrame(rows).rename(columns={"id": "indicator_id"})
    dimensions = dimensions.rename(columns={"id": "dimension_id"})[["dimension_id", "name_es", "name_en"]]
    return catalogue, dimensions
