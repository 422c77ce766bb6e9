"""Venue reports into order events: the part of the execution client that applies answers.

A Binance order's state reaches the node four ways: the answer to a REST call (new order,
cancel, cancel-replace), the user data stream's ``executionReport``, a query of the order,
and its trades (``myTrades``). :class:`BinanceReports` turns each into ``OrderAccepted``,
``OrderFilled``, ``OrderCanceled``, ``OrderExpired`` or ``OrderRejected``. A report that the
order's state already reflects (the same event from the stream and the REST answer, a
duplicated stream event) is dropped here and counted in ``stale_reports``; the engine still
refuses a repeated trade id on its own.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Final

from zq.adapters.binance.enums import parse_liquidity_side
from zq.adapters.binance.errors import BinanceError
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.schemas import OrderResponse
from zq.adapters.binance.user_stream import AccountPosition, ExecutionReport, UserEvent
from zq.cache import Cache
from zq.common.clock import Clock
from zq.execution.client import ExecutionClient
from zq.live.tasks import ClientTasks
from zq.model.currency import Currency
from zq.model.enums import LiquiditySide, OmsType, OrderStatus, OrderType
from zq.model.events import OrderAccepted, OrderEvent, OrderFilled, OrderUpdated
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
    VenueOrderId,
)
from zq.model.instruments import Instrument
from zq.model.orders import ORDER_STATE_TABLE, Order
from zq_core.fixed import Money, Price, Quantity

__all__ = ["BinanceReports"]

_log = logging.getLogger("zq.live")

NS_PER_MS: Final = 1_000_000
#: The events that name the venue order they are about.
_NAMING_VENUE_ORDERS: Final = (OrderAccepted, OrderUpdated, OrderFilled)
#: Binance order statuses that say the venue has (or had) the order working.
KNOWN_STATUSES: Final = frozenset({"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"})


def decimal_or_zero(text: str | None) -> Decimal:
    """Return ``text`` as a Decimal, 0 when it is empty or None."""
    return Decimal(text) if text else Decimal(0)


def venue_order_id_of(order_id: int) -> VenueOrderId:
    """Return the :class:`VenueOrderId` of a Binance order id (decoded as an int): its decimal
    text, always a valid identifier, made without the checks a text from outside goes through
    (one per report and answer)."""
    return str.__new__(VenueOrderId, str(order_id))


def is_zero_text(text: str | None) -> bool:
    """Whether a Binance decimal ``text`` is zero (``"0.00000000"``), empty or None, read
    without making a Decimal (a new order's answer says it executed nothing)."""
    return not text or not text.strip("0.")


class BinanceReports(ExecutionClient):
    """The state and the rules the execution client applies venue reports with.

    Not used alone: :class:`~zq.live.execution_client.BinanceExecutionClient` is the client.
    """

    def __init__(
        self,
        client_id: str,
        venue: Venue | str,
        account_id: AccountId | str,
        clock: Clock,
        http: BinanceHttpClient,
        cache: Cache,
        oms_type: OmsType,
    ) -> None:
        super().__init__(client_id, venue, account_id, clock, oms_type)
        self.http = http
        self.cache = cache
        self._tasks = ClientTasks(client_id)
        #: Orders whose state at the venue is in doubt (a lost answer, a query unanswered):
        #: the node asks for each again at every heartbeat until the venue answers.
        self.unresolved: set[ClientOrderId] = set()
        #: Orders the client rejected as never placed; if the venue shows one, it is cancelled.
        self._declared_lost: set[ClientOrderId] = set()
        #: Venue order ids that a cancel-replace retired: their reports do not end the order.
        self._replaced: set[int] = set()
        #: The venue's latest balances from the user stream: asset -> (free, locked).
        self.venue_balances: dict[str, tuple[Decimal, Decimal]] = {}
        #: (instrument, venue order id) -> the client order id it was placed for.
        self._venue_orders: dict[tuple[InstrumentId, VenueOrderId], ClientOrderId] = {}
        #: Orders working at the venue that the node had rejected, cancelled there.
        self.orphans_cancelled = 0
        self.reports = 0
        self.stale_reports = 0
        self.unknown_reports = 0

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(f"{self.client_id}: instrument {instrument_id} is not in the cache")
        return instrument

    def _emit(self, order: Order, event: OrderEvent) -> None:
        """Send ``event`` unless the order's state already reflects it (a repeated report)."""
        if (order.status, type(event)) not in ORDER_STATE_TABLE:
            self.stale_reports += 1
            return
        self._send_event(event)
        if isinstance(event, _NAMING_VENUE_ORDERS) and event.venue_order_id is not None:
            # Which order a venue order id (in a trade read account-wide) belongs to.
            self._venue_orders[(order.instrument_id, event.venue_order_id)] = (
                order.client_order_id
            )

    def _accept(self, order: Order, venue_order_id: VenueOrderId, ts_ms: int | None) -> None:
        if order.status is OrderStatus.SUBMITTED or (
            order.venue_order_id is None and order.status is OrderStatus.PENDING_UPDATE
        ):
            ts = None if not ts_ms else ts_ms * NS_PER_MS
            self._emit(order, self.generate_order_accepted(order, venue_order_id, ts))
        else:
            self.stale_reports += 1  # accepted already (or being cancelled: the end tells)

    def _fill(
        self,
        order: Order,
        instrument: Instrument,
        venue_order_id: VenueOrderId,
        trade_id: int,
        qty: str,
        price: str,
        commission: str,
        commission_asset: str | None,
        liquidity: LiquiditySide,
        ts_ms: int | None,
    ) -> None:
        trade = TradeId(str(trade_id))
        if trade in order.trade_ids:
            self.stale_reports += 1
            return
        if commission_asset:
            fee = Money(Decimal(commission), _currency(commission_asset, instrument))
        else:
            fee = Money(Decimal(0), instrument.quote_currency)
        event = self.generate_order_filled(
            order,
            venue_order_id=venue_order_id,
            trade_id=trade,
            order_side=order.side,
            order_type=order.order_type,
            last_qty=Quantity(Decimal(qty), instrument.size_precision),
            last_px=Price(Decimal(price), instrument.price_precision),
            commission=fee,
            liquidity_side=liquidity,
            ts_event=None if not ts_ms else ts_ms * NS_PER_MS,
        )
        self._emit(order, event)

    def _end(self, order: Order, venue_order_id: VenueOrderId, status: str, reason: str) -> None:
        if status == "CANCELED":
            self._emit(order, self.generate_order_canceled(order, venue_order_id))
        elif status in ("EXPIRED", "EXPIRED_IN_MATCH"):
            self._emit(order, self.generate_order_expired(order, venue_order_id))
        elif status == "REJECTED":
            self._emit(
                order, self.generate_order_rejected(order, reason or "rejected by the venue")
            )

    def _apply_response(
        self, order: Order, instrument: Instrument, response: OrderResponse
    ) -> None:
        """Apply a new-order (FULL), cancel or replacement answer."""
        venue_order_id = venue_order_id_of(response.order_id)
        status = response.status or ""
        if status in KNOWN_STATUSES:
            self._accept(order, venue_order_id, response.transact_time)
        for fill in response.fills:
            # Fills in the answer to a new order: the order took liquidity as it arrived.
            self._fill(
                order,
                instrument,
                venue_order_id,
                fill.trade_id,
                fill.qty,
                fill.price,
                fill.commission,
                fill.commission_asset,
                LiquiditySide.TAKER,
                response.transact_time,
            )
        self._end(order, venue_order_id, status, "")
        executed = response.executed_qty
        if not is_zero_text(executed) and decimal_or_zero(executed) > order.filled_qty.as_decimal():
            # A cancel's answer has no fills: if some were missed, fetch them (the stream
            # normally has them in by then, and a repeated trade id is dropped).
            self._tasks.spawn(
                f"fills of {order.client_order_id}",
                self._fetch_fills(order, instrument, response.order_id),
            )

    async def _fetch_fills(self, order: Order, instrument: Instrument, order_id: int) -> None:
        try:
            trades = await self.http.my_trades(instrument.raw_symbol, order_id=order_id)
        except BinanceError as error:
            self.unresolved.add(order.client_order_id)  # its query brings the fills
            _log.warning(
                "%s: fills of %s could not be read (%s); asked again later",
                self.client_id,
                order.client_order_id,
                error,
            )
            return
        venue_order_id = venue_order_id_of(order_id)
        for trade in trades:
            self._fill(
                order,
                instrument,
                venue_order_id,
                trade.id,
                trade.qty,
                trade.price,
                trade.commission,
                trade.commission_asset,
                parse_liquidity_side(trade.is_maker),
                trade.time,
            )

    def _on_user_event(self, event: UserEvent, ts_init: int) -> None:
        if isinstance(event, ExecutionReport):
            self._on_report(event)
        elif isinstance(event, AccountPosition):
            for balance in event.balances:
                self.venue_balances[balance.asset] = (
                    Decimal(balance.free),
                    Decimal(balance.locked),
                )

    def _on_report(self, report: ExecutionReport) -> None:
        self.reports += 1
        kind = report.execution_type
        # On a cancel, "C" is the order canceled and "c" the cancel request's own id.
        text = report.orig_client_order_id or report.client_order_id
        # Looked up by the text itself (equal to the ClientOrderId key it names, the same
        # hash): no identifier made and checked per report; a text that is no valid id is
        # in the cache no more than one placed by someone else on the account.
        order = self.cache.order(text)  # type: ignore[arg-type]
        if order is None:
            self.unknown_reports += 1
            return
        client_order_id = order.client_order_id
        if client_order_id in self._declared_lost and kind == "NEW":
            _log.error(
                "%s: order %s was declared lost but the venue has it: cancelling it",
                self.client_id,
                client_order_id,
            )
            self.orphans_cancelled += 1
            self._tasks.spawn(
                f"cancel orphan {client_order_id}",
                self._cancel_orphan(report.symbol, report.order_id),
            )
            return
        instrument = self._instrument(order.instrument_id)
        venue_order_id = venue_order_id_of(report.order_id)
        self._replacement_reported(order, instrument, report)
        if kind == "NEW":
            self._accept(order, venue_order_id, report.transaction_time)
        elif kind == "TRADE":
            self._fill(
                order,
                instrument,
                venue_order_id,
                report.trade_id,
                report.last_qty,
                report.last_price,
                report.commission,
                report.commission_asset,
                parse_liquidity_side(report.is_maker),
                report.transaction_time,
            )
        elif report.order_id in self._replaced:
            return  # the end of a venue order that a cancel-replace retired
        elif kind in ("CANCELED", "EXPIRED", "TRADE_PREVENTION", "REJECTED"):
            status = "EXPIRED" if kind == "TRADE_PREVENTION" else kind
            self._end(order, venue_order_id, status, report.reject_reason)
            if decimal_or_zero(report.cumulative_qty) > self._filled_as(order, venue_order_id):
                # A fill of this venue order the stream did not bring (lost in a gap, or
                # still held back): read its trades (a late fill still applies after the end).
                self._tasks.spawn(
                    f"fills of {client_order_id}",
                    self._fetch_fills(order, instrument, report.order_id),
                )

    @staticmethod
    def _introduced(order: Order, venue_order_id: VenueOrderId) -> bool:
        """Whether an acceptance or an update of ``order`` named ``venue_order_id``."""
        return any(
            isinstance(e, (OrderAccepted, OrderUpdated)) and e.venue_order_id == venue_order_id
            for e in order.events
        )

    def _replacement_reported(
        self, order: Order, instrument: Instrument, report: ExecutionReport
    ) -> None:
        """Apply a replacement that the stream reports before the node applied it.

        A LIMIT order's client order id naming a newer venue order than the node's, which no
        acceptance or update introduced, is a cancel-replace's replacement whose answer has
        not come (or was lost): its price and quantity are applied (``OrderUpdated``) before
        the report itself, so that its fills and its end are those of the modified order.
        The answer, or the query that resolves a lost one, then finds it applied.
        """
        current = order.venue_order_id
        if (
            current is None
            or order.order_type is not OrderType.LIMIT
            or report.order_id <= int(str(current))
            or report.order_id in self._replaced
            or report.execution_type not in ("NEW", "TRADE", "CANCELED", "EXPIRED")
        ):
            return
        venue_order_id = venue_order_id_of(report.order_id)
        if self._introduced(order, venue_order_id):
            return
        self._replaced.add(int(str(current)))
        before = order.filled_qty.as_decimal() - self._filled_as(order, venue_order_id)
        self._emit(
            order,
            self.generate_order_updated(
                order,
                quantity=instrument.make_qty(before + Decimal(report.quantity)),
                price=Price(Decimal(report.price), instrument.price_precision),
                venue_order_id=venue_order_id,
            ),
        )

    @staticmethod
    def _filled_as(order: Order, venue_order_id: VenueOrderId) -> Decimal:
        """What ``order`` filled as venue order ``venue_order_id`` (one of a replaced one)."""
        return sum(
            (
                e.last_qty.as_decimal()
                for e in order.events
                if isinstance(e, OrderFilled) and e.venue_order_id == venue_order_id
            ),
            Decimal(0),
        )

    async def _cancel_orphan(self, symbol: str, order_id: int) -> None:
        try:
            await self.http.cancel_order(symbol, order_id=order_id)
        except BinanceError as error:
            _log.error("%s: cancelling orphan order %d failed: %s", self.client_id, order_id, error)


def _currency(code: str, instrument: Instrument) -> Currency:
    for currency in (getattr(instrument, "base_currency", None), instrument.quote_currency):
        if currency is not None and currency.code == code:
            return currency
    return Currency.from_str(code)
