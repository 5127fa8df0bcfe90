"""The planners' contract (bienestar/contract.py): recorded per version, no reserved words, errors that name the
column. The snapshot itself is checked against it in tests/test_pipeline_e2e.py."""

import json
from pathlib import Path

import duckdb
import pytest

from bienestar import contract

FIXTURE = Path(__file__).parent / "fixtures" / "marts_schema.json"


def test_the_contract_is_the_one_recorded_for_its_version():
    """Renaming, removing or reordering a column of the contract without a new SCHEMA_VERSION (and its recorded
    schema) fails here; the types are checked on a real snapshot end to end."""
    recorded = json.loads(FIXTURE.read_text())[str(contract.SCHEMA_VERSION)]
    assert set(recorded) == set(contract.TABLES)
    for table, columns in recorded.items():
        assert [c for c, _ in columns] == list(contract.TABLES[table].columns), table


def test_no_table_or_column_is_a_reserved_word():
    with duckdb.connect() as con:
        reserved = {r[0] for r in con.execute("SELECT keyword_name FROM duckdb_keywords() "
                                              "WHERE keyword_category IN ('reserved', 'column_name')").fetchall()}
    reserved |= {"partition", "column", "position", "order", "group", "check", "user"}  # standard SQL, BI tools
    names = {*contract.TABLES, *(c for t in contract.TABLES.values() for c in t.columns)}
    assert not names & reserved


def test_every_column_says_what_it_means():
    for name, table in contract.TABLES.items():
        assert table.comment, name
        assert all(meaning.strip() for meaning in table.columns.values()), name


@pytest.mark.parametrize(("present", "message"), [
    (["city", "area_id"], "missing level, depth, name, parent_id, population, geometry_wkt"),
    ([*contract.TABLES["areas"].columns][1:], "missing city"),
])
def test_a_table_missing_a_promised_column_is_named(present, message):
    with pytest.raises(contract.ContractError, match=f"marts.areas does not match .*{message}"):
        contract.select_list("areas", present)


def test_extra_columns_are_left_out_in_the_contracts_order():
    present = ["scratch", *reversed(contract.TABLES["dimensions"].columns)]
    assert contract.select_list("dimensions", present) == '"city", "dimension_id", "name_es", "name_en", ' \
                                                          '"display_order", "in_index"'


def test_the_docs_command_explains_itself(capsys):
    assert contract.main([]) == 2
    assert "python -m bienestar.contract docs SNAPSHOT.duckdb > docs/marts.md" in capsys.readouterr().err
