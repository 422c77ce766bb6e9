"""The Binance adapter as a node's data and execution clients.

:class:`BinanceDataClient` turns the DataEngine's subscriptions into the streams of a
:class:`~zq.adapters.binance.BinanceMarketDataClient` and hands what they deliver to the
engine (quotes and trades with ``process``, book deltas with ``process_array``).

:class:`BinanceExecutionClient` sends the ExecutionEngine's commands over signed REST and
turns the venue's answers and its user data stream into order events:

- submit: ``newClientOrderId`` is the zq client order id, so the venue's reports and a later
  query name the order the node knows. An answer that never came (a timeout, a dropped
  connection, a 5xx) leaves it unknown whether the order exists: the client asks the venue for
  it by client order id, up to ``resolve_attempts`` times; an order the venue does not have
  (asked twice) is rejected; one that cannot be resolved stays in flight, in
  :attr:`BinanceExecutionClient.unresolved`, and is asked again at each reconciliation. A
  client order id is never sent twice.
- cancel: ``DELETE /api/v3/order``; a cancel the venue refuses because the order is no longer
  open is a ``OrderCancelRejected``, then the order is reconciled (its fills and end come
  from the venue).
- a cancel or modify an earlier process left pending (killed before the answer; its journal
  rebuilt the order here) is finished when a reconciliation finds the order still working:
  the cancel is sent again, the modify is rejected (the query found no replacement).
- modify: Binance spot's cancel-replace (``STOP_ON_FAILURE``): the replacement reuses the
  client order id, and its quantity is the new total minus what already filled. The reports of
  the replaced venue order are not taken for the end of the zq order.
- reports (REST answers, ``executionReport``, queries) → ``OrderAccepted``,
  ``OrderFilled``, ``OrderCanceled``, ``OrderExpired``, ``OrderRejected``. A report that
  the order's state already reflects (the same event from the stream and the REST answer, a
  duplicated stream event) is dropped here and counted in ``stale_reports``; the engine
  still refuses a repeated trade id on its own.

Commands arrive synchronously from the engine; each starts a task on the running loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.enums import (
    order_side_to_binance,
    order_type_to_binance,
    parse_liquidity_side,
    time_in_force_to_binance,
)
from zq.adapters.binance.errors import (
    BinanceCancelReplaceError,
    BinanceError,
    BinanceProtocolError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.market_data import BinanceMarketDataClient
from zq.adapters.binance.parsing import market_size_precision
from zq.adapters.binance.schemas import Account as BinanceAccount
from zq.adapters.binance.schemas import OrderResponse
from zq.adapters.binance.user_stream import (
    AccountPosition,
    BinanceUserStream,
    ExecutionReport,
    UserEvent,
)
from zq.cache import Cache
from zq.common.clock import Clock
from zq.data.client import DataClient
from zq.data.engine import BookFactory, OrderBook, default_book_factory
from zq.execution.client import ExecutionClient
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import BookType, LiquiditySide, OmsType, OrderSide, OrderStatus, OrderType
from zq.model.events import OrderCancelRejected, OrderEvent, OrderFilled
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

__all__ = ["BinanceDataClient", "BinanceExecutionClient", "binance_book_factory"]

_log = logging.getLogger("zq.live")

_NS_PER_MS: Final = 1_000_000
_LIMIT_TYPES: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED})
_TRIGGER_TYPES: Final = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    }
)
#: Binance order statuses that say the venue has (or had) the order working.
_KNOWN_STATUSES: Final = frozenset({"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"})


class _Tasks:
    """The tasks a client started from a synchronous hook; errors are logged, not lost."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors = 0

    def spawn(self, what: str, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{self._owner}: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.errors += 1
            _log.error("%s failed: %r", task.get_name(), error, exc_info=error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running tasks (and those they start); True if none is left."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def binance_book_factory(cache: Cache, fallback: BookFactory = default_book_factory) -> BookFactory:
    """Return a DataEngine book factory whose books hold Binance's market-data sizes.

    Binance's book levels are exact at the base asset's precision, finer than the order step
    (see :func:`~zq.adapters.binance.parsing.market_size_precision`); the engine's books of
    cached Binance instruments are made at that precision.
    """

    def factory(
        instrument_id: InstrumentId, book_type: BookType, price_precision: int, size_precision: int
    ) -> OrderBook:
        instrument = cache.instrument(instrument_id)
        if instrument is not None:
            size_precision = market_size_precision(instrument)
        return fallback(instrument_id, book_type, price_precision, size_precision)

    return factory


# -- market data ---------------------------------------------------------------------------


class BinanceDataClient(DataClient):
    """Serve one venue's quotes, trades and order books from Binance's market streams.

    Parameters
    ----------
    client_id : str
        The client's id (its component id).
    venue : Venue or str
        The venue it serves; its instruments must be in the engine's cache.
    http : BinanceHttpClient
        For depth snapshots.
    ws_url : str
        The stream server.
    """

    def __init__(
        self,
        client_id: str,
        venue: Venue | str,
        http: BinanceHttpClient,
        ws_url: str,
        *,
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
    ) -> None:
        super().__init__(client_id, venue)
        self.market = BinanceMarketDataClient(
            http,
            ws_url,
            on_quote=self._on_quote,
            on_trade=self._on_trade,
            on_deltas=self._on_deltas,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._tasks = _Tasks(client_id)
        # The kinds streamed per instrument: the adapter unsubscribes an instrument as a
        # whole, so dropping one kind means re-subscribing the others.
        self._kinds: dict[InstrumentId, set[str]] = {}
        self._size_precisions: dict[InstrumentId, tuple[int, int]] = {}
        self.quotes = 0
        self.trades = 0
        self.delta_batches = 0

    @property
    def errors(self) -> int:
        """Subscriptions that failed."""
        return self._tasks.errors

    @property
    def is_connected(self) -> bool:
        """Whether the market-data connection is up (True while nothing is subscribed)."""
        return not self._kinds or self.market.websocket.is_connected

    async def connect(self) -> None:
        """Start the market-data connection (it opens with the first subscription)."""
        await self.market.start()

    async def disconnect(self) -> None:
        """Stop the subscription tasks and close the connection."""
        await self._tasks.cancel()
        await self.market.stop()

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        instrument = self.engine.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(
                f"data client {self.client_id!r}: instrument {instrument_id} is not loaded "
                f"(the node loads the symbols of its venue config from exchangeInfo)"
            )
        return instrument

    def _start(self, instrument_id: InstrumentId, kind: str) -> None:
        instrument = self._instrument(instrument_id)
        self._kinds.setdefault(instrument_id, set()).add(kind)
        self._tasks.spawn(f"subscribe {kind} {instrument_id}", self._subscribe(instrument, kind))

    def _end(self, instrument_id: InstrumentId, kind: str) -> None:
        kinds = self._kinds.get(instrument_id)
        if kinds is None or kind not in kinds:
            return
        kinds.discard(kind)
        if not kinds:
            del self._kinds[instrument_id]
        instrument = self._instrument(instrument_id)
        self._tasks.spawn(
            f"unsubscribe {kind} {instrument_id}", self._resubscribe(instrument, set(kinds))
        )

    async def _subscribe(self, instrument: Instrument, kind: str) -> None:
        if kind == "quotes":
            await self.market.subscribe_quotes(instrument)
        elif kind == "trades":
            await self.market.subscribe_trades(instrument)
        else:
            await self.market.subscribe_book(instrument)

    async def _resubscribe(self, instrument: Instrument, kinds: set[str]) -> None:
        await self.market.unsubscribe(instrument)
        for kind in sorted(kinds):
            await self._subscribe(instrument, kind)

    # DataClient hooks (called by the DataEngine, synchronously).

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stream the instrument's ``bookTicker``."""
        self._start(instrument_id, "quotes")

    def unsubscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stop the instrument's ``bookTicker``."""
        self._end(instrument_id, "quotes")

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stream the instrument's trades."""
        self._start(instrument_id, "trades")

    def unsubscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stop the instrument's trades."""
        self._end(instrument_id, "trades")

    def subscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stream the instrument's book (diff depth synced on REST snapshots)."""
        if book_type is BookType.L3_MBO:
            raise self._refuse(f"L3 (order-by-order) books ({instrument_id}): Binance has L2")
        self._start(instrument_id, "book")

    def unsubscribe_book_deltas(self, instrument_id: InstrumentId, book_type: BookType) -> None:
        """Stop the instrument's book."""
        self._end(instrument_id, "book")

    # Data from the adapter.

    def _on_quote(self, quote: QuoteTick) -> None:
        self.quotes += 1
        self.engine.process(quote)

    def _on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        self.engine.process(trade)

    def _on_deltas(self, instrument_id: InstrumentId, rows: npt.NDArray[np.void]) -> None:
        self.delta_batches += 1
        precisions = self._size_precisions.get(instrument_id)
        if precisions is None:
            instrument = self._instrument(instrument_id)
            precisions = (instrument.price_precision, market_size_precision(instrument))
            self._size_precisions[instrument_id] = precisions
        self.engine.process_array(rows, instrument_id, precisions[0], precisions[1])


# -- execution -----------------------------------------------------------------------------


def _decimal(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


class BinanceExecutionClient(ExecutionClient):
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
        Queries of an order whose submit got no answer.
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
        super().__init__(client_id, venue, account_id, clock, oms_type)
        if resolve_attempts < 1:
            raise ValueError(f"resolve_attempts must be at least 1, got {resolve_attempts}")
        self.http = http
        self.cache = cache
        self.resolve_attempts = resolve_attempts
        self.resolve_delay_s = resolve_delay_s
        self.new_order_response = new_order_response
        self.user_stream = BinanceUserStream(
            http,
            ws_url,
            self._on_user_event,
            on_reconnect=self._on_stream_reconnect,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._tasks = _Tasks(client_id)
        #: Orders whose submit could not be resolved yet (asked again at reconciliation).
        self.unresolved: set[ClientOrderId] = set()
        #: Orders with a cancel or modify task of this client running (how many).
        self._commanding: dict[ClientOrderId, int] = {}
        #: Cancels sent again for orders left PENDING_CANCEL by an earlier process.
        self.resumed_cancels = 0
        #: Orders the client rejected as never placed; if the venue shows one, it is cancelled.
        self._declared_lost: set[ClientOrderId] = set()
        #: Venue order ids that a cancel-replace retired: their reports do not end the order.
        self._replaced: set[int] = set()
        #: The venue's latest balances from the user stream: asset -> (free, locked).
        self.venue_balances: dict[str, tuple[Decimal, Decimal]] = {}
        self.reports = 0
        self.stale_reports = 0
        self.unknown_reports = 0
        self.lost_submits = 0
        self.resolved_submits = 0
        self.reconciliations = 0

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
        """Place the order (``newClientOrderId`` = its client order id)."""
        self._tasks.spawn(f"submit {command.client_order_id}", self._submit(command))

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
        # Counted until the task ends, so that a reconciliation tells a pending cancel or
        # modify this client is working on from one an earlier process left unfinished.
        commanding = self._commanding
        commanding[client_order_id] = commanding.get(client_order_id, 0) + 1

        def done(_: asyncio.Task[None]) -> None:
            left = commanding[client_order_id] - 1
            if left:
                commanding[client_order_id] = left
            else:
                del commanding[client_order_id]

        self._tasks.spawn(f"{what} {client_order_id}", coroutine).add_done_callback(done)

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise ValueError(f"{self.client_id}: instrument {instrument_id} is not in the cache")
        return instrument

    async def _submit(self, command: SubmitOrder) -> None:
        order = self.cache.order(command.client_order_id)
        if order is None:
            return
        instrument = self._instrument(order.instrument_id)
        init = command.order
        try:
            order_type = order_type_to_binance(init.order_type, post_only=init.post_only)
            side = order_side_to_binance(init.side)
            time_in_force = None
            if init.order_type in _LIMIT_TYPES and order_type != "LIMIT_MAKER":
                time_in_force = time_in_force_to_binance(init.time_in_force)
        except ValueError as error:
            self._emit(order, self.generate_order_rejected(order, str(error)))
            return
        try:
            response = await self.http.new_order(
                instrument.raw_symbol,
                side,
                order_type,
                quantity=init.quantity,
                price=init.price if init.order_type in _LIMIT_TYPES else None,
                stop_price=init.trigger_price if init.order_type in _TRIGGER_TYPES else None,
                time_in_force=time_in_force,
                client_order_id=str(order.client_order_id),
                response_type=self.new_order_response,
            )
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
        self._apply_response(order, instrument, response)

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
            await self.reconcile_order(order)
            if order.status is OrderStatus.PENDING_CANCEL:  # the venue still has it working
                self._emit(order, self._cancel_rejected(order, f"cancel unanswered: {error}"))
            return
        except BinanceError as error:
            self._emit(order, self._cancel_rejected(order, str(error)))
            if error.code in (ep.ERROR_CANCEL_REJECTED, ep.ERROR_UNKNOWN_ORDER):
                await self.reconcile_order(order)  # it filled or ended: learn how
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
                    await self.reconcile_order(order)
                return
            self._apply_replacement(order, instrument, placed, quantity)
            return
        except (BinanceUnknownStatusError, BinanceProtocolError) as error:
            # Replaced or not? The query by client order id finds the newest venue order.
            await self.reconcile_order(order)
            if order.status is OrderStatus.PENDING_UPDATE:
                self._emit(
                    order,
                    self.generate_order_modify_rejected(
                        order, f"modify unanswered: {error}", order.venue_order_id
                    ),
                )
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
        if order.venue_order_id == venue_order_id:
            # A query (a reconciliation while the answer was on its way) found and applied
            # the replacement first: one venue order, one OrderUpdated.
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
        if order.client_order_id not in self._commanding:
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
            self._spawn_command(
                "cancel", order.client_order_id, self._cancel(order.client_order_id)
            )
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
        if status in _KNOWN_STATUSES:
            self._accept(order, venue_order_id, response.transact_time or response.time)
        if _decimal(response.executed_qty) > filled_here:
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

    # -- turning venue reports into events ---------------------------------------------------

    def _emit(self, order: Order, event: OrderEvent) -> None:
        """Send ``event`` unless the order's state already reflects it (a repeated report)."""
        if (order.status, type(event)) not in ORDER_STATE_TABLE:
            self.stale_reports += 1
            return
        self._send_event(event)

    def _accept(self, order: Order, venue_order_id: VenueOrderId, ts_ms: int | None) -> None:
        if order.status is OrderStatus.SUBMITTED or (
            order.venue_order_id is None and order.status is OrderStatus.PENDING_UPDATE
        ):
            ts = None if not ts_ms else ts_ms * _NS_PER_MS
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
            ts_event=None if not ts_ms else ts_ms * _NS_PER_MS,
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
        venue_order_id = VenueOrderId(str(response.order_id))
        status = response.status or ""
        if status in _KNOWN_STATUSES:
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
        if _decimal(response.executed_qty) > order.filled_qty.as_decimal():
            # A cancel's answer has no fills: if some were missed, fetch them (the stream
            # normally has them in by then, and a repeated trade id is dropped).
            self._tasks.spawn(
                f"fills of {order.client_order_id}",
                self._fetch_fills(order, instrument, response.order_id),
            )

    async def _fetch_fills(self, order: Order, instrument: Instrument, order_id: int) -> None:
        trades = await self.http.my_trades(instrument.raw_symbol, order_id=order_id)
        venue_order_id = VenueOrderId(str(order_id))
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
        try:
            client_order_id = ClientOrderId(text)
        except ValueError:
            self.unknown_reports += 1
            return
        order = self.cache.order(client_order_id)
        if order is None:
            self.unknown_reports += 1  # an order placed by someone else on the account
            return
        if client_order_id in self._declared_lost and kind == "NEW":
            _log.error(
                "%s: order %s was declared lost but the venue has it: cancelling it",
                self.client_id,
                client_order_id,
            )
            self._tasks.spawn(
                f"cancel orphan {client_order_id}",
                self._cancel_orphan(report.symbol, report.order_id),
            )
            return
        instrument = self._instrument(order.instrument_id)
        venue_order_id = VenueOrderId(str(report.order_id))
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
