"""The user data stream: a listenKey kept alive, and its events as typed structs.

Binance's spot user data stream lives at ``/ws/<listenKey>``. A listenKey is created with
``POST /api/v3/userDataStream`` and expires 60 minutes after its creation or last
keep-alive (``PUT``); Binance recommends a keep-alive every 30 minutes. When the key has
expired (a ``listenKeyExpired`` event, or error -1125 on keep-alive), a new key is created
and the connection moves to it. Events missed while disconnected are not replayed by
Binance: ``on_reconnect`` tells the owner to reconcile (query its orders by client order
id, fetch trades since the last one seen).

Events: ``executionReport`` (every order state change and fill), ``outboundAccountPosition``
(balances that changed), ``balanceUpdate`` (deposits, withdrawals, transfers),
``listenKeyExpired``. Others (``externalLockUpdate``, ``eventStreamTerminated``, ...) are
returned as :class:`UnknownUserEvent` rather than dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Final

import msgspec

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.errors import BinanceError, BinanceStreamError
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.websocket import BinanceWebSocketClient

__all__ = [
    "AccountPosition",
    "BalanceUpdate",
    "BinanceUserStream",
    "ExecutionReport",
    "ListenKeyExpired",
    "PositionBalance",
    "UnknownUserEvent",
    "UserEvent",
    "parse_user_event",
]

_log = logging.getLogger("zq.adapters.binance")

_KEEPALIVE_RETRY_S: Final = 60.0


class _UserEvent(msgspec.Struct, frozen=True, tag_field="e"):
    event_time: int = msgspec.field(name="E")


class ExecutionReport(_UserEvent, frozen=True, kw_only=True, tag="executionReport"):
    """An order changed: ``execution_type`` says how (``NEW``, ``CANCELED``,
    ``REPLACED``, ``REJECTED``, ``TRADE``, ``EXPIRED``, ``TRADE_PREVENTION``).

    On a ``TRADE``, ``last_qty`` at ``last_price`` is the fill and ``trade_id`` its id; on a
    cancel, ``orig_client_order_id`` names the order canceled and ``client_order_id`` the
    cancel request. Decimals stay as Binance's strings.
    """

    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: str = msgspec.field(name="S")
    order_type: str = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f")
    quantity: str = msgspec.field(name="q")
    price: str = msgspec.field(name="p")
    stop_price: str = msgspec.field(default="0", name="P")
    order_list_id: int = msgspec.field(default=-1, name="g")
    orig_client_order_id: str = msgspec.field(default="", name="C")
    execution_type: str = msgspec.field(name="x")
    order_status: str = msgspec.field(name="X")
    reject_reason: str = msgspec.field(default="NONE", name="r")
    order_id: int = msgspec.field(name="i")
    last_qty: str = msgspec.field(name="l")
    cumulative_qty: str = msgspec.field(name="z")
    last_price: str = msgspec.field(name="L")
    commission: str = msgspec.field(default="0", name="n")
    commission_asset: str | None = msgspec.field(default=None, name="N")
    transaction_time: int = msgspec.field(name="T")
    trade_id: int = msgspec.field(default=-1, name="t")
    is_working: bool = msgspec.field(default=False, name="w")
    is_maker: bool = msgspec.field(default=False, name="m")
    creation_time: int = msgspec.field(default=0, name="O")
    cumulative_quote_qty: str = msgspec.field(default="0", name="Z")
    last_quote_qty: str = msgspec.field(default="0", name="Y")
    quote_order_qty: str = msgspec.field(default="0", name="Q")

    @property
    def is_fill(self) -> bool:
        """Whether this report carries a fill (``execution_type == "TRADE"``)."""
        return self.execution_type == "TRADE"


class PositionBalance(msgspec.Struct, frozen=True):
    """One asset's balance in an ``outboundAccountPosition``."""

    asset: str = msgspec.field(name="a")
    free: str = msgspec.field(name="f")
    locked: str = msgspec.field(name="l")


class AccountPosition(_UserEvent, frozen=True, kw_only=True, tag="outboundAccountPosition"):
    """The balances of the assets that changed, as of ``last_update_time``."""

    last_update_time: int = msgspec.field(name="u")
    balances: list[PositionBalance] = msgspec.field(name="B")


class BalanceUpdate(_UserEvent, frozen=True, kw_only=True, tag="balanceUpdate"):
    """A deposit, withdrawal or transfer: ``delta`` of ``asset`` at ``clear_time``."""

    asset: str = msgspec.field(name="a")
    delta: str = msgspec.field(name="d")
    clear_time: int = msgspec.field(name="T")


class ListenKeyExpired(_UserEvent, frozen=True, kw_only=True, tag="listenKeyExpired"):
    """The listenKey expired: the stream stops; a new key is needed."""

    listen_key: str = msgspec.field(default="", name="listenKey")


class UnknownUserEvent(msgspec.Struct, frozen=True):
    """An event type this adapter does not map; ``payload`` is its JSON."""

    event_type: str
    payload: bytes


UserEvent = ExecutionReport | AccountPosition | BalanceUpdate | ListenKeyExpired | UnknownUserEvent

_KnownEvent = ExecutionReport | AccountPosition | BalanceUpdate | ListenKeyExpired
_DECODER: Final[msgspec.json.Decoder[_KnownEvent]] = msgspec.json.Decoder(_KnownEvent)


class _Kind(msgspec.Struct):
    e: str | None = None


_KNOWN: Final = {"executionReport", "outboundAccountPosition", "balanceUpdate", "listenKeyExpired"}


def parse_user_event(payload: bytes, stream: str = "userData") -> UserEvent:
    """Decode one user-data-stream message.

    Raises
    ------
    BinanceStreamError
        If a known event lacks a field or has a wrong type (naming it), or the message is
        not a JSON object with an ``e`` field.
    """
    try:
        return _DECODER.decode(payload)
    except msgspec.ValidationError as error:
        try:
            kind = msgspec.json.decode(payload, type=_Kind).e
        except (msgspec.DecodeError, msgspec.ValidationError):
            kind = None
        if kind is None:
            raise BinanceStreamError(stream, "not a user data event (no 'e' field)") from None
        if kind in _KNOWN:
            raise BinanceStreamError(stream, f"malformed {kind}: {error}") from None
        return UnknownUserEvent(kind, payload)
    except msgspec.DecodeError as error:
        raise BinanceStreamError(stream, f"not JSON: {error}") from None


class BinanceUserStream:
    """Keep a user data stream open and hand its events to ``on_event``.

    Parameters
    ----------
    http
        The REST client (with credentials) that creates and keeps the listenKey alive.
    ws_base_url
        The stream server: ``wss://stream.binance.com:9443`` or the sandbox's ``ws://...``.
    on_event
        Called with each event and its local receive time (UNIX ns).
    on_reconnect
        Called after the stream reconnected (events may have been missed: reconcile).
    keepalive_interval_s
        Between keep-alives (Binance: every 30 minutes; a key lives 60).
    """

    def __init__(
        self,
        http: BinanceHttpClient,
        ws_base_url: str,
        on_event: Callable[[UserEvent, int], None],
        *,
        on_reconnect: Callable[[], object] | None = None,
        keepalive_interval_s: float = 1800.0,
        heartbeat_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if keepalive_interval_s <= 0:
            raise ValueError(f"keepalive_interval_s must be positive, got {keepalive_interval_s}")
        self._http = http
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self.keepalive_interval_s = keepalive_interval_s
        self.listen_key: str | None = None
        self.keepalives = 0
        self.keepalive_failures = 0
        self.renewals = 0
        self.events = 0
        self._ws = BinanceWebSocketClient(
            ws_base_url,
            self._on_message,
            raw_stream="",
            on_reconnect=self._reconnected,
            heartbeat_s=heartbeat_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            rng=rng,
        )
        self._keepalive_task: asyncio.Task[None] | None = None
        self._renew_task: asyncio.Task[None] | None = None

    @property
    def websocket(self) -> BinanceWebSocketClient:
        """The underlying connection (for its counters and state)."""
        return self._ws

    async def start(self) -> None:
        """Create a listenKey, connect, and start the keep-alives."""
        self.listen_key = await self._http.create_listen_key()
        self._ws.set_raw_stream(self.listen_key)
        await self._ws.start()
        self._keepalive_task = asyncio.get_running_loop().create_task(
            self._keepalive_loop(), name="zq-binance-listenkey-keepalive"
        )

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the stream is connected."""
        await self._ws.wait_connected(timeout)

    async def stop(self) -> None:
        """Stop the keep-alives, disconnect and close the listenKey."""
        for task in (self._keepalive_task, self._renew_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._keepalive_task = self._renew_task = None
        await self._ws.stop()
        if self.listen_key is not None:
            try:
                await self._http.close_listen_key(self.listen_key)
            except BinanceError as error:
                _log.info("closing the listenKey failed (it may have expired): %s", error)
            self.listen_key = None

    async def renew(self) -> None:
        """Move to a new listenKey (the old one expired) and reconnect to it."""
        self.listen_key = await self._http.create_listen_key()
        self.renewals += 1
        self._ws.set_raw_stream(self.listen_key)
        await self._ws.disconnect()

    async def _keepalive_loop(self) -> None:
        wait = self.keepalive_interval_s
        while True:
            await asyncio.sleep(wait)
            key = self.listen_key
            if key is None:
                return
            try:
                await self._http.keepalive_listen_key(key)
            except BinanceError as error:
                self.keepalive_failures += 1
                if error.code == ep.ERROR_INVALID_LISTEN_KEY:
                    _log.warning("listenKey expired; creating a new one")
                    try:
                        await self.renew()
                    except BinanceError as renew_error:
                        _log.warning("listenKey renewal failed: %s", renew_error)
                        wait = min(_KEEPALIVE_RETRY_S, self.keepalive_interval_s)
                        continue
                else:
                    _log.warning("listenKey keep-alive failed: %s; retrying", error)
                    wait = min(_KEEPALIVE_RETRY_S, self.keepalive_interval_s)
                    continue
            else:
                self.keepalives += 1
            wait = self.keepalive_interval_s

    def _on_message(self, stream: str, payload: bytes, ts_init: int) -> None:
        event = parse_user_event(payload, "userData")
        self.events += 1
        if isinstance(event, ListenKeyExpired) and (
            self._renew_task is None or self._renew_task.done()
        ):
            self._renew_task = asyncio.get_running_loop().create_task(
                self.renew(), name="zq-binance-listenkey-renew"
            )
        self._on_event(event, ts_init)

    def _reconnected(self) -> object:
        if self._on_reconnect is not None:
            return self._on_reconnect()
        return None
