"""Generate the sample city ``la_paz_demo``: a synthetic municipality shaped like La Paz, Bolivia.

The pipeline needs a city to run on that anyone can download, rebuild and share: real census microdata is
confidential and real service records name real people. So this module invents one, deterministically, and
writes it to ``BIENESTAR_HOME/landing/la_paz_demo`` in exactly the formats described in ``docs/landing.md``.

Why La Paz? Its well-being map is strongly patterned, which makes indicators easy to sanity-check by eye: a
compact, better-off core and southern valley (Centro, Sur, Mallasa), dense hillside neighbourhoods climbing
towards El Alto (Max Paredes, Cotahuma, Periférica), and two huge rural districts (Hampaturi and, far to the
north, Zongo) where piped water, sewers and paved streets thin out. The generator keeps the real
macrodistricts and their 23 districts, places them roughly where they are, and calibrates a latent
deprivation level per macrodistrict (Zongo worst, then Hampaturi, Max Paredes, Cotahuma, Periférica, San
Antonio in the middle, Sur, Mallasa and Centro best) that drives every census answer and service record.

What it writes (see ``docs/landing.md`` for the field lists):

* ``boundaries/zones.geojson``: ~165 zones tiling 23 districts tiling 9 macrodistricts.
* ``census/households.csv`` and ``census/persons.csv``: ~21k households / ~76k persons at scale 1.
* ``services/<family>_<YYYY-MM>.csv``: health visits, school enrolments, water outages, waste complaints and
  police reports per month, located at points inside zones.
* ``sensors/stations.geojson`` and ``sensors/readings_<YYYY-MM>.json``: 16 air-quality / noise stations with
  hourly readings.
* ``_manifest/planted_faults.json``: the seed, the row counts and the faults planted on purpose (duplicates,
  points outside the city, missing values, a stuck sensor, a spike, a gap) so tests can check that the
  pipeline quarantines exactly those.

Census conventions: ``literate`` is asked from age 6 and ``attends_school`` at ages 4-19; both are empty for
everyone else. Apart from that, and from the planted faults, no field is ever empty.

The map itself (boundaries, zone codes and names) is fixed: it is drawn from ``GEOGRAPHY_SEED`` whatever
``seed`` says, so zone ``Z042`` is the same place in every run and documentation can refer to it. ``seed``
and ``scale`` drive everything else. Same seed, scale and months give byte-identical files.
"""

from __future__ import annotations

import argparse
import calendar
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely import MultiPoint, Polygon

log = logging.getLogger(__name__)

CITY = "la_paz_demo"
DEFAULT_SEED = 20240601
DEFAULT_MONTHS = ("2024-06",)
# An earlier census, for change over time: every zone a little poorer then (a latent-deprivation shift drawn per
# zone between these bounds), so that improvement differs between neighbourhoods, as it did between censuses.
EARLIER_CENSUSES = {"2012": (0.3, 0.9)}
# La Paz was founded in 1548; any fixed number would do, it only has to never change.
GEOGRAPHY_SEED = 1548
COORD_DECIMALS = 6
# Boundaries keep more decimals than points: rounding shared edges to 6 decimals would open slivers between
# neighbouring zones of ~1e-9 square degrees, which would break exact tiling.
BOUNDARY_DECIMALS = 9
UTC_OFFSET_HOURS = -4  # Bolivia has no daylight saving time.

# ---------------------------------------------------------------------------------------------------------
# Geography
# ---------------------------------------------------------------------------------------------------------

# Hand-drawn municipal boundary (lon, lat): the urban valley in the south, Hampaturi to the north-east and the
# long Zongo lobe reaching north towards the Yungas. El Alto lies just west of the urban edge.
CITY_OUTLINE = (
    (-68.118, -16.602), (-68.086, -16.596), (-68.058, -16.578), (-68.038, -16.556), (-68.018, -16.536),
    (-68.004, -16.508), (-67.988, -16.472), (-67.962, -16.424), (-67.952, -16.368), (-67.972, -16.302),
    (-67.990, -16.240), (-67.998, -16.160), (-68.018, -16.082), (-68.058, -16.024), (-68.108, -15.992),
    (-68.168, -16.008), (-68.208, -16.058), (-68.230, -16.128), (-68.222, -16.206), (-68.192, -16.278),
    (-68.168, -16.338), (-68.160, -16.398), (-68.164, -16.440), (-68.171, -16.468), (-68.178, -16.494),
    (-68.171, -16.520), (-68.160, -16.541), (-68.142, -16.561), (-68.131, -16.584),
)


@dataclass(frozen=True)
class Macrodistrict:
    """A real macrodistrict of La Paz with the knobs the generator needs."""

    code: str
    name: str
    districts: tuple[int, ...]
    # Latent deprivation (0 = city average, higher = poorer); it shifts every census answer.
    deprivation: float
    rural: bool
    # Several Voronoi seeds per macrodistrict let its shape be non-convex and roughly where the real one is.
    seeds: tuple[tuple[float, float], ...]


MACRODISTRICTS = (
    Macrodistrict("MD01", "Centro", (1, 2), -0.9, False, ((-68.133, -16.500),)),
    Macrodistrict("MD02", "Cotahuma", (3, 4, 5, 6), 0.45, False, ((-68.155, -16.512), (-68.148, -16.532))),
    Macrodistrict(
        "MD03", "Max Paredes", (7, 8, 9, 10), 0.55, False, ((-68.156, -16.487), (-68.150, -16.466))
    ),
    Macrodistrict("MD04", "Periférica", (11, 12, 13), 0.35, False, ((-68.125, -16.477), (-68.135, -16.452))),
    Macrodistrict(
        "MD05", "San Antonio", (14, 15, 16, 17), 0.0, False, ((-68.103, -16.502), (-68.085, -16.490))
    ),
    Macrodistrict(
        "MD06", "Sur", (18, 19, 21), -1.1, False, ((-68.092, -16.530), (-68.064, -16.536), (-68.040, -16.526))
    ),
    Macrodistrict("MD07", "Mallasa", (20,), -0.6, False, ((-68.105, -16.572), (-68.080, -16.580))),
    Macrodistrict(
        "MD08", "Hampaturi", (22,), 1.3, True, ((-68.125, -16.380), (-68.060, -16.400), (-68.005, -16.440))
    ),
    Macrodistrict(
        "MD09", "Zongo", (23,), 1.8, True, ((-68.110, -16.060), (-68.120, -16.160), (-68.100, -16.280))
    ),
)

# Zones per district, and real (or real-sounding) neighbourhood names handed out first; the rest are invented.
ZONES_PER_DISTRICT = {
    1: 10, 2: 8, 3: 8, 4: 7, 5: 7, 6: 8, 7: 8, 8: 7, 9: 7, 10: 8, 11: 8, 12: 8,
    13: 7, 14: 7, 15: 7, 16: 6, 17: 6, 18: 9, 19: 9, 20: 5, 21: 7, 22: 4, 23: 4,
}
KNOWN_ZONE_NAMES = {
    1: ("Casco Viejo", "San Sebastián", "Rosario", "Santa Bárbara", "Belén", "San Jorge", "Challapampa"),
    2: ("Miraflores", "Miraflores Sur", "Barrio Gráfico", "Las Delicias"),
    3: ("Sopocachi", "Alto Sopocachi", "Montículo", "Pasankeri"),
    4: ("Bella Vista", "Bajo Llojeta", "Alto Llojeta", "Tembladerani"),
    5: ("Tacagua", "Cotahuma", "Niño Kollo", "Villa Nuevo Potosí"),
    6: ("San Pedro", "Alto San Pedro", "Callampaya"),
    7: ("Gran Poder", "Los Andes", "Villa Victoria"),
    8: ("Munaypata", "El Tejar", "Obispo Indaburo"),
    9: ("Ciudadela Ferroviaria", "Chamoco Chico", "Pura Pura"),
    10: ("Alto Mariscal Santa Cruz", "Bajo Tejar", "Alto Pura Pura"),
    11: ("Achachicala", "Agua de la Vida", "Vino Tinto"),
    12: ("Villa Fátima", "Villa Pabón", "Villa El Carmen"),
    13: ("Chuquiaguillo", "Kaluyo", "San Juan Lazareto", "Tupac Katari"),
    14: ("San Antonio Bajo", "Villa Armonía", "Valle Hermoso"),
    15: ("Pampahasi", "San Isidro", "Kupini"),
    16: ("Villa Copacabana", "Escobar Uría", "Callapa"),
    17: ("Villa San Antonio Alto", "Alto Pampahasi", "Villa Salomé"),
    18: ("Obrajes", "Alto Obrajes", "Bolognia", "Irpavi", "Següencoma"),
    19: ("Calacoto", "San Miguel", "Achumani", "Los Pinos", "Cota Cota", "Auquisamaña", "La Florida"),
    20: ("Mallasa", "Mallasilla", "Jupapina", "Amor de Dios", "Valle de las Flores"),
    21: ("Chasquipampa", "Ovejuyo", "Alto Achumani", "Kellumani", "Huacallani"),
    22: ("Hampaturi", "Chicani", "Palcoma", "Pongo"),
    23: ("Zongo", "Huaylipaya", "Cahua Grande", "Botijlaca"),
}
NAME_PREFIXES = ("Villa", "Alto", "Bajo", "Urbanización", "Barrio", "Ciudadela", "Nueva")
NAME_ROOTS = (
    "Kantuta", "Illimani", "Huayna Potosí", "Mururata", "Inti Raymi", "Wiñay Marka", "Qhana Pata",
    "Jach'a Uta", "Sartañani", "Chuqi Apu", "Pachamama", "Tupac Amaru", "Bartolina Sisa", "Litoral",
    "Santa Rosa", "San Martín", "Esperanza", "El Rosal", "Las Retamas", "Los Álamos", "Primavera",
    "Amaya Pampa", "Jiska Pata", "Kollpani", "Uma Jalsu", "Chijini", "Suma Qamaña", "Anta Kollu", "Huyustus",
    "Copacabana", "Ingavi", "Murillo", "Chualluma", "Phaxsi Pampa", "Achachi Kollu", "Tunari", "Condorini",
    "Wila Kollu", "Santiago", "Huanu Huanuni",
)


@dataclass(frozen=True)
class Zone:
    """One zone with its place in the hierarchy (its polygon is already rounded as written)."""

    code: str
    name: str
    district_code: str
    district_name: str
    macrodistrict_code: str
    macrodistrict_name: str
    polygon: Polygon


@dataclass(frozen=True)
class Geography:
    """The fixed map of the sample city: outline, macrodistricts, districts and zones (treat as read-only)."""

    outline: Polygon
    macrodistricts: dict[str, Polygon]
    districts: dict[str, Polygon]
    zones: tuple[Zone, ...]


def _sample_in_polygon(polygon: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` uniform random points (an ``(n, 2)`` array) inside ``polygon`` by rejection sampling."""
    if n <= 0:
        return np.empty((0, 2))
    shapely.prepare(polygon)
    xmin, ymin, xmax, ymax = polygon.bounds
    fill = max(polygon.area / ((xmax - xmin) * (ymax - ymin)), 0.05)
    found: list[np.ndarray] = []
    missing = n
    while missing > 0:
        batch = int(missing / fill * 1.3) + 16
        x = rng.uniform(xmin, xmax, batch)
        y = rng.uniform(ymin, ymax, batch)
        inside = shapely.contains_xy(polygon, x, y)
        points = np.column_stack([x[inside], y[inside]])[:missing]
        found.append(points)
        missing -= len(points)
    return np.concatenate(found)


def _spread_seeds(polygon: Polygon, n: int, rng: np.random.Generator, iterations: int = 6) -> np.ndarray:
    """Return ``n`` well spread points inside ``polygon`` (a few k-means steps over random samples).

    A handful of Lloyd iterations gives cells of similar size without the honeycomb look of a fully converged
    centroidal tessellation. Seeds are snapped to a sample so they stay inside non-convex polygons.
    """
    samples = _sample_in_polygon(polygon, max(400, 60 * n), rng)
    seeds = samples[:n].copy()
    for _ in range(iterations):
        nearest = _nearest(samples, seeds)
        for k in range(n):
            members = samples[nearest == k]
            if len(members):
                seeds[k] = members.mean(axis=0)
    snapped = _nearest(seeds, samples)
    if len(set(snapped.tolist())) != n:
        raise RuntimeError("two Voronoi seeds collapsed onto the same point")
    return samples[snapped]


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the nearest target for every point."""
    d2 = ((points[:, None, :] - targets[None, :, :]) ** 2).sum(axis=2)
    return d2.argmin(axis=1)


def _partition(parent: Polygon, seeds: np.ndarray, labels: Sequence[int]) -> list[Polygon]:
    """Split ``parent`` into one single Polygon per distinct label, from the Voronoi cells of ``seeds``.

    Cells sharing a label are merged. Clipping to a non-convex parent can cut a cell in several parts; the
    largest part stays and every stray part joins the neighbour it shares the longest border with, so every
    result is one Polygon and together they still cover ``parent`` exactly.
    """
    distinct = list(dict.fromkeys(labels))
    if len(distinct) == 1:
        return [parent]
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=parent, ordered=True).geoms
    labels = np.asarray(labels)
    regions: list[Polygon] = []
    strays: list[Polygon] = []
    for label in distinct:
        merged = shapely.union_all([cell for cell, lab in zip(cells, labels, strict=True) if lab == label])
        parts = sorted(shapely.get_parts(shapely.intersection(merged, parent)), key=lambda p: -p.area)
        parts = [p for p in parts if isinstance(p, Polygon) and p.area > 0]
        regions.append(parts[0])
        strays.extend(parts[1:])
    while strays:
        stray = strays.pop(0)
        contact = [shapely.intersection(stray.buffer(1e-7), region).area for region in regions]
        best = int(np.argmax(contact))
        if contact[best] == 0:
            strays.append(stray)  # only touches other strays so far; retry once they have been merged
            continue
        merged = shapely.union(regions[best], stray)
        if not isinstance(merged, Polygon):
            raise RuntimeError("merging a stray Voronoi part did not give a single polygon")
        regions[best] = merged
    return regions


def _round_polygon(polygon: Polygon, decimals: int = BOUNDARY_DECIMALS) -> Polygon:
    """Orient counter-clockwise (RFC 7946) and round coordinates so the object equals what is written."""
    oriented = shapely.orient_polygons(polygon)
    rounded = shapely.transform(oriented, lambda xy: np.round(xy, decimals))
    if not rounded.is_valid:
        raise RuntimeError("rounding made a boundary polygon invalid")
    return rounded


def _clean_coverage(polygons: Sequence[Polygon]) -> list[Polygon]:
    """Make the zones an exact coverage: no overlaps, and every shared border the same vertices on both sides.

    The zones of two neighbouring districts come from two partitions: where a zone edge meets the district
    border, clipping adds a vertex that lies on the neighbouring district's border only up to floating-point
    error, and rounding to BOUNDARY_DECIMALS moves it by up to ~1e-9 degrees into the neighbouring zone or away
    from it. Left so, 116 pairs of zones overlapped by slivers (at most 1.3e-11 square degrees each); once the
    pipeline stored them as WKT with 7 decimals, 102 pairs overlapped by more than 1e-12 and one macrodistrict
    (the union of its zones) had a ring collapsed to a line: harmless for the boundary gate, but a planner's
    GIS flags both. GEOS's coverage cleaning gives each sliver to one zone and puts the same vertices on both
    sides of every shared border, so rounding moves both sides alike (tests/test_generator.py checks 7
    decimals). It also closes gaps narrower than its snapping distance: rounding dust, the map has no others.
    """
    cleaned = [_round_polygon(p) for p in shapely.coverage_clean(np.asarray(polygons, dtype=object))]
    if any(p.geom_type != "Polygon" for p in cleaned):
        raise RuntimeError("cleaning the zone coverage split a zone")
    if not shapely.coverage_is_valid(np.asarray(cleaned, dtype=object)):
        raise RuntimeError("the zones still overlap after cleaning")
    return cleaned


def _west_to_east(polygons: Sequence[Polygon]) -> list[int]:
    """Order polygons west to east, as districts and zones are numbered (Sur: 18 Obrajes ... 21 Ovejuyo)."""
    points = shapely.point_on_surface(np.asarray(polygons, dtype=object))
    return list(np.argsort(shapely.get_x(points), kind="stable"))


def _zone_names(rng: np.random.Generator) -> dict[int, list[str]]:
    """Names for every zone of every district: known names first, then unique invented ones."""
    used = {name for names in KNOWN_ZONE_NAMES.values() for name in names}
    invented = [f"{prefix} {root}" for prefix in NAME_PREFIXES for root in NAME_ROOTS]
    invented = [invented[i] for i in rng.permutation(len(invented)) if invented[i] not in used]
    names: dict[int, list[str]] = {}
    for number, count in ZONES_PER_DISTRICT.items():
        known = list(KNOWN_ZONE_NAMES.get(number, ()))[:count]
        names[number] = known + [invented.pop() for _ in range(count - len(known))]
    return names


@lru_cache(maxsize=1)
def build_geography() -> Geography:
    """Build the fixed map: macrodistricts from hand-placed seeds, then districts and zones by nested Voronoi.

    Every level tiles its parent exactly, the zones are an exact coverage (`_clean_coverage`) and every unit is
    a single valid Polygon. The result is cached because it never depends on the generator's ``seed`` or
    ``scale``.
    """
    rng = np.random.default_rng(GEOGRAPHY_SEED)
    outline = shapely.orient_polygons(Polygon(CITY_OUTLINE))
    seeds = np.array([seed for md in MACRODISTRICTS for seed in md.seeds])
    labels = [i for i, md in enumerate(MACRODISTRICTS) for _ in md.seeds]
    md_polygons = _partition(outline, seeds, labels)
    names = _zone_names(rng)

    macrodistricts: dict[str, Polygon] = {}
    districts: dict[str, Polygon] = {}
    zones: list[Zone] = []
    district_parts: dict[int, tuple[Macrodistrict, Polygon]] = {}
    for md, md_polygon in zip(MACRODISTRICTS, md_polygons, strict=True):
        macrodistricts[md.code] = _round_polygon(md_polygon)
        n = len(md.districts)
        parts = _partition(md_polygon, _spread_seeds(md_polygon, n, rng), range(n))
        for number, index in zip(md.districts, _west_to_east(parts), strict=True):
            district_parts[number] = (md, parts[index])

    for number in sorted(district_parts):
        md, district_polygon = district_parts[number]
        districts[f"D{number:02d}"] = _round_polygon(district_polygon)
        n = ZONES_PER_DISTRICT[number]
        parts = _partition(district_polygon, _spread_seeds(district_polygon, n, rng), range(n))
        for name, index in zip(names[number], _west_to_east(parts), strict=True):
            zones.append(
                Zone(
                    code=f"Z{len(zones) + 1:03d}",
                    name=name,
                    district_code=f"D{number:02d}",
                    district_name=f"Distrito {number}",
                    macrodistrict_code=md.code,
                    macrodistrict_name=md.name,
                    polygon=_round_polygon(parts[index]),
                )
            )
    cleaned = _clean_coverage([zone.polygon for zone in zones])
    zones = [replace(zone, polygon=polygon) for zone, polygon in zip(zones, cleaned, strict=True)]
    return Geography(_round_polygon(outline), macrodistricts, districts, tuple(zones))


# ---------------------------------------------------------------------------------------------------------
# Census
# ---------------------------------------------------------------------------------------------------------

# Every census answer is drawn from a "better-off" or a "deprived" distribution; the chance of the deprived
# one rises with the household's latent deprivation (a logistic curve centred on ``midpoint``).
CATEGORY_MODELS = {
    "wall_material": (
        0.6,
        {"brick": 0.62, "concrete_block": 0.18, "adobe_plastered": 0.15, "wood": 0.02, "stone": 0.02,
         "other": 0.01},
        {"adobe_unplastered": 0.36, "adobe_plastered": 0.22, "tapial": 0.10, "stone": 0.09, "brick": 0.14,
         "wood": 0.04, "cane_palm_trunk": 0.03, "other": 0.02},
    ),
    "floor_material": (
        0.5,
        {"ceramic": 0.35, "parquet": 0.18, "cement": 0.40, "wood_plank": 0.07},
        {"earth": 0.45, "cement": 0.33, "brick": 0.10, "wood_plank": 0.07, "other": 0.05},
    ),
    "roof_material": (
        0.6,
        {"calamina": 0.55, "concrete_slab": 0.35, "tile": 0.10},
        {"calamina": 0.74, "straw_cane_palm": 0.15, "tile": 0.06, "other": 0.05},
    ),
    "water_source": (
        0.9,
        {"piped_inside": 0.93, "piped_outside": 0.07},
        {"piped_outside": 0.30, "public_tap": 0.20, "well": 0.15, "river_spring": 0.22, "tanker": 0.08,
         "other": 0.05},
    ),
    "sanitation": (
        0.7,
        {"sewer": 0.95, "septic_tank": 0.05},
        {"cesspit": 0.35, "septic_tank": 0.15, "sewer": 0.15, "open_field": 0.25, "none": 0.10},
    ),
    "cooking_fuel": (
        0.8,
        {"gas_cylinder": 0.68, "gas_piped": 0.29, "electricity": 0.03},
        {"gas_cylinder": 0.55, "firewood": 0.30, "dung": 0.08, "kerosene": 0.04, "none": 0.03},
    ),
}
DEPRIVATION_SLOPE = 1.6
ZONE_DEPRIVATION_SD = 0.3
HOUSEHOLD_DEPRIVATION_SD = 0.6
FEMALE_NAMES = (
    "María", "Juana", "Rosa", "Ana", "Carmen", "Lucía", "Sonia", "Patricia", "Elizabeth", "Roxana", "Marcela",
    "Gabriela", "Daniela", "Wara", "Nayra", "Ximena", "Paola", "Silvia", "Teresa", "Norma", "Martha",
    "Justina", "Sabina", "Felipa", "Valeria", "Camila", "Andrea", "Alejandra", "Janet", "Lourdes", "Mónica",
    "Inés",
)
MALE_NAMES = (
    "Juan", "José", "Carlos", "Luis", "Mario", "Jorge", "Fernando", "Víctor", "Pedro", "Marcelo", "Freddy",
    "René", "Javier", "Rubén", "Hugo", "Eduardo", "Gonzalo", "Álvaro", "Rodrigo", "Diego", "Mateo",
    "Santiago", "Sebastián", "Wilfredo", "Germán", "Efraín", "Teodoro", "Simón", "Mauricio", "Ariel",
    "Limbert", "Edwin",
)
SURNAMES = (
    "Mamani", "Quispe", "Condori", "Choque", "Flores", "Gutiérrez", "Vargas", "Rojas", "Apaza", "Huanca",
    "Limachi", "Ticona", "Poma", "Callisaya", "Chambi", "Copa", "Yujra", "Nina", "Calle", "Alanoca", "Laura",
    "Villca", "Colque", "Cruz", "Fernández", "López", "Pérez", "García", "Rodríguez", "Torrez", "Aliaga",
    "Ramos", "Mendoza", "Chura", "Cusi", "Tarqui", "Gonzales", "Ayala", "Salazar", "Paredes", "Loza",
    "Blanco", "Ortiz", "Aguilar", "Machaca", "Huarachi", "Patzi", "Sirpa", "Tola", "Ali",
)
STREETS = (
    "Jaén", "Illampu", "Sagárnaga", "Linares", "Murillo", "Comercio", "Ingavi", "Potosí", "Loayza", "Colón",
    "Mercado", "Yanacocha", "Genaro Sanjinés", "Rosendo Gutiérrez", "Fernando Guachalla", "Belisario Salinas",
    "Pedro Salazar", "Ecuador", "Montevideo", "Capitán Ravelo", "Aspiazu", "Landaeta", "Díaz Romero",
    "Héroes del Acre", "Buenos Aires", "Tumusla", "Garita de Lima", "Juan de la Riva", "Hernando Siles",
    "Saavedra", "Busch", "Villazón", "Camacho", "Muñoz Cornejo", "Los Sauces", "Las Retamas", "Illimani",
    "Chuquisaca", "Almirante Grau", "Zoilo Flores",
)
STREET_KINDS = (("Calle", 0.7), ("Av.", 0.1), ("Pasaje", 0.2))

HOUSEHOLD_COLUMNS = (
    "household_id", "head_name", "address", "lon", "lat", "wall_material", "floor_material", "roof_material",
    "rooms", "bedrooms", "water_source", "sanitation", "electricity", "cooking_fuel", "members",
)
PERSON_COLUMNS = (
    "person_id", "household_id", "full_name", "document_number", "sex", "age", "literate", "attends_school",
    "years_schooling", "health_insurance",
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _deprived_share(deprivation: np.ndarray, midpoint: float) -> np.ndarray:
    """Probability that a household answers from the deprived distribution."""
    return _sigmoid(DEPRIVATION_SLOPE * (deprivation - midpoint))


def _draw_category(rng: np.random.Generator, deprivation: np.ndarray, model: tuple) -> np.ndarray:
    """Draw one categorical census answer per household from the better-off / deprived mixture."""
    midpoint, better, deprived = model
    n = len(deprivation)
    is_deprived = rng.random(n) < _deprived_share(deprivation, midpoint)
    from_better = rng.choice(list(better), size=n, p=list(better.values()))
    from_deprived = rng.choice(list(deprived), size=n, p=list(deprived.values()))
    return np.where(is_deprived, from_deprived, from_better).astype(object)


def _zone_table(geo: Geography, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """One row per zone: household count at this scale and the zone's latent deprivation."""
    levels = {md.code: md for md in MACRODISTRICTS}
    rows = []
    for zone in geo.zones:
        md = levels[zone.macrodistrict_code]
        low, high = (30, 80) if md.rural else (60, 200)
        rows.append((zone.code, md.code, md.deprivation, int(rng.integers(low, high + 1))))
    columns = ["zone_code", "macrodistrict_code", "md_level", "base_households"]
    table = pd.DataFrame(rows, columns=columns)
    table["deprivation"] = table["md_level"] + rng.normal(0, ZONE_DEPRIVATION_SD, len(table))
    table["households"] = np.maximum(1, np.round(table["base_households"] * scale)).astype(int)
    return table


def _points_in_zones(
    geo: Geography, counts: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random points inside each zone, ``counts[i]`` of them in zone ``i``, concatenated in zone order."""
    chunks = [_sample_in_polygon(z.polygon, int(c), rng) for z, c in zip(geo.zones, counts, strict=True)]
    points = np.concatenate(chunks) if chunks else np.empty((0, 2))
    return points[:, 0], points[:, 1]


def _pick(rng: np.random.Generator, options: Sequence[str], n: int, zipf: float = 0.0) -> np.ndarray:
    """Pick ``n`` strings; ``zipf`` > 0 makes the first options more common (as surnames are)."""
    weights = 1.0 / np.arange(1, len(options) + 1) ** zipf
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=weights / weights.sum())]


def _draw_households(geo: Geography, zones: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """All households with their dwelling answers; keeps ``zone_code`` and ``deprivation`` for later steps."""
    counts = zones["households"].to_numpy()
    n = int(counts.sum())
    zone_index = np.repeat(np.arange(len(zones)), counts)
    deprivation = zones["deprivation"].to_numpy()[zone_index] + rng.normal(0, HOUSEHOLD_DEPRIVATION_SD, n)
    lon, lat = _points_in_zones(geo, counts, rng)

    households = pd.DataFrame(
        {
            "household_id": [f"H{i:07d}" for i in range(1, n + 1)],
            "zone_code": zones["zone_code"].to_numpy()[zone_index],
            "deprivation": deprivation,
            "lon": lon,
            "lat": lat,
        }
    )
    for field, model in CATEGORY_MODELS.items():
        households[field] = _draw_category(rng, deprivation, model)

    crowded = rng.random(n) < _deprived_share(deprivation, 0.4)
    rooms = np.minimum(1 + np.where(crowded, rng.poisson(0.9, n), rng.poisson(2.6, n)), 15)
    bedrooms = rng.binomial(rooms, 0.6)
    bedrooms = np.where(rooms >= 2, np.maximum(bedrooms, 1), bedrooms)
    households["rooms"] = rooms
    households["bedrooms"] = bedrooms
    large = rng.random(n) < _deprived_share(deprivation, 0.4)
    households["members"] = np.minimum(1 + np.where(large, rng.poisson(3.2, n), rng.poisson(2.2, n)), 10)
    no_power = rng.random(n) < _sigmoid(-4.5 + 1.5 * deprivation)
    households["electricity"] = _yes_no(~no_power)
    households["address"] = _addresses(geo, households["zone_code"].to_numpy(), rng)
    return households


def _yes_no(answer: np.ndarray, asked: np.ndarray | None = None) -> np.ndarray:
    """Encode a yes/no answer as "1"/"0", empty for people the question does not apply to.

    There is no random non-response on purpose: every empty answer outside the "not asked" groups is a
    planted fault, so the pipeline's quarantine can be checked exactly against the manifest.
    """
    coded = np.where(answer, "1", "0").astype(object)
    if asked is not None:
        coded[~asked] = ""
    return coded


def _addresses(geo: Geography, zone_codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Street addresses in town, "Comunidad X s/n" in the rural macrodistricts."""
    n = len(zone_codes)
    rural_codes = {md.code for md in MACRODISTRICTS if md.rural}
    zone_name = {z.code: z.name for z in geo.zones}
    rural = {z.code for z in geo.zones if z.macrodistrict_code in rural_codes}
    kinds = _pick(rng, [k for k, _ in STREET_KINDS], n)
    streets = _pick(rng, STREETS, n)
    numbers = rng.integers(1, 2500, n)
    names = [zone_name[c] for c in zone_codes]
    rows = zip(zone_codes, names, kinds, streets, numbers, strict=True)
    return np.array(
        [
            f"Comunidad {name} s/n" if code in rural else f"{kind} {street} #{number}, Zona {name}"
            for code, name, kind, street, number in rows
        ],
        dtype=object,
    )


def _draw_persons(households: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per household member; the first member is the head, whose name becomes ``head_name``."""
    members = households["members"].to_numpy()
    n = int(members.sum())
    owner = np.repeat(np.arange(len(households)), members)
    position = np.arange(n) - np.repeat(np.cumsum(members) - members, members)
    deprivation = households["deprivation"].to_numpy()[owner]

    head_age = np.minimum(20 + rng.gamma(3.5, 8.0, len(households)), 92)[owner]
    is_head = position == 0
    is_spouse = (position == 1) & (rng.random(n) < 0.7)
    is_child = ~is_head & ~is_spouse & (rng.random(n) < 0.85)
    spouse_age = np.clip(head_age + rng.normal(-2, 5, n), 18, 95)
    child_age = rng.random(n) * np.clip(head_age - 18, 1, 35)
    relative_age = np.where(rng.random(n) < 0.5, np.minimum(head_age + rng.uniform(20, 30, n), 100),
                            rng.uniform(0, 20, n))
    age = np.select([is_head, is_spouse, is_child], [head_age, spouse_age, child_age], relative_age)
    age = age.astype(int)

    head_male = (rng.random(len(households)) < 0.68)[owner]
    male = np.select([is_head, is_spouse], [head_male, ~head_male], rng.random(n) < 0.5)
    female = ~male

    family_name = _pick(rng, SURNAMES, len(households), zipf=0.8)[owner]
    # Spouses and other relatives bring their own surname; children carry the head's.
    married_in = is_spouse | (~is_head & ~is_child)
    first_surname = np.where(married_in, _pick(rng, SURNAMES, n, zipf=0.8), family_name)
    given = np.where(male, _pick(rng, MALE_NAMES, n), _pick(rng, FEMALE_NAMES, n))
    full_name = given + " " + first_surname + " " + _pick(rng, SURNAMES, n, zipf=0.8)

    persons = pd.DataFrame(
        {
            "person_id": [f"P{i:08d}" for i in range(1, n + 1)],
            "household_id": households["household_id"].to_numpy()[owner],
            "full_name": full_name,
            # Cédula de identidad numbers: 7 digits, unique.
            "document_number": (rng.choice(9_000_000, size=n, replace=False) + 1_000_000).astype(str),
            "sex": np.where(male, "M", "F"),
            "age": age,
        }
    )
    persons = pd.concat([persons, _education_and_health(age, female, deprivation, rng)], axis=1)
    return persons


def _education_and_health(
    age: np.ndarray, female: np.ndarray, deprivation: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Literacy (asked from age 6), attendance (ages 4-19), years of schooling and insurance per person."""
    n = len(age)
    adult_illiteracy = _sigmoid(-4.0 + 1.1 * deprivation + 0.045 * (age - 45) + 0.9 * female)
    child_literacy = np.where(age < 8, 0.6, _sigmoid(4.0 - 0.8 * deprivation))
    literate = np.where(age >= 15, rng.random(n) >= adult_illiteracy, rng.random(n) < child_literacy)

    base_attendance = np.select([age <= 5, age <= 13, age <= 17], [0.5, 3.5, 2.2], 0.0)
    attends = rng.random(n) < _sigmoid(base_attendance - 0.9 * deprivation)
    school_age = (age >= 4) & (age <= 19)

    adult_years = rng.normal(11.5 - 3.0 * deprivation - 0.05 * (age - 40) - 0.8 * female, 3.0)
    adult_years = np.where(literate, adult_years, np.minimum(adult_years, rng.integers(0, 3, n)))
    young_years = np.where(attends, age - 6, age - 6 - rng.poisson(2.0, n))
    years = np.where(age >= 20, adult_years, young_years)
    years = np.clip(np.round(years), 0, 20).astype(int)
    years = np.where(age < 6, 0, years)

    insured = rng.random(n) < _sigmoid(0.2 - 1.0 * deprivation)
    return pd.DataFrame(
        {
            "literate": _yes_no(literate, asked=age >= 6),
            "attends_school": _yes_no(attends, asked=school_age),
            "years_schooling": years,
            "health_insurance": _yes_no(insured),
        }
    )


# ---------------------------------------------------------------------------------------------------------
# Public services
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFamily:
    """How one kind of municipal record is produced."""

    name: str
    prefix: str
    # Records per household (or per resident aged 4-19 for school enrolments) per month.
    rate: float
    # exp(effect * zone deprivation) multiplies a zone's share: > 0 means more records where life is harder.
    deprivation_effect: float
    categories: dict[str, float]
    open_hours: tuple[int, int]
    peak_hour: int
    weekdays_only: bool
    per_child: bool = False


SERVICE_FAMILIES = (
    ServiceFamily(
        "health_visits", "HV", 0.25, -0.5,
        {"outpatient": 0.45, "child_growth_check": 0.15, "prenatal_check": 0.10, "vaccination": 0.12,
         "emergency": 0.10, "dental": 0.08},
        (7, 19), 9, True,
    ),
    ServiceFamily(
        "school_enrolments", "SE", 0.05, -0.2,
        {"initial": 0.20, "primary": 0.45, "secondary": 0.30, "alternative_education": 0.05},
        (8, 16), 10, True, per_child=True,
    ),
    ServiceFamily(
        "water_outages", "WO", 0.03, 0.9,
        {"no_supply": 0.50, "low_pressure": 0.25, "pipe_burst": 0.15, "turbid_water": 0.10},
        (0, 23), 7, False,
    ),
    ServiceFamily(
        "waste_complaints", "WC", 0.03, 0.6,
        {"missed_collection": 0.45, "illegal_dump": 0.25, "overflowing_container": 0.20, "dead_animal": 0.10},
        (7, 21), 10, False,
    ),
    ServiceFamily(
        "police_reports", "PR", 0.06, 0.3,
        {"theft": 0.35, "robbery": 0.15, "assault": 0.15, "domestic_violence": 0.15, "public_disorder": 0.12,
         "traffic_accident": 0.08},
        (0, 23), 22, False,
    ),
)
# Small scales must still leave room for the planted faults (at most three per family file).
MIN_SERVICE_RECORDS = 12
SERVICE_COLUMNS = ("record_id", "occurred_at", "lon", "lat", "category")


def _hour_weights(family: ServiceFamily) -> np.ndarray:
    """Relative frequency of each local hour for a family: open hours only, busiest around the peak."""
    hours = np.arange(24)
    distance = np.minimum(np.abs(hours - family.peak_hour), 24 - np.abs(hours - family.peak_hour))
    weights = 1.0 + 2.0 * np.exp(-(distance**2) / 8.0)
    first, last = family.open_hours
    weights[(hours < first) | (hours > last)] = 0.0
    return weights / weights.sum()


def _month_start(month: str) -> tuple[np.datetime64, int]:
    """First instant of ``YYYY-MM`` and its number of days."""
    year, mon = (int(part) for part in month.split("-"))
    return np.datetime64(f"{month}-01T00:00:00", "s"), calendar.monthrange(year, mon)[1]


def _occurred_at(family: ServiceFamily, month: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Local timestamps inside ``month`` following the family's weekly and daily rhythm."""
    start, days = _month_start(month)
    day_numbers = np.arange(days)
    if family.weekdays_only:
        weekday = (start.astype("datetime64[D]") + day_numbers).astype(int)
        # 1970-01-01 was a Thursday: (days since epoch + 3) % 7 gives Monday = 0.
        day_numbers = day_numbers[(weekday + 3) % 7 < 5]
    day = rng.choice(day_numbers, size=n)
    hour = rng.choice(24, size=n, p=_hour_weights(family))
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    return np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s")


def _draw_services(
    geo: Geography, family: ServiceFamily, month: str, zone_stats: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """One month of one service family, sorted by time, with sequential record ids."""
    exposure = zone_stats["children" if family.per_child else "households"].to_numpy(dtype=float)
    weights = exposure * np.exp(family.deprivation_effect * zone_stats["deprivation"].to_numpy())
    total = max(MIN_SERVICE_RECORDS, int(rng.poisson(family.rate * exposure.sum())))
    counts = rng.multinomial(total, weights / weights.sum())
    lon, lat = _points_in_zones(geo, counts, rng)
    records = pd.DataFrame(
        {
            "occurred_at": _occurred_at(family, month, total, rng),
            "lon": lon,
            "lat": lat,
            "category": rng.choice(list(family.categories), size=total, p=list(family.categories.values())),
        }
    )
    records = records.sort_values(["occurred_at", "lon", "lat"], kind="stable").reset_index(drop=True)
    records.insert(0, "record_id", [f"{family.prefix}-{month}-{i:06d}" for i in range(1, total + 1)])
    return records


# ---------------------------------------------------------------------------------------------------------
# Sensors
# ---------------------------------------------------------------------------------------------------------

STATION_COUNT = 16
# Zongo gets no station, so part of the city is out of every sensor's range (as in the real network); one
# background station sits in Hampaturi.
UNMONITORED_MACRODISTRICT = "MD09"
BACKGROUND_MACRODISTRICT = "MD08"
# A station speaks for the zones within 3 km, as indicators/sensors.yaml assumes (max_distance_m).
STATION_REACH_M = 3000
METRES_PER_DEGREE = 111_320  # of latitude, and of longitude at the equator: close enough to site stations
PARAMETER_UNITS = {"pm25": "ug/m3", "pm10": "ug/m3", "no2": "ug/m3", "noise": "dBA"}
CITY_CENTRE = (-68.133, -16.500)
# The rim of the El Alto plateau just west of the valley: its traffic, dust and brick kilns drift downhill.
EL_ALTO_RIM = (-68.190, -16.500)


def _place_stations(geo: Geography, rng: np.random.Generator) -> pd.DataFrame:
    """16 stations: 15 over the urban zones plus one background site in Hampaturi, none in Zongo.

    The agency puts its first station anywhere in the valley and each next one in the zone that brings the most
    urban zones within STATION_REACH_M of a station (zone centroids), then, once every urban zone is in range,
    in the zone farthest from every station. Plain farthest-point spreading was at the mercy of small changes:
    it left 15 of the 165 zones out of range (the coverage gate allows 10%), and 25 once the zone borders were
    cleaned by a tenth of a millimetre (`_clean_coverage`), while this leaves the 8 rural zones and a few at the
    urban edge. Centroids rather than `point_on_surface`, because GEOS picks a zone's interior point from its
    vertices' latitudes: one vertex added on a border can move it across the zone.
    """
    rural = {BACKGROUND_MACRODISTRICT, UNMONITORED_MACRODISTRICT}
    urban = [z for z in geo.zones if z.macrodistrict_code not in rural]
    centres = shapely.centroid(np.asarray([z.polygon for z in urban], dtype=object))
    lon, lat = shapely.get_x(centres), shapely.get_y(centres)
    xy = np.column_stack([lon * np.cos(np.radians(lat.mean())), lat]) * METRES_PER_DEGREE
    distance = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    reach = distance <= STATION_REACH_M
    chosen = [int(rng.integers(len(urban)))]
    while len(chosen) < STATION_COUNT - 1:
        gain = (reach & ~reach[chosen].any(axis=0)).sum(axis=1)
        chosen.append(int(gain.argmax()) if gain.max() > 0 else int(distance[:, chosen].min(axis=1).argmax()))
    zones = [urban[i] for i in chosen]
    zones.append(next(z for z in geo.zones if z.macrodistrict_code == BACKGROUND_MACRODISTRICT))
    points = np.concatenate([_sample_in_polygon(z.polygon, 1, rng) for z in zones])
    has_no2 = np.zeros(STATION_COUNT, bool)
    has_no2[rng.permutation(STATION_COUNT)[: STATION_COUNT // 2]] = True
    has_noise = np.zeros(STATION_COUNT, bool)
    has_noise[rng.permutation(STATION_COUNT)[: STATION_COUNT // 2]] = True
    return pd.DataFrame(
        {
            "sensor_id": [f"MCA-{i:02d}" for i in range(1, STATION_COUNT + 1)],
            "name": [f"Estación {z.name}" for z in zones],
            "parameters": [
                [p for p, on in (("pm25", True), ("pm10", True), ("no2", a), ("noise", b)) if on]
                for a, b in zip(has_no2, has_noise, strict=True)
            ],
            "lon": np.round(points[:, 0], COORD_DECIMALS),
            "lat": np.round(points[:, 1], COORD_DECIMALS),
        }
    )


def _station_profile(stations: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Per-station base levels: dirtier near the centre and on the El Alto side."""
    lon, lat = stations["lon"].to_numpy(), stations["lat"].to_numpy()
    centrality = np.exp(-np.hypot(lon - CITY_CENTRE[0], lat - CITY_CENTRE[1]) / 0.025)
    el_alto = np.exp(-np.hypot(lon - EL_ALTO_RIM[0], lat - EL_ALTO_RIM[1]) / 0.04)
    n = len(stations)
    return pd.DataFrame(
        {
            "pm25": 20 + 14 * centrality + 12 * el_alto + rng.normal(0, 2, n),
            "pm10_ratio": rng.uniform(1.6, 2.3, n),
            "no2": 16 + 26 * centrality + rng.normal(0, 3, n),
            "noise": 59 + 8 * centrality + rng.uniform(0, 4, n),
        }
    )


def _traffic_cycle(local_hour: np.ndarray) -> np.ndarray:
    """Two rush hours (around 8:00 and 19:30) on a quiet night; about 0.6 at night and 1.5 at peaks."""
    return 0.6 + 0.8 * np.exp(-((local_hour - 8) ** 2) / 4) + 0.9 * np.exp(-((local_hour - 19.5) ** 2) / 6)


def _soften_peaks(values: np.ndarray, limit: float = 3.0, keep: float = 0.25) -> np.ndarray:
    """Compress the rare tail above ``limit`` times the median, smoothly (no flat tops that would look stuck).

    The pipeline calls a reading a spike at five times its sensor's median; natural data must stay below that
    so that the one planted spike is the only one.
    """
    ceiling = limit * np.median(values)
    return np.where(values > ceiling, ceiling * (values / ceiling) ** keep, values)


def _draw_readings(stations: pd.DataFrame, month: str, rng: np.random.Generator) -> pd.DataFrame:
    """Hourly readings of every parameter of every station for ``month`` (UTC hours)."""
    start, days = _month_start(month)
    hours = days * 24
    times = start + np.arange(hours).astype("timedelta64[h]")
    local_hour = (np.arange(hours) + UTC_OFFSET_HOURS) % 24
    traffic = _traffic_cycle(local_hour)
    # Day-to-day weather (wind, inversions) moves the whole city together: an AR(1) walk in log space.
    weather = np.zeros(days)
    for d in range(1, days):
        weather[d] = 0.7 * weather[d - 1] + rng.normal(0, 0.15)
    weather_hourly = np.exp(np.repeat(weather, 24))
    profile = _station_profile(stations, rng)

    frames = []
    for i, station in stations.iterrows():
        base = profile.loc[i]
        pm25 = _soften_peaks(base["pm25"] * traffic * weather_hourly * rng.lognormal(0, 0.15, hours))
        pm10 = _soften_peaks(pm25 * base["pm10_ratio"] * rng.lognormal(0, 0.08, hours))
        values = {
            "pm25": np.maximum(pm25, 3.0),
            "pm10": np.maximum(pm10, 5.0),
            "no2": np.maximum(_soften_peaks(base["no2"] * traffic * rng.lognormal(0, 0.2, hours)), 4.0),
            "noise": np.clip(base["noise"] + 12 * (traffic - 1) + rng.normal(0, 2, hours), 45, 90),
        }
        for parameter in station["parameters"]:
            frames.append(
                pd.DataFrame(
                    {
                        "sensor_id": station["sensor_id"],
                        "parameter": parameter,
                        "unit": PARAMETER_UNITS[parameter],
                        "observed_at": np.datetime_as_string(times, unit="s"),
                        "value": np.round(values[parameter], 1),
                    }
                )
            )
    readings = pd.concat(frames, ignore_index=True)
    readings["observed_at"] = readings["observed_at"] + "Z"
    readings["value"] = readings["value"].astype(object)
    readings = readings.sort_values(["sensor_id", "parameter", "observed_at"], kind="stable")
    return readings.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------
# Planted faults
# ---------------------------------------------------------------------------------------------------------

# Places well outside every zone: Lago Menor of Lake Titicaca, and El Alto just beyond the western edge.
OUTSIDE_PLACES = (
    ("Lake Titicaca (Lago Menor)", (-68.85, -68.72), (-16.32, -16.22)),
    ("El Alto, west of the municipal boundary", (-68.24, -68.20), (-16.53, -16.49)),
)
# Which service file gets which faults (all in the first month, so the list never depends on scale).
SERVICE_FAULTS = {
    "health_visits": ("duplicate", "duplicate", "missing_location"),
    "school_enrolments": ("outside_city",),
    "water_outages": ("missing_location", "outside_city"),
    "waste_complaints": ("duplicate", "missing_location"),
    "police_reports": ("outside_city",),
}
CENSUS_FAULTS = (
    ("duplicate", None), ("duplicate", None), ("duplicate", None),
    ("outside_city", None), ("outside_city", None), ("outside_city", None),
    ("missing_value", "water_source"), ("missing_value", "water_source"),
    ("missing_value", "rooms"), ("missing_value", "rooms"),
)
STUCK_HOURS = 30
GAP_HOURS = 12
# Absurd next to the ~20 ug/m3 around it, yet inside the physical range (0-500) so that only the spike rule,
# not the range check, can catch it.
SPIKE_VALUE = 480.0
NULL_READINGS = 3


def _fault(source: str, kind: str, record_id: str, field: str | None, detail: str, **extra) -> dict:
    return {"source": source, "kind": kind, "record_id": record_id, "field": field, "detail": detail, **extra}


def _outside_point(rng: np.random.Generator) -> tuple[float, float, str]:
    """A point far from every zone: in the lake or in El Alto."""
    place, (lon0, lon1), (lat0, lat1) = OUTSIDE_PLACES[int(rng.integers(len(OUTSIDE_PLACES)))]
    lon = round(float(rng.uniform(lon0, lon1)), COORD_DECIMALS)
    lat = round(float(rng.uniform(lat0, lat1)), COORD_DECIMALS)
    return lon, lat, place


def _plant_located_faults(
    table: pd.DataFrame, plan: Sequence[tuple[str, str | None]], id_column: str, source: str,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, list[dict]]:
    """Apply duplicate / outside_city / missing_location / missing_value faults to distinct rows of ``table``.

    Rows are picked without replacement so faults never overlap; duplicates copy an untouched row and sit
    right after it, so the first occurrence is the valid one.
    """
    rows = rng.choice(len(table), size=len(plan), replace=False)
    faults: list[dict] = []
    copies = []
    for row, (kind, field) in zip(rows, plan, strict=True):
        record_id = table.at[row, id_column]
        if kind == "duplicate":
            copies.append(row)
            detail = f"row {record_id} appears twice, identical; the first occurrence is the valid one"
        elif kind == "outside_city":
            lon, lat, place = _outside_point(rng)
            table.at[row, "lon"], table.at[row, "lat"] = lon, lat
            detail = f"located at ({lon}, {lat}) in {place}, outside every zone"
        elif kind == "missing_location":
            table.at[row, "lon"], table.at[row, "lat"] = np.nan, np.nan
            detail = "lon and lat are empty"
        else:
            table[field] = table[field].astype(object)
            table.at[row, field] = None
            detail = f"{field} is empty"
        faults.append(_fault(source, kind, record_id, field, detail))
    if copies:
        table = pd.concat([table, table.loc[copies]]).sort_index(kind="stable").reset_index(drop=True)
    return table, faults


def _plant_reading_faults(
    readings: pd.DataFrame, stations: pd.DataFrame, month: str, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[dict]]:
    """Freeze one station's pm25, add one absurd spike, cut a 12-hour gap and null a few values."""
    source = f"sensors/readings_{month}.json"
    hours = _month_start(month)[1] * 24
    sensor_ids = stations["sensor_id"].to_numpy()[rng.permutation(len(stations))]
    stuck_id, spike_id, gap_id = sensor_ids[:3]
    null_ids = sensor_ids[3 : 3 + NULL_READINGS]
    times = np.sort(readings["observed_at"].unique())
    faults: list[dict] = []

    def series(sensor_id: str, parameter: str) -> pd.Index:
        return readings.index[(readings["sensor_id"] == sensor_id) & (readings["parameter"] == parameter)]

    start = int(rng.integers(24, hours - 24 - STUCK_HOURS))
    pm25 = series(stuck_id, "pm25")
    stuck = pm25[start : start + STUCK_HOURS]
    value = readings.at[stuck[0], "value"]
    readings.loc[stuck, "value"] = value
    # The run must be exactly STUCK_HOURS long: nudge a neighbour that happens to read the same value.
    for neighbour in (pm25[start - 1], pm25[start + STUCK_HOURS]):
        if readings.at[neighbour, "value"] == value:
            readings.at[neighbour, "value"] = round(value + 0.1, 1)
    faults.append(_fault(
        source, "stuck_sensor", stuck_id, "value",
        f"pm25 stuck at {value} ug/m3 for {STUCK_HOURS} consecutive hours",
        parameter="pm25", start=times[start], end=times[start + STUCK_HOURS - 1], hours=STUCK_HOURS,
    ))

    hour = int(rng.integers(1, hours - 1))
    readings.at[series(spike_id, "pm25")[hour], "value"] = SPIKE_VALUE
    faults.append(_fault(
        source, "spike", spike_id, "value", f"single pm25 reading of {SPIKE_VALUE} ug/m3",
        parameter="pm25", observed_at=times[hour],
    ))

    for sensor_id in null_ids:
        parameters = stations.loc[stations["sensor_id"] == sensor_id, "parameters"].iloc[0]
        parameter = parameters[int(rng.integers(len(parameters)))]
        hour = int(rng.integers(0, hours))
        readings.at[series(sensor_id, parameter)[hour], "value"] = None
        faults.append(_fault(
            source, "missing_value", sensor_id, "value", f"{parameter} value is null",
            parameter=parameter, observed_at=times[hour],
        ))

    start = int(rng.integers(24, hours - 24 - GAP_HOURS))
    window = list(times[start : start + GAP_HOURS])
    readings = readings[~((readings["sensor_id"] == gap_id) & readings["observed_at"].isin(window))]
    faults.append(_fault(
        source, "gap", gap_id, None, f"no readings of any parameter for {GAP_HOURS} consecutive hours",
        start=times[start], end=times[start + GAP_HOURS - 1], hours=GAP_HOURS,
    ))
    return readings.reset_index(drop=True), faults


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------

OUTPUT_DIRS = ("boundaries", "census", "services", "sensors", "survey", "_manifest")


def _json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _write_json_lines(path: Path, head: str, items: Sequence[object], tail: str) -> None:
    """Write a JSON document with one array item per line: compact, yet diff- and grep-friendly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(_json(item) for item in items)
    path.write_text(f"{head}\n{body}\n{tail}\n", encoding="utf-8")


def _write_feature_collection(path: Path, features: list[dict]) -> None:
    _write_json_lines(path, '{"features":[', features, '],"type":"FeatureCollection"}')


def _format_coords(values: pd.Series) -> pd.Series:
    """Fixed 6-decimal text, empty for missing coordinates."""
    numbers = values.to_numpy(dtype=float)
    text = np.char.mod(f"%.{COORD_DECIMALS}f", np.nan_to_num(numbers)).astype(object)
    text[np.isnan(numbers)] = ""
    return pd.Series(text, index=values.index)


def _write_csv(path: Path, table: pd.DataFrame, columns: Sequence[str]) -> None:
    """Write ``columns`` as text: coordinates with fixed decimals, missing values as empty fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame(index=table.index)
    for column in columns:
        if column in ("lon", "lat"):
            out[column] = _format_coords(table[column])
        else:
            values = table[column]
            out[column] = values.astype(object).where(values.notna(), "").astype(str)
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _write_zones(path: Path, geo: Geography) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {
                "zone_code": z.code, "zone_name": z.name, "district_code": z.district_code,
                "district_name": z.district_name, "macrodistrict_code": z.macrodistrict_code,
                "macrodistrict_name": z.macrodistrict_name,
            },
            "geometry": shapely.geometry.mapping(z.polygon),
        }
        for z in geo.zones
    ]
    _write_feature_collection(path, _plain(features))


def _plain(obj: object) -> object:
    """Tuples to lists (so JSON output is stable) and numpy scalars to Python numbers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _write_stations(path: Path, stations: pd.DataFrame) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"sensor_id": s.sensor_id, "name": s.name, "parameters": list(s.parameters)},
            "geometry": {"type": "Point", "coordinates": [float(s.lon), float(s.lat)]},
        }
        for s in stations.itertuples()
    ]
    _write_feature_collection(path, features)


def _number_or_null(value: object) -> float | None:
    return None if pd.isna(value) else float(value)


def _write_readings(path: Path, readings: pd.DataFrame) -> None:
    items = [
        {"sensor_id": s, "parameter": p, "unit": u, "observed_at": t, "value": _number_or_null(v)}
        for s, p, u, t, v in zip(
            readings["sensor_id"], readings["parameter"], readings["unit"], readings["observed_at"],
            readings["value"], strict=True,
        )
    ]
    _write_json_lines(path, "[", items, "]")


# ---------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per source (and month), so adding a month never changes the census."""
    return np.random.default_rng([seed, *stream])


def _check_arguments(scale: float, seed: int, months: Sequence[str]) -> None:
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not months:
        raise ValueError("at least one month is needed")
    for month in months:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise ValueError(f"months must look like YYYY-MM, got {month!r}")
    if len(set(months)) != len(months):
        raise ValueError("months must not repeat")


@dataclass
class _Output:
    """Where files go, plus what has been written so far (row counts and planted faults) for the manifest."""

    root: Path
    counts: dict[str, int]
    faults: list[dict]

    def wrote(self, relative: str, rows: int, what: str) -> None:
        self.counts[relative] = rows
        log.info("%-40s %8d %s", relative, rows, what)


def generate(
    landing_dir: Path,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    months: tuple[str, ...] = DEFAULT_MONTHS,
    earlier_censuses: dict[str, tuple[float, float]] | None = None,
) -> dict:
    """Write the sample city under ``landing_dir`` (``BIENESTAR_HOME/landing/<city>``); return the manifest.

    ``earlier_censuses`` (default ``EARLIER_CENSUSES``) maps a census year to the range of the per-zone
    deprivation shift of that census; each is written under ``census/<year>/``, with no planted faults.

    Earlier output in the generator's own sub-folders is removed first. ``scale`` multiplies household and
    service-record counts (at least one household per zone); the map, the station count and the planted faults
    do not change with it. The manifest (seed, scale, months, row counts per file and the planted faults) is
    also written to ``_manifest/planted_faults.json``. Progress is logged at INFO level, one line per file.
    """
    _check_arguments(scale, seed, months)
    out = _Output(Path(landing_dir), {}, [])
    for name in OUTPUT_DIRS:
        shutil.rmtree(out.root / name, ignore_errors=True)

    geo = build_geography()
    _write_zones(out.root / "boundaries/zones.geojson", geo)
    out.wrote("boundaries/zones.geojson", len(geo.zones), f"zones in {len(geo.districts)} districts")
    zone_stats, households, persons = _write_census(out, geo, scale, seed)
    _write_survey(out, geo, households, persons, seed)
    for vintage, shift in (EARLIER_CENSUSES if earlier_censuses is None else earlier_censuses).items():
        _write_earlier_census(out, geo, scale, seed, vintage, shift)
    _write_services(out, geo, zone_stats, seed, months)
    _write_sensors(out, geo, seed, months)

    manifest = {
        "city": CITY,
        "seed": seed,
        "scale": scale,
        "months": list(months),
        "geography_seed": GEOGRAPHY_SEED,
        "counts": out.counts,
        "faults": out.faults,
    }
    path = out.root / "_manifest/planted_faults.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(manifest), sort_keys=True, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    log.info("%-40s %8d planted faults", "_manifest/planted_faults.json", len(out.faults))
    return manifest


def _write_census(out: _Output, geo: Geography, scale: float, seed: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw and write households and persons; return the per-zone figures service volumes depend on, and the
    households and persons as drawn (before any planted fault: the survey samples the population, not the file)."""
    rng = _rng(seed, 1)
    zones = _zone_table(geo, scale, rng)
    households = _draw_households(geo, zones, rng)
    persons = _draw_persons(households, rng)
    households["head_name"] = persons["full_name"].to_numpy()[_first_member_rows(households)]
    zone_stats = _zone_stats(zones, households, persons)
    drawn = households.copy()
    source = "census/households.csv"
    households, planted = _plant_located_faults(
        households, CENSUS_FAULTS, "household_id", source, _rng(seed, 2)
    )
    out.faults += planted
    _write_csv(out.root / source, households, HOUSEHOLD_COLUMNS)
    out.wrote(source, len(households), "households")
    _write_csv(out.root / "census/persons.csv", persons, PERSON_COLUMNS)
    out.wrote("census/persons.csv", len(persons), "persons")
    return zone_stats, drawn, persons


# The household survey (docs/survey.md): a stratified two-stage sample of the census year's households. Strata are
# the macrodistricts; SURVEY_PSUS zones (the primary sampling units) are drawn at random in each, then
# SURVEY_HOUSEHOLDS households at random in each zone drawn (all of a smaller zone): a fixed-size sample (432
# households; a real survey's size is set by the precision it needs), 2% of the households at the default scale.
# The design weight is the inverse of the two selection probabilities. A household answers with probability
# SURVEY_RESPONSE - SURVEY_RESPONSE_SLOPE x deprivation (the poorest answer less, as in real surveys):
# non-respondents are listed with responded = 0 and no answers, so weights can be adjusted for them.
SURVEY_PSUS = 4
SURVEY_HOUSEHOLDS = 12
SURVEY_RESPONSE, SURVEY_RESPONSE_SLOPE = 0.9, 0.04
# Income per capita (Bs a month): log-normal, falling with the household's latent deprivation.
SURVEY_LOG_INCOME, SURVEY_INCOME_SLOPE, SURVEY_INCOME_SD = 7.2, 0.45, 0.55
# Satisfaction with the neighbourhood, 1 to 10, per topic: an intercept per topic, lower where deprivation is
# higher; "don't know" (empty) in SURVEY_DONT_KNOW of answers.
SURVEY_TOPICS = {"water": 6.8, "transport": 5.2, "safety": 4.6, "green_spaces": 5.5, "waste_collection": 6.1}
SURVEY_TOPIC_SLOPE, SURVEY_TOPIC_SD, SURVEY_DONT_KNOW = 0.9, 1.6, 0.04
SURVEY_HOUSEHOLD_COLUMNS = (
    "household_id", "stratum", "psu", "zone_code", "design_weight", "responded", "interviewer", "wall_material",
    "floor_material", "roof_material", "rooms", "bedrooms", "water_source", "sanitation", "electricity",
    "cooking_fuel", "members", "income_per_capita", *(f"satisfaction_{t}" for t in SURVEY_TOPICS),
)
SURVEY_PERSON_COLUMNS = (
    "person_id", "household_id", "sex", "age", "literate", "attends_school", "years_schooling", "health_insurance",
)


def _write_survey(out: _Output, geo: Geography, households: pd.DataFrame, persons: pd.DataFrame,
                  seed: int) -> None:
    """The survey's households and persons (survey/households.csv, survey/persons.csv), with its own ids."""
    rng = _rng(seed, 10)
    strata: dict[str, list[str]] = {}
    for zone in geo.zones:
        strata.setdefault(zone.macrodistrict_code, []).append(zone.code)
    chosen = []
    for stratum, zone_codes in sorted(strata.items()):
        picked = rng.choice(sorted(zone_codes), size=min(SURVEY_PSUS, len(zone_codes)), replace=False)
        for zone in sorted(picked):
            members = households.index[households["zone_code"] == zone].to_numpy()
            take = rng.choice(members, size=min(SURVEY_HOUSEHOLDS, len(members)), replace=False)
            weight = len(zone_codes) / len(picked) * len(members) / len(take)
            chosen += [(row, stratum, zone, weight) for row in sorted(take)]
    rows = np.array([c[0] for c in chosen])
    sample = households.loc[rows].reset_index(drop=True)
    sample["stratum"] = [c[1] for c in chosen]
    sample["psu"] = sample["zone_code"]
    sample["design_weight"] = np.round([c[3] for c in chosen], 6)
    n = len(sample)
    deprivation = sample["deprivation"].to_numpy()
    responded = rng.random(n) < np.clip(SURVEY_RESPONSE - SURVEY_RESPONSE_SLOPE * deprivation, 0.5, 0.98)
    sample["responded"] = np.where(responded, "1", "0")
    sample["interviewer"] = _pick(rng, MALE_NAMES + FEMALE_NAMES, n)   # a direct identifier: dropped at landing
    income = np.exp(SURVEY_LOG_INCOME - SURVEY_INCOME_SLOPE * deprivation + rng.normal(0, SURVEY_INCOME_SD, n))
    sample["income_per_capita"] = np.round(income, 2)
    for topic, intercept in SURVEY_TOPICS.items():
        score = np.clip(np.round(intercept - SURVEY_TOPIC_SLOPE * deprivation + rng.normal(0, SURVEY_TOPIC_SD, n)),
                        1, 10).astype(int).astype(str).astype(object)
        score[rng.random(n) < SURVEY_DONT_KNOW] = ""
        sample[f"satisfaction_{topic}"] = score
    answers = [c for c in SURVEY_HOUSEHOLD_COLUMNS if c not in ("stratum", "psu", "zone_code", "design_weight",
                                                                  "responded", "household_id", "interviewer")]
    sample[answers] = sample[answers].astype(object).where(
        pd.DataFrame({c: responded for c in answers}, index=sample.index), "")
    census_ids = sample["household_id"].to_numpy()
    sample["household_id"] = [f"S{i:05d}" for i in range(1, n + 1)]   # the survey's own ids: no link to the census
    new_id = dict(zip(census_ids, sample["household_id"], strict=True))
    members = persons[persons["household_id"].isin(set(census_ids[responded]))].copy()
    members["household_id"] = members["household_id"].map(new_id)
    members = members.sort_values(["household_id", "person_id"], kind="stable").reset_index(drop=True)
    members["person_id"] = [f"SP{i:06d}" for i in range(1, len(members) + 1)]
    _write_csv(out.root / "survey/households.csv", sample, SURVEY_HOUSEHOLD_COLUMNS)
    out.wrote("survey/households.csv", n, f"survey households ({int(responded.sum())} answered)")
    _write_csv(out.root / "survey/persons.csv", members, SURVEY_PERSON_COLUMNS)
    out.wrote("survey/persons.csv", len(members), "survey persons")


def _write_earlier_census(out: _Output, geo: Geography, scale: float, seed: int, vintage: str,
                          shift: tuple[float, float]) -> None:
    """An earlier census of the same city: the same zones, every one poorer by its own shift."""
    rng = _rng(seed, 9, int(vintage))
    zones = _zone_table(geo, scale, rng)
    zones["deprivation"] = zones["deprivation"] + rng.uniform(shift[0], shift[1], len(zones))
    households = _draw_households(geo, zones, rng)
    persons = _draw_persons(households, rng)
    households["head_name"] = persons["full_name"].to_numpy()[_first_member_rows(households)]
    for name, frame, columns, label in [("households", households, HOUSEHOLD_COLUMNS, "households"),
                                        ("persons", persons, PERSON_COLUMNS, "persons")]:
        source = f"census/{vintage}/{name}.csv"
        _write_csv(out.root / source, frame, columns)
        out.wrote(source, len(frame), f"{label} ({vintage} census)")


def _write_services(
    out: _Output, geo: Geography, zone_stats: pd.DataFrame, seed: int, months: Sequence[str]
) -> None:
    """One file per family and month; faults go into the first month only."""
    for m, month in enumerate(months):
        year, mon = (int(part) for part in month.split("-"))
        for f, family in enumerate(SERVICE_FAMILIES):
            records = _draw_services(geo, family, month, zone_stats, _rng(seed, 3, f, year, mon))
            source = f"services/{family.name}_{month}.csv"
            if m == 0:
                plan = [(kind, None) for kind in SERVICE_FAULTS.get(family.name, ())]
                records, planted = _plant_located_faults(records, plan, "record_id", source, _rng(seed, 4, f))
                out.faults += planted
            _write_csv(out.root / source, records, SERVICE_COLUMNS)
            out.wrote(source, len(records), "records")


def _write_sensors(out: _Output, geo: Geography, seed: int, months: Sequence[str]) -> None:
    """Stations, then hourly readings per month; faults go into the first month only."""
    stations = _place_stations(geo, _rng(seed, 5))
    _write_stations(out.root / "sensors/stations.geojson", stations)
    out.wrote("sensors/stations.geojson", len(stations), "stations")
    for m, month in enumerate(months):
        year, mon = (int(part) for part in month.split("-"))
        readings = _draw_readings(stations, month, _rng(seed, 6, year, mon))
        source = f"sensors/readings_{month}.json"
        if m == 0:
            readings, planted = _plant_reading_faults(readings, stations, month, _rng(seed, 7))
            out.faults += planted
        _write_readings(out.root / source, readings)
        out.wrote(source, len(readings), "hourly readings")


def _first_member_rows(households: pd.DataFrame) -> np.ndarray:
    """Row in ``persons`` of each household's head (persons are listed household by household, head first)."""
    members = households["members"].to_numpy()
    return np.cumsum(members) - members


def _zone_stats(zones: pd.DataFrame, households: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Households, school-age residents and deprivation per zone: what service volumes scale with."""
    zone_of_person = persons["household_id"].map(households.set_index("household_id")["zone_code"])
    school_age = persons["age"].between(4, 19)
    children = school_age.groupby(zone_of_person).sum()
    stats = zones[["zone_code", "households", "deprivation"]].copy()
    # +1 keeps a zone without children able to receive an (adult education) enrolment.
    stats["children"] = stats["zone_code"].map(children).fillna(0).to_numpy() + 1
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m cities.la_paz_demo.generate --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m cities.la_paz_demo.generate",
        description=(
            "Generate the synthetic sample city la_paz_demo, shaped like La Paz, Bolivia: zone boundaries "
            "(9 macrodistricts, 23 districts, ~165 zones), a census of households and persons, monthly "
            "public service records (health visits, school enrolments, water outages, waste complaints, "
            "police reports) and hourly air-quality/noise readings from 16 stations, plus a manifest of the "
            "faults planted on purpose (duplicates, points outside the city, missing values, a stuck sensor, "
            "a spike and a gap). Same seed and scale give byte-identical files. Formats: docs/landing.md."
        ),
    )
    default_out = None
    if os.environ.get("BIENESTAR_HOME"):
        default_out = Path(os.environ["BIENESTAR_HOME"]) / "landing" / CITY
    parser.add_argument(
        "--out", type=Path, default=default_out, required=default_out is None,
        help="landing folder to (re)write, normally BIENESTAR_HOME/landing/la_paz_demo "
        "(the default when BIENESTAR_HOME is set)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0,
        help="multiplies household and service-record counts; 1.0 gives ~20k households (default 1.0)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED,
        help="random seed for people, records and readings; the map never changes (default %(default)s)",
    )
    parser.add_argument(
        "--months", nargs="+", default=list(DEFAULT_MONTHS), metavar="YYYY-MM",
        help="months of service records and sensor readings (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        manifest = generate(args.out, scale=args.scale, seed=args.seed, months=tuple(args.months))
    except ValueError as error:
        parser.error(str(error))
    rows, faults = sum(manifest["counts"].values()), len(manifest["faults"])
    print(f"wrote {rows} rows and {faults} planted faults to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
