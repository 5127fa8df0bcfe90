"""reports.numbers: every printing rule against strings written out by hand, in both languages.

Rounding boundaries are tested just below, at and just above the half. Several inputs are chosen so that
Python's float rounding (half even, on the binary value) would print a different digit: round(0.045, 2) is 0.04,
round(93.25, 1) is 93.2, round(2.675, 2) is 2.67, and 0.0295 * 100 is 2.9499999999999997.
"""

import datetime
import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.numbers import Numbers, decimals_for

ES = Numbers("es")
EN = Numbers("en")
MINUS = "\u2212"


# ----------------------------------------------------------------------------------------------------
# Languages
# ----------------------------------------------------------------------------------------------------


def test_an_unknown_language_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"'fr'.*allowed: 'en', 'es'"):
        Numbers("fr")


def test_a_locale_name_is_not_a_language():
    with pytest.raises(ValueError, match="allowed"):
        Numbers("es_BO")


def test_each_language_prints_in_its_locale():
    assert (ES.locale, EN.locale) == ("es_BO", "en_001")


def test_numbers_is_frozen():
    with pytest.raises(AttributeError):
        ES.lang = "en"


# ----------------------------------------------------------------------------------------------------
# decimal: separators and grouping
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "es", "en"),
    [
        (1234.5, 1, "1.234,5", "1,234.5"),
        (0.04, 2, "0,04", "0.04"),
        (12.3, 1, "12,3", "12.3"),
        (123, 0, "123", "123"),  # three digits: no separator
        (1234, 0, "1.234", "1,234"),  # grouped from four digits on, not CLDR's "1234"
        (12345, 0, "12.345", "12,345"),
        (123456, 0, "123.456", "123,456"),
        (1234567, 0, "1.234.567", "1,234,567"),
        (1234567, 2, "1.234.567,00", "1,234,567.00"),  # decimals padded with zeros
        (0, 0, "0", "0"),
        (0, 2, "0,00", "0.00"),
        (5, 3, "5,000", "5.000"),
        (-1234.5, 1, MINUS + "1.234,5", MINUS + "1,234.5"),
        (-0.5, 1, MINUS + "0,5", MINUS + "0.5"),
    ],
)
def test_decimal_separators_and_grouping(value, places, es, en):
    assert (ES.decimal(value, places), EN.decimal(value, places)) == (es, en)


def test_a_long_number_keeps_every_digit():
    # 10^21 has 22 digits, more than the 28-digit default context leaves after 7 decimals: nothing is lost
    assert ES.decimal(1e21, 7) == "1.000.000.000.000.000.000.000,0000000"
    assert EN.decimal(Decimal("123456789012345678901234567890.5"), 0) == "123,456,789,012,345,678,901,234,567,891"


def test_negative_places_are_refused():
    with pytest.raises(ValueError, match="places"):
        ES.decimal(1.5, -1)


# ----------------------------------------------------------------------------------------------------
# decimal: rounding half up on the decimal as written
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "es"),
    [
        # the float 0.045 is 0.04499999999999999833 in binary; as written it is a half: up
        (0.0449, 2, "0,04"),
        (0.045, 2, "0,05"),
        (0.0451, 2, "0,05"),
        (93.2499, 1, "93,2"),
        (93.25, 1, "93,3"),  # round(93.25, 1) is 93.2 (half even)
        (93.2501, 1, "93,3"),
        (0.1249, 2, "0,12"),
        (0.125, 2, "0,13"),  # round(0.125, 2) is 0.12
        (0.1251, 2, "0,13"),
        (2.675, 2, "2,68"),  # the float is 2.67499999999999982236431605997495353221893310546875
        (1.005, 2, "1,01"),
        (2.4999, 0, "2"),
        (2.5, 0, "3"),  # round(2.5) is 2
        (2.5001, 0, "3"),
        (3.5, 0, "4"),
        (-2.4999, 0, MINUS + "2"),
        (-2.5, 0, MINUS + "3"),  # half away from zero
        (-2.5001, 0, MINUS + "3"),
        (-0.125, 2, MINUS + "0,13"),
    ],
)
def test_decimal_rounds_half_up(value, places, es):
    assert ES.decimal(value, places) == es


@pytest.mark.parametrize(
    ("value", "es", "en"),
    [
        (999.9499, "999,9", "999.9"),
        (999.95, "1.000,0", "1,000.0"),  # the carry makes a fourth digit, and with it a separator
        (999.9501, "1.000,0", "1,000.0"),
        (-999.95, MINUS + "1.000,0", MINUS + "1,000.0"),
        (999999.95, "1.000.000,0", "1,000,000.0"),
    ],
)
def test_grouping_is_applied_after_the_rounding_carries(value, es, en):
    assert (ES.decimal(value, 1), EN.decimal(value, 1)) == (es, en)


@pytest.mark.parametrize(
    ("value", "places", "es"),
    [
        (-0.04, 1, "0,0"),
        (-0.0449, 1, "0,0"),
        (-0.0, 0, "0"),
        (Decimal("-0.00"), 2, "0,00"),
        (-0.4, 0, "0"),
        (-0.05, 1, MINUS + "0,1"),  # a half rounds away from zero, so it is not zero
    ],
)
def test_a_value_rounding_to_zero_has_no_sign(value, places, es):
    assert ES.decimal(value, places) == es


# ----------------------------------------------------------------------------------------------------
# Missing, infinite and wrong values
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [None, math.nan, float("nan"), np.nan, np.float64("nan"), Decimal("NaN")])
@pytest.mark.parametrize("numbers", [ES, EN])
def test_a_missing_value_prints_as_an_em_dash_everywhere(numbers, missing):
    printed = [
        numbers.decimal(missing, 2),
        numbers.integer(missing),
        numbers.percent(missing),
        numbers.signed(missing, 1),
        numbers.score(missing),
        numbers.value(missing, "share"),
        numbers.value(missing, "persons"),
        numbers.value(missing, "µg/m³"),
        numbers.range(missing, 3),
        numbers.range(3, missing),
    ]
    assert printed == ["—"] * 10


@pytest.mark.parametrize("infinite", [math.inf, -math.inf, Decimal("Infinity")])
def test_an_infinite_value_is_refused(infinite):
    with pytest.raises(ValueError, match="infinite"):
        ES.decimal(infinite, 1)


@pytest.mark.parametrize("wrong", ["1.5", True, 1 + 2j])
def test_a_value_that_is_not_a_number_is_refused(wrong):
    with pytest.raises(TypeError, match="not a number"):
        ES.decimal(wrong, 1)


def test_numpy_numbers_print_as_the_numbers_they_are():
    assert ES.decimal(np.float64(0.045), 2) == "0,05"
    assert ES.integer(np.int64(1234567)) == "1.234.567"
    assert EN.decimal(np.float32(0.1), 3) == "0.100"


# ----------------------------------------------------------------------------------------------------
# integer, score
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "es", "en"),
    [
        (1234, "1.234", "1,234"),
        (12345, "12.345", "12,345"),
        (1234567, "1.234.567", "1,234,567"),
        (1234.4999, "1.234", "1,234"),
        (1234.5, "1.235", "1,235"),
        (999.5, "1.000", "1,000"),
        (-1234.5, MINUS + "1.235", MINUS + "1,235"),
        (-0.4, "0", "0"),
        (0, "0", "0"),
    ],
)
def test_integer_rounds_half_up_and_groups(value, es, en):
    assert (ES.integer(value), EN.integer(value)) == (es, en)


@pytest.mark.parametrize(
    ("value", "es", "en"),
    [
        (93.25, "93,3", "93.3"),
        (93.2499, "93,2", "93.2"),
        (100, "100,0", "100.0"),
        (0, "0,0", "0.0"),
        (7, "7,0", "7.0"),
        (99.95, "100,0", "100.0"),
    ],
)
def test_score_has_always_one_decimal(value, es, en):
    assert (ES.score(value), EN.score(value)) == (es, en)


# ----------------------------------------------------------------------------------------------------
# percent
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "places", "es", "en"),
    [
        (0.1234, 1, "12,3%", "12.3%"),  # no space before the sign, as INE Bolivia prints it
        (0.12345, 1, "12,3%", "12.3%"),  # 12.345: the digit after the first decimal is 4
        (0.1235, 1, "12,4%", "12.4%"),  # 12.35: a half, up
        (0.12355, 1, "12,4%", "12.4%"),  # Decimal("0.12355") * 100 = 12.355
        (0.12349, 1, "12,3%", "12.3%"),
        (0.0295, 1, "3,0%", "3.0%"),  # the float 0.0295 * 100 is 2.9499999999999997
        (0.0045, 1, "0,5%", "0.5%"),  # the float 0.0045 * 100 is 0.44999999999999996
        (1, 1, "100,0%", "100.0%"),
        (0, 1, "0,0%", "0.0%"),
        (0.5, 0, "50%", "50%"),
        (0.12345, 2, "12,35%", "12.35%"),
        (12.345, 1, "1.234,5%", "1,234.5%"),  # more than the whole: grouped like any number
        (-0.05, 1, MINUS + "5,0%", MINUS + "5.0%"),
        (-0.0004, 1, "0,0%", "0.0%"),
    ],
)
def test_percent(share, places, es, en):
    assert (ES.percent(share, places), EN.percent(share, places)) == (es, en)


def test_percent_has_one_decimal_by_default():
    assert ES.percent(0.12345) == "12,3%"


# ----------------------------------------------------------------------------------------------------
# signed
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "es", "en"),
    [
        (1.2, 1, "+1,2", "+1.2"),
        (-1.2, 1, MINUS + "1,2", MINUS + "1.2"),
        (0, 1, "0,0", "0.0"),
        (0.04, 1, "0,0", "0.0"),  # rounds to zero: no plus
        (-0.04, 1, "0,0", "0.0"),  # rounds to zero: no minus either
        (0.05, 1, "+0,1", "+0.1"),
        (-0.05, 1, MINUS + "0,1", MINUS + "0.1"),
        (1234.56, 1, "+1.234,6", "+1,234.6"),
        (-2.5, 0, MINUS + "3", MINUS + "3"),
    ],
)
def test_signed(value, places, es, en):
    assert (ES.signed(value, places), EN.signed(value, places)) == (es, en)


def test_the_minus_sign_is_u2212_not_a_hyphen():
    assert ES.signed(-1, 0) == "\u22121"
    assert ES.decimal(-1, 0) == "\u22121"
    assert "-" not in ES.signed(-1, 0) + ES.decimal(-1, 0) + ES.percent(-0.01)


# ----------------------------------------------------------------------------------------------------
# value, by unit
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "places", "es", "en"),
    [
        (0.12345, "share", None, "12,3%", "12.3%"),
        (0.12345, "share", 2, "12,35%", "12.35%"),
        (1234.5, "persons", None, "1.235", "1,235"),
        (1234.5, "count", None, "1.235", "1,235"),
        (1234.5, "households", 0, "1.235", "1,235"),
        # any other unit: decimal, with the places given ...
        (12.345, "µg/m³", 2, "12,35", "12.35"),
        (1234.5, "per 1000", 1, "1.234,5", "1,234.5"),
        # ... or as many as decimals_for gives the value alone
        (1234.5, "per 1000", None, "1.235", "1,235"),  # >= 100: 0
        (12.345, "µg/m³", None, "12,3", "12.3"),  # >= 10: 1
        (2.675, "days", None, "2,68", "2.68"),  # >= 1: 2
        (0.12345, "percent", None, "0,123", "0.123"),  # < 1: 3; "percent" is not a share
    ],
)
def test_value_by_unit(value, unit, places, es, en):
    assert (ES.value(value, unit, places), EN.value(value, unit, places)) == (es, en)


def test_a_count_with_decimals_is_refused():
    with pytest.raises(ValueError, match="persons"):
        ES.value(12, "persons", 2)


# ----------------------------------------------------------------------------------------------------
# decimals_for
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit", "places"),
    [
        ([100], "µg/m³", 0),
        ([99.99], "µg/m³", 1),
        ([10], "µg/m³", 1),
        ([9.99], "µg/m³", 2),
        ([1], "µg/m³", 2),
        ([0.999], "µg/m³", 3),
        ([0], "µg/m³", 3),
        ([0.5, 3, 99.99], "days", 1),  # the largest decides for the whole column
        ([5, -150], "days", 0),  # by absolute value
        ([-10, 9.5], "days", 1),
        ([None, math.nan, 2.5, None], "days", 2),  # missing values do not count
        ([], "days", 3),  # nothing to go by: as for 0
        ([None, math.nan], "days", 3),
        ([0.5, 1234.5], "share", 1),  # a share is printed as a percentage with 1 decimal
        ([], "share", 1),
        ([0.5, 1234.5], "persons", 0),  # a count is printed whole
        ([0.5], "households", 0),
        ([0.5], "count", 0),
    ],
)
def test_decimals_for(values, unit, places):
    assert decimals_for(values, unit) == places


def test_decimals_for_reads_any_iterable_once():
    assert decimals_for((v for v in [0.5, 12.0, None]), "days") == 1


def test_decimals_for_lines_up_a_column():
    column = [1234.5, 12.3, None, 0.04]
    places = decimals_for(column, "per 1000")
    assert [ES.value(v, "per 1000", places) for v in column] == ["1.235", "12", "—", "0"]


# ----------------------------------------------------------------------------------------------------
# date, range
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "es", "en"),
    [
        (datetime.date(2026, 12, 7), "7 de diciembre de 2026", "7 December 2026"),
        (datetime.date(2025, 1, 31), "31 de enero de 2025", "31 January 2025"),
    ],
)
def test_date_is_long_in_the_language(day, es, en):
    assert (ES.date(day), EN.date(day)) == (es, en)


@pytest.mark.parametrize(
    ("low", "high", "es", "en"),
    [
        (3, 14, "3–14", "3–14"),  # en dash
        (7, 7, "7", "7"),
        (7.0, 7, "7", "7"),
        (1, 1234, "1–1.234", "1–1,234"),
        (None, 14, "—", "—"),
        (3, None, "—", "—"),
        (None, None, "—", "—"),
    ],
)
def test_range(low, high, es, en):
    assert (ES.range(low, high), EN.range(low, high)) == (es, en)


def test_a_band_running_backwards_is_refused():
    with pytest.raises(ValueError, match="low to high"):
        ES.range(14, 3)


# ----------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------

SANE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
PLACES = st.integers(min_value=0, max_value=4)


def read_es(text: str) -> Decimal:
    """A Spanish printed number read back: group points dropped, decimal comma and minus sign made ASCII."""
    return Decimal(text.replace(".", "").replace(",", ".").replace(MINUS, "-"))


def swap_separators(text: str) -> str:
    return text.translate(str.maketrans({".": ",", ",": "."}))


@given(SANE, PLACES)
def test_the_spanish_string_reads_back_as_the_decimal_rounded_half_up(x, places):
    printed = ES.decimal(x, places)
    expected = Decimal(str(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    assert read_es(printed) == expected
    assert printed.count(",") == (1 if places else 0)
    assert len(printed.partition(",")[2]) == places


@given(SANE, PLACES)
def test_the_english_string_is_the_spanish_one_with_the_separators_swapped(x, places):
    assert EN.decimal(x, places) == swap_separators(ES.decimal(x, places))
    assert EN.signed(x, places) == swap_separators(ES.signed(x, places))
    assert EN.percent(x, places) == swap_separators(ES.percent(x, places))


@given(SANE, PLACES)
def test_the_whole_part_is_grouped_in_threes(x, places):
    whole = ES.decimal(x, places).removeprefix(MINUS).partition(",")[0]
    first, *rest = whole.split(".")
    assert 1 <= len(first) <= 3 and first.isdigit()
    assert all(len(group) == 3 and group.isdigit() for group in rest)
    assert not (first == "0" and rest)


@given(SANE, PLACES)
def test_signed_is_decimal_with_a_plus_on_positive_results(x, places):
    plain, signed = ES.decimal(x, places), ES.signed(x, places)
    positive = read_es(plain) > 0
    assert signed == ("+" + plain if positive else plain)
