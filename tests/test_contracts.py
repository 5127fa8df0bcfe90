"""Source contracts (sources/contracts.py): batch-level faults stop a delivery, row-level faults go to quarantine."""

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from bienestar import warehouse
from cities import City
from sources.contracts import (
    ContractError,
    check_delivery,
    detect_decimal,
    parse_contract,
    read_source,
    source_contracts,
    type_delivery,
)
from sources.files import DeliveryError, land, read_delivery

SPEC = {
    "connector": "file",
    "path": "census/tabla.csv",
    "record_id": "codigo",
    "fields": {
        "codigo": {"type": "code", "pattern": "^[0-9]{6}$"},
        "valor": {"type": "float", "min": 0, "max": 100, "unit": "percent"},
        "personas": {"type": "int", "min": 0, "unit": "persons", "required": False},
    },
}


def contract(**changes):
    return parse_contract("tabla", {**SPEC, **changes}, "city.yaml: sources.tabla")


def write_csv(path: Path, rows: list[str], header: str = "codigo;valor;personas", encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


GOOD_ROWS = ["020101;14,3;757431", "020105;36,0;885825", "010101;20,5;300000", "010102;40,25;12000"]


# ---------------------------------------------------------------------------------------------------------------
# The contract itself
# ---------------------------------------------------------------------------------------------------------------

def test_contract_from_city_config(tmp_path):
    city = City(name="c", folder=tmp_path, config={"sources": {"tabla": {**SPEC, "root": "city", "decimal": ","}}})
    parsed = source_contracts(city)["tabla"]
    assert parsed.table == "raw.tabla"
    assert parsed.location(city) == tmp_path / "census" / "tabla.csv"
    assert parsed.read_options == {}
    assert parsed.fields["valor"].unit == "percent" and parsed.fields["personas"].required is False
    assert parsed.origin == f"{tmp_path / 'city.yaml'}: sources.tabla"


def test_unknown_unit_in_the_contract_is_refused():
    spec = {**SPEC, "fields": {**SPEC["fields"], "valor": {"type": "float", "unit": "porciento"}}}
    with pytest.raises(ContractError) as err:
        parse_contract("tabla", spec, "city.yaml: sources.tabla")
    assert "city.yaml: sources.tabla.fields.valor: unknown unit 'porciento'" in str(err.value)
    assert "percent" in str(err.value)  # the known units are listed


@pytest.mark.parametrize(("change", "message"), [
    ({"fields": {"a": {"type": "decimal"}}}, "fields.a: unknown type 'decimal'"),
    ({"fields": {"a": {"type": "float", "minimum": 0}}}, "fields.a: unknown key(s) minimum"),
    ({"fields": {"a": {"type": "code", "pattern": "([0-9"}}}, "is not a regular expression"),
    ({"fields": {"a": {"type": "text", "min": 0}}}, "min/max apply to int and float fields"),
    ({"connector": "ckan"}, "connector 'ckan' is not available yet"),
    ({"format": "dbf"}, "unknown format 'dbf'"),
    ({"decimal": ";"}, "decimal must be"),
    ({"encodign": "utf-8"}, "unknown key(s) encodign"),
])
def test_bad_contracts_name_the_key(change, message):
    with pytest.raises(ContractError) as err:
        parse_contract("tabla", {**SPEC, **change}, "city.yaml: sources.tabla")
    assert message in str(err.value)


# ---------------------------------------------------------------------------------------------------------------
# Batch-level faults: nothing is loaded
# ---------------------------------------------------------------------------------------------------------------

def test_missing_column_names_file_and_field_and_loads_nothing(tmp_path):
    landing = tmp_path / "landing"
    path = write_csv(landing / "census" / "tabla.csv", ["020101;757431"], header="codigo;personas")
    rules = contract()
    with warehouse.session(tmp_path / "w.duckdb") as con:
        with pytest.raises(ContractError) as err:
            land(con, city="c", landing=landing, relative=rules.path, source="tabla", table=rules.table,
                 loaded_for="2024", required=[], read_options=rules.read_options,
                 check=lambda frame, where: check_delivery(frame, rules, where))
        assert not warehouse.table_exists(con, "raw.tabla")
    message = str(err.value)
    assert str(path) in message and "missing field(s) 'valor'" in message
    assert "a number in [0, 100], in percent" in message and "Nothing was loaded" in message


def test_a_type_failing_for_most_rows_stops_the_batch(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["020101;alto;1", "020105;bajo;2", "010101;12;3"])
    frame = read_delivery(path)
    with pytest.raises(ContractError) as err:
        check_delivery(frame, contract(), str(path))
    message = str(err.value)
    assert f"{path}: field 'valor': 2 of 3 values are not a number" in message
    assert "row 1: 'alto'" in message and "More than 50%" in message


def test_a_required_field_left_empty_in_most_rows_stops_the_batch(tmp_path):
    path = write_csv(tmp_path / "t.csv", [";1;1", ";2;2", "020101;3;3"])
    with pytest.raises(ContractError, match="field 'codigo': 2 of 3 values are not a code matching"):
        check_delivery(read_delivery(path), contract(), str(path))


def test_an_unknown_unit_in_the_delivery_stops_the_batch(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["S1;pm25;12;ug/m3", "S2;pm25;13;ug/m3", "S3;pm25;11;mg/m3"],
                     header="sensor;parametro;valor;unidad")
    rules = parse_contract("lecturas", {"connector": "file", "path": "r.csv", "fields": {
        "sensor": {"type": "text"}, "parametro": {"type": "code", "values": ["pm25"]}, "valor": {"type": "float"},
        "unidad": {"type": "unit", "units": ["ug/m3"]},
    }}, "city.yaml: sources.lecturas")
    with pytest.raises(ContractError) as err:
        type_delivery(read_delivery(path), rules, str(path))
    message = str(err.value)
    assert f"{path}: field 'unidad': unknown unit(s) 'mg/m3' in 1 row(s) (first: row 3)" in message
    assert "expected one of ug/m3" in message


def test_an_empty_delivery_stops_the_batch(tmp_path):
    path = write_csv(tmp_path / "t.csv", [])
    with pytest.raises(ContractError, match="the delivery holds no records"):
        check_delivery(read_delivery(path), contract(), str(path))


def test_wrong_encoding_declared_in_the_contract_is_a_clear_error(tmp_path):
    city = City(name="c", folder=tmp_path, config={})
    write_csv(tmp_path / "census" / "tabla.csv", ["020101;14,3;1", "020102;Peñas;2"], encoding="latin-1")
    rules = contract(root="city", encoding="utf-8")
    with pytest.raises(DeliveryError) as err:
        read_source(rules, city)
    assert "tabla.csv: line 3" in str(err.value) and "declare `encoding: cp1252`" in str(err.value)


# ---------------------------------------------------------------------------------------------------------------
# Row-level faults: quarantined, the rest continue
# ---------------------------------------------------------------------------------------------------------------

def test_one_bad_value_quarantines_its_row_with_row_and_field(tmp_path):
    path = write_csv(tmp_path / "t.csv", [*GOOD_ROWS, "020106;n/d;1000", "20107;5;10", "020108;7;-3"])
    cleaned = type_delivery(read_delivery(path), contract(), str(path))
    assert cleaned.frame["codigo"].tolist() == ["020101", "020105", "010101", "010102", "020108"]
    assert cleaned.frame["valor"].tolist() == [14.3, 36.0, 20.5, 40.25, 7.0]
    assert pd.isna(cleaned.frame["personas"].iloc[-1])       # not required: kept, field emptied, flagged
    entries = {(e["row"], e["field"]): e for e in cleaned.quarantine}
    assert set(entries) == {(5, "valor"), (6, "codigo"), (7, "personas")}
    assert entries[(5, "valor")]["action"] == "rejected"
    assert "invalid value 'n/d'" in entries[(5, "valor")]["reason"]
    assert entries[(5, "valor")]["record_id"] == "020106" and entries[(5, "valor")]["delivery"] == str(path)
    assert "'20107'" in entries[(6, "codigo")]["reason"] and "^[0-9]{6}$" in entries[(6, "codigo")]["reason"]
    assert entries[(7, "personas")]["action"] == "flagged"


def test_out_of_range_is_a_row_fault(tmp_path):
    path = write_csv(tmp_path / "t.csv", [*GOOD_ROWS, "020106;140,0;10"])
    cleaned = type_delivery(read_delivery(path), contract(), str(path))
    assert len(cleaned.frame) == 4
    [entry] = cleaned.quarantine
    assert entry["row"] == 5 and entry["field"] == "valor" and "[0, 100]" in entry["reason"]


@pytest.mark.parametrize(("declared", "rows", "expected"), [
    (",", ["020101;12,5;1", "020105;1.234,5;2"], [12.5, 1234.5]),   # declared, with a thousands separator
    (None, ["020101;12,5;1", "020105;36;2"], [12.5, 36.0]),          # detected: a comma between digits, no point
    (".", ["020101;12.5;1", "020105;36;2"], [12.5, 36.0]),
])
def test_decimal_comma_declared_or_detected(tmp_path, declared, rows, expected):
    path = write_csv(tmp_path / "t.csv", rows)
    rules = contract(decimal=declared, fields={**SPEC["fields"], "valor": {"type": "float", "min": 0}})
    frame = read_delivery(path)
    assert frame["valor"].tolist()[0] == rows[0].split(";")[1]        # raw keeps the text
    cleaned = type_delivery(frame, rules, str(path))
    assert cleaned.frame["valor"].tolist() == expected and cleaned.quarantine == []


def test_detection_keeps_the_point_when_the_file_uses_points(tmp_path):
    frame = read_delivery(write_csv(tmp_path / "t.csv", ["020101;12.5;1", "020105;36,5;2"]))
    assert detect_decimal(frame, contract()) == "."
    cleaned = type_delivery(frame, contract(), "t.csv")
    assert cleaned.frame["valor"].tolist() == [12.5]
    assert [e["row"] for e in cleaned.quarantine] == [2]


def test_xlsx_text_cells_with_decimal_commas(tmp_path):
    path = tmp_path / "libro.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["codigo", "valor", "personas"])
    for row in (["020101", "14,3", 757431], ["020105", "36,0", 885825]):
        book.active.append(row)
    book.save(path)
    cleaned = type_delivery(read_delivery(path), contract(decimal=","), str(path))
    assert cleaned.frame["valor"].tolist() == [14.3, 36.0]
    assert cleaned.frame["personas"].tolist() == [757431, 885825]


def test_geometry_field_flags_unreadable_wkt(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text('id,wkt\nA,"POINT (1 2)"\nB,"POLYGON ((0 0, 1"\nC,\n', encoding="utf-8")
    rules = parse_contract("g", {"connector": "file", "path": "g.csv", "fields": {
        "id": {"type": "text"}, "wkt": {"type": "geometry", "required": False, "non_response": True},
    }}, "city.yaml: sources.g")
    cleaned = type_delivery(read_delivery(path), rules, str(path))
    assert len(cleaned.frame) == 3
    assert cleaned.frame["wkt"].isna().tolist() == [False, True, True]
    [entry] = cleaned.quarantine
    assert entry["row"] == 2 and entry["field"] == "wkt" and "expected a WKT geometry" in entry["reason"]
