"""The sample city as a city would deliver it: census files in landing/, services on a CKAN portal and sensors
on a SensorThings service, both served locally on 127.0.0.1 while the pipeline runs.

`prepare_demo` writes the generator's output to `BIENESTAR_HOME/portal/<city>/` (what the city publishes) and
copies the census and the boundaries into `landing/` (what the census office hands over as files).
`serving_portal` starts the portal for the length of a run and points the city's Airflow Connections at it
(`AIRFLOW_CONN_<ID>` variables, read by Airflow itself), so the DAGs exercise the real connectors.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from bienestar import settings
from cities import City

DELIVERED_AS_FILES = ("census", "boundaries", "survey")  # folders handed over as files (census office, survey)


def portal_dir(city: City):
    return settings.paths().home / "portal" / city.name


def prepare_demo(city: City, *, scale: float = 1.0, seed: int = 20240601) -> dict:
    """Generate the sample city; return the generator's manifest (its planted faults)."""
    generator = city.settings.generator
    if not generator:
        raise ValueError(f"city {city.name!r} has no generator: its deliveries come from its own sources")
    module = importlib.import_module(generator)
    published = portal_dir(city)
    manifest = module.generate(published, scale=scale, seed=seed, months=tuple(city.months))
    landing = settings.paths().landing_for(city.name)
    for folder in DELIVERED_AS_FILES:
        shutil.rmtree(landing / folder, ignore_errors=True)
        shutil.copytree(published / folder, landing / folder)
    if not has_portal(city):  # a city without portals gets every delivery as files
        for folder in ("services", "sensors"):
            shutil.rmtree(landing / folder, ignore_errors=True)
            shutil.copytree(published / folder, landing / folder)
    return manifest


def has_portal(city: City) -> bool:
    return any(section is not None and section.portal is not None
               for section in (city.settings.services, city.settings.sensors))


@contextmanager
def serving_portal(city: City) -> Iterator[str | None]:
    """Serve the sample city's portal while the block runs (nothing for cities without a local portal)."""
    if not (city.demo and has_portal(city) and portal_dir(city).exists()):
        yield None
        return
    from cities.la_paz_demo.portal import STA_PATH, serve_portal
    from sources.connections import env_name

    with serve_portal(portal_dir(city)) as base_url:
        urls = {city.section("services")["portal"]["conn_id"]: base_url,
                city.section("sensors")["portal"]["conn_id"]: base_url + STA_PATH}
        names = {f"AIRFLOW_CONN_{env_name(conn_id)}": url for conn_id, url in urls.items()}
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(names)
        try:
            yield base_url
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
