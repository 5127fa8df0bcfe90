"""A published snapshot planted by hand: the contract's tables (bienestar/contract.py) with the types recorded in
tests/fixtures/marts_schema.json for the current schema version, filled from dicts (a missing column is NULL),
and the planners' views written as publication writes them. For tests of readers of the snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from bienestar import contract
from bienestar.views import create_views

SCHEMA = Path(__file__).parent / "fixtures" / "marts_schema.json"


def plant(path: Path, rows: dict[str, list[dict]]) -> Path:
    """Write `rows` (table -> list of row dicts) as a snapshot at `path`; every contract table that `publish`
    copies is created (empty when not given), optional ones only when given."""
    recorded = json.loads(SCHEMA.read_text())[str(contract.SCHEMA_VERSION)]
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{path}' AS snapshot")
        con.execute("CREATE SCHEMA snapshot.marts")
        for table, spec in contract.TABLES.items():
            if table in ("change_basis",) or (spec.optional and table not in rows):
                continue
            columns = recorded[table]
            con.execute(f"CREATE TABLE snapshot.marts.{table} ("
                        + ", ".join(f'"{name}" {kind}' for name, kind in columns) + ")")
            for row in rows.get(table, []):
                unknown = set(row) - {name for name, _ in columns}
                assert not unknown, f"{table}: no column {unknown}"
                names = [name for name, _ in columns]
                con.execute(f"INSERT INTO snapshot.marts.{table} VALUES ({', '.join('?' * len(names))})",
                            [row.get(name) for name in names])
        create_views(con)
        con.execute("DETACH snapshot")
    return path
