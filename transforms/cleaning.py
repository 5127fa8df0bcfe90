"""Row-level cleaning shared by every staging table: duplicates, typing and quarantine reasons.

A problem with one record never stops a run: the record is either *rejected* (kept out of staging, e.g. a
duplicate or a point outside the city) or *flagged* (kept, with the bad field set to NULL so that indicators
needing it leave it out). Both go to `audit.quarantine` with the file, the row, the field and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LINEAGE = ["_source", "_delivery", "_sha256", "_row", "_loaded_for", "_undeclared_columns", "city"]


@dataclass(frozen=True)
class Field:
    """How to type one delivered text field: `int`, `float`, `bool` (1/0), `code` (one of `codes`), `timestamp`
    or `text`.

    An invalid value rejects the record when `required`, else flags it. A missing value does the same unless
    `non_response` is true: then a blank is a normal answer ("not answered", as census yes/no items have at a
    low rate), kept as NULL and left out of the denominators of the indicators that need it, not quarantined.
    """

    kind: str
    required: bool = False
    non_response: bool = False
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class Cleaned:
    """The records that go on to staging and the quarantine entries (rejected and flagged) for the rest."""

    frame: pd.DataFrame
    quarantine: list[dict] = field(default_factory=list)

    def reject(self, mask: pd.Series, *, reason: str | pd.Series, record_id: str, fld: str | None = None) -> None:
        """Move the rows under `mask` to quarantine as rejected."""
        self._record(mask, reason=reason, record_id=record_id, fld=fld, action="rejected")
        self.frame = self.frame[~mask.reindex(self.frame.index, fill_value=False)]

    def flag(self, mask: pd.Series, *, reason: str | pd.Series, record_id: str, fld: str | None = None) -> None:
        """Record the rows under `mask` as flagged (the caller decides what is nulled)."""
        self._record(mask, reason=reason, record_id=record_id, fld=fld, action="flagged")

    def _record(self, mask, *, reason, record_id, fld, action) -> None:
        mask = mask.reindex(self.frame.index, fill_value=False)
        hits = self.frame[mask]
        reasons = reason.reindex(hits.index) if isinstance(reason, pd.Series) else pd.Series(reason, index=hits.index)
        for idx, row in hits.iterrows():
            self.quarantine.append({
                "delivery": row.get("_delivery"),
                "row": int(row["_row"]),
                "record_id": None if pd.isna(row.get(record_id)) else str(row.get(record_id)),
                "field": fld,
                "reason": str(reasons.loc[idx]),
                "action": action,
                "record": offending_values(row, fld),
            })


COORDINATES = ("lon", "lat")
WHERE = ("lon", "lat", "location", "area_id")  # what a location problem is about


def offending_values(row: pd.Series, fld: str | None) -> dict | None:
    """What quarantine keeps of a record: the offending field's value only, not the record (its other fields may
    identify someone); for a location problem the place, with coordinates to 3 decimals (about 100 m)."""
    if not fld:
        return None
    names = WHERE if fld in WHERE else (fld,)
    kept = {}
    for name in names:
        if name in row.index and name not in LINEAGE:
            value = row[name]
            kept[name] = None if pd.isna(value) else _generalised(name, value)
    return kept or None


def _generalised(name: str, value):
    if name not in COORDINATES:
        return value
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return value  # an unreadable coordinate is itself the problem reported


def drop_duplicates(cleaned: Cleaned, key: str, content: list[str]) -> None:
    """Reject repeats of an id: an exact copy of an earlier row, or the same id with other content.

    The first delivery of an id wins, in (delivery, row) order, so the rule is stable across reruns.
    """
    frame = cleaned.frame.sort_values(["_delivery", "_row"])
    repeat = frame[key].notna() & frame.duplicated(subset=[key], keep="first")
    cleaned.frame = frame
    if not repeat.any():
        return
    # the reasons are written for the repeats only: a census has millions of rows and a handful of repeats
    ids = frame.loc[repeat, key].unique()
    firsts = frame[frame[key].isin(ids) & ~repeat].set_index(key)
    repeats = frame[repeat]
    exact = frame.duplicated(subset=[key, *content], keep="first")[repeat]
    where = ("row " + repeats[key].map(firsts["_row"]).astype("Int64").astype(str) + " of "
             + repeats[key].map(firsts["_delivery"]).astype(str))
    reason = pd.Series(np.where(exact, "duplicate: exact copy of " + where, f"duplicate {key}: differs from " + where),
                       index=repeats.index)
    cleaned.reject(repeat, reason=reason, record_id=key, fld=key)


def type_fields(cleaned: Cleaned, fields: dict[str, Field], record_id: str) -> None:
    """Parse each field to its type; missing or invalid values reject or flag the record as the field says."""
    for name, spec in fields.items():
        text = cleaned.frame[name].astype("string").str.strip()
        value, valid = _parse(text, spec)
        missing = text.isna() | (text == "")
        invalid = ~missing & ~valid
        problem = invalid if spec.non_response else missing | invalid
        # reasons for the rows with a problem only (a census field has millions of values and a few problems)
        bad = text[problem]
        reason = pd.Series(np.where(missing[problem], "missing value",
                                    "invalid value " + bad.fillna("").map(repr) + _expected(spec)),
                           index=bad.index, dtype=object)
        # recorded before the field is typed, so quarantine keeps the value as delivered
        if spec.required:
            cleaned.reject(problem, reason=reason, record_id=record_id, fld=name)
        else:
            cleaned.flag(problem, reason=reason + " (record kept, field left empty)", record_id=record_id, fld=name)
        # aligned on the index (rejected rows are gone); reindexed, or a frame every row of which was rejected
        # would take the typed column's index back and bring them back as empty rows
        cleaned.frame = cleaned.frame.assign(**{name: value.reindex(cleaned.frame.index)})


def _expected(spec: Field) -> str:
    if spec.kind == "code":
        return f" (expected one of {', '.join(spec.codes)})"
    if spec.minimum is not None or spec.maximum is not None:
        return f" (expected a {spec.kind} in [{spec.minimum}, {spec.maximum}])"
    return f" (expected {spec.kind})"


def _parse(text: pd.Series, spec: Field) -> tuple[pd.Series, pd.Series]:
    """The typed values (NA where missing or invalid) and a mask of valid values."""
    if spec.kind in ("int", "float"):
        number = pd.to_numeric(text, errors="coerce")
        ok = number.notna()
        if spec.kind == "int":
            ok &= (number % 1 == 0).fillna(False)
        if spec.minimum is not None:
            ok &= number >= spec.minimum
        if spec.maximum is not None:
            ok &= number <= spec.maximum
        ok = ok.fillna(False).astype(bool)
        typed = number.where(ok).astype("Int64" if spec.kind == "int" else "Float64")
    elif spec.kind == "bool":
        ok = text.isin(["1", "0"]).fillna(False).astype(bool)
        typed = text.map({"1": True, "0": False}).where(ok).astype("boolean")
    elif spec.kind == "code":
        ok = text.isin(spec.codes).fillna(False).astype(bool)
        typed = text.where(ok).astype("string")
    elif spec.kind == "timestamp":
        stamp = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
        ok = stamp.notna()
        typed = stamp.dt.tz_localize(None)
    else:
        ok = text.notna() & (text != "")
        typed = text
    return typed, ok.fillna(False).astype(bool)
