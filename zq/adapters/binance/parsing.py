"""Binance market-data messages as zq data: bookTicker → QuoteTick, trade → TradeTick,
depth levels → raw fixed-point integers.

Prices and sizes are parsed exactly at the instrument's precision (Binance pads them with
zeros: ``"61800.20000000"`` at precision 2 is 6180020); a value with more significant
decimals than the instrument allows is refused, naming the stream and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec
import numpy as np
import numpy.typing as npt

from zq.adapters.binance.errors import BinanceStreamError
from zq.data.loaders._binance_decimal import DIGITS_AND_DOT, TokenError, Tokens, decimal_to_raw
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import AggressorSide
from zq.model.identifiers import TradeId
from zq.model.instruments import Instrument
from zq_core.book_ticker import BookTickerDecoder
from zq_core.fixed import Price, Quantity

__all__ = [
    "BOOK_TICKER_ENVELOPE",
    "BookTickerEnvelope",
    "MarketDataParser",
    "TradeMessage",
    "market_size_precision",
    "parse_levels",
]

_NS_PER_MS: Final = 1_000_000
_LEVEL_PAIR: Final = b'["",""]'  # one level once digits and dots are removed
_BULK_LEVELS: Final = 16  # below this, numpy's fixed cost exceeds a per-value parse
_MEMO_MAX: Final = 4096  # parsed prices and sizes a MarketDataParser keeps

Int64Array = npt.NDArray[np.int64]


class TradeMessage(msgspec.Struct, frozen=True):
    """``<symbol>@trade``."""

    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: str = msgspec.field(name="p")
    quantity: str = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    event_time: int = msgspec.field(default=0, name="E")


class BookTickerMessage(msgspec.Struct, frozen=True):
    """``<symbol>@bookTicker``: best bid and ask (spot messages carry no event time)."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_price: str = msgspec.field(name="b")
    bid_size: str = msgspec.field(name="B")
    ask_price: str = msgspec.field(name="a")
    ask_size: str = msgspec.field(name="A")
    event_time: int | None = msgspec.field(default=None, name="E")
    transaction_time: int | None = msgspec.field(default=None, name="T")


class DepthUpdateMessage(msgspec.Struct, frozen=True):
    """``<symbol>@depth`` (or ``@depth@100ms``): one diff, ``U`` to ``u``; levels kept raw."""

    symbol: str = msgspec.field(name="s")
    event_time: int = msgspec.field(name="E")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    bids: msgspec.Raw = msgspec.field(name="b")
    asks: msgspec.Raw = msgspec.field(name="a")


class BookTickerEnvelope(msgspec.Struct):
    """A combined stream's ``{"stream": ..., "data": bookTicker}``, decoded in one pass."""

    stream: str
    data: BookTickerMessage


#: Decodes a whole combined-stream bookTicker message (see ``BinanceWebSocketClient.route``).
BOOK_TICKER_ENVELOPE: Final = msgspec.json.Decoder(BookTickerEnvelope)
_TRADE_DECODER: Final = msgspec.json.Decoder(TradeMessage)
_TICKER_DECODER: Final = msgspec.json.Decoder(BookTickerMessage)
_DEPTH_DECODER: Final = msgspec.json.Decoder(DepthUpdateMessage)
_LEVELS_DECODER: Final = msgspec.json.Decoder(list[tuple[str, str]])


def market_size_precision(instrument: Instrument) -> int:
    """Return the precision of sizes in Binance's market data for ``instrument``.

    Book levels, trades and quotes show sizes finer than the order step (``LOT_SIZE``):
    resting remainders of orders sized by quote amount, for example ``"25.42618900"`` on
    BTCUSDT, whose step is ``0.00001``. They are exact at the base asset's precision (8 on
    Binance), which is the base currency's precision of a :class:`CurrencyPair`.
    """
    base = getattr(instrument, "base_currency", None)
    if base is not None:
        return max(int(base.precision), instrument.size_precision)
    return instrument.size_precision


def _raw(text: str, precision: int, stream: str, field: str) -> int:
    try:
        return decimal_to_raw(text, precision)
    except ValueError as error:
        raise BinanceStreamError(stream, str(error), field, text) from None


def parse_levels(
    raw: bytes, price_precision: int, size_precision: int, stream: str, field: str
) -> tuple[Int64Array, Int64Array]:
    """Return the ``[[price, size], ...]`` JSON ``raw`` as raw price and size arrays.

    Level lists in Binance's compact form (all of them in practice) are scanned in bulk
    with numpy (:class:`~zq.data.loaders._binance_decimal.Tokens`, the capture loader's
    scanner): a 5000-level snapshot costs about a millisecond, not a per-value parse.
    Anything else goes through msgspec and the exact one-value parser.
    """
    count = raw.count(b'"') // 4
    if (
        count >= _BULK_LEVELS
        and raw.translate(None, DIGITS_AND_DOT) == b"[" + b",".join([_LEVEL_PAIR] * count) + b"]"
    ):
        try:
            values = Tokens(raw).scale((price_precision, size_precision))
        except TokenError as error:
            where = f"{field}[{error.index // 2}][{error.index % 2}]"
            raise BinanceStreamError(stream, error.problem, where, error.text) from None
        return values[0::2].copy(), values[1::2].copy()
    try:
        levels = _LEVELS_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise BinanceStreamError(
            stream, f"price levels must be [price, size] string pairs: {error}", field
        ) from None
    prices = np.empty(len(levels), dtype=np.int64)
    sizes = np.empty(len(levels), dtype=np.int64)
    for index, (price, size) in enumerate(levels):
        prices[index] = _raw(price, price_precision, stream, f"{field}[{index}][0]")
        sizes[index] = _raw(size, size_precision, stream, f"{field}[{index}][1]")
    return prices, sizes


def decode_depth(payload: bytes, stream: str) -> DepthUpdateMessage:
    """Decode a diff-depth message, naming the stream if it is malformed."""
    try:
        return _DEPTH_DECODER.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise BinanceStreamError(stream, f"not a depthUpdate: {error}") from None


class MarketDataParser:
    """Turn one instrument's bookTicker and trade messages into zq data.

    Parameters
    ----------
    instrument
        Gives the id and the price precision (its tick's).
    size_precision
        The precision of sizes; default :func:`market_size_precision`.
    """

    __slots__ = (
        "_instrument_id",
        "_price_precision",
        "_prices",
        "_size_precision",
        "_sizes",
        "_streams",
        "_symbol",
    )

    def __init__(self, instrument: Instrument, size_precision: int | None = None) -> None:
        self._instrument_id = instrument.id
        self._price_precision = instrument.price_precision
        self._size_precision = (
            market_size_precision(instrument) if size_precision is None else size_precision
        )
        self._symbol = instrument.raw_symbol
        symbol = instrument.raw_symbol.lower()
        self._streams = (f"{symbol}@trade", f"{symbol}@bookTicker")
        # Values already parsed, by text: a quote stream repeats the same prices (and many
        # sizes) message after message. Each memo is cleared when full.
        self._prices: dict[str, Price] = {}
        self._sizes: dict[str, Quantity] = {}

    def _price(self, text: str, stream: str, field: str) -> Price:
        price = self._prices.get(text)
        if price is None:
            precision = self._price_precision
            price = Price.from_raw(_raw(text, precision, stream, field), precision)
            if len(self._prices) >= _MEMO_MAX:
                self._prices.clear()
            self._prices[text] = price
        return price

    def _size(self, text: str, stream: str, field: str) -> Quantity:
        size = self._sizes.get(text)
        if size is None:
            precision = self._size_precision
            size = Quantity.from_raw(_raw(text, precision, stream, field), precision)
            if len(self._sizes) >= _MEMO_MAX:
                self._sizes.clear()
            self._sizes[text] = size
        return size

    def trade(self, payload: bytes, ts_init: int) -> TradeTick:
        """Return a ``trade`` message as a TradeTick (``m`` true: the seller aggressed)."""
        stream = self._streams[0]
        try:
            message = _TRADE_DECODER.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise BinanceStreamError(stream, f"not a trade: {error}") from None
        return TradeTick(
            self._instrument_id,
            self._price(message.price, stream, "p"),
            self._size(message.quantity, stream, "q"),
            AggressorSide.SELLER if message.buyer_is_maker else AggressorSide.BUYER,
            TradeId(str(message.trade_id)),
            message.trade_time * _NS_PER_MS,
            ts_init,
        )

    def book_ticker_decoder(
        self, on_quote: Callable[[QuoteTick], object] | None = None
    ) -> BookTickerDecoder:
        """Return a compiled decoder of whole combined-stream bookTicker messages.

        Its ``decode(message, ts_init)`` returns the QuoteTick :meth:`quote_message` would
        make of the message's ``data``, or None for another stream's message or one of
        another shape than Binance's own (then decode its ``data`` with :meth:`quote`);
        its ``take(message, ts_init)`` hands that quote to ``on_quote``.
        """
        return BookTickerDecoder(
            self._streams[1],
            self._symbol,
            self._instrument_id,
            self._price_precision,
            self._size_precision,
            QuoteTick,
            on_quote,
        )

    def quote(self, payload: bytes, ts_init: int) -> QuoteTick:
        """Return a ``bookTicker`` message as a QuoteTick.

        Spot bookTicker messages carry no time: ``ts_event`` is then ``ts_init``.
        """
        try:
            message = _TICKER_DECODER.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise BinanceStreamError(self._streams[1], f"not a bookTicker: {error}") from None
        return self.quote_message(message, ts_init)

    def quote_message(self, message: BookTickerMessage, ts_init: int) -> QuoteTick:
        """Return a decoded ``bookTicker`` message as a QuoteTick (see :meth:`quote`)."""
        stream = self._streams[1]
        event_ms = message.transaction_time or message.event_time
        return QuoteTick(
            self._instrument_id,
            self._price(message.bid_price, stream, "b"),
            self._price(message.ask_price, stream, "a"),
            self._size(message.bid_size, stream, "B"),
            self._size(message.ask_size, stream, "A"),
            event_ms * _NS_PER_MS if event_ms else ts_init,
            ts_init,
        )
