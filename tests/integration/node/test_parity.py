"""Parity: one strategy, run in BacktestNode and live in a TradingNode, on the same capture.

The strategy is ``examples/ema_cross.py``'s ``EmaCross``, unchanged: it trades market orders
on the EMA(10/20) cross of Binance spot BTCUSDT trades. Its data is the real capture
``binance/spot/btcusdt_20240808.gz`` (ZQ_DATA):

- **backtest**: ``BacktestNode`` replays the capture through the config's ``binance`` source
  into an L2 venue, with no latency: an order reaches the matching core at the time of the
  trade that triggered it;
- **live**: a ``TradingNode`` connects over loopback (REST, market and user WebSocket
  streams) to the sandbox venue replaying the same capture *paused*: the test moves the
  market up to the next trade, waits until the node has seen that trade and every order it
  sent is closed, and only then moves on. So the market stands still while the live order
  travels, which is what zero latency means in the backtest.

Both venues match with the same compiled ``MatchingCore`` on books built from the same
deltas. The sandbox rounds market sizes down to its symbol's step: the symbol is given the
capture's own step (1e-8) so that the books are identical (with Binance's 1e-5 step a
market order would take slightly less at a level and walk further).

The second test lets the replay run by itself (no pause): live orders now arrive at a
market that has moved on, so fills differ from the backtest's; each live fill is checked
against the book the venue displayed when the order arrived, rebuilt independently from
the capture.

docs/live/parity.md describes the procedure and the results.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.node.conftest import (
    API_KEY,
    BTCUSDT,
    CREDENTIALS,
    SECRET,
    SYMBOL,
    node_config,
)
from zq.backtest import (
    BacktestConfig,
    BacktestNode,
    DataConfig,
    InstrumentConfig,
    StrategyConfig,
)
from zq.backtest import VenueConfig as BacktestVenueConfig
from zq.common import topics
from zq.data.loaders.binance import BinanceCaptureLoader
from zq.live.node import TradingNode
from zq.model.data import TradeTick
from zq.model.events import OrderFilled
from zq.model.orders import Order
from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, SymbolConfig, VenueConfig
from zq.sandbox.market import ReplayMarket

pytestmark = [pytest.mark.asyncio, pytest.mark.realdata]

EMA_CROSS = str(Path(__file__).resolve().parents[3] / "examples" / "ema_cross.py") + ":EmaCross"
STRATEGY = StrategyConfig(
    path=EMA_CROSS, params={"instrument_id": "BTCUSDT.BINANCE", "trade_size": "0.001"}
)
CAPTURE = Path("binance") / "spot" / "btcusdt_20240808.gz"
STEP = Decimal("0.00000001")  # the capture's size precision, in both venues
BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1")}

#: One fill as compared: (order number, side, quantity, price).
Fill = tuple[int, str, Decimal, Decimal]


def order_number(client_order_id: object) -> int:
    """The strategy's order count in a client order id (``O-<date>-<time>-001-001-<n>``):
    the time part is the clock's, simulated in one run and wall time in the other."""
    return int(str(client_order_id).rsplit("-", 1)[1])


def fill_row(fill: OrderFilled) -> Fill:
    return (
        order_number(fill.client_order_id),
        fill.order_side.name,
        fill.last_qty.as_decimal(),
        fill.last_px.as_decimal(),
    )


def run_backtest(capture: Path) -> tuple[list[Fill], dict[int, int], Decimal]:
    """Return the backtest's fills, each order's decision time (the ``ts_init`` of the
    trade it was sent on) and the final net position."""
    config = BacktestConfig(
        venues=[
            BacktestVenueConfig(
                name="BINANCE",
                book_type="L2_MBP",  # the capture's depth diffs build the book
                account_type="CASH",
                starting_balances=[f"{amount} {asset}" for asset, amount in BALANCES.items()],
            )
        ],  # no latency: the default LatencyModelConfig is all zeros
        instruments=[
            InstrumentConfig(
                kind="currency_pair",
                id="BTCUSDT.BINANCE",
                raw_symbol=SYMBOL,
                quote_currency="USDT",
                base_currency="BTC",
                price_precision=2,
                price_increment=Decimal("0.01"),
                size_precision=8,
                size_increment=STEP,
                taker_fee=Decimal("0.001"),
                maker_fee=Decimal("0.001"),
            )
        ],
        data=[
            DataConfig(
                kind="binance", path=str(capture), instrument="BTCUSDT.BINANCE", market="spot"
            )
        ],
        strategies=[STRATEGY],
    )
    result = BacktestNode(config).run()
    fills = [fill_row(e) for e in result.events if isinstance(e, OrderFilled)]
    decided = {order_number(o.client_order_id): o.ts_init for o in _orders(result)}
    position = sum((qty if side == "BUY" else -qty for _, side, qty, _ in fills), start=Decimal(0))
    return fills, decided, position


def _orders(result: Any) -> list[Any]:
    # The first event of each order carries the time the strategy created it.
    first: dict[str, Any] = {}
    for event in result.events:
        client_order_id = getattr(event, "client_order_id", None)
        if client_order_id is not None:
            first.setdefault(str(client_order_id), event)
    return list(first.values())


class ReferenceMarket:
    """The capture, read by the loader alone, and a pure-Python book and EMA cross: what
    the strategy should decide and what its market orders should get, computed without
    the matching core, the nodes or the venue.

    Rows are raw integers (prices at 2 decimals, sizes at 8). A market order takes the
    levels of the opposite side best first; what it took of a level stays taken until a
    book update touches the level (the matching core's rule for an L2 book it does not
    own, docs/concepts/execution-models.md).
    """

    def __init__(self, capture: Path) -> None:
        loader = BinanceCaptureLoader(capture, market="spot", price_precision=2, size_precision=8)
        chunks = list(loader.chunks())
        self.deltas = np.concatenate([c.deltas for c in chunks])
        self.trades = np.concatenate([c.trades for c in chunks])
        self.applied = 0  # delta rows applied to the book
        self.book: dict[int, dict[int, int]] = {1: {}, 2: {}}  # side -> price -> size
        self.taken: dict[tuple[int, int], int] = {}

    def decisions(self, fast: int = 10, slow: int = 20) -> list[tuple[int, str]]:
        """Return ``(trade index, side)`` of each order EmaCross sends: a change of the
        sign of fast - slow once the slow EMA has ``slow`` values (same float formula)."""
        fast_value = slow_value = 0.0
        alpha_fast, alpha_slow = 2.0 / (fast + 1), 2.0 / (slow + 1)
        signal = 0
        orders = []
        for index, raw in enumerate(self.trades["price"].tolist()):
            price = raw / 100
            if index == 0:
                fast_value = slow_value = price
            else:
                fast_value += alpha_fast * (price - fast_value)
                slow_value += alpha_slow * (price - slow_value)
            if index + 1 < slow or fast_value == slow_value:
                continue
            now = 1 if fast_value > slow_value else -1
            if now != signal:
                signal = now
                orders.append((index, "BUY" if now > 0 else "SELL"))
        return orders

    def advance(self, ts: int) -> None:
        """Apply every book update received at or before ``ts``."""
        end = int(np.searchsorted(self.deltas["ts_init"], ts, side="right"))
        for row in self.deltas[self.applied : end].tolist():
            _, _, price, size, _, _, action, side, _, _ = row
            if action == 4:  # clear (a snapshot follows)
                self.book = {1: {}, 2: {}}
                self.taken.clear()
                continue
            self.taken.pop((side, price), None)
            if action == 3 or size == 0:
                self.book[side].pop(price, None)
            else:
                self.book[side][price] = size
        self.applied = max(self.applied, end)

    def market_order(self, side: str, quantity: int) -> list[tuple[int, int]]:
        """Return the ``(size, price)`` parts a market order of ``quantity`` gets now."""
        book_side = 2 if side == "BUY" else 1
        levels = sorted(self.book[book_side], reverse=book_side == 1)
        parts = []
        for price in levels:
            if quantity == 0:
                break
            free = self.book[book_side][price] - self.taken.get((book_side, price), 0)
            take = min(free, quantity)
            if take > 0:
                parts.append((take, price))
                self.taken[(book_side, price)] = self.taken.get((book_side, price), 0) + take
                quantity -= take
        return parts


def expected_fills(
    reference: ReferenceMarket, orders: list[tuple[int, str, int, int]]
) -> list[Fill]:
    """Walk the reference book for ``(order number, side, raw quantity, market ts)``
    orders in the order they reached the market (the market at ``ts`` then); return their
    fills sorted by order number."""
    fills = []
    for number, side, quantity, ts in orders:
        reference.advance(ts)
        for size, price in reference.market_order(side, quantity):
            fills.append((number, side, Decimal(size).scaleb(-8), Decimal(price).scaleb(-2)))
    return sorted(fills, key=lambda fill: fill[0])  # stable: an order's parts keep their order


def sandbox(capture: Path, *, paused: bool, speed: float = 0.0) -> VenueConfig:
    return VenueConfig(
        # The capture's size step, so the venue's book keeps the capture's sizes exactly.
        symbols=(SymbolConfig(step_size=STEP, min_qty=STEP),),
        accounts=(AccountConfig(API_KEY, SECRET, dict(BALANCES)),),
        market=MarketConfig(kind="replay", path=capture, paused=paused, speed=speed, loop=False),
        orders_per_10s=10_000,
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Let the loop run (the venue, the node) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    spins = 0
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        spins += 1
        # A few bare yields cover a loopback round trip; then sleep a little.
        await asyncio.sleep(0 if spins < 50 else 0.001)


class LiveRun:
    """A node running the strategy on a venue, and what the test sees of it: the trades
    the node receives and, for each order, the index of the trade it was decided on."""

    def __init__(self, venue: SandboxVenue) -> None:
        self.venue = venue
        self.node = TradingNode(
            node_config(venue, strategies=[STRATEGY]),
            credentials=CREDENTIALS,
            install_signal_handlers=False,
        )
        self.trades: list[TradeTick] = []
        self.decided: dict[int, int] = {}  # order number -> trade index
        self.known: dict[int, Decimal] = {}  # order number -> position the strategy knew

    async def start(self) -> None:
        node = self.node
        await node.start()
        assert node.kernel is not None
        bus = node.kernel.bus
        # Before the strategy (higher priority first): an order sent from on_trade belongs
        # to the trade last appended.
        bus.subscribe(topics.trades(BTCUSDT), self.trades.append, priority=100)
        bus.subscribe(topics.order_events(node.strategies[0].id), self._on_order_event)
        # The strategy subscribed to trades when it started; the venue must have it
        # registered before the market moves, or the first trades would go to nobody.
        await until(
            lambda: self.venue.hub.subscribers(f"{SYMBOL.lower()}@trade") > 0, "the subscription"
        )

    def _on_order_event(self, event: Any) -> None:
        number = order_number(event.client_order_id)
        if number not in self.decided:
            self.decided[number] = len(self.trades) - 1
            self.known[number] = self.position()

    @property
    def orders(self) -> list[Order]:
        assert self.node.kernel is not None
        return sorted(
            self.node.kernel.cache.orders(), key=lambda o: order_number(o.client_order_id)
        )

    def fills(self) -> list[Fill]:
        # Within an order, fills in the venue's trade id order (the order they were made in).
        return [
            fill_row(e)
            for o in self.orders
            for e in sorted(
                (e for e in o.events if isinstance(e, OrderFilled)),
                key=lambda e: int(str(e.trade_id)),
            )
        ]

    def position(self) -> Decimal:
        portfolio = self.node.portfolio
        assert portfolio is not None
        return portfolio.net_position(BTCUSDT, self.node.strategies[0].id)

    def received(self, count: int) -> Callable[[], bool]:
        """A condition: the node has received ``count`` trades."""
        return lambda: len(self.trades) == count


def capture_trade_prices(reference: ReferenceMarket) -> list[int]:
    return [int(p) for p in reference.trades["price"].tolist()]


async def test_paused_replay_with_zero_latency_gives_the_backtest_fills_one_by_one(
    market_data: Path,
) -> None:
    capture = market_data / CAPTURE
    reference = ReferenceMarket(capture)
    decisions = reference.decisions()
    trade_ts = reference.trades["ts_init"].tolist()
    backtest_fills, backtest_decided, backtest_position = run_backtest(capture)

    venue = SandboxVenue(sandbox(capture, paused=True))
    market = venue.market
    assert isinstance(market, ReplayMarket)
    steps = 0
    async with venue:
        live = LiveRun(venue)
        await live.start()
        try:
            async with asyncio.timeout(45):
                while market.step_through_trade() is not None:
                    steps += 1
                    await until(live.received(steps), f"trade {steps}")
                    await until(lambda: all(o.is_closed for o in live.orders), "orders to close")
            fills = live.fills()
            position = live.position()
        finally:
            await live.node.shutdown()
        # What the node holds is what the venue did: the account's trades, in venue order.
        venue_trades = venue.account(API_KEY).trades.get(SYMBOL, [])
        assert [(t.qty, t.price) for t in venue_trades] == [(q, p) for _, _, q, p in fills]

    # Every trade of the capture reached the strategy, in the capture's order.
    assert steps == len(trade_ts)
    assert [t.price.raw for t in live.trades] == capture_trade_prices(reference)

    # The same decisions in both runs, the reference's: order n on the same trade, same side.
    assert len(decisions) > 100
    numbered = {n: decision for n, decision in enumerate(decisions, start=1)}
    assert live.decided == {n: index for n, (index, _) in numbered.items()}
    assert backtest_decided == {n: trade_ts[index] for n, (index, _) in numbered.items()}

    # The same fills, one by one (order, side, quantity, price), in both runs, and the ones
    # the reference book gives: each order reaches the market at its trade (no latency).
    # The first order opens 0.001 BTC, every later one flips the position (0.002).
    orders = [
        (n, side, 100_000 if n == 1 else 200_000, trade_ts[index])
        for n, (index, side) in numbered.items()
    ]
    expected = expected_fills(reference, orders)
    assert len(expected) > len(decisions)  # some orders took two levels
    assert backtest_fills == expected
    assert fills == expected
    assert (
        position
        == backtest_position
        == (Decimal("0.001") if decisions[-1][1] == "BUY" else Decimal("-0.001"))
    )


#: Replay speed of the free-running test: the capture's 346 s in about 14 s.
SPEED = 25.0


async def test_free_running_replay_fills_each_live_order_at_the_book_of_its_arrival(
    market_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the market running by itself, a live order reaches a market that has moved on
    since the trade it was decided on, and the strategy decides on the position it knows,
    which lacks the fills still on their way. So fills differ from the backtest's; what
    must hold is asserted instead:

    - the strategy sees every trade of the capture, in order, so its signals are the
      reference's: every order is sent on a reference cross;
    - its side and quantity are what EmaCross computes from the cross's target (+-0.001)
      and the position the node knew then (a sell cross may buy when fills of earlier
      sells were still on their way);
    - every fill is what the reference book gives the order when it reached the venue.
    """
    capture = market_data / CAPTURE
    reference = ReferenceMarket(capture)
    decisions = dict(reference.decisions())
    trade_ts = reference.trades["ts_init"].tolist()
    backtest_fills, backtest_decided, _ = run_backtest(capture)

    venue = SandboxVenue(sandbox(capture, paused=True, speed=SPEED))
    market = venue.market
    assert isinstance(market, ReplayMarket)
    # Where the market is when each order reaches the venue, in the order they reach it
    # (instrumentation only: the exchange places the order as always).
    arrivals: list[tuple[int, str, int, int]] = []  # number, side, raw qty, capture ts
    place = venue.exchange.new_order

    def recording(*args: Any, **kwargs: Any) -> Any:
        assert market.last_ts is not None
        order = place(*args, **kwargs)
        quantity = int(order.orig_qty.scaleb(8))
        arrivals.append((order_number(order.client_order_id), order.side, quantity, market.last_ts))
        return order

    async with venue:
        live = LiveRun(venue)
        await live.start()
        monkeypatch.setattr(venue.exchange, "new_order", recording)
        try:
            async with asyncio.timeout(40):
                await market.run()  # the capture once, at SPEED times its pace, unpaused
                total = len(trade_ts)
                await until(live.received(total), "the last trades")
                await until(lambda: all(o.is_closed for o in live.orders), "orders to close")
            fills = live.fills()
        finally:
            await live.node.shutdown()
        venue_trades = venue.account(API_KEY).trades.get(SYMBOL, [])
        assert sorted((t.qty, t.price) for t in venue_trades) == sorted(f[2:] for f in fills)

    assert [t.price.raw for t in live.trades] == capture_trade_prices(reference)
    # Orders on reference crosses only, on their side; the quantity from what was known.
    assert len(arrivals) == len(live.decided) > 50
    for number, side, quantity, _ in arrivals:
        signal = decisions.get(live.decided[number])
        assert signal is not None, f"order {number} sent on no cross"
        target = Decimal("0.001") if signal == "BUY" else Decimal("-0.001")
        sent = Decimal(quantity).scaleb(-8) * (1 if side == "BUY" else -1)
        assert sent == target - live.known[number], number
    # Every fill is the reference book's at the order's arrival, one by one.
    assert fills == expected_fills(reference, arrivals)

    # The differences, measured (docs/live/parity.md): crosses with no order, orders on a
    # stale position, market time between the decision and the arrival, and, for orders
    # sent on the same cross with the same quantity in both runs, how many got the same
    # fills.
    backtest_by_trade = {trade_ts.index(ts): n for n, ts in backtest_decided.items()}
    same = differ = 0
    for number, _, quantity, _ in arrivals:
        twin = backtest_by_trade.get(live.decided[number])
        mine = [f[1:] for f in fills if f[0] == number]
        theirs = [f[1:] for f in backtest_fills if f[0] == twin]
        if twin is None or sum(q for _, q, _ in theirs) != Decimal(quantity).scaleb(-8):
            continue
        same, differ = (same + 1, differ) if mine == theirs else (same, differ + 1)
    lags = sorted(ts - trade_ts[live.decided[n]] for n, _, _, ts in arrivals)
    # Stale: the position the strategy knew lacked fills of orders it had sent before.
    signed = {
        n: sum((q if s == "BUY" else -q for _, s, q, _ in group), Decimal(0))
        for n, group in itertools.groupby(fills, key=lambda f: f[0])
    }
    stale = sum(
        1
        for n in live.known
        if live.known[n] != sum((q for m, q in signed.items() if m < n), Decimal(0))
    )
    print(
        f"\nparity at speed {SPEED}: {len(arrivals)} live orders on {len(decisions)} crosses, "
        f"{len(fills)} fills (backtest {len(backtest_decided)} orders, {len(backtest_fills)} "
        f"fills); {stale} orders sized on a stale position; market time from decision to "
        f"arrival p50 {lags[len(lags) // 2] / 1e6:.1f} ms, max {lags[-1] / 1e6:.1f} ms; "
        f"twin orders with the backtest's fills {same}, with other fills {differ}"
    )
