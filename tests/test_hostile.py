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


# -- deliveries: archives and cells ------------------------------------------------------------------------------

def test_an_xlsx_cell_expanding_to_millions_of_characters_is_refused_before_reading(tmp_path):
    """The hostile case took two minutes to read and was accepted: its sheet unpacks a thousand times larger than
    it is packed, so the archive check refuses it before anything is unpacked."""
    import zipfile

    import openpyxl

    from sources.files import DeliveryError, read_delivery

    book = openpyxl.Workbook()
    book.active.append(["record_id", "category"])
    book.save(tmp_path / "plain.xlsx")
    path = tmp_path / "services.xlsx"  # the same workbook, its sheet holding one 5-million-character cell
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>category</t></is></c>'
             f'</row><row r="2"><c r="A2" t="inlineStr"><is><t>{"x" * 5_000_000}</t></is></c></row></sheetData>'
             '</worksheet>')
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as plain, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as hostile:
        for member in plain.namelist():
            data = sheet.encode() if member == "xl/worksheets/sheet1.xml" else plain.read(member)
            hostile.writestr(member, data)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"services.xlsx: member 'xl/.*' unpacks [\d,]+ times larger"):
        read_delivery(path)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("length", "refused"), [(32_767, False), (32_768, True)])
def test_a_cell_longer_than_excel_allows_is_refused(tmp_path, length, refused):
    from sources.files import DeliveryError, read_delivery

    path = tmp_path / "services.csv"
    path.write_text(f"record_id,category\nr1,theft\nr2,{'x' * length}\n", encoding="utf-8")
    if refused:
        with pytest.raises(DeliveryError, match=r"services.csv: row 2, field category: 32,768 characters, more than"):
            read_delivery(path)
    else:
        assert read_delivery(path)["category"].str.len().max() == 32_767


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path):
    import zipfile

    from sources.files import DeliveryError, read_delivery

    path = tmp_path / "zones.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zones.shp", b"\0" * 50_000_000)  # 50 MB of zeros pack into ~50 KB
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"zones.zip: member 'zones.shp' unpacks [\d,]+ times larger"):
        read_delivery(path)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("member", ["../../etc/evil.shp", "/tmp/evil.shp"])
def test_an_archive_member_outside_the_archive_is_refused(tmp_path, member):
    import zipfile

    from sources.files import DeliveryError, read_delivery

    path = tmp_path / "zones.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, b"not a shapefile")
    with pytest.raises(DeliveryError, match="points outside the archive; refused"):
        read_delivery(path)


def test_a_normal_xlsx_still_reads(tmp_path):
    import openpyxl

    from sources.files import read_delivery

    book = openpyxl.Workbook()
    book.active.append(["record_id", "category"])
    book.active.append(["r1", "theft"])
    book.save(tmp_path / "ok.xlsx")
    assert read_delivery(tmp_path / "ok.xlsx")[["record_id", "category"]].values.tolist() == [["r1", "theft"]]


# -- silently accepted before: duplicated headers, dates outside the delivery's month ----------------------------

def test_a_duplicated_header_is_refused(tmp_path):
    from sources.files import DeliveryError, read_delivery

    path = tmp_path / "households.csv"
    path.write_text("household_id,members,members\nh1,3,4\n", encoding="utf-8")
    with pytest.raises(DeliveryError, match=r"households.csv: line 1: column 'members' appears 2 times"):
        read_delivery(path)


@pytest.mark.parametrize(("occurred_at", "kept"), [
    ("2024-06-01T00:00:00", True), ("2024-06-30T23:59:59", True),     # the month's first and last second
    ("2024-05-31T23:59:59", False), ("2024-07-01T00:00:00", False),   # just outside
    ("2099-06-15T10:00:00", False), ("1900-06-15T10:00:00", False),
])
def test_service_dates_outside_the_month_are_quarantined(occurred_at, kept):
    import pandas as pd

    from transforms.services import stage_service_records

    areas = pd.DataFrame({"area_id": ["Z1"], "level": ["zona"], "depth": [0], "name": ["Uno"], "parent_id": [None],
                          "geometry_wkt": ["POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"]})
    raw = pd.DataFrame({"family": ["police_reports"], "record_id": ["r1"], "occurred_at": [occurred_at],
                        "lon": ["0.5"], "lat": ["0.5"], "category": ["theft"], "_delivery": ["d"], "_row": [1]})
    cleaned = stage_service_records(raw, areas, "2024-06")
    assert (len(cleaned.frame) == 1) is kept
    if not kept:
        assert [(q["reason"], q["field"]) for q in cleaned.quarantine] == [
            ("outside the delivery's month 2024-06", "occurred_at")]


# -- a killed report build ----------------------------------------------------------------------------------------

def test_a_killed_report_build_is_put_right_by_the_next(tmp_path):
    import os

    from reports.build import ORPHAN_AGE, clean_orphans

    out = tmp_path / "la_paz_demo"
    stale_build = tmp_path / ".la_paz_demo.building-abc"
    fresh_build = tmp_path / ".la_paz_demo.building-def"  # another build may be running now: left alone
    moved_aside = tmp_path / ".la_paz_demo.old-xyz"     # killed between the two renames of a swap
    for folder in (stale_build, fresh_build, moved_aside):
        folder.mkdir()
    (moved_aside / "index.html").write_text("the last report")
    now = time.time()
    os.utime(stale_build, (now - ORPHAN_AGE - 1, now - ORPHAN_AGE - 1))
    removed = clean_orphans(out, now=now)
    assert (out / "index.html").read_text() == "the last report"  # no report would have been served at all
    assert removed == [stale_build] and fresh_build.exists() and not stale_build.exists()
