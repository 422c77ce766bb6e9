"""An L2 market maker: one post-only bid and one post-only ask around a fair price, skewed
against the inventory, requoted on a 100 ms clock timer.

Every ``interval_ms`` the strategy reads the top of the book (kept up to date by a
top-of-book subscription), takes the mid (or the micro-price) as the fair price, shifts it
by ``skew_ticks_per_unit`` ticks per unit of position against the position, and wants a bid
``half_spread_ticks`` below it and an ask as far above it (never crossing the book, so the
post-only orders rest). A side whose fill could take the position beyond ``max_position``
is not quoted. A working quote is modified only when its desired price changed; at most one
order per side is live, so the position can never exceed ``max_position``.

Run it (a backtest of ``configs/market_maker.toml`` on the Binance USD-M BTCUSDT capture, or
on a generated L2 market when the capture is not there)::

    python examples/market_maker.py [path/to/capture.gz | --generated]
    zq backtest examples/configs/market_maker.toml
"""

from __future__ import annotations

import heapq
import math
import os
import random
import sys
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from zq.common.clock import TimeEvent
from zq.data.arrays import DELTA_DTYPE, TRADE_DTYPE, deltas_to_objects, trades_to_objects
from zq.model.data import BookFlags, OrderBookDelta, OrderBookDepth, TradeTick
from zq.model.enums import BookAction, OrderSide
from zq.model.identifiers import InstrumentId
from zq.model.instruments import Instrument
from zq.model.orders import Order
from zq.strategy import Strategy
from zq_core.fixed import Price, Quantity

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "configs" / "market_maker.toml"
#: The capture the config replays, beside the checkout (``ZQ_DATA`` overrides the folder).
CAPTURE = Path("binance") / "usdm" / "btcusdt_20240808.gz"
# Read once here rather than per requote (docs/concepts/strategy.md, "Per-event code").
BUY, SELL = OrderSide.BUY, OrderSide.SELL
ZERO = Decimal(0)


class MarketMakerParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The quoting rules.

    Attributes
    ----------
    instrument_id : str
        The instrument quoted.
    half_spread_ticks : int
        Distance of each quote from the (skewed) fair price, in ticks (at least 1).
    skew_ticks_per_unit : Decimal
        Ticks both quotes move against the position per unit of it (a long position lowers
        both quotes, so the ask is hit sooner and the bid later).
    order_size : Decimal
        Quantity of each quote.
    max_position : Decimal
        Largest absolute position; the side that could exceed it is not quoted.
    interval_ms : int
        Time between requotes.
    micro_price : bool
        Use the micro-price (the best prices weighted by the opposite sizes) instead of the
        mid as the fair price.
    """

    instrument_id: str = "BTCUSDT.BINANCE"
    half_spread_ticks: int = 1
    skew_ticks_per_unit: Decimal = Decimal(100)
    order_size: Decimal = Decimal("0.010")
    max_position: Decimal = Decimal("0.050")
    interval_ms: int = 100
    micro_price: bool = False

    def __post_init__(self) -> None:
        if self.half_spread_ticks < 1:
            raise ValueError(f"half_spread_ticks must be at least 1, got {self.half_spread_ticks}")
        if self.order_size <= 0:
            raise ValueError(f"order_size must be positive, got {self.order_size}")
        if self.max_position < self.order_size:
            raise ValueError(
                f"max_position {self.max_position} is below order_size {self.order_size}"
            )
        if self.interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, got {self.interval_ms}")


class MarketMaker(Strategy[MarketMakerParams]):
    """Quote both sides of one instrument around a skewed fair price."""

    TIMER = "market-maker-requote"

    def __init__(
        self,
        params: MarketMakerParams | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        super().__init__(
            params or MarketMakerParams(), strategy_id=strategy_id, order_id_tag=order_id_tag
        )
        self.instrument_id = InstrumentId(self.params.instrument_id)
        # The live quote of each side (None: none), the one order that side may have.
        self.quotes: dict[OrderSide, Order | None] = {BUY: None, SELL: None}
        self.requotes = 0  # timer fires that found a two-sided book

    def on_start(self) -> None:
        instrument = self.cache.instrument(self.instrument_id)
        if instrument is None:
            raise ValueError(f"{self.id}: instrument {self.instrument_id} is not in the cache")
        self.tick = instrument.price_increment.raw
        self.price_precision = instrument.price_precision
        self.size = Quantity(self.params.order_size, instrument.size_precision)
        # The cache's net positions, a live view: the position is one look-up per requote.
        self.net_positions = self.cache.net_positions()
        self.position_key = (self.instrument_id, self.id)
        # The book is kept (in C during a backtest) and read at each requote: no callback
        # per book change.
        self.subscribe_order_book(self.instrument_id)
        self.clock.set_timer(self.TIMER, self.params.interval_ms * 1_000_000, self.on_timer)

    def on_stop(self) -> None:
        if self.TIMER in self.clock.timer_names:
            self.clock.cancel_timer(self.TIMER)

    # -- quoting ---------------------------------------------------------------------------

    def desired_ticks(self, top: OrderBookDepth, position: Decimal) -> tuple[int, int]:
        """Return the bid and ask prices wanted, in ticks, given the top of the book and the
        position."""
        bid, ask = top.bids[0], top.asks[0]
        return self.ticks_for(bid.price.raw, ask.price.raw, position, bid.size.raw, ask.size.raw)

    def ticks_for(
        self, bid: int, ask: int, position: Decimal, bid_size: int = 0, ask_size: int = 0
    ) -> tuple[int, int]:
        """Return the bid and ask prices wanted, in ticks, from the best raw prices (and their
        sizes, read for the micro-price only) and the position."""
        params = self.params
        tick = self.tick
        if params.micro_price:
            fair = (bid * ask_size + ask * bid_size) / ((bid_size + ask_size) * tick)
        else:
            fair = (bid + ask) / (2 * tick)
        reservation = fair - float(params.skew_ticks_per_unit * position)
        want_bid = math.floor(reservation - params.half_spread_ticks)
        want_ask = math.ceil(reservation + params.half_spread_ticks)
        # Never cross the book: a post-only order that would take is rejected.
        return min(want_bid, ask // tick - 1), max(want_ask, bid // tick + 1)

    def on_timer(self, event: TimeEvent) -> None:
        # Per-event code kept cheap (docs/concepts/strategy.md, "Per-event code"): the book's
        # best raw prices, not an OrderBookDepth; the position from the cache's live view.
        book = self.order_book(self.instrument_id)
        if book is None:
            return
        bid, ask = book.best_bid_raw(), book.best_ask_raw()
        if bid is None or ask is None:
            return
        self.requotes += 1
        position = self.net_positions.get(self.position_key, ZERO)
        if self.params.micro_price:
            bid_size, ask_size = book.best_bid_size(), book.best_ask_size()
            assert bid_size is not None and ask_size is not None  # both sides have a level
            want_bid, want_ask = self.ticks_for(bid, ask, position, bid_size.raw, ask_size.raw)
        else:
            want_bid, want_ask = self.ticks_for(bid, ask, position)
        size = self.params.order_size
        limit = self.params.max_position
        self.quote(BUY, want_bid, position + size <= limit)
        self.quote(SELL, want_ask, position - size >= -limit)

    def quote(self, side: OrderSide, ticks: int, allowed: bool) -> None:
        """Bring one side's quote to ``ticks`` (or away when not ``allowed``)."""
        order = self.quotes[side]
        if order is not None and order.is_closed:
            order = self.quotes[side] = None
        if order is None:
            if allowed:
                price = Price.from_raw(ticks * self.tick, self.price_precision)
                order = self.order_factory.limit(
                    self.instrument_id, side, self.size, price, post_only=True
                )
                self.quotes[side] = order
                self.submit_order(order)
            return
        if order.is_inflight or not order.is_open:
            return  # wait for the venue's answer
        if not allowed:
            self.cancel_order(order)
        elif order.price is not None and order.price.raw != ticks * self.tick:
            self.modify_order(order, price=Price.from_raw(ticks * self.tick, self.price_precision))


# -- the data ---------------------------------------------------------------------------------


def capture_data(path: Path, instrument: Instrument) -> list[OrderBookDelta | TradeTick]:
    """Return the capture's book deltas and trades as objects (its quotes left out).

    The config's ``binance`` source replays the capture by itself; this is the same market
    for code that wants the objects (a reference simulator, a benchmark).
    """
    from zq.data.loaders.binance import BinanceCaptureLoader

    loader = BinanceCaptureLoader(
        path,
        price_precision=instrument.price_precision,
        size_precision=instrument.size_precision,
    )
    return [
        datum
        for datum in loader.objects(instrument.id)
        if isinstance(datum, OrderBookDelta | TradeTick)
    ]


def generate_l2_arrays(
    events: int,
    seed: int = 7,
    *,
    levels: int = 20,
    start_ns: int = 1_723_161_600_000_000_000,
    price_ticks: int = 600_000,
) -> tuple[npt.NDArray[np.void], npt.NDArray[np.void]]:
    """Return a seeded random L2 market as ``DELTA_DTYPE`` and ``TRADE_DTYPE`` arrays.

    Prices are raw at precision 2 on a tick of 0.10 (``price_ticks`` is the first best bid,
    in ticks), sizes raw at precision 3 (levels of up to 8 BTC). A snapshot of ``levels``
    levels a side comes first, then ``events`` changes: size changes of a level near the
    top (92 %), trades of up to 3 BTC at the best bid or ask followed by the level's new
    size (5 %), and one-tick moves of the price (3 %: a new best level inside a two-tick
    spread, or the best level on the side the price leaves emptied). Changes come in venue
    messages of about 50, 5 to 45 ms apart, whose last delta is flagged LAST; a trade is a
    message of its own. The book is never crossed.
    """
    rng = random.Random(seed)
    tick = 10  # raw at precision 2
    bids = {price_ticks - i: rng.randint(1, 8_000) for i in range(levels)}
    asks = {price_ticks + 1 + i: rng.randint(1, 8_000) for i in range(levels)}
    ts = start_ns
    deltas: list[tuple[int, int, int, int]] = []  # ts, side, price (ticks), size
    trades: list[tuple[int, int, int, int]] = []  # ts, aggressor, price (ticks), size
    buy, sell = int(OrderSide.BUY), int(OrderSide.SELL)
    for price, size in sorted(bids.items()):
        deltas.append((ts, buy, price, size))
    for price, size in sorted(asks.items()):
        deltas.append((ts, sell, price, size))
    for _ in range(events):
        if rng.random() < 0.02:  # a new venue message; about 50 changes per message
            ts += rng.randint(5_000_000, 45_000_000)
        best_bid, best_ask = max(bids), min(asks)
        draw = rng.random()
        if draw < 0.92:  # a level near the top changes size
            side = buy if rng.random() < 0.5 else sell
            book = bids if side == buy else asks
            depth = min(int(rng.expovariate(0.5)), levels - 1)
            price = best_bid - depth if side == buy else best_ask + depth
            book[price] = max(1, book.get(price, 0) + rng.randint(-1_000, 1_000))
            deltas.append((ts, side, price, book[price]))
        elif draw < 0.97:  # a trade takes part of the best level
            buyer = rng.random() < 0.5
            side, book, price = (sell, asks, best_ask) if buyer else (buy, bids, best_bid)
            size = rng.randint(1, min(book[price], 3_000))
            ts += 1  # the trade, then the level's new size in a message of its own
            trades.append((ts, buy if buyer else sell, price, size))
            ts += 1
            left = book[price] - size
            if left:
                book[price] = left
            else:
                del book[price]
            deltas.append((ts, side, price, left))
            if not book:  # refill an emptied side one tick further away
                price = price + 1 if buyer else price - 1
                book[price] = rng.randint(1, 8_000)
                deltas.append((ts, side, price, book[price]))
        else:  # the price moves one tick
            up = rng.random() < 0.5
            if best_ask - best_bid > 1:  # a new best level inside the spread
                side, book, price = (buy, bids, best_bid + 1) if up else (sell, asks, best_ask - 1)
                book[price] = rng.randint(1, 8_000)
                deltas.append((ts, side, price, book[price]))
                if len(book) > levels:
                    far = min(book) if side == buy else max(book)
                    del book[far]
                    deltas.append((ts, side, far, 0))
            else:  # the best level the price moves away from empties
                side, book, price = (sell, asks, best_ask) if up else (buy, bids, best_bid)
                if len(book) > 1:
                    del book[price]
                    deltas.append((ts, side, price, 0))
    delta_rows = np.zeros(len(deltas), dtype=DELTA_DTYPE)
    if deltas:
        stamps, sides, prices, sizes = (
            np.array(c, dtype=np.int64) for c in zip(*deltas, strict=True)
        )
        delta_rows["ts_event"] = delta_rows["ts_init"] = stamps
        delta_rows["side"] = sides
        delta_rows["price"] = prices * tick
        delta_rows["size"] = sizes
        delta_rows["action"] = np.where(sizes > 0, int(BookAction.UPDATE), int(BookAction.DELETE))
        # The last delta of each message (the next one is later) is flagged LAST.
        last = np.append(stamps[1:] != stamps[:-1], True)
        delta_rows["flags"] = np.where(last, int(BookFlags.LAST), 0)
        delta_rows["sequence"] = np.arange(1, len(deltas) + 1)
    trade_rows = np.zeros(len(trades), dtype=TRADE_DTYPE)
    if trades:
        stamps, aggressors, prices, sizes = (
            np.array(c, dtype=np.int64) for c in zip(*trades, strict=True)
        )
        trade_rows["ts_event"] = trade_rows["ts_init"] = stamps
        trade_rows["aggressor_side"] = aggressors
        trade_rows["price"] = prices * tick
        trade_rows["size"] = sizes
        trade_rows["trade_id"] = np.arange(1, len(trades) + 1)
    return delta_rows, trade_rows


def generate_l2_market(
    instrument_id: InstrumentId, events: int, seed: int = 7
) -> Iterator[OrderBookDelta | TradeTick]:
    """Yield the market of :func:`generate_l2_arrays` as objects, in ``ts_init`` order."""
    deltas, trades = generate_l2_arrays(events, seed)
    yield from heapq.merge(
        deltas_to_objects(deltas, instrument_id, 2, 3),
        trades_to_objects(trades, instrument_id, 2, 3),
        key=lambda datum: datum.ts_init,
    )


# -- running ---------------------------------------------------------------------------------


def capture_path(argument: str | None = None) -> Path | None:
    """Return the capture to replay: the argument, else the shared data's, if it exists."""
    if argument is not None:
        return Path(argument)
    folder = Path(os.environ.get("ZQ_DATA", HERE.parents[1] / "shared" / "data"))
    path = folder / CAPTURE
    return path if path.is_file() else None


def example_config(capture: Path | None) -> Any:
    """Return ``configs/market_maker.toml`` with its ``binance`` source reading ``capture``
    (None: without data, for data given to the node)."""
    from zq.backtest import parse_config

    with CONFIG.open("rb") as file:
        raw = tomllib.load(file)
    if capture is None:
        raw["data"] = []
    else:
        raw["data"][0]["path"] = str(Path(capture).resolve())
    return parse_config(raw, str(CONFIG), CONFIG.parent)


def main(source: str | None = None, *, generated_events: int = 100_000) -> Any:
    """Backtest the example config and print the result; return it.

    ``source`` is a capture file, ``"--generated"`` for a generated L2 market, or None for
    the shared data's capture when it is there (else a generated market).
    """
    from zq.backtest import BacktestNode

    path = None if source == "--generated" else capture_path(source)
    config = example_config(path)
    if path is not None:
        print(f"replaying {path}")
        data: list[Any] = []
    else:
        (instrument,) = BacktestNode(config).instruments()
        print(f"no capture found: replaying a generated L2 market of {generated_events:,} events")
        data = list(generate_l2_market(instrument.id, generated_events))
    result = BacktestNode(config, data=data).run()
    print(result.summary())
    return result


if __name__ == "__main__":
    # Only arguments of this script count: run by a test runner (runpy), argv is the runner's.
    mine = [a for a in sys.argv[1:] if a == "--generated" or a.endswith((".gz", ".txt"))]
    main(mine[0] if mine else None)
