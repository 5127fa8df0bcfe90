"""A planner's read-only open of the working database never fails a task: a task waits for the lock (bounded),
naming the process that holds it (bienestar/warehouse.py, real DuckDB files, real processes)."""

import subprocess
import sys
import time

import pytest

from bienestar import warehouse

READER = """
import sys, time, duckdb
path, until = sys.argv[1], time.monotonic() + float(sys.argv[2])
opened = 0
print("reading", flush=True)
while time.monotonic() < until:
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.IOException:  # the task holds it now: a planner retries
        time.sleep(0.01)
        continue
    time.sleep(0.05)   # a 50 ms query
    con.close()
    opened += 1
    time.sleep(0.01)
print(opened)
"""


def reader(path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", READER, str(path), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "reading"
    return process


def test_tasks_writing_while_a_reader_opens_the_file_in_a_loop_never_fail(tmp_path):
    path = tmp_path / "work.duckdb"
    with warehouse.session(path) as con:
        con.execute("CREATE TABLE marts.t (n INTEGER)")
    planner = reader(path, 4)
    for n in range(40):  # forty short tasks, each opening the file read-write
        with warehouse.session(path) as con:
            con.execute("INSERT INTO marts.t VALUES (?)", [n])
    opened = int(planner.communicate(timeout=60)[0])
    assert opened > 5  # the reader really held the file between the tasks
    with warehouse.session(path) as con:
        assert con.execute("SELECT count(*), sum(n) FROM marts.t").fetchone() == (40, sum(range(40)))


def test_a_lock_held_past_the_wait_names_the_holder(tmp_path):
    path = tmp_path / "work.duckdb"
    warehouse.connect(path).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}, "
                               "read_only=True); print('open', flush=True); time.sleep(30)"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(warehouse.DatabaseLocked, match=rf"is locked by PID {holder.pid} .* for 1 s: the working "
                                                           r"database is the pipeline's alone"):
            warehouse.connect(path, wait=1.0)
        assert 0.5 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    warehouse.connect(path, wait=1.0).close()  # released: opens at once


def test_other_errors_are_not_waited_for(tmp_path):
    (tmp_path / "not.duckdb").write_text("not a database")
    started = time.monotonic()
    with pytest.raises(Exception, match="not a valid DuckDB database file|database file"):
        warehouse.connect(tmp_path / "not.duckdb", wait=30)
    assert time.monotonic() - started < 5
