"""The analysts' report, built from the published DuckDB snapshot: the page, its images, its PDF and downloads.

    reports/snapshot.py   reads the snapshot (the only SQL)
    reports/model.py      what each section shows, formatted in the report's language
    reports/charts.py     the PNG images (index map for slides and paper, a bar chart per dimension)
    reports/svgmap.py     the interactive map (inline SVG and a little JS, no network)
    reports/downloads.py  indicators.csv, index.csv, index.xlsx, areas.gpkg, datapackage.json
    reports/history.py    reports/<city>/<published at>/ with `latest` pointing at the newest
    reports/build.py      puts them together into one folder (this module)

The folder is self-contained (Data Docs copied in, every link relative) so it can be zipped and shared. The
page and images are a pure function of the snapshot and the arguments: building twice gives identical bytes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from reports import model
from reports.charts import draw_charts
from reports.numbers import Numbers
from reports.snapshot import Snapshot, only_city, read_snapshot
from reports.svgmap import MAP_CSS, MAP_SCRIPT, svg_map
from reports.text import LANGUAGES

TEMPLATES = Path(__file__).parent / "templates"
ALLOWED_URL_SCHEMES = ("", "http", "https", "file")
SUMMARY = "report.json"  # what the next report compares itself with ("since the last report")
PDF = "report.pdf"
DATA_DOCS = "data-docs"

log = logging.getLogger(__name__)


def _check_url(url: str | None) -> str | None:
    """Only web or file links: autoescape does not stop a `javascript:` URL in an href."""
    if url is not None and urlsplit(url).scheme.lower() not in ALLOWED_URL_SCHEMES:
        raise ValueError(f"quality_url must be an http(s), file or relative URL, got {url!r}")
    return url


def _css_string(text: str) -> str:
    """A CSS string literal: quotes, backslashes and anything that could close the <style> escaped."""
    return '"' + "".join(ch if ch.isalnum() or ch in " .,:;-_()/·" else f"\\{ord(ch):x} " for ch in text) + '"'


def _chart_words(snap: Snapshot, words: model.Words, nums: Numbers) -> dict:
    return {"lang": words.lang, "no_data": words["no_data"], "border": words["border"],
            "map_legend": words["map_legend"], "score": nums.score,
            "level_names": {lv: words.level(lv) for lv in snap.levels},
            "classes": model.class_legend(snap, snap.map_level, nums, words)}


def _summary(snap: Snapshot, nums: Numbers, words: model.Words) -> dict:
    """The figures the next report compares itself with, and its key findings (for the notice)."""
    return {
        "findings": model.findings_text(model.findings(snap, nums, words)),
        "published_at": str(snap.published_at or ""),
        "period": snap.period,
        "indicators": sorted(i.indicator_id for i in snap.indicators),
        "areas": model.summary_areas(snap),
    }


def _level_maps(snap: Snapshot, nums: Numbers, words: model.Words, city_name: str, outlines: list) -> list[dict]:
    """The index map (with every dimension as a layer) at each level that has scores and polygons, the smallest
    first: `index-map`, then `index-map-<level>`."""
    out = []
    for level in snap.levels[snap.levels.index(snap.map_level):]:
        areas = model.map_areas(snap, level, nums, words)
        if not areas or not snap.has_scores(level, snap.index_id):
            continue
        first = not out
        html = svg_map(areas, model.class_legend(snap, level, nums, words),
                       map_id="index-map" if first else f"index-map-{level}",
                       title=f"{words['map']}: {city_name} {snap.period} ({words.level(level, lower=True)})",
                       no_data_label=words["no_data"], outlines=outlines if level != snap.top_level else [],
                       outline_label=f"{words['border']}: {words.level(snap.top_level, lower=True)}",
                       lang=words.lang, layers=model.dimension_layers(snap, nums, words, level),
                       base_label=words["composite"])
        out.append({"level": level, "title": words["map_by"].format(words.level(level, lower=True)), "html": html})
    return out


def _change_map(snap: Snapshot, nums: Numbers, words: model.Words, outlines: list) -> str:
    areas, classes = model.change_map(snap, nums, words)
    if not areas:
        return ""
    title = f"{words['change_col']} {snap.changes[0].period_from} → {snap.period}"
    return svg_map(areas, classes, map_id="change-map", title=title, no_data_label=words["no_data"],
                   outlines=outlines, outline_label=f"{words['border']}: {words.level(snap.top_level, lower=True)}",
                   lang=words.lang)


def _copy_data_docs(quality_url: str | None, work: Path) -> str | None:
    """Data Docs on this machine are copied into the report (a link that works once the folder is shared);
    a web address stays a link."""
    if quality_url is None:
        return None
    parts = urlsplit(quality_url)
    if parts.scheme in ("http", "https"):
        return quality_url
    index = Path(parts.path if parts.scheme == "file" else quality_url)
    if not index.is_file():
        return None
    shutil.copytree(index.parent, work / DATA_DOCS)
    return f"{DATA_DOCS}/{index.name}"


def _size(nums: Numbers, size: int) -> str:
    return f"{nums.decimal(size / 1024, 0)} KB" if size < 1024 * 1024 else f"{nums.decimal(size / 1024 ** 2, 1)} MB"


def _render(snap: Snapshot, *, city_name: str, lang: str, quality_url: str | None, map_image, charts,
            downloads: list[dict], previous: dict | None, citation: str | None, pdf: str | None) -> str:
    nums, words = Numbers(lang), model.Words(snap, lang)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # the file ends in .j2, so select_autoescape would not pick it up
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    base, top = snap.map_level, snap.top_level
    has_top_table = top != base and snap.has_scores(top, snap.index_id)
    outlines = [(a.name, a.geometry_wkt) for a in snap.areas_of(top) if a.geometry_wkt] if top != base else []
    maps = _level_maps(snap, nums, words, city_name, outlines)
    map_html = maps[0]["html"] if maps else ""
    change = model.change_section(snap, nums, words)
    published = nums.date(snap.published_at.date()) if snap.published_at else ""
    dimension_names = [model.name(lang, d.name_es, d.name_en) for d in snap.dimensions]
    for chart in charts:
        dim = model.name(lang, chart["dimension"].name_es, chart["dimension"].name_en)
        chart["alt"] = f"{dim}: {words['dimensions'].format(words.level(top, lower=True))}"
        chart["caption"] = (words["dimensions_mean"].format(words.level(base, lower=True), words.level(top, lower=True))
                            if chart["source"] == "mean" else f"{dim}, 0–100")
    failed = [dict(q, unexpected=nums.integer(q["unexpected_count"]) if q["unexpected_count"] is not None else "—")
              for q in snap.quality if not q["success"]]
    sections = [("findings", words["findings"]), ("map", words["map"]),
                ("ranking", words["ranking"].format(words.level(base, lower=True)))]
    sections += [("change", change["title"])] if change else []
    sections += [("dimensions", words["dimensions"].format(words.level(top, lower=True)))]
    outside = model.outside_section(snap, nums, words)
    sections += [("outside-index", words["outside"])] if outside else []
    survey = model.survey_section(snap, nums, words)
    sections += [("survey", words["survey"])] if survey else []
    sections += [("indicators", words["indicators"])]
    profiles = model.profiles(snap, nums, words)
    sections += [("profiles", words["profiles"].format(words.level(top, lower=True)))] if profiles else []
    sections += [("suppression", words["suppression"])]
    sections += [("quality", words["quality"])] if quality_url or snap.quality else []
    method = model.method(snap, nums, words)
    sections += [("method", words["method"])] if method else []
    sections += [("sources", words["sources"]), ("downloads", words["downloads"])]
    index_indicators = [i for i in model.ordered_indicators(snap) if model.in_index(snap, i)]
    return env.get_template("report.html.j2").render(
        lang=lang,
        t=words.text,
        city_name=city_name,
        index_id=snap.index_id,
        period=snap.period,
        published=published,
        data_through=nums.date(snap.data_through) if snap.data_through else "",
        contents=sections,
        findings=model.findings(snap, nums, words),
        since=model.since_last(snap, previous, nums, words),
        map_svg=Markup(map_html),
        level_maps=[dict(m, html=Markup(m["html"])) for m in maps[1:]],
        map_css=Markup(MAP_CSS),
        page_footer=Markup(_css_string(f"{city_name} · {words['published']} {published}" if published
                                       else city_name)),
        map_script=Markup(MAP_SCRIPT) if map_html else "",
        map_caption=words["map_caption"].format(words.level(base, lower=True)),
        map_image=map_image,
        change_svg=Markup(_change_map(snap, nums, words, outlines)),
        ranking_title=words["ranking"].format(words.level(base, lower=True)),
        base_level_id=base,
        has_bands=any(score.rank_best is not None for score in snap.scores.values()),
        top_ranking_title=words["ranking"].format(words.level(top, lower=True)),
        parent_levels=[words.level(lv) for lv in snap.levels[snap.levels.index(base) + 1:]],
        dimension_names=dimension_names,
        ranked=model.score_rows(snap, base, nums),
        top_ranked=model.score_rows(snap, top, nums) if has_top_table else None,
        change=change,
        dimensions_title=words["dimensions"].format(words.level(top, lower=True)),
        dimensions_mean=words["dimensions_mean"].format(words.level(base, lower=True), words.level(top, lower=True)),
        charts=charts,
        outside=outside,
        survey=survey,
        indicators=model.indicator_rows(snap, nums, words),
        indicators_caption=words["indicators_caption"].format(words.level(base, lower=True)),
        indicator_top=model.level_table(snap, top, index_indicators, nums, words) if top != base else None,
        indicator_top_title=words["by_level"].format(words.level(top, lower=True)),
        profiles=profiles,
        profiles_title=words["profiles"].format(words.level(top, lower=True)),
        suppression=model.suppression(snap, nums, words),
        quality_url=quality_url,
        quality_failed=failed,
        quality_checked=len(snap.quality),
        quality_text=words["quality_text"].format(nums.integer(len(snap.quality)), nums.integer(len(failed))),
        method=method,
        sources=model.sources(snap, nums, words, citation),
        downloads=[dict(d, size=_size(nums, d["bytes"])) for d in downloads],
        pdf=pdf,
        footer=words["footer"].format(snap.period),
    )


def _replace_dir(new: Path, target: Path) -> None:
    """Swap the finished directory into place: readers see the old report or the new one, never a mix."""
    if not target.exists():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


ORPHAN_AGE = 600  # seconds: a build or swap folder this old belongs to a run that was killed


def clean_orphans(out_dir: Path, now: float | None = None) -> list[Path]:
    """What a killed build leaves next to `out_dir`, put right: a report moved aside for a swap that never
    finished comes back when `out_dir` is missing; build and swap folders older than ORPHAN_AGE are removed.
    Returns the folders removed."""
    now = time.time() if now is None else now
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    old = sorted(parent.glob(f".{out_dir.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if old and not out_dir.exists():
        old.pop().rename(out_dir)  # the last report, moved aside by a swap that was killed
    removed = []
    for folder in [*old, *parent.glob(f".{out_dir.name}.building-*")]:
        if folder.is_dir() and now - folder.stat().st_mtime > ORPHAN_AGE:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def build_report(
    snapshot: Path,
    out_dir: Path,
    *,
    city_name: str,
    index_id: str = "wellbeing",
    period: str | None = None,
    quality_url: str | None = None,
    city: str | None = None,
    lang: str = "es",
    citation: str | None = None,
    licence: str | None = None,
    previous: Path | None = None,
    pdf: bool = True,
    downloads: bool = True,
) -> Path:
    """Build the analysts' report from a published snapshot and return the path of its index.html.

    `snapshot` is a DuckDB file holding the `marts` schema of docs/marts.md; it is opened read-only. The page,
    its images, the PDF (when Chromium is installed and `pdf`) and the downloads (`downloads`: they need a
    snapshot with lineage, schema version 2 or later) are written to `out_dir`,
    replacing an earlier report in one rename. `period=None` picks the latest period of `index_id`. `quality_url`
    (Data Docs) is copied into the folder when it is a local file. `city` selects one city of a snapshot that
    holds several. `lang` is "es" or "en". `previous` is the last report's folder, for "since the last report".
    The same snapshot and arguments always give byte-identical pages and images.
    """
    from reports.downloads import list_downloads, write_downloads

    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    snapshot, out_dir = Path(snapshot), Path(out_dir)
    quality_url = _check_url(quality_url)
    snap = read_snapshot(snapshot, index_id, period, city)
    before = None
    if previous is not None and (Path(previous) / SUMMARY).is_file():
        before = json.loads((Path(previous) / SUMMARY).read_text(encoding="utf-8"))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(out_dir)
    # Build next to the target (same file system) so the final rename is atomic.
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        os.chmod(work, 0o755)  # mkdtemp makes 0700; a web server must be able to read the report
        nums, words = Numbers(lang), model.Words(snap, lang)
        map_image, charts = draw_charts(snap, work, _chart_words(snap, words, nums))
        files = []
        if downloads:
            write_downloads(snapshot, work, city=city or only_city(snapshot), period=snap.period,
                            index_id=index_id, title=f"{words['title']} – {city_name} – {snap.period}",
                            licence=licence)
            files = [{"file": d.path, "title": d.title, "bytes": d.bytes} for d in list_downloads(work)]
        docs = _copy_data_docs(quality_url, work)
        chromium = (shutil.which("chromium") or shutil.which("chromium-browser")) if pdf else None
        if pdf and chromium is None:
            log.warning("no Chromium on this machine: the report is built without report.pdf "
                        "(install Debian's chromium, or run make browser)")
        html = _render(snap, city_name=city_name, lang=lang, quality_url=docs, map_image=map_image, charts=charts,
                       downloads=files, previous=before, citation=citation, pdf=PDF if chromium else None)
        (work / "index.html").write_text(html, encoding="utf-8", newline="\n")
        summary = json.dumps(_summary(snap, nums, words), indent=1, sort_keys=True, default=str)
        (work / SUMMARY).write_text(summary + "\n", encoding="utf-8")
        if chromium:
            print_pdf(chromium, work / "index.html", work / PDF)
        _replace_dir(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir / "index.html"


PDF_TIMEOUT = 120  # seconds


def print_pdf(chromium: str, page: Path, out: Path) -> Path:
    """The page printed by headless Chromium with the page's own print styles (A4, sections on new pages, the
    date and page number in the margin), no network."""
    with tempfile.TemporaryDirectory(prefix="bienestar-chromium-") as profile:
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", f"--print-to-pdf={out}", page.as_uri()],
            capture_output=True, text=True, timeout=PDF_TIMEOUT, check=False)
    if result.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {page} to PDF (exit {result.returncode}): "
                           f"{result.stderr.strip()[-500:]}")
    return out
