"""City configurations: one folder per city with `city.yaml`, its index spec and (for sample cities) a generator."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

CITIES_DIR = Path(__file__).resolve().parent


class CityConfigError(ValueError):
    """A city configuration that cannot be used, with the file and the key at fault."""


def refuse_aliases(text: str, source: str) -> None:
    """Raise CityConfigError at the first YAML alias (`*name`) in `text`.

    Our configuration files (city.yaml, index specs, catalogues, poverty and sensor settings) need none, and an
    alias can make a few bytes expand into gigabytes (a "billion laughs" file) or refer to itself.
    """
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise CityConfigError(f"{source}:{event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are "
                                      "not allowed in configuration files; write the value out")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise CityConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def read_yaml(path: Path) -> Any:
    """A configuration file's data, read safely: no aliases, a clear error naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CityConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    refuse_aliases(text, str(path))
    return yaml.safe_load(text)


@dataclass(frozen=True)
class City:
    """A city's configuration as read from `cities/<name>/city.yaml`."""

    name: str
    folder: Path
    config: dict[str, Any]

    @cached_property
    def settings(self):
        """The config checked against the schema (cities/schema.py), every default filled in: read settings here."""
        from cities.schema import validate

        return validate(self.config, str(self.folder / "city.yaml"))

    @property
    def display_name(self) -> str:
        return self.settings.display_name or self.name

    @property
    def demo(self) -> bool:
        return self.settings.demo

    @property
    def levels(self) -> list[dict[str, str]]:
        return self.config["levels"]

    @property
    def vintage(self) -> str:
        return self.settings.census.vintage

    @property
    def vintages(self) -> list[str]:
        """Every census year the city delivers, oldest first (the latest is `vintage`)."""
        return sorted({*self.settings.census.earlier_vintages, self.vintage})

    def census_day(self, vintage: str) -> date | None:
        """The day a census year's counts describe (`census.days` in city.yaml), None when not given."""
        return self.settings.census.days.get(vintage)

    def census_file(self, part: str, vintage: str) -> str:
        """Where a census part (`households`, `persons`) of a census year is delivered, relative to landing/."""
        spec = self.config["census"][part]
        if vintage == self.vintage:
            return spec["file"]
        if vintage not in self.vintages or "earlier_file" not in spec:
            raise CityConfigError(f"{self.folder / 'city.yaml'}: no census {vintage} (census years: "
                                  f"{', '.join(self.vintages)}); list it in census.earlier_vintages and give "
                                  f"census.{part}.earlier_file")
        return spec["earlier_file"].format(vintage=vintage)

    @property
    def census_tables(self) -> bool:
        """True for a city whose census comes as published aggregate tables (`census.tables`), not microdata."""
        return bool(self.settings.census.tables)

    @property
    def months(self) -> list[str]:
        """The `YYYY-MM` months of service records and sensor readings the city's indicators use (`months:`)."""
        return self.settings.months

    def rule_path(self, kind: str) -> Path:
        """The city's `rules.<kind>` file (catalogue, poverty, sensors), or the shared one under indicators/."""
        own = getattr(self.settings.rules, kind)
        shared = {"catalogue": "catalogue.yaml", "poverty": "poverty.yaml", "sensors": "sensors.yaml"}[kind]
        return self.folder / own if own else CITIES_DIR.parent / "indicators" / shared

    def sources_of(self, period: str) -> list[str]:
        """The sources a period's indicators are built from: the census, and services and sensors when the city
        has them and lists months in that year (an older census has no service records or readings)."""
        delivered = ["census"]
        in_period = [m for m in self.months if m.startswith(f"{period}-")]
        delivered += [s for s in ("services", "sensors") if s in self.config and in_period]
        return delivered

    @property
    def index_spec_path(self) -> Path:
        return self.folder / self.settings.index

    def section(self, key: str) -> dict[str, Any]:
        """One section of the config, with a clear error when it is missing."""
        try:
            return self.config[key]
        except KeyError:
            raise CityConfigError(f"{self.folder / 'city.yaml'}: missing section {key!r}") from None


def city_dirs() -> list[Path]:
    """Where cities are found: BIENESTAR_CITIES_DIR (a folder of your own cities, searched first) and the
    bundled cities/ folder."""
    own = os.environ.get("BIENESTAR_CITIES_DIR")
    return [*([Path(own).resolve()] if own else []), CITIES_DIR]


def available_cities() -> list[str]:
    """Names of the cities that have a `city.yaml`."""
    return sorted({p.parent.name for folder in city_dirs() for p in folder.glob("*/city.yaml")})


def city_folder(name: str) -> Path:
    """The folder of city `name`: the first of `city_dirs()` that has it (or would, for a new city)."""
    for folder in city_dirs():
        if (folder / name / "city.yaml").exists():
            return folder / name
    return city_dirs()[0] / name


def load_city(name: str) -> City:
    """Read a city's configuration; an unknown name lists the cities that exist."""
    folder = city_folder(name)
    path = folder / "city.yaml"
    if not path.exists():
        raise CityConfigError(f"unknown city {name!r}: no {path}. Available: {', '.join(available_cities())}")
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise CityConfigError(f"{path}: expected a mapping of settings (name, levels, census, index, ...)")
    city = City(name=name, folder=folder, config=config)
    if city.settings.name != name:
        raise CityConfigError(f"{path}: name {config['name']!r} does not match its folder {name!r}")
    return city
