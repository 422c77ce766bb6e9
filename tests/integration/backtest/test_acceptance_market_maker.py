"""Acceptance: the L2 market maker of ``examples/market_maker.py`` on the Binance USD-M
BTCUSDT capture (2024-08-08, about 6 minutes), conservative queue model, 5 ms latencies.

How the golden values were checked (none is trusted because the engine printed it):

- every fill (time, order, side, price, quantity) is predicted by ``ReferenceVenue``, a
  plain-Python queue simulator written here from the rules in
  docs/concepts/simulated-exchange.md. The engine replays the capture through the
  config's ``binance`` source; the reference is given the strategy's own commands (submit,
  modify, cancel: send time, price, size, recorded as the strategy sent them and
  cross-checked against the result's events) and the capture's deltas and trades as the
  loader reads them (not through the engine), applies the latency model and the
  conservative queue rule, and must produce the engine's fills one by one, and the same
  accepted, rejected, updated and modify-rejected orders;
- the realized PnL, the commissions and the final balance are recomputed from those fills
  in ``Decimal`` (netting with an average open price; maker fee 0.02 % rounded half-even to
  the cent of a USDT 10^-8) and must equal the result's;
- invariants: every fill is a maker fill, at a price a trade printed at or through, or that
  the opposite side of the book reached, at that moment; the position never exceeds the
  strategy's ``max_position``;
- the two queue rules are also checked by hand on a tiny synthetic L2 market (the
  reference simulator must agree with the hand calculation too), as are a modify that
  moves an order to the back of another level's queue and an order joining a level our
  own fills took from;
- on a generated L2 market the reference also predicts the engine's fills with the
  probabilistic queue model (the same seeded draws, in the same order), and two runs give
  the same event log;
- the strategy's quote prices (mid, micro-price, inventory skew, never crossing) are
  computed by hand.

The golden counts are then the values both the engine and the reference produce.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

from zq.backtest import (
    BacktestNode,
    BacktestResult,
    ConservativeQueueModel,
    LatencyModel,
    ProbabilisticQueueModel,
    SimulatedExchange,
)
from zq.backtest.config import resolve_strategy
from zq.model.commands import ModifyOrder, SubmitOrder
from zq.model.data import OrderBookDelta, TradeTick
from zq.model.enums import (
    AggressorSide,
    BookAction,
    BookType,
    LiquiditySide,
    OrderSide,
    OrderType,
)
from zq.model.events import (
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
)
from zq.model.identifiers import ClientOrderId, StrategyId, TradeId, TraderId, Venue
from zq.model.orders import Order
from zq_core.fixed import Price, Quantity

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "market_maker.py"
CONFIG = ROOT / "examples" / "configs" / "market_maker.toml"
CAPTURE = Path("binance") / "usdm" / "btcusdt_20240808.gz"

# The example's strategy class and helpers (loaded the way a config loads a strategy file).
MarketMaker: Any = resolve_strategy(f"{EXAMPLE}:MarketMaker")
_example = __import__("sys").modules[MarketMaker.__module__]
capture_data = _example.capture_data
# BTCUSDT.BINANCE, the config's perpetual: tick 0.10 at precision 2, lot 0.001, maker 0.02 %.
example_config = _example.example_config
(PERPETUAL,) = BacktestNode(example_config(None)).instruments()

BUY, SELL = int(OrderSide.BUY), int(OrderSide.SELL)


class RecordingMarketMaker(MarketMaker):  # type: ignore[misc, valid-type]
    """The example's market maker, writing down each command it sends (the class's journal).

    A journal entry is ``(kind, ts, client_order_id, side, price_raw, quantity_raw)``; a
    modify has no side or quantity, a cancel no price either.
    """

    journal: ClassVar[list[tuple[str, int, str, int, int, int]]] = []

    def submit_order(self, order: Order, position_id: Any = None) -> None:
        assert order.price is not None
        self.journal.append(
            (
                "submit",
                self.clock.timestamp_ns(),
                str(order.client_order_id),
                int(order.side),
                order.price.raw,
                order.quantity.raw,
            )
        )
        super().submit_order(order, position_id)

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        assert quantity is None and trigger_price is None and price is not None
        entry = ("modify", self.clock.timestamp_ns(), str(order.client_order_id), 0, price.raw, 0)
        self.journal.append(entry)
        super().modify_order(order, quantity, price, trigger_price)

    def cancel_order(self, order: Order) -> None:
        self.journal.append(
            ("cancel", self.clock.timestamp_ns(), str(order.client_order_id), 0, 0, 0)
        )
        super().cancel_order(order)


# ---------------------------------------------------------------------------------------------
# The reference: a plain-Python L2 venue with the queue rules, written from the docs
# ---------------------------------------------------------------------------------------------


@dataclass
class RefOrder:
    """One of our resting orders in the reference venue."""

    order_id: str
    side: int
    price: int
    quantity: int
    filled: int = 0
    ahead: int = 0  # displayed volume ahead of us
    seen: int = 0  # the level's displayed size when we last looked
    traded: int = 0  # trades at our price not yet matched by a decrease of the level
    open: bool = True

    @property
    def leaves(self) -> int:
        return self.quantity - self.filled


@dataclass
class ReferenceVenue:
    """An L2 venue for post-only limit orders (submit, modify the price, cancel).

    Rules (docs/concepts/simulated-exchange.md): a post-only order that would take is
    rejected; a resting order joins behind the size displayed at its price; a trade at its
    price first takes the volume ahead of it, a trade through its price fills it; a decrease
    of the level that trades do not explain is ignored (conservative) or, with probability
    ahead / displayed, taken from ahead of us (probabilistic, ``random.Random(seed)``); the
    volume ahead never exceeds the level; when the opposite best reaches its price the order
    fills (maker, at its price) against the opposite levels' sizes, each size usable once
    until that level is updated again.
    """

    probabilistic: bool = False
    seed: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    used: dict[tuple[int, int], int] = field(default_factory=dict)  # (side, price) -> taken
    orders: list[RefOrder] = field(default_factory=list)  # time priority
    by_id: dict[str, RefOrder] = field(default_factory=dict)
    fills: list[tuple[int, str, int, int, int]] = field(default_factory=list)
    accepted: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    updated: list[tuple[int, str, int]] = field(default_factory=list)
    modify_rejected: list[tuple[int, str]] = field(default_factory=list)  # would take
    modify_too_late: list[tuple[int, str]] = field(default_factory=list)  # order closed
    canceled: list[tuple[int, str]] = field(default_factory=list)
    _bid_heap: list[int] = field(default_factory=list)  # -price, lazily cleaned
    _ask_heap: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # -- the market's book ----------------------------------------------------------------

    def best_bid(self) -> int | None:
        heap = self._bid_heap
        while heap and -heap[0] not in self.bids:
            heapq.heappop(heap)
        return -heap[0] if heap else None

    def best_ask(self) -> int | None:
        heap = self._ask_heap
        while heap and heap[0] not in self.asks:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def level(self, side: int, price: int) -> int:
        return (self.bids if side == BUY else self.asks).get(price, 0)

    def crosses(self, side: int, price: int) -> bool:
        """Whether an order of ``side`` at ``price`` meets the opposite best."""
        if side == BUY:
            ask = self.best_ask()
            return ask is not None and price >= ask
        bid = self.best_bid()
        return bid is not None and price <= bid

    # -- our orders -----------------------------------------------------------------------

    def join(self, order: RefOrder) -> None:
        # Behind the displayed size, less what our own fills took from that level.
        order.seen = self.level(order.side, order.price)
        order.ahead = max(order.seen - self.used.get((order.side, order.price), 0), 0)
        order.traded = 0

    def submit(self, ts: int, order_id: str, side: int, price: int, quantity: int) -> None:
        if self.crosses(side, price):
            self.rejected.append((ts, order_id))
            return
        order = RefOrder(order_id, side, price, quantity)
        self.orders.append(order)
        self.by_id[order_id] = order
        self.accepted.append((ts, order_id))
        self.join(order)

    def modify(self, ts: int, order_id: str, price: int) -> None:
        order = self.by_id.get(order_id)
        if order is None or not order.open:
            self.modify_too_late.append((ts, order_id))
            return
        if self.crosses(order.side, price):
            self.modify_rejected.append((ts, order_id))
            return
        self.updated.append((ts, order_id, price))
        if price != order.price:  # a new price loses the place in the queue
            order.price = price
            self.orders.remove(order)
            self.orders.append(order)
            self.join(order)

    def cancel(self, ts: int, order_id: str) -> None:
        order = self.by_id.get(order_id)
        if order is not None and order.open:
            self.close(order)
            self.canceled.append((ts, order_id))

    def close(self, order: RefOrder) -> None:
        order.open = False
        self.orders.remove(order)

    def fill(self, ts: int, order: RefOrder, quantity: int) -> None:
        order.filled += quantity
        self.fills.append((ts, order.order_id, order.side, order.price, quantity))
        if order.leaves == 0:
            self.close(order)

    # -- market data ----------------------------------------------------------------------

    def delta(self, ts: int, action: int, side: int, price: int, size: int) -> None:
        if action == BookAction.CLEAR:
            self.bids.clear()
            self.asks.clear()
            self.used.clear()
        else:
            book = self.bids if side == BUY else self.asks
            if action == BookAction.DELETE or size == 0:
                book.pop(price, None)
            else:
                if price not in book:
                    heapq.heappush(
                        self._bid_heap if side == BUY else self._ask_heap,
                        -price if side == BUY else price,
                    )
                book[price] = size
            self.used.pop((side, price), None)
        for order in self.orders:
            if action == BookAction.CLEAR or (order.side == side and order.price == price):
                self.refresh(order)
        self.touch(ts)

    def refresh(self, order: RefOrder) -> None:
        size = self.level(order.side, order.price)
        decrease = order.seen - size
        if decrease > 0:
            explained = min(decrease, order.traded)
            order.traded -= explained
            decrease -= explained
            if decrease > 0 and self.probabilistic and order.ahead > 0:
                behind = max(order.seen - order.ahead, 0)
                if self.rng.random() * (order.ahead + behind) < order.ahead:
                    order.ahead = max(order.ahead - decrease, 0)
        order.ahead = min(order.ahead, size)
        order.seen = size

    def trade(self, ts: int, price: int, size: int, aggressor: int) -> None:
        left = size
        for order in list(self.orders):
            if not order.open or left <= 0 or aggressor == order.side:
                continue
            through = price < order.price if order.side == BUY else price > order.price
            if through:
                past = left
            elif price == order.price:
                order.traded += size
                if order.ahead >= left:
                    order.ahead -= left
                    continue
                past = left - order.ahead
                order.ahead = 0
            else:
                continue
            quantity = min(order.leaves, past)
            if quantity > 0:
                self.fill(ts, order, quantity)
                left -= quantity
        self.touch(ts)

    def touch(self, ts: int) -> None:
        """Fill the orders the opposite best has reached, against its displayed sizes."""
        for order in list(self.orders):
            if not order.open or not self.crosses(order.side, order.price):
                continue
            opposite = SELL if order.side == BUY else BUY
            book = self.asks if order.side == BUY else self.bids
            if order.side == BUY:
                prices = sorted(p for p in book if p <= order.price)
            else:
                prices = sorted((p for p in book if p >= order.price), reverse=True)
            for price in prices:
                if order.leaves == 0:
                    break
                available = book[price] - self.used.get((opposite, price), 0)
                if available > 0:
                    quantity = min(available, order.leaves)
                    self.used[(opposite, price)] = self.used.get((opposite, price), 0) + quantity
                    self.fill(ts, order, quantity)


@dataclass(order=True)
class Command:
    """A command in flight: it reaches the venue at ``arrival``; ties go in sending order."""

    arrival: int
    sequence: int
    kind: str = field(compare=False)
    order_id: str = field(compare=False)
    side: int = field(compare=False)
    price: int = field(compare=False)
    quantity: int = field(compare=False)


def simulate(
    venue: ReferenceVenue,
    market: Iterable[tuple[int, str, tuple[int, ...]]],
    journal: Iterable[tuple[str, int, str, int, int, int]],
    entry_ns: int,
    cancel_ns: int,
) -> ReferenceVenue:
    """Replay ``market`` (``(ts, "delta"|"trade", fields)``) and the commands of ``journal``.

    A submit or modify reaches the venue ``entry_ns`` after it was sent, a cancel
    ``cancel_ns`` after; a command is processed before any market event at or after its
    arrival.
    """
    commands: list[Command] = [
        Command(ts + (cancel_ns if kind == "cancel" else entry_ns), i, kind, oid, side, px, qty)
        for i, (kind, ts, oid, side, px, qty) in enumerate(journal)
    ]
    heapq.heapify(commands)

    def arrive(command: Command) -> None:
        if command.kind == "submit":
            venue.submit(
                command.arrival, command.order_id, command.side, command.price, command.quantity
            )
        elif command.kind == "modify":
            venue.modify(command.arrival, command.order_id, command.price)
        else:
            venue.cancel(command.arrival, command.order_id)

    for ts, kind, fields in market:
        while commands and commands[0].arrival <= ts:
            arrive(heapq.heappop(commands))
        if kind == "delta":
            venue.delta(ts, *fields)
        else:
            venue.trade(ts, *fields)
    return venue


def market_of(
    data: Iterable[OrderBookDelta | TradeTick],
) -> Iterator[tuple[int, str, tuple[int, ...]]]:
    """Turn zq data objects into the reference's plain tuples, in ``ts_init`` order."""
    for datum in sorted(data, key=lambda d: d.ts_init):  # stable, as the node sorts
        if isinstance(datum, OrderBookDelta):
            fields = (int(datum.action), int(datum.side), datum.price.raw, datum.size.raw)
            yield datum.ts_init, "delta", fields
        else:
            fields = (datum.price.raw, datum.size.raw, int(datum.aggressor_side))
            yield datum.ts_init, "trade", fields


# ---------------------------------------------------------------------------------------------
# The backtest on the capture
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    result: BacktestResult
    journal: list[tuple[str, int, str, int, int, int]]
    data: list[OrderBookDelta | TradeTick]
    params: Any
    entry_ns: int
    cancel_ns: int


def recorded_run(data: list[Any], capture: Path | None = None, **venue_changes: Any) -> Run:
    """Backtest the example config with the recording strategy (and the venue keys given
    changed): on ``capture`` through the config's binance source, else on ``data``.

    ``data`` is also the market the reference replays (``Run.data``).
    """
    config = example_config(capture)
    strategy = msgspec.structs.replace(
        config.strategies[0], path=f"{Path(__file__).resolve()}:RecordingMarketMaker"
    )
    venue = msgspec.structs.replace(config.venues[0], **venue_changes)
    config = msgspec.structs.replace(config, strategies=[strategy], venues=[venue])
    # The class the node will build (this file, loaded as a strategy file): clear its journal.
    recording = resolve_strategy(strategy.path)
    recording.journal = journal = []
    result = BacktestNode(config, data=None if capture is not None else data).run()
    params = msgspec.convert(strategy.params, _example.MarketMakerParams, strict=False)
    latency = venue.latency
    cancel_ns = latency.entry_ns if latency.cancel_ns is None else latency.cancel_ns
    return Run(result, journal, data, params, latency.entry_ns, cancel_ns)


@pytest.fixture(scope="module")
def run(market_data: Path) -> Run:
    # The engine reads the capture through the config's binance source; the reference gets
    # the same market from the loader directly.
    capture = market_data / CAPTURE
    return recorded_run(capture_data(capture, PERPETUAL), capture)


def events_of(result: BacktestResult, kind: type) -> list[Any]:
    return [e for e in result.events if isinstance(e, kind)]


def test_market_maker_on_the_capture_gives_the_golden_counts_and_money(run: Run) -> None:
    result = run.result
    # 445,263 deltas, 66,089 bookTicker quotes and 21,313 trades (the data's README counts
    # the messages; the loader's deltas are checked in tests/unit/data).
    assert result.data_count == 445_263 + 66_089 + 21_313
    assert result.order_count == 365
    assert result.fill_count == 629
    assert not events_of(result, OrderDenied)
    assert len(events_of(result, OrderRejected)) == 9  # post-only orders that arrived crossing
    assert str(result.realized_pnl["USDT"].as_decimal()) == "-22.07660000"
    assert str(result.commissions["USDT"].as_decimal()) == "43.69124152"
    assert str(result.balances["BINANCE-001"]["USDT"].as_decimal()) == "99934.23215850"


def test_the_journal_is_what_the_result_shows(run: Run) -> None:
    result = run.result
    submits = [e for e in run.journal if e[0] == "submit"]
    modifies = [e for e in run.journal if e[0] == "modify"]
    cancels = [e for e in run.journal if e[0] == "cancel"]
    assert [(str(e.client_order_id), e.ts_init) for e in events_of(result, OrderSubmitted)] == [
        (oid, ts) for _, ts, oid, *_ in submits
    ]
    assert [(str(e.client_order_id), e.ts_init) for e in events_of(result, OrderPendingUpdate)] == [
        (oid, ts) for _, ts, oid, *_ in modifies
    ]
    assert len(events_of(result, OrderPendingCancel)) == len(cancels)
    # Orders never updated kept the price and size they were submitted with.
    updated = {str(e.client_order_id) for e in events_of(result, OrderUpdated)}
    orders = result.orders.set_index("client_order_id")
    for _, _, oid, side, price, quantity in submits:
        assert orders.loc[oid, "side"] == OrderSide(side).name
        assert orders.loc[oid, "quantity"] == quantity / 1_000
        if oid not in updated:
            assert orders.loc[oid, "price"] == price / 100


def test_every_fill_is_predicted_by_the_reference_queue_simulator(run: Run) -> None:
    reference = simulate(
        ReferenceVenue(), market_of(run.data), run.journal, run.entry_ns, run.cancel_ns
    )
    engine_fills = [
        (e.ts_event, str(e.client_order_id), int(e.order_side), e.last_px.raw, e.last_qty.raw)
        for e in events_of(run.result, OrderFilled)
    ]
    assert len(reference.fills) == len(engine_fills) == 629
    for predicted, actual in zip(reference.fills, engine_fills, strict=True):
        assert predicted == actual
    assert reference.accepted == [
        (e.ts_event, str(e.client_order_id)) for e in events_of(run.result, OrderAccepted)
    ]
    assert reference.rejected == [
        (e.ts_event, str(e.client_order_id)) for e in events_of(run.result, OrderRejected)
    ]
    assert reference.updated == [
        (e.ts_event, str(e.client_order_id), e.price.raw)
        for e in events_of(run.result, OrderUpdated)
    ]
    # A modify is refused when it would take, or when it reaches the venue after its order
    # filled (a normal race: the strategy sees OrderModifyRejected after OrderFilled).
    assert sorted(reference.modify_rejected + reference.modify_too_late) == [
        (e.ts_event, str(e.client_order_id)) for e in events_of(run.result, OrderModifyRejected)
    ]
    assert len(reference.modify_rejected) == 1
    assert len(reference.modify_too_late) == 12
    filled_at = {oid: ts for ts, oid, *_ in reference.fills}
    orders = run.result.orders.set_index("client_order_id")
    for ts, oid in reference.modify_too_late:
        assert orders.loc[oid, "status"] == "FILLED" and filled_at[oid] < ts


def test_pnl_commissions_and_balance_follow_from_the_fills(run: Run) -> None:
    # Netting with an average open price, in exact Decimal arithmetic (60 digits). The
    # account books each fill's realized PnL rounded half-even to 10^-8 USDT, so its balance
    # is the start plus those rounded amounts less the fees (each rounded the same way).
    cent = Decimal("0.00000001")  # USDT precision
    position = average = realized = booked = fees = Decimal(0)
    with localcontext(Context(prec=60)):
        for e in events_of(run.result, OrderFilled):
            price, quantity = e.last_px.as_decimal(), e.last_qty.as_decimal()
            signed = quantity if e.order_side is OrderSide.BUY else -quantity
            fees += (price * quantity * Decimal("0.0002")).quantize(cent, ROUND_HALF_EVEN)
            if position == 0 or (position > 0) == (signed > 0):
                average = (average * abs(position) + price * quantity) / (abs(position) + quantity)
                position += signed
                continue
            closed = min(quantity, abs(position))
            gain = (price - average) * closed * (1 if position > 0 else -1)
            realized += gain
            booked += gain.quantize(cent, ROUND_HALF_EVEN)
            position += signed
            if position != 0 and (position > 0) == (signed > 0):
                average = price  # the fill flipped the position: the rest opened at its price
    assert position == Decimal(str(run.result.positions["signed_qty"].sum()))
    assert run.result.commissions["USDT"].as_decimal() == fees
    assert run.result.realized_pnl["USDT"].as_decimal() == realized.quantize(cent)
    balance = run.result.balances["BINANCE-001"]["USDT"].as_decimal()
    assert balance == Decimal(100_000) + booked - fees
    # Rounding fill by fill leaves the balance 2 * 10^-8 above start + PnL - fees.
    assert balance - (Decimal(100_000) + realized.quantize(cent) - fees) == 2 * cent


def test_fills_are_maker_within_max_position_at_prices_the_market_reached(run: Run) -> None:
    fills = events_of(run.result, OrderFilled)
    assert {f.liquidity_side for f in fills} == {LiquiditySide.MAKER}
    # The position after each fill stays within max_position.
    limit = run.params.max_position
    position = Decimal(0)
    for f in fills:
        quantity = f.last_qty.as_decimal()
        position += quantity if f.order_side is OrderSide.BUY else -quantity
        assert abs(position) <= limit
    # At each fill's time the market printed a trade at or through the price, or the
    # opposite best was at or through it (tracked here with a plain book of the data).
    wanted = {f.ts_event for f in fills}
    reached: dict[int, tuple[int, int]] = {}  # ts -> (lowest offer seen, highest bid seen)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for ts, kind, fields in market_of(run.data):
        if kind == "delta":
            action, side, price, size = fields
            if action == BookAction.CLEAR:
                bids.clear()
                asks.clear()
            else:
                book = bids if side == BUY else asks
                if size:
                    book[price] = size
                else:
                    book.pop(price, None)
            low = min(asks) if asks and ts in wanted else None
            high = max(bids) if bids and ts in wanted else None
        else:
            low = high = fields[0]
        if ts in wanted:
            seen_low, seen_high = reached.get(ts, (1 << 62, -1))
            reached[ts] = (
                min(seen_low, low if low is not None else seen_low),
                max(seen_high, high if high is not None else seen_high),
            )
    for f in fills:
        low, high = reached[f.ts_event]
        if f.order_side is OrderSide.BUY:
            assert low <= f.last_px.raw, f
        else:
            assert high >= f.last_px.raw, f


# ---------------------------------------------------------------------------------------------
# The two queue rules by hand, on a tiny L2 market
# ---------------------------------------------------------------------------------------------


def tiny_market() -> list[OrderBookDelta | TradeTick]:
    """Bids at 100.00 (10 lots of 0.001), asks at 100.10 (10); then the bid level grows,
    shrinks without a trade, and trades."""
    iid = PERPETUAL.id

    def level(side: OrderSide, price: str, size: int, ts: int) -> OrderBookDelta:
        return OrderBookDelta(
            iid,
            BookAction.UPDATE,
            side,
            Price.from_str(price),
            Quantity.from_raw(size, 3),
            0,
            128,
            0,
            ts,
            ts,
        )

    def trade(price: str, size: int, ts: int) -> TradeTick:
        return TradeTick(
            iid,
            Price.from_str(price),
            Quantity.from_raw(size, 3),
            AggressorSide.SELLER,
            TradeId(f"t{ts}"),
            ts,
            ts,
        )

    return [
        level(OrderSide.BUY, "100.00", 10, 1),
        level(OrderSide.SELL, "100.10", 10, 1),
        # our bid of 2 at 100.00 arrives at 10: 10 displayed ahead of us
        level(OrderSide.BUY, "100.00", 20, 20),  # 10 join behind us
        level(OrderSide.BUY, "100.00", 15, 30),  # 5 canceled, no trade explains it
        trade("100.00", 7, 40),  # sellers take 7 at 100.00
        level(OrderSide.BUY, "100.00", 8, 41),  # the venue shows what is left
        trade("100.00", 4, 50),
    ]


def run_tiny(queue_model: Any, seed: int = 0) -> tuple[list[tuple[int, int]], ReferenceVenue]:
    """Return the engine's fills ``(ts, quantity raw)`` of a bid of 2 at 100.00, and the
    reference venue after the same market."""
    events: list[Any] = []
    exchange = SimulatedExchange(
        Venue("BINANCE"),
        [PERPETUAL],
        events.append,
        book_type=BookType.L2_MBP,
        queue_model=queue_model,
        latency_model=LatencyModel(entry_ns=5),
    )
    market = tiny_market()
    from zq.model.events import OrderInitialized

    spec = OrderInitialized(
        trader_id=TraderId("T-1"),
        strategy_id=StrategyId("S-1"),
        instrument_id=PERPETUAL.id,
        client_order_id=ClientOrderId("B-1"),
        ts_event=5,
        ts_init=5,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Quantity.from_raw(2, 3),
        price=Price.from_str("100.00"),
        post_only=True,
    )
    for datum in market[:2]:
        exchange.process_delta(datum)  # type: ignore[arg-type]
    exchange.submit(
        SubmitOrder(
            trader_id=spec.trader_id,
            strategy_id=spec.strategy_id,
            instrument_id=PERPETUAL.id,
            ts_init=5,
            order=spec,
        )
    )
    for datum in market[2:]:
        if isinstance(datum, TradeTick):
            exchange.process_trade(datum)
        else:
            exchange.process_delta(datum)
    fills = [(e.ts_event, e.last_qty.raw) for e in events if isinstance(e, OrderFilled)]
    reference = simulate(
        ReferenceVenue(probabilistic=isinstance(queue_model, ProbabilisticQueueModel), seed=seed),
        market_of(market),
        [("submit", 5, "B-1", BUY, 10_000, 2)],
        entry_ns=5,
        cancel_ns=5,
    )
    return fills, reference


def test_conservative_queue_by_hand() -> None:
    # Joined at 10 with 10 ahead (level 10). Level 20: others behind us, ahead stays 10.
    # Level 15 (a cancel of 5): the conservative rule ignores it; ahead = min(10, 15) = 10.
    # Trade of 7: ahead 10 -> 3, no fill. Level 8: 7 of the decrease 15 -> 8 is explained by
    # the trade; ahead = min(3, 8) = 3. Trade of 4: 3 ahead, then 1 reaches us at ts 50.
    fills, reference = run_tiny(ConservativeQueueModel())
    assert fills == [(50, 1)]
    assert [(ts, q) for ts, _, _, _, q in reference.fills] == [(50, 1)]


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        # random.Random(1).random() = 0.134...; 0.134 * (10 ahead + 10 behind) = 2.7 < 10:
        # the cancel of 5 was ahead of us: ahead 10 -> 5. Trade of 7: 5 ahead, 2 fill us at
        # ts 40 (all of our 2).
        (1, [(40, 2)]),
        # random.Random(0).random() = 0.844...; 16.9 >= 10: the cancel was behind us, as in
        # the conservative case: 1 fills at ts 50.
        (0, [(50, 1)]),
    ],
)
def test_probabilistic_queue_by_hand(seed: int, expected: list[tuple[int, int]]) -> None:
    assert random.Random(1).random() < 0.5 <= random.Random(0).random()  # the draws above
    fills, reference = run_tiny(ProbabilisticQueueModel(seed), seed)
    assert fills == expected
    assert [(ts, q) for ts, _, _, _, q in reference.fills] == expected


def test_modify_to_a_new_price_joins_the_back_of_its_queue() -> None:
    # A bid of 2 at 100.00 (10 ahead) moved to 99.90 (5 displayed there) at ts 20: a trade of
    # 6 at 99.90 takes the 5 ahead and 1 of ours.
    iid = PERPETUAL.id
    events: list[Any] = []
    exchange = SimulatedExchange(
        Venue("BINANCE"), [PERPETUAL], events.append, book_type=BookType.L2_MBP
    )
    for side, price, size in (
        (OrderSide.BUY, "100.00", 10),
        (OrderSide.BUY, "99.90", 5),
        (OrderSide.SELL, "100.10", 10),
    ):
        exchange.process_delta(
            OrderBookDelta(
                iid,
                BookAction.UPDATE,
                side,
                Price.from_str(price),
                Quantity.from_raw(size, 3),
                0,
                128,
                0,
                1,
                1,
            )
        )
    from zq.model.events import OrderInitialized

    spec = OrderInitialized(
        trader_id=TraderId("T-1"),
        strategy_id=StrategyId("S-1"),
        instrument_id=iid,
        client_order_id=ClientOrderId("B-1"),
        ts_event=10,
        ts_init=10,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Quantity.from_raw(2, 3),
        price=Price.from_str("100.00"),
        post_only=True,
    )
    exchange.submit(
        SubmitOrder(
            trader_id=spec.trader_id,
            strategy_id=spec.strategy_id,
            instrument_id=iid,
            ts_init=10,
            order=spec,
        )
    )
    exchange.modify(
        ModifyOrder(
            trader_id=spec.trader_id,
            strategy_id=spec.strategy_id,
            instrument_id=iid,
            client_order_id=spec.client_order_id,
            venue_order_id=None,
            quantity=None,
            price=Price.from_str("99.90"),
            trigger_price=None,
            ts_init=20,
        )
    )
    exchange.process_trade(
        TradeTick(
            iid,
            Price.from_str("99.90"),
            Quantity.from_raw(6, 3),
            AggressorSide.SELLER,
            TradeId("t1"),
            30,
            30,
        )
    )
    fills = [
        (e.ts_event, e.last_px.raw, e.last_qty.raw) for e in events if isinstance(e, OrderFilled)
    ]
    assert fills == [(30, 9_990, 1)]


def test_join_behind_the_level_less_what_our_own_fills_took() -> None:
    # docs/concepts/simulated-exchange.md: "The volume ahead is the size displayed at your
    # price when you joined (less what your own fills took)". Bids of 4 at 100.10 lock the
    # book against our ask of 4 there, which fills as maker against them (4 of the level
    # used). The asks at 100.10 go; our bid of 4 joins at 100.10, where the 4 displayed
    # are the ones we took: nothing is ahead, so a trade of 4 there fills it.
    iid = PERPETUAL.id
    events: list[Any] = []
    exchange = SimulatedExchange(
        Venue("BINANCE"), [PERPETUAL], events.append, book_type=BookType.L2_MBP
    )

    def level(side: OrderSide, price: str, size: int, ts: int) -> None:
        action = BookAction.UPDATE if size else BookAction.DELETE
        exchange.process_delta(
            OrderBookDelta(
                iid,
                action,
                side,
                Price.from_str(price),
                Quantity.from_raw(size, 3),
                0,
                128,
                0,
                ts,
                ts,
            )
        )

    def order(coid: str, side: OrderSide, ts: int) -> None:
        from zq.model.events import OrderInitialized

        spec = OrderInitialized(
            trader_id=TraderId("T-1"),
            strategy_id=StrategyId("S-1"),
            instrument_id=iid,
            client_order_id=ClientOrderId(coid),
            ts_event=ts,
            ts_init=ts,
            side=side,
            order_type=OrderType.LIMIT,
            quantity=Quantity.from_raw(4, 3),
            price=Price.from_str("100.10"),
            post_only=True,
        )
        exchange.submit(
            SubmitOrder(
                trader_id=spec.trader_id,
                strategy_id=spec.strategy_id,
                instrument_id=iid,
                ts_init=ts,
                order=spec,
            )
        )

    level(OrderSide.BUY, "100.00", 10, 1)
    level(OrderSide.SELL, "100.10", 10, 1)
    order("S-1", OrderSide.SELL, 2)  # rests behind 10 at 100.10
    level(OrderSide.BUY, "100.10", 4, 3)  # the opposite best reaches it: 4 fill as maker
    level(OrderSide.SELL, "100.10", 0, 4)
    order("B-1", OrderSide.BUY, 5)
    exchange.process_trade(
        TradeTick(
            iid,
            Price.from_str("100.10"),
            Quantity.from_raw(4, 3),
            AggressorSide.SELLER,
            TradeId("t1"),
            6,
            6,
        )
    )
    fills = [
        (str(e.client_order_id), e.ts_event, e.last_qty.raw)
        for e in events
        if isinstance(e, OrderFilled)
    ]
    market = [
        OrderBookDelta(
            iid,
            BookAction.UPDATE,
            OrderSide.BUY,
            Price.from_str("100.00"),
            Quantity.from_raw(10, 3),
            0,
            128,
            0,
            1,
            1,
        ),
        OrderBookDelta(
            iid,
            BookAction.UPDATE,
            OrderSide.SELL,
            Price.from_str("100.10"),
            Quantity.from_raw(10, 3),
            0,
            128,
            0,
            1,
            1,
        ),
        OrderBookDelta(
            iid,
            BookAction.UPDATE,
            OrderSide.BUY,
            Price.from_str("100.10"),
            Quantity.from_raw(4, 3),
            0,
            128,
            0,
            3,
            3,
        ),
        OrderBookDelta(
            iid,
            BookAction.DELETE,
            OrderSide.SELL,
            Price.from_str("100.10"),
            Quantity.from_raw(0, 3),
            0,
            128,
            0,
            4,
            4,
        ),
        TradeTick(
            iid,
            Price.from_str("100.10"),
            Quantity.from_raw(4, 3),
            AggressorSide.SELLER,
            TradeId("t1"),
            6,
            6,
        ),
    ]
    journal = [("submit", 2, "S-1", SELL, 10_010, 4), ("submit", 5, "B-1", BUY, 10_010, 4)]
    reference = simulate(ReferenceVenue(), market_of(market), journal, entry_ns=0, cancel_ns=0)
    expected = [("S-1", 3, 4), ("B-1", 6, 4)]
    assert [(oid, ts, q) for ts, oid, _, _, q in reference.fills] == expected
    assert fills == expected


GENERATED_EVENTS = 30_000


@pytest.fixture(scope="module")
def generated() -> list[Any]:
    return list(_example.generate_l2_market(PERPETUAL.id, GENERATED_EVENTS, seed=5))


def test_the_generated_market_is_never_crossed_after_a_message(generated: list[Any]) -> None:
    from zq_core.book import L2Book

    book = L2Book(str(PERPETUAL.id), 2, 3)
    messages = 0
    for datum in generated:
        if isinstance(datum, OrderBookDelta):
            book.apply(datum)
            if datum.flags & 128:
                messages += 1
                assert not book.is_crossed() and not book.is_locked(), datum
    assert messages > GENERATED_EVENTS // 20


@pytest.mark.parametrize("queue_model", ["conservative", "probabilistic"])
def test_the_reference_predicts_the_fills_on_a_generated_market(
    generated: list[Any], queue_model: str
) -> None:
    # The probabilistic model draws from random.Random(seed) at each unexplained decrease
    # of a level we are queued at: the reference draws in the same order, so it must agree
    # draw for draw.
    recorded = recorded_run(generated, queue_model=queue_model, queue_seed=3)
    reference = simulate(
        ReferenceVenue(probabilistic=queue_model == "probabilistic", seed=3),
        market_of(generated),
        recorded.journal,
        recorded.entry_ns,
        recorded.cancel_ns,
    )
    engine_fills = [
        (e.ts_event, str(e.client_order_id), int(e.order_side), e.last_px.raw, e.last_qty.raw)
        for e in events_of(recorded.result, OrderFilled)
    ]
    assert len(engine_fills) > 100
    assert reference.fills == engine_fills


def test_two_runs_give_the_same_event_log(generated: list[Any]) -> None:
    first = recorded_run(generated, queue_model="probabilistic", queue_seed=3).result.events
    second = recorded_run(generated, queue_model="probabilistic", queue_seed=3).result.events
    assert len(first) > 500
    assert first == second


def test_quotes_follow_the_fair_price_the_skew_and_the_book_by_hand() -> None:
    from zq.model.data import BookLevel, OrderBookDepth

    def top(bid: str, bid_size: int, ask: str, ask_size: int) -> OrderBookDepth:
        return OrderBookDepth(
            PERPETUAL.id,
            (BookLevel(Price.from_str(bid), Quantity.from_raw(bid_size, 3)),),
            (BookLevel(Price.from_str(ask), Quantity.from_raw(ask_size, 3)),),
            0,
            0,
            0,
        )

    params = _example.MarketMakerParams
    maker = MarketMaker(params(half_spread_ticks=1, skew_ticks_per_unit=Decimal(100)))
    maker.tick = 10  # 0.10 at precision 2
    # Mid (61800.00 + 61801.00) / 2 = 61800.50 = 618005 ticks: bid 618004, ask 618006.
    wide = top("61800.00", 1, "61801.00", 9)
    assert maker.desired_ticks(wide, Decimal(0)) == (618_004, 618_006)
    # Long 0.03 BTC at 100 ticks per BTC: 3 ticks down, 618002 +- 1.
    assert maker.desired_ticks(wide, Decimal("0.03")) == (618_001, 618_003)
    # Micro-price: 618000 + 10 ticks x bid size 1 / (1 + 9) = 618001: bid 618000, ask 618002.
    micro = MarketMaker(params(half_spread_ticks=1, micro_price=True))
    micro.tick = 10
    assert micro.desired_ticks(wide, Decimal(0)) == (618_000, 618_002)
    # A one-tick book (618002 / 618003): mid 618002.5. Short 0.03 moves it 3 ticks up to
    # 618005.5: bid floor(618004.5) = 618004 and ask ceil(618006.5) = 618007, but a post-only
    # bid must stay under the best ask: 618002. Long 0.03: 617999.5, bid 617998, ask
    # ceil(618000.5) = 618001 raised over the best bid: 618003.
    tight = top("61800.20", 5, "61800.30", 5)
    assert maker.desired_ticks(tight, Decimal("-0.03")) == (618_002, 618_007)
    assert maker.desired_ticks(tight, Decimal("0.03")) == (617_998, 618_003)
