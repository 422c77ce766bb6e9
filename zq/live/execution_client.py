"""The Binance adapter's trading as a node's execution client.

:class:`BinanceExecutionClient` sends the ExecutionEngine's commands over signed REST and
turns the venue's answers and its user data stream into order events (the rules are in
:mod:`zq.live.reports`; the queries of the venue when an answer is lost, in
:mod:`zq.live.reconciliation`):

- submit: ``newClientOrderId`` is the zq client order id, so the venue's reports and a later
  query name the order the node knows. An answer that never came leaves it unknown whether
  the order exists: the client asks the venue for it by client order id (see
  :meth:`~zq.live.reconciliation.BinanceReconciler._resolve_submit`). A client order id is
  never sent twice.
- cancel: ``DELETE /api/v3/order``; a cancel the venue refuses because the order is no longer
  open is a ``OrderCancelRejected``, then the order is reconciled (its fills and end come
  from the venue). A cancel without an answer is resolved by a query; without an answer to
  that either, the cancel is rejected (the order taken as working) and the order asked for
  again at each heartbeat.
- modify: Binance spot's cancel-replace (``STOP_ON_FAILURE``): the replacement reuses the
  client order id, and its quantity is the new total minus what already filled. The reports of
  the replaced venue order are not taken for the end of the zq order. A cancel-replace
  without an answer is resolved by queries with the submit's bounds (see
  :meth:`~zq.live.reconciliation.BinanceReconciler._resolve_modify`): the replacement the
  venue made is applied, whatever became of it; none answered by the deadline, the modify is
  rejected as of unknown outcome and the order asked for again at each heartbeat.

Commands arrive synchronously from the engine; each starts a task on the running loop. A
submit that can go at once is written before ``submit_order`` returns (the order is already
in flight, and journaled when there is a journal): its task only awaits the answer, which
saves the loop iteration a new task waits for its first turn. Its answer, when it comes
whole with a 2xx status, is applied in the very read of the REST connection that completed
it (:class:`_AnswerInRead`): the acceptance (and a FULL answer's fills) reach the strategy
without waiting for the task's turn, which then only finds it done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine, Iterable
from decimal import Decimal
from typing import Any, Final

import msgspec

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.enums import (
    order_side_to_binance,
    order_type_to_binance,
    time_in_force_to_binance,
)
from zq.adapters.binance.errors import (
    BinanceCancelReplaceError,
    BinanceError,
    BinanceProtocolError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.http import BinanceHttpClient, SentRequest
from zq.adapters.binance.schemas import Account as BinanceAccount
from zq.adapters.binance.schemas import OrderResponse
from zq.adapters.binance.transport import HttpAnswer
from zq.adapters.binance.user_stream import BinanceUserStream
from zq.cache import Cache
from zq.common.clock import Clock
from zq.live.reconciliation import BinanceReconciler
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.enums import OmsType, OrderSide, OrderStatus, OrderType, TimeInForce
from zq.model.events import OrderCancelRejected
from zq.model.identifiers import AccountId, ClientOrderId, Venue, VenueOrderId
from zq.model.instruments import Instrument
from zq.model.orders import Order
from zq_core.fixed import Price, Quantity

__all__ = ["BinanceExecutionClient"]

_log = logging.getLogger("zq.live")

_LIMIT_TYPES: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED})
_TRIGGER_TYPES: Final = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    }
)

#: A new order's Binance words and which of its prices it sends, by (order type, side, time
#: in force, post-only): (side, type, time in force or None, sends its price, sends its
#: trigger price). Made for every combination at import; one look-up per order.
_OrderWords = tuple[str, str, str | None, bool, bool]
_ORDER_WORDS: dict[tuple[OrderType, OrderSide, TimeInForce, bool], _OrderWords] = {}


def _order_words(
    order_type: OrderType, side: OrderSide, time_in_force: TimeInForce, post_only: bool
) -> _OrderWords:
    """Return the order's words (see ``_ORDER_WORDS``); ValueError for what Binance cannot
    take (nothing is kept then)."""
    key = (order_type, side, time_in_force, post_only)
    words = _ORDER_WORDS.get(key)
    if words is None:
        binance_type = order_type_to_binance(order_type, post_only=post_only)
        binance_side = order_side_to_binance(side)
        tif = None
        if order_type in _LIMIT_TYPES and binance_type != "LIMIT_MAKER":
            tif = time_in_force_to_binance(time_in_force)
        limit, trigger = order_type in _LIMIT_TYPES, order_type in _TRIGGER_TYPES
        words = _ORDER_WORDS[key] = (binance_side, binance_type, tif, limit, trigger)
    return words


def _make_order_words() -> None:
    # Every combination Binance takes, made at import: not in the first order's path (a
    # Python call and three more before its write, once per combination otherwise).
    for order_type in OrderType:
        for side in OrderSide:
            for time_in_force in TimeInForce:
                for post_only in (False, True):
                    with contextlib.suppress(ValueError):  # one Binance cannot take
                        _order_words(order_type, side, time_in_force, post_only)


_make_order_words()


_ORDER_RESPONSE: Final = msgspec.json.Decoder(OrderResponse)


class _AnswerInRead:
    """A new order's answer applied in the read that completed it (see
    :meth:`~zq.adapters.binance.transport.HttpExchange.on_read`).

    Only a 2xx answer that decodes is applied here (``applied`` then tells the submit's task
    to leave it); anything else (a refusal, a rate limit, a malformed body) is left to the
    task, which handles it as before. The task still reads the rate limits' headers.
    """

    __slots__ = ("applied", "client", "instrument", "order")

    def __init__(
        self, client: BinanceExecutionClient, order: Order, instrument: Instrument
    ) -> None:
        self.client = client
        self.order = order
        self.instrument = instrument
        self.applied = False

    def __call__(self, answer: HttpAnswer) -> None:
        if answer.status >= 300:
            return
        try:
            response = _ORDER_RESPONSE.decode(answer.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # the task raises it as the protocol error it is
        self.applied = True
        self.client._apply_response(self.order, self.instrument, response)


class BinanceExecutionClient(BinanceReconciler):
    """Trade one Binance spot account: orders over signed REST, reports from the user stream.

    Parameters
    ----------
    client_id : str
        The client's id.
    venue : Venue or str
        The venue of the instruments it trades.
    account_id : AccountId or str
        The zq account of the venue (``VENUE-001``).
    clock : Clock
        The node's clock.
    http : BinanceHttpClient
        The signed REST client (with credentials).
    ws_url : str
        The stream server of the user data stream.
    cache : Cache
        The node's cache: orders and instruments are read from it.
    resolve_attempts : int, default 5
        Queries of an order whose submit got no answer; none answered, the order is
        rejected as declared lost (the submit deadline).
    resolve_delay_s : float, default 0.2
        Wait before the first query; doubled after each.
    new_order_response : str, default "FULL"
        ``newOrderRespType``: ``FULL``, ``RESULT`` or ``ACK`` (with ``ACK`` the order's
        acceptance and fills come from the user stream only).
    """

    def __init__(
        self,
        client_id: str,
        venue: Venue | str,
        account_id: AccountId | str,
        clock: Clock,
        http: BinanceHttpClient,
        ws_url: str,
        cache: Cache,
        *,
        oms_type: OmsType = OmsType.NETTING,
        resolve_attempts: int = 5,
        resolve_delay_s: float = 0.2,
        new_order_response: str = "FULL",
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
    ) -> None:
        super().__init__(
            client_id,
            venue,
            account_id,
            clock,
            http,
            cache,
            oms_type,
            resolve_attempts=resolve_attempts,
            resolve_delay_s=resolve_delay_s,
        )
        self.new_order_response = new_order_response
        # submit_order's writer: the REST client's send_new_order without its Python frame.
        self._order_writer = http.order_writer
        self.user_stream = BinanceUserStream(
            http,
            ws_url,
            self._on_user_event,
            on_reconnect=self._on_stream_reconnect,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        #: Orders with a submit, cancel or modify task of this client running (how many).
        self._commanding: dict[ClientOrderId, int] = {}

    @property
    def errors(self) -> int:
        """Command tasks that failed with an unexpected error."""
        return self._tasks.errors

    @property
    def pending(self) -> int:
        """Command tasks still running."""
        return self._tasks.pending

    @property
    def is_connected(self) -> bool:
        """Whether the user data stream is up."""
        return self.user_stream.websocket.is_connected

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        """Open the user data stream and wait until it is connected.

        Raises
        ------
        BinanceError
            If the venue refuses the listenKey (bad key) or cannot be reached.
        TimeoutError
            If the stream does not connect within ``timeout`` seconds.
        """
        await self.user_stream.start()
        await self.user_stream.wait_connected(timeout)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for every command in flight to get its answer; True if none is left."""
        return await self._tasks.wait(timeout)

    async def disconnect(self) -> None:
        """Stop the command tasks and close the user data stream (and its listenKey)."""
        await self._tasks.cancel()
        await self.user_stream.stop()

    # -- what the node reads at start-up ---------------------------------------------------

    async def account(self) -> BinanceAccount:
        """Return the venue's account (balances)."""
        return await self.http.account()

    async def open_orders(self, symbols: Iterable[str]) -> list[OrderResponse]:
        """Return the venue's open orders of ``symbols``."""
        found: list[OrderResponse] = []
        for symbol in symbols:
            found.extend(await self.http.open_orders(symbol))
        return found

    # -- commands (from the engine, synchronous) -------------------------------------------

    def submit_order(self, command: SubmitOrder) -> None:
        """Place the order (``newClientOrderId`` = its client order id).

        The request is written before this returns when it can go at once (the rate limiter
        admits it without a wait, a connection is idle); a task then awaits the answer.
        Otherwise, or if anything is amiss before the request is written, the whole submit
        runs in the task (which meets the problem again and ends the order as it does).
        """
        # What runs before the write is the order's latency: written here, in one frame.
        sent: SentRequest | None = None
        init = command.order
        client_order_id = init.client_order_id  # the field (command.client_order_id: a property)
        order = self.cache.order(client_order_id)
        instrument = self.cache.instrument(order.instrument_id) if order is not None else None
        if order is not None and instrument is not None:  # else the task path names it
            try:
                # _order_words inlined when the words are known.
                words = _ORDER_WORDS.get(
                    (init.order_type, init.side, init.time_in_force, init.post_only)
                ) or _order_words(init.order_type, init.side, init.time_in_force, init.post_only)
                side, order_type, time_in_force, priced, triggered = words
                writer = self._order_writer
                if writer is not None:  # the REST client's send_new_order, compiled
                    sent = writer.send_new_order(
                        self.http,
                        instrument.raw_symbol,
                        side,
                        order_type,
                        init.quantity,
                        init.price if priced else None,
                        time_in_force,
                        str(order.client_order_id),
                        init.trigger_price if triggered else None,
                        self.new_order_response,
                    )
                else:
                    sent = self.http.send_new_order(  # _new_order_args' arguments, no dict
                        instrument.raw_symbol,
                        side,
                        order_type,
                        quantity=init.quantity,
                        price=init.price if priced else None,
                        stop_price=init.trigger_price if triggered else None,
                        time_in_force=time_in_force,
                        client_order_id=str(order.client_order_id),
                        response_type=self.new_order_response,
                    )
            except Exception:  # before the write: the task path meets it again and ends it
                sent = None
        # Counted as commanded right after the write, with nothing run in between (no await):
        # to a reconciliation, the order is one this client is working on, as before.
        if sent is None:
            coroutine = self._submit(command)
        else:
            assert order is not None and instrument is not None
            in_read = None
            if self.new_order_response != "ACK":  # an ACK answer says nothing to apply
                in_read = _AnswerInRead(self, order, instrument)
                sent.exchange.on_read(in_read)
            coroutine = self._submit_answer(order, instrument, sent, in_read)
        self._spawn_command("submit", client_order_id, coroutine)

    def cancel_order(self, command: CancelOrder) -> None:
        """Cancel the order at the venue."""
        self._spawn_command(
            "cancel", command.client_order_id, self._cancel(command.client_order_id)
        )

    def cancel_all_orders(self, command: CancelAllOrders) -> None:
        """Cancel each open order of the strategy on the instrument (one request each)."""
        side = None if command.order_side is OrderSide.NO_ORDER_SIDE else command.order_side
        for order in self.cache.orders(
            instrument_id=command.instrument_id, strategy_id=command.strategy_id, side=side
        ):
            if order.status is OrderStatus.PENDING_CANCEL:
                coid = order.client_order_id
                self._spawn_command("cancel", coid, self._cancel(coid))

    def modify_order(self, command: ModifyOrder) -> None:
        """Change the order with Binance's cancel-replace (limit orders only)."""
        order = self.cache.order(command.client_order_id)
        if order is None:
            return
        if order.order_type is not OrderType.LIMIT:
            self._emit(
                order,
                self.generate_order_modify_rejected(
                    order,
                    f"{order.order_type.name} orders cannot be modified on Binance spot "
                    "(cancel-replace is for LIMIT orders here): cancel and submit a new one",
                    order.venue_order_id,
                ),
            )
            return
        if command.trigger_price is not None:
            self._emit(
                order,
                self.generate_order_modify_rejected(
                    order, "a LIMIT order has no trigger price to modify", order.venue_order_id
                ),
            )
            return
        self._spawn_command("modify", order.client_order_id, self._modify(command))

    def query_order(self, command: QueryOrder) -> None:
        """Ask the venue for the order and apply what the node missed."""
        order = self.cache.order(command.client_order_id)
        if order is not None:
            self._tasks.spawn(f"query {order.client_order_id}", self.reconcile_order(order))

    # -- command tasks -------------------------------------------------------------------

    def _spawn_command(
        self, what: str, client_order_id: ClientOrderId, coroutine: Coroutine[Any, Any, None]
    ) -> None:
        # Counted until the task ends, so that a reconciliation leaves alone an order this
        # client is working on (a submit waiting for its answer, a cancel or modify) and
        # tells it from one an earlier process left unfinished.
        commanding = self._commanding
        commanding[client_order_id] = commanding.get(client_order_id, 0) + 1

        def done(_: asyncio.Task[None]) -> None:
            left = commanding[client_order_id] - 1
            if left:
                commanding[client_order_id] = left
            else:
                del commanding[client_order_id]

        self._tasks.spawn(f"{what} {client_order_id}", coroutine).add_done_callback(done)

    def _has_command_running(self, client_order_id: ClientOrderId) -> bool:
        return client_order_id in self._commanding

    def _has_any_command_running(self) -> bool:
        return bool(self._commanding)

    def _resume_cancel(self, order: Order) -> None:
        coid = order.client_order_id
        self._spawn_command("cancel", coid, self._cancel(coid))

    def _new_order_args(self, order: Order, command: SubmitOrder) -> dict[str, Any]:
        """The new-order request's arguments; ValueError for what Binance cannot take."""
        init = command.order
        side, order_type, time_in_force, priced, triggered = _order_words(
            init.order_type, init.side, init.time_in_force, init.post_only
        )
        return {
            "side": side,
            "order_type": order_type,
            "quantity": init.quantity,
            "price": init.price if priced else None,
            "stop_price": init.trigger_price if triggered else None,
            "time_in_force": time_in_force,
            "client_order_id": str(order.client_order_id),
            "response_type": self.new_order_response,
        }

    async def _submit(self, command: SubmitOrder) -> None:
        order = self.cache.order(command.client_order_id)
        if order is None:
            return
        instrument = self._instrument(order.instrument_id)
        try:
            arguments = self._new_order_args(order, command)
        except ValueError as error:
            self._emit(order, self.generate_order_rejected(order, str(error)))
            return
        await self._submit_outcome(
            order, instrument, self.http.new_order(instrument.raw_symbol, **arguments)
        )

    async def _submit_answer(
        self,
        order: Order,
        instrument: Instrument,
        sent: SentRequest,
        in_read: _AnswerInRead | None,
    ) -> None:
        await self._submit_outcome(
            order, instrument, self.http.answer(sent, OrderResponse), in_read
        )

    async def _submit_outcome(
        self,
        order: Order,
        instrument: Instrument,
        answer: Awaitable[OrderResponse],
        in_read: _AnswerInRead | None = None,
    ) -> None:
        try:
            response = await answer
        except (BinanceUnknownStatusError, BinanceProtocolError) as error:
            self.lost_submits += 1
            _log.warning(
                "%s: submit of %s: %s; asking the venue",
                self.client_id,
                order.client_order_id,
                error,
            )
            await self._resolve_submit(order, instrument)
            return
        except BinanceError as error:  # refused: nothing was placed
            self._emit(order, self.generate_order_rejected(order, str(error)))
            return
        if in_read is None or not in_read.applied:
            self._apply_response(order, instrument, response)

    async def _cancel(self, client_order_id: ClientOrderId) -> None:
        order = self.cache.order(client_order_id)
        if order is None:
            return
        instrument = self._instrument(order.instrument_id)
        try:
            response = await self.http.cancel_order(
                instrument.raw_symbol, client_order_id=str(client_order_id)
            )
        except (BinanceUnknownStatusError, BinanceProtocolError) as error:
            _log.warning(
                "%s: cancel of %s: %s; asking the venue", self.client_id, client_order_id, error
            )
            # If the query is not answered either, the order is taken as still working
            # (cancel rejected) and deferred: the stream or a later query tells its end,
            # and a cancel can be asked again. Left PENDING_CANCEL, nothing would ask.
            await self._reconcile_or_defer(order, "cancel unanswered")
            if order.status is OrderStatus.PENDING_CANCEL:  # the venue still has it working
                self._emit(order, self._cancel_rejected(order, f"cancel unanswered: {error}"))
            return
        except BinanceError as error:
            self._emit(order, self._cancel_rejected(order, str(error)))
            if error.code in (ep.ERROR_CANCEL_REJECTED, ep.ERROR_UNKNOWN_ORDER):
                await self._reconcile_or_defer(order, "cancel refused")  # it ended: how?
            return
        self._apply_response(order, instrument, response)

    def _cancel_rejected(self, order: Order, reason: str) -> OrderCancelRejected:
        return self.generate_order_cancel_rejected(order, reason, order.venue_order_id)

    async def _modify(self, command: ModifyOrder) -> None:
        order = self.cache.order(command.client_order_id)
        if order is None:
            return
        instrument = self._instrument(order.instrument_id)
        quantity = command.quantity if command.quantity is not None else order.quantity
        price = command.price if command.price is not None else order.price
        remaining = quantity.as_decimal() - order.filled_qty.as_decimal()
        if remaining <= 0:
            self._emit(
                order,
                self.generate_order_modify_rejected(
                    order,
                    f"new quantity {quantity} is not above the filled {order.filled_qty}",
                    order.venue_order_id,
                ),
            )
            return
        old_id = int(str(order.venue_order_id)) if order.venue_order_id is not None else None
        if old_id is not None:
            self._replaced.add(old_id)  # its CANCELED report must not end the order
        # A post-only order stays post-only (LIMIT_MAKER, which takes no time in force).
        order_type = order_type_to_binance(order.order_type, post_only=order.post_only)
        time_in_force = None
        if order_type != "LIMIT_MAKER":
            time_in_force = time_in_force_to_binance(order.time_in_force)
        try:
            result = await self.http.cancel_replace_order(
                instrument.raw_symbol,
                order_side_to_binance(order.side),
                order_type,
                cancel_client_order_id=str(order.client_order_id),
                quantity=instrument.make_qty(remaining),
                price=price,
                time_in_force=time_in_force,
                client_order_id=str(order.client_order_id),
                response_type="FULL",
            )
        except BinanceCancelReplaceError as error:
            placed = error.result.placed()
            if placed is None:
                if old_id is not None and error.result.canceled() is None:
                    self._replaced.discard(old_id)
                self._emit(
                    order,
                    self.generate_order_modify_rejected(order, str(error), order.venue_order_id),
                )
                if error.result.canceled() is not None:
                    self._emit(order, self.generate_order_canceled(order, order.venue_order_id))
                else:
                    await self._reconcile_or_defer(order, "modify refused")
                return
            self._apply_replacement(order, instrument, placed, quantity)
            return
        except (BinanceUnknownStatusError, BinanceProtocolError) as error:
            # Replaced or not? Not rejected on a guess: the venue is asked (by client order
            # id: its newest venue order) with the submit's bounds and deadline.
            await self._resolve_modify(order, instrument, old_id, error)
            return
        except BinanceError as error:
            if old_id is not None:
                self._replaced.discard(old_id)
            self._emit(
                order, self.generate_order_modify_rejected(order, str(error), order.venue_order_id)
            )
            return
        placed = result.placed()
        if placed is None:  # not expected with a 200
            self._emit(
                order,
                self.generate_order_modify_rejected(
                    order, "cancel-replace placed no order", order.venue_order_id
                ),
            )
            return
        self._apply_replacement(order, instrument, placed, quantity)

    def _apply_replacement(
        self, order: Order, instrument: Instrument, placed: OrderResponse, quantity: Quantity
    ) -> None:
        venue_order_id = VenueOrderId(str(placed.order_id))
        if self._introduced(order, venue_order_id):
            # A query (a reconciliation while the answer was on its way) found and applied
            # the replacement first: one venue order, one OrderUpdated. (An end of it reported
            # first sets the order's venue order id too, but not its price and quantity.)
            self.stale_reports += 1
        else:
            self._emit(
                order,
                self.generate_order_updated(
                    order,
                    quantity=quantity,
                    price=None
                    if placed.price is None
                    else Price(Decimal(placed.price), instrument.price_precision),
                    venue_order_id=venue_order_id,
                ),
            )
        self._apply_response(order, instrument, placed)
