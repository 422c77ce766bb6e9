"""The simulated exchange: one venue's matching cores, models and order events.

The per-order work (commands in flight, order records, reports to events, fees) is compiled:
:class:`SimulatedExchange` subclasses ``zq_core.exchange.ExchangeCore`` and adds the setup,
the models and the reduce-only limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from zq.backtest.models import (
    ConservativeQueueModel,
    FeeModel,
    FillModel,
    LatencyModel,
    MakerTakerFeeModel,
    QueueModel,
)
from zq.model.commands import CancelOrder, ModifyOrder, SubmitOrder
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
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from zq.model.instruments import Instrument
from zq_core.exchange import ExchangeCore
from zq_core.fixed import Quantity
from zq_core.matching import MatchingCore

if TYPE_CHECKING:
    from zq.model.commands import CancelAllOrders
    from zq.model.data import Bar, OrderBookDelta, QuoteTick, TradeTick

__all__ = ["SimulatedExchange"]

# The zq types the compiled core reads commands of and builds events of
# (zq_core.exchange.ZQ_TYPES).
_TYPES: dict[str, Any] = {
    "SubmitOrder": SubmitOrder,
    "OrderInitialized": OrderInitialized,
    "ModifyOrder": ModifyOrder,
    "CancelOrder": CancelOrder,
    "OrderAccepted": OrderAccepted,
    "OrderRejected": OrderRejected,
    "OrderFilled": OrderFilled,
    "OrderCanceled": OrderCanceled,
    "OrderExpired": OrderExpired,
    "OrderTriggered": OrderTriggered,
    "OrderUpdated": OrderUpdated,
    "OrderModifyRejected": OrderModifyRejected,
    "OrderCancelRejected": OrderCancelRejected,
    "TraderId": TraderId,
    "StrategyId": StrategyId,
    "VenueOrderId": VenueOrderId,
    "TradeId": TradeId,
    "MAKER": LiquiditySide.MAKER,
    "TAKER": LiquiditySide.TAKER,
}


class SimulatedExchange(ExchangeCore):
    """A simulated venue: matching cores per instrument, models, and order events.

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
        maker/taker fees). A :class:`LatencyModel` and a :class:`MakerTakerFeeModel` are
        read when given (and the fee rates when an instrument is added): to change them,
        assign a new model.
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
        venue = Venue(venue)
        # The venue order and trade ids are "{venue}-{count}": checked once here for the
        # longest count a run can reach, then made without validation.
        TradeId(VenueOrderId(f"{venue}-{10**20}"))
        super().__init__(
            venue,
            account_id if account_id is not None else AccountId(f"{venue}-001"),
            on_event,
            _TYPES,
        )
        self.book_type = BookType(book_type)
        self.fill_model = fill_model if fill_model is not None else FillModel()
        self.queue_model = queue_model if queue_model is not None else ConservativeQueueModel()
        self._instruments: dict[InstrumentId, Instrument] = {}
        self._reduce_only_limit = reduce_only_limit
        self.latency_model = latency_model if latency_model is not None else LatencyModel()
        self.fee_model = fee_model if fee_model is not None else MakerTakerFeeModel()
        for instrument in instruments:
            self.add_instrument(instrument)

    # --- Models ---------------------------------------------------------------------------------

    @property
    def latency_model(self) -> LatencyModel:
        """The latency model (a LatencyModel without jitter is read once, when assigned)."""
        return self._latency_model

    @latency_model.setter
    def latency_model(self, model: LatencyModel) -> None:
        self._latency_model = model
        if type(model) is LatencyModel and not model.jitter_ns:
            self._use_latency_model(model, True, model.entry_ns, model.cancel_ns, model.ack_ns)
        else:
            self._use_latency_model(model, False)

    @property
    def fee_model(self) -> FeeModel:
        """The fee model (a MakerTakerFeeModel's rates are read when assigned)."""
        return self._fee_model

    @fee_model.setter
    def fee_model(self, model: FeeModel) -> None:
        self._fee_model = model
        self._use_fee_model(model)
        for instrument in self._instruments.values():
            self._set_fee_terms(instrument.id, self._fee_terms(instrument))

    def _fee_terms(self, instrument: Instrument) -> tuple[Any, ...] | None:
        model = self._fee_model
        return model.raw_terms(instrument) if type(model) is MakerTakerFeeModel else None

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
        self._add_listing(instrument.id, instrument, core)
        self._set_fee_terms(instrument.id, self._fee_terms(instrument))

    def _reduce_only_limit_for(self, instrument: Instrument) -> Callable[[int, int], int]:
        limit = self._reduce_only_limit
        assert limit is not None

        def raw_limit(core_id: int, side: int) -> int:
            return limit(instrument.id, OrderSide(side)).raw

        return raw_limit

    if TYPE_CHECKING:
        # The compiled methods (zq_core.exchange.ExchangeCore), with their zq types.

        def set_event_handler(self, on_event: Callable[[OrderEvent], None]) -> None:
            """Send the events to ``on_event`` from now on."""

        def core(self, instrument_id: InstrumentId) -> MatchingCore:
            """Return the matching core of an instrument."""
            ...

        def cores(self) -> list[MatchingCore]:
            """Return the matching cores, one per instrument, in the order they were added."""
            ...

        def process_quote(self, quote: QuoteTick) -> None:
            """Advance to the quote's ``ts_init`` and apply it (an L1 venue)."""

        def process_trade(self, trade: TradeTick) -> None:
            """Advance to the trade's ``ts_init`` and apply it."""

        def process_delta(self, delta: OrderBookDelta) -> None:
            """Advance to the delta's ``ts_init`` and apply it (an L2 or L3 venue)."""

        def process_deltas(self, deltas: Iterable[OrderBookDelta]) -> None:
            """Apply deltas one by one."""

        def process_delta_array(
            self, instrument_id: InstrumentId, rows: npt.NDArray[Any]
        ) -> None:
            """Apply a DELTA_DTYPE array (sorted by ``ts_init``) of one instrument's deltas."""

        def process_bar(self, bar: Bar) -> None:
            """Advance to the bar's ``ts_init`` and sweep it (an L1 venue)."""

        def submit(self, command: SubmitOrder, ts_init: int | None = None) -> None:
            """Send an order; it reaches the matching core after the entry latency."""

        def modify(self, command: ModifyOrder) -> None:
            """Send a modify; it reaches the matching core after the entry latency."""

        def cancel(self, command: CancelOrder) -> None:
            """Send a cancel; it reaches the matching core after the cancel latency."""

        def cancel_all(self, command: CancelAllOrders) -> None:
            """Send a cancel of every open order of an instrument (of one side, if given)."""

        def advance_time(self, ts: int) -> None:
            """Process the commands that arrive and deliver the events due by ``ts``."""
