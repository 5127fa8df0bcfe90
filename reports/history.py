"""Every report kept: `reports/<city>/<published at>/`, and `reports/<city>/latest` pointing at the newest.

    reports/la_paz_demo/2026-12-07T05-26-00Z/   index.html, report.pdf, images, downloads, data-docs/
    reports/la_paz_demo/2026-12-07T09-12-41Z/
    reports/la_paz_demo/latest -> 2026-12-07T09-12-41Z

A report is named after the publication it shows (`marts.publication.published_at`), so rebuilding the report
of the same snapshot replaces that folder and nothing else. `latest` is a relative symbolic link swapped in one
rename: a reader (or the Airflow UI) sees the old report or the new one, never a mix. The newest `keep` reports
are kept; the report built compares itself with the one `latest` pointed at before ("since the last report").
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

LATEST = "latest"
STAMP = "%Y-%m-%dT%H-%M-%SZ"  # as bienestar.publish names the snapshots
STAMPED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z")


def stamp(published_at: datetime | None) -> str:
    """The folder name of a report: its publication time in UTC."""
    when = published_at or datetime.now(UTC)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(STAMP)


def reports(city_dir: Path) -> list[Path]:
    """The kept reports of a city, oldest first."""
    if not city_dir.is_dir():
        return []
    return sorted(p for p in city_dir.iterdir() if p.is_dir() and not p.is_symlink() and STAMPED.fullmatch(p.name))


def latest(city_dir: Path) -> Path | None:
    """The folder `latest` points at, when it points at one."""
    link = city_dir / LATEST
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def point_latest(city_dir: Path, folder: Path) -> None:
    """Swap `latest` to `folder` in one rename (a relative link, so the tree can be moved or served). A `latest`
    that is a real folder (a copy made without keeping links) is moved aside first and removed."""
    temporary = city_dir / f".{LATEST}.new-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(folder.name, target_is_directory=True)
    link = city_dir / LATEST
    copied = None
    if link.is_dir() and not link.is_symlink():
        copied = city_dir / f".{LATEST}.copy-{os.getpid()}"
        link.rename(copied)
    os.replace(temporary, link)
    if copied is not None:
        shutil.rmtree(copied, ignore_errors=True)


def prune(city_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` reports (never the one `latest` points at); return what was removed."""
    current = latest(city_dir)
    kept = reports(city_dir)
    removed = []
    for folder in kept[:max(len(kept) - keep, 0)]:
        if current is not None and folder.resolve() == current:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def migrate(city_dir: Path) -> None:
    """A city folder from before the history (index.html directly inside) becomes its first kept report."""
    if (city_dir / "index.html").is_file() and not (city_dir / LATEST).is_symlink():
        when = datetime.fromtimestamp((city_dir / "index.html").stat().st_mtime, UTC)
        target = city_dir / stamp(when)
        target.mkdir()
        for item in list(city_dir.iterdir()):
            if item != target and not item.name.startswith("."):
                item.rename(target / item.name)
        point_latest(city_dir, target)
