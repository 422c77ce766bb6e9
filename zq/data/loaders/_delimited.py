"""Delimited text as columns, for the CSV loaders (private).

A file is read in blocks of whole lines; each block is split into fields with numpy (no
Python object per row), and each field becomes a zero-padded ``(width, rows)`` byte matrix.
Numbers are parsed from those bytes exactly: a decimal string becomes an int64 at a given
precision (value × 10**precision) without ever being a float, and a value with more
significant decimals than the precision is refused rather than rounded. Every problem is
raised as :class:`~zq.data.errors.DataFormatError` naming file, line, field and value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import zipfile
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from zq.data.errors import DataFormatError

Int64Array = npt.NDArray[np.int64]
ByteMatrix = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]

#: Longest numeric field accepted (a longer one is refused before any matrix is built,
#: so a corrupt line cannot make the ``rows × width`` matrix explode).
MAX_NUMBER_WIDTH = 40
#: Longest line accepted: the bound on what one line can make the reader buffer.
MAX_LINE_BYTES = 1 << 20
_READ_SIZE = 1 << 18
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_INT64_MAX = np.iinfo(np.int64).max
_NL, _CR, _DOT, _MINUS, _ZERO, _NINE = 10, 13, 46, 45, 48, 57


@contextlib.contextmanager
def open_binary(path: str | Path, member: str | None = None) -> Iterator[BinaryIO]:
    """Open a file for streaming: plain, gzip (by its magic bytes) or one member of a zip.

    A context manager: everything it opened is closed on exit.
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            raw = stack.enter_context(path.open("rb"))
        except OSError as exc:
            raise DataFormatError(path, f"cannot open: {exc.strerror or exc}") from exc
        magic = raw.read(4)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[misc]
            return
        if magic == b"PK\x03\x04":
            archive = stack.enter_context(zipfile.ZipFile(raw))
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            if member is None:
                if len(names) != 1:
                    raise DataFormatError(
                        path, f"zip holds {len(names)} files; name the one to read", value=names
                    )
                member = names[0]
            if member not in names:
                raise DataFormatError(path, f"zip has no member {member!r}", value=names)
            yield stack.enter_context(archive.open(member))  # type: ignore[misc]
            return
        yield raw


def zip_member_name(path: str | Path) -> str | None:
    """Return the single member's name of a zip file, or ``None`` for other files."""
    with Path(path).open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return None
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
    return names[0] if len(names) == 1 else None


def read_header(stream: BinaryIO, path: str | Path) -> list[str]:
    """Read the first line and split it into stripped column names."""
    names = split_line(stream.readline(MAX_LINE_BYTES + 1), path)
    if names is None:
        raise DataFormatError(path, "empty file: no header line", line=1)
    return names


def split_line(line: bytes, path: str | Path) -> list[str] | None:
    """Split one line (the first of a file) into stripped fields; ``None`` if there is none."""
    if not line:
        return None
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, "first line is not UTF-8 text", line=1) from exc
    return [name.strip() for name in text.split(",")]


def iter_line_blocks(
    stream: BinaryIO, max_rows: int, path: str | Path, first_line: int = 1, prefix: bytes = b""
) -> Iterator[tuple[bytes, int]]:
    """Yield ``(block, line number of its first line)``: at most ``max_rows`` whole lines each.

    ``prefix`` is text already read from the stream that belongs before the rest (a first
    line read to detect a header). Every block ends with a newline (one is added after an
    unterminated last line). Memory is bounded by one block plus one read.
    """
    if max_rows < 1:
        raise ValueError(f"chunk_size must be at least 1, got {max_rows}")
    pending: list[bytes] = [prefix] if prefix else []
    pending_lines = prefix.count(b"\n")
    since_newline = 0
    line = first_line
    while True:
        data = stream.read(_READ_SIZE)
        if not data:
            break
        pending.append(data)
        count = data.count(b"\n")
        pending_lines += count
        since_newline = len(data) - data.rfind(b"\n") - 1 if count else since_newline + len(data)
        if since_newline > MAX_LINE_BYTES:
            raise DataFormatError(
                path, f"line longer than {MAX_LINE_BYTES} bytes", line=line + pending_lines
            )
        if pending_lines >= max_rows:
            buffer = b"".join(pending)
            newlines = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == _NL)
            start = 0
            taken = 0
            while pending_lines - taken >= max_rows:
                end = int(newlines[taken + max_rows - 1]) + 1
                yield buffer[start:end], line
                line += max_rows
                taken += max_rows
                start = end
            pending = [buffer[start:]]
            pending_lines -= taken
    tail = b"".join(pending)
    if tail:
        yield (tail if tail.endswith(b"\n") else tail + b"\n"), line


class Fields:
    """The fields of one block of lines, located but not yet copied.

    Blank lines are skipped; every other line must have exactly ``len(names)`` fields.
    """

    def __init__(self, path: str | Path, block: bytes, first_line: int, names: Sequence[str]):
        self.path = path
        self.names = list(names)
        buffer = np.frombuffer(block, dtype=np.uint8)
        self._buffer = buffer
        newlines = np.flatnonzero(buffer == _NL)
        starts = np.empty(len(newlines), dtype=np.int64)
        starts[0:1] = 0
        starts[1:] = newlines[:-1] + 1
        ends = newlines.astype(np.int64)
        has_cr = ends > starts
        has_cr[has_cr] = buffer[ends[has_cr] - 1] == _CR
        ends -= has_cr
        keep = ends > starts
        line_numbers = first_line + np.arange(len(newlines), dtype=np.int64)
        starts, ends = starts[keep], ends[keep]
        #: 1-based line number of every row.
        self.lines: Int64Array = line_numbers[keep]
        self._line_starts, self._line_ends = starts, ends
        expected = len(self.names) - 1
        commas = np.flatnonzero(buffer == ord(","))
        counts = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
        wrong = np.flatnonzero(counts != expected)
        if len(wrong):
            row = int(wrong[0])
            raise DataFormatError(
                path,
                f"expected {expected + 1} comma-separated fields, found {int(counts[row]) + 1}",
                line=int(self.lines[row]),
                value=self.line_text(row),
            )
        # Commas of blank lines: none (a blank line is empty), so the rest group by row.
        inner = commas.reshape(-1, expected) if expected else np.empty((len(starts), 0), np.intp)
        self._commas = inner
        self._last = expected

    def _field_starts(self, column: int) -> Int64Array:
        return self._line_starts if column == 0 else self._commas[:, column - 1] + 1

    def _field_ends(self, column: int) -> Int64Array:
        return self._line_ends if column == self._last else self._commas[:, column]

    def __len__(self) -> int:
        return len(self.lines)

    # -- raw access -------------------------------------------------------------------

    def lengths(self, column: int) -> Int64Array:
        """Return the byte length of the field in every row."""
        return self._field_ends(column) - self._field_starts(column)

    def chars(self, column: int, max_width: int = MAX_NUMBER_WIDTH) -> ByteMatrix:
        """Return the field as a zero-padded ``(width, rows)`` byte matrix: one row of the
        matrix per character position, so a scan over positions reads contiguous memory."""
        starts = self._field_starts(column)
        lengths = self.lengths(column)
        width = int(lengths.max()) if len(lengths) else 0
        if width > max_width:
            row = int(np.argmax(lengths > max_width))
            raise self.error(row, column, f"value longer than {max_width} characters")
        offsets = np.arange(max(width, 1), dtype=np.int64)[:, None]
        matrix: ByteMatrix = self._buffer.take(starts + offsets, mode="clip")
        matrix *= offsets < lengths
        return matrix

    def strings(self, column: int, max_width: int = 128) -> npt.NDArray[np.bytes_]:
        """Return the field as a numpy bytes array (``S<width>``)."""
        matrix = np.ascontiguousarray(self.chars(column, max_width).T)
        return matrix.view(f"S{matrix.shape[1]}").reshape(len(self))

    def text(self, row: int, column: int) -> str:
        """Return one field's text (for messages)."""
        start, end = int(self._field_starts(column)[row]), int(self._field_ends(column)[row])
        return bytes(self._buffer[start:end]).decode("utf-8", "replace")

    def line_text(self, row: int) -> str:
        """Return one whole line's text (for messages)."""
        start, end = int(self._line_starts[row]), int(self._line_ends[row])
        return bytes(self._buffer[start:end]).decode("utf-8", "replace")

    def error(self, row: int, column: int, problem: str) -> DataFormatError:
        """Build the error for one field of one row, quoting its value."""
        return DataFormatError(
            self.path,
            problem,
            line=int(self.lines[row]),
            field=self.names[column],
            value=self.text(row, column),
        )

    # -- typed columns ----------------------------------------------------------------

    def decimals(
        self,
        column: int,
        precision: int,
        *,
        negative: bool = False,
        integer: bool = False,
        rounding: bool = False,
    ) -> Int64Array:
        """Parse a decimal column exactly into int64 at ``precision`` (value × 10**precision).

        ``negative`` allows a leading minus; ``integer`` refuses a decimal point;
        ``rounding`` rounds excess decimals half to even instead of refusing them. Empty
        fields are refused.
        """
        values, empty = self.optional_decimals(
            column, precision, negative=negative, integer=integer, rounding=rounding
        )
        if empty.any():
            raise self.error(int(np.argmax(empty)), column, "empty value")
        return values

    def optional_decimals(
        self,
        column: int,
        precision: int,
        *,
        negative: bool = False,
        integer: bool = False,
        rounding: bool = False,
    ) -> tuple[Int64Array, BoolArray]:
        """Like :meth:`decimals`, but empty fields are allowed: return ``(values, empty)``
        where empty fields hold 0."""
        lengths = self.lengths(column)
        empty = lengths == 0
        chars = self.chars(column)
        values, bad = parse_decimal_matrix(
            chars, lengths, precision, integer=integer, rounding=rounding
        )
        bad &= ~empty
        values[empty] = 0
        # Exponent notation (``1e-05``) is rare: those rows are parsed exactly with Decimal.
        for row in np.flatnonzero(bad).tolist():
            values[row] = self._decimal_fallback(row, column, precision, integer, rounding)
        if not negative:
            below = values < 0
            if below.any():
                raise self.error(int(np.argmax(below)), column, "negative value")
        return values, empty

    def _decimal_fallback(
        self, row: int, column: int, precision: int, integer: bool, rounding: bool
    ) -> int:
        text = self.text(row, column)
        problem = explain_decimal(text, precision, integer, rounding)
        if problem is not None:
            raise self.error(row, column, problem)
        scaled = Decimal(text).scaleb(precision)
        return int(scaled.to_integral_value(ROUND_HALF_EVEN))

    def integers(self, column: int, *, negative: bool = False) -> Int64Array:
        """Parse an integer column (no decimal point) into int64."""
        return self.decimals(column, 0, negative=negative, integer=True)

    def hexadecimals(self, column: int) -> npt.NDArray[np.uint64]:
        """Parse a hexadecimal column (1 to 16 digits, no prefix) into uint64."""
        lengths = self.lengths(column)
        value = np.zeros(len(lengths), dtype=np.uint64)
        bad = lengths == 0
        for index, chars in enumerate(self.chars(column, 16)):
            inside = index < lengths
            digit = np.full(len(chars), 255, dtype=np.uint64)
            for low, high, base in ((48, 57, 0), (65, 70, 10), (97, 102, 10)):
                hit = (chars >= low) & (chars <= high)
                digit[hit] = chars[hit] - np.uint64(low - base)
            bad |= inside & (digit == 255)
            value = np.where(inside, (value << np.uint64(4)) | (digit & np.uint64(15)), value)
        if bad.any():
            raise self.error(int(np.argmax(bad)), column, "not a hexadecimal number")
        return value

    def choices(self, column: int, mapping: dict[bytes, int]) -> npt.NDArray[np.uint8]:
        """Map each field through ``mapping`` (exact bytes); any other value is refused."""
        values = self.strings(column, 64)
        result = np.zeros(len(values), dtype=np.uint8)
        matched = np.zeros(len(values), dtype=np.bool_)
        for key, code in mapping.items():
            hit = values == key
            result[hit] = code
            matched |= hit
        if not matched.all():
            row = int(np.argmax(~matched))
            valid = ", ".join(key.decode() for key in mapping)
            raise self.error(row, column, f"expected one of: {valid}")
        return result


def parse_decimal_matrix(
    chars: ByteMatrix,
    lengths: Int64Array,
    precision: int,
    *,
    integer: bool = False,
    rounding: bool = False,
) -> tuple[Int64Array, BoolArray]:
    """Parse zero-padded decimal strings exactly; return ``(values, bad rows)``.

    ``chars`` is ``(width, rows)``: one row of the matrix per character position.

    A row is bad if it is not ``-?digits[.digits]`` (at least one digit), if it has a
    non-zero digit beyond ``precision`` decimals (unless ``rounding``: then the decimal
    text is rounded half to even, exactly), or if the result overflows int64. The scan
    runs column by column (Horner's rule), so its temporaries are one row wide.
    """
    if not 0 <= precision <= 18:
        raise ValueError(f"precision must be between 0 and 18, got {precision}")
    columns = chars
    rows = len(lengths)
    value = np.zeros(rows, dtype=np.int64)
    decimals = np.zeros(rows, dtype=np.int64)
    after_dot = np.zeros(rows, dtype=np.bool_)
    any_digit = np.zeros(rows, dtype=np.bool_)
    bad = np.zeros(rows, dtype=np.bool_)
    minus = columns[0] == _MINUS if len(columns) else np.zeros(rows, dtype=np.bool_)
    limit = (_INT64_MAX - 9) // 10
    no_sign = np.zeros(rows, dtype=np.bool_)
    first_dropped = np.zeros(rows, dtype=np.int64)
    seen_dropped = np.zeros(rows, dtype=np.bool_)
    sticky = np.zeros(rows, dtype=np.bool_)
    for index, column in enumerate(columns):
        inside = index < lengths
        digit = (column - np.uint8(_ZERO)).astype(np.int64)
        is_digit = inside & (column >= _ZERO) & (column <= _NINE)
        is_dot = inside & (column == _DOT)
        sign = minus if index == 0 else no_sign
        bad |= inside & ~is_digit & ~is_dot & ~sign
        bad |= is_dot & (after_dot | integer)
        after_dot |= is_dot
        any_digit |= is_digit
        # A decimal beyond the precision must be zero (or is rounded): never accumulated.
        kept = is_digit & ~(after_dot & (decimals >= precision))
        dropped = is_digit & ~kept
        if rounding:
            sticky |= dropped & seen_dropped & (digit != 0)
            first_dropped = np.where(dropped & ~seen_dropped, digit, first_dropped)
            seen_dropped |= dropped
        else:
            bad |= dropped & (digit != 0)
        bad |= kept & (value > limit)
        value = np.where(kept, value * 10 + digit, value)
        decimals += kept & after_dot
    bad |= ~any_digit
    if rounding:
        odd = (value & 1) == 1
        up = (first_dropped > 5) | ((first_dropped == 5) & (sticky | odd))
        bad |= up & (value == _INT64_MAX)
        value = value + up
    scale = _POW10[precision - decimals]
    bad |= value > _INT64_MAX // scale
    value = np.where(bad, 0, value) * scale
    value = np.where(bad, 0, np.where(minus, -value, value))
    return value, bad


def explain_decimal(
    text: str, precision: int, integer: bool = False, rounding: bool = False
) -> str | None:
    """Return why ``text`` is not a decimal at ``precision`` (``None`` if it is one)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "not a number"
    if not value.is_finite() or text.strip() != text or "_" in text:
        return "not a number"
    if integer and not (value == value.to_integral_value() and "." not in text):
        return "not an integer"
    scaled = value.scaleb(precision)
    if rounding:
        scaled = scaled.to_integral_value(ROUND_HALF_EVEN)
    if scaled != scaled.to_integral_value():
        return f"more decimals than the precision ({precision})"
    if not -(2**63) <= int(scaled) < 2**63:
        return "out of the int64 range at this precision"
    return None


def wall_to_utc_ns(wall_ns: Int64Array, tz: dt.tzinfo) -> Int64Array:
    """Convert wall-clock times (ns since the epoch, read as local time in ``tz``) to UTC.

    The offset is looked up once per distinct local hour, so a day is a few calls, not one
    per row. Ambiguous wall times (the repeated hour when clocks go back) take the first
    occurrence (``fold=0``); nonexistent ones (the skipped hour) take the offset before
    the change, as ``zoneinfo`` does.
    """
    if len(wall_ns) == 0:
        return wall_ns.astype(np.int64)
    hour = 3_600_000_000_000
    hours, inverse = np.unique(wall_ns // hour, return_inverse=True)
    epoch = dt.datetime(1970, 1, 1)
    offsets = np.empty(len(hours), dtype=np.int64)
    for index, value in enumerate(hours.tolist()):
        local = (epoch + dt.timedelta(hours=value)).replace(tzinfo=tz)
        offset = local.utcoffset()
        if offset is None:
            raise ValueError(f"time zone {tz} gives no UTC offset")
        offsets[index] = (offset // dt.timedelta(microseconds=1)) * 1000
    return (wall_ns - offsets[inverse.reshape(-1)]).astype(np.int64)


def parse_decimal_strings(
    values: npt.NDArray[np.bytes_], precision: int, *, rounding: bool = False
) -> tuple[Int64Array, BoolArray]:
    """Parse a numpy bytes array of decimal strings exactly; return ``(values, bad rows)``.

    For decimals that arrive inside other formats (JSON): the strings are gathered per chunk
    and parsed like a CSV column.
    """
    rows = len(values)
    width = max(values.dtype.itemsize, 1)
    if width > MAX_NUMBER_WIDTH:
        lengths = np.strings.str_len(values)
        bad = lengths > MAX_NUMBER_WIDTH
        if bad.any():
            return np.zeros(rows, dtype=np.int64), bad
    matrix = np.frombuffer(np.ascontiguousarray(values).tobytes(), dtype=np.uint8)
    chars = (
        matrix.reshape(rows, values.dtype.itemsize).T
        if values.dtype.itemsize
        else np.zeros((1, rows), dtype=np.uint8)
    )
    lengths = np.strings.str_len(values).astype(np.int64)
    return parse_decimal_matrix(np.ascontiguousarray(chars), lengths, precision, rounding=rounding)
