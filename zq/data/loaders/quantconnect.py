"""QuantConnect LEAN tick files: US equity trade ticks and FX quote ticks (zipped CSV).

A LEAN tick file is a zip holding one headerless CSV for one day, named like
``20131007_trade.zip`` (the date is read from the name unless you pass ``date``).

Time: the first column is milliseconds since midnight in the data's time zone, as a wall
clock (LEAN adds it to the local midnight, then converts to UTC). zq converts each tick to
UTC nanoseconds with the zone's rules for that date, daylight saving included:

- US equities (AlgoSeek): ``America/New_York`` (2013-10-07 04:00:00.464 EDT is
  08:00:00.464 UTC).
- FX from FXCM: LEAN's market-hours database gives a fixed UTC−05:00 offset, no daylight
  saving (:data:`FXCM_TIME_ZONE`).

Both ``ts_event`` and ``ts_init`` are that time: the file has no second clock.

Equity trades: ``time, price, size, exchange, sale condition, suspicious``. The price is an
integer in deci-cents (1/10,000 USD: ``1674100`` is 167.41); the sale condition is LEAN's
hexadecimal flag word; ``suspicious`` is AlgoSeek's flag for prints far from the market that
may be reversed. LEAN leaves suspicious ticks out of its bars, and so do these loaders by
default (``include_suspicious=True`` keeps them); each chunk says how many it left out.

FX quotes: ``time, bid, ask`` with no sizes (sizes are 0). Dealer feeds are often locked or
crossed; such rows are kept as they are and counted in each chunk.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from zq.data.arrays import QUOTE_DTYPE, TRADE_DTYPE, quotes_to_objects
from zq.data.errors import DataFormatError
from zq.data.loaders._delimited import (
    Fields,
    Int64Array,
    iter_line_blocks,
    open_binary,
    wall_to_utc_ns,
    zip_member_name,
)
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import AggressorSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

__all__ = [
    "EQUITY_TIME_ZONE",
    "FXCM_TIME_ZONE",
    "QuoteChunk",
    "TradeChunk",
    "quote_chunks",
    "quote_ticks",
    "trade_chunks",
    "trade_ticks",
]

#: Time zone of LEAN's US equity data.
EQUITY_TIME_ZONE = zoneinfo.ZoneInfo("America/New_York")
#: Time zone of LEAN's FXCM data: a fixed UTC−05:00, no daylight saving.
FXCM_TIME_ZONE = dt.timezone(dt.timedelta(hours=-5), "UTC-05:00")

DEFAULT_CHUNK_SIZE = 250_000
_DAY_MS = 86_400_000
_DECI_CENTS = 4  # LEAN equity prices are integers at 4 decimals
_DATE = re.compile(r"(?<!\d)(\d{8})_")
_TRADE_FIELDS = ["time", "price", "size", "exchange", "conditions", "suspicious"]
_QUOTE_FIELDS = ["time", "bid", "ask"]
_FLAGS = {b"0": 0, b"1": 1, b"false": 0, b"true": 1, b"False": 0, b"True": 1}

Array = npt.NDArray[np.void]


class TradeChunk(NamedTuple):
    """Equity trades of one chunk, with LEAN's extra columns aligned row for row.

    ``trades`` is ``TRADE_DTYPE`` (``trade_id`` 0 and ``NO_AGGRESSOR``: the tape gives
    neither); ``exchange`` the venue letter; ``conditions`` the sale-condition flags;
    ``suspicious`` AlgoSeek's flag; ``lines`` the 1-based line of each row in the file.
    ``suspicious_dropped`` counts the suspicious rows of this chunk that were left out.
    """

    trades: Array
    exchange: npt.NDArray[np.bytes_]
    conditions: npt.NDArray[np.uint64]
    suspicious: npt.NDArray[np.bool_]
    lines: Int64Array
    suspicious_dropped: int


class QuoteChunk(NamedTuple):
    """Quotes of one chunk (``QUOTE_DTYPE``, sizes 0) and how many are locked or crossed."""

    quotes: Array
    locked: int
    crossed: int


def _tz(time_zone: str | dt.tzinfo) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone


def _file_date(path: Path, date: dt.date | None) -> dt.date:
    if date is not None:
        return date
    for name in (path.name, zip_member_name(path) or ""):
        match = _DATE.search(name)
        if match:
            try:
                return dt.datetime.strptime(match[1], "%Y%m%d").date()
            except ValueError:
                continue
    raise DataFormatError(
        path, "no date in the file name (LEAN names files YYYYMMDD_...): pass date="
    )


def _times(fields: Fields, day: dt.date, tz: dt.tzinfo) -> Int64Array:
    millis = fields.integers(0)
    outside = millis >= _DAY_MS
    if outside.any():
        raise fields.error(int(np.argmax(outside)), 0, "milliseconds since midnight beyond a day")
    midnight = (day - dt.date(1970, 1, 1)).days * _DAY_MS
    return wall_to_utc_ns((midnight + millis) * 1_000_000, tz)


def _blocks(path: Path, names: list[str], chunk_size: int) -> Iterator[Fields]:
    with open_binary(path) as stream:
        for block, first_line in iter_line_blocks(stream, chunk_size, path):
            fields = Fields(path, block, first_line, names)
            if len(fields):
                yield fields


def trade_chunks(
    path: str | Path,
    price_precision: int,
    *,
    size_precision: int = 0,
    date: dt.date | None = None,
    time_zone: str | dt.tzinfo = EQUITY_TIME_ZONE,
    include_suspicious: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeChunk]:
    """Stream a LEAN equity trade tick zip as :class:`TradeChunk` arrays.

    Parameters
    ----------
    path : str or Path
        ``YYYYMMDD_trade.zip`` (or its CSV).
    price_precision : int
        Decimals of the instrument's prices. Deci-cents are exact at 4; at fewer decimals
        a price with a non-zero digit beyond them is refused, never rounded.
    size_precision : int
        Decimals of the instrument's sizes (shares are whole: raw = shares × 10**it).
    date : datetime.date, optional
        The trading day; read from the file name by default.
    time_zone : str or tzinfo
        Zone of the file's wall clock; New York by default.
    include_suspicious : bool
        Keep trades flagged suspicious (left out by default, as LEAN's bars do).
    chunk_size : int
        Lines read per chunk.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value.
    """
    path = Path(path)
    day = _file_date(path, date)
    tz = _tz(time_zone)
    for fields in _blocks(path, _TRADE_FIELDS, chunk_size):
        times = _times(fields, day, tz)
        deci_cents = fields.integers(1)
        price = _from_deci_cents(fields, deci_cents, price_precision)
        size = fields.integers(2)
        if size_precision:
            size = size * 10**size_precision
        exchange = fields.strings(3, 8)
        conditions = fields.hexadecimals(4)
        suspicious = fields.choices(5, _FLAGS).astype(np.bool_)
        trades = np.zeros(len(fields), dtype=TRADE_DTYPE)
        trades["ts_event"] = times
        trades["ts_init"] = times
        trades["price"] = price
        trades["size"] = size
        trades["aggressor_side"] = AggressorSide.NO_AGGRESSOR
        dropped = 0
        lines = fields.lines
        if not include_suspicious and suspicious.any():
            keep = ~suspicious
            dropped = int(suspicious.sum())
            trades, exchange, conditions = trades[keep], exchange[keep], conditions[keep]
            suspicious, lines = suspicious[keep], lines[keep]
        yield TradeChunk(trades, exchange, conditions, suspicious, lines, dropped)


def _from_deci_cents(fields: Fields, deci_cents: Int64Array, precision: int) -> Int64Array:
    if precision >= _DECI_CENTS:
        scaled: Int64Array = deci_cents * np.int64(10 ** (precision - _DECI_CENTS))
        return scaled
    divisor = np.int64(10 ** (_DECI_CENTS - precision))
    inexact = deci_cents % divisor != 0
    if inexact.any():
        raise fields.error(
            int(np.argmax(inexact)),
            1,
            f"price (deci-cents) has more decimals than the precision ({precision})",
        )
    whole: Int64Array = deci_cents // divisor
    return whole


def trade_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    *,
    size_precision: int = 0,
    date: dt.date | None = None,
    time_zone: str | dt.tzinfo = EQUITY_TIME_ZONE,
    include_suspicious: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[TradeTick]:
    """Yield the ``TradeTick`` objects of a LEAN equity trade tick zip.

    The tape has no trade ids: each tick's id is ``YYYYMMDD-<line>`` (its line in the
    file), stable whether or not suspicious trades are kept.
    """
    path = Path(path)
    day = _file_date(path, date)
    instrument = (
        instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
    )
    prefix = day.strftime("%Y%m%d")
    for chunk in trade_chunks(
        path,
        price_precision,
        size_precision=size_precision,
        date=day,
        time_zone=time_zone,
        include_suspicious=include_suspicious,
        chunk_size=chunk_size,
    ):
        for (ts_event, ts_init, price, size, _, _, _), line in zip(
            chunk.trades.tolist(), chunk.lines.tolist(), strict=True
        ):
            yield TradeTick(
                instrument,
                Price.from_raw(price, price_precision),
                Quantity.from_raw(size, size_precision),
                AggressorSide.NO_AGGRESSOR,
                TradeId(f"{prefix}-{line}"),
                ts_event,
                ts_init,
            )


def quote_chunks(
    path: str | Path,
    price_precision: int,
    *,
    date: dt.date | None = None,
    time_zone: str | dt.tzinfo = FXCM_TIME_ZONE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[QuoteChunk]:
    """Stream a LEAN FX quote tick zip (``time, bid, ask``) as :class:`QuoteChunk` arrays.

    Parameters
    ----------
    path : str or Path
        ``YYYYMMDD_quote.zip`` (or its CSV).
    price_precision : int
        Decimals of the pair's prices (5 for EURUSD); more significant decimals are refused.
    date : datetime.date, optional
        The day; read from the file name by default.
    time_zone : str or tzinfo
        Zone of the file's wall clock: fixed UTC−05:00 (FXCM) by default.
    chunk_size : int
        Lines read per chunk.

    Raises
    ------
    DataFormatError
        A malformed row, naming file, line, field and value. Locked and crossed quotes are
        not errors: they are counted in each chunk.
    """
    path = Path(path)
    day = _file_date(path, date)
    tz = _tz(time_zone)
    for fields in _blocks(path, _QUOTE_FIELDS, chunk_size):
        quotes = np.zeros(len(fields), dtype=QUOTE_DTYPE)
        times = _times(fields, day, tz)
        quotes["ts_event"] = times
        quotes["ts_init"] = times
        quotes["bid_price"] = bid = fields.decimals(1, price_precision)
        quotes["ask_price"] = ask = fields.decimals(2, price_precision)
        yield QuoteChunk(quotes, int((bid == ask).sum()), int((bid > ask).sum()))


def quote_ticks(
    path: str | Path,
    instrument_id: InstrumentId | str,
    price_precision: int,
    *,
    size_precision: int = 0,
    date: dt.date | None = None,
    time_zone: str | dt.tzinfo = FXCM_TIME_ZONE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[QuoteTick]:
    """Yield the ``QuoteTick`` objects of a LEAN FX quote tick zip (sizes are zero)."""
    instrument = (
        instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
    )
    for chunk in quote_chunks(
        path, price_precision, date=date, time_zone=time_zone, chunk_size=chunk_size
    ):
        yield from quotes_to_objects(chunk.quotes, instrument, price_precision, size_precision)
