"""`bienestar index ...` through the installed console script: exit codes, messages, and outputs identical to
the API's (written the same way)."""

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
    return subprocess.run([str(BIENESTAR), "index", *args], capture_output=True, text=True, timeout=120)


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
