"""The schema of `city.yaml`: every key, its type, its default (here and nowhere else) and what it means.

`load_city` validates a city's file against `CityConfig` (pydantic): an unknown key (a typo), a wrong type or a
bad value stops with the file and the key's path, e.g. `cities/x/city.yaml: disclosure.min_count: expected a whole
number of at least 1, got 0`. Sections whose contents other modules check in depth (source contracts, census tables,
quality thresholds, index spec) are typed here at their top and checked by `bienestar city check`.

docs/city.md's reference part is generated from this module: `python -m cities.schema docs`.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CODE = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
PositiveInt = typing.Annotated[int, Field(strict=True, ge=1)]
Share = typing.Annotated[float, Field(strict=True, ge=0, le=1)]  # strict: true/false are no shares


class Section(BaseModel):
    """A block of city.yaml: unknown keys are refused (a typo would otherwise silently keep the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(Section):
    """Each entry of `levels:`, smallest level first."""

    id: str = Field(description="the level's id (zona, distrito, municipio, ...)")
    code: str = Field(description="the boundary file's (or area table's) column holding the area code")
    name: str = Field(description="the column holding the area name")
    label_es: str = Field(description="the level's name in Spanish, as reports show it")
    label_en: str = Field(description="the level's name in English")


class BoundaryChecks(Section):
    """`boundary_checks:` the boundary gate (transforms/boundaries.py)."""

    envelope: tuple[float, float, float, float] | None = Field(
        None, description="[min lon, min lat, max lon, max lat]: every polygon must lie inside it (none: no check)")
    max_zone_share: Share = Field(0.5, description="no polygon may cover more than this share of the city")
    max_overlap_share: Share = Field(0.001, description="two polygons may overlap by at most this share of the "
                                                       "smaller one")
    code_pattern: str = Field(DEFAULT_CODE, description="a regular expression every area code must match")

    @field_validator("envelope", mode="before")
    @classmethod
    def _four(cls, value):
        if value is not None and not (isinstance(value, list | tuple) and len(value) == 4):
            raise ValueError(f"expected [min_lon, min_lat, max_lon, max_lat], got {value!r}")
        return value

    @field_validator("envelope")
    @classmethod
    def _ordered(cls, value):
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError(f"expected [min_lon, min_lat, max_lon, max_lat], got {list(value)}")
        return value

    @field_validator("code_pattern")
    @classmethod
    def _regex(cls, value):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        return value


class CensusPart(Section):
    """`census.households:` and `census.persons:` (microdata cities)."""

    file: str = Field(description="the latest census's file, relative to landing/")
    earlier_file: str | None = Field(None, description="an earlier census's file, with `{vintage}` for the year")
    required: list[str] = Field(description="columns every delivery must have")
    drop: list[str] = Field([], description="columns dropped at landing (names, addresses: never stored)")
    pseudonymise: list[str] = Field([], description="id columns replaced by keyed hashes at landing")
    generalise_location: list[str] = Field([], description="lon/lat columns placed in an area, then dropped")


class Census(Section):
    """`census:` the census years and where their data come from."""

    vintage: str = Field(description="the latest census year: the report's period")
    earlier_vintages: list[str] = Field([], description="earlier census years, for change over time")
    days: dict[str, date] = Field({}, description="census day of each year (YYYY-MM-DD): the day the figures "
                                                  "describe")
    households: CensusPart | None = Field(None, description="microdata: the households file")
    persons: CensusPart | None = Field(None, description="microdata: the persons file")
    tables: dict[str, dict[str, Any]] | None = Field(
        None, description="aggregate census tables instead of microdata, by source (sources/census_tables.py)")
    indicators: str | None = Field(None, description="aggregate tables: the city's indicator catalogue file")
    areas: dict[str, Any] | None = Field(None, description="aggregate tables: where area names and polygons come "
                                                           "from")

    @field_validator("vintage", mode="before")
    @classmethod
    def _year_text(cls, value):
        return str(value) if isinstance(value, int) else value

    @field_validator("earlier_vintages", mode="before")
    @classmethod
    def _years_text(cls, value):
        return [str(v) if isinstance(v, int) else v for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _microdata_or_tables(self):
        if not self.tables and not (self.households and self.persons):
            raise ValueError("give either households and persons (microdata) or tables (aggregate census tables)")
        return self


class Portal(Section):
    """`services.portal:` and `sensors.portal:` an open-data API the deliveries are fetched from."""

    kind: Literal["ckan", "sensorthings"] = Field(description="the portal's API")
    conn_id: str = Field(description="the Airflow Connection holding the portal's address")
    package: str = Field("{family}", description="CKAN: the package of a family")
    resource: str = Field("{family}_{month}", description="CKAN: the resource of a family's month")
    via: Literal["datastore", "download"] = Field("datastore", description="CKAN: read the DataStore API or "
                                                                            "download the file")
    page_size: PositiveInt = Field(32000, description="CKAN: rows per datastore_search page")
    sensor_id_property: str = Field("sensor_id", description="SensorThings: the Thing property holding the id")
    property_aliases: dict[str, str] | None = Field(None, description="SensorThings: other names of properties")
    ignore_properties: list[str] = Field([], description="SensorThings: properties not to read")


class Services(Section):
    """`services:` municipal service records (sources/deliveries.py, sources/ckan.py)."""

    families: list[str] = Field(description="the record families delivered (health_visits, police_reports, ...)")
    pattern: str = Field(description="a month's file of a family, relative to landing/ ({family}, {month})")
    portal: Portal | None = Field(None, description="fetch from a CKAN portal instead of landing/ files")
    required: list[str] = Field(description="columns every record file must have")


class Sensors(Section):
    """`sensors:` stations and their readings (sources/sensor_deliveries.py, transforms/sensor_readings.py)."""

    stations: str = Field(description="the stations file, relative to landing/")
    pattern: str = Field(description="an interval's readings file ({month}, {interval})")
    portal: Portal | None = Field(None, description="fetch from a SensorThings API instead of landing/ files")
    required: list[str] = Field(description="fields every reading must have")
    valid_range: dict[str, tuple[float, float]] = Field(description="physical range per parameter: a reading "
                                                                    "outside is flagged, not used")
    gap_hours: PositiveInt = Field(3, description="this many hours in a row with no reading is a gap")
    lookback_hours: PositiveInt = Field(48, description="staged readings before an interval that stuck runs and "
                                                        "medians take into account")
    stuck_hours: PositiveInt = Field(6, description="the same value this many hours in a row is a stuck sensor")
    spike_factor: float = Field(5, gt=1, description="a reading this many times the sensor's median is a spike")


class PovertyLines(Section):
    """`survey.poverty_lines:` the official income poverty lines the survey's income is compared with."""

    extreme: float = Field(gt=0, description="extreme poverty line (the cost of the basic food basket), per person")
    moderate: float = Field(gt=0, description="moderate poverty line (food and essential non-food), per person")
    unit: str = Field(description="currency and period, e.g. Bs per person per month")
    year: int = Field(description="the year the lines are valued in")
    source: str = Field(description="where the lines come from (publication, table)")

    @model_validator(mode="after")
    def _extreme_below_moderate(self):
        if self.extreme >= self.moderate:
            raise ValueError(f"the extreme line ({self.extreme}) must be below the moderate one ({self.moderate})")
        return self


class SurveyDesign(Section):
    """`survey.design:` the columns of the survey households file that describe its sample design."""

    stratum: str = Field("stratum", description="the stratum of each household")
    psu: str = Field("psu", description="its primary sampling unit (cluster)")
    weight: str = Field("design_weight", description="its design weight: the inverse of its selection probability")
    responded: str = Field("responded", description="1 if it answered, 0 if not (weights are adjusted for it)")
    area: str = Field("zone_code", description="the smallest area it lives in (a code of the boundary file)")


class SmallArea(Section):
    """`survey.small_area:` Fay-Herriot estimates where the survey is too thin for a direct estimate."""

    level: str = Field(description="the area level estimated (a level id, e.g. distrito)")
    covariates: list[str] = Field(min_length=1, description="census indicators (catalogue ids) used as "
                                                            "covariates, the same year")
    measures: list[str] = Field(["income_poverty_moderate"], description="the survey measures estimated")


class Survey(Section):
    """`survey:` a household survey (docs/survey.md): landed, pseudonymised and staged like the census."""

    name: str = Field(description="the survey's name, as reports cite it")
    vintage: str = Field(description="the year the survey describes (a census year of the city)")
    households: CensusPart = Field(description="the survey households file")
    persons: CensusPart = Field(description="the survey persons file")
    design: SurveyDesign = Field(SurveyDesign(), description="the design columns")
    income: str = Field("income_per_capita", description="income per person per month, same unit as the lines")
    poverty_lines: PovertyLines = Field(description="the official lines")
    perception_topics: list[str] = Field([], description="topics rated 1 to 10 (columns satisfaction_<topic>)")
    min_households: PositiveInt = Field(30, description="fewer responding households than this in a domain and "
                                                        "its direct estimates are withheld")
    max_cv: float = Field(0.3, gt=0, description="a direct estimate whose coefficient of variation is above this "
                                                  "is published flagged as unreliable")
    small_area: SmallArea | None = Field(None, description="small-area estimates (none: direct only)")

    @field_validator("vintage", mode="before")
    @classmethod
    def _year_text(cls, value):
        return str(value) if isinstance(value, int) else value


class Disclosure(Section):
    """`disclosure:` small-count rules every published figure passes (docs/privacy.md)."""

    min_denominator: PositiveInt = Field(20, description="cases behind a figure; the catalogue may set more")
    min_count: PositiveInt = Field(5, description="counts (and a share's complement) of 1 .. this - 1 are never "
                                                  "published nor derivable")
    group_min: PositiveInt = Field(50, description="0% or 100% of fewer cases than this is withheld")
    sensitive_min_denominator: PositiveInt = Field(50, description="min_denominator of `sensitive: true` "
                                                                  "indicators (violence, health)")
    sensitive_min_count: PositiveInt = Field(10, description="min_count of sensitive indicators")

    @model_validator(mode="after")
    def _sensitive_stricter(self):
        if self.sensitive_min_denominator < self.min_denominator or self.sensitive_min_count < self.min_count:
            raise ValueError(f"the sensitive thresholds must be at least the general ones (min_denominator "
                             f"{self.min_denominator}, min_count {self.min_count})")
        return self


class Change(Section):
    """Each entry of `changes:` a pair of census years whose change is published."""

    period_from: str = Field(description="the earlier census year")
    period_to: str = Field(description="the later census year")


class IndexUncertainty(Section):
    """`index_uncertainty:` the rank bands' simulation."""

    runs: PositiveInt = Field(500, description="alternative indices drawn for the rank bands")
    seed: int = Field(0, description="random seed: the same seed gives the same bands")


class Schedule(Section):
    """`schedule:` when the DAGs start, and how long a task or a run may take before Airflow stops it: the
    defaults are generous for the sample city (its slowest task takes ~20 s), tight enough that a hung source is
    noticed the same day."""

    start: date | None = Field(None, description="first day the DAGs are scheduled from (default: the first of "
                                                 "`months`)")
    task_timeout_minutes: float = Field(30, gt=0, description="a task running longer fails (and retries)")
    run_timeout_minutes: float = Field(180, gt=0, description="a DAG run longer than this fails")


class Publication(Section):
    """`publication:`"""

    keep: PositiveInt = Field(30, description="publications (snapshots and reports) kept per city")


class Report(Section):
    """`report:` the analysts' report (docs/reports.md)."""

    lang: Literal["es", "en"] = Field("es", description="the report's default language")
    citation: str | None = Field(None, description="how to cite the data, printed in the report and downloads")
    licence: str | dict[str, str] | None = Field(
        None, description="the downloads' licence: an SPDX id such as CC-BY-4.0, or {name, path, title}")


class Rules(Section):
    """`rules:` a city's own indicator rules, paths relative to its folder (docs/indicators.md)."""

    catalogue: str | None = Field(None, description="the city's indicator catalogue, relative to its folder "
                                                    "(default: indicators/catalogue.yaml)")
    poverty: str | None = Field(None, description="the city's NBI and Alkire-Foster rules (default: "
                                                  "indicators/poverty.yaml)")
    sensors: str | None = Field(None, description="the city's sensor indicator rules (default: "
                                                  "indicators/sensors.yaml)")


class CityConfig(Section):
    name: str = Field(description="the city's id: its folder's name")
    display_name: str | None = Field(None, description="the name reports show (default: `name`)")
    demo: bool = Field(False, description="synthetic people: a fixed pseudonymisation key is allowed")
    generator: str | None = Field(None, description="module generating a sample city (`bienestar generate`)")
    levels: list[Level] = Field(min_length=1, description="area levels, smallest first")
    boundaries: str | None = Field(None, description="the boundary file, relative to landing/ (microdata cities)")
    boundary_checks: BoundaryChecks = Field(BoundaryChecks(), description="the boundary gate's rules")
    sources: dict[str, dict[str, Any]] = Field({}, description="source contracts: connector, location, fields "
                                                               "(sources/contracts.py, docs/landing.md)")
    census: Census = Field(description="the census: microdata files or aggregate tables")
    services: Services | None = Field(None, description="municipal service records (none: no service indicators)")
    sensors: Sensors | None = Field(None, description="sensor readings (none: no sensor indicators)")
    survey: Survey | None = Field(None, description="a household survey (none: no survey measures)")
    months: list[str] = Field([], description="YYYY-MM months of services and sensors the indicators use")
    quality: dict[str, Any] = Field({}, description="quality thresholds over the defaults and `severity` "
                                                    "overrides (docs/quality.md)")
    disclosure: Disclosure = Field(Disclosure(), description="disclosure control thresholds (docs/privacy.md)")
    rules: Rules = Field(Rules(), description="per-city indicator catalogue, poverty and sensor rules")
    index: str = Field(description="the well-being index spec, relative to the city folder (docs/indices.md)")
    index_uncertainty: IndexUncertainty = Field(IndexUncertainty(), description="runs and seed of the rank bands "
                                                "(the index spec's `uncertainty:` lists the alternatives)")
    changes: list[Change] = Field([], description="changes between census years the marts publish")
    schedule: Schedule = Field(Schedule(), description="DAG schedule and timeouts")
    publication: Publication = Field(Publication(), description="how many publications are kept")
    report: Report = Field(Report(), description="the report's language, citation and licence")

    @field_validator("months", mode="before")
    @classmethod
    def _months_text(cls, value):
        return [str(v) for v in value] if isinstance(value, list) else value

    @field_validator("months")
    @classmethod
    def _month_format(cls, value):
        bad = [m for m in value if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m)]
        if bad:
            raise ValueError(f"months are YYYY-MM, got {bad[0]!r}")
        return value


def _message(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (a typo? the keys and their meaning: docs/city.md)"
    if error["type"] == "missing":
        return f"{where}: missing (required)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}, got {error.get('input')!r}" if "input" in error and error["type"] != "value_error" \
        else f"{where}: {message}"


def validate(data: dict, source: str) -> CityConfig:
    """`data` checked against the schema; a CityConfigError names `source` and the first key at fault."""
    from cities import CityConfigError

    try:
        return CityConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CityConfigError(f"{source}: {_message(errors[0])}{more}") from None


# ---------------------------------------------------------------------------------------------------------------
# docs/city.md's reference, generated
# ---------------------------------------------------------------------------------------------------------------

def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else "")
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin in (list, tuple, dict):
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"{origin.__name__}[{inner}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "its defaults"
    return "—" if value is None else f"`{value!r}`" if not isinstance(value, str) else f"`{value}`"


def reference_markdown() -> str:
    """Every section of city.yaml: key, type, default, meaning."""
    seen: list[type[BaseModel]] = []

    def collect(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for candidate in (field.annotation, *typing.get_args(field.annotation),
                              *[a for arg in typing.get_args(field.annotation) for a in typing.get_args(arg)]):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    collect(candidate)

    collect(CityConfig)
    lines = []
    for model in seen:
        title = "city.yaml (top level)" if model is CityConfig else model.__name__
        lines += [f"### {model.__name__}" if model is not CityConfig else "### CityConfig", "",
                  f"{title}." if model is CityConfig else (model.__doc__ or "").strip(), "",
                  "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        for key, field in model.model_fields.items():
            lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
                         f"{field.description or ''} |")
        lines.append("")
    return "\n".join(line for line in lines).replace("\n\n\n", "\n\n")


BEGIN, END = "<!-- reference: generated by python -m cities.schema docs -->", "<!-- end of the generated reference -->"


def docs_with_reference(text: str) -> str:
    """docs/city.md with its generated part (between BEGIN and END) rewritten from the schema."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{reference_markdown().rstrip()}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    argv = sys.argv[1:] if argv is None else argv
    if argv != ["docs"]:
        print("usage: python -m cities.schema docs   (rewrites the reference part of docs/city.md)", file=sys.stderr)
        return 2
    path = Path(__file__).resolve().parents[1] / "docs" / "city.md"
    path.write_text(docs_with_reference(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
