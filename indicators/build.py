"""Build the `marts` tables of one city from `staging`: areas, indicator values, index scores, catalogue."""

from __future__ import annotations

import calendar
import logging
from datetime import date

import pandas as pd

from bienestar import warehouse
from bienestar.settings import chunk_rows
from bienestar.warehouse import read_frame
from cities import City
from indicators.alkire_foster import af_area_counts, af_contributions, af_household_scores, load_af_config
from indicators.area_indicators import census_counts, exact_values, population, publish_values, roll_up
from indicators.catalogue import CatalogueError, dimension_table
from indicators.comparable import long_scores, period_weights, wide_by_level
from indicators.engine import ENGINE_VERSION, compute_index, load_spec
from indicators.margins import attach_moe, effective_sizes
from indicators.nbi import load_nbi_config, nbi_area_counts, nbi_households
from indicators.registry import city_catalogue
from indicators.sensor_indicators import attach_notes, indicator_notes, load_sensor_config, sensor_counts
from indicators.service_indicators import SERVICE_INDICATORS, service_counts, service_denominators
from privacy import disclosure
from transforms.areas import area_parents

log = logging.getLogger(__name__)


def with_margins(values: pd.DataFrame, rolled: pd.DataFrame, counts: pd.DataFrame, parents: pd.DataFrame,
                 catalogue: pd.DataFrame) -> pd.DataFrame:
    """Wilson 95% bounds for every share (see docs/poverty.md: a census rate's model-based uncertainty).

    Rates per 1,000 and sensor means get none; suppressed cells publish none.
    """
    shares = catalogue.loc[catalogue["unit"] == "share", "indicator_id"]
    moe = attach_moe(rolled[rolled["indicator_id"].isin(shares)], effective_sizes(counts, parents))
    out = values.merge(moe[["area_id", "level", "indicator_id", "moe_low", "moe_high"]],
                       on=["area_id", "level", "indicator_id"], how="left")
    out.loc[out["suppressed"] | out["value"].isna(), ["moe_low", "moe_high"]] = float("nan")
    return out


def build_indicator_values(city: City) -> dict[str, int]:
    """marts.areas, marts.area_population, marts.indicator_catalogue, marts.dimensions and marts.indicator_values
    of every census year, with every published figure through disclosure control (privacy/disclosure.py), and the
    exact values the index is scored from in staging.indicator_values (never published).

    Services and sensors count for the census year they fall in; a census year with no service records or
    sensor readings (an older census) gets NULL values with a note for those indicators, never zeros.
    """
    rules = disclosure.Rules.of(city)
    catalogue, dimensions, relations = city_catalogue(city)
    # fail fast on a bad config, before the database
    configs = {"nbi": load_nbi_config(city.rule_path("poverty")), "af": load_af_config(city.rule_path("poverty")),
               "sensors": load_sensor_config(city.rule_path("sensors"))}
    in_index = set(load_spec(city.index_spec_path).nodes)
    counts = {}
    withheld = {}
    with warehouse.session(city) as con:
        areas = read_frame(con, "SELECT * FROM staging.areas WHERE city = ? ORDER BY depth, area_id", [city.name])
        if areas.empty:
            raise RuntimeError(f"no areas for {city.name!r} in staging: run the ingest DAGs first")
        for vintage in city.vintages:
            exact, values, pop = _vintage_values(con, city, vintage, areas, catalogue, configs, (rules, relations))
            key = {"city": city.name, "period": vintage}
            warehouse.replace_partition(con, "staging.indicator_values", exact, key)
            warehouse.replace_partition(con, "marts.indicator_values", values, key)
            counts[vintage] = len(values)
            withheld[vintage] = values["suppression"].value_counts().to_dict()
            marts_areas = _areas_with_population(areas, pop, rules)
            warehouse.replace_partition(con, "marts.area_population",
                                        marts_areas[["area_id", "population"]].assign(period=vintage), key)
        key = {"city": city.name}
        warehouse.replace_partition(con, "marts.areas", marts_areas, key)  # the latest census year's population
        warehouse.replace_partition(con, "marts.indicator_catalogue", catalogue.drop(columns="computed_by"), key)
        warehouse.replace_partition(con, "marts.dimensions", dimension_table(dimensions, in_index), key)
    return {"areas": len(marts_areas), "indicator_values": counts, "suppressed": withheld}


def _vintage_values(con, city: City, vintage: str, areas: pd.DataFrame, catalogue: pd.DataFrame,
                    configs: dict, control: tuple) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One census year's exact and published indicator values, and its residents per smallest area."""
    records = read_frame(con, "SELECT * FROM staging.service_records WHERE city = ? AND month LIKE ?",
                         [city.name, f"{vintage}-%"])
    readings = read_frame(con, "SELECT * FROM staging.sensor_readings WHERE city = ? AND \"partition\" LIKE ?",
                          [city.name, f"{vintage}-%"])
    stations = read_frame(con, "SELECT * FROM staging.sensor_stations WHERE city = ?", [city.name])
    base_ids = areas.loc[areas["depth"] == 0, "area_id"].tolist()
    parts, pop, denominators = census_parts(con, city, vintage, base_ids, configs)
    notes = indicator_notes(configs["sensors"])
    if records.empty:
        notes.update({i: f"no service records delivered for {vintage}" for i in SERVICE_INDICATORS})
    else:
        parts.append(service_counts(records, denominators, vintage))
    sensors, sensor_notes = sensor_counts(readings, stations, areas, pop, configs["sensors"], vintage)
    parts.append(sensors)
    counts = pd.concat(parts, ignore_index=True)
    parents = area_parents(areas)
    rolled = roll_up(counts, parents)
    rolled = pd.concat([rolled, af_contributions(rolled, configs["af"])], ignore_index=True)
    uncatalogued = sorted(set(rolled["indicator_id"]) - set(catalogue["indicator_id"]))
    if uncatalogued:  # registry.check_computed stops this at load; a count no rule declares would vanish here
        raise CatalogueError(f"counted but not in the catalogue: {', '.join(uncatalogued)} (indicators/registry.py)")
    exact = attach_notes(exact_values(rolled, catalogue, areas, vintage, notes), sensor_notes)
    residents = _residents(areas, pop)
    rules, relations = control
    reasons = disclosure.protect(exact, catalogue, areas.set_index("area_id")["parent_id"], residents, rules,
                                 relations)
    values = with_margins(publish_values(exact, reasons), rolled, counts, parents, catalogue)
    values = values.merge(time_covered(catalogue, city.census_day(vintage), records, readings), on="indicator_id",
                          how="left")
    exact = exact[["area_id", "level", "indicator_id", "period", "value", "numerator", "denominator"]]
    return exact, values, pop


def area_groups(sizes: dict[str, int], base_ids: list[str], limit: int) -> list[list[str]]:
    """The areas in groups of at most `limit` persons (`sizes`: persons per area), in `base_ids` order, then any
    other area staged; an area is never split (every census count is per area) and one larger than `limit` is a
    group of its own."""
    groups, current, rows = [], [], 0
    for area in [*base_ids, *sorted(set(sizes) - set(base_ids))]:
        size = sizes.get(area, 0)
        if current and rows + size > limit:
            groups.append(current)
            current, rows = [], 0
        current.append(area)
        rows += size
    return [*groups, current]


def census_parts(con, city: City, vintage: str, base_ids: list[str],
                 configs: dict) -> tuple[list[pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """A census year's counts per smallest area (census indicators, NBI, Alkire-Foster), its residents and
    households, and the denominators of service rates, read from staging a group of areas of about
    `chunk_rows()` persons (BIENESTAR_CHUNK_ROWS) at a time: memory is bounded by that setting, not by the census."""
    key = [city.name, vintage]
    sizes = dict(con.execute("SELECT area_id, count(*) FROM staging.persons WHERE city = ? AND vintage = ? "
                             "GROUP BY area_id", key).fetchall())
    if not con.execute("SELECT count(*) FROM staging.households WHERE city = ? AND vintage = ?", key).fetchall()[0][0]:
        raise RuntimeError(f"no census {vintage} for {city.name!r} in staging: run ingest_census for {vintage}")
    groups = area_groups(sizes, base_ids, chunk_rows())
    nbi, af = configs["nbi"], configs["af"]
    pieces: dict[str, list[pd.DataFrame]] = {"census": [], "nbi": [], "af": [], "pop": [], "denominators": []}
    smallest = set(base_ids)
    for number, group in enumerate(groups, start=1):
        where, params = "city = ? AND vintage = ?", key
        if len(groups) > 1:
            log.info("census %s: areas %d of %d (%d areas)", vintage, number, len(groups), len(group))
            where, params = where + " AND area_id IN (SELECT unnest(?::VARCHAR[]))", [*key, group]
        households = read_frame(con, f"SELECT * FROM staging.households WHERE {where} ORDER BY household_id", params)
        persons = read_frame(con, f"SELECT * FROM staging.persons WHERE {where} ORDER BY person_id", params)
        ids = [area for area in group if area in smallest]
        pieces["pop"].append(population(households, persons, ids))
        pieces["denominators"].append(service_denominators(households, persons, ids))
        pieces["census"].append(census_counts(households, persons))
        pieces["nbi"].append(nbi_area_counts(nbi_households(households, persons, nbi), nbi))
        pieces["af"].append(af_area_counts(af_household_scores(households, persons, af), af))
    parts = [_by_indicator(pieces[name]) for name in ("census", "nbi", "af")]
    return parts, pd.concat(pieces["pop"], ignore_index=True), pd.concat(pieces["denominators"], ignore_index=True)


def _by_indicator(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-group counts as one pass over every area would list them: indicator by indicator, areas in order."""
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    first_seen = {indicator: n for n, indicator in enumerate(dict.fromkeys(out["indicator_id"]))}
    order = out["indicator_id"].map(first_seen)
    return out.assign(_order=order).sort_values(["_order", "area_id"], kind="stable").drop(columns="_order") \
        .reset_index(drop=True)


def time_covered(catalogue: pd.DataFrame, census_day: date | None, records: pd.DataFrame,
                 readings: pd.DataFrame) -> pd.DataFrame:
    """Per indicator, the first and last day its values of a census year cover (period_start, period_end): the
    census day for census indicators, the months of service records and the days of sensor readings delivered
    for that year; None where the source delivered nothing for it."""
    spans: dict[str, tuple[date | None, date | None]] = {"census": (census_day, census_day)}
    if not records.empty:
        months = sorted(records["month"].unique())
        first, last = date.fromisoformat(f"{months[0]}-01"), date.fromisoformat(f"{months[-1]}-01")
        spans["services"] = (first, date(last.year, last.month, calendar.monthrange(last.year, last.month)[1]))
    if not readings.empty:
        days = sorted(readings["partition"].unique())
        spans["sensors"] = (date.fromisoformat(days[0]), date.fromisoformat(days[-1]))
    start, end = zip(*(spans.get(source, (None, None)) for source in catalogue["source"]), strict=True)
    return pd.DataFrame({"indicator_id": catalogue["indicator_id"], "period_start": pd.Series(start, dtype=object),
                         "period_end": pd.Series(end, dtype=object)})


def _residents(areas: pd.DataFrame, pop: pd.DataFrame) -> pd.Series:
    """Residents of every area (every level): what withholding one of its figures costs users."""
    rolled = roll_up(pop.assign(indicator_id="residents", numerator=pop["residents"].astype(float),
                                denominator=pop["residents"].astype(float), multiplier=1.0), area_parents(areas))
    return rolled.set_index("area_id")["numerator"].reindex(areas["area_id"], fill_value=0.0)


POPULATION = pd.DataFrame([{"indicator_id": "population", "unit": "persons", "min_denominator": 1}])


def _areas_with_population(areas: pd.DataFrame, pop: pd.DataFrame, rules: disclosure.Rules) -> pd.DataFrame:
    """marts.areas: every area with its residents (latest census, summed up the levels), the counts under the
    same disclosure control as every figure: fewer than `min_denominator` residents withheld, and withheld
    further up or beside so that no withheld population is the difference of published ones."""
    residents = _residents(areas, pop)
    cells = pd.DataFrame({"area_id": residents.index, "indicator_id": "population",
                          "numerator": residents.to_numpy(), "denominator": residents.to_numpy()})
    catalogue = POPULATION.assign(min_denominator=rules.min_denominator)
    reasons = disclosure.protect(cells, catalogue, areas.set_index("area_id")["parent_id"], residents, rules)
    out = areas.assign(population=residents.where(reasons.isna().to_numpy()).round().astype("Int64").to_numpy())
    return out[["area_id", "level", "depth", "name", "parent_id", "population", "geometry_wkt"]]


def rank_bands(wide: pd.DataFrame, spec, settings) -> pd.DataFrame:
    """Each area's nominal, median, 5th and 95th percentile rank over the spec's `uncertainty:` alternatives
    (`settings`: the city's index_uncertainty, runs and seed)."""
    from indicators.sensitivity import run_sensitivity

    if not spec.uncertainty:
        return pd.DataFrame()
    result = run_sensitivity(wide, spec, runs=settings.runs, seed=settings.seed)
    return result.summary[[spec.unit, "nominal_rank", "median_rank", "p05_rank", "p95_rank"]].rename(
        columns={spec.unit: "area_id"})


def build_index_scores(city: City) -> dict[str, int]:
    """marts.index_scores (every level, every node, every census year) with rank bands, what built them in
    marts.index_runs, and the change between the census years the city lists under `changes:`.

    marts.index_runs keeps the spec, its hash and the engine version beside the scores, so a published vintage
    can be rebuilt exactly; it holds no clock time or run id, so rebuilding the same vintage changes nothing.
    """
    from indicators.change import build_change_marts, change_periods

    spec = load_spec(city.index_spec_path)
    counts = {}
    with warehouse.session(city) as con:
        for vintage in city.vintages:
            counts[vintage] = _score_vintage(con, city, spec, vintage)
    for period_from, period_to in change_periods(city):
        build_change_marts(city, period_from, period_to)
    return {"index_scores": counts}


def suppressed_inputs(scores: pd.DataFrame, withheld: pd.DataFrame, spec) -> pd.Series:
    """Per score row (area_id, node_id): how many of the node's indicators are withheld in that area.

    The score itself is computed from the exact values; a score resting on withheld figures says so, because
    with the spec's weights and goalposts a node with one withheld input and the others published lets a reader
    work back towards that input (docs/privacy.md explains the trade-off).
    """
    hidden = withheld.groupby("area_id")["indicator_id"].agg(set).to_dict()
    leaves = {node: {spec.column(i) for i in spec.subtree_indicators(node)} for node in spec.nodes}
    return pd.Series([len(leaves[node] & hidden.get(area, set())) for area, node in
                      zip(scores["area_id"], scores["node_id"], strict=True)], index=scores.index, dtype="int64")


def _score_vintage(con, city: City, spec, vintage: str) -> int:
    # scored from the exact values (the index is not degraded by disclosure control) ...
    values = read_frame(con, "SELECT area_id, level, indicator_id, value FROM staging.indicator_values "
                   "WHERE city = ? AND period = ?", [city.name, vintage])
    # ... and every score says on how many withheld figures it rests
    withheld = read_frame(con, "SELECT area_id, indicator_id FROM marts.indicator_values "
                     "WHERE city = ? AND period = ? AND suppressed", [city.name, vintage])
    if values.empty:
        raise RuntimeError(f"no indicator values for {city.name!r} {vintage}: run build_indicator_values")
    parts = []
    wides = wide_by_level(values, spec.unit)
    for level, wide in wides.items():
        scored = compute_index(wide, spec)
        long = long_scores(scored, spec)
        root = long["node_id"] == spec.root
        quantile = scored.set_index(spec.unit).get("quantile")
        long["quantile"] = pd.NA
        if quantile is not None:
            long.loc[root, "quantile"] = long.loc[root, "area_id"].map(quantile).to_numpy()
        parts.append(long.assign(level=level))
    scores = pd.concat(parts, ignore_index=True)
    bands = pd.concat([rank_bands(wide, spec, city.settings.index_uncertainty).assign(level=level)
                       for level, wide in wides.items()], ignore_index=True)
    scores = scores.assign(index_id=spec.id, period=vintage,
                           suppressed_inputs=suppressed_inputs(scores, withheld, spec))
    scores["rank"] = scores["rank"].astype("Int64")
    scores["quantile"] = scores["quantile"].astype("Int64")
    scores = scores[["index_id", "area_id", "level", "period", "node_id", "score", "rank", "quantile",
                     "suppressed_inputs"]]
    scores = scores.sort_values(["level", "node_id", "area_id"]).reset_index(drop=True)
    key = {"city": city.name, "index_id": spec.id, "period": vintage}
    warehouse.replace_partition(con, "marts.index_scores", scores, key)
    warehouse.replace_partition(con, "marts.index_weights", period_weights(spec, scores, values), key)
    if not bands.empty:
        warehouse.replace_partition(con, "marts.index_uncertainty", bands.assign(index_id=spec.id), key)
    run = pd.DataFrame([{"spec_sha256": spec.sha256(), "engine_version": ENGINE_VERSION,
                         "spec_yaml": city.index_spec_path.read_text(encoding="utf-8")}])
    warehouse.replace_partition(con, "marts.index_runs", run, key)
    return len(scores)
