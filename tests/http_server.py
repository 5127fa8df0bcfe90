"""A real HTTP server on 127.0.0.1 for the connector tests: scripted replies in, recorded requests out.

    with ScriptedServer() as server:
        server.route("/api/3/action/package_show", fixture("ckan/package_show.json"))
        server.route("/slow", Reply(delay=1.0))                        # sleeps past a short client timeout
        server.route("/flaky", Reply(503, headers={"Retry-After": "1"}), json_reply({"ok": True}))
        ...  server.base_url, server.requests

Replies for a route are served in order; the last one repeats. A route may also require query parameters
(`query={"offset": "2"}`), so paging tests script one reply per page. Recorded fixtures were captured from a
server at RECORDED_ORIGIN; links in them are rewritten to this server's origin as they are served, so
`@iot.nextLink` and download URLs lead back here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED_ORIGIN = "http://localhost:8080"


@dataclass
class Reply:
    """One scripted answer: status, headers, body, and an optional delay before answering."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json; charset=utf-8"
    drip: float = 0.0  # > 0: the body is sent 16 bytes at a time, this many seconds apart


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer."""
    return Reply(status, json.dumps(payload), headers or {})


def fixture(relative: str, status: int = 200, headers: dict[str, str] | None = None,
            content_type: str = "application/json; charset=utf-8") -> Reply:
    """A recorded answer from tests/fixtures/."""
    return Reply(status, (FIXTURES / relative).read_bytes(), headers or {}, content_type=content_type)


@dataclass
class Seen:
    """A request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived
    method: str = "GET"
    body: bytes = b""


@dataclass
class _Route:
    path: str
    query: dict[str, str]
    replies: list[Reply]


class ScriptedServer:
    """A ThreadingHTTPServer on an ephemeral 127.0.0.1 port answering from scripted routes."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits up to one interval, and every test shuts a server down.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, path: str, *replies: Reply, query: dict[str, str] | None = None) -> ScriptedServer:
        """Answer GET (or POST) `path` (with at least the `query` parameters given) with `replies`, in order."""
        self.routes.append(_Route(path, query or {}, list(replies)))
        return self

    def seen(self, path: str) -> list[Seen]:
        """The requests received for `path`."""
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, path: str, query: dict[str, str]) -> Reply:
        """The next scripted reply for a request, or a 404 naming what was not scripted."""
        with self._lock:
            for route in self.routes:
                if route.path == path and all(query.get(k) == v for k, v in route.query.items()):
                    return route.replies.pop(0) if len(route.replies) > 1 else route.replies[0]
        return json_reply({"message": f"no scripted reply for {path} {query}"}, status=404)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (a webhook: the body is recorded, the reply scripted)
                self.do_GET(method="POST", body=self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def do_GET(self, method: str = "GET", body: bytes = b"") -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                with scripted._lock:
                    scripted.requests.append(Seen(parts.path, query, dict(self.headers), time.monotonic(), method,
                                                  body))
                reply = scripted._next_reply(parts.path, query)
                time.sleep(reply.delay)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                body = body.replace(RECORDED_ORIGIN.encode(), scripted.base_url.encode())
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    headers = {"Content-Length": str(len(body)), **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if reply.drip:
                        for start in range(0, len(body), 16):
                            self.wfile.write(body[start:start + 16])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping past a client timeout must not hold up the test
