"""The gate's own rules (expectations/gate.py) on real GX validations: what an outcome reports, which stored
suite is reused, which results the Data Docs keep and re-render, and what the run log says."""

import logging
import time

import pandas as pd
import pytest

from expectations.gate import KEEP_VALIDATIONS, _context, _stored_checkpoint, build_data_docs, validate
from expectations.suites import blocking, warning


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    return tmp_path


NOT_NULL = [blocking("id_not_null", "ExpectColumnValuesToNotBeNull", "ids link records", column="id")]


def test_examples_are_the_first_five_distinct_unexpected_values(home):
    checks = [blocking("small", "ExpectColumnValuesToBeBetween", "at most 10", column="x", max_value=10)]
    frame = pd.DataFrame({"x": [11, 11, 12, 13, 14, 15, 16, 17, 5]})
    [outcome] = validate(frame, checks, "examples_test", city="tiny")
    assert not outcome.success and outcome.unexpected_count == 8
    assert outcome.examples == ["11", "12", "13", "14", "15"]  # distinct, at most five, in order


def test_a_check_that_cannot_run_reports_why(home):
    [outcome] = validate(pd.DataFrame({"other": [1]}), NOT_NULL, "missing_column_test", city="tiny")
    assert not outcome.success and outcome.unexpected_count is None
    assert "id" in str(outcome.observed) and "column" in str(outcome.observed).lower()  # GX's message, kept


def test_the_stored_suite_is_reused_while_the_checks_are_the_same(home):
    validate(pd.DataFrame({"id": [1]}), NOT_NULL, "reuse_test", city="tiny")
    assert _stored_checkpoint(_context("tiny"), "reuse_test", NOT_NULL) is not None
    changed = [blocking("id_not_null", "ExpectColumnValuesToNotBeNull", "ids link households", column="id")]
    assert _stored_checkpoint(_context("tiny"), "reuse_test", changed) is None
    # the changed checks replace the stored suite, and are then reused in their turn
    [outcome] = validate(pd.DataFrame({"id": [None]}), changed, "reuse_test", city="tiny")
    assert not outcome.success and _stored_checkpoint(_context("tiny"), "reuse_test", changed) is not None


def test_data_docs_keep_the_latest_validations_of_each_suite(home):
    assert KEEP_VALIDATIONS == 10  # docs/quality.md promises ten
    for run in range(KEEP_VALIDATIONS + 1):
        validate(pd.DataFrame({"id": [run]}), NOT_NULL, "keep_test", run_name=f"run{run:02d}", city="tiny")
        time.sleep(0.01)  # newest by modification time
    index = build_data_docs("tiny")
    runs = sorted(p.name for p in (index.parent / "validations" / "keep_test").iterdir())
    assert len(runs) == KEEP_VALIDATIONS and not any(r.startswith("run00") for r in runs)


def test_data_docs_render_only_the_run_asked_for(home):
    validate(pd.DataFrame({"id": [1]}), NOT_NULL, "render_test", run_name="run1", city="tiny")
    index = build_data_docs("tiny", "run1")
    [first] = list((index.parent / "validations" / "render_test").rglob("*.html"))
    first.write_text("kept as it was", encoding="utf-8")
    validate(pd.DataFrame({"id": [2]}), NOT_NULL, "render_test", run_name="run2", city="tiny")
    build_data_docs("tiny", "run2")
    assert first.read_text(encoding="utf-8") == "kept as it was"  # run1's page was not rendered again
    assert len(list((index.parent / "validations" / "render_test").rglob("*.html"))) == 2
    build_data_docs("tiny")  # no run id: the whole site
    assert first.read_text(encoding="utf-8") != "kept as it was"


def test_failed_warnings_and_only_they_are_logged(home, caplog, monkeypatch):
    from bienestar import warehouse
    from cities import load_city
    from expectations import gate, suites

    city = load_city("la_paz_demo")
    checks = [warning("few_nulls", "ExpectColumnValuesToNotBeNull", "ids are mostly there", column="id"),
              warning("positive", "ExpectColumnValuesToBeBetween", "ids are positive", column="id", min_value=0)]
    suite = suites.Suite("log_test", "marts", "a test suite", lambda con, city, partition: pd.DataFrame(
        {"id": [1.0, None]}), lambda facts: checks)
    monkeypatch.setitem(suites.SUITES, "log_test", suite)
    with caplog.at_level(logging.INFO, logger=gate.log.name):
        outcomes = gate.run_gate(city, "log_test", "run-1")
    assert [o.success for o in outcomes] == [False, True]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "few_nulls" in warned[0]
    with warehouse.session(city) as con:
        seconds = con.execute("SELECT DISTINCT seconds FROM audit.validation_results WHERE suite = 'log_test'"
                              ).fetchall()
    assert len(seconds) == 1 and 0 < seconds[0][0] < 60  # the suite's own time, not a clock reading


@pytest.mark.parametrize(("info", "message"), [
    (None, None), ({}, None),
    ({"raised_exception": True, "exception_message": "boom"}, "boom"),  # an expectation-level error
    ({"metric a": {"exception_message": "no column x"}, "metric b": {"exception_message": "no column x"},
      "metric c": {"raised_exception": False}}, "no column x"),  # GX 1.x: one per metric, repeated
    ({"metric a": {"exception_message": "one"}, "metric b": {"exception_message": "two"}}, "one; two"),
])
def test_why_a_check_could_not_run_is_read_from_either_shape(info, message):
    from expectations.gate import _exception_message

    assert _exception_message(info) == message
