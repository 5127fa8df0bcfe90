"""Indicators and the composite index of each city, rebuilt when one of its sources' gated staging changes.

The first task checks that every partition the marts need (each census year; each month of service records and
each day of sensor readings in the months the city lists) is staged *and* gated after its latest staging write;
if not, the run is skipped with the list of what is missing, and nothing is built or published. The marts gates
then block an index with a dimension or indicator missing for more than the city's threshold of areas.
"""

from airflow.sdk import dag, task

from bienestar.orchestration import (
    city_sources,
    close_run,
    dag_kwargs,
    deployed_cities,
    marts,
    marts_periods,
    run_gate_task,
    staged,
    task_errors,
    writer_pool,
)

MARTS_GATES = ("marts_index_scores", "marts_coverage")


def indicators_dag(city):
    outlet = marts(city)
    pool = writer_pool(city)
    schedule = None
    for source in city_sources(city):  # any source's new gated staging may complete the set
        schedule = staged(city, source) if schedule is None else schedule | staged(city, source)

    @dag(
        schedule=schedule,
        **dag_kwargs(city, "build_indicators", "indicators"),
        doc_md=__doc__,
    )
    def build_indicators():
        @task(pool=pool, doc_md="Skip the run (nothing built, nothing published) unless every partition the "
              "marts need is staged and gated; the log lists what is missing.")
        def check_sources_complete():
            from airflow.sdk.exceptions import AirflowSkipException

            from expectations.completeness import describe, missing

            with task_errors():
                gaps = missing(city, marts_periods(city))
            if gaps:
                raise AirflowSkipException(f"{city.name}: not building the marts yet, sources incomplete: "
                                           f"{describe(gaps)}. The run after the missing loads pass their gates "
                                           "builds them.")
            return f"complete: every partition of {', '.join(marts_periods(city))} staged and gated"

        @task(pool=pool, doc_md="Compute every indicator of every period into `marts.indicator_values` (with "
              "margins of error; small counts suppressed), with `marts.areas` and the catalogue.")
        def build_indicator_values(ready):
            with task_errors():
                if city.census_tables:  # published tables: values and scores of every census year in one step
                    from indicators.build_tables import build_table_marts

                    return build_table_marts(city)
                from indicators.build import build_indicator_values

                return build_indicator_values(city)

        @task(pool=pool, doc_md="Gate `marts_indicator_values` for every period: one value per area, shares in "
              "[0, 1], no value on fewer cases than the minimum.")
        def gate_indicator_values(built, run_id=None):
            return [run_gate_task(city, "marts_indicator_values", run_id, period) for period in marts_periods(city)]

        @task(pool=pool, doc_md="Score the composite index and its dimensions at every level (ranks, quintiles, "
              "rank bands) and the change between census years.")
        def build_index_scores(gated):
            with task_errors():
                if city.census_tables:
                    from indicators.change import build_change_marts, change_periods

                    return [build_change_marts(city, a, b) for a, b in change_periods(city)]
                from indicators.build import build_index_scores

                return build_index_scores(city)

        @task(pool=pool, outlets=[outlet], doc_md="Gate `marts_index_scores` and `marts_coverage` for every "
              "period (a dimension or indicator missing for more than the city's threshold of areas blocks); "
              "on success the Asset event triggers publish_report.")
        def gate_index_scores(scored, run_id=None, outlet_events=None):
            results = [run_gate_task(city, suite, run_id, period)
                       for period in marts_periods(city) for suite in MARTS_GATES]
            outlet_events[outlet].extra = {"periods": marts_periods(city), "checks": sum(r["checks"] for r in results)}
            return results

        @task(pool=pool, doc_md="Estimate the household survey's measures (income poverty FGT 0/1/2, the integrated "
              "poverty method's groups, satisfaction by topic) with their standard errors, directly by macrodistrict "
              "and by Fay-Herriot for smaller areas, into `marts.survey_estimates` (docs/survey.md).")
        def build_survey_estimates(gated):
            from indicators.survey_marts import build_survey_estimates

            with task_errors():
                return build_survey_estimates(city)

        ready = check_sources_complete()
        built = build_indicator_values(ready)
        gated = gate_indicator_values(built)
        scored = build_index_scores(gated)
        steps = [ready, built, gated, scored, gate_index_scores(scored)]
        if city.settings.survey is not None:
            steps.append(build_survey_estimates(gated))
        close_run(city, steps)

    return build_indicators()


for _city in deployed_cities():
    indicators_dag(_city)
