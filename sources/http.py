"""A small HTTP client for the connectors: GET JSON, bytes or a file, with a timeout, retries and clear errors.

The standard library is enough for GET requests, so the connectors add no dependency. What the client does:

- every request has a timeout (seconds, per connect and per read) and sends a `User-Agent` naming bienestar;
- connection errors, timeouts, truncated bodies and HTTP 5xx, 408 and 429 are retried, up to `attempts` tries in
  all, waiting `backoff`, then twice that, then four times, ... (capped at `max_wait`);
- a `Retry-After` header (seconds or an HTTP date) replaces the computed wait; a server asking for more than
  `max_wait` fails the call at once, because a task retry later is a better place to wait than a blocked worker;
- any other 4xx fails at once: asking again would get the same answer;
- a body larger than `max_bytes` fails the call (nothing larger is held in memory or written), and a whole call,
  retries and a slowly dripping body included, ends after `deadline` seconds;
- redirects are followed to http and https URLs only (every hop is checked, not just the first URL);
- credentials (`auth_headers`) are sent only to `auth_origin`, never to another host, even after a redirect;
- loopback URLs never go through a proxy, whatever the environment says.

Every failure is a `FetchError` whose message names the URL, what happened and what to do.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Characters OData ($filter, $expand) and CKAN parameters use that need no escaping in a query string; keeping
# them readable makes logged URLs easy to paste into a browser.
QUERY_SAFE = "$(),:'/@"
RETRIED_STATUSES = frozenset({408, 429})
CHUNK = 1 << 16
ERROR_BODY_LIMIT = 4096
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _version() -> str:
    """The installed bienestar version, for the User-Agent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bienestar")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"bienestar/{_version()} (neighbourhood well-being pipeline; python-urllib)"


class FetchError(RuntimeError):
    """A request that failed for good; the message names the URL, what happened and what to do."""

    def __init__(self, url: str, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status
        self.retryable = retryable  # a network problem, a timeout or a 5xx/408/429 that outlasted the attempts


class _Retryable(Exception):
    """One attempt failed in a way that may pass: a network problem, a timeout or a 5xx/408/429."""

    def __init__(self, what: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.retry_after = retry_after


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased: what credentials and links are scoped to."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def with_params(url: str, params: Mapping[str, Any] | None) -> str:
    """The URL with `params` appended to its query string (None values left out)."""
    if not params:
        return url
    pairs = [(key, str(value)) for key, value in params.items() if value is not None]
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote, safe=QUERY_SAFE)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _ScopedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but drop the credentials when the redirect leaves the origin they were meant for."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's signature)
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(req.full_url, f"redirected to {newurl!r}: only http and https redirects are followed "
                             "(a server sending us elsewhere is misconfigured or hostile); check the base URL")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(newurl) != origin(req.full_url):
            for name in list(new.headers):
                if name.lower() in ("authorization", "cookie") or name.lower().startswith("x-ckan-api-key"):
                    del new.headers[name]
        return new


_OPENER = urllib.request.build_opener(_ScopedRedirects())
# An empty ProxyHandler means "no proxy": requests to this machine must never leave it.
_DIRECT_OPENER = urllib.request.build_opener(_ScopedRedirects(), urllib.request.ProxyHandler({}))


def _opener_for(url: str) -> urllib.request.OpenerDirector:
    """The direct opener for loopback hosts, the environment's proxies for anything else."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return _DIRECT_OPENER if host in LOOPBACK_HOSTS else _OPENER


def _error_detail(body: bytes) -> str:
    """What an error body says, in one line: CKAN's and SensorThings' JSON error messages, or the text itself."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):  # CKAN: {"success": false, "error": {"__type": ..., "message": ...}}
            kind = error.get("__type", "")
            message = error.get("message") or json.dumps(
                {k: v for k, v in error.items() if k != "__type"}, ensure_ascii=False
            )
            return f"{kind}: {message}" if kind else str(message)
        if "message" in payload:  # SensorThings servers: {"code": 404, "type": "error", "message": ...}
            return str(payload["message"])
    return " ".join(text.split())[:300]


def _advice(status: int) -> str:
    """What to do about a status code that is not retried."""
    if status in (401, 403):
        return "Check the credentials of the connection (login/password or token) and that they may read this."
    if status == 404:
        return "Check the base URL of the connection and the id or name asked for; it does not exist there."
    if status in (400, 409, 422):
        return "The server rejected the request's parameters; check them against the API's documentation."
    return "The server refused the request; asking again would not help."


@dataclass(frozen=True)
class HttpClient:
    """GET requests with a timeout, retries with exponential backoff, Retry-After and scoped credentials."""

    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 120.0
    user_agent: str = USER_AGENT
    auth_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    auth_origin: str | None = None
    label: str = ""  # e.g. "connection 'la_paz_demo_ckan'": named in errors so people know what to fix
    max_bytes: int = 512 * 1024 * 1024  # the largest body accepted (a month of a city's services is a few MB)
    deadline: float = 900.0  # seconds for a whole call, retries and slow bodies included

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout <= 0 or self.backoff < 0 or self.max_wait < 0 or self.max_bytes < 1 \
                or self.deadline <= 0:
            raise ValueError(f"HttpClient needs attempts >= 1, timeout > 0, backoff and max_wait >= 0, max_bytes "
                             f">= 1 and deadline > 0; got {self}")

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `url` (plus `params`) and parse the body as JSON; a body that is not JSON is a clear error."""
        full = with_params(url, params)
        body, content_type = self._fetch(full, "application/json", self._read_all)
        try:
            return json.loads(body.removeprefix(b"\xef\xbb\xbf"))  # some servers start JSON with a UTF-8 BOM
        except RecursionError:
            raise FetchError(full, "the JSON body is nested too deeply to read (thousands of levels): not an API "
                             f"answer; check the base URL of {self.label or 'the connection'}") from None
        except ValueError as exc:
            snippet = body[:120].decode("utf-8", errors="replace")
            raise FetchError(
                full,
                f"expected a JSON body, got one that does not parse ({exc}). Content-Type was "
                f"{content_type or 'missing'!r} and the body starts with {snippet!r}. Check that the base URL "
                f"of {self.label or 'the connection'} points at the API itself, not at a web page or a proxy.",
            ) from None

    def get_bytes(self, url: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET `url` (plus `params`) and return the body."""
        return self._fetch(with_params(url, params), "*/*", self._read_all)[0]

    def download(self, url: str, path: Path, params: Mapping[str, Any] | None = None) -> Path:
        """GET `url` into `path`, streamed through a `.part` file that replaces `path` only when complete."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")

        def into_file(response: HTTPResponse, ends: float) -> bytes:
            with partial.open("wb") as fh:
                self._copy_checked(response, fh.write, ends)
            return b""

        try:
            self._fetch(with_params(url, params), "*/*", into_file)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    # -- one request, retried ------------------------------------------------------------------------------

    def _fetch(self, url: str, accept: str, consume: Callable[[HTTPResponse, float], bytes]) -> tuple[bytes, str]:
        """Run one GET with retries; return what `consume` made of the response, and its Content-Type."""
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"only http and https URLs can be fetched, not {scheme or 'a relative URL'!r}. "
                             "Give the connection a full base URL such as https://datos.example.org.")
        ends = time.monotonic() + self.deadline
        for attempt in range(1, self.attempts + 1):
            try:
                return self._attempt(url, accept, consume, ends)
            except _Retryable as problem:
                wait = self._wait_before_retry(url, problem, attempt)
                if time.monotonic() + wait >= ends:
                    raise FetchError(url, f"{problem.what}; no time left for another attempt within the "
                                     f"{self.deadline:g} s deadline of a call. Rerun later.",
                                     status=problem.status, retryable=True) from None
                log.warning("GET %s: %s; retry %d of %d in %.1f s", url, problem.what, attempt,
                            self.attempts - 1, wait)
                time.sleep(wait)
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _wait_before_retry(self, url: str, problem: _Retryable, attempt: int) -> float:
        """Seconds to wait before the next attempt, or a FetchError when no attempt is left or allowed."""
        if attempt >= self.attempts:
            raise FetchError(
                url,
                f"{problem.what}, {self.attempts} attempt(s) in all. The server or the network is failing; "
                f"check that {self.label or 'the source'} is up and reachable, then rerun (Airflow retries "
                "the task on its own).",
                status=problem.status, retryable=True,
            )
        if problem.retry_after is not None:
            if problem.retry_after > self.max_wait:
                raise FetchError(
                    url,
                    f"{problem.what}; the server asks to retry after {problem.retry_after:.0f} s (Retry-After), "
                    f"longer than this client waits (max_wait={self.max_wait:.0f} s). Rerun later.",
                    status=problem.status, retryable=True,
                )
            return problem.retry_after
        return min(self.backoff * 2 ** (attempt - 1), self.max_wait)

    def _headers_for(self, url: str, accept: str) -> dict[str, str]:
        """Request headers: credentials only for the origin they belong to."""
        headers = {"User-Agent": self.user_agent, "Accept": accept}
        if self.auth_headers and self.auth_origin and origin(url) == origin(self.auth_origin):
            headers.update(self.auth_headers)
        return headers

    def _attempt(self, url: str, accept: str, consume: Callable[[HTTPResponse, float], bytes],
                 ends: float) -> tuple[bytes, str]:
        """One GET; sorts failures into retryable (`_Retryable`) and final (`FetchError`)."""
        request = urllib.request.Request(url, headers=self._headers_for(url, accept), method="GET")
        try:
            with _opener_for(url).open(request, timeout=self.timeout) as response:
                self._check_size(url, response.headers.get("Content-Length"))
                return consume(response, ends), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raise self._status_failure(url, err) from None
        except TimeoutError:
            raise _Retryable(f"no answer within the {self.timeout:g} s timeout") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, ssl.SSLCertVerificationError):
                raise FetchError(url, f"the server's TLS certificate cannot be verified ({err.reason.verify_message}); "
                                 "fix the certificate or the base URL, retrying would not help") from None
            if isinstance(err.reason, TimeoutError):
                raise _Retryable(f"could not connect within the {self.timeout:g} s timeout") from None
            raise _Retryable(f"could not connect ({err.reason})") from None
        except (ConnectionError, HTTPException) as err:
            raise _Retryable(f"the connection broke ({type(err).__name__}: {err})") from None

    def _status_failure(self, url: str, err: urllib.error.HTTPError) -> Exception:
        """A retryable problem for 5xx/408/429, a final FetchError for any other status."""
        try:
            body = err.read(ERROR_BODY_LIMIT)
        except (OSError, HTTPException):
            body = b""
        finally:
            err.close()
        detail = _error_detail(body)
        what = f"HTTP {err.code} {err.reason}" + (f" ({detail})" if detail else "")
        if err.code >= 500 or err.code in RETRIED_STATUSES:
            return _Retryable(what, status=err.code, retry_after=retry_after_seconds(err.headers.get("Retry-After")))
        return FetchError(url, f"{what}. {_advice(err.code)}", status=err.code)


    def _check_size(self, url: str, length: str | int | None) -> None:
        if length is not None and str(length).isdigit() and int(length) > self.max_bytes:
            raise FetchError(url, f"the body is {int(length):,} bytes, more than the {self.max_bytes:,} this client "
                             f"accepts (max_bytes): check the URL, or raise max_bytes for {self.label or 'it'}")

    def _read_all(self, response: HTTPResponse, ends: float) -> bytes:
        """The whole body, checked against Content-Length, `max_bytes` and the deadline."""
        chunks: list[bytes] = []
        self._copy_checked(response, chunks.append, ends)
        return b"".join(chunks)

    def _copy_checked(self, response: HTTPResponse, write: Callable[[bytes], object], ends: float) -> None:
        """Copy the body in chunks: a body shorter than its Content-Length is a broken transfer, worth a retry; one
        past `max_bytes` or still arriving at the deadline fails the call."""
        expected = response.headers.get("Content-Length")
        url = response.geturl()
        received = 0
        while chunk := response.read1(CHUNK):  # what has arrived: a dripping body cannot hide from the deadline
            received += len(chunk)
            self._check_size(url, received)
            if time.monotonic() > ends:
                raise FetchError(url, f"the body was still arriving after the {self.deadline:g} s deadline "
                                 f"({received:,} bytes so far): the server is too slow or stuck; rerun later",
                                 retryable=True)
            write(chunk)
        if expected is not None and expected.isdigit() and received < int(expected):
            raise _Retryable(f"the body was cut short ({received} of {expected} bytes)")
