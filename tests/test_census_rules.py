"""transforms/census.py's field rules at their limits, and which repeats of an id are exact copies."""

import pandas as pd
import pytest

from transforms.census import HOUSEHOLD_FIELDS, PERSON_FIELDS, stage_households, stage_persons

HOUSEHOLD = {"wall_material": "brick", "floor_material": "cement", "roof_material": "calamina", "rooms": "3",
             "bedrooms": "2", "water_source": "piped_inside", "sanitation": "sewer", "electricity": "1",
             "cooking_fuel": "gas_piped", "members": "4"}
PERSON = {"sex": "F", "age": "30", "literate": "1", "attends_school": "0", "years_schooling": "12",
          "health_insurance": "1"}


def households(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"city": "c", "household_id": f"h{n}", "location": "placed", "area_id": "Z1",
                          **HOUSEHOLD, **row, "_delivery": "census/households.csv", "_row": n}
                         for n, row in enumerate(rows, start=1)])


def persons(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"city": "c", "person_id": f"p{n}", "household_id": "h1", **PERSON, **row,
                          "_delivery": "census/persons.csv", "_row": n} for n, row in enumerate(rows, start=1)])


def test_the_limits_are_the_documented_ones():
    limits = {name: (f.minimum, f.maximum) for name, f in {**HOUSEHOLD_FIELDS, **PERSON_FIELDS}.items()
              if f.kind == "int"}
    assert limits == {"rooms": (0, 50), "bedrooms": (0, 50), "members": (1, 60), "age": (0, 120),
                      "years_schooling": (0, 30)}


@pytest.mark.parametrize(("field", "low", "high"), [("rooms", 0, 50), ("bedrooms", 0, 50), ("members", 1, 60)])
def test_household_numbers_at_and_past_their_limits(field, low, high):
    values = [low - 1, low, high, high + 1]
    cleaned = stage_households(households([{field: str(v)} for v in values]))
    kept = cleaned.frame.set_index("household_id")[field]
    named = {q["record_id"] for q in cleaned.quarantine if q["field"] == field}
    assert named == {"h1", "h4"}  # below and above: quarantined naming the field
    assert kept.get("h2") == low and kept.get("h3") == high
    if HOUSEHOLD_FIELDS[field].required:  # members: a household without a size is rejected
        assert set(kept.index) == {"h2", "h3"}
    else:  # rooms, bedrooms: the household is kept with the field empty
        assert kept[["h1", "h4"]].isna().all()


@pytest.mark.parametrize(("field", "low", "high"), [("age", 0, 120), ("years_schooling", 0, 30)])
def test_person_numbers_at_and_past_their_limits(field, low, high):
    staged = stage_households(households([{}])).frame
    cleaned = stage_persons(persons([{field: str(v)} for v in (low - 1, low, high, high + 1)]), staged)
    kept = cleaned.frame.set_index("person_id")[field]
    assert {q["record_id"] for q in cleaned.quarantine if q["field"] == field} == {"p1", "p4"}
    assert kept.get("p2") == low and kept.get("p3") == high


def test_a_repeated_id_is_an_exact_copy_or_a_different_record():
    """h1 three times: row 2 repeats row 1 exactly (at another row of the file), row 3 has another size."""
    raw = households([{}, {}, {"members": "5"}]).assign(household_id="h1")
    reasons = {q["row"]: q["reason"] for q in stage_households(raw).quarantine}
    assert reasons == {2: "duplicate: exact copy of row 1 of census/households.csv",
                       3: "duplicate household_id: differs from row 1 of census/households.csv"}
    staged = stage_households(households([{}])).frame
    people = persons([{}, {}, {"age": "31"}]).assign(person_id="p1")
    reasons = {q["row"]: q["reason"] for q in stage_persons(people, staged).quarantine}
    assert reasons == {2: "duplicate: exact copy of row 1 of census/persons.csv",
                       3: "duplicate person_id: differs from row 1 of census/persons.csv"}


@pytest.mark.parametrize(("field", "expected"), [
    ({"minimum": 0}, " (expected a int in [0, None])"),
    ({"maximum": 9}, " (expected a int in [None, 9])"),
    ({"minimum": 0, "maximum": 9}, " (expected a int in [0, 9])"),
    ({}, " (expected int)"),
])
def test_the_quarantine_says_what_a_number_should_have_been(field, expected):
    from transforms.cleaning import Field, _expected

    assert _expected(Field("int", **field)) == expected
