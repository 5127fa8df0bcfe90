"""A minimal valid city config for tests that set up a city in code: the keys a test cares about over it."""

from pathlib import Path

from cities import City

LEVELS = [{"id": "zona", "code": "zone_code", "name": "zone_name", "label_es": "Zona", "label_en": "Zone"},
          {"id": "distrito", "code": "district_code", "name": "district_name", "label_es": "Distrito",
           "label_en": "District"}]
PART = {"file": "census/households.csv", "required": ["household_id"]}
CENSUS = {"vintage": "2024", "households": PART, "persons": {**PART, "file": "census/persons.csv"}}


def minimal_config(name: str = "t", **sections) -> dict:
    """`name`, two levels, a microdata census of 2024 and an index spec, with `sections` over them."""
    return {"name": name, "levels": LEVELS, "census": CENSUS, "index": "wellbeing.yaml", **sections}


def city_with(name: str = "t", folder: Path | str | None = None, **sections) -> City:
    """A City whose config is `minimal_config(name, **sections)`."""
    return City(name=name, folder=Path(folder or f"/cities/{name}"), config=minimal_config(name, **sections))

SERVICES = {"families": ["health_visits"], "pattern": "services/{family}_{month}.csv", "required": ["record_id"]}
SENSORS = {"stations": "sensors/stations.geojson", "pattern": "sensors/readings_{interval}.json",
           "required": ["sensor_id"], "valid_range": {"pm25": [0, 500]}}
