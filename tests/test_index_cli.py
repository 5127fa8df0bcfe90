"""`bienestar index ...` as the installed console script runs it: exit codes, messages, and outputs identical to
the API's (written the same way)."""

import contextlib
import io
import subprocess
from pathlib import Path

import pytest

from indicators.engine import compute_index, load_spec
from indicators.index_cli import read_input, sibling, write_csv
from indicators.sensitivity import run_sensitivity

ROOT = Path(__file__).resolve().parents[1]
BIENESTAR = ROOT / ".venv" / "bin" / "bienestar"
EXAMPLES = ROOT / "indicators" / "examples"
SPEC = EXAMPLES / "neighbourhoods.yaml"
DATA = EXAMPLES / "neighbourhoods.csv"


def bienestar(*args: str) -> subprocess.CompletedProcess:
    """`bienestar index ...` in this process (bienestar.cli.main, as the console script calls it): exit code,
    stdout and stderr."""
    from bienestar.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["index", *args])
        except SystemExit as exit_:  # argparse: --help, a usage error
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["bienestar", "index", *args], code, out.getvalue(), err.getvalue())


def test_the_console_script_runs_the_same_command():
    done = subprocess.run([str(BIENESTAR), "index", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == bienestar("--help").stdout


def test_help_explains_the_spec():
    done = bienestar("--help")
    assert done.returncode == 0
    assert "docs/indices.md" in done.stdout and "normalise: {method: goalposts" in done.stdout
    assert "exponential_rank {constant}" in done.stdout and "nbi_gap {norm}" in done.stdout


def test_compute_matches_the_api(tmp_path):
    out = tmp_path / "scores.csv"
    done = bienestar("compute", "--spec", str(SPEC), "--input", str(DATA), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "10 units scored" in done.stdout
    spec = load_spec(SPEC)
    expected = tmp_path / "api.csv"
    write_csv(compute_index(read_input(DATA, spec), spec), expected)
    assert out.read_bytes() == expected.read_bytes()
    assert out.read_text().splitlines()[0] == ("area_id,services,housing,education,health,environment,wellbeing,"
                                               "score,rank,quantile")


def test_sensitivity_matches_the_api_and_repeats_byte_for_byte(tmp_path):
    args = ["sensitivity", "--spec", str(SPEC), "--input", str(DATA), "--runs", "300", "--seed", "9", "--ranks"]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert bienestar(*args, "--output", str(first)).returncode == 0
    assert bienestar(*args, "--output", str(second)).returncode == 0
    for part in (None, "runs", "ranks"):
        a = first if part is None else sibling(first, part)
        b = second if part is None else sibling(second, part)
        assert a.read_bytes() == b.read_bytes(), part
    spec = load_spec(SPEC)
    result = run_sensitivity(read_input(DATA, spec), spec, runs=300, seed=9)
    write_csv(result.summary, tmp_path / "api.csv")
    write_csv(result.runs, tmp_path / "api.runs.csv")
    assert first.read_bytes() == (tmp_path / "api.csv").read_bytes()
    assert sibling(first, "runs").read_bytes() == (tmp_path / "api.runs.csv").read_bytes()
    assert sibling(first, "runs").read_text().count("\n") == 301
    other = tmp_path / "c.csv"
    assert bienestar(*args[:-3], "--seed", "10", "--output", str(other)).returncode == 0
    assert sibling(other, "runs").read_bytes() != sibling(first, "runs").read_bytes()


def test_check_prints_the_tree():
    done = bienestar("check", "--spec", str(SPEC))
    assert done.returncode == 0, done.stderr
    assert "index 'wellbeing'" in done.stdout
    assert "  services [arithmetic]  w=0.2" in done.stdout
    assert "    pm25_mean  w=0.5  (distance_to_target target=5, cap=True, direction -1" in done.stdout


@pytest.mark.parametrize("change, expected", [
    (("normalise: minmax}", "normalise: softmax}"),
     "indicator 'no_sanitation': unknown normalisation 'softmax' (known: minmax, zscore,"),
    (("{id: housing, children: [overcrowding]}", "{id: housing, children: [overcrowding, wellbeing]}"),
     "the node tree needs exactly one root (a node no other node lists), found none; every node is listed by "
     "another: cycle in the node tree: housing -> wellbeing -> housing"),
])
def test_spec_errors_exit_2_naming_the_line(tmp_path, change, expected):
    spec = tmp_path / "neighbourhoods.yaml"
    text = SPEC.read_text()
    assert change[0] in text
    spec.write_text(text.replace(*change))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if change[0] in row)
    done = bienestar("compute", "--spec", str(spec), "--input", str(DATA), "--output", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert f"error: {spec}:{line}: {expected}" in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_input_errors_exit_2_naming_the_row(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(DATA.read_text().replace("Z04,Achumani,Sur,2.5,", "Z04,Achumani,Sur,n/d,"))
    done = bienestar("compute", "--spec", str(SPEC), "--input", str(data), "--output", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert (f"error: {data}: input row 4 (area_id='Z04'): 'no_piped_water' is not a number: 'n/d' (CSV line 5)"
            in done.stderr)
    data.write_text(DATA.read_text().replace("no_electricity", "electricity"))
    done = bienestar("sensitivity", "--spec", str(SPEC), "--input", str(data), "--output", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert f"error: {SPEC}:11: indicator 'no_electricity': column 'no_electricity' not in the input" in done.stderr
    done = bienestar("compute", "--spec", str(SPEC), "--input", str(tmp_path / "absent.csv"), "--output", "-")
    assert done.returncode == 2 and "cannot read the input CSV" in done.stderr


def test_per_run_tables_sit_next_to_the_output():
    assert sibling(Path("/x/out.csv"), "runs") == Path("/x/out.runs.csv")
    assert sibling(Path("/x/out.txt"), "runs") == Path("/x/out.txt.runs.csv")  # not a .csv: its whole name
    assert sibling(Path("/x/out"), "ranks") == Path("/x/out.ranks.csv")


def test_sensitivity_defaults_to_1000_runs_seed_0(tmp_path):
    out = tmp_path / "s.csv"
    done = bienestar("sensitivity", "--spec", str(SPEC), "--input", str(DATA), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wellbeing: 1000 runs (seed 0) over 10 units -> ")
    assert sibling(out, "runs").read_text().count("\n") == 1001
    assert not sibling(out, "ranks").exists()


@pytest.mark.parametrize(("runs", "ok"), [("0", False), ("-1", False), ("1", True)])
def test_sensitivity_needs_at_least_one_run(tmp_path, runs, ok):
    done = bienestar("sensitivity", "--spec", str(SPEC), "--input", str(DATA), "--output", str(tmp_path / "s.csv"),
                     "--runs", runs)
    assert (done.returncode == 0) == ok, done.stderr
    if not ok:
        assert done.returncode == 2 and f"--runs must be >= 1, got {runs}" in done.stderr


def test_compute_to_stdout_prints_only_the_table(tmp_path):
    done = bienestar("compute", "--spec", str(SPEC), "--input", str(DATA), "--output", "-")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("area_id,") and len(lines) == 11  # the header and 10 units, no summary line


def test_check_indents_the_tree_by_depth():
    lines = bienestar("check", "--spec", str(SPEC)).stdout.splitlines()
    tree = lines[1:]
    assert tree[0] == "wellbeing [geometric]"  # the root, no weight, no indent
    assert all(line.startswith("  ") for line in tree[1:])
    depths = {line.strip().split()[0]: (len(line) - len(line.lstrip())) // 2 for line in tree}
    assert depths["wellbeing"] == 0 and depths["services"] == 1 and depths["pm25_mean"] == 2
