"""The CSV reader's fast path (Arrow) gives the frame of its pandas path on any table of text, and anything Arrow
reads differently goes to pandas, whose messages the hostile corpus pins (sources/files.py)."""

import csv
import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.files import DeliveryError, _parse_csv_fast, read_delivery


def pandas_frame(text: str, separator: str) -> pd.DataFrame:
    """What the reader gave before the fast path (and still gives when Arrow refuses)."""
    frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_filter=False)
    return frame.replace("", None)


cells = st.one_of(st.just(""), st.just(" "), st.just("NA"), st.just("a,b"), st.just('say "hi"'), st.just("two\nlines"),
                  st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                          max_size=8))


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 5).flatmap(lambda width: st.tuples(
    st.lists(st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True), min_size=width, max_size=width, unique=True),
    st.lists(st.lists(cells, min_size=width, max_size=width), max_size=6))), st.sampled_from([",", ";", "\t"]))
def test_the_fast_path_reads_what_pandas_reads(table, separator):
    """Any table of two or more columns (every delivery has several; with one column pandas drops a record that is
    only blanks as an empty line, Arrow keeps it), quoted, with separators, quotes and newlines inside cells."""
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    fast = _parse_csv_fast(text.encode("utf-8"), separator, header)
    pd.testing.assert_frame_equal(fast, pandas_frame(text, separator), check_dtype=False)
    assert all(pd.api.types.is_string_dtype(fast[c]) for c in fast.columns)


@pytest.mark.parametrize(("text", "why"), [
    ("a,b\n1,2\n3\n", "a short line: pandas fills it, Arrow refuses"),
    ("a,,c\n1,2,3\n", "a blank header: pandas names it Unnamed: 1"),
])
def test_what_arrow_reads_otherwise_goes_to_pandas(tmp_path, text, why):
    path = tmp_path / "d.csv"
    path.write_text(text)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    with pytest.raises(ValueError):  # pyarrow.ArrowInvalid is a ValueError
        _parse_csv_fast(text.encode(), ",", header)
    frame = read_delivery(path)
    expected = pandas_frame(text, ",")
    assert list(frame.columns) == ["_row", *expected.columns], why
    assert frame.drop(columns="_row").fillna("<NA>").values.tolist() == expected.fillna("<NA>").values.tolist()


def test_a_long_line_is_still_named_by_the_pandas_message(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DeliveryError, match="line 3"):
        read_delivery(path)
