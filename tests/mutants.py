"""Mutation testing of the rules: does a small realistic bug in a rule fail a fast test?

    .venv/bin/python tests/mutants.py                        # every module of MODULES, 2 at a time
    .venv/bin/python tests/mutants.py privacy/disclosure.py   # one module
    .venv/bin/python tests/mutants.py --list indicators/nbi.py   # the mutants, without running them

A mutant is the module with one change of the kind a tired programmer makes: a comparison's boundary (`<` for
`<=`, `>` for `>=`, and back), a negated equality (`==` for `!=`), `and` for `or`, `+` for `-`, `*` for `/`,
or a number one larger (0 becomes 1). Each mutant is written into a private copy of the project and the fast
tests (everything but `e2e` and `scheduler`) that execute its line run against it, the fastest first, until they
add up to BUDGET seconds: the mutant is *killed* when a test fails (or the run hangs: twice the time limit),
*survives* when every test passes (a slower test executing the line might still have killed it: the figure errs
low, never high). A mutant on a line no
fast test executes survives without running. The killed share is the figure docs/testing.md reports; every
survivor is printed with its line, so a missing test can be written (or the mutant shown to be equivalent).

Which tests execute which line comes from one coverage run of the fast suite (pytest-cov, a context per test)
at the start; a line executed only while modules are imported (a module constant) is tested by every fast test
of a file that executes any line of the module. Tests that run the project in a subprocess are not seen by
coverage: their mutants count as survivors unless an in-process test kills them.

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
import xml.etree.ElementTree as ET
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)  # the project's venv: run this file with .venv/bin/python

# the rule modules the hardening issue names, and disclosure control
MODULES = sorted(
    [str(p.relative_to(ROOT)) for folder in ("indicators", "transforms") for p in (ROOT / folder).glob("*.py")
     if p.name != "__init__.py"]
    + ["sources/privacy.py", "bienestar/publish.py", "expectations/gate.py", "privacy/disclosure.py",
       "cities/schema.py", "bienestar/cityconfig.py"])
FAST = "not e2e and not scheduler"
SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.And: ast.Or, ast.Or: ast.And, ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
}
STARTUP = 20  # seconds allowed for pytest to start and collect, on top of the selected tests' own time
SLOWER = 4    # a mutant's tests may take this many times their time without the mutant before it counts as hung
BUDGET = 10   # seconds of test time per mutant: the fastest tests executing its line, until they add up to this


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int        # the index-th mutable site of the module, in AST walk order
    line: int
    statement: int    # first line of the statement holding it: the line coverage records
    change: str
    text: str = ""    # the source line, stripped: how tests/mutants_equivalent.txt names it


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


def _statements(tree: ast.Module) -> dict[int, int]:
    """id of every node -> first line of the innermost statement holding it."""
    owner: dict[int, int] = {}

    def visit(node: ast.AST, line: int) -> None:
        if isinstance(node, ast.stmt):
            line = node.lineno
        owner[id(node)] = line
        for child in ast.iter_child_nodes(node):
            visit(child, line)

    visit(tree, 0)
    return owner


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
    source = (ROOT / module).read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    owner = _statements(tree)
    return [Mutant(module, i, getattr(node, "lineno", 0), owner[id(node)], change,
                   lines[node.lineno - 1].strip() if getattr(node, "lineno", 0) else "")
            for i, (node, _, change) in enumerate(_sites(tree))]


EQUIVALENT_FILE = ROOT / "tests" / "mutants_equivalent.txt"


def equivalent() -> dict[tuple[str, str, str], str]:
    """Mutants reviewed as equivalent (they change nothing a caller can observe), each with the reason:
    `module | change | source line | why` per line of tests/mutants_equivalent.txt. They are not run and are
    reported apart; a line that no longer matches a mutant is reported as stale."""
    found = {}
    for number, line in enumerate(EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(" | ")]
        if len(parts) != 4 or not parts[3]:
            raise SystemExit(f"{EQUIVALENT_FILE.name}:{number}: expected `module | change | source line | why`")
        found[tuple(parts[:3])] = parts[3]
    return found


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


# ------------------------------------------------------------------------------ the project's copies
def _copy_project(into: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".uv", "var", ".git", "__pycache__", "*.duckdb", ".ruff_cache")
    shutil.copytree(ROOT, into, ignore=ignore, dirs_exist_ok=True)
    (into / ".venv").symlink_to(ROOT / ".venv")  # tests that run .venv/bin/... find it; PYTHONPATH picks the copy
    return into


def _env(copy_root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(copy_root),
            "BIENESTAR_HOME": str(copy_root / "var")}


# heavy libraries a test process imports: a mutant's tests run in a child forked from a server that imported them
# once (Great Expectations alone takes 3-5 s to import), not in a new interpreter each time
PRELOAD = ("numpy", "pandas", "duckdb", "shapely", "geopandas", "pyproj", "yaml", "matplotlib", "hypothesis",
           "great_expectations", "great_expectations.expectations", "pytest")


def serve() -> None:
    """`--serve`: import PRELOAD, then for each job read from stdin ({"args": [...], "timeout": s}) fork a child
    that runs pytest with those arguments (the project's own modules are imported fresh by the child, so it sees
    the mutant on disk) and answer {"code": exit code, -1 past the timeout} on stdout."""
    import contextlib
    import importlib
    import signal

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: pytest's output must not reach the answers on stdout
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            import pytest

            os._exit(int(pytest.main(job["args"])))
        deadline = time.monotonic() + job["timeout"]
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = -1
                break
            time.sleep(0.01)
        print(json.dumps({"code": code}), flush=True)


class Worker:
    """One copy of the project and its fork server."""

    def __init__(self, copy_root: Path):
        self.root = copy_root
        self.server = subprocess.Popen([str(PYTHON), str(copy_root / "tests" / "mutants.py"), "--serve"],
                                       cwd=copy_root, env=_env(copy_root), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)

    def pytest(self, args: list[str], timeout: float) -> int:
        """pytest's exit code on the copy as it is on disk now; -1 past `timeout`."""
        self.server.stdin.write(json.dumps({"args": ["-q", "-p", "no:cacheprovider", "-m", FAST, "-o", "addopts=",
                                                     *args], "timeout": timeout}) + "\n")
        self.server.stdin.flush()
        return json.loads(self.server.stdout.readline())["code"]

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=60)


# ------------------------------------------------------------------------------ which tests run which line
@dataclass
class Coverage:
    tests: dict[str, dict[int, set[str]]]   # module -> statement line -> node ids of the tests executing it
    seconds: dict[str, float]              # node id -> its time without any mutant

    def select(self, mutant: Mutant) -> list[str]:
        """The tests that execute the mutant's statement, fastest first; for a statement executed only at import
        (a module constant), every test executing any line of the module."""
        lines = self.tests.get(mutant.module, {})
        chosen = lines.get(mutant.statement) or lines.get(mutant.line)
        if chosen is None:
            return []
        if chosen == {""}:
            chosen = set().union(*lines.values()) - {""}
        ordered = sorted(chosen - {""}, key=lambda t: (self.seconds.get(t, 0), t))
        picked, spent = [], 0.0
        for test in ordered:  # the fastest first, up to BUDGET seconds of their own time
            if picked and spent + self.seconds.get(test, 0) > BUDGET:
                break
            picked.append(test)
            spent += self.seconds.get(test, 0)
        return picked


def _node_id(case: ET.Element) -> str:
    """A JUnit test case's pytest node id (tests.test_x.TestC + name -> tests/test_x.py::TestC::name)."""
    parts = case.get("classname", "").split(".")
    for k in range(len(parts), 0, -1):
        path = "/".join(parts[:k]) + ".py"
        if (ROOT / path).exists():
            return "::".join([path, *parts[k:], case.get("name", "")])
    return case.get("name", "")


def measure_coverage(copies: list[Path]) -> Coverage:
    """Run the fast suite once under coverage, split over the copies; the tests of every executed line."""
    from coverage import CoverageData

    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    sizes = {f: (ROOT / f).stat().st_size for f in files}
    shares: list[list[str]] = [[] for _ in copies]
    for f in sorted(files, key=sizes.get, reverse=True):  # biggest first, each to the lightest share
        min(shares, key=lambda s: sum(sizes[x] for x in s)).append(f)
    packages = sorted({m.split("/")[0] for m in MODULES})

    def run(k: int) -> int:
        copy = copies[k]
        env = {**_env(copy), "COVERAGE_FILE": str(copy / ".coverage")}
        cov = [f"--cov={p}" for p in packages]
        done = subprocess.run([str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", FAST,
                               "-o", "addopts=", *cov, "--cov-context=test", "--cov-report=",
                               f"--junitxml={copy / 'junit.xml'}", *shares[k]],
                              cwd=copy, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the fast tests fail without any mutant (exit {done.returncode}); fix them first:\n"
                             + done.stdout[-3000:])
        return done.returncode

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        list(pool.map(run, range(len(copies))))

    tests: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    seconds: dict[str, float] = {}
    for copy in copies:
        data = CoverageData(basename=str(copy / ".coverage"))
        data.read()
        for measured in data.measured_files():
            module = str(Path(measured).resolve().relative_to(copy.resolve()))
            if module not in MODULES:
                continue
            for line, contexts in data.contexts_by_lineno(measured).items():
                tests[module][line].update(c.rsplit("|", 1)[0] for c in contexts)
        for case in ET.parse(copy / "junit.xml").iter("testcase"):
            seconds[_node_id(case)] = float(case.get("time", 0))
    return Coverage({m: dict(lines) for m, lines in tests.items()}, seconds)


# ------------------------------------------------------------------------------ running the mutants
def _try(worker: Worker, mutant: Mutant, tests: list[str], limit: float, original: str) -> tuple[Mutant, str]:
    """Run `tests` on the worker's copy with `mutant` in place of its module: (mutant, killed|survived|hung|error)."""
    if not tests:
        return mutant, "not reached"
    target = worker.root / mutant.module
    target.write_text(mutated_source(mutant), encoding="utf-8")
    try:
        code = worker.pytest(["-x", *tests], timeout=limit)
        if code in (4, 5):  # a node id pytest cannot find again (an odd parameter id): the tests' whole files
            code = worker.pytest(["-x", *sorted({t.split("::")[0] for t in tests})], timeout=limit * 2)
        return mutant, {0: "survived", -1: "hung", 4: "error", 5: "error"}.get(code, "killed")
    finally:
        target.write_text(original, encoding="utf-8")


def run(module_list: list[str], workers: int = 2, progress: Path | None = None) -> dict:
    """Run every mutant of the modules; the results per module."""
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bienestar-mutants-") as tmp:
        copies = [_copy_project(Path(tmp) / f"copy{w}") for w in range(workers)]
        started = time.monotonic()
        print("coverage of the fast tests ...", file=sys.stderr, flush=True)
        coverage = measure_coverage(copies)
        print(f"coverage measured in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        servers = [Worker(copy) for copy in copies]
        reviewed = equivalent()
        for module in module_list:
            every = mutants(module)
            found = [m for m in every if (m.module, m.change, m.text) not in reviewed]
            matched = {(m.module, m.change, m.text) for m in every}
            original = (ROOT / module).read_text(encoding="utf-8")
            started = time.monotonic()
            chosen = [coverage.select(m) for m in found]
            limits = [STARTUP + SLOWER * sum(coverage.seconds.get(t, 1) for t in tests) for tests in chosen]
            outcomes: list[tuple[Mutant, str]] = []
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # each worker owns one copy: mutants are dealt to the copies in turn, one at a time per copy
                for start in range(0, len(found), workers):
                    batch = range(start, min(start + workers, len(found)))
                    outcomes += list(pool.map(_try, servers, [found[i] for i in batch], [chosen[i] for i in batch],
                                              [limits[i] for i in batch], [original] * len(batch)))
                    print(f"\r{module}: {len(outcomes)}/{len(found)} mutants", end="", file=sys.stderr, flush=True)
            # a run past its limit may only have been slowed by the machine: once more, alone, with twice the time
            for k, (mutant, verdict) in enumerate(outcomes):
                if verdict == "hung":
                    i = found.index(mutant)
                    outcomes[k] = _try(servers[0], mutant, chosen[i], limits[i] * 2, original)
            print(file=sys.stderr)
            verdicts = [v for _, v in outcomes]
            killed = sum(v in ("killed", "hung") for v in verdicts)
            results[module] = {
                "mutants": len(every), "equivalent": len(every) - len(found),
                "stale": [" | ".join(key) for key in reviewed if key[0] == module and key not in matched],
                "killed": killed, "hung": verdicts.count("hung"),
                "not_reached": verdicts.count("not reached"), "errors": verdicts.count("error"),
                "seconds": round(time.monotonic() - started),
                "survivors": [f"line {m.line}: {m.change}" + (" (no fast test runs this line)"
                                                              if v == "not reached" else "")
                              for m, v in outcomes if v in ("survived", "not reached", "error")]}
            if progress:  # each module's survivors as soon as it is done: the work list grows while others run
                progress.write_text(json.dumps(results, indent=2) + "\n")
        for worker in servers:
            worker.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all of MODULES: indicators/, "
                                                   "transforms/, sources/privacy.py, bienestar/publish.py, "
                                                   "expectations/gate.py, privacy/disclosure.py)")
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    parser.add_argument("--workers", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # a worker's fork server
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    chosen = args.modules or MODULES
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"not a mapped module: {', '.join(unknown)} (MODULES in {Path(__file__).name})")
    if args.list:
        for module in chosen:
            for m in mutants(module):
                print(f"{module}:{m.line}: {m.change} | {m.text}")
        return 0
    results = run(chosen, args.workers, args.json)
    report(results)
    if args.json:
        total, killed, same = (sum(r[k] for r in results.values()) for k in ("mutants", "killed", "equivalent"))
        args.json.write_text(json.dumps({"total": total, "equivalent": same, "killed": killed,
                                         "modules": results}, indent=2) + "\n")
    return 0


def report(results: dict) -> None:
    """The table (killed share of all mutants, and of those not reviewed as equivalent) and the survivors."""
    print(f"{'module':<36} {'mutants':>8} {'equiv.':>7} {'killed':>7} {'of all':>7} {'of rest':>8} {'unreached':>10}")
    for module, r in [*results.items(), ("all", {k: sum(r[k] for r in results.values())
                                                 for k in ("mutants", "equivalent", "killed", "not_reached")})]:
        rest = r["mutants"] - r["equivalent"]
        print(f"{module:<36} {r['mutants']:>8} {r['equivalent']:>7} {r['killed']:>7} "
              f"{r['killed'] / max(r['mutants'], 1):>7.0%} {r['killed'] / max(rest, 1):>8.0%} {r['not_reached']:>10}")
    for module, r in results.items():
        for survivor in r["survivors"]:
            print(f"survived: {module} {survivor}")
        for stale in r["stale"]:
            print(f"stale equivalent entry (no such mutant now): {stale}")


if __name__ == "__main__":
    sys.exit(main())
