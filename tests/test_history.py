"""reports/history.py: every report kept under its publication time, `latest` swapped in one rename, old ones
pruned, a folder from before the history migrated."""

import os
from datetime import UTC, datetime, timedelta, timezone

from reports import history


def make(city_dir, name: str, text: str = "report"):
    folder = city_dir / name
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(text)
    return folder


def test_a_report_is_named_after_its_publication_in_utc():
    la_paz = timezone(timedelta(hours=-4))
    assert history.stamp(datetime(2026, 12, 7, 1, 26, 0, tzinfo=la_paz)) == "2026-12-07T05-26-00Z"
    assert history.stamp(datetime(2026, 12, 7, 5, 26, 0)) == "2026-12-07T05-26-00Z"  # naive: taken as UTC


def test_latest_is_a_relative_link_swapped_to_the_newest(tmp_path):
    first, second = make(tmp_path, "2026-12-07T05-26-00Z", "one"), make(tmp_path, "2026-12-08T05-26-00Z", "two")
    history.point_latest(tmp_path, first)
    assert (tmp_path / "latest" / "index.html").read_text() == "one"
    history.point_latest(tmp_path, second)
    assert os.readlink(tmp_path / "latest") == "2026-12-08T05-26-00Z"  # relative: the tree can move
    assert history.latest(tmp_path) == second.resolve()
    assert [p.name for p in history.reports(tmp_path)] == ["2026-12-07T05-26-00Z", "2026-12-08T05-26-00Z"]
    assert not list(tmp_path.glob(".latest.new-*"))


def test_prune_keeps_the_newest_and_never_the_one_latest_points_at(tmp_path):
    names = [f"2026-12-0{day}T05-26-00Z" for day in range(1, 6)]
    folders = [make(tmp_path, name) for name in names]
    history.point_latest(tmp_path, folders[0])  # a rebuild of an old publication
    removed = history.prune(tmp_path, keep=2)
    assert [p.name for p in removed] == names[1:3]
    assert [p.name for p in history.reports(tmp_path)] == [names[0], names[3], names[4]]
    assert history.prune(tmp_path, keep=5) == []


def test_no_history_yet(tmp_path):
    assert history.reports(tmp_path / "missing") == [] and history.latest(tmp_path) is None


def test_a_report_from_before_the_history_becomes_the_first_kept_one(tmp_path):
    (tmp_path / "index.html").write_text("old")
    (tmp_path / "map_score.png").write_bytes(b"png")
    when = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "index.html", (when, when))
    history.migrate(tmp_path)
    assert (tmp_path / "latest" / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-01T12-00-00Z", "latest"]
    history.migrate(tmp_path)  # once only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-01T12-00-00Z", "latest"]


def test_a_latest_copied_as_a_folder_is_replaced_by_the_link(tmp_path):
    """shutil.copytree without symlinks=True (a backup, a test's copy) turns `latest` into a folder."""
    new = make(tmp_path, "2026-12-08T05-26-00Z", "new")
    make(tmp_path, "latest", "copied")
    history.point_latest(tmp_path, new)
    assert (tmp_path / "latest").is_symlink() and (tmp_path / "latest" / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-08T05-26-00Z", "latest"]
