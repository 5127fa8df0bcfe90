"""Service records from a CKAN open-data portal (Action API v3), landed as `services/<family>_<YYYY-MM>.csv`.

What is used of CKAN: `package_show` (a dataset and its resources), `resource_show`, downloading a resource's file,
and `datastore_search` (the rows of a resource loaded in CKAN's DataStore), read page by page with `limit` and
`offset`, sorted by `_id`, until `total` rows have been read. Every answer is the Action API's envelope,
`{"help": ..., "success": true, "result": ...}`; errors come as `{"success": false, "error": {"__type", "message"}}`
with a 4xx status, which the HTTP client turns into an error naming the URL and CKAN's message.

How a city's portal is laid out is configuration (city.yaml `services.portal`): one dataset (package) per
service family, named by `package` (default `{family}`), holding one resource per month named by `resource`
(default `{family}_{month}`). The landed file holds the city's required columns in order, rows sorted, so the same
portal content always lands as the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sources import NotDeliveredYet
from sources.http import FetchError, HttpClient

SERVICE_COLUMNS = ("record_id", "occurred_at", "lon", "lat", "category")
# CKAN refuses a limit above ckan.datastore.search.rows_max (32000 by default). Pages are read at that maximum
# (fewer requests; issue 14): a portal configured lower answers with its own limit, which the paging follows, and
# city.yaml services.portal.page_size sets another.
MAX_PAGE_SIZE = 32000
PAGE_SIZE = MAX_PAGE_SIZE
MAX_ROWS = 5_000_000  # rows of one resource: a city's month of one service family is thousands


class CkanError(FetchError):
    """A CKAN answer that is not what the Action API promises, or a dataset laid out otherwise than configured."""


class ResourceNotPublished(CkanError, NotDeliveredYet):
    """The dataset has no resource for the month (yet)."""


def action_url(base_url: str, action: str) -> str:
    """`https://portal/api/3/action/<action>` for a portal's base URL."""
    return f"{base_url.rstrip('/')}/api/3/action/{action}"


def call_action(base_url: str, action: str, params: Mapping[str, Any], *, client: HttpClient | None = None) -> Any:
    """GET one Action API call and return its `result`, checking the envelope."""
    client = client or HttpClient()
    url = action_url(base_url, action)
    payload = client.get_json(url, params)
    if not isinstance(payload, dict) or "success" not in payload:
        raise CkanError(url, "expected the Action API's envelope {\"success\": ..., \"result\": ...}, got "
                        f"{type(payload).__name__}; check that the base URL is the portal's root (no /api/3).")
    if payload["success"] is not True:
        error = payload.get("error") or {}
        raise CkanError(url, f"CKAN answered success=false: {error.get('__type', '')} {error.get('message', error)}")
    if payload.get("result") is None:
        raise CkanError(url, "the envelope has success=true but no \"result\" (missing or null); the portal "
                        "answered without data: check the id asked for, or rerun later")
    return payload["result"]


def package_show(base_url: str, package_id: str, *, client: HttpClient | None = None) -> dict[str, Any]:
    """A dataset with its resources, by id or name."""
    return call_action(base_url, "package_show", {"id": package_id}, client=client)


def resource_show(base_url: str, resource_id: str, *, client: HttpClient | None = None) -> dict[str, Any]:
    """One resource's metadata (url, format, datastore_active, ...), by id."""
    return call_action(base_url, "resource_show", {"id": resource_id}, client=client)


def download_resource(
    base_url: str, resource: Mapping[str, Any], path: Path, *, client: HttpClient | None = None
) -> Path:
    """Download a resource's file (its `url`, resolved against the portal when relative) to `path`."""
    url = str(resource.get("url") or "")
    if not url:
        raise CkanError(action_url(base_url, "resource_show"),
                        f"resource {resource.get('id')!r} has no url to download; expected its field \"url\"")
    if "://" not in url:
        url = f"{base_url.rstrip('/')}/{url.lstrip('/')}"
    return (client or HttpClient()).download(url, path)


def datastore_search_all(
    base_url: str, resource_id: str, *, page_size: int = PAGE_SIZE, client: HttpClient | None = None,
    max_rows: int = MAX_ROWS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every row of a DataStore resource, as (fields, records), paging with limit/offset until `total` is read.

    Rows are asked for sorted by `_id` so that pages neither overlap nor skip rows. When CKAN only estimated the
    total (`total_was_estimated`), paging goes on until a page comes back short. Paging always ends: an empty or
    short page ends it, a page repeating rows already read (by `_id`, or the whole previous page) and more than
    `max_rows` rows are errors.
    """
    if not 0 < page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    url = action_url(base_url, "datastore_search")
    fields: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    total: int | None = None
    seen: set[Any] = set()
    previous: str | None = None
    while True:
        if len(records) >= max_rows:
            raise CkanError(url, f"resource {resource_id} gave more than {max_rows:,} rows (max_rows) and did not "
                            "stop: a month of one service family is far smaller; check the resource, or raise "
                            "max_rows")
        params = {"resource_id": resource_id, "limit": page_size, "offset": len(records), "sort": "_id"}
        result = call_action(base_url, "datastore_search", params, client=client)
        page, page_total, estimated = _datastore_page(url, result)
        fields = fields or list(result.get("fields") or [])
        if total is not None and page_total != total and not estimated:
            raise CkanError(url, f"the resource changed while it was being read (total went from {total} to "
                            f"{page_total}); rerun to read it again")
        total = page_total
        _check_new_rows(url, page, seen, len(records))
        fingerprint = json.dumps(page, sort_keys=True, default=str)
        if page and fingerprint == previous:  # rows without _id: the same page twice is a portal ignoring offset
            raise CkanError(url, f"the page at offset {len(records)} repeats the previous page; the portal does not "
                            "honour offset, so the rows cannot be read completely")
        previous = fingerprint
        records.extend(page)
        applied = result.get("limit") if isinstance(result.get("limit"), int) else page_size
        if (not estimated and len(records) >= total) or len(page) < min(page_size, applied):
            break
    if not estimated and len(records) != total:
        raise CkanError(url, f"read {len(records)} rows of resource {resource_id} but CKAN reported total={total}; "
                        "rows were removed while paging or the portal's paging is broken. Rerun.")
    return fields, records


def _check_new_rows(url: str, page: list[dict[str, Any]], seen: set[Any], offset: int) -> None:
    """Fail when a page repeats rows already read: a portal that ignores `offset` would otherwise pass unnoticed."""
    ids = [row.get("_id") for row in page if row.get("_id") is not None]
    repeated = seen.intersection(ids)
    if repeated:
        raise CkanError(url, f"the page at offset {offset} repeats rows already read (_id {min(repeated)}); the "
                        "portal does not honour offset, so the rows cannot be read completely")
    seen.update(ids)


def _datastore_page(url: str, result: Any) -> tuple[list[dict[str, Any]], int, bool]:
    """The records, total and whether the total was estimated, from one datastore_search result."""
    if not isinstance(result, dict) or not isinstance(result.get("records"), list):
        raise CkanError(url, "expected a datastore_search result with a \"records\" list (records_format=objects)")
    total = result.get("total")
    if not isinstance(total, int):
        raise CkanError(url, f"expected an integer \"total\" in the datastore_search result, got {total!r}; "
                        "the portal must not be asked with include_total=false")
    return result["records"], total, bool(result.get("total_was_estimated"))


def find_resource(package: Mapping[str, Any], name: str, *, url: str = "") -> dict[str, Any]:
    """The one resource of `package` whose name is `name`; an error lists the names there are."""
    resources = package.get("resources") or []
    matches = [r for r in resources if r.get("name") == name]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(sorted(str(r.get("name")) for r in resources)) or "none"
    what = "no resource" if not matches else f"{len(matches)} resources"
    raise (CkanError if matches else ResourceNotPublished)(url or str(package.get("name")),
                    f"dataset {package.get('name')!r} has {what} named {name!r}; its resources are: {names}. "
                    "Check services.portal.resource in the city config, or that the month was published.")


def service_rows(
    records: Iterable[Mapping[str, Any]], columns: Sequence[str], *, source: str
) -> list[list[str]]:
    """Rows of `columns` as text (None as empty), sorted; a missing column is an error naming the source."""
    rows = []
    for number, record in enumerate(records, start=1):
        missing = [c for c in columns if c not in record]
        if missing:
            raise CkanError(source, f"row {number} has no field(s) {', '.join(missing)}; expected the fields "
                            f"{', '.join(columns)}. Check the dataset's columns against the city config.")
        rows.append([_as_text(record[c]) for c in columns])
    return sorted(rows)


def _as_text(value: Any) -> str:
    """A DataStore value as CSV text: text stays as is, numbers in Python's shortest form, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    """Write a UTF-8 CSV with `\\n` line ends through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    partial = path.with_name(path.name + ".part")
    partial.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    os.replace(partial, path)
    return path


def fetch_service_month(
    base_url: str,
    family: str,
    month: str,
    landing_dir: Path,
    *,
    client: HttpClient | None = None,
    package: str = "{family}",
    resource: str = "{family}_{month}",
    columns: Sequence[str] = SERVICE_COLUMNS,
    via: str = "datastore",
    page_size: int = PAGE_SIZE,
) -> Path:
    """Land one family's month from the portal as `landing_dir/services/<family>_<month>.csv`; return its path.

    `via="datastore"` reads the rows with datastore_search (the resource must be in the DataStore);
    `via="download"` downloads the resource's CSV file and keeps the same columns.
    """
    if via not in ("datastore", "download"):
        raise ValueError(f"via must be 'datastore' or 'download', got {via!r}")
    client = client or HttpClient()
    package_id = package.format(family=family, month=month)
    dataset = package_show(base_url, package_id, client=client)
    show_url = action_url(base_url, "package_show")
    found = find_resource(dataset, resource.format(family=family, month=month), url=show_url)
    target = Path(landing_dir) / "services" / f"{family}_{month}.csv"
    if via == "datastore":
        if not found.get("datastore_active"):
            raise CkanError(show_url, f"resource {found.get('name')!r} ({found.get('id')}) is not in the DataStore "
                            "(datastore_active is false); use via: download for this portal")
        _, records = datastore_search_all(base_url, found["id"], page_size=page_size, client=client)
        rows = service_rows(records, columns, source=f"{action_url(base_url, 'datastore_search')}?resource_id="
                            f"{found['id']}")
    else:
        rows = _downloaded_rows(base_url, found, target, columns, client)
    return write_csv(target, columns, rows)


def _downloaded_rows(
    base_url: str, resource: Mapping[str, Any], target: Path, columns: Sequence[str], client: HttpClient
) -> list[list[str]]:
    """Download the resource's CSV next to the target, read the columns we land, then drop the download."""
    download = target.with_name(target.name + ".download")
    try:
        download_resource(base_url, resource, download, client=client)
        text = download.read_text(encoding="utf-8-sig")
    finally:
        download.unlink(missing_ok=True)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in columns if c not in header]
    if missing:
        raise CkanError(str(resource.get("url")), f"the downloaded CSV has no column(s) {', '.join(missing)}; "
                        f"its header is {', '.join(header) or 'empty'}; expected {', '.join(columns)}")
    return service_rows(reader, columns, source=str(resource.get("url")))


def fetch_services(city, month: str) -> dict[str, Path]:
    """Land every service family's month of `city` from the CKAN portal its config names (services.portal)."""
    from bienestar import settings
    from sources.connections import endpoint

    services = city.section("services")
    portal = _portal_config(city, services)
    source = endpoint(portal["conn_id"])
    landing = settings.paths().landing_for(city.name)
    return {
        family: fetch_service_month(
            source.base_url, family, month, landing, client=source.client(),
            package=portal.get("package", "{family}"), resource=portal.get("resource", "{family}_{month}"),
            columns=services.get("required", SERVICE_COLUMNS), via=portal.get("via", "datastore"),
            page_size=int(portal.get("page_size", PAGE_SIZE)),
        )
        for family in services["families"]
    }


def _portal_config(city, services: Mapping[str, Any]) -> Mapping[str, Any]:
    """services.portal of the city config, checked."""
    portal = services.get("portal")
    if not isinstance(portal, Mapping) or not portal.get("conn_id"):
        raise ValueError(f"{city.folder / 'city.yaml'}: services.portal.conn_id is missing; add e.g. "
                         "`portal: {kind: ckan, conn_id: <city>_ckan}` under services")
    if portal.get("kind", "ckan") != "ckan":
        raise ValueError(f"{city.folder / 'city.yaml'}: services.portal.kind must be ckan, got {portal['kind']!r}")
    return portal
