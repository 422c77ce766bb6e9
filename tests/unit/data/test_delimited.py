"""The columnar CSV reader shared by the text loaders, against Python's Decimal as oracle."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile
import zoneinfo
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    MAX_LINE_BYTES,
    Fields,
    iter_line_blocks,
    open_binary,
    parse_decimal_strings,
    wall_to_utc_ns,
)


def _fields(text: str, names: list[str], first_line: int = 1) -> Fields:
    return Fields("mem.csv", text.encode(), first_line, names)


def _oracle(text: str, precision: int, rounding: bool = False) -> int | None:
    """What an exact parser must return: the scaled integer, or None when it must refuse."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    if not value.is_finite() or text.strip() != text or "_" in text:
        return None
    scaled = value.scaleb(precision)
    if rounding:
        scaled = scaled.to_integral_value(ROUND_HALF_EVEN)
    if scaled != scaled.to_integral_value():
        return None
    result = int(scaled)
    return result if -(2**63) < result < 2**63 else None


decimal_texts = st.one_of(
    st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,12})?", fullmatch=True),
    st.from_regex(r"-?[0-9]{0,6}\.?[0-9]{0,6}", fullmatch=True),
    st.from_regex(r"[0-9.\-x ]{1,8}", fullmatch=True),
)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(decimal_texts, min_size=1, max_size=20), precision=st.integers(0, 9))
def test_decimal_parsing_matches_the_decimal_oracle_or_refuses_exactly_when_it_does(
    texts, precision
):
    values, bad = parse_decimal_strings(np.array([t.encode() for t in texts]), precision)
    for text, value, refused in zip(texts, values.tolist(), bad.tolist(), strict=True):
        expected = _oracle(text, precision)
        if refused:
            # Refused only when the oracle refuses, or at the very edge of int64.
            assert expected is None or abs(expected) > 9 * 10**17, text
        else:
            assert value == expected, text


@settings(max_examples=80, deadline=None)
@given(
    texts=st.lists(st.from_regex(r"-?[0-9]{1,9}\.[0-9]{0,12}", fullmatch=True), min_size=1),
    precision=st.integers(0, 6),
)
def test_rounding_is_half_to_even_on_the_decimal_text(texts, precision):
    values, bad = parse_decimal_strings(
        np.array([t.encode() for t in texts]), precision, rounding=True
    )
    assert not bad.any()
    assert values.tolist() == [_oracle(t, precision, rounding=True) for t in texts]


@pytest.mark.parametrize(
    ("text", "precision", "expected"),
    [
        ("9682.10", 1, 96821),
        ("0.00002853", 8, 2853),
        ("-12.5", 2, -1250),
        ("007", 0, 7),
        ("1723161256493000000", 0, 1723161256493000000),
        ("9223372036854775807", 0, None),  # the int64 edge is refused, not wrapped
        ("1.25", 1, None),
        ("1.2.3", 3, None),
        ("", 2, None),
        ("abc", 2, None),
        ("-", 0, None),
        ("99999999999", 9, None),  # overflows int64 once scaled
    ],
)
def test_decimal_edge_cases(text, precision, expected):
    values, bad = parse_decimal_strings(np.array([text.encode()], dtype="S40"), precision)
    if expected is None:
        assert bad[0]
    else:
        assert not bad[0] and values[0] == expected


def test_fields_split_on_commas_and_skip_blank_and_crlf_lines():
    fields = _fields("1,a,2.5\r\n\n3,bb,4\n", ["x", "y", "z"], first_line=7)
    assert len(fields) == 2
    assert fields.lines.tolist() == [7, 9]
    assert fields.integers(0).tolist() == [1, 3]
    assert fields.strings(1).tolist() == [b"a", b"bb"]
    assert fields.decimals(2, 1).tolist() == [25, 40]


def test_a_line_with_a_missing_field_is_refused_naming_its_line():
    with pytest.raises(
        DataFormatError, match=r"line 3: expected 3 comma-separated fields, found 2"
    ):
        _fields("1,2,3\n4,5,6\n7,8\n", ["a", "b", "c"])


def test_a_bad_number_is_refused_naming_line_field_and_value():
    fields = _fields("1,2.50\n2,2.555\n", ["n", "price"], first_line=2)
    with pytest.raises(DataFormatError) as caught:
        fields.decimals(1, 2)
    error = caught.value
    assert (error.line, error.field, error.value) == (3, "price", "2.555")
    assert "more decimals than the precision (2)" in str(error)


def test_exponent_notation_is_parsed_exactly():
    assert _fields("1e-05\n2.5E2\n", ["q"]).decimals(0, 6).tolist() == [10, 250000000]


def test_negative_values_are_refused_unless_allowed():
    fields = _fields("-1.5\n", ["q"])
    with pytest.raises(DataFormatError, match="negative value"):
        fields.decimals(0, 1)
    assert fields.decimals(0, 1, negative=True).tolist() == [-15]


def test_hexadecimal_and_choice_columns():
    fields = _fields("20002000,buy\nff,sell\n", ["flags", "side"])
    assert fields.hexadecimals(0).tolist() == [0x20002000, 0xFF]
    assert fields.choices(1, {b"buy": 1, b"sell": 2}).tolist() == [1, 2]
    with pytest.raises(DataFormatError, match="expected one of: buy"):
        _fields("x,hold\n", ["flags", "side"]).choices(1, {b"buy": 1})
    with pytest.raises(DataFormatError, match="not a hexadecimal number"):
        _fields("12g,buy\n", ["flags", "side"]).hexadecimals(0)


def test_an_overlong_field_is_refused_before_any_matrix_is_built():
    with pytest.raises(DataFormatError, match="value longer than 40 characters"):
        _fields("1" * 41 + "\n", ["n"]).decimals(0, 0)


def test_line_blocks_hold_at_most_the_chunk_size_and_number_lines():
    stream = io.BytesIO(b"".join(b"%d\n" % i for i in range(10)) + b"10")
    blocks = list(iter_line_blocks(stream, 4, "mem", first_line=2))
    assert [first for _, first in blocks] == [2, 6, 10]
    assert [block.count(b"\n") for block, _ in blocks] == [4, 4, 3]
    assert blocks[-1][0].endswith(b"10\n")


def test_a_line_longer_than_the_bound_is_refused():
    stream = io.BytesIO(b"x" * (MAX_LINE_BYTES + 10))
    with pytest.raises(DataFormatError, match="line longer than"):
        list(iter_line_blocks(stream, 10, "mem"))


def test_open_binary_reads_plain_gzip_and_single_member_zip(tmp_path):
    plain = tmp_path / "a.csv"
    plain.write_bytes(b"1\n")
    packed = tmp_path / "a.csv.gz"
    packed.write_bytes(gzip.compress(b"1\n"))
    zipped = tmp_path / "a.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.csv", b"1\n")
    for path in (plain, packed, zipped):
        with open_binary(path) as stream:
            assert stream.read() == b"1\n"
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", b"1\n")
        archive.writestr("b.csv", b"2\n")
    with pytest.raises(DataFormatError, match="zip holds 2 files"), open_binary(two):
        pass
    with pytest.raises(DataFormatError, match="cannot open"), open_binary(tmp_path / "none"):
        pass


def test_wall_clock_to_utc_follows_daylight_saving():
    new_york = zoneinfo.ZoneInfo("America/New_York")
    walls = [dt.datetime(2013, 10, 7, 4, 0, 0, 464000), dt.datetime(2013, 12, 2, 9, 30)]
    wall_ns = np.array(
        [int((w - dt.datetime(1970, 1, 1)).total_seconds() * 1e6) * 1000 for w in walls]
    )
    utc = wall_to_utc_ns(wall_ns, new_york)
    assert utc.tolist() == [int(w.replace(tzinfo=new_york).timestamp() * 1e6) * 1000 for w in walls]
    assert utc[0] - wall_ns[0] == 4 * 3600 * 10**9  # EDT
    assert utc[1] - wall_ns[1] == 5 * 3600 * 10**9  # EST
