"""The second, real city: INE's municipal census tables for Bolivia (cities/bolivia_municipal), loaded through the
file connectors and contracts into raw, then staged; checked against published figures."""

import shutil
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
import shapely
import yaml

from cities import City, load_city
from indicators.catalogue import load_catalogue
from indicators.engine import load_spec
from sources.census_tables import census_contracts, load_census_tables, load_indicator_catalogue
from sources.contracts import ContractError, read_source
from sources.files import read_delivery
from transforms.census_tables import blank_not_asked, in_stored_units, table_values

CITY = load_city("bolivia_municipal")
DATA = CITY.folder / "data"
RAW_TABLES = ("raw.census_indicator_tables", "raw.census_nbi_tables", "raw.municipal_boundaries")
STAGING_TABLES = ("staging.areas", "staging.area_indicator_values")


def run_pipeline(home: Path, city: City = CITY) -> tuple[dict, dict]:
    """load_census_tables then stage_census_tables with BIENESTAR_HOME at `home`."""
    from transforms.census_tables import stage_census_tables

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(home))
        return load_census_tables(city), stage_census_tables(city)


def read_table(home: Path, table: str) -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse" / "bolivia_municipal.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = tmp_path_factory.mktemp("bolivia-home")
    counts, report = run_pipeline(home)
    return home, counts, report


def value_of(home: Path, area_id: str, indicator_id: str, period: str) -> pd.Series:
    values = read_table(home, "staging.area_indicator_values")
    [row] = values[(values["area_id"] == area_id) & (values["indicator_id"] == indicator_id)
                   & (values["period"] == period)].to_dict("records")
    return pd.Series(row)


# ---------------------------------------------------------------------------------------------------------------
# The city's configuration
# ---------------------------------------------------------------------------------------------------------------

def test_catalogue_maps_exactly_the_17_labels_of_the_table():
    catalogue = load_indicator_catalogue(CITY)
    delivered = set(pd.read_csv(DATA / "census_indicators_2012_2024.csv", dtype=str)["indicador"])
    assert len(delivered) == 17
    assert set(catalogue["label"].dropna()) == delivered
    assert catalogue["indicator_id"].is_unique and len(catalogue) == 18  # the 17 and NBI
    indicators, dimensions = load_catalogue(CITY.folder / "indicators.yaml")  # the project's catalogue format
    assert set(indicators["indicator_id"]) == set(catalogue["indicator_id"])
    spec = load_spec(CITY.index_spec_path)
    assert set(spec.indicator_ids) <= set(catalogue["indicator_id"])


def test_every_bundled_delivery_meets_its_contract():
    for name, contract in census_contracts(CITY).items():
        frame = read_source(contract, CITY)
        assert len(frame) == {"census_indicators": 5831, "nbi_population": 343, "municipalities": 344}[name]


def test_topojson_reader_matches_gdal_on_the_real_map():
    ours = read_delivery(DATA / "municipalities.topo.json", layer="mun")
    assert len(ours) == 344 and ours["geometry_wkt"].isna().sum() == 4
    gdal = gpd.read_file(DATA / "municipalities.topo.json", layer="mun")  # drops the 4 features without geometry
    merged = ours.dropna(subset=["geometry_wkt"]).merge(
        pd.DataFrame({"codigo": gdal["codigo"], "gdal": gdal.geometry.to_wkt()}), on="codigo")
    assert len(merged) == 340
    assert (merged["geometry_wkt"] == merged["gdal"]).all()
    assert ours["codigo"].str.fullmatch(r"[0-9]{6}").all()  # leading zeros kept


# ---------------------------------------------------------------------------------------------------------------
# Load and staging against published facts
# ---------------------------------------------------------------------------------------------------------------

def test_raw_holds_the_tables_as_delivered_with_lineage(loaded):
    home, counts, _ = loaded
    assert counts == {"census_indicators": 5831, "nbi_population": 343, "municipalities": 344,
                      "municipalities_without_geometry": 4}
    raw = read_table(home, "raw.census_nbi_tables")
    la_paz = raw[raw["codigo"] == "020101"].iloc[0]
    assert la_paz["nbi_12"] == "14.319205" and la_paz["poblacion"] == "757431"
    assert la_paz["_delivery"] == "data/nbi_population.csv" and la_paz["_loaded_for"] == "2024"
    assert la_paz["_source"] == "nbi_population" and la_paz["city"] == "bolivia_municipal"
    assert len(la_paz["_sha256"]) == 64 and la_paz["_row"] == 72


def test_published_nbi_figures(loaded):
    home, *_ = loaded
    # INE: La Paz (020101) 14.3 % -> 7.24 %, El Alto (020105) 36.0 % -> 16.87 %; stored as shares.
    assert round(value_of(home, "020101", "nbi", "2012")["value"] * 100, 1) == 14.3
    assert round(value_of(home, "020101", "nbi", "2024")["value"] * 100, 2) == 7.24
    assert round(value_of(home, "020105", "nbi", "2012")["value"] * 100, 1) == 36.0
    assert round(value_of(home, "020105", "nbi", "2024")["value"] * 100, 2) == 16.87
    latest = value_of(home, "020101", "nbi", "2024")
    assert latest["unit"] == "share" and latest["population"] == 757431
    assert pd.isna(value_of(home, "020101", "nbi", "2012")["population"])  # the table gives 2024 population only
    parity = value_of(home, "020105", "adolescent_parity", "2012")  # not a percentage: stored as delivered
    assert parity["value"] == 0.2 and parity["unit"] == "children_per_woman"
    water = value_of(home, "020101", "improved_water", "2024")
    assert water["value"] == 0.97 and water["_row"] > 0 and water["_field"] == "2024"


def test_municipalities_and_departments(loaded):
    home, _, report = loaded
    areas = read_table(home, "staging.areas")
    assert list(areas.columns) == ["city", "area_id", "level", "depth", "name", "parent_id", "geometry_wkt"]
    municipalities = areas[areas["level"] == "municipio"].set_index("area_id")
    departments = areas[areas["level"] == "departamento"].set_index("area_id")
    assert len(municipalities) == 343 and report["areas_by_level"] == {"municipio": 343, "departamento": 9}
    assert municipalities.loc["020101", "name"] == "Nuestra Señora De La Paz"
    assert municipalities.loc["020101", "parent_id"] == "02" and municipalities["depth"].eq(0).all()
    assert departments["name"].to_dict() == {
        "01": "Chuquisaca", "02": "La Paz", "03": "Cochabamba", "04": "Oruro", "05": "Potosí", "06": "Tarija",
        "07": "Santa Cruz", "08": "Beni", "09": "Pando"}
    assert departments["parent_id"].isna().all() and departments["depth"].eq(1).all()
    # A department is the union of its municipalities: it covers each of them.
    la_paz_department = shapely.from_wkt(departments.loc["02", "geometry_wkt"])
    el_alto = shapely.from_wkt(municipalities.loc["020105", "geometry_wkt"])
    assert la_paz_department.contains(el_alto.representative_point())
    assert la_paz_department.area == pytest.approx(
        shapely.union_all(shapely.from_wkt(municipalities[municipalities["parent_id"] == "02"]["geometry_wkt"]
                                           .dropna().tolist())).area, rel=1e-4)


def test_every_municipality_with_figures_has_a_polygon_or_is_reported(loaded):
    home, _, report = loaded
    values = read_table(home, "staging.area_indicator_values")
    areas = read_table(home, "staging.areas")
    with_figures = set(values["area_id"])
    with_polygon = set(areas.loc[areas["geometry_wkt"].notna() & (areas["level"] == "municipio"), "area_id"])
    assert with_figures - with_polygon == set(report["without_polygon"]) == {"050405", "051204", "080901"}
    assert report["boundary_features_without_geometry"] == ["040803", "050405", "070708", "070709"]
    quarantine = read_table(home, "audit.quarantine")
    flagged = quarantine[quarantine["reason"].str.contains("cannot be mapped")]
    assert set(flagged["record_id"]) == {"050405", "051204", "080901"}
    assert flagged.set_index("record_id").loc["050405", "row"] == 82  # the feature without geometry, by position
    repaired = quarantine[quarantine["reason"].str.startswith("invalid polygon")]
    assert set(repaired["record_id"]) == {"071101", "021701", "051501"}
    assert shapely.from_wkt(areas.set_index("area_id").loc["021701", "geometry_wkt"]).is_valid


def test_indicators_not_asked_in_2012_are_missing_not_zero(loaded):
    home, _, report = loaded
    assert report["not_asked"] == ["first_birth_before_20 2012", "health_coverage 2012",
                                   "mobile_phone_households 2012"]
    coverage = value_of(home, "020101", "health_coverage", "2012")
    assert pd.isna(coverage["value"]) and "every area reports exactly 0" in coverage["note"]
    assert value_of(home, "020101", "health_coverage", "2024")["value"] == 0.777
    tourism = read_table(home, "staging.area_indicator_values").query(
        "indicator_id == 'tourism_employment' and period == '2012'")
    assert (tourism["value"] == 0).sum() == 12  # real zeros in some municipalities stay zeros


def test_values_table_shape(loaded):
    home, _, report = loaded
    values = read_table(home, "staging.area_indicator_values")
    assert len(values) == report["indicator_values"] == 343 * 17 * 2 + 343 * 2
    assert not values.duplicated(subset=["area_id", "indicator_id", "period"]).any()
    assert set(values["period"]) == {"2012", "2024"}
    shares = values[values["unit"] == "share"]["value"].dropna()
    assert shares.between(0, 1).all()


def test_loading_twice_gives_identical_tables(loaded):
    home, *_ = loaded  # loaded once by the fixture; a second load and staging must change nothing
    first = {t: read_table(home, t) for t in (*RAW_TABLES, *STAGING_TABLES, "audit.quarantine")}
    assert all(len(frame) for frame in first.values())
    run_pipeline(home)
    for table, frame in first.items():
        pd.testing.assert_frame_equal(read_table(home, table), frame, obj=table)


def test_a_broken_table_stops_the_load_before_anything_is_written(loaded, tmp_path):
    home, *_ = loaded
    before = {t: read_table(home, t) for t in RAW_TABLES}
    folder = tmp_path / "bolivia_municipal"
    shutil.copytree(CITY.folder, folder)
    nbi = pd.read_csv(folder / "data" / "nbi_population.csv", dtype=str).drop(columns=["nbi_24"])
    nbi.to_csv(folder / "data" / "nbi_population.csv", index=False)
    config = yaml.safe_load((folder / "city.yaml").read_text(encoding="utf-8"))
    broken = City(name="bolivia_municipal", folder=folder, config=config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIENESTAR_HOME", str(home))
        with pytest.raises(ContractError) as err:
            load_census_tables(broken)
    assert str(folder / "data" / "nbi_population.csv") in str(err.value)
    assert "missing field(s) 'nbi_24'" in str(err.value)
    for table, frame in before.items():  # the good tables read before the broken one were not written either
        pd.testing.assert_frame_equal(read_table(home, table), frame, obj=table)


# ---------------------------------------------------------------------------------------------------------------
# The pieces, on small frames computed by hand
# ---------------------------------------------------------------------------------------------------------------

def test_long_table_with_period_and_value_columns_and_units():
    catalogue = pd.DataFrame({"indicator_id": ["water", "parity"], "label": ["Agua (%)", None],
                              "unit": ["percent", "children_per_woman"]})
    frame = pd.DataFrame({"area": ["A", "A", "B", "B"], "ind": ["Agua (%)", "parity", "Agua (%)", "parity"],
                          "year": ["2024"] * 4, "v": [50.0, 0.4, 0.0, 0.0], "_delivery": "t.csv",
                          "_row": [1, 2, 3, 4]})
    spec = {"shape": "long", "area": "area", "indicator": "ind", "period": "year", "value": "v"}
    values, not_asked = blank_not_asked(table_values(frame, spec, catalogue))
    # water 2024: 50 and 0, not all zero -> kept; parity 2024: 0.4 and 0 -> kept.
    assert not_asked == []
    stored = in_stored_units(values, catalogue).set_index(["area_id", "indicator_id"])
    assert stored.loc[("A", "water"), "value"] == 0.5 and stored.loc[("A", "water"), "unit"] == "share"
    assert stored.loc[("A", "parity"), "value"] == 0.4 and stored.loc[("A", "parity"), "unit"] == "children_per_woman"
    # Every area 0 for water -> not asked: NULL with a note.
    values, not_asked = blank_not_asked(table_values(frame.assign(v=[0.0, 0.4, 0.0, 0.1]), spec, catalogue))
    assert not_asked == [("water", "2024")]
    assert values.loc[values["indicator_id"] == "water", "value"].isna().all()
