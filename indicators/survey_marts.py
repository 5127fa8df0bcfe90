"""marts.survey_measures and marts.survey_estimates from the staged household survey (docs/survey.md).

Direct estimates for the city and each macrodistrict (the survey's strata), with their linearised standard
errors, t intervals and coefficients of variation; Fay-Herriot estimates (EBLUP, or synthetic where no household
was sampled) with their MSE for the levels `survey.small_area` names. Weights are adjusted for non-response within
each stratum: w · Σ(sampled w) / Σ(responding w).

Precision rules (docs/survey.md; the survey sample itself is never published): a direct estimate resting on
fewer than `survey.min_households` responding households is withheld (`suppressed`); one whose coefficient of
variation is above `survey.max_cv` is published with `reliable` false. Model-based estimates are published with
their MSE (they borrow strength from the census).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bienestar import warehouse
from bienestar.warehouse import read_frame
from cities import City
from indicators.nbi import load_nbi_config, nbi_households
from indicators.survey import IPM_GROUPS, checked_design, design_ratio, fay_herriot, fgt, ipm_group
from transforms.areas import area_parents

log = logging.getLogger(__name__)

# A direct estimate on fewer households has a variance too unstable to weigh it by (docs/survey.md).
MIN_FH_HOUSEHOLDS = 5
ESTIMATE_COLUMNS = ["area_id", "level", "measure_id", "method", "estimate", "se", "ci_low", "ci_high", "cv",
                    "households", "df", "reliable", "suppressed", "note"]
IPM_NAMES = {
    "chronic_poverty": ("Pobreza crónica", "Chronic poverty", "income-poor and NBI-poor"),
    "recent_poverty": ("Pobreza reciente", "Recent poverty", "income-poor with basic needs met"),
    "inertial_poverty": ("Pobreza inercial", "Inertial poverty", "NBI-poor above the moderate line"),
    "social_integration": ("Integración social", "Social integration", "neither income-poor nor NBI-poor"),
}
TOPIC_NAMES = {"water": ("el agua", "water"), "transport": ("el transporte", "transport"),
               "safety": ("la seguridad", "safety"), "green_spaces": ("las áreas verdes", "green spaces"),
               "waste_collection": ("el recojo de basura", "waste collection")}


def survey_measures(city: City) -> pd.DataFrame:
    """marts.survey_measures: every measure the survey gives, generated from its config (lines, topics)."""
    survey = city.settings.survey
    lines = survey.poverty_lines
    rows = [
        ("income_poverty_extreme", "Pobreza extrema por ingreso", "Extreme income poverty",
         f"Share of persons whose household income per capita is below the extreme line ({lines.extreme:g} "
         f"{lines.unit}, {lines.year}): FGT headcount P0.", "share", -1, "poverty", "persons"),
        ("income_poverty_moderate", "Pobreza moderada por ingreso", "Income poverty (moderate line)",
         f"Share of persons whose household income per capita is below the moderate line ({lines.moderate:g} "
         f"{lines.unit}, {lines.year}): FGT headcount P0.", "share", -1, "poverty", "persons"),
        ("income_poverty_gap", "Brecha de pobreza por ingreso", "Income poverty gap",
         "FGT P1 at the moderate line: the mean over persons of (line - income)/line among the poor, 0 for the "
         "rest.", "share", -1, "poverty", "persons"),
        ("income_poverty_severity", "Severidad de la pobreza por ingreso", "Income poverty severity",
         "FGT P2 at the moderate line: the mean of the squared relative gaps.", "share", -1, "poverty", "persons"),
    ]
    for group in IPM_GROUPS:
        name_es, name_en, what = IPM_NAMES[group]
        rows.append((f"ipm_{group}", f"Método integrado: {name_es.lower()}", f"Integrated method: {name_en.lower()}",
                     f"Share of persons {what} (income at the moderate line crossed with NBI: Katzman's integrated "
                     "poverty method).", "share", 1 if group == "social_integration" else -1, "poverty", "persons"))
    for topic in survey.perception_topics:
        es, en = TOPIC_NAMES.get(topic, (topic, topic.replace("_", " ")))
        rows.append((f"satisfaction_{topic}", f"Satisfacción con {es}", f"Satisfaction with {en}",
                     f"Mean satisfaction with {en} in the neighbourhood, from 1 (not at all) to 10 (fully), among "
                     "households that rated it.", "score 1-10", 1, "perception", "households"))
    if survey.perception_topics:
        rows.append(("perception_index", "Índice de percepción", "Perception index",
                     "Mean over households of their mean satisfaction over the topics they rated, rescaled from "
                     "1-10 to 0-100: the subjective dimension beside the objective index.", "score 0-100", 1,
                     "perception", "households"))
    columns = ["measure_id", "name_es", "name_en", "definition", "unit", "direction", "dimension", "unit_of"]
    out = pd.DataFrame(rows, columns=columns)
    line = {"income_poverty_extreme": lines.extreme, "income_poverty_moderate": lines.moderate,
            "income_poverty_gap": lines.moderate, "income_poverty_severity": lines.moderate,
            **{f"ipm_{group}": lines.moderate for group in IPM_GROUPS}}
    return out.assign(poverty_line=out["measure_id"].map(line).astype(float),
                      line_unit=np.where(out["measure_id"].isin(list(line)), f"{lines.unit}, {lines.year}", None),
                      line_source=np.where(out["measure_id"].isin(list(line)), lines.source, None),
                      source=survey.name)


def adjusted_weights(households: pd.DataFrame) -> pd.Series:
    """Design weights of the responding households, adjusted for non-response within each stratum."""
    responded = households["responded"].astype(bool)
    sampled = households.groupby("stratum")["design_weight"].sum()
    answered = households[responded].groupby("stratum")["design_weight"].sum()
    factor = (sampled / answered).reindex(households["stratum"]).to_numpy()
    return pd.Series(np.where(responded, households["design_weight"].to_numpy() * factor, np.nan),
                     index=households.index)


def unit_values(city: City, households: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """One row per responding household: the design, adjusted weight, members, and every measure's y (per
    household; persons-based measures are weighted by members)."""
    survey = city.settings.survey
    out = households[households["responded"].astype(bool)].copy()
    out["weight"] = adjusted_weights(households)[out.index]
    nbi = nbi_households(out, persons, load_nbi_config(city.rule_path("poverty")))
    nbi_poor = out["household_id"].map(nbi.set_index("household_id")["nbi_poor"]).astype("boolean")
    income = out["income_per_capita"].astype(float)
    lines = survey.poverty_lines
    out["income_poverty_extreme"] = fgt(income, lines.extreme, 0)
    out["income_poverty_moderate"] = fgt(income, lines.moderate, 0)
    out["income_poverty_gap"] = fgt(income, lines.moderate, 1)
    out["income_poverty_severity"] = fgt(income, lines.moderate, 2)
    income_poor = pd.array(np.where(income.isna(), None, income < lines.moderate), dtype="boolean")
    groups = ipm_group(income_poor, nbi_poor)
    for group in IPM_GROUPS:
        out[f"ipm_{group}"] = np.where(pd.isna(groups), np.nan, (groups == group).astype(float))
    scores = [f"satisfaction_{t}" for t in survey.perception_topics]
    for column in scores:
        out[column] = out[column].astype(float)
    if scores:
        out["perception_index"] = (out[scores].mean(axis=1, skipna=True) - 1) / 9 * 100
    return out


def direct_estimates(units: pd.DataFrame, measures: pd.DataFrame, domains: dict[str, tuple[str, pd.Series]],
                     survey) -> pd.DataFrame:
    """Every measure in every domain (area_id -> (level, boolean mask over units)), direct, with `suppressed`
    and `reliable` set but every figure kept (`withhold` empties the suppressed ones for publication)."""
    rows = []
    members = units["members"].astype(float).to_numpy()
    design = checked_design(units["weight"], units["stratum"], units["psu"])
    for measure in measures.itertuples():
        y = units[measure.measure_id].astype(float).to_numpy()
        known = ~np.isnan(y)
        x = np.where(known, members if measure.unit_of == "persons" else 1.0, 0.0)
        for area_id, (level, mask) in domains.items():
            est = design_ratio(design, np.nan_to_num(y) * x, x, mask.to_numpy() & known)   # x: 0 where unknown
            cv = est.se / abs(est.estimate) if est.estimate else np.nan
            small = est.n < survey.min_households
            reliable = bool(not small and cv <= survey.max_cv)
            low, high = est.ci_low, est.ci_high
            if measure.unit == "share":   # a share's interval stays within 0 and 1
                low, high = max(low, 0.0), min(high, 1.0)
            rows.append({"area_id": area_id, "level": level, "measure_id": measure.measure_id, "method": "direct",
                         "estimate": est.estimate, "se": est.se, "ci_low": low, "ci_high": high,
                         "cv": cv, "households": est.n, "df": est.df, "reliable": reliable,
                         "suppressed": bool(small),
                         "note": (f"withheld: {est.n} responding households, fewer than {survey.min_households}"
                                  if small else None if cv <= survey.max_cv else
                                  f"unreliable: coefficient of variation {cv:.0%} above {survey.max_cv:.0%}")})
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def withhold(estimates: pd.DataFrame) -> pd.DataFrame:
    """The published rows: a suppressed estimate keeps no figure (the model used it before)."""
    out = estimates.copy()
    out.loc[out["suppressed"], ["estimate", "se", "ci_low", "ci_high", "cv"]] = np.nan
    return out


def smoothed_variances(households: pd.Series, city_se: float, city_households: int) -> pd.Series:
    """Sampling variances of a share's direct estimates in small areas, smoothed: ψ_d = deff · p(1 - p) / n_d with
    the whole city's p and design effect deff = se² / (p(1 - p) / n), which is se² · n / n_d (p cancels out). A
    small area's own linearised variance rests on one or two PSUs and is often near 0 (every sampled household
    poor, or none), which would make the model trust its direct estimate fully (Rao and Molina 2015, 6.4.1)."""
    return city_se ** 2 * city_households / households.where(households > 0)


def small_area_estimates(areas: pd.DataFrame, covariates: pd.DataFrame, survey, direct: pd.DataFrame,
                         city_name: str) -> pd.DataFrame:
    """Fay-Herriot estimates of `survey.small_area.measures` (shares) for every area of its level: EBLUP where at
    least MIN_FH_HOUSEHOLDS households of the area responded (their direct estimate, with a smoothed variance),
    synthetic elsewhere. Too few such areas to fit the model: no model-based rows, and a warning in the log."""
    level = survey.small_area.level
    ids = areas.loc[areas["level"] == level, "area_id"].tolist()
    rows = []
    for measure in survey.small_area.measures:
        own = direct[(direct["level"] == level) & (direct["measure_id"] == measure)].set_index("area_id")
        whole = direct[(direct["area_id"] == city_name) & (direct["measure_id"] == measure)].iloc[0]
        usable = own[own["households"] >= MIN_FH_HOUSEHOLDS]
        theta = usable["estimate"].reindex(ids)
        psi = smoothed_variances(usable["households"], whole["se"], whole["households"]).reindex(ids)
        x = covariates.reindex(ids)[survey.small_area.covariates].to_numpy(dtype=float)
        try:
            fit = fay_herriot(theta.to_numpy(), psi.to_numpy(), x)
        except ValueError as error:
            log.warning("survey %s at %s: no Fay-Herriot estimates: %s", measure, level, error)
            continue
        for area_id, area in zip(ids, fit.areas.itertuples(), strict=True):
            root = float(np.sqrt(area.mse))
            rows.append({"area_id": area_id, "level": level, "measure_id": measure,
                         "method": "eblup" if area.sampled else "synthetic", "estimate": float(area.eblup),
                         "se": root, "ci_low": max(float(area.eblup) - 1.96 * root, 0.0),
                         "ci_high": min(float(area.eblup) + 1.96 * root, 1.0),
                         "cv": root / abs(area.eblup) if area.eblup else np.nan,
                         "households": int(own["households"].get(area_id, 0)), "df": None, "reliable": True,
                         "suppressed": False, "note": "Fay-Herriot model estimate; se is the root MSE (Prasad-Rao)"})
        log.info("survey %s at %s: Fay-Herriot σ²_v %.4g, %d of %d areas with a direct estimate", measure, level,
                 fit.sigma2_v, int(fit.areas["sampled"].sum()), len(ids))
    return pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)


def build_survey_estimates(city: City) -> dict[str, int]:
    """marts.survey_measures and marts.survey_estimates of the city's survey year."""
    survey = city.settings.survey
    if survey is None:
        return {}
    with warehouse.session(city) as con:
        params = [city.name, survey.vintage]
        households = read_frame(con, "SELECT * FROM staging.survey_households WHERE city = ? AND vintage = ? "
                                "ORDER BY household_id", params) \
            if warehouse.table_exists(con, "staging.survey_households") else pd.DataFrame()
        if households.empty:
            raise RuntimeError(f"no survey {survey.vintage} for {city.name!r} in staging: run ingest_census for "
                               f"{survey.vintage} (it lands and stages the survey)")
        persons = read_frame(con, "SELECT * FROM staging.survey_persons WHERE city = ? AND vintage = ? "
                             "ORDER BY person_id", params)
        areas = read_frame(con, "SELECT * FROM staging.areas WHERE city = ? ORDER BY depth, area_id", [city.name])
        covariates = read_frame(con, "SELECT area_id, indicator_id, value FROM staging.indicator_values "
                                "WHERE city = ? AND period = ?", params)
        measures = survey_measures(city)
        units = unit_values(city, households, persons)
        parents = area_parents(areas)
        domains: dict[str, tuple[str, pd.Series]] = {}
        top = areas.loc[areas["depth"] == areas["depth"].max(), "level"].iloc[0]
        for level in dict.fromkeys([top, *([survey.small_area.level] if survey.small_area else [])]):
            for area_id in areas.loc[areas["level"] == level, "area_id"]:
                members = set(parents.loc[parents["area_id"] == area_id, "base_id"])
                domains[area_id] = (level, units["area_id"].isin(members))
        city_mask = pd.Series(True, index=units.index)
        domains[city.name] = ("city", city_mask)
        direct = direct_estimates(units, measures, domains, survey)
        parts = [direct]
        if survey.small_area:
            wide = covariates.pivot(index="area_id", columns="indicator_id", values="value")
            parts.append(small_area_estimates(areas, wide, survey, direct, city.name))
        estimates = withhold(pd.concat(parts, ignore_index=True)).assign(period=survey.vintage)
        key = {"city": city.name}
        warehouse.replace_partition(con, "marts.survey_measures", measures, key)
        warehouse.replace_partition(con, "marts.survey_estimates", estimates, key)
    return {"survey_estimates": len(estimates), "withheld": int(estimates["suppressed"].sum())}
