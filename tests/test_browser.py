"""The headless Chromium driver (tests/browser.py) on small pages written here: overflow, broken images, network
requests, JavaScript errors, printing to PDF, clicks, taps and typing, each seen by a real Chromium."""

from pathlib import Path

import pytest
from browser import Chromium, is_blank, pdf_pages_png
from http_server import Reply, ScriptedServer

PHONE = {"width": 390, "height": 844, "mobile": True}
HEAD = '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    with Chromium(tmp_path_factory.mktemp("profile")) as browser:
        yield browser


def write(path: Path, body: str) -> str:
    path.write_text(HEAD + body, encoding="utf-8")
    return path.as_uri()


def test_a_wide_page_scrolls_sideways_on_a_phone_and_a_responsive_one_does_not(chromium, tmp_path):
    wide = chromium.open(write(tmp_path / "wide.html", '<table><tr><td style="min-width:1200px">a</td></tr></table>'),
                         **PHONE)
    responsive = chromium.open(write(tmp_path / "fits.html", '<div style="max-width:100%">a <b>b</b></div>'), **PHONE)

    assert wide.scroll_width() >= 1200
    assert responsive.scroll_width() <= 390


def test_a_missing_image_is_broken_and_its_load_failed(chromium, tmp_path):
    dot = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    page = chromium.open(write(tmp_path / "img.html", f'<img src="missing.png"><img src="{dot}">'))

    assert page.broken_images() == ["missing.png"]
    assert page.failed == [(tmp_path / "missing.png").as_uri()]


def test_requests_beyond_local_files_are_recorded(chromium, tmp_path):
    with ScriptedServer() as server:
        server.route("/x", Reply(body="{}", headers={"Access-Control-Allow-Origin": "*"}))
        url = f"{server.base_url}/x"
        fetching = chromium.open(write(tmp_path / "fetch.html", f"""<script>
            fetch("{url}").finally(() => document.body.dataset.done = "yes")</script>"""))
        fetching.evaluate("""new Promise(done => { const check = () => document.body.dataset.done
            ? done(true) : setTimeout(check, 50); check(); })""", seconds=10)
        inline = chromium.open(write(tmp_path / "inline.html",
                                     '<img src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 '
                                     'width=%2210%22 height=%2210%22/%3E">'))

    assert fetching.remote_requests() == [url] and [s.path for s in server.requests] == ["/x"]
    assert inline.remote_requests() == [] and any(r.startswith("data:") for r in inline.requests)


def test_cookies_go_with_every_page_of_the_site(chromium):
    """As the scheduler test logs into the Airflow UI: the cookie set on opening reaches a deeper page too."""
    with ScriptedServer() as server:
        server.route("/dags", Reply(body="<p>DAG list</p>", content_type="text/html"))
        server.route("/dags/a/runs/b", Reply(body="<p>grid</p>", content_type="text/html"))
        page = chromium.open(f"{server.base_url}/dags", cookies={"_token": "t0k3n"})
        page.wait_for_text(["DAG list"], seconds=5)
        page.goto(f"{server.base_url}/dags/a/runs/b")

        assert page.wait_for_text(["grid"], seconds=5) == "grid"
        assert [(s.path, s.headers.get("Cookie")) for s in server.requests if s.path.startswith("/dags")] == [
            ("/dags", "_token=t0k3n"), ("/dags/a/runs/b", "_token=t0k3n")]


def test_javascript_errors_are_collected(chromium, tmp_path):
    page = chromium.open(write(tmp_path / "error.html", "<p>text</p><script>console.error('drawn twice');"
                                                          "undefinedFunction()</script>"))
    clean = chromium.open(write(tmp_path / "clean.html", "<p>text</p>"))

    assert page.console_errors[0] == "drawn twice"
    assert "undefinedFunction is not defined" in page.console_errors[1]
    assert clean.console_errors == []
    with pytest.raises(RuntimeError, match="nope is not defined"):
        clean.evaluate("nope()")


def test_a_two_page_document_prints_two_pages_with_ink_and_an_empty_one_prints_blank(chromium, tmp_path):
    two = chromium.open(write(tmp_path / "two.html", """<style>section { break-after: page; }</style>
        <section><h1>Page one</h1><p>Poverty in the city, by area.</p></section>
        <section><h1>Page two</h1><p>Services within reach.</p></section>"""))
    empty = chromium.open(write(tmp_path / "empty.html", ""))

    pages = pdf_pages_png(two.pdf(tmp_path / "two.pdf"), tmp_path / "png")
    blank = pdf_pages_png(empty.pdf(tmp_path / "empty.pdf"), tmp_path / "png")

    assert [p.name for p in pages] == ["two-1.png", "two-2.png"]
    assert [is_blank(p) for p in pages] == [False, False]
    assert [is_blank(p) for p in blank] == [True]
    assert is_blank(empty.screenshot(tmp_path / "empty.png")) and not is_blank(two.screenshot(tmp_path / "two.png"))


def test_click_tap_and_type_reach_the_page(chromium, tmp_path):
    body = """<button id="b" onclick="this.textContent = 'clicked'">press</button><input id="q">
        <div style="height:3000px"></div><button id="far" onclick="this.textContent = 'reached'">far</button>"""
    desktop = chromium.open(write(tmp_path / "desktop.html", body))
    phone = chromium.open(write(tmp_path / "phone.html", body), **PHONE)

    desktop.click("#b")
    desktop.click("#far")  # below the fold: scrolled into view first
    desktop.type("#q", "Sopocachi")
    phone.tap("#b")

    assert desktop.evaluate("[b.textContent, far.textContent, q.value]") == ["clicked", "reached", "Sopocachi"]
    assert phone.evaluate("b.textContent") == "clicked"
    assert desktop.wait_for_text(["clicked", "reached"], seconds=5)
    with pytest.raises(AssertionError, match="no element matches '#none'"):
        desktop.click("#none")
    with pytest.raises(AssertionError, match=r"\['absent'\] not on the page after 1 s"):
        desktop.wait_for_text(["absent"], seconds=1)
