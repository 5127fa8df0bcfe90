"""One source of truth for indicators: what the code computes, and the catalogue entries generated from the rules.

Every catalogue entry says how it is computed (`computed_by`):

    census:<name>                      a registered function (indicators/area_indicators.py, CENSUS_INDICATORS)
    services:<name>                    a rate of service records (indicators/service_indicators.py, SERVICE_INDICATORS)
    sensors:<name>                     a rule of the sensor config (indicators/sensors.yaml `indicators:`)
    poverty:<section>[.<id>]           a rule of the poverty config (indicators/poverty.yaml): the NBI and
                                       Alkire-Foster entries are generated from it (`poverty_entries`), never
                                       written by hand
    table:<source>                     a figure delivered in a census table (cities with aggregate tables)

`city_catalogue` loads a city's catalogue and fails, naming the file and the indicator, when anything computed is
not catalogued or anything catalogued is not computed; `build_indicator_values` checks the counts it made against
the catalogue once more. `python -m indicators.registry docs` writes docs/indicators.md.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import pandas as pd

from cities import City, read_yaml
from cities.schema import Disclosure
from indicators.alkire_foster import AFConfig, load_af_config
from indicators.area_indicators import CENSUS_INDICATORS
from indicators.catalogue import CATALOGUE_PATH, CatalogueError, check_computed, load_catalogue, load_relations
from indicators.nbi import POVERTY_PATH, NBIConfig, load_nbi_config
from indicators.sensor_indicators import SENSORS_PATH, load_sensor_config
from indicators.service_indicators import SERVICE_INDICATORS
from privacy.disclosure import Relation

MEASURED = "persons in households with a deprivation score"
NBI_MEASURED = "persons in households with an NBI index"


def computed_indicators(nbi: NBIConfig, af: AFConfig, sensors: dict) -> dict[str, str]:
    """Every indicator the code computes for a microdata city, id -> how (`computed_by`)."""
    out = {name: f"census:{name}" for name in CENSUS_INDICATORS}
    out.update({name: f"services:{name}" for name in SERVICE_INDICATORS})
    out.update({name: f"sensors:{name}" for name in sensors["indicators"]})
    out.update({entry["id"]: entry["computed_by"] for entry in poverty_entries(nbi, af, None)})
    return out


def _number(value: float) -> str:
    return f"{value:g}"


def _fraction(value: float) -> str:
    return str(Fraction(value).limit_denominator(1000))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _band(lower: tuple[float, bool] | None, upper: tuple[float, bool] | None) -> str:
    """A stratum's band of the NBI index in words: `lower`/`upper` are (bound, included)."""
    low = None if lower is None else (f"from {_number(lower[0])}" if lower[1] else f"above {_number(lower[0])}")
    high = None if upper is None else (f"up to {_number(upper[0])}" if upper[1] else f"below {_number(upper[0])}")
    return " ".join(part for part in (low, high) if part)


def _names(texts: dict, key: str, where: str) -> tuple[str, str]:
    """The (name_es, name_en) the poverty config gives `key`; a clear error when one is missing."""
    entry = texts.get(key) or {}
    missing = [k for k in ("name_es", "name_en") if not entry.get(k)]
    if missing:
        raise CatalogueError(f"{where}: missing {' and '.join(missing)} (the generated catalogue entry's name)")
    return entry["name_es"], entry["name_en"]


def poverty_texts(path: Path) -> dict[str, dict]:
    """The names the poverty config gives its strata, components and Alkire-Foster indicators, by
    `nbi.strata.<id>`, `nbi.components.<id>` and `alkire_foster.indicators.<id>`."""
    data = read_yaml(Path(path)) or {}
    nbi, af = data.get("nbi") or {}, data.get("alkire_foster") or {}
    texts = {f"nbi.strata.{e.get('id')}": e for e in nbi.get("strata") or [] if isinstance(e, dict)}
    texts.update({f"nbi.components.{k}": v for k, v in (nbi.get("components") or {}).items() if isinstance(v, dict)})
    texts.update({f"alkire_foster.indicators.{e.get('id')}": e for e in af.get("indicators") or []
                  if isinstance(e, dict)})
    return texts


def poverty_entries(nbi: NBIConfig, af: AFConfig, texts: dict[str, dict] | None, *,
                    poverty: str = "poverty.yaml") -> list[dict]:
    """The catalogue entries of the NBI and Alkire-Foster indicators, generated from the rules (their cut-offs,
    k and weights) and the names in the poverty config (`texts`, from `poverty_texts`; None: ids only, with
    placeholder names, for listing what is computed)."""
    def names(key: str) -> tuple[str, str]:
        if texts is None:
            return key, key
        return _names(texts, key, f"{poverty}: {key}")

    def entry(id_: str, how: str, name_es: str, name_en: str, definition: str, numerator: str, denominator: str,
              *, direction: int = -1, **flags) -> dict:
        return {"id": id_, "name_es": name_es, "name_en": name_en, "definition": definition, "dimension": "poverty",
                "unit": "share", "direction": direction, "numerator": numerator, "denominator": denominator,
                "source": "census", "computed_by": f"poverty:{how}", **flags}

    strata = list(nbi.strata)
    poor = [s for s in strata if s.id in nbi.poor_strata]
    poor_names = [_lower_first(names(f"nbi.strata.{s.id}")[1]) for s in poor]
    poor_en = " or ".join(poor_names) if len(poor_names) < 3 else f"{', '.join(poor_names[:-1])} or {poor_names[-1]}"
    first_poor = strata.index(poor[0])
    line = strata[first_poor - 1] if first_poor else None
    poor_band = _band(None if line is None else (line.upper, not line.includes_upper), None) or "any value"
    out = [
        entry("nbi_poor_persons", "nbi", "Población con necesidades básicas insatisfechas (NBI)",
              "Population with unsatisfied basic needs (NBI)",
              f"Share of persons living in NBI-poor households ({poor_en}), INE Bolivia / CEPAL gap method; see "
              "docs/poverty.md.", "persons in NBI-poor households", NBI_MEASURED, headline=True),
        entry("nbi_poor_households", "nbi", "Hogares con NBI", "Households with unsatisfied basic needs",
              f"Share of households whose NBI index is {poor_band} ({poor_en}).", "NBI-poor households",
              "households with an NBI index", headline=True),
    ]
    for position, stratum in enumerate(strata):
        name_es, name_en = names(f"nbi.strata.{stratum.id}")
        below = strata[position - 1] if position else None
        last = position == len(strata) - 1
        band = _band(None if below is None else (below.upper, not below.includes_upper),
                     None if last and below is not None else (stratum.upper, stratum.includes_upper))
        out.append(entry(f"nbi_stratum_{stratum.id}", f"nbi.strata.{stratum.id}", f"Población: {_lower_first(name_es)}",
                         f"Population: {_lower_first(name_en)}",
                         f"Share of persons in households whose NBI index is {band}.",
                         "persons in households of the stratum", NBI_MEASURED, direction=1 if position == 0 else -1))
    for component in nbi.components:
        name_es, name_en = names(f"nbi.components.{component.id}")
        out.append(entry(
            f"nbi_deprived_{component.id}", f"nbi.components.{component.id}",
            f"Componente NBI: {_lower_first(name_es)}",
            f"NBI component: {_lower_first(name_en)}",
            f"Share of persons in households whose gap in this component ({_lower_first(name_en)}) is above "
            f"{_number(nbi.component_deprived_above)}: the component is unmet.",
            "persons in households with the component unmet", "persons in households where the component was scored"))
    out.append(entry(
        "nbi_unmeasured_households", "nbi", "Hogares sin índice NBI (respuestas incompletas)",
        "Households without an NBI index (incomplete answers)",
        "Share of households given no NBI index because an answer a component needs is missing: a data-quality "
        "figure (docs/poverty.md).", "households with no NBI index", "all households"))
    k = _fraction(af.k)
    out += [
        entry("af_h", "alkire_foster", "Incidencia de pobreza multidimensional (H)",
              "Multidimensional poverty headcount (H)",
              f"Alkire-Foster headcount ratio: share of persons in households deprived in at least k = {k} of the "
              "weighted indicators; see docs/poverty.md.", "persons in multidimensionally poor households", MEASURED,
              headline=True),
        entry("af_a", "alkire_foster", "Intensidad de la pobreza multidimensional (A)",
              "Intensity of multidimensional poverty (A)",
              "Alkire-Foster intensity: mean deprivation score among the multidimensionally poor.",
              "sum of poor persons' deprivation scores", "persons in multidimensionally poor households",
              weighted=True),
        entry("af_m0", "alkire_foster", "Índice de pobreza multidimensional ajustado (M0 = H·A)",
              "Adjusted multidimensional poverty index (M0 = H·A)",
              "Alkire-Foster adjusted headcount ratio: the sum of poor persons' deprivation scores over all persons.",
              "sum of poor persons' deprivation scores", MEASURED, headline=True, weighted=True),
    ]
    for indicator in af.indicators:
        key = f"alkire_foster.indicators.{indicator.id}"
        name_es, name_en = names(key)
        out.append(entry(f"af_ch_{indicator.id}", key, f"Incidencia censurada: {name_es}",
                         f"Censored headcount: {name_en}",
                         f"Share of persons who are multidimensionally poor and deprived in {name_en}.",
                         f"persons poor and deprived in {name_en}", MEASURED))
    for indicator in af.indicators:
        key = f"alkire_foster.indicators.{indicator.id}"
        name_es, name_en = names(key)
        out.append(entry(f"af_contrib_{indicator.id}", key, f"Contribución a M0: {name_es}",
                         f"Contribution to M0: {name_en}",
                         f"Share of M0 due to deprivation in {name_en}: w_j x censored headcount / M0 with w_j = "
                         f"{_fraction(indicator.weight)} (the contributions of an area add up to 1); no better or "
                         "worse direction, listed as -1.",
                         f"weight x persons poor and deprived in {name_en}", "sum of poor persons' deprivation scores",
                         weighted=True))
    out.append(entry(
        "af_unmeasured_households", "alkire_foster", "Hogares sin puntaje de privaciones (respuestas incompletas)",
        "Households without a deprivation score (incomplete answers)",
        "Share of households given no Alkire-Foster score because an indicator cannot be measured: a data-quality "
        "figure (docs/poverty.md).", "households with no deprivation score", "all households"))
    return out


def city_catalogue(city: City | None = None, *, path: Path | None = None, poverty_path: Path | None = None,
                   sensors_path: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[Relation]]:
    """A microdata city's catalogue (its catalogue file's entries and those generated from its poverty rules),
    dimensions and relations, checked against what the code computes. The files are the city's `rules:`
    (city.yaml) or the shared ones under indicators/; a path given here overrides either."""
    path = path or (city.rule_path("catalogue") if city else CATALOGUE_PATH)
    poverty_path = poverty_path or (city.rule_path("poverty") if city else POVERTY_PATH)
    sensors_path = sensors_path or (city.rule_path("sensors") if city else SENSORS_PATH)
    min_denominator = city.settings.disclosure.min_denominator if city else Disclosure().min_denominator
    nbi, af = load_nbi_config(poverty_path), load_af_config(poverty_path)
    sensors = load_sensor_config(sensors_path)
    generated = poverty_entries(nbi, af, poverty_texts(poverty_path), poverty=str(poverty_path))
    catalogue, dimensions = load_catalogue(path, min_denominator=min_denominator, generated=generated)
    check_computed(catalogue, computed_indicators(nbi, af, sensors), str(path))
    return catalogue, dimensions, load_relations(path, known=list(catalogue["indicator_id"]))


def catalogue_of(city: City) -> pd.DataFrame:
    """The catalogue a city publishes (marts.indicator_catalogue), with `computed_by`."""
    if city.census_tables:
        from indicators.build_tables import table_catalogue
        from sources.census_tables import load_indicator_catalogue

        load_indicator_catalogue(city)  # the tables' consistency check
        return table_catalogue(city)[0]
    return city_catalogue(city)[0]


WHERE = {"census": "indicators/area_indicators.py", "services": "indicators/service_indicators.py",
         "sensors": "indicators/sensors.yaml", "poverty": "indicators/poverty.yaml", "table": "city.yaml census.tables"}


def formula(row) -> str:
    """numerator ÷ denominator, times the multiplier the code applies (service rates: per 1,000 or per 100)."""
    kind, _, name = str(row.computed_by).partition(":")
    multiplier = SERVICE_INDICATORS[name].multiplier if kind == "services" else 1
    times = f" × {multiplier:,.0f}" if multiplier != 1 else ""
    return f"({row.numerator}) ÷ ({row.denominator}){times}"


def indicators_markdown(cities: list[City]) -> str:
    """docs/indicators.md: every indicator of every city listed, by dimension."""
    lines = ["# Indicators", "",
             "Generated from the catalogues and the rules (`python -m indicators.registry docs > docs/indicators.md`; "
             "a test fails when this file is out of date). Every entry says how the code computes it (`computed by`, "
             "docs in indicators/registry.py); loading a catalogue fails when an indicator is computed but not "
             "catalogued, or catalogued but not computed. The NBI and Alkire-Foster entries are generated from "
             "indicators/poverty.yaml. Values, margins and suppression: docs/marts.md; the methods: docs/poverty.md.",
             ""]
    for city in cities:
        catalogue = catalogue_of(city)
        dimensions = {d["dimension_id"]: d for d in _dimensions(city)}
        lines += [f"## {city.display_name} (`{city.name}`)", "", f"{len(catalogue)} indicators.", ""]
        for dimension, group in catalogue.groupby("dimension", sort=False):
            label = dimensions.get(dimension, {})
            lines += [f"### {label.get('name_en', dimension)} / {label.get('name_es', dimension)}", ""]
            for row in group.itertuples():
                how = str(row.computed_by)
                kind = how.split(":")[0]
                where = WHERE[kind]
                direction = "higher is better" if row.direction == 1 else "lower is better"
                lines += [f"#### `{row.indicator_id}`: {row.name_en} / {row.name_es}", "",
                          str(row.definition), "",
                          f"- formula: {formula(row)}",
                          f"- unit: {row.unit} ({direction}); source: {row.source}",
                          f"- time basis: {row.time_basis}",
                          f"- computed by: `{how}` ({where})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _dimensions(city: City) -> list[dict]:
    path = city.folder / city.settings.census.indicators if city.census_tables else city.rule_path("catalogue")
    return [{"dimension_id": d["id"], **d} for d in read_yaml(path).get("dimensions") or []]


def main(argv: list[str] | None = None) -> int:
    from cities import available_cities, load_city

    parser = argparse.ArgumentParser(
        prog="python -m indicators.registry",
        description="Check the indicator catalogues against what the code computes, or write docs/indicators.md.")
    parser.add_argument("command", choices=["check", "docs"],
                        help="check: load every bundled city's catalogue (fails naming the file and indicator); "
                             "docs: print docs/indicators.md")
    args = parser.parse_args(argv)
    cities = [load_city(name) for name in available_cities()]
    if args.command == "docs":
        sys.stdout.write(indicators_markdown(cities))
        return 0
    for city in cities:
        try:
            count = len(catalogue_of(city))
        except CatalogueError as error:
            print(f"{city.name}: {error}", file=sys.stderr)
            return 1
        print(f"{city.name}: {count} indicators, each computed and catalogued")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
