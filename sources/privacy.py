"""Privacy at the door: only the columns a source declares are kept, ids are replaced by keyed hashes, direct
identifiers are dropped, all before storage; and what leaves as a spreadsheet cannot run as a formula."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

import pandas as pd


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace each id by the first 20 hex digits of HMAC-SHA256(key, id); missing ids stay missing.

    A keyed hash (not a plain hash) so that nobody without the key can confirm a guessed id. 80 bits keep
    collisions negligible for any city's population while staying readable in a table.
    """
    # One HMAC per distinct id (a person's household id repeats for every member; issue 14), spread back to
    # the rows by code. Missing ids (NA, NaN, "") stay missing.
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    digests = pd.array([*hmac_hex20([str(v) for v in distinct.tolist()], key), None], dtype="string")
    return pd.Series(digests[codes], index=values.index, dtype="string", name=values.name)


def hmac_hex20(texts: list[str], key: bytes) -> list[str | None]:
    """HMAC-SHA256(key, text) of each text (UTF-8), its first 20 hex digits; None for an empty text.

    Worked out by DuckDB in an in-memory database from its `sha256`, with HMAC's definition (RFC 2104):
    H((K0 ^ opad) || H((K0 ^ ipad) || text)), K0 the key padded to SHA-256's 64-byte block (hashed first if
    longer). It gives Python's `hmac.digest` exactly (tests/test_privacy.py) at about three times the speed on
    two cores: a national census has millions of distinct ids, and Python's loop was most of its landing
    (benchmarks/README.md). The ids never leave this process's memory.
    """
    import duckdb
    import pyarrow as pa

    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
    with duckdb.connect() as con:
        con.register("ids", pa.table({"id": pa.array(texts, type=pa.string())}))
        out = con.sql("SELECT CASE WHEN id = '' THEN NULL ELSE "
                      "substr(sha256($outer::BLOB || unhex(sha256($inner::BLOB || encode(id)))), 1, 20) END "
                      "FROM ids", params={"outer": outer, "inner": inner}).to_arrow_table()
    return out.column(0).to_pylist()


def strip_identifiers(frame: pd.DataFrame, drop: list[str], hashed: list[str], key: bytes) -> pd.DataFrame:
    """Drop direct identifiers and pseudonymise ids (columns absent from the frame are ignored)."""
    out = frame.drop(columns=[c for c in drop if c in frame.columns])
    for column in hashed:
        if column in out.columns:
            out[column] = pseudonymise(out[column], key)
    return out


def keep_declared(frame: pd.DataFrame, declared: Collection[str]) -> tuple[pd.DataFrame, list[str]]:
    """The frame with only the columns its source declares (an allow list), and the names of the others.

    A delivery that grows a column (a phone number, an id card number) must not carry it into storage because
    nobody listed it for removal: what is not declared is dropped, and only its name is kept, for the lineage.
    """
    undeclared = sorted(str(c) for c in frame.columns if c not in set(declared))
    return frame.drop(columns=undeclared), undeclared


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) get a leading
    apostrophe, for CSV and XLSX exports (OWASP "CSV injection"); numbers and other cells are left as they are."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
            out[column] = values.where(~risky.astype(bool), "'" + values.astype("string"))
    return out
