"""`bienestar city check` and `bienestar city new`: everything a city's config names, checked before any run.

`check_city` loads what the pipeline would load (the schema, the source contracts, the census tables, the
catalogue against what the code computes, the poverty and sensor rules, the index spec, the quality settings)
and fails at the first problem with the file and key at fault; it reads no data. `new_city` copies a city's
folder under a new name to start from (docs/city.md walks through the rest).
"""

from __future__ import annotations

import re
import shutil

from cities import City, CityConfigError, city_dirs, city_folder, load_city

NAME = re.compile(r"[a-z][a-z0-9_]*")


def check_city(name: str) -> list[str]:
    """What the city's config sets up, one line each; raises (naming file and key) at the first problem."""
    from bienestar.orchestration import marts_periods
    from expectations.suites import DEFAULT_THRESHOLDS
    from indicators.engine import load_spec
    from indicators.registry import catalogue_of
    from sources.contracts import source_contracts

    city = load_city(name)
    settings = city.settings
    lines = [f"config: {city.folder / 'city.yaml'} (every key known and typed; docs/city.md)"]
    levels = ", ".join(level.id for level in settings.levels)
    lines.append(f"levels: {levels}")
    contracts = source_contracts(city)
    if city.census_tables:
        from sources.census_tables import census_contracts

        census_contracts(city)
        tables, years = ", ".join(settings.census.tables), ", ".join(marts_periods(city))
        lines.append(f"census: aggregate tables {tables} ({years})")
    else:
        lines.append(f"census: microdata, census years {', '.join(city.vintages)}")
    lines.append(f"source contracts: {', '.join(contracts) or 'none'}")
    catalogue = catalogue_of(city)
    kinds = catalogue["computed_by"].str.split(":").str[0].value_counts()
    lines.append(f"catalogue: {len(catalogue)} indicators, each computed and catalogued ("
                 + ", ".join(f"{count} {kind}" for kind, count in kinds.items()) + ")")
    if not city.census_tables:
        lines.append(f"rules: catalogue {city.rule_path('catalogue')}, poverty {city.rule_path('poverty')}, "
                     f"sensors {city.rule_path('sensors')}")
    spec = load_spec(city.index_spec_path)
    unknown = sorted(set(spec.indicator_ids) - set(catalogue["indicator_id"]))
    if unknown:
        raise CityConfigError(f"{city.index_spec_path}: indicator(s) {', '.join(unknown)} are not in the city's "
                              "catalogue (docs/indicators.md lists what is)")
    lines.append(f"index: {spec.id} ({len(spec.indicator_ids)} indicators, {len(spec.nodes)} nodes), "
                 f"{city.index_spec_path.name}")
    quality = dict(settings.quality)
    severity = quality.pop("severity", None) or {}
    wrong = sorted(set(quality) - set(DEFAULT_THRESHOLDS))
    if wrong:
        raise CityConfigError(f"{city.folder / 'city.yaml'}: quality.{wrong[0]}: unknown threshold (known: "
                              f"{', '.join(DEFAULT_THRESHOLDS)})")
    for key, value in severity.items():
        if value not in ("blocking", "warning") or "." not in str(key):
            raise CityConfigError(f"{city.folder / 'city.yaml'}: quality.severity.{key}: expected "
                                  f"`<suite>.<check>: blocking|warning`, got {value!r}")
    lines.append(f"quality: {len(quality)} threshold(s) set, {len(severity)} severity override(s)")
    rules = settings.disclosure
    lines.append(f"disclosure: min_denominator {rules.min_denominator}, min_count {rules.min_count}, group_min "
                 f"{rules.group_min}, sensitive {rules.sensitive_min_denominator}/{rules.sensitive_min_count}")
    periods = marts_periods(city)
    for change in settings.changes:
        for period in (change.period_from, change.period_to):
            if period not in periods:
                raise CityConfigError(f"{city.folder / 'city.yaml'}: changes: {period} is not a census year of the "
                                      f"city ({', '.join(periods)})")
    if settings.changes:
        lines.append("changes: " + ", ".join(f"{c.period_from}-{c.period_to}" for c in settings.changes))
    return lines


def new_city(name: str, template: str) -> City:
    """A new city `name`: a copy of `template`'s folder with its name set, in the first of the city folders
    (BIENESTAR_CITIES_DIR when set)."""
    if not NAME.fullmatch(name):
        raise CityConfigError(f"city name {name!r}: use lower-case letters, digits and _ (a Python identifier: it "
                              "names DAGs and database files)")
    source = load_city(template).folder
    target = city_dirs()[0] / name
    if city_folder(name).joinpath("city.yaml").exists() or target.exists():
        raise CityConfigError(f"city {name!r} exists already ({city_folder(name)}): choose another name")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    path = target / "city.yaml"
    text = path.read_text(encoding="utf-8")
    renamed, count = re.subn(rf"^name: {re.escape(template)}\b", f"name: {name}", text, count=1, flags=re.M)
    if count != 1:
        shutil.rmtree(target)
        raise CityConfigError(f"{source / 'city.yaml'}: no top-level `name: {template}` line to rename")
    path.write_text(renamed, encoding="utf-8")
    return load_city(name)


