"""Hostile inputs, each with its expected verdict (issue 11): a clear error naming the file and line, quickly,
without expanding anything. Connector cases (bodies, deadlines, redirects, paging) live in tests/test_http.py and
tests/test_ckan.py against real HTTP servers."""

from __future__ import annotations

import time

import pytest

from cities import CityConfigError, read_yaml
from indicators.index_spec import SpecError, parse_spec_text

BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
       f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(8)]
)
RECURSIVE = "a: &a [*a]\n"
SPEC_WITH_ALIAS = """id: wb
unit: area_id
indicators:
  - &x {id: x, direction: 1, normalisation: {method: minmax}}
  - *x
nodes:
  - {id: wb, children: [x]}
"""


@pytest.mark.parametrize(("name", "text", "line"), [
    ("billion laughs (9^9 list items from 10 lines)", BILLION_LAUGHS, 2),
    ("an alias that refers to itself", RECURSIVE, 1),
    ("an alias in an otherwise valid spec", SPEC_WITH_ALIAS, 5),
])
def test_a_spec_with_aliases_is_refused_at_once(name, text, line):
    started = time.monotonic()
    with pytest.raises(SpecError, match=rf"^spec.yaml:{line}: YAML aliases \(\*\w+\) are not allowed"):
        parse_spec_text(text, source="spec.yaml")
    assert time.monotonic() - started < 1, name


@pytest.mark.parametrize(("text", "message"), [
    (BILLION_LAUGHS, r"city.yaml:2: YAML aliases"),
    (RECURSIVE, r"city.yaml:1: YAML aliases"),
    ("name: [unclosed\n", r"city.yaml:2: not valid YAML"),
])
def test_a_configuration_file_with_aliases_or_bad_yaml_is_refused(tmp_path, text, message):
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CityConfigError, match=message):
        read_yaml(path)


def test_anchors_without_aliases_are_fine(tmp_path):
    path = tmp_path / "city.yaml"
    path.write_text("a: &anchor 1\nb: 2\n", encoding="utf-8")
    assert read_yaml(path) == {"a": 1, "b": 2}


# -- the command line: one line naming the argument or file, exit code 2, no traceback ---------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["quarantine", "--limit", "-5"], "argument --limit: must be above 0, got -5"),
    (["generate", "--scale", "-1"], "argument --scale: must be above 0, got -1"),
    (["generate", "--scale", "lots"], "argument --scale: expected a number, got 'lots'"),
    (["report", "--city", "atlantis"], "bienestar report: unknown city 'atlantis': no "),
    (["quarantine", "--city", "atlantis"], "bienestar quarantine: unknown city 'atlantis'"),
])
def test_cli_errors_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    from bienestar.cli import main

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses the argument
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_report_without_a_snapshot_says_what_to_run(capsys, tmp_path, monkeypatch):
    from bienestar.cli import main

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    assert main(["report", "--city", "la_paz_demo"]) == 2
    err = capsys.readouterr().err
    assert "no published snapshot at" in err and "run the pipeline first" in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    from bienestar.cli import main

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    with pytest.raises(CityConfigError, match="unknown city 'atlantis'"):
        main(["--debug", "quarantine", "--city", "atlantis"])
    with pytest.raises(CityConfigError):
        main(["quarantine", "--city", "atlantis", "--debug"])


def test_an_unexpected_error_is_named_as_a_bug(capsys, monkeypatch):
    from bienestar import cli

    monkeypatch.setattr(cli, "build_parser", _parser_with(cli, "quarantine", lambda args: {}["missing"]))
    assert cli.main(["quarantine"]) == 2
    err = capsys.readouterr().err
    assert "unexpected error (KeyError: 'missing'); rerun with --debug" in err


def _parser_with(cli, name, func):
    build = cli.build_parser

    def parser():
        p = build()
        for action in p._subparsers._group_actions:
            action.choices[name].set_defaults(func=func)
        return p
    return parser


def test_index_output_into_a_missing_folder_is_named(tmp_path, capsys):
    from bienestar.cli import main
    from bienestar.settings import PROJECT_ROOT

    example = PROJECT_ROOT / "indicators" / "examples"
    spec = next(example.glob("*.yaml"))
    data = next(example.glob("*.csv"))
    code = main(["index", "compute", "--spec", str(spec), "--input", str(data),
                 "--output", str(tmp_path / "nowhere" / "out.csv")])
    assert code == 2 and "does not exist; create it" in capsys.readouterr().err
