"""Plain OHLCV bar CSV files (``timestamp, open, high, low, close, volume``), plain or gzip.

Bars in zq are stamped at their **close**: a bar is known only once it has closed, so
``ts_event`` (and ``ts_init``) is the end of the bar's interval. Files differ on what their
timestamp means, and nothing in a file says which it is, so the loaders require you to
state it:

- ``timestamp_convention="open"``: the file stamps a bar with its start (Databento, Binance
  klines' open time, FTX's candles API). zq stamps it ``timestamp + interval``.
- ``timestamp_convention="close"``: the file stamps a bar with its end. zq keeps it.

When unsure, ``"close"`` is the safe choice: if wrong, bars arrive one interval late, where
``"open"`` if wrong would show each bar one interval before it was complete (look-ahead).

Timestamps may be integers since the epoch (``timestamp_unit`` ``"s"``, ``"ms"``, ``"us"``
or ``"ns"``; ``"auto"`` picks the unit from the first value's magnitude: below 10**11
seconds, below 10**14 milliseconds, below 10**17 microseconds, else nanoseconds) or
ISO 8601 text (``2024-01-01 23:01:00``, ``2024-01-01T23:01:00.5Z``, ``...+01:00``). ISO
text without an offset is read in ``time_zone`` (UTC by default).

The header is detected: a first line whose open column is not a number is a header, and
columns are then found by name (``timestamp``/``timestamp_utc``/``time``/``datetime``/
``date``, ``open``, ``high``, ``low``, ``close``, ``volume``), or as ``columns`` says.
Without a header the first six columns are taken in that order and any further columns
(Binance klines have twelve) are ignored.

A bar whose high is below its low, or whose open or close lies outside ``[low, high]``, or
whose volume is negative, is refused naming file and line.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from zq.data.arrays import BAR_DTYPE, bars_to_objects
from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    Fields,
    Int64Array,
    explain_decimal,
    iter_line_blocks,
    open_binary,
    split_line,
    wall_to_utc_ns,
)
from zq.model.data import Bar, BarSpecification, BarType

__all__ = ["TimestampConvention", "TimestampUnit", "bar_chunks", "bars"]

TimestampConvention = Literal["open", "close"]
TimestampUnit = Literal["auto", "s", "ms", "us", "ns", "iso"]

DEFAULT_CHUNK_SIZE = 100_000
_ROLES = ("timestamp", "open", "high", "low", "close", "volume")
_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "timestamp_utc", "time", "datetime", "date", "ts", "ts_event"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v"),
}
_UNIT_NANOS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INT64_MAX = np.iinfo(np.int64).max

Array = npt.NDArray[np.void]


def _interval_ns(interval: dt.timedelta | BarSpecification | BarType) -> int:
    if isinstance(interval, BarType):
        interval = interval.spec
    if isinstance(interval, BarSpecification):
        return interval.interval_ns
    nanos = interval // dt.timedelta(microseconds=1) * 1000
    if nanos <= 0:
        raise ValueError(f"bar interval must be positive, got {interval}")
    return nanos


def bar_chunks(
    path: str | Path,
    *,
    timestamp_convention: TimestampConvention,
    interval: dt.timedelta | BarSpecification | BarType,
    price_precision: int,
    size_precision: int,
    timestamp_unit: TimestampUnit = "auto",
    time_zone: str | dt.tzinfo = "UTC",
    header: bool | None = None,
    columns: Mapping[str, str | int] | None = None,
    round_excess_decimals: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Array]:
    """Stream an OHLCV CSV file as ``BAR_DTYPE`` arrays, stamped at each bar's close.

    Parameters
    ----------
    path : str or Path
        The CSV file, plain or gzip.
    timestamp_convention : {"open", "close"}
        What the file's timestamp marks: the bar's start or its end. Required.
    interval : timedelta, BarSpecification or BarType
        The bar length (a time-aggregated specification), used to move open stamps to the
        close.
    price_precision, size_precision : int
        Decimals of prices and of volume; more significant decimals are refused.
    timestamp_unit : {"auto", "s", "ms", "us", "ns", "iso"}
        How timestamps are written (see the module docstring).
    time_zone : str or tzinfo
        Zone of ISO timestamps written without an offset.
    header : bool, optional
        Whether the first line is a header; detected when ``None``.
    columns : mapping, optional
        Column of each of ``timestamp, open, high, low, close, volume``, by header name or
        0-based index, overriding the defaults.
    round_excess_decimals : bool
        Round a price or volume with more decimals than its precision half to even (on its
        decimal text, exactly) instead of refusing it. For files written from binary floats
        (``420687.75197499996``); off by default, so nothing is rounded silently.
    chunk_size : int
        Lines read per chunk.

    Raises
    ------
    DataFormatError
        A malformed or inconsistent bar, naming file, line, field and value.
    """
    if timestamp_convention not in ("open", "close"):
        raise ValueError(
            f"timestamp_convention must be 'open' or 'close', got {timestamp_convention!r}"
        )
    if timestamp_unit not in ("auto", "iso", *_UNIT_NANOS):
        raise ValueError(f"invalid timestamp_unit {timestamp_unit!r}")
    shift = _interval_ns(interval) if timestamp_convention == "open" else 0
    tz = zoneinfo.ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
    with open_binary(path) as stream:
        first = stream.readline().removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
        names = split_line(first, path)
        if names is None:
            return
        has_header = _is_header(names, columns) if header is None else header
        positions = _positions(path, names, has_header, columns)
        prefix = b"" if has_header else first
        field_names = names if has_header else [f"column {i}" for i in range(len(names))]
        for role, index in positions.items():
            if not has_header and index < len(field_names):
                field_names[index] = role
        unit = timestamp_unit
        blocks = iter_line_blocks(
            stream, chunk_size, path, first_line=2 if has_header else 1, prefix=prefix
        )
        for block, first_line in blocks:
            fields = Fields(path, block, first_line, field_names)
            if not len(fields):
                continue
            if unit == "auto":
                unit = _detect_unit(fields, positions["timestamp"])
            stamps = _timestamps(fields, positions["timestamp"], unit, tz)
            bars = np.zeros(len(fields), dtype=BAR_DTYPE)
            close_time = stamps + shift
            bars["ts_event"] = close_time
            bars["ts_init"] = close_time
            for role in ("open", "high", "low", "close"):
                bars[role] = fields.decimals(
                    positions[role],
                    price_precision,
                    negative=True,
                    rounding=round_excess_decimals,
                )
            bars["volume"] = fields.decimals(
                positions["volume"], size_precision, rounding=round_excess_decimals
            )
            _check_consistent(fields, bars, positions)
            yield bars


def _is_header(names: list[str], columns: Mapping[str, str | int] | None) -> bool:
    probe = (columns or {}).get("open", 1)
    if isinstance(probe, str):
        return True
    return probe >= len(names) or explain_decimal(names[probe], 18) is not None


def _positions(
    path: str | Path, names: list[str], has_header: bool, columns: Mapping[str, str | int] | None
) -> dict[str, int]:
    lowered = [name.lower() for name in names]
    positions: dict[str, int] = {}
    for role in _ROLES:
        chosen = (columns or {}).get(role)
        if isinstance(chosen, int):
            positions[role] = chosen
        elif isinstance(chosen, str):
            if not has_header or chosen.lower() not in lowered:
                raise DataFormatError(path, f"no column named {chosen!r}", line=1, value=names)
            positions[role] = lowered.index(chosen.lower())
        elif has_header:
            found = [alias for alias in _ALIASES[role] if alias in lowered]
            if not found:
                raise DataFormatError(
                    path,
                    f"header has no {role} column (looked for {', '.join(_ALIASES[role])}); "
                    "name it with columns=",
                    line=1,
                    value=names,
                )
            positions[role] = lowered.index(found[0])
        else:
            positions[role] = _ROLES.index(role)
    for role, index in positions.items():
        if not 0 <= index < len(names):
            raise DataFormatError(
                path, f"{role} column {index} is beyond the {len(names)} columns", line=1
            )
    return positions


def _detect_unit(fields: Fields, column: int) -> TimestampUnit:
    text = fields.text(0, column)
    if not text.isdigit():
        return "iso"
    value = int(text)
    if value < 10**11:
        return "s"
    if value < 10**14:
        return "ms"
    if value < 10**17:
        return "us"
    return "ns"


def _timestamps(fields: Fields, column: int, unit: TimestampUnit, tz: dt.tzinfo) -> Int64Array:
    if unit != "iso":
        values = fields.integers(column, negative=True)
        factor = _UNIT_NANOS[unit]
        overflow = np.abs(values) > _INT64_MAX // factor
        if overflow.any():
            raise fields.error(int(np.argmax(overflow)), column, "timestamp out of range")
        return values * factor
    return _iso_timestamps(fields, column, tz)


def _iso_timestamps(fields: Fields, column: int, tz: dt.tzinfo) -> Int64Array:
    chars = fields.chars(column, 64)  # (width, rows)
    lengths = fields.lengths(column)
    rows = np.arange(len(lengths))

    def char_at(offset: int) -> npt.NDArray[np.uint8]:
        index = lengths - offset
        return np.where(index >= 0, chars[np.clip(index, 0, chars.shape[0] - 1), rows], 0)

    zulu = char_at(1) == ord("Z")
    sign = char_at(6)
    has_offset = ((sign == ord("+")) | (sign == ord("-"))) & (char_at(3) == ord(":"))
    has_offset &= lengths > 16  # a date's own '-' is never 6 from the end of a date-time
    offset_ns = np.zeros(len(lengths), dtype=np.int64)
    if has_offset.any():
        digits = [char_at(k).astype(np.int64) - ord("0") for k in (5, 4, 2, 1)]
        valid = np.all([(d >= 0) & (d <= 9) for d in digits], axis=0) | ~has_offset
        if not valid.all():
            raise fields.error(int(np.argmax(~valid)), column, "invalid UTC offset")
        minutes = (digits[0] * 10 + digits[1]) * 60 + digits[2] * 10 + digits[3]
        offset_ns = np.where(has_offset, np.where(sign == ord("-"), -minutes, minutes), 0)
        offset_ns = offset_ns * 60_000_000_000
    cut = lengths - np.where(zulu, 1, np.where(has_offset, 6, 0))
    chars = chars * (np.arange(chars.shape[0])[:, None] < cut)
    text = np.ascontiguousarray(chars.T).view(f"S{chars.shape[0]}").reshape(len(lengths))
    try:
        parsed = text.astype("datetime64[ns]")
    except ValueError:
        for row, value in enumerate(text.tolist()):
            try:
                np.datetime64(value.decode("ascii", "replace"), "ns")
            except ValueError:
                raise fields.error(row, column, "not an ISO 8601 timestamp") from None
        raise
    nat = np.isnat(parsed)
    if nat.any():
        raise fields.error(int(np.argmax(nat)), column, "not an ISO 8601 timestamp")
    wall = parsed.astype(np.int64)
    aware = zulu | has_offset
    if aware.all() or tz in (dt.UTC, zoneinfo.ZoneInfo("UTC")):
        local = wall
    else:
        local = np.where(aware, wall, wall_to_utc_ns(wall, tz))
    result: Int64Array = (local - offset_ns).astype(np.int64)
    return result


def _check_consistent(fields: Fields, bars: Array, positions: dict[str, int]) -> None:
    high, low = bars["high"], bars["low"]
    checks = (
        (high < low, "high", "high below low"),
        ((bars["open"] > high) | (bars["open"] < low), "open", "open outside [low, high]"),
        ((bars["close"] > high) | (bars["close"] < low), "close", "close outside [low, high]"),
    )
    for bad, role, problem in checks:
        if bad.any():
            row = int(np.argmax(bad))
            line = fields.line_text(row)
            raise DataFormatError(
                fields.path, problem, line=int(fields.lines[row]), field=role, value=line
            )


def bars(
    path: str | Path,
    bar_type: BarType | str,
    *,
    timestamp_convention: TimestampConvention,
    price_precision: int,
    size_precision: int,
    timestamp_unit: TimestampUnit = "auto",
    time_zone: str | dt.tzinfo = "UTC",
    header: bool | None = None,
    columns: Mapping[str, str | int] | None = None,
    round_excess_decimals: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[Bar]:
    """Yield the ``Bar`` objects of an OHLCV CSV file, stamped at each bar's close.

    The interval comes from ``bar_type`` (which must be time-aggregated, such as
    ``"6EH4.XCME-1-MINUTE-LAST-EXTERNAL"``); the other parameters are those of
    :func:`bar_chunks`.
    """
    if isinstance(bar_type, str):
        bar_type = BarType.from_str(bar_type)
    for chunk in bar_chunks(
        path,
        timestamp_convention=timestamp_convention,
        interval=bar_type,
        price_precision=price_precision,
        size_precision=size_precision,
        timestamp_unit=timestamp_unit,
        time_zone=time_zone,
        header=header,
        columns=columns,
        round_excess_decimals=round_excess_decimals,
        chunk_size=chunk_size,
    ):
        yield from bars_to_objects(chunk, bar_type, price_precision, size_precision)
