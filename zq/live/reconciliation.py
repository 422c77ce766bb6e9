"""Asking the venue: lost submit answers resolved, orders reconciled, missed fills fetched.

An answer that never came (a timeout, a dropped connection, a 5xx) leaves it unknown whether
the venue acted. :class:`BinanceReconciler` asks the venue for the order by client order id
and generates the events the node missed (the order accepted, replaced, filled, ended):

- a submit without an answer is queried up to ``resolve_attempts`` times; an order the
  venue does not have (asked twice) is rejected; one that cannot be resolved stays in
  flight, in :attr:`BinanceReconciler.unresolved`, and is asked again at each
  reconciliation. A client order id is never sent twice.
- after a user-stream gap (a reconnect) every open or in-flight order is reconciled.
- a cancel or modify an earlier process left pending (killed before the answer; its journal
  rebuilt the order here) is finished when a reconciliation finds the order still working:
  the cancel is sent again, the modify is rejected (the query found no replacement).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.enums import parse_liquidity_side
from zq.adapters.binance.errors import BinanceError
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.schemas import OrderResponse
from zq.cache import Cache
from zq.common.clock import Clock
from zq.live.reports import KNOWN_STATUSES, BinanceReports, decimal_or_zero
from zq.model.enums import OmsType, OrderStatus
from zq.model.events import OrderFilled
from zq.model.identifiers import AccountId, ClientOrderId, Venue, VenueOrderId
from zq.model.instruments import Instrument
from zq.model.orders import Order
from zq_core.fixed import Price

__all__ = ["BinanceReconciler"]

_log = logging.getLogger("zq.live")


class BinanceReconciler(BinanceReports):
    """The execution client's queries of the venue (see the module docstring).

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
        *,
        resolve_attempts: int,
        resolve_delay_s: float,
    ) -> None:
        super().__init__(client_id, venue, account_id, clock, http, cache, oms_type)
        if resolve_attempts < 1:
            raise ValueError(f"resolve_attempts must be at least 1, got {resolve_attempts}")
        self.resolve_attempts = resolve_attempts
        self.resolve_delay_s = resolve_delay_s
        #: Orders whose submit could not be resolved yet (asked again at reconciliation).
        self.unresolved: set[ClientOrderId] = set()
        #: Cancels sent again for orders left PENDING_CANCEL by an earlier process.
        self.resumed_cancels = 0
        self.lost_submits = 0
        self.resolved_submits = 0
        self.reconciliations = 0

    # What the client that sends the commands tells (overridden there).

    def _has_command_running(self, client_order_id: ClientOrderId) -> bool:
        """Whether a cancel or modify task of this client is working on the order."""
        raise NotImplementedError

    def _resume_cancel(self, order: Order) -> None:
        """Send the cancel of ``order`` again."""
        raise NotImplementedError

    # -- submits without an answer ---------------------------------------------------------

    async def _resolve_submit(self, order: Order, instrument: Instrument) -> None:
        """Find out whether a submit without an answer placed the order."""
        not_found = 0
        for attempt in range(self.resolve_attempts):
            await asyncio.sleep(self.resolve_delay_s * 2**attempt)
            if order.status is not OrderStatus.SUBMITTED:
                self.resolved_submits += 1
                return  # the user stream told us meanwhile
            try:
                response = await self.http.query_order(
                    instrument.raw_symbol, client_order_id=str(order.client_order_id)
                )
            except BinanceError as error:
                if error.code == ep.ERROR_UNKNOWN_ORDER:
                    not_found += 1
                    if not_found >= 2 or attempt == self.resolve_attempts - 1:
                        self.resolved_submits += 1
                        self._declared_lost.add(order.client_order_id)
                        self._emit(
                            order,
                            self.generate_order_rejected(
                                order,
                                "the submit got no answer and the venue has no order "
                                f"{order.client_order_id} (asked {not_found} times)",
                            ),
                        )
                        return
                continue
            self.resolved_submits += 1
            self.unresolved.discard(order.client_order_id)
            await self._apply_queried(order, instrument, response)
            return
        self.unresolved.add(order.client_order_id)
        _log.error(
            "%s: order %s: submit unresolved after %d queries; it stays in flight and is "
            "asked again at the next reconciliation",
            self.client_id,
            order.client_order_id,
            self.resolve_attempts,
        )

    # -- reconciliation --------------------------------------------------------------------

    async def reconcile_order(self, order: Order) -> None:
        """Ask the venue for ``order`` and generate the events the node missed.

        An order the venue does not know is rejected if it was still being submitted.
        """
        self.reconciliations += 1
        instrument = self._instrument(order.instrument_id)
        try:
            response = await self.http.query_order(
                instrument.raw_symbol, client_order_id=str(order.client_order_id)
            )
        except BinanceError as error:
            if error.code != ep.ERROR_UNKNOWN_ORDER:
                raise
            if order.status is OrderStatus.SUBMITTED:
                self._declared_lost.add(order.client_order_id)
                self._emit(
                    order,
                    self.generate_order_rejected(
                        order, f"the venue has no order {order.client_order_id}"
                    ),
                )
            return
        self.unresolved.discard(order.client_order_id)
        await self._apply_queried(order, instrument, response)
        if not self._has_command_running(order.client_order_id):
            self._settle_orphaned_command(order)

    def _settle_orphaned_command(self, order: Order) -> None:
        """Finish a cancel or modify that no task of this client is working on.

        Only an earlier process (killed before the answer came, its journal rebuilt here)
        leaves one: the venue still has the order working (the query just applied its end
        otherwise). A cancel is sent again, the strategy having asked for it; a modify is
        rejected, the query having found no replacement.
        """
        if order.status is OrderStatus.PENDING_CANCEL:
            self.resumed_cancels += 1
            _log.warning(
                "%s: %s was being cancelled when the node stopped; cancelling it again",
                self.client_id,
                order.client_order_id,
            )
            self._resume_cancel(order)
        elif order.status is OrderStatus.PENDING_UPDATE:
            self._emit(
                order,
                self.generate_order_modify_rejected(
                    order,
                    "the modify's answer was lost with the process that sent it, and the venue "
                    "shows no replacement",
                    order.venue_order_id,
                ),
            )

    async def reconcile_open_orders(self) -> None:
        """Reconcile every open or in-flight order of this venue (after a stream gap)."""
        orders = [
            order
            for order in (*self.cache.orders_open(), *self.cache.orders_inflight())
            if order.instrument_id.venue == self.venue
        ]
        seen: set[ClientOrderId] = set()
        for order in orders:
            if order.client_order_id not in seen:
                seen.add(order.client_order_id)
                await self.reconcile_order(order)

    def _on_stream_reconnect(self) -> None:
        _log.info("%s: user stream reconnected; reconciling open orders", self.client_id)
        self._tasks.spawn("reconcile after reconnect", self.reconcile_open_orders())

    async def _apply_queried(
        self, order: Order, instrument: Instrument, response: OrderResponse
    ) -> None:
        """Apply an order as the venue shows it: replaced, accepted, its fills, then its end."""
        venue_order_id = VenueOrderId(str(response.order_id))
        status = response.status or ""
        filled_here = sum(
            (
                e.last_qty.as_decimal()
                for e in order.events
                if isinstance(e, OrderFilled) and e.venue_order_id == venue_order_id
            ),
            Decimal(0),
        )
        previous = order.venue_order_id
        if (
            previous is not None
            and previous != venue_order_id
            and status in ("NEW", "PARTIALLY_FILLED")
            and response.orig_qty is not None
        ):
            # A cancel-replace the node did not hear the answer of: the client order id now
            # names a new venue order, for what had not filled before it.
            self._replaced.add(int(str(previous)))
            before = order.filled_qty.as_decimal() - filled_here
            self._emit(
                order,
                self.generate_order_updated(
                    order,
                    quantity=instrument.make_qty(before + Decimal(response.orig_qty)),
                    price=None
                    if response.price is None
                    else Price(Decimal(response.price), instrument.price_precision),
                    venue_order_id=venue_order_id,
                ),
            )
        if status in KNOWN_STATUSES:
            self._accept(order, venue_order_id, response.transact_time or response.time)
        if decimal_or_zero(response.executed_qty) > filled_here:
            trades = await self.http.my_trades(instrument.raw_symbol, order_id=response.order_id)
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
        self._end(order, venue_order_id, status, "")
