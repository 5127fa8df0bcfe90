"""An Airflow plugin: each city's report and Great Expectations Data Docs, served read-only by the api-server.

Mounted at `/bienestar/` (`/bienestar/reports/<city>/latest/index.html`, `/bienestar/quality/<city>/...`) and linked
from the UI's navigation (Browse > Bienestar ...). Files are served from BIENESTAR_HOME as they are, GET only.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

PREFIX = "/bienestar"
DOCS_PAGE = "gx/uncommitted/data_docs/local_site/index.html"


def _cities() -> list[str]:
    from bienestar.orchestration import deployed_cities

    return [city.name for city in deployed_cities()]


def build_app():
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    from bienestar import settings

    home = settings.paths()
    app = FastAPI(title="bienestar reports and data docs", docs_url=None, redoc_url=None, openapi_url=None)
    for folder in ("reports", "quality"):
        (home.home / folder).mkdir(parents=True, exist_ok=True)
        app.mount(f"/{folder}", StaticFiles(directory=home.home / folder, html=True, check_dir=False), name=folder)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = "".join(
            f'<li>{name}: <a href="{PREFIX}/reports/{name}/latest/index.html">report</a> · '
            f'<a href="{PREFIX}/quality/{name}/{DOCS_PAGE}">Data Docs</a></li>' for name in _cities())
        return f"<!doctype html><title>bienestar</title><h1>bienestar</h1><ul>{rows}</ul>"

    return app


def _views() -> list[dict]:
    views = [{"name": "Bienestar: reports and Data Docs", "href": f"{PREFIX}/", "category": "Browse"}]
    for name in _cities():
        views += [{"name": f"Report: {name}", "href": f"{PREFIX}/reports/{name}/latest/index.html",
                   "category": "Browse"},
                  {"name": f"Data Docs: {name}", "href": f"{PREFIX}/quality/{name}/{DOCS_PAGE}",
                   "category": "Browse"}]
    return views


class BienestarViews(AirflowPlugin):
    name = "bienestar_views"
    fastapi_apps = [{"app": build_app(), "url_prefix": PREFIX, "name": "bienestar reports and data docs"}]
    external_views = _views()
