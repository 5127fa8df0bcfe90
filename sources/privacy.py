"""Privacy at the door: only the columns a source declares are kept, ids are replaced by keyed hashes, direct
identifiers are dropped, all before storage; and what leaves as a spreadsheet cannot run as a formula."""

from __future__ import annotations

import hmac
from collections.abc import Collection

import pandas as pd


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace each id by the first 20 hex digits of HMAC-SHA256(key, id); missing ids stay missing.

    A keyed hash (not a plain hash) so that nobody without the key can confirm a guessed id. 80 bits keep
    collisions negligible for any city's population while staying readable in a table.
    """
    # One HMAC per distinct id (a person's household id repeats for every member; issue 14), OpenSSL's one-shot
    # hmac.digest in a plain loop: ~2 s per million distinct ids here. Missing ids (NA, NaN, "") stay missing.
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    texts = [str(v) for v in distinct.tolist()]
    digests = pd.array([hmac.digest(key, t.encode("utf-8"), "sha256").hex()[:20] if t else None for t in texts]
                       + [None], dtype="string")
    return pd.Series(digests[codes], index=values.index, dtype="string", name=values.name)


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
