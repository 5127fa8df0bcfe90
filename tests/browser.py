"""Headless Chromium over the DevTools protocol, for tests that must see a page as a browser renders it.

    with Chromium() as chromium:
        page = chromium.open(report.as_uri(), width=390, mobile=True)
        assert page.scroll_width() <= 390 and page.broken_images() == [] and page.console_errors == []
        pages = pdf_pages_png(page.pdf(tmp_path / "report.pdf"), tmp_path)

Every page has its own DevTools connection, read by a thread that keeps the page's events (requests, failed
loads, JavaScript errors) while the test waits for a command's reply. Chromium is Debian's (`make browser`);
`pdftoppm` is poppler-utils' (also `make browser`).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
A4 = {"paperWidth": 8.27, "paperHeight": 11.69}  # inches, as Page.printToPDF takes them
SETTLED = """Promise.all([document.fonts.ready, ...Array.from(document.images).filter(i => !i.complete)
  .map(i => new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); }))])
  .then(() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true)))))"""


class Chromium:
    """A headless Chromium for the duration of a `with` block, in a throw-away profile removed afterwards."""

    def __init__(self, profile_dir: Path | None = None) -> None:
        self.profile_dir = Path(profile_dir or tempfile.mkdtemp(prefix="chromium-"))
        self.pages: list[Page] = []

    def __enter__(self) -> Chromium:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"Chromium is needed at {CHROMIUM}: run `make browser` (apt-get install chromium)")
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self._log = tempfile.TemporaryFile()
        # Port 0 and the DevToolsActivePort file Chromium writes: no race for a port picked beforehand.
        self._process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile_dir}", "about:blank"], stdout=subprocess.DEVNULL, stderr=self._log)
        try:
            self.port, self._browser_path = self._devtools_endpoint()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for page in self.pages:
            page.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.profile_dir, ignore_errors=True)

    def open(self, url: str, *, width: int = 1366, height: int = 900, mobile: bool = False,
             cookies: dict[str, str] | None = None, seconds: float = 60) -> Page:
        """A new tab of `width` x `height` CSS pixels (a touch phone when `mobile`), `cookies` set for `url`'s
        site, navigated to `url` and settled."""
        page = Page(f"ws://127.0.0.1:{self.port}/devtools/page/{self._new_window()}")
        self.pages.append(page)
        for domain in ("Page", "Network", "Runtime"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=mobile)
        page.send("Emulation.setTouchEmulationEnabled", enabled=mobile, maxTouchPoints=5 if mobile else 1)
        for name, value in (cookies or {}).items():
            page.send("Network.setCookie", name=name, value=value, url=url, path="/")
        page.goto(url, seconds=seconds)
        return page

    def _new_window(self) -> str:
        """A blank tab in a window of its own: a background tab would be throttled (slow timers, no frames)."""
        with connect(f"ws://127.0.0.1:{self.port}{self._browser_path}", open_timeout=30) as browser:
            browser.send(json.dumps({"id": 1, "method": "Target.createTarget",
                                     "params": {"url": "about:blank", "newWindow": True}}))
            while "id" not in (reply := json.loads(browser.recv(timeout=30))):
                pass
        if "error" in reply:
            raise RuntimeError(f"Chromium did not open a window: {reply['error']}")
        return reply["result"]["targetId"]

    def _devtools_endpoint(self, seconds: float = 30) -> tuple[int, str]:
        active = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._process.poll() is None:
            if active.exists() and len(lines := active.read_text().split()) == 2:  # the port, the browser's path
                return int(lines[0]), lines[1]
            time.sleep(0.1)
        self._log.seek(0)
        raise RuntimeError(f"headless Chromium did not open its DevTools port within {seconds:.0f} s (exit code "
                           f"{self._process.poll()}): {self._log.read().decode(errors='replace')[-2000:]}")


class Page:
    """One tab: commands, and what the page did (requests, failed loads, JavaScript errors) as it happened."""

    def __init__(self, websocket_url: str) -> None:
        self.requests: list[str] = []        # every URL requested (Network.requestWillBeSent), data: and file: too
        self.failed: list[str] = []          # URLs whose load failed (Network.loadingFailed): a missing image
        self.console_errors: list[str] = []  # uncaught exceptions and console.error calls
        self._urls: dict[str, str] = {}
        self._events: list[dict] = []
        self._replies: dict[int, dict] = {}
        self._closed = False  # the connection dropped: nothing more will arrive
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._connection = contextlib.ExitStack()
        self._ws = self._connection.enter_context(connect(websocket_url, max_size=None, open_timeout=30))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def send(self, method: str, seconds: float = 60, **params) -> dict:
        """A DevTools command's result; RuntimeError if Chromium refuses it or does not answer in time."""
        number = next(self._ids)
        self._ws.send(json.dumps({"id": number, "method": method, "params": params}))
        with self._changed:
            if not self._changed.wait_for(lambda: number in self._replies or self._closed, timeout=seconds):
                raise RuntimeError(f"Chromium did not answer {method} within {seconds:.0f} s")
            if number not in self._replies:
                raise RuntimeError(f"the DevTools connection closed while awaiting the answer to {method}")
            reply = self._replies.pop(number)
        if "error" in reply:
            raise RuntimeError(f"{method} {params}: {reply['error'].get('message')} {reply['error'].get('data', '')}")
        return reply.get("result", {})

    def goto(self, url: str, seconds: float = 60) -> None:
        """Navigate, wait for the load event, then for web fonts and every image to finish."""
        with self._changed:
            seen = len(self._events)
        navigated = self.send("Page.navigate", url=url)
        if navigated.get("errorText"):
            raise RuntimeError(f"{url}: {navigated['errorText']}")

        def loaded() -> bool:
            return any(e["method"] == "Page.loadEventFired" for e in self._events[seen:])

        with self._changed:
            if not self._changed.wait_for(lambda: loaded() or self._closed, timeout=seconds):
                raise RuntimeError(f"{url}: no load event within {seconds:.0f} s")
            if not loaded():
                raise RuntimeError(f"{url}: the DevTools connection closed while awaiting the load event")
        self.evaluate(SETTLED, seconds=seconds)

    def evaluate(self, expression: str, seconds: float = 60):
        """The JSON value of a JavaScript expression (a promise is awaited); RuntimeError with the JS exception."""
        result = self.send("Runtime.evaluate", seconds, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:200]}: {_exception_text(result['exceptionDetails'])}")
        return result["result"].get("value")

    def wait_for_text(self, wanted: list[str], seconds: float = 60) -> str:
        """The page's visible text once it shows every one of `wanted`; AssertionError after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if all(w in text for w in wanted):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.evaluate('location.href')}: {wanted} not on the page after "
                                     f"{seconds:.0f} s; it shows: {text[:600]}")
            time.sleep(0.5)

    def remote_requests(self) -> list[str]:
        """The requests that left the machine's files: anything but file:, data:, about: and blob: URLs."""
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    def scroll_width(self) -> int:
        """The document's width in CSS pixels: more than the viewport's means the page scrolls sideways."""
        return self.evaluate("document.documentElement.scrollWidth")

    def broken_images(self) -> list[str]:
        """The <img> elements that finished loading without a picture (missing or undecodable)."""
        return self.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0)"
                             ".map(i => i.getAttribute('src') || i.outerHTML.slice(0, 200))")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        """A PNG of the viewport, or of the whole document."""
        params = {}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params = {"captureBeyondViewport": True,
                      "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png", **params)["data"]))
        return path

    def pdf(self, path: Path, **print_options) -> Path:
        """The page printed (print media CSS) to PDF: A4 with backgrounds unless `print_options` say otherwise."""
        options = {**A4, "printBackground": True, **print_options}
        path.write_bytes(base64.b64decode(self.send("Page.printToPDF", 120, **options)["data"]))
        return path

    def click(self, selector: str) -> None:
        """A left mouse click at the centre of the first element matching `selector`."""
        x, y = self._centre(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def tap(self, selector: str) -> None:
        """A finger tap at the centre of the first element matching `selector` (open the page with mobile=True)."""
        x, y = self._centre(selector)
        self.send("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": x, "y": y}])
        self.send("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])

    def type(self, selector: str, text: str) -> None:
        """Focus the first element matching `selector` and type `text` into it, as a keyboard would."""
        if not self.evaluate(f"(e => e ? (e.focus(), true) : false)(document.querySelector({json.dumps(selector)}))"):
            raise AssertionError(f"no element matches {selector!r}")
        self.send("Input.insertText", text=text)

    def close(self) -> None:
        """Close the tab and its DevTools connection."""
        with contextlib.suppress(RuntimeError, ConnectionClosed):
            self.send("Page.close", seconds=5)
        self._connection.close()
        self._reader.join(timeout=10)

    def _centre(self, selector: str) -> tuple[float, float]:
        centre = self.evaluate(f"""(e => {{ if (!e) return null; e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];
            }})(document.querySelector({json.dumps(selector)}))""")
        if centre is None:
            raise AssertionError(f"no element matches {selector!r}")
        return centre[0], centre[1]

    def _read(self) -> None:
        try:
            for raw in self._ws:
                message = json.loads(raw)
                with self._changed:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                        self._note(message["method"], message.get("params", {}))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _note(self, method: str, params: dict) -> None:
        if method == "Network.requestWillBeSent":
            self._urls[params["requestId"]] = params["request"]["url"]
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            self.failed.append(self._urls.get(params["requestId"], params["requestId"]))
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(_exception_text(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))


def _exception_text(details: dict) -> str:
    return details.get("exception", {}).get("description", details["text"])


def pdf_pages_png(pdf: Path, out_dir: Path, dpi: int = 50) -> list[Path]:
    """Every page of `pdf` as a PNG (pdftoppm, from poppler-utils: `make browser`), in page order."""
    if not shutil.which("pdftoppm"):
        raise RuntimeError("pdftoppm is needed: run `make browser` (apt-get install poppler-utils)")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(out_dir / pdf.stem)], check=True,
                   capture_output=True, timeout=120)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))  # pdftoppm zero-pads the numbers, so names sort in order


def is_blank(png: Path, colours: int = 20) -> bool:
    """True when an image has fewer than `colours` distinct colours: nothing but a background drawn."""
    import matplotlib.image
    import numpy as np

    pixels = np.round(matplotlib.image.imread(png) * 255).astype(np.uint32)  # PNGs read as floats in [0, 1]
    if pixels.ndim == 3:  # one integer per pixel: np.unique over rows of channels is far slower
        pixels = sum(pixels[..., channel] << (8 * channel) for channel in range(pixels.shape[-1]))
    return len(np.unique(pixels)) < colours
