"""Numbers, dates and rank bands as the report prints them, in Spanish (Bolivia) or English.

The report prints numbers the way statistics offices do, not the way Python or a spreadsheet does:

- Spanish (`es`, Babel locale `es_BO`): decimal comma and thousands point, "1.234,5", "0,04", "12,3%".
- English (`en`, Babel locale `en_001`, international English): "1,234.5", "0.04", "12.3%".
- Rounding is half up (half away from zero) on the decimal value as printed: 93.25 -> "93,3", 0.125 -> "0,13",
  -2.5 -> "−3". A float is read through its shortest repr (`Decimal("0.045")`, not the binary 0.04499...), so
  binary artefacts never decide a digit. A number that rounds to zero prints without a sign: -0.04 -> "0,0".
- Thousands are grouped from 1.000 on, in every position: "1.234", "12.345", "1.234.567". CLDR gives Spanish
  "minimum grouping digits 2" (1234 printed "1234"); Babel 2.19 does not apply it, a later Babel might, and INE
  Bolivia prints "1.234", so the grouping is done here rather than left to Babel.
- Percentages have no space before the sign: "12,3%", as INE Bolivia prints them (CLDR's `es` puts a no-break space
  there; `es_BO` does not, and building the string here keeps it that way whatever the locale data says).
- Negative numbers carry the minus sign U+2212 ("−1,2"), in plain numbers as well as in changes, so a column of
  values and a column of changes look alike and the sign is as wide as "+" and the digits. The report is for reading;
  the machine-readable values are in the published snapshot.
- A missing value (None or NaN) prints as an em dash "—"; an infinite one is a bug and raises ValueError.

From Babel we take the locale's decimal, group, plus and percent symbols and the long date format; the digits,
their rounding and their layout are built here, because Babel rounds with the decimal context (half even by default)
and follows CLDR's grouping and percent patterns where the offices do not.
"""

from __future__ import annotations

import datetime
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import get_decimal_symbol, get_group_symbol, get_plus_sign_symbol

# The report's languages and the CLDR locale each is printed in. English is `en_001` (international English):
# numbers as in `en`, long dates as "7 December 2026" rather than the US "December 7, 2026".
LOCALES = {"es": "es_BO", "en": "en_001"}
DASH = "—"  # em dash: a value that is missing
MINUS = "\u2212"  # the minus sign, not the hyphen-minus CLDR gives both locales
BAND_DASH = "–"  # en dash between the two ends of a rank band
SHARE_UNIT = "share"
COUNT_UNITS = frozenset({"persons", "count", "households"})

Value = float | Decimal | None


@dataclass(frozen=True)
class Numbers:
    """How the report prints numbers, dates and rank bands in one language ("es" or "en")."""

    lang: str
    locale: str = field(init=False)
    decimal_symbol: str = field(init=False, repr=False)
    group_symbol: str = field(init=False, repr=False)
    plus_symbol: str = field(init=False, repr=False)
    percent_symbol: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.lang not in LOCALES:
            allowed = ", ".join(repr(lang) for lang in sorted(LOCALES))
            raise ValueError(f"unknown report language {self.lang!r}; allowed: {allowed}")
        locale = LOCALES[self.lang]
        object.__setattr__(self, "locale", locale)
        object.__setattr__(self, "decimal_symbol", get_decimal_symbol(locale))
        object.__setattr__(self, "group_symbol", get_group_symbol(locale))
        object.__setattr__(self, "plus_symbol", get_plus_sign_symbol(locale))
        object.__setattr__(self, "percent_symbol", Locale.parse(locale).number_symbols["latn"]["percentSign"])

    def decimal(self, value: Value, places: int) -> str:
        """`value` rounded half up to `places` decimals, thousands grouped: "−1.234,50"."""
        number = as_decimal(value)
        if number is None:
            return DASH
        return self._layout(round_half_up(number, places))

    def integer(self, value: Value) -> str:
        """`value` rounded half up to a whole number, thousands grouped: "1.235"."""
        return self.decimal(value, 0)

    def percent(self, share: Value, places: int = 1) -> str:
        """A share (1 is the whole) as a percentage with `places` decimals: 0.1234 -> "12,3%"."""
        number = as_decimal(share)
        if number is None:
            return DASH
        # scaleb moves the decimal point exactly: Decimal("0.12355") becomes 12.355, never 12.354999...
        return self._layout(round_half_up(number.scaleb(2), places)) + self.percent_symbol

    def signed(self, value: Value, places: int) -> str:
        """A change, always with its sign unless it rounds to zero: "+1,2", "−1,2", "0,0"."""
        number = as_decimal(value)
        if number is None:
            return DASH
        rounded = round_half_up(number, places)
        sign = self.plus_symbol if rounded > 0 else ""
        return sign + self._layout(rounded)

    def score(self, value: Value) -> str:
        """An index score (0 to 100) with one decimal: "93,3"."""
        return self.decimal(value, 1)

    def value(self, value: Value, unit: str, places: int | None = None) -> str:
        """An indicator value printed by its unit: a share as a percentage, a count whole, anything else with
        `places` decimals (by default `decimals_for` the value alone).

        A count has no decimals, so `places` must be None or 0 for one."""
        if unit == SHARE_UNIT:
            return self.percent(value, 1 if places is None else places)
        if unit in COUNT_UNITS:
            if places not in (None, 0):
                raise ValueError(f"a count ({unit}) is printed whole, not with {places} decimals")
            return self.integer(value)
        return self.decimal(value, decimals_for([value], unit) if places is None else places)

    def date(self, day: datetime.date) -> str:
        """A long date in the language: "7 de diciembre de 2026", "7 December 2026"."""
        return format_date(day, "long", locale=self.locale)

    def range(self, low: Value, high: Value) -> str:
        """A band of ranks, "3–14"; one number when both ends print alike; "—" when either end is missing."""
        low_number, high_number = as_decimal(low), as_decimal(high)
        if low_number is None or high_number is None:
            return DASH
        if low_number > high_number:
            raise ValueError(f"a rank band runs from low to high, got {low} to {high}")
        first, last = self.integer(low_number), self.integer(high_number)
        return first if first == last else f"{first}{BAND_DASH}{last}"

    def _layout(self, rounded: Decimal) -> str:
        """A rounded Decimal in the locale's symbols: minus sign, grouped whole part, decimal symbol."""
        digits = f"{rounded.copy_abs():f}"  # copy_abs, not abs(): no context, so no rounding of long numbers
        whole, _, fraction = digits.partition(".")
        head = len(whole) % 3 or 3
        groups = [whole[:head]] + [whole[start : start + 3] for start in range(head, len(whole), 3)]
        text = self.group_symbol.join(groups)
        if fraction:
            text += self.decimal_symbol + fraction
        return MINUS + text if rounded.is_signed() else text


def decimals_for(values: Iterable[Value], unit: str) -> int:
    """One number of decimals for a column of values of one indicator, so the column lines up.

    A share is printed as a percentage with 1 decimal and a count whole (0). Anything else goes by the largest
    absolute value in the column, as it is, before rounding: 100 or more -> 0, 10 or more -> 1, 1 or more -> 2,
    less than 1 -> 3. Missing values do not count; a column with none but missing ones goes by 0 (3 decimals),
    though it prints only dashes.
    """
    if unit == SHARE_UNIT:
        return 1
    if unit in COUNT_UNITS:
        return 0
    present = [number.copy_abs() for number in map(as_decimal, values) if number is not None]
    largest = max(present, default=Decimal(0))
    if largest >= 100:
        return 0
    if largest >= 10:
        return 1
    if largest >= 1:
        return 2
    return 3


def as_decimal(value: Value) -> Decimal | None:
    """`value` as the Decimal it is written as (a float through its shortest repr), None when missing (None, NaN)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    else:
        as_float = float(value)
        if math.isnan(as_float):
            return None
        number = Decimal(repr(as_float))
    if number.is_nan():
        return None
    if number.is_infinite():
        raise ValueError(f"an infinite value cannot be printed: {value!r}")
    return number


def round_half_up(number: Decimal, places: int) -> Decimal:
    """`number` rounded half away from zero to `places` decimals; a result of zero is never negative."""
    if places < 0:
        raise ValueError(f"places must be 0 or more, got {places}")
    # Enough precision for every digit of the result (and a carry), so quantize never fails on a large number.
    context = Context(prec=max(28, number.adjusted() + places + 2))
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=context)
    return rounded.copy_abs() if rounded.is_zero() else rounded
