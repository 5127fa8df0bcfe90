"""The `bienestar` command: what people do by hand (run the demo, generate the sample city, inspect quarantine)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from bienestar import settings
from indicators.index_cli import add_index_commands

DESCRIPTION = """\
bienestar: neighbourhood well-being indicators and indices for city governments.

Everything the pipeline writes goes under BIENESTAR_HOME (default: ./var in the checkout):
landing/ (deliveries), warehouse/ (one working DuckDB per city), published/<city>/ (read-only snapshots),
reports/<city>/, quality/<city>/ (Data Docs), airflow/.
"""


def _city(args):
    from cities import load_city

    return load_city(args.city or settings.city_name())


def cmd_generate(args) -> int:
    """Write the sample city's deliveries into landing/."""
    city = _city(args)
    generator = city.config.get("generator")
    if not generator:
        print(f"city {city.name!r} is not generated: its deliveries come from its sources", file=sys.stderr)
        return 2
    from bienestar.demo import portal_dir, prepare_demo

    # The generator reports one line per file it writes, through logging.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger(generator).addHandler(handler)
    logging.getLogger(generator).setLevel(logging.INFO)
    prepare_demo(city, scale=args.scale, seed=args.seed)
    print(f"sample city written to {portal_dir(city)} (its portal) and {settings.paths().landing_for(city.name)} "
          "(census and boundaries, delivered as files)")
    return 0


def cmd_run(args) -> int:
    """Run the DAGs in order through Airflow."""
    from bienestar.runner import PipelineFailed, run_pipeline

    city = _city(args)
    started = time.monotonic()
    try:
        run_pipeline(city)
    except PipelineFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    paths = settings.paths()
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    print(f"  report:    {paths.reports_for(city.name) / 'index.html'}")
    snapshot = paths.current_snapshot_for(city.name)
    print(f"  database:  {snapshot}  (open read-only: duckdb -readonly {snapshot})")
    print(f"  quarantine: bienestar quarantine --city {city.name}")
    return 0


def cmd_demo(args) -> int:
    """Generate the sample city, then run the whole pipeline on it."""
    code = cmd_generate(args)
    return code or cmd_run(args)


def cmd_quarantine(args) -> int:
    """List what the pipeline rejected or flagged, and why."""
    from bienestar import warehouse

    city = _city(args)
    database = settings.paths().warehouse_for(city.name)
    if not database.exists():
        print(f"no working database at {database}: run the pipeline first", file=sys.stderr)
        return 2
    con = warehouse.connect(city, read_only=True)
    try:
        where, params = "city = ?", [city.name]
        if args.source:
            where += " AND source LIKE ?"
            params.append(f"{args.source}%")
        frame = con.execute(
            f'SELECT source, delivery, "row", record_id, field, action, reason FROM audit.quarantine WHERE {where} '
            'ORDER BY source, delivery, "row", record_id', params).df()
    finally:
        con.close()
    frame["row"] = frame["row"].astype("Int64")
    if args.format == "csv":  # a record id like =HYPERLINK(...) must not run in the reader's spreadsheet
        from sources.privacy import neutralise_formulas

        neutralise_formulas(frame).to_csv(sys.stdout, index=False)
        return 0
    if frame.empty:
        print(f"nothing quarantined for {city.name}")
        return 0
    import pandas as pd

    with pd.option_context("display.max_rows", args.limit, "display.max_colwidth", 90, "display.width", 200):
        print(frame.head(args.limit).to_string(index=False))
    summary = frame.groupby(["source", "action"]).size()
    print(f"\n{len(frame)} record(s) in quarantine for {city.name}:")
    for (source, action), count in summary.items():
        print(f"  {source:<40} {action:<9} {count}")
    return 0


def cmd_report(args) -> int:
    """Rebuild the report from the current published snapshot."""
    from bienestar.publish import build_city_report

    print(build_city_report(_city(args)))
    return 0


def cmd_airflow(args) -> int:
    """Run Airflow as an operator does: init, start (background), stop, status."""
    from bienestar import deployment

    try:
        if args.action == "init":
            deployment.init(portal_url=args.portal_url)
        elif args.action == "start":
            deployment.start(port=args.port, portal_port=args.portal_port)
        elif args.action == "stop":
            deployment.stop()
        else:
            alive = deployment.running()
            expected = deployment.expected_processes()
            for name in sorted({*alive, *expected}):
                print(f"{name:<14} " + (f"running (pid {alive[name]})" if name in alive else
                                        f"NOT running: see {deployment.airflow_home() / 'logs' / (name + '.out')}"))
            if not alive:
                print("not running (start with: make airflow)")
            return 0 if alive and set(expected) <= set(alive) else 3
    except RuntimeError as exc:
        print(f"bienestar airflow {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


AIRFLOW_HELP = """init    migrate Airflow's metadata database, create every city's pools, the Connections of the sample
        city's portal (--portal-url) and the admin login; safe to run again
start   init, serve the sample city's portal, and start api-server, scheduler, dag-processor and triggerer
        (plus a Celery worker when AIRFLOW__CORE__EXECUTOR is CeleryExecutor) in the background; prints the URL
        and login (make airflow)
stop    stop exactly the processes start recorded under BIENESTAR_HOME/airflow/run/ (make airflow-stop)
status  list them

Metadata database: SQLite under BIENESTAR_HOME/airflow by default; PostgreSQL when
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN says so (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/bienestar).
Cities: every cities/*/city.yaml, or those listed in BIENESTAR_CITIES (comma-separated). See docs/operations.md.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bienestar", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--city", help=f"city config under cities/ (default: BIENESTAR_CITY or {settings.DEFAULT_CITY})")
        p.set_defaults(func=func)
        return p

    for name, func, text in [
        ("demo", cmd_demo, "generate the sample city and run the whole pipeline on it through Airflow"),
        ("generate", cmd_generate, "write the sample city's deliveries into BIENESTAR_HOME/landing/<city>/"),
    ]:
        p = add(name, func, text)
        p.add_argument("--scale", type=float, default=1.0, help="multiply the number of households and records "
                       "(default 1.0: about 20,000 households)")
        p.add_argument("--seed", type=int, default=20240601, help="random seed (same seed, same files)")
    add("run", cmd_run, "run the DAGs in order through Airflow (dag.test) on what is in landing/")
    q = add("quarantine", cmd_quarantine, "list the records the pipeline rejected or flagged, with the reason")
    q.add_argument("--source", help="only sources starting with this, e.g. census or sensors/readings")
    q.add_argument("--limit", type=int, default=200, help="rows to print (default 200)")
    q.add_argument("--format", choices=["table", "csv"], default="table")
    add("report", cmd_report, "rebuild the HTML report from published/<city>/current.duckdb")
    a = sub.add_parser("airflow", help="run the pipeline under a real Airflow: init, start, stop, status",
                       description=AIRFLOW_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("action", choices=["init", "start", "stop", "status"])
    a.add_argument("--port", type=int, default=8080, help="api-server port on 127.0.0.1 (default 8080)")
    a.add_argument("--portal-port", type=int, default=8765, help="sample portal port (default 8765)")
    a.add_argument("--portal-url", help="init: point the sample city's portal Connections at this URL")
    a.set_defaults(func=cmd_airflow)
    add_index_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
