"""The sandbox exchange: symbols on compiled matching cores, order placement, fills, events.

Everything here is synchronous and runs on the server's event loop, so a request is processed
in one piece. The market book of each symbol is the one the market source feeds (replayed or
generated); account orders are matched against it by ``zq_core.matching.MatchingCore`` and do
not show in it (see docs/live/sandbox.md for what that means for fills).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from zq.data.arrays import DELTA_DTYPE
from zq.sandbox.accounts import _ZERO, Account, Balance, Order, Trade, format_decimal, now_ms
from zq.sandbox.config import AccountConfig, SymbolConfig
from zq.sandbox.errors import (
    CANCEL_REJECTED,
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    INVALID_SYMBOL,
    NEW_ORDER_REJECTED,
    NO_SUCH_ORDER,
    UNKNOWN_ORDER,
    WOULD_TAKE,
    BinanceError,
)
from zq_core.matching import (
    REPORT_ACCEPTED,
    REPORT_CANCELED,
    REPORT_EXPIRED,
    REPORT_FILLED,
    REPORT_REJECTED,
    MatchingCore,
)

__all__ = [
    "Account",
    "AccountPosition",
    "Balance",
    "ExchangeListener",
    "ExecutionReport",
    "Order",
    "SandboxExchange",
    "SymbolState",
    "Trade",
    "UserEvent",
    "format_decimal",
    "now_ms",
]

_EIGHT: Final = Decimal("0.00000001")
_BID: Final = 1  # book sides and order sides share 1 (bid/BUY) and 2 (ask/SELL)
_ASK: Final = 2
_ACTION_UPDATE: Final = 2
_ACTION_DELETE: Final = 3
_ACTION_CLEAR: Final = 4
_CORE_MARKET: Final = 1
_CORE_LIMIT: Final = 2
_CORE_TIF: Final = {"GTC": 1, "IOC": 2, "FOK": 3}
_CLIENT_ID: Final = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

ORDER_TYPES: Final = ("LIMIT", "MARKET", "LIMIT_MAKER")
SIDES: Final = ("BUY", "SELL")
TIME_IN_FORCES: Final = ("GTC", "IOC", "FOK")


class SymbolState:
    """One symbol: its matching core, update ids and order and trade id counters."""

    def __init__(self, config: SymbolConfig) -> None:
        self.config = config
        self.symbol = config.symbol
        self.price_scale = 10**config.price_precision
        self.size_scale = 10**config.size_precision
        self.core = MatchingCore(
            f"{config.symbol}.SANDBOX",
            2,  # L2: aggregated levels, as Binance's depth streams show them
            config.price_precision,
            config.size_precision,
            int(config.tick_size * self.price_scale),
        )
        self.tick_raw = int(config.tick_size * self.price_scale)
        # Market sizes reach the core rounded down to whole steps, so that every fill is a
        # whole number of steps, as on Binance where every order quantity is.
        self.step_raw = int(config.step_size * self.size_scale)
        self.update_id = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.last_price: Decimal | None = None
        self.orders_by_core: dict[int, Order] = {}
        self.top: tuple[int, int, int, int] = (0, 0, 0, 0)

    def price(self, raw: int) -> Decimal:
        """Return a raw core price as a decimal."""
        return Decimal(raw).scaleb(-self.config.price_precision)

    def size(self, raw: int) -> Decimal:
        """Return a raw core size as a decimal."""
        return Decimal(raw).scaleb(-self.config.size_precision)

    def raw_price(self, price: Decimal) -> int:
        """Return a decimal price (a multiple of the tick) as a raw core price."""
        return int(price * self.price_scale)

    def raw_size(self, size: Decimal) -> int:
        """Return a decimal size (a multiple of the step) as a raw core size."""
        return int(size * self.size_scale)

    def levels(self, side: int, limit: int) -> list[tuple[Decimal, Decimal]]:
        """Return up to ``limit`` levels of the market book, best first."""
        book = self.core.book
        rows = book.bids(limit) if side == _BID else book.asks(limit)
        return [(self.price(price.raw), self.size(size.raw)) for price, size in rows]

    def all_levels(self, side: int) -> list[tuple[int, int]]:
        """Return every level of one side as raw (price, size), best first."""
        book = self.core.book
        rows = book.bids(1_000_000) if side == _BID else book.asks(1_000_000)
        return [(price.raw, size.raw) for price, size in rows]


class ExecutionReport:
    """An order's ``executionReport``, with the order's changing values as they were when
    it happened: the JSON is built when it is sent (after the REST answer)."""

    __slots__ = (
        "cancel_client_id",
        "cumulative_quote",
        "executed_qty",
        "execution_type",
        "is_working",
        "order",
        "status",
        "trade",
        "ts",
    )

    def __init__(
        self,
        order: Order,
        execution_type: str,
        ts: int,
        trade: Trade | None,
        cancel_client_id: str | None,
    ) -> None:
        self.order = order  # its other fields do not change
        self.execution_type = execution_type
        self.ts = ts
        self.trade = trade
        self.cancel_client_id = cancel_client_id
        self.status = order.status
        self.executed_qty = order.executed_qty
        self.cumulative_quote = order.cumulative_quote
        self.is_working = order.is_working

    def to_json(self) -> dict[str, Any]:
        """Return the payload."""
        order, trade, ts = self.order, self.trade, self.ts
        canceled = self.cancel_client_id is not None
        return {
            "e": "executionReport",
            "E": ts,
            "s": order.symbol,
            "c": self.cancel_client_id if canceled else order.client_order_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": format_decimal(order.orig_qty),
            "p": format_decimal(order.price),
            "P": format_decimal(_ZERO),
            "F": format_decimal(_ZERO),
            "g": -1,
            "C": order.client_order_id if canceled else "",
            "x": self.execution_type,
            "X": self.status,
            "r": "NONE",
            "i": order.order_id,
            "l": format_decimal(trade.qty if trade else _ZERO),
            "z": format_decimal(self.executed_qty),
            "L": format_decimal(trade.price if trade else _ZERO),
            "n": format_decimal(trade.commission if trade else _ZERO),
            "N": trade.commission_asset if trade else None,
            "T": ts,
            "t": trade.id if trade else -1,
            "w": self.is_working,
            "m": trade.is_maker if trade else False,
            "M": False,
            "O": order.time,
            "Z": format_decimal(self.cumulative_quote),
            "Y": format_decimal(trade.quote_qty if trade else _ZERO),
            "Q": format_decimal(_ZERO),
            "W": order.time if order.type != "MARKET" else -1,
            "V": "NONE",
        }


class AccountPosition:
    """An ``outboundAccountPosition``: the balances of the assets that changed, as they were."""

    __slots__ = ("balances", "ts")

    def __init__(self, ts: int, balances: list[tuple[str, Decimal, Decimal]]) -> None:
        self.ts = ts
        self.balances = balances  # (asset, free, locked)

    def to_json(self) -> dict[str, Any]:
        """Return the payload."""
        return {
            "e": "outboundAccountPosition",
            "E": self.ts,
            "u": self.ts,
            "B": [
                {"a": asset, "f": format_decimal(free), "l": format_decimal(locked)}
                for asset, free, locked in self.balances
            ],
        }


UserEvent = ExecutionReport | AccountPosition


class ExchangeListener:
    """Receives what the exchange publishes; the stream hub overrides these no-ops."""

    def on_depth(self, symbol: str, update_id: int, touched: set[tuple[int, int]]) -> None:
        """Levels ``(side, raw price)`` changed in book update ``update_id``."""

    def on_book_ticker(self, state: SymbolState) -> None:
        """The best bid or ask (price or size) of ``state`` changed."""

    def on_trade(self, symbol: str, payload: dict[str, Any]) -> None:
        """A market trade (the ``trade`` stream payload)."""

    def on_user_event(self, api_key: str, event: UserEvent) -> None:
        """An event of the user data stream of the account ``api_key`` (its values as they
        were when it happened; ``event.to_json()`` is the payload)."""

    def wants_user_events(self, api_key: str) -> bool:
        """Whether anyone listens to the account's user data stream (events are built only
        then)."""
        return True


class SandboxExchange:
    """The venue's state and rules, independent of HTTP.

    Parameters
    ----------
    symbols : Iterable[SymbolConfig]
        The symbols traded.
    accounts : Iterable[AccountConfig]
        The accounts.
    listener : ExchangeListener, optional
        Receives market and user events.
    """

    def __init__(
        self,
        symbols: Iterable[SymbolConfig],
        accounts: Iterable[AccountConfig],
        listener: ExchangeListener | None = None,
    ) -> None:
        self.symbols: dict[str, SymbolState] = {s.symbol: SymbolState(s) for s in symbols}
        self.accounts: dict[str, Account] = {a.api_key: Account(a) for a in accounts}
        self.listener = listener if listener is not None else ExchangeListener()
        self._next_core_id = 1
        self._next_client_id = 1
        self._changed: dict[str, set[str]] = {}
        self._cancel_ids: dict[int, str] = {}

    # --- Lookups --------------------------------------------------------------------------------

    def symbol(self, name: str) -> SymbolState:
        """Return a symbol's state, or raise -1121."""
        state = self.symbols.get(name)
        if state is None:
            raise BinanceError(INVALID_SYMBOL, "Invalid symbol.")
        return state

    def new_client_id(self, prefix: str = "sandbox") -> str:
        """Return a client order id the venue makes up (deterministic)."""
        value = f"{prefix}{self._next_client_id:012d}"
        self._next_client_id += 1
        return value

    # --- Orders ---------------------------------------------------------------------------------

    def new_order(
        self,
        account: Account,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal,
        price: Decimal | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order; return it with the fills it made at once.

        Raises
        ------
        BinanceError
            -1121 unknown symbol, -1013 filter failure, -2010 duplicate client order id,
            insufficient balance or a LIMIT_MAKER that would take.
        """
        state = self.symbol(symbol)
        config = state.config
        if client_order_id is None:
            client_order_id = self.new_client_id()
        elif not _CLIENT_ID.match(client_order_id):
            raise BinanceError.illegal("newClientOrderId", client_order_id)
        previous = account.by_client_id.get((symbol, client_order_id))
        if previous is not None and previous.is_open:
            raise BinanceError(NEW_ORDER_REJECTED, DUPLICATE_ORDER)
        self.check_filters(symbol, side, order_type, quantity, price)
        core = state.core
        if order_type == "LIMIT_MAKER":
            assert price is not None
            opposite = core.book.best_ask_raw() if side == "BUY" else core.book.best_bid_raw()
            raw = state.raw_price(price)
            if opposite is not None and (raw >= opposite if side == "BUY" else raw <= opposite):
                raise BinanceError(NEW_ORDER_REJECTED, WOULD_TAKE)
        # What the order locks: the quote it may spend (a market buy: what the book offers
        # for its quantity) or the base it sells.
        if side == "BUY":
            lock_asset = config.quote_asset
            lock = quantity * price if price is not None else self._market_cost(state, quantity)
        else:
            lock_asset = config.base_asset
            lock = quantity
        balance = account.balance(lock_asset)
        if balance.free < lock:
            raise BinanceError(NEW_ORDER_REJECTED, INSUFFICIENT_BALANCE)
        ts = now_ms()
        order = Order(
            symbol=symbol,
            order_id=state.next_order_id,
            client_order_id=client_order_id,
            api_key=account.api_key,
            side=side,
            type=order_type,
            time_in_force=time_in_force or "GTC",
            price=price if price is not None else _ZERO,
            orig_qty=quantity,
            time=ts,
            core_id=self._next_core_id,
            lock_asset=lock_asset,
            lock_left=lock,
            update_time=ts,
        )
        state.next_order_id += 1
        self._next_core_id += 1
        account.orders[(symbol, order.order_id)] = order
        account.by_client_id[(symbol, client_order_id)] = order
        state.orders_by_core[order.core_id] = order
        balance.free -= lock
        balance.locked += lock
        self._touch(account, lock_asset)
        core.submit(
            order.core_id,
            _BID if side == "BUY" else _ASK,
            _CORE_MARKET if order_type == "MARKET" else _CORE_LIMIT,
            _CORE_TIF[order.time_in_force],
            state.raw_size(quantity),
            None if price is None else state.raw_price(price),
            post_only=order_type == "LIMIT_MAKER",
            ts=time.time_ns(),
        )
        self._drain(state)
        return order

    def check_filters(
        self, symbol: str, side: str, order_type: str, quantity: Decimal, price: Decimal | None
    ) -> None:
        """Raise -1013 when an order breaks PRICE_FILTER, LOT_SIZE or the notional filter.

        A market order's notional is taken at the best opposite price (or the last trade).
        """
        state = self.symbol(symbol)
        config = state.config
        self._check_quantity(config, quantity)
        if order_type == "MARKET":
            book = state.core.book
            best = book.best_ask_raw() if side == "BUY" else book.best_bid_raw()
            reference = state.price(best) if best is not None else state.last_price
        else:
            if price is None:
                raise BinanceError.mandatory("price")
            self._check_price(config, price)
            reference = price
        if reference is not None:
            notional = reference * quantity
            if notional < config.min_notional or (
                order_type != "MARKET" and notional > config.max_notional
            ):
                raise BinanceError.filter_failure(config.notional_filter)

    def find_order(
        self, account: Account, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> Order | None:
        """Return an order by id or by client order id (the latest with it), or None."""
        self.symbol(symbol)
        if order_id is not None:
            return account.orders.get((symbol, order_id))
        if client_order_id is not None:
            return account.by_client_id.get((symbol, client_order_id))
        return None

    def query_order(
        self, account: Account, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> Order:
        """Return an order, or raise -2013."""
        order = self.find_order(account, symbol, order_id, client_order_id)
        if order is None:
            raise BinanceError(NO_SUCH_ORDER, "Order does not exist.")
        return order

    def cancel_order(
        self,
        account: Account,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        cancel_client_id: str | None = None,
    ) -> dict[str, Any]:
        """Cancel an open order; return the DELETE /api/v3/order body, or raise -2011."""
        order = self.find_order(account, symbol, order_id, client_order_id)
        if order is None or not order.is_open:
            raise BinanceError(CANCEL_REJECTED, UNKNOWN_ORDER)
        if cancel_client_id is None:
            cancel_client_id = self.new_client_id("cancel")
        elif not _CLIENT_ID.match(cancel_client_id):
            raise BinanceError.illegal("newClientOrderId", cancel_client_id)
        state = self.symbols[symbol]
        self._cancel_ids[order.core_id] = cancel_client_id
        state.core.cancel(order.core_id, time.time_ns())
        self._drain(state)
        return order.to_cancel_response(cancel_client_id, order.update_time)

    def cancel_open_orders(self, account: Account, symbol: str) -> list[dict[str, Any]]:
        """Cancel every open order of a symbol; raise -2011 when there is none."""
        self.symbol(symbol)
        orders = account.open_orders(symbol)
        if not orders:
            raise BinanceError(CANCEL_REJECTED, UNKNOWN_ORDER)
        return [self.cancel_order(account, symbol, order.order_id, None) for order in orders]

    def my_trades(
        self,
        account: Account,
        symbol: str,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Trade]:
        """Return an account's trades of a symbol, oldest first, filtered like myTrades."""
        self.symbol(symbol)
        rows = account.trades.get(symbol, [])
        selected = [
            trade
            for trade in rows
            if (order_id is None or trade.order_id == order_id)
            and (start_time is None or trade.time >= start_time)
            and (end_time is None or trade.time <= end_time)
            and (from_id is None or trade.id >= from_id)
        ]
        # From a starting point: the oldest ``limit``; otherwise the most recent.
        if from_id is not None or start_time is not None:
            return selected[:limit]
        return selected[-limit:]

    # --- Market ---------------------------------------------------------------------------------

    def set_levels(
        self,
        symbol: str,
        bids: Sequence[tuple[Decimal, Decimal]] = (),
        asks: Sequence[tuple[Decimal, Decimal]] = (),
    ) -> int:
        """Set market levels to absolute sizes (0 removes a level); return the update id.

        One call is one book update: it gets one update id and resting account orders
        that it crosses fill.
        """
        state = self.symbol(symbol)
        raw: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        for levels, into in ((bids, raw[0]), (asks, raw[1])):
            for price, size in levels:
                if price <= 0 or (price % state.config.tick_size) or size < 0 or (
                    size % state.config.step_size
                ):
                    raise ValueError(
                        f"{symbol}: level ({price}, {size}) is not a positive price in ticks of "
                        f"{state.config.tick_size} with a size in steps of "
                        f"{state.config.step_size}"
                    )
                into.append((state.raw_price(price), state.raw_size(size)))
        return self.set_raw_levels(symbol, *raw)

    def set_raw_levels(
        self,
        symbol: str,
        bids: Sequence[tuple[int, int]] = (),
        asks: Sequence[tuple[int, int]] = (),
    ) -> int:
        """``set_levels`` with raw core prices and sizes (whole ticks and steps).

        What a generated market calls: its levels are integers already.
        """
        state = self.symbol(symbol)
        for price, size in (*bids, *asks):
            if price <= 0 or price % state.tick_raw or size < 0 or size % state.step_raw:
                raise ValueError(
                    f"{symbol}: raw level ({price}, {size}) is not a positive price in ticks of "
                    f"{state.tick_raw} with a size in steps of {state.step_raw}"
                )
        rows = np.zeros(len(bids) + len(asks), dtype=DELTA_DTYPE)
        if len(rows):
            # Column by column: one numpy call per field rather than one per cell.
            levels = [*bids, *asks]
            rows["side"] = [_BID] * len(bids) + [_ASK] * len(asks)
            rows["price"] = [price for price, _ in levels]
            rows["size"] = [size for _, size in levels]
            rows["action"] = [_ACTION_UPDATE if size > 0 else _ACTION_DELETE for _, size in levels]
        return self.apply_rows(symbol, rows)

    def apply_rows(self, symbol: str, rows: npt.NDArray[Any]) -> int:
        """Apply ``DELTA_DTYPE`` rows as one book update; return its update id.

        Sizes are rounded down to whole steps of the symbol (a level left with less than a
        step is removed), so that account orders always fill in whole steps.
        """
        state = self.symbol(symbol)
        touched: set[tuple[int, int]] = set()
        if len(rows):
            actions = rows["action"].tolist()
            sides = rows["side"].tolist()
            prices = rows["price"].tolist()
            if _ACTION_CLEAR in actions:
                # A clear (a snapshot follows): every level there was is touched.
                touched.update((_BID, price) for price, _ in state.all_levels(_BID))
                touched.update((_ASK, price) for price, _ in state.all_levels(_ASK))
            touched.update(
                (side, price)
                for action, side, price in zip(actions, sides, prices, strict=True)
                if action != _ACTION_CLEAR
            )
            rows = rows.copy()
            rows["ts_init"] = time.time_ns()
            sizes = rows["size"]
            sizes -= sizes % state.step_raw
            # A level left with less than a step is gone.
            vanished = (sizes == 0) & (rows["action"] != _ACTION_CLEAR)
            rows["action"][vanished] = _ACTION_DELETE
            state.core.apply_deltas(rows)
        state.update_id += 1
        self.listener.on_depth(symbol, state.update_id, touched)
        self._check_top(state)
        self._drain(state)
        return state.update_id

    def trade(
        self, symbol: str, price: Decimal, qty: Decimal, buyer_is_maker: bool
    ) -> dict[str, Any]:
        """Record a market trade: publish it and let resting orders at or through it fill."""
        state = self.symbol(symbol)
        ts = now_ms()
        trade_id = state.next_trade_id
        state.next_trade_id += 1
        state.last_price = price
        payload = {
            "e": "trade",
            "E": ts,
            "s": symbol,
            "t": trade_id,
            "p": format_decimal(price),
            "q": format_decimal(qty),
            "T": ts,
            "m": buyer_is_maker,
            "M": True,
        }
        self.listener.on_trade(symbol, payload)
        aggressor = _ASK if buyer_is_maker else _BID
        size = state.raw_size(qty)
        state.core.apply_trade(
            state.raw_price(price), size - size % state.step_raw, aggressor, time.time_ns()
        )
        self._drain(state)
        return payload

    # --- Internals ------------------------------------------------------------------------------

    @staticmethod
    def _check_price(config: SymbolConfig, price: Decimal) -> None:
        if (
            price < config.min_price
            or price > config.max_price
            or (price - config.min_price) % config.tick_size != 0
        ):
            raise BinanceError.filter_failure("PRICE_FILTER")

    @staticmethod
    def _check_quantity(config: SymbolConfig, quantity: Decimal) -> None:
        if (
            quantity < config.min_qty
            or quantity > config.max_qty
            or (quantity - config.min_qty) % config.step_size != 0
        ):
            raise BinanceError.filter_failure("LOT_SIZE")

    @staticmethod
    def _market_cost(state: SymbolState, quantity: Decimal) -> Decimal:
        # What a market buy of ``quantity`` pays walking the asks it can take.
        # The top levels first: reading a whole replayed book per order would be slow.
        for depth in (32, 1_000_000):
            wanted = state.raw_size(quantity)
            cost = 0
            rows = state.core.book.asks(depth)
            for price_value, _ in rows:
                if wanted <= 0:
                    break
                price = price_value.raw
                take = min(wanted, state.core.available(_ASK, price))
                cost += take * price
                wanted -= take
            if wanted <= 0 or len(rows) < depth:
                break
        scale = state.config.price_precision + state.config.size_precision
        return Decimal(cost).scaleb(-scale)

    def _check_top(self, state: SymbolState) -> None:
        book = state.core.book
        bid = book.best_bid_raw() or 0
        ask = book.best_ask_raw() or 0
        top = (
            bid,
            book.size_at(_BID, bid).raw if bid else 0,
            ask,
            book.size_at(_ASK, ask).raw if ask else 0,
        )
        if top != state.top:
            state.top = top
            self.listener.on_book_ticker(state)

    def _touch(self, account: Account, asset: str) -> None:
        self._changed.setdefault(account.api_key, set()).add(asset)

    def _drain(self, state: SymbolState) -> None:
        # Turn the core's reports into order updates, balances and user events.
        for kind, core_id, _, quantity, price, maker, reason in state.core.drain():
            order = state.orders_by_core[core_id]
            account = self.accounts[order.api_key]
            ts = now_ms()
            order.update_time = ts
            if kind == REPORT_ACCEPTED:
                order.is_working = order.type != "MARKET"
                self._report(order, "NEW", ts)
            elif kind == REPORT_FILLED:
                self._fill(state, account, order, quantity, price, maker, ts)
            elif kind in (REPORT_CANCELED, REPORT_EXPIRED, REPORT_REJECTED):
                # The core cancels with a reason what Binance expires: an IOC or FOK
                # remainder, a market order the book could not fill.
                if kind == REPORT_REJECTED:
                    order.status = "REJECTED"
                elif kind == REPORT_CANCELED and reason is None:
                    order.status = "CANCELED"
                else:
                    order.status = "EXPIRED"
                self._release(account, order)
                cancel_id = self._cancel_ids.pop(core_id, None)
                self._report(order, order.status, ts, cancel_client_id=cancel_id)
        self._flush_positions()

    def _fill(
        self,
        state: SymbolState,
        account: Account,
        order: Order,
        raw_qty: int,
        raw_price: int,
        maker: bool,
        ts: int,
    ) -> None:
        config = state.config
        qty = state.size(raw_qty)
        price = state.price(raw_price)
        quote = qty * price
        rate = account.config.maker_commission if maker else account.config.taker_commission
        base = account.balance(config.base_asset)
        quote_balance = account.balance(config.quote_asset)
        if order.side == "BUY":
            # The fill spends from the lock (a limit buy locked at its own price and gets
            # the difference back); the commission is taken from what is received.
            release = qty * order.price if order.type != "MARKET" else quote
            release = min(release, order.lock_left)
            quote_balance.locked -= release
            order.lock_left -= release
            quote_balance.free += release - quote
            commission = (qty * rate).quantize(_EIGHT, ROUND_HALF_EVEN)
            commission_asset = config.base_asset
            base.free += qty - commission
        else:
            base.locked -= qty
            order.lock_left -= qty
            commission = (quote * rate).quantize(_EIGHT, ROUND_HALF_EVEN)
            commission_asset = config.quote_asset
            quote_balance.free += quote - commission
        self._touch(account, config.base_asset)
        self._touch(account, config.quote_asset)
        trade = Trade(
            id=state.next_trade_id,
            order_id=order.order_id,
            symbol=order.symbol,
            price=price,
            qty=qty,
            quote_qty=quote,
            commission=commission,
            commission_asset=commission_asset,
            time=ts,
            is_buyer=order.side == "BUY",
            is_maker=maker,
        )
        state.next_trade_id += 1
        account.trades.setdefault(order.symbol, []).append(trade)
        order.fills.append(trade)
        order.executed_qty += qty
        order.cumulative_quote += quote
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        if order.status == "FILLED":
            order.is_working = False
            self._release(account, order)
        self._report(order, "TRADE", ts, trade=trade)

    def _release(self, account: Account, order: Order) -> None:
        if order.lock_left:
            balance = account.balance(order.lock_asset)
            balance.locked -= order.lock_left
            balance.free += order.lock_left
            order.lock_left = _ZERO
            self._touch(account, order.lock_asset)
        order.is_working = False

    def _report(
        self,
        order: Order,
        execution_type: str,
        ts: int,
        *,
        trade: Trade | None = None,
        cancel_client_id: str | None = None,
    ) -> None:
        if not self.listener.wants_user_events(order.api_key):
            return
        event = ExecutionReport(order, execution_type, ts, trade, cancel_client_id)
        self.listener.on_user_event(order.api_key, event)

    def _flush_positions(self) -> None:
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        ts = now_ms()
        for api_key, assets in changed.items():
            account = self.accounts[api_key]
            account.update_time = ts
            if not self.listener.wants_user_events(api_key):
                continue
            balances = account.balances
            event = AccountPosition(
                ts,
                [
                    (asset, balances[asset].free, balances[asset].locked)
                    for asset in sorted(assets)
                ],
            )
            self.listener.on_user_event(api_key, event)

