"""`bienestar index ...`: check a spec, compute an index on a CSV, or run its sensitivity analysis.

Registered in bienestar/cli.py with add_index_commands(sub). pandas and the engine are imported inside the
commands so `bienestar --help` stays fast. Errors name the spec line or the input row and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

INDEX_HELP = """\
Composite indices from a YAML spec. Full guide with the HDI and IMD examples: docs/indices.md

A spec names the unit column, the indicators and a tree of nodes:

  id: wellbeing              # index id
  unit: area_id              # input column holding the unit id
  scale: 100                 # node scores on 0..scale (1 or 100)
  quantiles: 5               # optional: quantile 1 holds rank 1
  indicators:
    - id: water              # input column (or column: NAME)
      direction: 1           # 1 = higher is better, -1 = lower is better
      transform: log         # optional: log | log1p | winsorise
      normalise: {method: goalposts, min: 0, max: 100}
  nodes:                     # the node no other node lists is the root
    - id: services
      children: [water, sanitation]
      aggregate: arithmetic  # arithmetic (default) | geometric | harmonic
      weights: {water: 2, sanitation: 1}   # default equal; rescaled to sum to 1
  missing: {min_share: 0.75, impute: none} # none | mean | group_mean (with group: COLUMN)
  uncertainty:               # what `index sensitivity` varies
    weights: {perturb: 0.25} # each weight x U(0.75, 1.25), rescaled
    normalise: [nominal, rank]
    aggregate: [nominal, geometric]
    impute: [nominal, mean]

Normalisations: minmax, zscore, goalposts {min, max}, rank, percentile_rank,
distance_to_target {target}, exponential_rank {constant}, nbi_gap {norm}.
Output: the unit column, one column per node, score (the root's), rank (1 = highest,
ties share the lowest rank) and quantile when the spec asks (ceil(rank * q / N)).
"""


def sibling(path: Path, part: str) -> Path:
    """OUT.csv -> OUT.<part>.csv: where sensitivity writes its per-run tables next to OUT."""
    stem = path.stem if path.suffix == ".csv" else path.name
    return path.with_name(f"{stem}.{part}.csv")


def read_input(path: Path | str, spec):
    """The input CSV as the CLI reads it: the unit column as text (ids like 001 keep their zeros), blanks missing."""
    import pandas as pd

    return pd.read_csv(path, dtype={spec.unit: str})


def write_csv(frame, path: Path | str) -> None:
    """Write a table as the CLI writes it ('-' = stdout): full float precision, Unix newlines."""
    from sources.privacy import neutralise_formulas

    target = sys.stdout if str(path) == "-" else path
    neutralise_formulas(frame).to_csv(target, index=False, lineterminator="\n")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _run(args, body) -> int:
    """Load the spec and the input, run `body(frame, spec)`; every expected failure becomes exit code 2."""
    import pandas as pd

    from indicators.engine import InputError, SpecError, load_spec

    output = getattr(args, "output", None)
    if output not in (None, "-") and not Path(output).resolve().parent.is_dir():
        return _fail(f"--output {output}: the folder {Path(output).resolve().parent} does not exist; create it "
                     "or write elsewhere")
    try:
        spec = load_spec(args.spec)
        if args.input is None:
            return body(None, spec)
        try:
            frame = read_input(args.input, spec)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            return _fail(f"{args.input}: cannot read the input CSV: {exc}")
        return body(frame, spec)
    except InputError as exc:
        line = f" (CSV line {exc.row + 1})" if exc.row else ""
        return _fail(f"{args.input}: {exc}{line}")
    except SpecError as exc:
        return _fail(str(exc))


def cmd_compute(args) -> int:
    """Score every unit of the input with the spec."""
    from indicators.engine import compute_index

    def body(frame, spec) -> int:
        out = compute_index(frame, spec)
        write_csv(out, args.output)
        if args.output != "-":
            print(f"{spec.id}: {len(out)} units scored ({out['score'].notna().sum()} with a score) -> {args.output}")
        return 0

    return _run(args, body)


def cmd_sensitivity(args) -> int:
    """Monte Carlo over the spec's `uncertainty:` choices, plus the rank shift when each entry is dropped."""
    from indicators.sensitivity import run_sensitivity

    if args.runs < 1:
        return _fail(f"--runs must be >= 1, got {args.runs}")

    def body(frame, spec) -> int:
        result = run_sensitivity(frame, spec, runs=args.runs, seed=args.seed)
        out = Path(args.output)
        write_csv(result.summary, out)
        write_csv(result.runs, sibling(out, "runs"))
        written = [str(out), str(sibling(out, "runs"))]
        if args.ranks:
            write_csv(result.ranks_frame(spec.unit), sibling(out, "ranks"))
            written.append(str(sibling(out, "ranks")))
        print(f"{spec.id}: {args.runs} runs (seed {args.seed}) over {len(frame)} units -> {', '.join(written)}")
        return 0

    return _run(args, body)


def describe_tree(spec) -> list[str]:
    """The spec's tree, root first, one line per node or indicator with its weight and method."""
    from indicators.normalise import PARAMETERS

    lines: list[str] = []

    def visit(entry: str, weight: float | None, depth: int) -> None:
        share = "" if weight is None else f"  w={weight:.3g}"
        if entry in spec.nodes:
            lines.append(f"{'  ' * depth}{entry} [{spec.aggregate(entry)}]{share}")
            for child, w in zip(spec.nodes[entry]["children"], spec.weights(entry), strict=True):
                visit(child, w, depth + 1)
        else:
            settings = spec.normalisation(entry)
            required, optional = PARAMETERS[settings["method"]]
            params = ", ".join(f"{k}={settings[k]}" for k in [*required, *optional] if settings[k] is not None)
            transform = spec.transform(entry)
            how = f"{transform['method']} then " if transform else ""
            lines.append(f"{'  ' * depth}{entry}{share}  ({how}{settings['method']}{f' {params}' if params else ''}, "
                         f"direction {spec.direction(entry):+d}, column {spec.column(entry)!r})")

    visit(spec.root, None, 0)
    return lines


def cmd_check(args) -> int:
    """Check a spec and print its tree."""

    def body(_frame, spec) -> int:
        print(f"{args.spec}: ok - index {spec.id!r}, unit column {spec.unit!r}, scale {spec.scale:g}, "
              f"{len(spec.indicators)} indicators, {len(spec.nodes)} nodes, sha256 {spec.sha256()[:12]}")
        print("\n".join(describe_tree(spec)))
        return 0

    args.input = None
    return _run(args, body)


def add_index_commands(sub) -> None:
    """Register `bienestar index {check,compute,sensitivity}` on the CLI's subparsers."""
    index = sub.add_parser("index", help="compute a composite index from a YAML spec on a CSV, or its sensitivity",
                           description=INDEX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    check = actions.add_parser("check", help="check a spec and print its tree",
                               description="Check a spec (errors name the line) and print its tree.")
    check.add_argument("--spec", required=True, help="index spec (YAML)")
    check.set_defaults(func=cmd_check)

    compute = actions.add_parser(
        "compute", help="score every unit of a CSV with a spec",
        description="Score every unit of a CSV with a spec. OUT has the unit column, one column per node, score, "
                    "rank and (when the spec asks) quantile. Exit code 2 on a spec or input error.")
    compute.add_argument("--spec", required=True, help="index spec (YAML); see `bienestar index --help`")
    compute.add_argument("--input", required=True, help="CSV with the unit column and one column per indicator")
    compute.add_argument("--output", required=True, help="CSV to write ('-' for standard output)")
    compute.set_defaults(func=cmd_compute)

    sens = actions.add_parser(
        "sensitivity", help="Monte Carlo ranks over the spec's uncertainty: choices",
        description="Monte Carlo over the choices under the spec's `uncertainty:`. OUT has per unit the nominal, "
                    "median, 5th and 95th percentile ranks and the rank shift when each indicator and each node "
                    "is dropped (shift_without_<id>, positive = falls); OUT.runs.csv records every run's choices "
                    "and weights; --ranks adds OUT.ranks.csv with every run's rank of every unit. Same seed, same "
                    "files.")
    sens.add_argument("--spec", required=True, help="index spec (YAML) with an uncertainty: section")
    sens.add_argument("--input", required=True, help="CSV with the unit column and one column per indicator")
    sens.add_argument("--output", required=True, help="per-unit CSV to write; per-run tables go next to it")
    sens.add_argument("--runs", type=int, default=1000, help="number of Monte Carlo runs (default 1000)")
    sens.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same output")
    sens.add_argument("--ranks", action="store_true", help="also write OUT.ranks.csv (units x runs)")
    sens.set_defaults(func=cmd_sensitivity)
