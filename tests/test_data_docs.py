"""Data Docs through our GX project config: GX's pages rendered with the cached views, no config-variables file."""

import pandas as pd

from expectations.suites import blocking


def test_data_docs_are_rendered_with_compiled_templates_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    from expectations.data_docs import template_cache_dir
    from expectations.gate import _context, build_data_docs, validate

    checks = [blocking("id_not_null", "ExpectColumnValuesToNotBeNull", "ids link records", column="id")]
    outcomes = validate(pd.DataFrame({"id": [1, None, 3]}), checks, "docs_test", run_name="run1", city="tiny")
    assert [o.success for o in outcomes] == [False] and outcomes[0].unexpected_count == 1

    config = (tmp_path / "quality" / "tiny" / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert "config_variables_file_path:\n" in config  # empty: GX reads no variables file on every access
    assert "class_name: CachedPageView" in config and "class_name: CachedIndexPageView" in config
    assert _context("tiny").variables.config_variables_file_path is None

    index = build_data_docs("tiny", "run1")
    assert index.exists() and "docs_test" in index.read_text(encoding="utf-8")
    pages = list((index.parent / "validations" / "docs_test").rglob("*.html"))
    assert len(pages) == 1
    page = pages[0].read_text(encoding="utf-8")
    assert "never be null" in page and "≈33.33% of 3 total rows" in page  # the failed check, as GX renders it
    compiled = sorted(template_cache_dir().glob("__jinja2_*.cache"))
    assert len(compiled) > 5  # index, page, section and component templates compiled once, then loaded

    # a second run is rendered from the cache: nothing new compiled, and both runs are listed
    validate(pd.DataFrame({"id": [1, 2, 3]}), checks, "docs_test", run_name="run2", city="tiny")
    build_data_docs("tiny", "run2")
    assert sorted(template_cache_dir().glob("__jinja2_*.cache")) == compiled
    assert len(list((index.parent / "validations" / "docs_test").rglob("*.html"))) == 2
