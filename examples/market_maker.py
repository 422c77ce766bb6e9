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

    python examples/market_maker.py [path/to/btcusdt_20240808.gz | --generated]
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from zq.common.clock import TimeEvent
from zq.model.currency import Currency
from zq.model.data import BookFlags, OrderBookDelta, OrderBookDepth, TradeTick
from zq.model.enums import AggressorSide, AssetClass, BookAction, OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq.model.instruments import CryptoPerpetual
from zq.model.orders import Order
from zq.strategy import Strategy
from zq_core.fixed import Price, Quantity

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "configs" / "market_maker.toml"
#: The capture the config replays, beside the checkout (``ZQ_DATA`` overrides the folder).
CAPTURE = Path("binance") / "usdm" / "btcusdt_20240808.gz"


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
        self.top: OrderBookDepth | None = None
        # The live quote of each side (None: none), the one order that side may have.
        self.quotes: dict[OrderSide, Order | None] = {OrderSide.BUY: None, OrderSide.SELL: None}
        self.requotes = 0  # timer fires that found a two-sided book

    def on_start(self) -> None:
        instrument = self.cache.instrument(self.instrument_id)
        if instrument is None:
            raise ValueError(f"{self.id}: instrument {self.instrument_id} is not in the cache")
        self.tick = instrument.price_increment.raw
        self.price_precision = instrument.price_precision
        self.size = Quantity(self.params.order_size, instrument.size_precision)
        self.subscribe_top_of_book(self.instrument_id)
        self.clock.set_timer(self.TIMER, self.params.interval_ms * 1_000_000, self.on_timer)

    def on_stop(self) -> None:
        if self.TIMER in self.clock.timer_names:
            self.clock.cancel_timer(self.TIMER)

    def on_book(self, book: Any) -> None:
        if isinstance(book, OrderBookDepth):
            self.top = book

    # -- quoting ---------------------------------------------------------------------------

    def fair_ticks(self, top: OrderBookDepth) -> float:
        """Return the fair price in ticks: the mid, or the micro-price."""
        bid, ask = top.bids[0], top.asks[0]
        if not self.params.micro_price:
            return (bid.price.raw + ask.price.raw) / (2 * self.tick)
        bid_size, ask_size = bid.size.raw, ask.size.raw
        weighted = bid.price.raw * ask_size + ask.price.raw * bid_size
        return weighted / ((bid_size + ask_size) * self.tick)

    def desired_ticks(self, top: OrderBookDepth, position: Decimal) -> tuple[int, int]:
        """Return the bid and ask prices wanted, in ticks, given the book and the position."""
        params = self.params
        reservation = self.fair_ticks(top) - float(params.skew_ticks_per_unit * position)
        bid = math.floor(reservation - params.half_spread_ticks)
        ask = math.ceil(reservation + params.half_spread_ticks)
        # Never cross the book: a post-only order that would take is rejected.
        best_bid = top.bids[0].price.raw // self.tick
        best_ask = top.asks[0].price.raw // self.tick
        return min(bid, best_ask - 1), max(ask, best_bid + 1)

    def on_timer(self, event: TimeEvent) -> None:
        top = self.top
        if top is None or not top.bids or not top.asks:
            return
        self.requotes += 1
        position = self.portfolio.net_position(self.instrument_id, self.id)
        bid, ask = self.desired_ticks(top, position)
        size = self.params.order_size
        limit = self.params.max_position
        self.quote(OrderSide.BUY, bid, position + size <= limit)
        self.quote(OrderSide.SELL, ask, position - size >= -limit)

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


# -- the instrument and the data -----------------------------------------------------------


def btcusdt_perpetual() -> CryptoPerpetual:
    """Return Binance USD-M BTCUSDT: tick 0.10, lot 0.001, maker 0.02 %, taker 0.05 %.

    The capture writes prices with two decimals (``61800.20``), so the tick is ``0.10`` at
    price precision 2.
    """
    return CryptoPerpetual(
        id=InstrumentId("BTCUSDT.BINANCE"),
        raw_symbol="BTCUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=Currency.from_str("USDT"),
        base_currency=Currency.from_str("BTC"),
        price_increment=Price.from_str("0.10"),
        size_increment=Quantity.from_str("0.001"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        margin_init=Decimal("0.01"),
        margin_maint=Decimal("0.005"),
    )


def capture_data(path: Path, instrument_id: InstrumentId) -> list[OrderBookDelta | TradeTick]:
    """Return the capture's book deltas and trades (an L2 venue is fed no quotes)."""
    from zq.data.loaders.binance import BinanceCaptureLoader

    loader = BinanceCaptureLoader(path, price_precision=2, size_precision=3)
    return [
        datum
        for datum in loader.objects(instrument_id)
        if isinstance(datum, OrderBookDelta | TradeTick)
    ]


def generate_l2_market(
    instrument_id: InstrumentId,
    events: int,
    seed: int = 7,
    *,
    levels: int = 20,
    start_ns: int = 1_723_161_600_000_000_000,
    price_ticks: int = 600_000,
) -> Iterator[OrderBookDelta | TradeTick]:
    """Yield a seeded random L2 market (prices at precision 2, tick 0.10; sizes at 3).

    A snapshot of ``levels`` levels a side, then ``events`` venue events about 1 ms apart:
    size updates of a level near the top (most), trades at the best bid or ask followed by
    the level's new size, and one-tick moves of the spread (the top level emptied on one
    side, a new level on the other). Every delta is its own venue event (flagged LAST).
    The book is never crossed.
    """
    rng = random.Random(seed)
    tick = 10  # raw at precision 2
    bids = {price_ticks - i: rng.randint(1, 2_000) for i in range(levels)}
    asks = {price_ticks + 1 + i: rng.randint(1, 2_000) for i in range(levels)}
    ts = start_ns
    sequence = 0
    last = int(BookFlags.LAST)

    def delta(side: OrderSide, price: int, size: int) -> OrderBookDelta:
        nonlocal sequence
        sequence += 1
        action = BookAction.UPDATE if size else BookAction.DELETE
        return OrderBookDelta(
            instrument_id,
            action,
            side,
            Price.from_raw(price * tick, 2),
            Quantity.from_raw(size, 3),
            0,
            last,
            sequence,
            ts,
            ts,
        )

    for price, size in sorted(bids.items()):
        yield delta(OrderSide.BUY, price, size)
    for price, size in sorted(asks.items()):
        yield delta(OrderSide.SELL, price, size)
    trade_id = 0
    for _ in range(events):
        ts += rng.randint(200_000, 1_800_000)
        best_bid, best_ask = max(bids), min(asks)
        draw = rng.random()
        if draw < 0.70:  # a level near the top changes size
            side = OrderSide.BUY if rng.random() < 0.5 else OrderSide.SELL
            book = bids if side is OrderSide.BUY else asks
            depth = min(int(rng.expovariate(0.5)), levels - 1)
            price = best_bid - depth if side is OrderSide.BUY else best_ask + depth
            size = max(1, book.get(price, 0) + rng.randint(-300, 300))
            book[price] = size
            yield delta(side, price, size)
        elif draw < 0.90:  # a trade takes part of the best level
            buyer = rng.random() < 0.5
            side = OrderSide.SELL if buyer else OrderSide.BUY
            book = asks if buyer else bids
            price = best_ask if buyer else best_bid
            size = rng.randint(1, book[price])
            trade_id += 1
            yield TradeTick(
                instrument_id,
                Price.from_raw(price * tick, 2),
                Quantity.from_raw(size, 3),
                AggressorSide.BUYER if buyer else AggressorSide.SELLER,
                TradeId(str(trade_id)),
                ts,
                ts,
            )
            ts += 1
            left = book[price] - size
            if left:
                book[price] = left
            else:
                del book[price]
            yield delta(side, price, left)
            if not book:  # refill an emptied side one tick away
                price = price + 1 if buyer else price - 1
                book[price] = rng.randint(1, 2_000)
                yield delta(side, price, book[price])
        else:  # the price moves one tick
            up = rng.random() < 0.5
            if best_ask - best_bid > 1:  # a new best level inside the spread
                side, book, price = (
                    (OrderSide.BUY, bids, best_bid + 1)
                    if up
                    else (OrderSide.SELL, asks, best_ask - 1)
                )
                book[price] = rng.randint(1, 2_000)
                yield delta(side, price, book[price])
                if len(book) > levels:
                    far = min(book) if side is OrderSide.BUY else max(book)
                    del book[far]
                    yield delta(side, far, 0)
            else:  # the best level the price moves away from empties
                side, book, price = (
                    (OrderSide.SELL, asks, best_ask) if up else (OrderSide.BUY, bids, best_bid)
                )
                if len(book) > 1:
                    del book[price]
                    yield delta(side, price, 0)


# -- running ---------------------------------------------------------------------------------


def capture_path(argument: str | None = None) -> Path | None:
    """Return the capture to replay: the argument, else the shared data's, if it exists."""
    if argument is not None:
        return Path(argument)
    folder = Path(os.environ.get("ZQ_DATA", HERE.parents[1] / "shared" / "data"))
    path = folder / CAPTURE
    return path if path.is_file() else None


def main(argv: list[str] | None = None, *, generated_events: int = 100_000) -> Any:
    """Backtest the example config on the capture (or a generated market) and print it."""
    from zq.backtest import BacktestNode, load_config

    args = sys.argv[1:] if argv is None else argv
    config = load_config(CONFIG)
    instrument = btcusdt_perpetual()
    path = None if args[:1] == ["--generated"] else capture_path(args[0] if args else None)
    if path is not None:
        print(f"replaying {path}")
        data: list[Any] = capture_data(path, instrument.id)
    else:
        print(f"no capture found: replaying a generated L2 market of {generated_events:,} events")
        data = list(generate_l2_market(instrument.id, generated_events))
    result = BacktestNode(config, data=data, instruments=[instrument]).run()
    print(result.summary())
    return result


if __name__ == "__main__":
    main()
