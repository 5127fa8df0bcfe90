"""Where a source's base URL and credentials come from: an Airflow Connection, or the environment; never the code.

Inside an Airflow task the connection is read with the Task SDK (`airflow.sdk.BaseHook.get_connection`), so it can
live in the metadata DB, in a secrets backend or in an `AIRFLOW_CONN_<ID>` variable, as Airflow allows; when
Airflow has none, `BIENESTAR_CONN_<ID>_URL` below is tried too. Outside Airflow (the CLI, tests, a notebook) the
environment is read, without importing Airflow (which takes seconds):

    BIENESTAR_CONN_<ID>_URL     the base URL, e.g. https://datos.lapaz.bo or https://sensores.example.org/v1.1;
                                user:password@ in it become HTTP Basic credentials
    BIENESTAR_CONN_<ID>_TOKEN   optional API token, sent as the `Authorization` header (CKAN's convention)
    AIRFLOW_CONN_<ID>           otherwise: an Airflow connection as a URI or as JSON, read as Airflow would

`<ID>` is the conn_id in upper case, every character other than a letter or digit replaced by `_`
(`la_paz_demo_ckan` -> `BIENESTAR_CONN_LA_PAZ_DEMO_CKAN_URL`).

How an Airflow connection gives a base URL (the first that applies):
1. `extra.base_url`, taken as is;
2. a `host` holding a scheme (`https://datos.lapaz.bo`), plus `port`, plus `schema` as a path;
3. `conn_type` http/https (or `schema` http/https, the HTTP provider's habit) as the scheme, then host, port,
   and `schema` as a path when it is not a scheme.
Credentials: login + password as HTTP Basic; `extra.token` as the `Authorization` header (prefixed by
`extra.token_type`, e.g. `Bearer`, when given); `extra.headers` added as they are. `extra.timeout`,
`extra.attempts`, `extra.backoff` and `extra.max_wait` tune the HTTP client.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sources.http import HttpClient

CLIENT_OPTIONS = {"timeout": float, "attempts": int, "backoff": float, "max_wait": float}


class ConnectionNotConfigured(LookupError):
    """No connection with this id is configured where we looked; the message says how to configure one."""


@dataclass(frozen=True)
class Endpoint:
    """A source's base URL and credentials, resolved from a connection."""

    conn_id: str
    base_url: str
    auth_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def client(self) -> HttpClient:
        """An HTTP client that sends this endpoint's credentials to its origin only."""
        return HttpClient(
            auth_headers=dict(self.auth_headers), auth_origin=self.base_url,
            label=f"connection {self.conn_id!r}", **self.client_options,
        )


def env_name(conn_id: str) -> str:
    """`la_paz_demo_ckan` -> `LA_PAZ_DEMO_CKAN`, the form environment variable names use."""
    return re.sub(r"[^A-Z0-9]", "_", conn_id.upper())


def inside_airflow_task() -> bool:
    """True while an Airflow task runs in this process (the Task SDK's supervisor channel is open).

    The module is looked up in sys.modules rather than imported: outside Airflow, importing it would cost seconds.
    """
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def endpoint(conn_id: str) -> Endpoint:
    """The base URL and credentials of `conn_id`: from Airflow inside a task, from the environment elsewhere."""
    if inside_airflow_task():
        return _from_airflow(conn_id)
    return _from_environment(conn_id, os.environ)


def _from_airflow(conn_id: str) -> Endpoint:
    """Read the connection through the Task SDK (metadata DB, secrets backend or AIRFLOW_CONN_ variable)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        # The CLI's variables work in a task too, so one setting serves `make demo` and hand runs alike.
        if os.environ.get(f"BIENESTAR_CONN_{env_name(conn_id)}_URL", "").strip():
            return _from_environment(conn_id, os.environ)
        raise ConnectionNotConfigured(
            f"Airflow has no connection {conn_id!r}. Add it (`airflow connections add {conn_id} --conn-uri "
            f"https://host/path`, or AIRFLOW_CONN_{env_name(conn_id)}=...), set BIENESTAR_CONN_{env_name(conn_id)}"
            "_URL, or fix the conn_id in the city config."
        ) from None
    return endpoint_from_airflow_connection(conn)


def endpoint_from_airflow_connection(conn: Any) -> Endpoint:
    """An Endpoint from an `airflow.sdk.Connection` (or any object with its fields)."""
    return endpoint_from_fields(
        conn.conn_id, conn_type=conn.conn_type, host=conn.host, port=conn.port, schema=conn.schema,
        login=conn.login, password=conn.password, extra=conn.extra_dejson,
    )


def _from_environment(conn_id: str, environ: Mapping[str, str]) -> Endpoint:
    """BIENESTAR_CONN_<ID>_URL (+ _TOKEN), else AIRFLOW_CONN_<ID> as a URI or JSON."""
    name = env_name(conn_id)
    url = environ.get(f"BIENESTAR_CONN_{name}_URL", "").strip()
    if url:
        return _from_url(conn_id, url, environ.get(f"BIENESTAR_CONN_{name}_TOKEN", "").strip())
    airflow_value = environ.get(f"AIRFLOW_CONN_{name}", "").strip()
    if airflow_value:
        return _from_airflow_value(conn_id, airflow_value)
    raise ConnectionNotConfigured(
        f"no connection {conn_id!r} is configured: set BIENESTAR_CONN_{name}_URL (and BIENESTAR_CONN_{name}_TOKEN "
        f"if the source needs a token) or AIRFLOW_CONN_{name} (an Airflow connection URI or JSON)."
    )


def _from_url(conn_id: str, url: str, token: str) -> Endpoint:
    """A plain base URL; user:password@ in it become Basic credentials and are taken out of the URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionNotConfigured(
            f"BIENESTAR_CONN_{env_name(conn_id)}_URL must be a full http(s) URL such as https://datos.example.org, "
            f"got {_without_password(url)!r}"
        )
    headers: dict[str, str] = {}
    if parts.username:
        headers.update(_basic(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")))
    if token:
        headers["Authorization"] = token
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))
    return Endpoint(conn_id, base, headers)


def _from_airflow_value(conn_id: str, value: str) -> Endpoint:
    """An AIRFLOW_CONN_ value: JSON when it starts with `{`, a connection URI otherwise (as Airflow decides)."""
    if value.startswith("{"):
        try:
            fields = json.loads(value)
        except ValueError as exc:
            raise ConnectionNotConfigured(f"AIRFLOW_CONN_{env_name(conn_id)} is not valid JSON: {exc}") from None
        extra = fields.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        return endpoint_from_fields(
            conn_id, conn_type=fields.get("conn_type"), host=fields.get("host"), port=fields.get("port"),
            schema=fields.get("schema"), login=fields.get("login"), password=fields.get("password"), extra=extra,
        )
    return endpoint_from_fields(conn_id, **_parse_airflow_uri(value))


def _parse_airflow_uri(uri: str) -> dict[str, Any]:
    """Split an Airflow connection URI (`type://login:password@host:port/schema?extra`) the way Airflow does.

    As in Airflow, `type://protocol://host...` keeps the protocol with the host (`http://https://host` gives
    the host `https://host`), and `?__extra__=<json>` or plain query parameters become the extra.
    """
    conn_type, _, rest = uri.partition("://")
    protocol = ""
    if "://" in rest:
        protocol, _, rest = rest.partition("://")
    parts = urllib.parse.urlsplit("//" + rest)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    extra = json.loads(query["__extra__"]) if "__extra__" in query else query
    host = urllib.parse.unquote(parts.hostname or "")
    return {
        "conn_type": conn_type.replace("-", "_"),
        "host": f"{protocol}://{host}" if protocol and host else host,
        "port": parts.port,
        "schema": urllib.parse.unquote(parts.path[1:]) if parts.path else "",
        "login": urllib.parse.unquote(parts.username) if parts.username else None,
        "password": urllib.parse.unquote(parts.password) if parts.password else None,
        "extra": extra,
    }


def endpoint_from_fields(
    conn_id: str, *, conn_type: str | None, host: str | None, port: int | None, schema: str | None,
    login: str | None, password: str | None, extra: Mapping[str, Any] | None,
) -> Endpoint:
    """An Endpoint from an Airflow connection's fields (see the module docstring for the rules)."""
    extra = dict(extra or {})
    base_url = str(extra.get("base_url") or _base_url(conn_id, conn_type, host, port, schema)).rstrip("/")
    headers: dict[str, str] = {}
    if login:
        headers.update(_basic(login, password or ""))
    if extra.get("token"):
        token_type = str(extra.get("token_type") or "").strip()
        headers["Authorization"] = f"{token_type} {extra['token']}".strip()
    headers.update({str(k): str(v) for k, v in (extra.get("headers") or {}).items()})
    options = {key: cast(extra[key]) for key, cast in CLIENT_OPTIONS.items() if extra.get(key) not in (None, "")}
    return Endpoint(conn_id, base_url, headers, options)


def _base_url(conn_id: str, conn_type: str | None, host: str | None, port: int | None, schema: str | None) -> str:
    """Scheme, host, port and path from the connection's fields."""
    if not host:
        raise ConnectionNotConfigured(
            f"connection {conn_id!r} has no host: give it a host (e.g. datos.lapaz.bo) or extra.base_url"
        )
    schema = (schema or "").strip("/")
    path = "" if schema in ("http", "https") else schema
    if "://" in host:
        base = host.rstrip("/")
        if port and not re.search(r":\d+$", urllib.parse.urlsplit(base).netloc):
            parts = urllib.parse.urlsplit(base)
            base = urllib.parse.urlunsplit((parts.scheme, f"{parts.netloc}:{port}", parts.path, "", ""))
    else:
        scheme = schema if schema in ("http", "https") else (conn_type if conn_type in ("http", "https") else "https")
        base = f"{scheme}://{host}" + (f":{port}" if port else "")
    return f"{base}/{path}" if path else base


def _basic(login: str, password: str) -> dict[str, str]:
    """HTTP Basic credentials as a header."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def _without_password(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
