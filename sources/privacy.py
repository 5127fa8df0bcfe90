"""Privacy at the door: direct identifiers are dropped and ids are replaced by keyed hashes before storage."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace each id by the first 20 hex digits of HMAC-SHA256(key, id); missing ids stay missing.

    A keyed hash (not a plain hash) so that nobody without the key can confirm a guessed id. 80 bits keep
    collisions negligible for any city's population while staying readable in a table.
    """
    def digest(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) or value == "":
            return None
        return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:20]

    return values.map(digest).astype("string")


def strip_identifiers(frame: pd.DataFrame, drop: list[str], hashed: list[str], key: bytes) -> pd.DataFrame:
    """Drop direct identifiers and pseudonymise ids (columns absent from the frame are ignored)."""
    out = frame.drop(columns=[c for c in drop if c in frame.columns])
    for column in hashed:
        if column in out.columns:
            out[column] = pseudonymise(out[column], key)
    return out
