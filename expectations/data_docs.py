"""How our GX project is configured, and the Data Docs views that render it without recompiling templates.

GX's Jinja views make a new Jinja `Environment` for every page they render, so each Data Docs build parsed and
compiled the same ~36 templates again: about 0.5 s of every build here, most of the build. The views below are
GX's own, with a Jinja bytecode cache under the quality folder: a template is compiled once, and every later
build in any process (each Airflow task is its own process in a deployment) loads the compiled code, checked
against the template's source. They are plugged in through the site config (`site_index_builder.view`,
`site_section_builders.*.view`), the extension point GX documents for custom views.

The project config also has no `config_variables_file_path`: GX would otherwise read and YAML-parse
`uncommitted/config_variables.yml` on every access to a config variable, ~20 times per validation (~0.1 s), for
substitutions this project never uses (it has no credentials: the data arrive as frames).
"""

from __future__ import annotations

import functools
from pathlib import Path

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache

from bienestar import settings

SITE = "local_site"


@functools.cache
def _bytecode_cache(directory: Path) -> FileSystemBytecodeCache:
    directory.mkdir(parents=True, exist_ok=True)
    return FileSystemBytecodeCache(str(directory))


def template_cache_dir() -> Path:
    return settings.paths().quality / "template_cache"  # the same GX templates for every city


class _CachedTemplates:
    """Mixed into a GX Jinja view: its environment loads compiled templates from the bytecode cache."""

    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = _bytecode_cache(template_cache_dir())


class CachedPageView(_CachedTemplates, DefaultJinjaPageView):
    """GX's page view (suite and validation pages), with cached templates."""


class CachedIndexPageView(_CachedTemplates, DefaultJinjaIndexPageView):
    """GX's index page view, with cached templates."""


def _view(cls: type) -> dict:
    return {"module_name": __name__, "class_name": cls.__name__}


def site_config() -> dict:
    """The Data Docs site: GX's default local site with the cached views, and no profiling section (we never
    profile, and that section would list the validation store once more on every build)."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": "uncommitted/data_docs/local_site/"},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _view(CachedIndexPageView)},
        "site_section_builders": {
            "expectations": {"view": _view(CachedPageView)},
            "validations": {"view": _view(CachedPageView)},
            "profiling": "False",
        },
    }


def configure(context) -> bool:
    """Bring a file context's project config to ours; True when it changed (reopen the context to apply it)."""
    changed = False
    if context.variables.config_variables_file_path is not None:
        context.variables.config_variables_file_path = None
        changed = True
    if (context.variables.data_docs_sites or {}).get(SITE) != site_config():
        context.variables.data_docs_sites = {SITE: site_config()}
        changed = True
    if changed:
        context.variables.save()
    return changed
