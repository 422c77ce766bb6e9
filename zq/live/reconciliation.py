"""Asking the venue: lost answers resolved, orders reconciled, gaps caught up.

An answer that never came (a timeout, a dropped connection, a 5xx) leaves it unknown whether
the venue acted. :class:`BinanceReconciler` asks the venue and generates the events the node
missed (the order accepted, replaced, filled, ended), never editing an order's state:

- a submit without an answer is queried by client order id up to ``resolve_attempts``
  times: found, its state and its fills (``myTrades`` by order id) are applied; not found
  twice, it is rejected; no query answered by then (the deadline), it is rejected as
  declared lost. A client order id is never sent twice. An order rejected so that the venue
  shows working later is cancelled there.
- an order whose cancel, modify or fills got no answer, nor the query that followed, is in
  :attr:`unresolved` and asked for again at each heartbeat until the venue answers.
- after a user-stream gap (a reconnect) and at start-up, :meth:`catch_up` reads the open
  orders and the account's trades per symbol (from the trade id the last catch-up ended at)
  and queries only the orders those do not account for.
- a cancel or modify an earlier process left pending (killed before the answer; its journal
  rebuilt the order here) is finished when a reconciliation finds the order still working:
  the cancel is sent again, the modify is rejected (the query found no replacement).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.enums import parse_liquidity_side
from zq.adapters.binance.errors import BinanceError
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.schemas import AccountTrade, OrderResponse
from zq.cache import Cache
from zq.common.clock import Clock
from zq.live.reports import KNOWN_STATUSES, NS_PER_MS, BinanceReports, decimal_or_zero
from zq.model.enums import OmsType, OrderStatus
from zq.model.identifiers import AccountId, ClientOrderId, Venue, VenueOrderId
from zq.model.instruments import Instrument
from zq.model.orders import Order
from zq_core.fixed import Price

__all__ = ["BinanceReconciler"]

_log = logging.getLogger("zq.live")

#: Trades per ``myTrades`` page (Binance's largest).
_TRADES_PAGE: Final = 1000
#: How long before an order's creation its trades are looked for (clock differences).
CATCH_UP_MARGIN_MS: Final = 60_000
_DAY_MS: Final = 86_400_000


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
        #: Cancels sent again for orders left PENDING_CANCEL by an earlier process.
        self.resumed_cancels = 0
        self.lost_submits = 0
        self.resolved_submits = 0
        #: Submits that reached the deadline unresolved and were declared lost.
        self.expired_submits = 0
        #: Modifies (cancel-replaces) without an answer; resolved by a query; rejected at
        #: their deadline with the outcome unknown (the order then asked for at heartbeats).
        self.lost_modifies = 0
        self.resolved_modifies = 0
        self.expired_modifies = 0
        self.reconciliations = 0
        self.catch_ups = 0
        #: Trades read by a catch-up that belong to no order of this node.
        self.foreign_trades = 0
        #: Per symbol, the trade id the last catch-up read up to.
        self._trade_cursor: dict[str, int] = {}
        self._venue_orders_seeded = False
        #: Per symbol, trades a catch-up could not attribute while commands were running.
        self._unattributed: dict[str, dict[int, AccountTrade]] = {}

    # What the client that sends the commands tells (overridden there).

    def _has_command_running(self, client_order_id: ClientOrderId) -> bool:
        """Whether a submit, cancel or modify task of this client is working on the order."""
        raise NotImplementedError

    def _has_any_command_running(self) -> bool:
        """Whether any submit, cancel or modify task of this client is running."""
        raise NotImplementedError

    def _resume_cancel(self, order: Order) -> None:
        """Send the cancel of ``order`` again."""
        raise NotImplementedError

    # -- submits without an answer ---------------------------------------------------------

    async def _resolve_submit(self, order: Order, instrument: Instrument) -> None:
        """Find out whether a submit without an answer placed the order.

        Bounded: ``resolve_attempts`` queries, waiting ``resolve_delay_s`` before the first
        and twice as long before each next. Outcomes: the order found (its status and its
        fills applied), the order not found twice (rejected: never placed), or no answer to
        any query (the deadline: rejected as declared lost, see :meth:`_declare_lost`).
        """
        not_found = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
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
            await self._apply_found_or_defer(order, instrument, response, "submit unanswered")
            return
        if order.status is not OrderStatus.SUBMITTED:
            self.resolved_submits += 1
            return
        self._declare_lost(order, loop.time() - started)

    def _declare_lost(self, order: Order, waited_s: float) -> None:
        """End a submit that neither its answer nor any query resolved: the deadline.

        The order is rejected (an ``OrderRejected`` the journal keeps, with the reason), so
        the strategy knows it is not working. Whether the venue placed it is not known: if
        the venue later shows it (its stream, an open-orders read at a reconciliation), the
        client cancels it there and logs an error; its fills, if any came first, are not the
        order's (it is rejected) and are reported as fills of an unknown order.
        """
        self.expired_submits += 1
        self._declared_lost.add(order.client_order_id)
        reason = (
            f"submit deadline: no answer to the submit nor to {self.resolve_attempts} "
            f"queries over {waited_s:.1f} s; declared lost (cancelled at the venue if it "
            "shows up there)"
        )
        _log.error("%s: order %s: %s", self.client_id, order.client_order_id, reason)
        self._emit(order, self.generate_order_rejected(order, reason))

    # -- modifies without an answer --------------------------------------------------------

    async def _resolve_modify(
        self, order: Order, instrument: Instrument, old_id: int | None, error: BinanceError
    ) -> None:
        """Find out whether a cancel-replace without an answer replaced the order.

        The order stays ``PENDING_UPDATE`` meanwhile: the venue may have replaced it, so the
        modify is not rejected on a guess. Bounded like a submit's resolution:
        ``resolve_attempts`` queries by client order id (the venue's newest order of that
        id), waiting ``resolve_delay_s`` before the first and twice as long before each next.
        Outcomes:

        - the venue names a venue order the node has not heard of: the replacement. It is
          applied (``OrderUpdated`` with its venue order id, price and quantity), then its
          fills (once: by trade id) and its end, whatever became of it meanwhile;
        - the venue names the original order: nothing was replaced (the request did not
          reach it, or the cancel-replace failed); the modify is rejected, and an end of the
          original (filled or cancelled meanwhile) is applied;
        - no query answered by the deadline: the modify is rejected with a reason saying its
          outcome is unknown, and the order is in :attr:`unresolved`: asked for at every
          heartbeat, where a replacement the venue shows is applied after all.
        """
        self.lost_modifies += 1
        coid = order.client_order_id
        _log.warning("%s: modify of %s: %s; asking the venue", self.client_id, coid, error)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for attempt in range(self.resolve_attempts):
            await asyncio.sleep(self.resolve_delay_s * 2**attempt)
            try:
                response = await self.http.query_order(
                    instrument.raw_symbol, client_order_id=str(coid)
                )
            except BinanceError as query_error:
                _log.info(
                    "%s: modify of %s: query %d/%d unanswered (%s)",
                    self.client_id,
                    coid,
                    attempt + 1,
                    self.resolve_attempts,
                    query_error,
                )
                continue
            if response.order_id == old_id and response.status == "CANCELED":
                # The original cancelled: by the cancel-replace, whose replacement the venue
                # may list apart from the original (the query named the older order). The
                # open orders tell; unanswered, the next attempt asks again.
                try:
                    listed = await self.http.open_orders(instrument.raw_symbol)
                except BinanceError:
                    continue
                newer = [
                    r
                    for r in listed
                    if r.client_order_id == str(coid) and r.order_id > response.order_id
                ]
                if newer:
                    response = max(newer, key=lambda r: r.order_id)
            self.resolved_modifies += 1
            if response.order_id == old_id:
                self._replaced.discard(old_id)  # not retired: its end is the order's end
            await self._apply_found_or_defer(order, instrument, response, "modify unanswered")
            if old_id is not None and response.order_id == old_id:
                _log.warning(
                    "%s: modify of %s: the venue shows venue order %d unreplaced (%s): the "
                    "modify is rejected",
                    self.client_id,
                    coid,
                    old_id,
                    response.status,
                )
                self._emit(
                    order,
                    self.generate_order_modify_rejected(
                        order,
                        f"modify unanswered ({error}); the venue shows venue order {old_id} "
                        f"{response.status}, not replaced",
                        order.venue_order_id,
                    ),
                )
            else:
                _log.warning(
                    "%s: modify of %s: the venue replaced venue order %s with %d (%s): applied",
                    self.client_id,
                    coid,
                    old_id,
                    response.order_id,
                    response.status,
                )
            return
        waited_s = loop.time() - started
        self.expired_modifies += 1
        self.unresolved.add(coid)
        reason = (
            f"modify deadline: no answer to the cancel-replace ({error}) nor to "
            f"{self.resolve_attempts} queries over {waited_s:.1f} s; outcome unknown: taken "
            "as not modified, the order asked for at every heartbeat (a replacement the "
            "venue shows is applied then)"
        )
        _log.error("%s: order %s: %s", self.client_id, coid, reason)
        self._emit(order, self.generate_order_modify_rejected(order, reason, order.venue_order_id))

    # -- reconciliation --------------------------------------------------------------------

    async def reconcile_order(self, order: Order) -> None:
        """Ask the venue for ``order`` and generate the events the node missed.

        An order the venue does not know is rejected if it was still being submitted (and
        no submit of this client is waiting for its answer).

        Raises
        ------
        BinanceError
            If the venue does not answer (the order is then unchanged).
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
            self.unresolved.discard(order.client_order_id)
            if order.status is OrderStatus.SUBMITTED and not self._has_command_running(
                order.client_order_id
            ):
                self._declared_lost.add(order.client_order_id)
                self._emit(
                    order,
                    self.generate_order_rejected(
                        order, f"the venue has no order {order.client_order_id}"
                    ),
                )
            return
        await self._apply_found(order, instrument, response)

    async def _apply_found(
        self,
        order: Order,
        instrument: Instrument,
        response: OrderResponse,
        trades: Mapping[int, list[AccountTrade]] | None = None,
    ) -> None:
        """Apply an order the venue showed (queried or listed open), then settle leftovers."""
        self.unresolved.discard(order.client_order_id)
        status = response.status or ""
        if order.status is OrderStatus.REJECTED and status in ("NEW", "PARTIALLY_FILLED"):
            # Rejected here (declared lost, or taken as never placed), working there: nobody
            # manages it, so it is cancelled.
            _log.error(
                "%s: order %s is %s here but %s at the venue: cancelling it there",
                self.client_id,
                order.client_order_id,
                order.status.name,
                status,
            )
            self.orphans_cancelled += 1
            await self._cancel_orphan(response.symbol, response.order_id)
            return
        current = order.venue_order_id
        if (order.is_closed and status in ("NEW", "PARTIALLY_FILLED")) or (
            current is not None and response.order_id < int(str(current))
        ):
            # A listing read before the order's end or its replacement was applied (venue
            # order ids grow): older than what the node knows.
            self.stale_reports += 1
            return
        await self._apply_queried(order, instrument, response, trades)
        if not self._has_command_running(order.client_order_id):
            self._settle_orphaned_command(order)

    async def _apply_found_or_defer(
        self, order: Order, instrument: Instrument, response: OrderResponse, after: str
    ) -> None:
        """:meth:`_apply_found`; if reading its fills gets no answer, defer the order."""
        try:
            await self._apply_found(order, instrument, response)
        except BinanceError as error:
            self.unresolved.add(order.client_order_id)
            _log.warning(
                "%s: %s: %s; found at the venue, but its fills could not be read (%s); "
                "asked again later",
                self.client_id,
                order.client_order_id,
                after,
                error,
            )

    async def _reconcile_or_defer(self, order: Order, after: str) -> bool:
        """Reconcile ``order``; if the venue does not answer, defer it and return False.

        A deferred order is in :attr:`unresolved`: the node asks for it again at each
        heartbeat (and after a stream reconnect) until the venue answers. Used after a
        command's own answer was lost or refused, where the order's state is in doubt.
        """
        try:
            await self.reconcile_order(order)
        except BinanceError as error:
            self.unresolved.add(order.client_order_id)
            _log.warning(
                "%s: %s: %s, and the query got no answer either (%s); asked again later",
                self.client_id,
                order.client_order_id,
                after,
                error,
            )
            return False
        return True

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

    # -- catching up after a gap ----------------------------------------------------------

    async def reconcile_open_orders(self) -> None:
        """Bring every order of this venue up to date after a gap (see :meth:`catch_up`)."""
        await self.catch_up()

    def _on_stream_reconnect(self) -> None:
        _log.info("%s: user stream reconnected; catching up", self.client_id)
        self._tasks.spawn("catch up after reconnect", self._catch_up_until_done())

    async def catch_up(self, open_at_venue: Sequence[OrderResponse] | None = None) -> None:
        """Generate what the node missed during a gap, account-wide, with few requests.

        Per symbol of the venue: its open orders (``openOrders``, weight 6, unless the
        caller read them: ``open_at_venue``) and the account's trades since the last
        catch-up (``myTrades`` from the trade id it ended at, pages of 1,000, weight 20
        each). The trades are applied to the orders they belong to (by venue order id);
        the open orders bring replacements and acceptances; only an order the node has
        working or in flight that is neither open at the venue nor finished by the trades
        is queried on its own (weight 4: its cancel or expiry is in neither list). Trades
        of orders the node does not know are counted in :attr:`foreign_trades` and logged.

        Before the first catch-up (a fresh or restarted node), the trades are read from
        the earliest creation of the orders the node has working or in flight (a minute
        earlier, for clock differences): the orders it has ended have all their fills.
        Without any such order there is nothing to miss.

        Raises
        ------
        BinanceError
            If the venue does not answer; what was read is applied, the next catch-up (or
            a query) does the rest.
        """
        self.catch_ups += 1
        symbols = {i.raw_symbol: i for i in self.cache.instruments(self.venue)}
        if open_at_venue is None:
            listed: list[OrderResponse] = []
            for symbol in symbols:
                listed.extend(await self.http.open_orders(symbol))
            open_at_venue = listed
        trades: dict[str, list[AccountTrade]] = {}
        for symbol, instrument in symbols.items():
            trades[symbol] = await self._trades_since_cursor(symbol, instrument)
        self._seed_venue_orders()
        for symbol, instrument in symbols.items():
            read = trades[symbol]
            await self._catch_up_symbol(
                instrument, [r for r in open_at_venue if r.symbol == symbol], read
            )
            if read:  # applied: the next catch-up reads on from here
                self._trade_cursor[symbol] = max(read[-1].id, self._trade_cursor.get(symbol, 0))

    async def _catch_up_until_done(self) -> None:
        """Catch up, again and again (backing off) until the venue answers every request."""
        delay = 0.25
        while True:
            try:
                await self.catch_up()
            except BinanceError as error:
                _log.warning(
                    "%s: catching up failed (%s); again in %.2f s", self.client_id, error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            else:
                return

    async def _catch_up_symbol(
        self, instrument: Instrument, open_at_venue: list[OrderResponse], trades: list[AccountTrade]
    ) -> None:
        cache = self.cache
        symbol = instrument.raw_symbol
        by_order: dict[int, list[AccountTrade]] = {}
        for trade in trades:
            by_order.setdefault(trade.order_id, []).append(trade)
        # 1. Trades of venue orders the node knows, oldest first.
        for trade in trades:
            coid = self._venue_orders.get((instrument.id, VenueOrderId(str(trade.order_id))))
            order = None if coid is None else cache.order(coid)
            if order is not None:
                self._apply_trade(order, instrument, trade)
        # 2. Its orders open at the venue: replacements, acceptances, fills of new ids.
        seen: set[ClientOrderId] = set()
        for response in open_at_venue:
            try:
                order = cache.order(ClientOrderId(response.client_order_id))
            except ValueError:
                order = None
            if order is None:
                continue  # not the node's: the start-up's policy says what to do
            seen.add(order.client_order_id)
            await self._apply_found(order, instrument, response, by_order)
        # 3. Orders working or in flight here, gone there, and not finished by a trade: their
        # cancel or expiry is in no list, so each is asked for.
        for order in (
            *cache.orders_open(instrument_id=instrument.id),
            *cache.orders_inflight(instrument_id=instrument.id),
        ):
            coid = order.client_order_id
            if coid in seen or order.is_closed or self._has_command_running(coid):
                continue
            seen.add(coid)
            self.reconciliations += 1
            try:
                response = await self.http.query_order(symbol, client_order_id=str(coid))
            except BinanceError as error:
                if error.code != ep.ERROR_UNKNOWN_ORDER:
                    raise
                await self.reconcile_order(order)  # the not-found rules
                continue
            await self._apply_found(order, instrument, response, by_order)
        # 4. What is left belongs to no order of the node, unless a submit or modify still
        # waiting for its answer placed it (its venue order id not known yet): while one
        # is, such trades wait for the next catch-up, where they are applied if their order
        # was heard of meanwhile, and said to be no order's otherwise.
        previous = self._unattributed.pop(symbol, {})
        unknown: dict[int, AccountTrade] = {}
        for trade in (*previous.values(), *trades):
            coid = self._venue_orders.get((instrument.id, VenueOrderId(str(trade.order_id))))
            order = None if coid is None else cache.order(coid)
            if order is None:
                unknown[trade.id] = trade
            elif trade.id in previous:
                self._apply_trade(order, instrument, trade)
        foreign = [t for i, t in unknown.items() if i in previous]
        fresh = {i: t for i, t in unknown.items() if i not in previous}
        if fresh and self._has_any_command_running():
            self._unattributed[symbol] = fresh
        else:
            foreign.extend(fresh.values())
        if foreign:
            self.foreign_trades += len(foreign)
            _log.warning(
                "%s: %d trade(s) of %s belong to no order of this node (placed elsewhere on "
                "the account, or declared lost): %s%s",
                self.client_id,
                len(foreign),
                symbol,
                ", ".join(
                    f"{t.id} (order {t.order_id}, {'buy' if t.is_buyer else 'sell'} "
                    f"{t.qty} @ {t.price})"
                    for t in foreign[:5]
                ),
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else "",
            )

    async def _trades_since_cursor(self, symbol: str, instrument: Instrument) -> list[AccountTrade]:
        """Read the account's trades of ``symbol`` the node may have missed, oldest first."""
        http = self.http
        cursor = self._trade_cursor.get(symbol)
        found: list[AccountTrade] = []
        read_on = True
        if cursor is not None:
            next_id = cursor + 1
        else:
            orders = (
                *self.cache.orders_open(instrument_id=instrument.id),
                *self.cache.orders_inflight(instrument_id=instrument.id),
            )
            if not orders:
                return found
            start = min(o.init.ts_init for o in orders) // NS_PER_MS - CATCH_UP_MARGIN_MS
            now = http.server_time_ms()
            # A startTime reads at most a day: walk the days up to the first trade, then
            # page by trade id from there (unless that day reached now and was not full).
            end = start - 1
            while not found and end < now:
                end = start + _DAY_MS - 1
                found = await http.my_trades(
                    symbol, start_time=start, end_time=end, limit=_TRADES_PAGE
                )
                start = end + 1
            if not found:
                return found
            next_id = found[-1].id + 1
            read_on = len(found) == _TRADES_PAGE or end < now
        while read_on:
            page = await http.my_trades(symbol, from_id=next_id, limit=_TRADES_PAGE)
            found.extend(page)
            read_on = len(page) == _TRADES_PAGE
            if page:
                next_id = page[-1].id + 1
        return found

    def _seed_venue_orders(self) -> None:
        """Index the venue order ids of the cache's orders, once (then ``_emit`` keeps it)."""
        if self._venue_orders_seeded:
            return
        self._venue_orders_seeded = True
        for order in self.cache.orders(venue=self.venue):
            for event in order.events:
                venue_order_id = getattr(event, "venue_order_id", None)
                if venue_order_id is not None:
                    key = (order.instrument_id, venue_order_id)
                    self._venue_orders[key] = order.client_order_id

    def _apply_trade(self, order: Order, instrument: Instrument, trade: AccountTrade) -> None:
        self._fill(
            order,
            instrument,
            VenueOrderId(str(trade.order_id)),
            trade.id,
            trade.qty,
            trade.price,
            trade.commission,
            trade.commission_asset,
            parse_liquidity_side(trade.is_maker),
            trade.time,
        )

    async def _apply_queried(
        self,
        order: Order,
        instrument: Instrument,
        response: OrderResponse,
        trades: Mapping[int, list[AccountTrade]] | None = None,
    ) -> None:
        """Apply an order as the venue shows it: replaced, accepted, its fills, then its end.

        Its fills come from ``trades`` (by venue order id, read for many orders at once)
        and, for what they lack, from ``myTrades`` by order id. The end is applied once the
        fills are in: if the venue does not answer, the order is left open.
        """
        venue_order_id = VenueOrderId(str(response.order_id))
        status = response.status or ""
        filled_here = self._filled_as(order, venue_order_id)
        previous = order.venue_order_id
        if status in ("NEW", "PARTIALLY_FILLED") and not self._has_command_running(
            order.client_order_id
        ):
            # Working at the venue and no modify on its way, so no cancel-replace retired it
            # (a modify of unknown outcome did not replace it): its end is the order's again.
            self._replaced.discard(response.order_id)
        if (
            previous is not None
            and not self._introduced(order, venue_order_id)
            and response.orig_qty is not None
        ):
            # A cancel-replace the node did not hear the answer of: the client order id now
            # names a new venue order, for what had not filled before it. Whatever became of
            # the replacement since (working, filled, cancelled), it is applied first: its
            # price and quantity, then its fills and its end. (What counts is whether an
            # acceptance or an update introduced its venue order id, not the order's current
            # one: an end of it reported first sets that too, without price and quantity.)
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
        executed = decimal_or_zero(response.executed_qty)
        if trades is not None and executed > filled_here:
            for trade in trades.get(response.order_id, ()):
                self._apply_trade(order, instrument, trade)
            filled_here = self._filled_as(order, venue_order_id)
        if executed > filled_here:
            for trade in await self.http.my_trades(
                instrument.raw_symbol, order_id=response.order_id
            ):
                self._apply_trade(order, instrument, trade)
        self._end(order, venue_order_id, status, "")
