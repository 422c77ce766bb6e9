"""A pure-Python SimulatedExchange: the oracle the compiled one (zq_core.exchange) is
tested against.

It is the Python exchange zq had before ExchangeCore, unchanged but for its name: it drives
its own MatchingCores through their Python API (``drain()`` tuples, ``submit``...).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from zq.backtest.models import (
    ConservativeQueueModel,
    FeeModel,
    FillModel,
    LatencyModel,
    MakerTakerFeeModel,
    QueueModel,
)
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, SubmitOrder
from zq.model.data import Bar, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import BookType, LiquiditySide, OrderSide
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from zq.model.instruments import Instrument
from zq_core.fixed import Price, Quantity
from zq_core.matching import (
    REPORT_ACCEPTED,
    REPORT_CANCEL_REJECTED,
    REPORT_CANCELED,
    REPORT_EXPIRED,
    REPORT_FILLED,
    REPORT_MODIFY_REJECTED,
    REPORT_REJECTED,
    REPORT_TRIGGERED,
    REPORT_UPDATED,
    MatchingCore,
)

__all__ = ["ReferenceExchange"]

_MAKER = LiquiditySide.MAKER
_TAKER = LiquiditySide.TAKER

# Matching reports answered by an event of the order's ids, venue order id and account.
_PLAIN_EVENTS: dict[int, type[OrderAccepted | OrderCanceled | OrderExpired | OrderTriggered]] = {
    REPORT_ACCEPTED: OrderAccepted,
    REPORT_CANCELED: OrderCanceled,
    REPORT_EXPIRED: OrderExpired,
    REPORT_TRIGGERED: OrderTriggered,
}
# ... and those that add the venue's reason.
_REFUSAL_EVENTS: dict[int, type[OrderModifyRejected | OrderCancelRejected]] = {
    REPORT_MODIFY_REJECTED: OrderModifyRejected,
    REPORT_CANCEL_REJECTED: OrderCancelRejected,
}

# Kinds of in-flight commands.
_SUBMIT = 0
_MODIFY = 1
_CANCEL = 2
_CANCEL_ALL = 3


class _Record(msgspec.Struct, gc=False):
    """What the exchange keeps of one order to build its events (a struct: made per order)."""

    order: OrderInitialized
    instrument: Instrument
    core: MatchingCore
    core_id: int
    venue_order_id: VenueOrderId
    trader_id: TraderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    client_order_id: ClientOrderId
    size_precision: int
    price_precision: int


class ReferenceExchange:
    """The reference simulated venue: matching cores per instrument, models, order events.

    Parameters
    ----------
    venue : Venue
        The venue simulated.
    instruments : Iterable[Instrument]
        The instruments it trades.
    on_event : Callable[[OrderEvent], None]
        Receives every order event, in order, at its delivery time.
    book_type : BookType
        The data that feeds the books: L1_MBP (quotes, or trades and bars only), L2_MBP or
        L3_MBO deltas.
    account_id : AccountId, optional
        Stamped on the events (default ``{venue}-001``).
    fill_model, queue_model, latency_model, fee_model
        The models (defaults: OHLC sweep, conservative queue, no latency, the instrument's
        maker/taker fees).
    reduce_only_limit : Callable[[InstrumentId, OrderSide], Quantity], optional
        The largest quantity a reduce-only order on that side may still fill (the caller
        knows the position); None lets reduce-only orders fill like plain ones.
    """

    def __init__(
        self,
        venue: Venue,
        instruments: Iterable[Instrument],
        on_event: Callable[[OrderEvent], None],
        *,
        book_type: BookType = BookType.L2_MBP,
        account_id: AccountId | None = None,
        fill_model: FillModel | None = None,
        queue_model: QueueModel | None = None,
        latency_model: LatencyModel | None = None,
        fee_model: FeeModel | None = None,
        reduce_only_limit: Callable[[InstrumentId, OrderSide], Quantity] | None = None,
    ) -> None:
        self.venue = Venue(venue)
        # The venue order and trade ids are "{venue}-{count}": checked once here for the
        # longest count a run can reach, then made without validation.
        TradeId(VenueOrderId(f"{self.venue}-{10**20}"))
        self._id_prefix = f"{self.venue}-"  # a plain str: formats faster than the Venue
        self.book_type = BookType(book_type)
        self.account_id = account_id if account_id is not None else AccountId(f"{venue}-001")
        self.fill_model = fill_model if fill_model is not None else FillModel()
        self.queue_model = queue_model if queue_model is not None else ConservativeQueueModel()
        self.latency_model = latency_model if latency_model is not None else LatencyModel()
        self.fee_model: FeeModel = fee_model if fee_model is not None else MakerTakerFeeModel()
        self._on_event = on_event
        self._reduce_only_limit = reduce_only_limit
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._cores: dict[InstrumentId, MatchingCore] = {}
        self._records: dict[ClientOrderId, _Record] = {}
        self._by_core_id: dict[int, _Record] = {}
        self._inbound: list[tuple[int, int, int, Any]] = []
        self._outbound: list[tuple[int, int, OrderEvent]] = []
        self._sequence = 0
        self._order_count = 0
        self._trade_count = 0
        self.ts_now = 0
        for instrument in instruments:
            self.add_instrument(instrument)

    # --- Setup ----------------------------------------------------------------------------------

    def add_instrument(self, instrument: Instrument) -> None:
        """Add an instrument and its matching core."""
        if instrument.id.venue != self.venue:
            raise ValueError(f"instrument {instrument.id} is not on venue {self.venue}")
        core = MatchingCore(
            str(instrument.id),
            int(self.book_type),
            instrument.price_precision,
            instrument.size_precision,
            instrument.price_increment.raw,
            self.queue_model.code,
            self.queue_model.seed,
            self.fill_model.bar_sweep,
        )
        if self._reduce_only_limit is not None:
            core.reduce_only_limit = self._reduce_only_limit_for(instrument)
        self._instruments[instrument.id] = instrument
        self._cores[instrument.id] = core

    def set_event_handler(self, on_event: Callable[[OrderEvent], None]) -> None:
        """Send the events to ``on_event`` from now on."""
        self._on_event = on_event

    def core(self, instrument_id: InstrumentId) -> MatchingCore:
        """Return the matching core of an instrument."""
        return self._cores[instrument_id]

    def cores(self) -> list[MatchingCore]:
        """Return the matching cores, one per instrument, in the order they were added."""
        return list(self._cores.values())

    # --- Market data ----------------------------------------------------------------------------

    def process_quote(self, quote: QuoteTick) -> None:
        """Advance to the quote's ``ts_init`` and apply it (an L1 venue)."""
        self.advance_time(quote.ts_init)
        core = self._cores[quote.instrument_id]
        core.apply_quote(
            quote.bid_price.raw,
            quote.bid_size.raw,
            quote.ask_price.raw,
            quote.ask_size.raw,
            quote.ts_init,
        )
        self._collect(core)

    def process_trade(self, trade: TradeTick) -> None:
        """Advance to the trade's ``ts_init`` and apply it."""
        self.advance_time(trade.ts_init)
        core = self._cores[trade.instrument_id]
        core.apply_trade(trade.price.raw, trade.size.raw, int(trade.aggressor_side), trade.ts_init)
        self._collect(core)

    def process_delta(self, delta: OrderBookDelta) -> None:
        """Advance to the delta's ``ts_init`` and apply it (an L2 or L3 venue)."""
        self.advance_time(delta.ts_init)
        core = self._cores[delta.instrument_id]
        core.apply_delta(
            int(delta.action),
            int(delta.side),
            delta.price.raw,
            delta.size.raw,
            delta.order_id,
            delta.ts_init,
        )
        self._collect(core)

    def process_deltas(self, deltas: Iterable[OrderBookDelta]) -> None:
        """Apply deltas one by one."""
        for delta in deltas:
            self.process_delta(delta)

    def process_delta_array(self, instrument_id: InstrumentId, rows: npt.NDArray[Any]) -> None:
        """Apply a DELTA_DTYPE array (sorted by ``ts_init``) of one instrument's deltas.

        Rows go to the matching core in runs between the arrivals of in-flight commands, so
        a command lands between the same two rows as on the per-object path. Events the
        core produces within a run are delivered when the run ends (in the same order).
        """
        core = self._cores[instrument_id]
        stamps = rows["ts_init"]
        start = 0
        count = len(rows)
        while start < count:
            self.advance_time(int(stamps[start]))
            due = self._next_due()
            end = count if due is None else int(np.searchsorted(stamps, due, side="left"))
            end = max(end, start + 1)
            core.apply_deltas(rows[start:end])
            self.ts_now = max(self.ts_now, int(stamps[end - 1]))
            self._collect(core)
            start = end

    def process_bar(self, bar: Bar) -> None:
        """Advance to the bar's ``ts_init`` and sweep it (an L1 venue), stamped at the close."""
        self.advance_time(bar.ts_init)
        core = self._cores[bar.bar_type.instrument_id]
        core.apply_bar(
            bar.open.raw, bar.high.raw, bar.low.raw, bar.close.raw, bar.volume.raw, bar.ts_init
        )
        self._collect(core)

    # --- Commands -------------------------------------------------------------------------------

    def submit(self, command: SubmitOrder, ts_init: int | None = None) -> None:
        """Send an order; it reaches the matching core after the entry latency."""
        ts = command.ts_init if ts_init is None else ts_init
        latency = self.latency_model
        # A LatencyModel without jitter: its latency read without a call (per order).
        fixed = type(latency) is LatencyModel and not latency.jitter_ns
        entry = latency.entry_ns if fixed else latency.entry()
        self._send(ts + entry, _SUBMIT, command, ts)

    def modify(self, command: ModifyOrder) -> None:
        """Send a modify; it reaches the matching core after the entry latency."""
        self._send(command.ts_init + self.latency_model.entry(), _MODIFY, command, command.ts_init)

    def cancel(self, command: CancelOrder) -> None:
        """Send a cancel; it reaches the matching core after the cancel latency."""
        self._send(command.ts_init + self.latency_model.cancel(), _CANCEL, command, command.ts_init)

    def cancel_all(self, command: CancelAllOrders) -> None:
        """Send a cancel of every open order of an instrument (of one side, if given)."""
        arrival = command.ts_init + self.latency_model.cancel()
        self._send(arrival, _CANCEL_ALL, command, command.ts_init)

    def advance_time(self, ts: int) -> None:
        """Process the commands that arrive and deliver the events that are due by ``ts``.

        A command that arrives at the same nanosecond as a market update is processed
        before it.
        """
        inbound = self._inbound
        outbound = self._outbound
        while True:
            next_in = inbound[0][:2] if inbound else None
            next_out = outbound[0][:2] if outbound else None
            if (
                next_in is not None
                and next_in[0] <= ts
                and (next_out is None or next_in < next_out)
            ):
                arrival, _, kind, command = heapq.heappop(inbound)
                self.ts_now = max(self.ts_now, arrival)
                self._arrive(arrival, kind, command)
            elif next_out is not None and next_out[0] <= ts:
                _, _, event = heapq.heappop(outbound)
                self._on_event(event)
            else:
                break
        if ts > self.ts_now:
            self.ts_now = ts
        for core in self._cores.values():
            core.advance_time(ts)
            self._collect(core)

    # --- Internals ------------------------------------------------------------------------------

    def _next_due(self) -> int | None:
        # The time of the next in-flight command or undelivered event, if any.
        times = [queue[0][0] for queue in (self._inbound, self._outbound) if queue]
        return min(times) if times else None

    def _send(self, arrival: int, kind: int, command: Any, ts: int) -> None:
        self._sequence += 1
        now = self.ts_now if self.ts_now > ts else ts
        if arrival <= now and not self._inbound and not self._outbound:
            # Nothing queued ahead of it: it arrives now, as advance_time would pop it first.
            if arrival > self.ts_now:
                self.ts_now = arrival
            if kind == _SUBMIT:
                self._arrive_submit(arrival, command)
            else:
                self._arrive(arrival, kind, command)
            if not self._inbound and not self._outbound:
                # Still nothing queued: advance_time(now) would only move the clock and
                # the cores (the usual case, done here without its queue checks).
                if now > self.ts_now:
                    self.ts_now = now
                for core in self._cores.values():
                    core.advance_time(now)
                    self._collect(core)
                return
        else:
            heapq.heappush(self._inbound, (arrival, self._sequence, kind, command))
        self.advance_time(now)

    def _arrive(self, ts: int, kind: int, command: Any) -> None:
        if kind == _SUBMIT:
            self._arrive_submit(ts, command)
            return
        core = self._cores.get(command.instrument_id)
        if kind == _CANCEL_ALL:
            if core is not None:
                core.cancel_all(int(command.order_side), ts)
                self._collect(core)
            return
        record = self._records.get(command.client_order_id)
        if record is None or core is None:
            reason = f"unknown order {command.client_order_id}"
            if kind == _MODIFY:
                self._emit(ts, OrderModifyRejected(**self._ids(command, ts), reason=reason))
            else:
                self._emit(ts, OrderCancelRejected(**self._ids(command, ts), reason=reason))
            return
        if kind == _MODIFY:
            core.modify(
                record.core_id,
                None if command.quantity is None else command.quantity.raw,
                None if command.price is None else command.price.raw,
                None if command.trigger_price is None else command.trigger_price.raw,
                ts,
            )
        else:
            core.cancel(record.core_id, ts)
        self._collect(core)

    def _arrive_submit(self, ts: int, command: SubmitOrder) -> None:
        order = command.order
        core = self._cores.get(order.instrument_id)
        if core is None or order.client_order_id in self._records:
            reason = (
                f"instrument {order.instrument_id} is not traded on {self.venue}"
                if core is None
                else f"duplicate client order id {order.client_order_id}"
            )
            self._emit(
                ts,
                OrderRejected(**self._ids(order, ts), account_id=self.account_id, reason=reason),
            )
            return
        self._order_count += 1
        instrument = self._instruments[order.instrument_id]
        # The ids as their own types (a decoded event may hold plain strings), checked once.
        trader_id, strategy_id = order.trader_id, order.strategy_id
        record = _Record(
            order,
            instrument,
            core,
            self._order_count,
            str.__new__(VenueOrderId, f"{self._id_prefix}{self._order_count}"),  # checked form
            trader_id if type(trader_id) is TraderId else TraderId(trader_id),
            strategy_id if type(strategy_id) is StrategyId else StrategyId(strategy_id),
            order.instrument_id,
            order.client_order_id,
            instrument.size_precision,
            instrument.price_precision,
        )
        self._records[order.client_order_id] = record
        self._by_core_id[record.core_id] = record
        price, trigger_price = order.price, order.trigger_price
        core.submit(  # the enums pass as the core's C ints
            record.core_id,
            order.side,
            order.order_type,
            order.time_in_force,
            order.quantity.raw,
            None if price is None else price.raw,
            None if trigger_price is None else trigger_price.raw,
            order.trigger_type,
            order.expire_time_ns or 0,
            order.post_only,
            order.reduce_only,
            ts,
        )
        self._collect(core)

    def _ids(self, source: Any, ts: int) -> dict[str, Any]:
        return {
            "trader_id": TraderId(source.trader_id),
            "strategy_id": StrategyId(source.strategy_id),
            "instrument_id": source.instrument_id,
            "client_order_id": source.client_order_id,
            "ts_event": ts,
            "ts_init": ts,
        }

    def _collect(self, core: MatchingCore) -> None:
        # Turn the core's reports into events, delivered after the acknowledgement latency.
        reports = core.drain()
        if not reports:
            return
        by_core_id = self._by_core_id
        for kind, core_id, ts, quantity, price, maker, reason in reports:
            record = by_core_id[core_id]
            if kind == REPORT_ACCEPTED:  # the most frequent reports built here, positionally
                event: OrderEvent = OrderAccepted(
                    record.trader_id,
                    record.strategy_id,
                    record.instrument_id,
                    record.client_order_id,
                    ts,  # ts_event
                    ts,  # ts_init
                    record.venue_order_id,
                    self.account_id,
                )
            elif kind == REPORT_FILLED:
                event = self._fill(record, ts, quantity, price, maker)
            else:
                event = self._event(record, kind, ts, quantity, price, reason)
            latency = self.latency_model  # _emit, inlined for a fixed ack latency
            if type(latency) is LatencyModel and not latency.jitter_ns:
                deliver = ts + latency.ack_ns
                self._sequence += 1
                if deliver <= self.ts_now and not self._outbound:
                    self._on_event(event)  # due now and nothing ahead of it: at once
                else:
                    self._queue(deliver, event)
            else:
                self._emit(ts, event)

    def _fill(
        self, record: _Record, ts: int, quantity: int, price: int, maker: bool
    ) -> OrderFilled:
        last_qty = Quantity.from_raw(quantity, record.size_precision)
        last_px = Price.from_raw(price, record.price_precision)
        liquidity = _MAKER if maker else _TAKER
        self._trade_count += 1
        order = record.order
        return OrderFilled(  # positional: the field order of OrderFilled
            record.trader_id,
            record.strategy_id,
            record.instrument_id,
            record.client_order_id,
            ts,  # ts_event
            ts,  # ts_init
            record.venue_order_id,
            self.account_id,
            str.__new__(TradeId, f"{self._id_prefix}{self._trade_count}"),  # checked form
            order.side,
            order.order_type,
            last_qty,
            last_px,
            self.fee_model.commission(record.instrument, last_qty, last_px, liquidity),
            liquidity,
        )

    def _event(
        self,
        record: _Record,
        kind: int,
        ts: int,
        quantity: int,
        price: int,
        reason: str | None,
    ) -> OrderEvent:
        # The events of the other reports (acceptances and fills: see _collect).
        instrument = record.instrument
        plain = _PLAIN_EVENTS.get(kind)
        if plain is not None:
            return plain(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                record.venue_order_id,
                self.account_id,
            )
        if kind == REPORT_UPDATED:
            sim = record.core.order(record.core_id)
            assert sim is not None  # the core keeps closed orders too
            return OrderUpdated(
                record.trader_id,
                record.strategy_id,
                record.instrument_id,
                record.client_order_id,
                ts,  # ts_event
                ts,  # ts_init
                Quantity.from_raw(quantity, record.size_precision),
                None if price < 0 else Price.from_raw(price, record.price_precision),
                (
                    Price.from_raw(sim.trigger, instrument.price_precision)
                    if sim.has_trigger
                    else None
                ),
                record.venue_order_id,
                self.account_id,
            )
        ids = self._ids(record.order, ts)
        if kind == REPORT_REJECTED:
            return OrderRejected(**ids, account_id=self.account_id, reason=reason or "")
        refusal = _REFUSAL_EVENTS.get(kind)
        if refusal is not None:
            return refusal(
                **ids,
                venue_order_id=record.venue_order_id,
                account_id=self.account_id,
                reason=reason or "",
            )
        raise ValueError(f"unknown matching report kind {kind}")

    def _emit(self, ts: int, event: OrderEvent) -> None:
        latency = self.latency_model
        fixed = type(latency) is LatencyModel and not latency.jitter_ns  # as in submit
        deliver = ts + (latency.ack_ns if fixed else latency.ack())
        self._sequence += 1
        if deliver <= self.ts_now and not self._outbound:
            self._on_event(event)  # due now and nothing ahead of it: deliver at once
            return
        self._queue(deliver, event)

    def _queue(self, deliver: int, event: OrderEvent) -> None:
        # Queue an event behind those ahead of it (its sequence number just drawn); one
        # already due goes out now with them, in order.
        heapq.heappush(self._outbound, (deliver, self._sequence, event))
        if deliver <= self.ts_now:
            self._flush(self.ts_now)

    def _flush(self, ts: int) -> None:
        outbound = self._outbound
        while outbound and outbound[0][0] <= ts:
            self._on_event(heapq.heappop(outbound)[2])

    def _reduce_only_limit_for(self, instrument: Instrument) -> Callable[[int, int], int]:
        limit = self._reduce_only_limit
        assert limit is not None

        def raw_limit(core_id: int, side: int) -> int:
            return limit(instrument.id, OrderSide(side)).raw

        return raw_limit
