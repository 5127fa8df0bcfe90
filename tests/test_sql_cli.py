"""`bienestar sql` and `bienestar shell` on a published snapshot: read-only, three output shapes, one-line errors."""

import json

import duckdb
import pytest

from bienestar.cli import main
from bienestar.publish import SNAPSHOT_STORAGE


@pytest.fixture()
def snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    path = tmp_path / "published" / "la_paz_demo" / "current.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect() as con:  # written as publish_snapshot writes: readable by the DuckDB 1.x CLI
        con.execute(f"ATTACH '{path}' AS snapshot (STORAGE_VERSION '{SNAPSHOT_STORAGE}')")
        con.execute("USE snapshot")
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.areas AS SELECT * FROM (VALUES ('Z1', 'Sopocachi', 1200), "
                    "('Z2', '=1+2', 800), ('Z3', 'Achumani', NULL)) t(area_id, name, population)")
    return path


def run(capsys, *argv):
    code = main(["sql", "--city", "la_paz_demo", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_table_csv_and_json(snapshot, capsys):
    query = "SELECT area_id, population FROM marts.areas ORDER BY area_id"
    code, out, _ = run(capsys, query)
    assert code == 0 and out.splitlines()[0].split() == ["area_id", "population"] and "Z3" in out
    code, out, _ = run(capsys, query, "--csv")
    assert code == 0 and out.splitlines() == ["area_id,population", "Z1,1200", "Z2,800", "Z3,"]
    code, out, _ = run(capsys, query, "--json")
    assert code == 0 and json.loads(out) == [{"area_id": "Z1", "population": 1200},
                                             {"area_id": "Z2", "population": 800},
                                             {"area_id": "Z3", "population": None}]


def test_csv_never_hands_a_spreadsheet_a_formula(snapshot, capsys):
    code, out, _ = run(capsys, "SELECT name FROM marts.areas WHERE area_id = 'Z2'", "--csv")
    assert code == 0 and out.splitlines()[1].startswith(("'=", '"\'='))


@pytest.mark.parametrize(("limit", "shown", "more"), [("2", 2, "... 1 more row(s)"), ("3", 3, None)])
def test_the_table_stops_at_the_limit_and_says_so(snapshot, capsys, limit, shown, more):
    code, out, _ = run(capsys, "SELECT area_id FROM marts.areas ORDER BY 1", "--limit", limit)
    lines = out.splitlines()
    assert code == 0 and len([x for x in lines if x.strip().startswith("Z")]) == shown
    assert (more in out) if more else "more row" not in out


@pytest.mark.parametrize(("query", "message"), [
    ("DELETE FROM marts.areas", "read-only"),
    ("CREATE TABLE marts.x (a INTEGER)", "read-only"),
    ("SELECT * FROM marts.nothing", "nothing does not exist"),
])
def test_writes_and_bad_queries_are_one_line_errors(snapshot, capsys, query, message):
    code, out, err = run(capsys, query)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err
    assert err.startswith("bienestar sql: ")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.areas").fetchone() == (3,)


def test_without_a_snapshot_it_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    for argv in (["sql", "SELECT 1"], ["shell"]):
        assert main([*argv, "--city", "la_paz_demo"]) == 2
        err = capsys.readouterr().err
        assert "no published snapshot at" in err and "make demo" in err


def test_the_shell_is_the_duckdb_cli_read_only(snapshot):
    import os
    import subprocess
    import sys

    env = {**os.environ, "BIENESTAR_HOME": str(snapshot.parents[2])}
    done = subprocess.run([sys.executable, "-m", "bienestar.cli", "shell", "--city", "la_paz_demo"],
                          input=".mode csv\nSELECT count(*) AS n FROM marts.areas;\nCREATE TABLE marts.y (a INT);\n",
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.splitlines()[0] == f"{snapshot} (read-only); tables: SHOW ALL TABLES; quit: .quit"
    assert "n\n3" in done.stdout
    assert "read-only mode" in done.stderr
