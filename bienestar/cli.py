"""The `bienestar` command: what people do by hand (run the demo, generate the sample city, inspect quarantine)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

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
    generator = city.settings.generator
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
    print(f"  database:  {snapshot}  (query it: bienestar sql \"SELECT ...\", or bienestar shell)")
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

    _snapshot(args)
    print(build_city_report(_city(args), lang=args.lang, period=args.period))
    return 0


def _snapshot(args) -> Path:
    """The city's current published snapshot, or a message saying how to make one."""
    city = _city(args)
    snapshot = settings.paths().current_snapshot_for(city.name)
    if not snapshot.exists():
        raise FileNotFoundError(f"no published snapshot at {snapshot}: run the pipeline first (bienestar run "
                                f"--city {city.name}, or make demo)")
    return snapshot


def cmd_sql(args) -> int:
    """One query on the current published snapshot, opened read-only: a table, CSV or JSON on stdout."""
    import duckdb

    snapshot = _snapshot(args)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        try:
            frame = con.execute(args.query).df()
        except duckdb.Error as exc:  # the planner's SQL: say what DuckDB says, and where the tables are
            first = str(exc).splitlines()[0]
            print(f"bienestar sql: {first} (the snapshot is read-only; tables are marts.*: "
                  f"bienestar sql \"SHOW ALL TABLES\")", file=sys.stderr)
            return 2
    if args.format == "csv":
        from sources.privacy import neutralise_formulas

        neutralise_formulas(frame).to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", force_ascii=False) + "\n")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_colwidth", 60, "display.width", 200):
            print(frame.head(args.limit).to_string(index=False))
        if len(frame) > args.limit:
            print(f"... {len(frame) - args.limit} more row(s): --limit N, or --csv for all")
    return 0


def cmd_shell(args) -> int:
    """The DuckDB CLI on the current published snapshot, read-only."""
    import importlib.util
    import os
    import shutil

    snapshot = _snapshot(args)
    spec = importlib.util.find_spec("duckdb_cli")
    cli = Path(spec.origin).parent / "duckdb" if spec and spec.origin else None
    cli = str(cli) if cli and cli.exists() else shutil.which("duckdb")
    if not cli:
        print("bienestar shell: no DuckDB CLI found: pip install duckdb-cli (or use bienestar sql \"...\")",
              file=sys.stderr)
        return 2
    print(f"{snapshot} (read-only); tables: SHOW ALL TABLES; quit: .quit", flush=True)
    os.execv(cli, [cli, "-readonly", str(snapshot)])
    return 0  # not reached: the CLI replaces this process


def cmd_city(args) -> int:
    """Check a city's config, or start a new city from an existing one."""
    from bienestar.cityconfig import check_city, new_city

    if args.action == "new":
        city = new_city(args.name, args.template)
        print(f"created {city.folder} from {args.template}: edit its city.yaml (docs/city.md), then run\n"
              f"  bienestar city check {city.name}")
        return 0
    name = args.name or settings.city_name()
    for line in check_city(name):
        print(f"  {line}")
    print(f"{name}: OK")
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
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[debug])
        p.add_argument("--city", help=f"city config under cities/ (default: BIENESTAR_CITY or {settings.DEFAULT_CITY})")
        p.set_defaults(func=func)
        return p

    for name, func, text in [
        ("demo", cmd_demo, "generate the sample city and run the whole pipeline on it through Airflow"),
        ("generate", cmd_generate, "write the sample city's deliveries into BIENESTAR_HOME/landing/<city>/"),
    ]:
        p = add(name, func, text)
        p.add_argument("--scale", type=positive(float), default=1.0,
                       help="multiply the number of households and records (default 1.0: about 20,000 households)")
        p.add_argument("--seed", type=int, default=20240601, help="random seed (same seed, same files)")
    add("run", cmd_run, "run the DAGs in order through Airflow (dag.test) on what is in landing/")
    q = add("quarantine", cmd_quarantine, "list the records the pipeline rejected or flagged, with the reason")
    q.add_argument("--source", help="only sources starting with this, e.g. census or sensors/readings")
    q.add_argument("--limit", type=positive(int), default=200, help="rows to print (default 200)")
    q.add_argument("--format", choices=["table", "csv"], default="table")
    r = add("report", cmd_report, "rebuild the report (HTML, PDF, downloads) from published/<city>/current.duckdb "
                                  "into reports/<city>/<published at>/, and point reports/<city>/latest at it")
    r.add_argument("--lang", choices=["es", "en"], help="language of the report (default: the city's report.lang, "
                                                        "else es)")
    r.add_argument("--period", help="census year to report (default: the city's vintage); the change section "
                                    "compares it with the year before")
    sql = add("sql", cmd_sql, "run one SQL query on published/<city>/current.duckdb (read-only): the marts "
                              "schema of docs/marts.md")
    sql.add_argument("query", help='e.g. "SELECT * FROM marts.index_scores WHERE rank <= 5"')
    shape = sql.add_mutually_exclusive_group()
    shape.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV on stdout")
    shape.add_argument("--json", dest="format", action="store_const", const="json",
                       help="a JSON array of rows on stdout")
    sql.add_argument("--limit", type=positive(int), default=100, help="rows of the table to print (default 100)")
    sql.set_defaults(format="table")
    add("shell", cmd_shell, "open the DuckDB CLI on published/<city>/current.duckdb, read-only")
    c = sub.add_parser("city", help="check a city's config (every key, rule and catalogue entry), or start a new "
                                    "city from an existing one", parents=[debug],
                       description="check: load everything the city's config names (schema, source contracts, "
                                   "catalogue against what the code computes, poverty and sensor rules, index spec, "
                                   "quality) and print what it sets up, or the file and key at fault. new: copy a "
                                   "city's folder under a new name (into BIENESTAR_CITIES_DIR when set). "
                                   "Walk-through: docs/city.md.")
    c.add_argument("action", choices=["check", "new"])
    c.add_argument("name", nargs="?", help="the city (check: default BIENESTAR_CITY or "
                                           f"{settings.DEFAULT_CITY}; new: the new city's name)")
    c.add_argument("--from", dest="template", default=settings.DEFAULT_CITY,
                   help=f"new: the city to copy (default {settings.DEFAULT_CITY})")
    c.set_defaults(func=cmd_city)
    a = sub.add_parser("airflow", help="run the pipeline under a real Airflow: init, start, stop, status",
                       description=AIRFLOW_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                       parents=[debug])
    a.add_argument("action", choices=["init", "start", "stop", "status"])
    a.add_argument("--port", type=int, default=8080, help="api-server port on 127.0.0.1 (default 8080)")
    a.add_argument("--portal-port", type=int, default=8765, help="sample portal port (default 8765)")
    a.add_argument("--portal-url", help="init: point the sample city's portal Connections at this URL")
    a.set_defaults(func=cmd_airflow)
    add_index_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; any failure is one line on stderr and exit code 2 (the traceback only with --debug)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place errors become messages: every command, every project error
        if getattr(args, "debug", False):
            raise
        print(f"bienestar {args.command}: {one_line(exc)}", file=sys.stderr)
        return 2


PROJECT_PACKAGES = {"bienestar", "cities", "expectations", "indicators", "privacy", "reports", "sources",
                    "transforms"}


def one_line(exc: BaseException) -> str:
    """An error as one line people can act on. The project's errors (and the system's file errors) name the
    file, row, key or argument and what to do; anything else is named as a bug, with how to get the details."""
    message = " ".join(str(exc).split())
    ours = type(exc).__module__.split(".")[0] in PROJECT_PACKAGES
    if message and (ours or isinstance(exc, OSError)):
        return message
    what = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"unexpected error ({what}); rerun with --debug for the traceback, and report it: it is a bug"


def positive(kind):
    """An argparse type: a number of `kind` above 0, with a message saying so."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


if __name__ == "__main__":
    sys.exit(main())
