"""Twelve questions planners ask, each with its SQL on the published snapshot: docs/planners.md is written from them.

    .venv/bin/python -m bienestar.cookbook var/published/la_paz_demo/current.duckdb > docs/planners.md

The page shows each query and its answer on the sample city as the end-to-end tests publish it (`--scale 0.25`,
seed 20240601); tests/test_pipeline_e2e.py runs every query on that snapshot and fails when the page and the
answers differ, so the cookbook stays true as the schema and the pipeline change.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHOWN = 8  # rows of each answer printed on the page

QUESTIONS: list[tuple[str, str, str]] = [
    ("Which zones are worst off, and how sure is their rank?",
     "The ten zones with the lowest well-being index in the latest census, with the band their rank falls in "
     "when the index's methodological choices vary. A zone whose band is wide could be ranked quite differently "
     "by a reasonable alternative index.",
     """SELECT v.area_id, v.name, round(i.score, 1) AS score, i.rank, i.rank_best, i.rank_worst, i.quantile,
       i.quantile_uncertain
FROM marts.v_index i JOIN marts.v_area v USING (city, area_id)
WHERE i.level = 'zona' AND i.period = '2024'
ORDER BY i.rank DESC
LIMIT 10"""),
    ("How many people are poor by unsatisfied basic needs in each macrodistrict?",
     "NBI poverty (persons in households with at least one unsatisfied need) with its 95% margin of error; a "
     "withheld figure says so rather than showing a number.",
     """SELECT a.name, round(100 * v.value, 1) AS nbi_poor_pct, round(100 * v.moe_low, 1) AS low,
       round(100 * v.moe_high, 1) AS high, v.suppression
FROM marts.indicator_values v JOIN marts.areas a USING (city, area_id)
WHERE v.indicator_id = 'nbi_poor_persons' AND v.level = 'macrodistrito' AND v.period = '2024'
ORDER BY v.value DESC NULLS LAST"""),
    ("Which zones of a macrodistrict lack piped water?",
     "Zones of Max Paredes where more than a fifth of households have no piped water: `v_area` gives every "
     "zone its district and macrodistrict as columns, so no self-joins are needed.",
     """SELECT v.zona_id, v.zona_name, v.distrito_name, round(100 * x.value, 1) AS no_piped_water_pct
FROM marts.v_area v JOIN marts.indicator_values x USING (city, area_id)
WHERE v.macrodistrito_name = 'Max Paredes' AND v.level = 'zona' AND x.indicator_id = 'no_piped_water'
  AND x.period = '2024' AND x.value > 0.2
ORDER BY x.value DESC"""),
    ("How many zones could be in another quintile?",
     "Per quintile, the zones whose rank band crosses a quintile boundary: their quintile depends on the "
     "index's methodological choices; report them as such.",
     """SELECT quantile, count(*) AS zones, count(*) FILTER (WHERE quantile_uncertain) AS uncertain
FROM marts.v_index
WHERE level = 'zona' AND period = '2024' AND quantile IS NOT NULL
GROUP BY quantile ORDER BY quantile"""),
    ("How did each macrodistrict change between the censuses, and is the change comparable?",
     "The index change 2012 to 2024 per macrodistrict with the ranks at both ends. The change is computed on "
     "what both censuses measure (the 2012 census has no service records or sensor readings), so the scores "
     "here are on that common basis, not each year's published scores; `comparable` says whether the two "
     "censuses' own indices had the same structure, and `SELECT basis FROM marts.change_basis` (also "
     "`change_basis` on every row of `v_change`) what the common basis left out of both years.",
     """SELECT a.name, round(c.score_from, 1) AS score_2012, round(c.score_to, 1) AS score_2024,
       round(c.score_change, 1) AS change, c.rank_from, c.rank_to, c.comparable
FROM marts.v_change c JOIN marts.areas a USING (city, area_id)
WHERE c.level = 'macrodistrito' AND c.node_id = c.index_id
ORDER BY c.score_change DESC"""),
    ("Which macrodistricts reduced NBI poverty the most?",
     "The change in NBI poverty in percentage points with the margins of error at both ends: a change smaller "
     "than the margins is not evidence of change.",
     """SELECT a.name, round(100 * c.value_from, 1) AS pct_2012, round(100 * c.value_to, 1) AS pct_2024,
       round(c.change_pp, 1) AS change_pp, round(100 * c.moe_high_to, 1) AS high_2024,
       round(100 * c.moe_low_from, 1) AS low_2012
FROM marts.v_indicator_change c JOIN marts.areas a USING (city, area_id)
WHERE c.indicator_id = 'nbi_poor_persons' AND c.level = 'macrodistrito'
ORDER BY c.change_pp NULLS LAST"""),
    ("How much is withheld for privacy, and why?",
     "Cells withheld by disclosure control per reason and level in the latest census (docs/privacy.md): primary "
     "(too few cases), sensitive (the stricter limits of violence and health), secondary (so that another "
     "withheld cell cannot be worked out).",
     """SELECT level, suppression, count(*) AS cells
FROM marts.indicator_values
WHERE suppressed AND period = '2024'
GROUP BY ALL ORDER BY level, suppression"""),
    ("Where is the air worst, and over what time?",
     "Zones with the highest mean PM2.5, and the days the value covers: a sensor figure describes the days of "
     "readings delivered, not a year.",
     """SELECT v.area_id, a.name, round(v.value, 1) AS pm25_ug_m3, v.period_start, v.period_end
FROM marts.indicator_values v JOIN marts.areas a USING (city, area_id)
WHERE v.indicator_id = 'pm25_mean' AND v.level = 'zona' AND v.period = '2024' AND v.value IS NOT NULL
ORDER BY v.value DESC LIMIT 5"""),
    ("What is the police report rate per district, and per what time?",
     "Reports per 1,000 residents, with the catalogue's time basis: one month of records is a monthly rate.",
     """SELECT a.name, round(v.value, 2) AS per_1000, c.time_basis, v.period_start, v.period_end
FROM marts.indicator_values v JOIN marts.areas a USING (city, area_id)
JOIN marts.indicator_catalogue c USING (city, indicator_id)
WHERE v.indicator_id = 'police_report_rate' AND v.level = 'distrito' AND v.period = '2024'
ORDER BY v.value DESC NULLS LAST LIMIT 5"""),
    ("Which deliveries is this snapshot built from?",
     "Lineage: the deliveries behind the published figures per source, with the periods they cover; "
     "`marts.publication` says when and from which code and spec it was published.",
     """SELECT split_part(source, '/', 1) AS source, count(*) AS files, min(period) AS first_period,
       max(period) AS last_period, CAST(sum(rows) AS BIGINT) AS rows
FROM marts.sources
GROUP BY ALL ORDER BY source"""),
    ("How poor is each macrodistrict by income, and how sure is the survey of it?",
     "The household survey's share of persons below the moderate poverty line, with its 95% interval and the "
     "households behind it (docs/survey.md). A macrodistrict rests on a few dozen households: read the interval, "
     "and `reliable` false as a warning.",
     """SELECT a.name, round(100 * e.estimate, 1) AS poor_pct, round(100 * e.ci_low, 1) AS low,
       round(100 * e.ci_high, 1) AS high, e.households, e.reliable
FROM marts.survey_estimates e JOIN marts.areas a USING (city, area_id)
WHERE e.measure_id = 'income_poverty_moderate' AND e.method = 'direct' AND e.level = 'macrodistrito'
ORDER BY e.estimate DESC NULLS LAST"""),
    ("Where are the poor by income not the poor by needs?",
     "The integrated poverty method by macrodistrict: chronic poverty (poor by income and by needs), recent "
     "poverty (by income only: often newly poor), inertial poverty (by needs only: income recovered, needs not "
     "yet met) and social integration.",
     """SELECT a.name,
       round(100 * max(e.estimate) FILTER (WHERE e.measure_id = 'ipm_chronic_poverty'), 1) AS chronic,
       round(100 * max(e.estimate) FILTER (WHERE e.measure_id = 'ipm_recent_poverty'), 1) AS recent,
       round(100 * max(e.estimate) FILTER (WHERE e.measure_id = 'ipm_inertial_poverty'), 1) AS inertial,
       round(100 * max(e.estimate) FILTER (WHERE e.measure_id = 'ipm_social_integration'), 1) AS integrated
FROM marts.survey_estimates e JOIN marts.areas a USING (city, area_id)
WHERE e.method = 'direct' AND e.level = 'macrodistrito' AND e.measure_id LIKE 'ipm_%'
GROUP BY a.name ORDER BY chronic DESC NULLS LAST"""),
]


def answers(snapshot: Path) -> list:
    """Each question's answer on the snapshot, as a DataFrame (a query that fails raises)."""
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        return [con.execute(sql).df() for _, _, sql in QUESTIONS]


def page(snapshot: Path) -> str:
    """docs/planners.md: every question, its SQL and its answer on `snapshot`."""
    out = [
        "# Planners' cookbook: twelve questions and their SQL",
        "",
        "<!-- Generated by bienestar/cookbook.py from the sample city as the end-to-end tests publish it",
        "     (bienestar demo --scale 0.25); tests/test_pipeline_e2e.py fails when this page and the answers",
        "     differ. -->",
        "",
        "Each query runs as it is on `published/<city>/current.duckdb`: `bienestar sql \"...\"` (add `--csv`),",
        "`bienestar shell`, the DuckDB CLI, Python's `duckdb.connect(path, read_only=True)` or a BI tool. The",
        "answers are those of the sample city generated at a quarter of its size (`bienestar demo --scale 0.25`);",
        "`make demo` gives the same shapes with other numbers. Tables and views: docs/marts.md.",
        "",
    ]
    for number, ((title, why, sql), frame) in enumerate(zip(QUESTIONS, answers(snapshot), strict=True), start=1):
        shown = frame.head(SHOWN)
        out += [f"## {number}. {title}", "", why, "", "```sql", sql, "```", "", _markdown(shown)]
        if len(frame) > SHOWN:
            out.append(f"\n... and {len(frame) - SHOWN} more rows.")
        out.append("")
    return "\n".join(out)


def _markdown(frame) -> str:
    def cell(value) -> str:
        if value is None or value != value:  # None, NaN, NaT
            return ""
        if hasattr(value, "time") and hasattr(value, "date") and not any(
                (value.hour, value.minute, value.second)):
            value = value.date()  # a DATE column comes back as a midnight timestamp
        return str(value).replace("|", "/").replace("<NA>", "")

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m bienestar.cookbook SNAPSHOT.duckdb > docs/planners.md", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write(page(Path(sys.argv[1])))
