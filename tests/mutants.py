"""Mutation testing of the rules: does a small realistic bug in a rule fail a fast test?

    .venv/bin/python tests/mutants.py                       # every module below, 2 at a time
    .venv/bin/python tests/mutants.py privacy/disclosure.py  # one module
    .venv/bin/python tests/mutants.py --list privacy/disclosure.py   # the mutants, without running them

A mutant is the module with one change of the kind a tired programmer makes: a comparison's boundary (`<` for
`<=`, `>` for `>=`, and back), a negated equality (`==` for `!=`), `and` for `or`, `+` for `-`, `*` for `/`,
or a number one larger (0 becomes 1). Each mutant is written into a private copy of the project and the module's
fast tests (MODULES below) run against it: the mutant is *killed* when a test fails (or the run exceeds the time
limit), *survives* when every test passes. The killed share is the figure docs/testing.md reports; every
survivor is printed with its line, so a missing test can be written (or the mutant shown to be equivalent).

Docstrings, f-strings and messages are not mutated; neither are `if __name__` blocks.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)  # the project's venv: run this file with .venv/bin/python

# module -> the fast tests that pin its rules
MODULES = {
    "privacy/disclosure.py": ["tests/test_disclosure.py", "tests/test_attack.py", "tests/test_area_indicators.py"],
    "indicators/nbi.py": ["tests/test_nbi.py"],
    "indicators/alkire_foster.py": ["tests/test_alkire_foster.py"],
    "indicators/area_indicators.py": ["tests/test_area_indicators.py"],
    "transforms/cleaning.py": ["tests/test_sensor_readings.py", "tests/test_privacy.py", "tests/test_contracts.py"],
    "sources/privacy.py": ["tests/test_privacy.py"],
    "transforms/boundaries.py": ["tests/test_boundaries.py"],
}
SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.And: ast.Or, ast.Or: ast.And, ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
}
TIME_LIMIT = 45  # seconds for one mutant's tests (about 4x the slowest module's; a loop that never ends is killed)


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int      # the index-th mutable site of the module, in AST walk order
    line: int
    change: str


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings, f-strings and everything inside them, `if __name__` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skip.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _sites(tree: ast.Module) -> list[tuple[ast.AST, int | None, str]]:
    """(node, operator position or None, description) of every mutable site, in walk order."""
    skip = _skipped(tree)
    sites = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    sites.append((node, k, f"{type(op).__name__} -> {SWAPS[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp | ast.BinOp) and type(node.op) in SWAPS:
            sites.append((node, None, f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            sites.append((node, None, f"{node.value!r} -> {node.value + 1!r}"))
    return sites


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    return [Mutant(module, i, getattr(node, "lineno", 0), change)
            for i, (node, _, change) in enumerate(_sites(tree))]


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text(encoding="utf-8"))
    node, position, _ = _sites(tree)[mutant.index]
    if isinstance(node, ast.Compare):
        node.ops[position] = SWAPS[type(node.ops[position])]()
    elif isinstance(node, ast.BoolOp | ast.BinOp):
        node.op = SWAPS[type(node.op)]()
    else:
        node.value = node.value + 1
    return ast.unparse(tree)


def _copy_project(into: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".uv", "var", ".git", "__pycache__", "*.duckdb", ".ruff_cache")
    shutil.copytree(ROOT, into, ignore=ignore, dirs_exist_ok=True)
    return into


def _run_tests(copy_root: Path, tests: list[str]) -> int:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "BIENESTAR_HOME": str(copy_root / "var")}
    try:
        done = subprocess.run([str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "-m", "not e2e and not scheduler", *tests], cwd=copy_root, env=env,
                              capture_output=True, timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        return -1
    return done.returncode


def _try(copy_root: Path, mutant: Mutant, tests: list[str], original: str) -> tuple[Mutant, bool]:
    """Run `tests` in `copy_root` with `mutant` in place of its module: (mutant, killed)."""
    target = copy_root / mutant.module
    target.write_text(mutated_source(mutant), encoding="utf-8")
    try:
        return mutant, _run_tests(copy_root, tests) != 0
    finally:
        target.write_text(original, encoding="utf-8")


def run(module_list: list[str], workers: int = 2) -> dict:
    """Run every mutant of the modules; the results per module."""
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bienestar-mutants-") as tmp:
        copies = [_copy_project(Path(tmp) / f"copy{w}") for w in range(workers)]
        for module in module_list:
            tests = MODULES[module]
            baseline = _run_tests(copies[0], tests)
            if baseline != 0:
                raise SystemExit(f"{module}: its tests fail without any mutant (exit {baseline}); fix them first")
            found = mutants(module)
            original = (ROOT / module).read_text(encoding="utf-8")
            started = time.monotonic()

            outcomes = []
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # each worker owns one copy: mutants are dealt to the copies in turn, one at a time per copy
                for batch_start in range(0, len(found), workers):
                    batch = found[batch_start:batch_start + workers]
                    outcomes += list(pool.map(_try, [copies[k] for k in range(len(batch))], batch,
                                              [tests] * len(batch), [original] * len(batch)))
                    done = len(outcomes)
                    print(f"\r{module}: {done}/{len(found)} mutants", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            survivors = [m for m, killed in outcomes if not killed]
            results[module] = {"mutants": len(found), "killed": len(found) - len(survivors),
                               "seconds": round(time.monotonic() - started),
                               "survivors": [f"line {m.line}: {m.change}" for m in survivors]}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(MODULES)})")
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    parser.add_argument("--workers", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    chosen = args.modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"no tests mapped for {', '.join(unknown)} (MODULES in {Path(__file__).name})")
    if args.list:
        for module in chosen:
            for m in mutants(module):
                print(f"{module}:{m.line}: {m.change}")
        return 0
    results = run(chosen, args.workers)
    total = sum(r["mutants"] for r in results.values())
    killed = sum(r["killed"] for r in results.values())
    print(f"{'module':<34} {'mutants':>8} {'killed':>8} {'share':>7} {'seconds':>8}")
    for module, r in results.items():
        print(f"{module:<34} {r['mutants']:>8} {r['killed']:>8} {r['killed'] / max(r['mutants'], 1):>7.0%} "
              f"{r['seconds']:>8}")
    print(f"{'all':<34} {total:>8} {killed:>8} {killed / max(total, 1):>7.0%}")
    for module, r in results.items():
        for survivor in r["survivors"]:
            print(f"survived: {module} {survivor}")
    if args.json:
        args.json.write_text(json.dumps({"total": total, "killed": killed, "modules": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
