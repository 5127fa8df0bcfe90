"""Privacy at the door and on the way out: an allow list of columns per source (a delivery that grows identifying
columns stores none of them anywhere), keyed pseudonyms, and exports that cannot run as spreadsheet formulas."""

import io

import duckdb
import pandas as pd
import pytest

from bienestar import cli, settings, warehouse
from cities import load_city
from sources.privacy import keep_declared, neutralise_formulas, pseudonymise, strip_identifiers

KEY = b"test-key"


def test_keep_declared_drops_what_is_not_listed_and_names_it():
    frame = pd.DataFrame({"b": [1], "telefono": ["70012345"], "a": [2], "ci_jefe": ["4812345"]})
    kept, undeclared = keep_declared(frame, ["a", "b", "not_delivered"])
    assert list(kept.columns) == ["b", "a"] and undeclared == ["ci_jefe", "telefono"]
    assert keep_declared(frame, frame.columns)[1] == []


def test_pseudonyms_are_keyed_and_stable():
    ids = pd.Series(["H1", "H2", "H1", None, ""])
    out = pseudonymise(ids, KEY)
    assert out[0] == out[2] != out[1] and out[0] != pseudonymise(ids, b"other-key")[0]
    assert len(out[0]) == 20 and int(out[0], 16) >= 0  # 80 bits, hex
    assert out[3] is pd.NA and out[4] is pd.NA
    import hashlib
    import hmac

    assert out[0] == hmac.new(KEY, b"H1", hashlib.sha256).hexdigest()[:20]  # HMAC-SHA256, not a plain hash


def test_each_distinct_id_is_hashed_once_and_every_row_gets_its_own_pseudonym():
    """pseudonymise hashes the distinct ids and spreads them back: the same answer as hashing row by row, on a
    shuffled index, with repeats, gaps and numbers."""
    import hashlib
    import hmac

    ids = pd.Series(["P2", "P1", None, "P2", 7, "", "P1", float("nan")], index=[9, 3, 5, 1, 0, 2, 8, 4], name="pid")
    out = pseudonymise(ids, KEY)
    expected = [None if v is None or v == "" or v != v else hmac.new(KEY, str(v).encode(), hashlib.sha256)
                .hexdigest()[:20] for v in ids]
    assert out.name == "pid" and list(out.index) == [9, 3, 5, 1, 0, 2, 8, 4]
    assert [None if v is pd.NA else v for v in out] == expected


def test_strip_identifiers_drops_and_hashes():
    frame = pd.DataFrame({"household_id": ["H1"], "head_name": ["Ana"], "rooms": ["2"]})
    out = strip_identifiers(frame, ["head_name", "absent"], ["household_id"], KEY)
    assert list(out.columns) == ["household_id", "rooms"] and out["household_id"][0] != "H1"


@pytest.mark.parametrize(("cell", "exported"), [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("Z001", "Z001"), ("a=b", "a=b"), ("", ""),
])
def test_formulas_are_neutralised_in_text_cells(cell, exported):
    out = neutralise_formulas(pd.DataFrame({"text": [cell], "number": [-5]}))
    assert out["text"][0] == exported and out["number"][0] == -5  # numbers are not text: left as they are


def test_neutralise_keeps_missing_values_missing():
    out = neutralise_formulas(pd.DataFrame({"text": pd.Series(["=1", None], dtype="string")}))
    assert out["text"][0] == "'=1" and out["text"].isna()[1]


@pytest.fixture
def sample_home(tmp_path, monkeypatch):
    from bienestar.demo import prepare_demo

    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("la_paz_demo")
    prepare_demo(city, scale=0.05)
    return tmp_path, city


def test_a_delivery_with_extra_identifying_columns_stores_none_of_them(sample_home):
    """The issue's case: a census file that grew `telefono` and `ci_jefe` (and some rows go to quarantine)."""
    from sources.deliveries import land_census
    from transforms.staging import stage_census

    home, city = sample_home
    path = settings.paths().landing_for(city.name) / city.config["census"]["households"]["file"]
    households = pd.read_csv(path, dtype=str, keep_default_na=False)
    households["telefono"] = [f"+591-TEL-7{n:07d}" for n in range(len(households))]  # markers found nowhere else
    households["ci_jefe"] = [f"CEDULA-{n:07d}-LP" for n in range(len(households))]
    households.loc[:4, "rooms"] = "many"  # quarantined rows: their records must not carry the new columns either
    households.to_csv(path, index=False)

    land_census(city, city.vintage)
    stage_census(city, city.vintage)
    con = duckdb.connect(str(settings.paths().warehouse_for(city.name)), read_only=True)
    try:
        columns = con.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                              "WHERE data_type = 'VARCHAR'").fetchall()
        assert not [c for c in columns if c[2] in ("telefono", "ci_jefe")]
        found = {f"{s}.{t}.{c}": con.execute(
                     f'SELECT count(*) FROM "{s}"."{t}" WHERE "{c}" LIKE \'%TEL-7%\' OR "{c}" LIKE \'%CEDULA-%\''
                 ).fetchone()[0] for s, t, c in columns}
        assert {where: n for where, n in found.items() if n} == {}  # no value of theirs anywhere
        lineage = con.execute("SELECT DISTINCT _undeclared_columns FROM raw.census_households WHERE city = ? "
                              "AND _loaded_for = ?", [city.name, city.vintage]).fetchall()
        assert lineage == [("address,ci_jefe,head_name,telefono",)]  # by name only (the dropped identifiers too)
        records = [r[0] for r in con.execute(
            "SELECT record FROM audit.quarantine WHERE source = 'census/households' AND field = 'rooms' "
            "AND reason LIKE 'invalid value ''many''%'").fetchall()]
        assert records == ['{"rooms": "many"}'] * 5  # the offending value as delivered, nothing else of the record
    finally:
        con.close()


def test_quarantine_csv_export_cannot_run_formulas(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BIENESTAR_HOME", str(tmp_path))
    city = load_city("la_paz_demo")
    entry = {"delivery": "services/x.csv", "row": 3, "record_id": '=HYPERLINK("http://evil","click")',
             "field": "record_id", "reason": "duplicate id", "action": "rejected", "record": None}
    with warehouse.session(city) as con:
        warehouse.replace_quarantine(con, city.name, "staging", "services/x", warehouse.quarantine_frame([entry]))
    assert cli.main(["quarantine", "--city", city.name, "--format", "csv"]) == 0
    exported = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str)
    assert exported["record_id"][0] == "'=HYPERLINK(\"http://evil\",\"click\")"


def test_quarantine_keeps_the_offending_value_and_a_coarse_place():
    from transforms.cleaning import offending_values

    row = pd.Series({"record_id": "R7", "occurred_at": "2024-06-03T10:00", "lon": "-68.123456", "lat": "-16.5049",
                     "category": "violence", "_delivery": "services/x.csv", "_row": 7})
    assert offending_values(row, "lon") == {"lon": -68.123, "lat": -16.505}  # about 100 m, no other field
    assert offending_values(row, "occurred_at") == {"occurred_at": "2024-06-03T10:00"}
    assert offending_values(row, "record_id") == {"record_id": "R7"}
    assert offending_values(row, None) is None and offending_values(row, "_delivery") is None
    assert offending_values(row.replace({"-68.123456": "x68"}), "lon") == {"lon": "x68", "lat": -16.505}
    census = pd.Series({"household_id": "h", "area_id": None, "location": "outside", "rooms": "3"})
    assert offending_values(census, "lon") == {"location": "outside", "area_id": None}


def test_a_numeric_id_is_pseudonymised_like_any_other():
    """Ids read as numbers (12.0) are ids too: only missing values stay missing."""
    out = pseudonymise(pd.Series([12.0, float("nan"), "12.0"], dtype=object), KEY)
    assert out[0] == out[2] and pd.isna(out[1]) and len(out[0]) == 20


def test_formulas_are_neutralised_in_mixed_columns():
    """A column holding text and numbers (object dtype, not a string column) is still checked."""
    out = neutralise_formulas(pd.DataFrame({"mixed": ["=HYPERLINK(1)", 5, None]}))
    assert out["mixed"].tolist()[:2] == ["'=HYPERLINK(1)", 5] and pd.isna(out["mixed"].tolist()[2])


@pytest.mark.parametrize("key", [b"", b"k", b"x" * 63, b"x" * 64, b"x" * 65, "clé-ñandú".encode() * 20])
def test_the_sql_hmac_is_rfc_2104_for_every_key_length(key):
    """HMAC worked out in DuckDB equals Python's hmac for keys shorter than, equal to and longer than SHA-256's
    64-byte block (a longer key is hashed first), for non-ASCII ids, and keeps each id in its place among many
    (200,000: DuckDB splits them across threads)."""
    import hashlib
    import hmac

    from sources.privacy import hmac_hex20

    texts = ["H1", "año-ñ", "Ωμέγα", " space ", "a" * 300, ""] + [f"P{i:08d}" for i in range(200_000)]
    got = hmac_hex20(texts, key)
    expected = [hmac.new(key, t.encode("utf-8"), hashlib.sha256).hexdigest()[:20] if t else None for t in texts]
    assert got == expected
