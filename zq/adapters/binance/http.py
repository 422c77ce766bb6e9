"""An async REST client for the Binance spot API (``/api/v3``).

Requests go over persistent HTTP/1.1 connections (:mod:`zq.adapters.binance.transport`).

Signed requests carry ``timestamp`` (the venue's clock, estimated from ``GET
/api/v3/time``), ``recvWindow`` and an HMAC-SHA256 ``signature`` of the query string. Every
request first passes the :class:`~zq.adapters.binance.limits.RateLimiter`, whose counts are
corrected from the ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` headers.

What happens on each kind of failure:

- HTTP 429 (a limit broken, nothing executed): hold every request for ``Retry-After``
  seconds, then retry (at most ``max_retries`` times, and only if the wait is at most
  ``max_retry_wait_s``); otherwise raise :class:`BinanceRateLimitError`.
- HTTP 418 (IP banned): hold every request until the ban ends, raise
  :class:`BinanceIpBannedError`.
- error -1021 (timestamp outside ``recvWindow``): sync the clock again and retry once.
- no answer, a timeout or a 5xx: a ``GET`` is retried; anything else may or may not have
  been executed and raises :class:`BinanceUnknownStatusError`.
- any other refusal raises :class:`BinanceError` with Binance's code and message.

No error message, log line or repr contains the secret or a signed query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, NamedTuple, TypeVar

import msgspec

from zq.adapters.binance import endpoints as ep
from zq.adapters.binance.credentials import BinanceCredentials
from zq.adapters.binance.errors import (
    BinanceCancelReplaceError,
    BinanceError,
    BinanceIpBannedError,
    BinanceProtocolError,
    BinanceRateLimitError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.limits import RateLimit, RateLimiter
from zq.adapters.binance.schemas import (
    Account,
    AccountTrade,
    CancelReplaceResult,
    DepthSnapshot,
    ErrorBody,
    ListenKey,
    OrderResponse,
    ServerTime,
)
from zq.adapters.binance.signing import ParamValue, Signer, encode_params
from zq.adapters.binance.transport import HttpExchange, HttpTransport, HttpTransportError
from zq_core.binance_request import OrderRequestWriter
from zq_core.fixed import Price, Quantity

__all__ = ["BinanceHttpClient", "Security", "SentRequest"]

_log = logging.getLogger("zq.adapters.binance")

_T = TypeVar("_T")
_MAX_RECV_WINDOW_MS: Final = 60_000
_DEFAULT_RETRY_AFTER_S: Final = 1.0


class Security:
    """How a request is authenticated (Binance's endpoint security types)."""

    NONE: Final = 0  # public market data
    API_KEY: Final = 1  # USER_STREAM: the key header, no signature
    SIGNED: Final = 2  # TRADE / USER_DATA: the key header, timestamp and signature


#: What a price or quantity parameter may be: each prints as a plain decimal.
_Decimalish = str | Decimal | int | Price | Quantity


def _decimal_text(value: _Decimalish | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    if "e" in text or "E" in text:  # Decimal("1E-8") and friends: Binance wants plain digits
        text = format(Decimal(text), "f")
    return text


def _local_ms() -> int:
    return time.time_ns() // 1_000_000


def _no_answer(error: Exception, method: str, path: str, query: str) -> BinanceUnknownStatusError:
    # Never the signed query in a message (the transport's do not hold it anyway).
    text = str(error).replace(query, "<query>") if query else str(error)
    return BinanceUnknownStatusError(
        None, f"no answer ({type(error).__name__}: {text})", 0, f"{method} {path}"
    )


def _new_order_params(
    symbol: str,
    side: str,
    order_type: str,
    quantity: _Decimalish | None,
    price: _Decimalish | None,
    time_in_force: str | None,
    client_order_id: str | None,
    stop_price: _Decimalish | None,
    quote_order_qty: _Decimalish | None,
    response_type: str,
) -> dict[str, ParamValue | None]:
    return {
        "symbol": symbol,
        "side": side,
        "type": order_type,
        "timeInForce": time_in_force,
        "quantity": None if quantity is None else _decimal_text(quantity),
        "quoteOrderQty": None if quote_order_qty is None else _decimal_text(quote_order_qty),
        "price": None if price is None else _decimal_text(price),
        "newClientOrderId": client_order_id,
        "stopPrice": None if stop_price is None else _decimal_text(stop_price),
        "newOrderRespType": response_type,
    }


#: Characters a query's names and values may hold without quoting (``quote_plus`` leaves
#: them as they are); with ``=`` and ``&`` between them, a query that needs no encoding.
_UNRESERVED_BYTES: Final = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
)


def _plain_query(params: dict[str, ParamValue | None]) -> bytes | None:
    """Return the query of text-valued ``params`` as :func:`encode_params` writes it, in
    ASCII bytes, when no name or value needs quoting; None otherwise (for a value that is
    not a str, a bool or an int having its own text, and for no parameter at all)."""
    texts = [f"{name}={value}" for name, value in params.items() if value is not None]
    query = "&".join(texts)
    try:
        data = query.encode("ascii")
    except UnicodeEncodeError:
        return None
    # Left once the unreserved characters are removed: one "=" per pair and the "&"s
    # between them, and nothing else, exactly when no name or value holds anything else.
    left = data.translate(None, _UNRESERVED_BYTES)
    if len(left) != 2 * len(texts) - 1 or left.count(b"=") != len(texts):
        return None
    for value in params.values():
        if value is not None and value.__class__ is not str:
            return None
    return data


class _Call(NamedTuple):
    """What one request is, whatever attempt of it is on the wire."""

    method: str
    path: str
    params: dict[str, ParamValue | None]
    security: int
    weight: int
    orders: int
    learns_limits: bool


class SentRequest:
    """A request :meth:`BinanceHttpClient.send_now` wrote; its answer is still to come."""

    __slots__ = ("_query", "call", "exchange")

    def __init__(self, call: _Call, query: str | bytes, exchange: HttpExchange) -> None:
        self.call = call
        self._query = query  # the signed query; bytes from the signed fast path
        self.exchange = exchange

    @property
    def query(self) -> str:
        """The query string written (signed: never to be logged)."""
        query = self._query
        return query if isinstance(query, str) else query.decode("ascii")


class BinanceHttpClient:
    """Talk to the Binance spot REST API.

    Parameters
    ----------
    base_url
        ``https://api.binance.com`` for the venue, the sandbox's ``http://127.0.0.1:PORT``
        locally.
    credentials
        Needed for signed and user-stream requests only.
    recv_window_ms
        How long after its ``timestamp`` a signed request stays valid (Binance's default is
        5000; at most 60000).
    limiter
        Shared by every client of one IP and account; one is made when None, on this
        client's estimate of the venue's clock.
    max_retries
        Retries of a request after a 429 or, for a ``GET``, after no answer.
    max_retry_wait_s
        A 429 asking for a longer wait is raised rather than waited for.
    timeout_s
        Total time allowed for one request.
    """

    def __init__(
        self,
        base_url: str,
        credentials: BinanceCredentials | None = None,
        *,
        recv_window_ms: int = 5_000,
        limiter: RateLimiter | None = None,
        max_retries: int = 3,
        max_retry_wait_s: float = 10.0,
        timeout_s: float = 10.0,
    ) -> None:
        if not 0 < recv_window_ms <= _MAX_RECV_WINDOW_MS:
            raise ValueError(
                f"recv_window_ms must be in 1..{_MAX_RECV_WINDOW_MS}, got {recv_window_ms}"
            )
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._signer = Signer(credentials.secret_bytes) if credentials is not None else None
        # A new order's request checked, built, signed and written in one compiled call.
        self._order_writer = (
            OrderRequestWriter(credentials.secret_bytes) if credentials is not None else None
        )
        if self._order_writer is not None:
            self._order_writer.new_order_weight = ep.WEIGHT_NEW_ORDER
        self._key_header = (
            {ep.HEADER_API_KEY: credentials.api_key} if credentials is not None else None
        )
        self.recv_window_ms = recv_window_ms
        self.time_offset_ms = 0
        self.limiter = limiter if limiter is not None else RateLimiter(time_ms=self.server_time_ms)
        # Whether the limiter's clock is this client's estimate of the venue's (the compiled
        # writer then reads it once for the limiter and the timestamp).
        self._limiter_on_own_clock = limiter is None
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self.timeout_s = timeout_s
        self._transport: HttpTransport | None = None
        # A signed request's prebuilt head ("POST /api/v3/order?") and tail (protocol,
        # headers), by method and path, for the transport they were made for.
        self._frames: dict[tuple[str, str], tuple[HttpTransport, bytes, bytes]] = {}
        self.time_syncs = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Get ready to send (connections open with the first requests and are kept alive)."""
        if self._transport is None or self._transport.is_closed:
            transport = HttpTransport(
                self.base_url,
                timeout_s=self.timeout_s,
                default_headers={"Accept": "application/json", "User-Agent": "zq"},
            )
            self._transport = transport
            if self._order_writer is not None:  # ready before the first order, not in it
                frame = self._frame("POST", ep.ORDER, transport)
                self._order_writer.set_frame(transport, frame[1], frame[2])

    async def close(self) -> None:
        """Close the connections."""
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    async def __aenter__(self) -> BinanceHttpClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"BinanceHttpClient({self.base_url!r}, credentials={self._credentials!r})"

    # -- clock -----------------------------------------------------------------------------

    def server_time_ms(self) -> int:
        """Return the venue's clock as estimated: local wall time plus the synced offset."""
        return time.time_ns() // 1_000_000 + self.time_offset_ms

    async def sync_time(self) -> int:
        """Estimate the venue's clock offset from ``GET /api/v3/time``; return it in ms.

        The server's time is taken to be read halfway through the round trip.
        """
        sent = _local_ms()
        answer = await self.request("GET", ep.TIME, weight=ep.WEIGHT_TIME, response_type=ServerTime)
        received = _local_ms()
        self.time_offset_ms = answer.server_time - (sent + received) // 2
        self.time_syncs += 1
        _log.info("clock offset to %s: %d ms", self.base_url, self.time_offset_ms)
        return self.time_offset_ms

    # -- the request path ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, ParamValue | None] | None = None,
        *,
        security: int = Security.NONE,
        weight: int = 1,
        orders: int = 0,
        response_type: type[_T] = Any,  # type: ignore[assignment]
        learns_limits: bool = False,
    ) -> _T:
        """Send one request and decode its answer as ``response_type``.

        ``learns_limits``: the request reads the venue's rate limits; until they are known
        only a 429/418 hold delays it (see :meth:`RateLimiter.wait_ms`).

        Raises
        ------
        BinanceError
            Or one of its subclasses; see the module's documentation.
        """
        if security != Security.NONE and self._credentials is None:
            raise BinanceError(None, "this endpoint needs API credentials", 0, f"{method} {path}")
        call = _Call(method, path, dict(params or {}), security, weight, orders, learns_limits)
        return await self._complete(call, response_type, None)

    def send_now(
        self,
        method: str,
        path: str,
        params: Mapping[str, ParamValue | None] | None = None,
        *,
        security: int = Security.NONE,
        weight: int = 1,
        orders: int = 0,
    ) -> SentRequest | None:
        """Write a request at once, without awaiting anything, if it can go now.

        It can when the rate limiter admits it without a wait and a connection is idle.
        Returns None otherwise, having sent and counted nothing (:meth:`request` is then the
        way; it also raises what this one does not, a missing credential for one). Once it
        returned a :class:`SentRequest`, the request is on the wire: await :meth:`answer`
        exactly once for it.
        """
        transport = self._transport
        if (
            transport is None
            or transport.is_closed
            or (security != Security.NONE and self._credentials is None)
            or self.limiter.wait_ms(weight, orders) > 0
        ):
            return None
        call = _Call(method, path, dict(params or {}), security, weight, orders, False)
        query = self._query(call)
        target = f"{path}?{query}" if query else path
        headers = self._key_header if security != Security.NONE else None
        exchange = transport.send_now(method, target, headers)
        if exchange is None:
            return None
        self.limiter.try_acquire(weight, orders)  # fits: wait_ms said so, nothing ran since
        return SentRequest(call, query, exchange)

    async def answer(self, sent: SentRequest, response_type: type[_T] = Any) -> _T:  # type: ignore[assignment]
        """Return the decoded answer of a request :meth:`send_now` wrote; what follows it
        (a retry after a 429, a clock resync) is as for :meth:`request`, which it raises as."""
        return await self._complete(sent.call, response_type, sent)

    def _query(self, call: _Call) -> str:
        query = encode_params(call.params)
        if call.security == Security.SIGNED:
            assert self._signer is not None
            # Integers: their own encoding (encode_params' output for them, built directly).
            signed = f"recvWindow={self.recv_window_ms}&timestamp={self.server_time_ms()}"
            query = self._signer.sign(f"{query}&{signed}" if query else signed)
        return query

    async def _complete(self, call: _Call, response_type: type[_T], sent: SentRequest | None) -> _T:
        method, path, security = call.method, call.path, call.security
        endpoint = f"{method} {path}"
        attempt = 0
        resynced = False
        while True:
            if sent is not None:  # the first attempt, already written
                status, headers, body = await self._receive(sent.exchange, method, path, sent.query)
                sent = None
            else:
                await self.limiter.acquire(
                    call.weight, call.orders, learns_limits=call.learns_limits
                )
                query = self._query(call)
                try:
                    status, headers, body = await self._send(method, path, query, security)
                except BinanceUnknownStatusError:
                    if method == "GET" and attempt < self.max_retries:
                        attempt += 1
                        await asyncio.sleep(0.05 * 2**attempt)
                        continue
                    raise
            self.limiter.observe(headers)
            if status < 300:
                return self._decode(body, response_type, status, endpoint)
            error = self._decode_error(body, status, endpoint)
            if status in (429, 418):
                retry_after = self._retry_after(headers)
                self.limiter.block(retry_after)
                _log.warning(
                    "%s: HTTP %d, holding requests for %g s", endpoint, status, retry_after
                )
                if status == 418:
                    raise BinanceIpBannedError(error.code, error.msg, status, endpoint, retry_after)
                if attempt < self.max_retries and retry_after <= self.max_retry_wait_s:
                    attempt += 1
                    continue
                raise BinanceRateLimitError(error.code, error.msg, status, endpoint, retry_after)
            if (
                error.code == ep.ERROR_TIMESTAMP_OUTSIDE_RECV_WINDOW
                and security == Security.SIGNED
                and not resynced
            ):
                # Refused before execution: safe to resend with a fresh timestamp.
                resynced = True
                await self.sync_time()
                continue
            if status >= 500:
                if method == "GET" and attempt < self.max_retries:
                    attempt += 1  # a read changes nothing: ask again
                    await asyncio.sleep(0.05 * 2**attempt)
                    continue
                raise BinanceUnknownStatusError(error.code, error.msg, status, endpoint)
            raise error

    async def _send(
        self, method: str, path: str, query: str, security: int
    ) -> tuple[int, Mapping[str, str], bytes]:
        if self._transport is None or self._transport.is_closed:
            await self.connect()
        assert self._transport is not None
        headers = None
        if security != Security.NONE:
            assert self._credentials is not None
            headers = self._key_header
        try:
            answer = await self._transport.request(
                method, f"{path}?{query}" if query else path, headers
            )
        except (TimeoutError, HttpTransportError, OSError) as error:
            raise _no_answer(error, method, path, query) from None
        return answer.status, answer.headers, answer.body

    async def _receive(
        self, exchange: HttpExchange, method: str, path: str, query: str
    ) -> tuple[int, Mapping[str, str], bytes]:
        assert self._transport is not None
        try:
            answer = await self._transport.receive(exchange)
        except (TimeoutError, HttpTransportError, OSError) as error:
            raise _no_answer(error, method, path, query) from None
        return answer.status, answer.headers, answer.body

    @staticmethod
    def _decode(body: bytes, response_type: type[_T], status: int, endpoint: str) -> _T:
        try:
            return msgspec.json.decode(body, type=response_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise BinanceProtocolError(
                None, f"unexpected answer: {error}", status, endpoint
            ) from None

    @staticmethod
    def _decode_error(body: bytes, status: int, endpoint: str) -> BinanceError:
        try:
            parsed = msgspec.json.decode(body, type=ErrorBody)
        except (msgspec.DecodeError, msgspec.ValidationError):
            text = body[:200].decode("utf-8", "replace").strip()
            return BinanceError(None, text or "(empty body)", status, endpoint)
        data = bytes(parsed.data) if len(parsed.data) else None
        return BinanceError(parsed.code, parsed.msg, status, endpoint, data)

    @staticmethod
    def _retry_after(headers: Mapping[str, str]) -> float:
        value = headers.get(ep.HEADER_RETRY_AFTER.lower())  # the transport's names are lower case
        if value is None:
            return _DEFAULT_RETRY_AFTER_S
        try:
            seconds = float(value)
        except ValueError:
            return _DEFAULT_RETRY_AFTER_S
        return max(0.0, seconds)

    # -- market data -----------------------------------------------------------------------

    async def server_time(self) -> int:
        """Return the venue's time in UNIX ms (``GET /api/v3/time``)."""
        answer = await self.request("GET", ep.TIME, weight=ep.WEIGHT_TIME, response_type=ServerTime)
        return answer.server_time

    async def exchange_info(
        self, symbols: Sequence[str] | None = None, *, apply_rate_limits: bool = True
    ) -> dict[str, Any]:
        """Return ``GET /api/v3/exchangeInfo``, for some symbols or all of them.

        With ``apply_rate_limits``, the limiter adopts the ``rateLimits`` the venue
        publishes (a malformed list is logged and the limits in force are kept).
        """
        params: dict[str, ParamValue | None] = {}
        if symbols:
            params["symbols"] = msgspec.json.encode(list(symbols)).decode()
        info: dict[str, Any] = await self.request(
            "GET",
            ep.EXCHANGE_INFO,
            params,
            weight=ep.WEIGHT_EXCHANGE_INFO,
            response_type=dict[str, Any],
            learns_limits=apply_rate_limits,
        )
        entries = info.get("rateLimits")
        if apply_rate_limits and isinstance(entries, list) and entries:
            try:
                limits = [RateLimit.from_exchange_info(entry) for entry in entries]
            except (ValueError, TypeError, AttributeError) as error:
                _log.warning("exchangeInfo rateLimits ignored: %s", error)
            else:
                self.limiter.set_limits(limits)
        return info

    async def depth(self, symbol: str, limit: int = 1000) -> DepthSnapshot:
        """Return the order book snapshot of ``symbol`` (``GET /api/v3/depth``)."""
        if not 1 <= limit <= 5000:
            raise ValueError(f"depth limit must be in 1..5000, got {limit}")
        return await self.request(
            "GET",
            ep.DEPTH,
            {"symbol": symbol, "limit": limit},
            weight=ep.depth_weight(limit),
            response_type=DepthSnapshot,
        )

    # -- trading ---------------------------------------------------------------------------

    async def new_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        *,
        quantity: _Decimalish | None = None,
        price: _Decimalish | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        stop_price: _Decimalish | None = None,
        quote_order_qty: _Decimalish | None = None,
        response_type: str = "RESULT",
    ) -> OrderResponse:
        """Place an order (``POST /api/v3/order``).

        ``side`` is ``BUY``/``SELL``; ``order_type`` one of Binance's (``LIMIT``,
        ``MARKET``, ``LIMIT_MAKER``, ``STOP_LOSS_LIMIT``, ...); ``response_type`` ``ACK``,
        ``RESULT`` or ``FULL``.
        """
        params = _new_order_params(
            symbol, side, order_type, quantity, price, time_in_force, client_order_id,
            stop_price, quote_order_qty, response_type,
        )  # fmt: skip
        return await self.request(
            "POST",
            ep.ORDER,
            params,
            security=Security.SIGNED,
            weight=ep.WEIGHT_NEW_ORDER,
            orders=1,
            response_type=OrderResponse,
        )

    def send_new_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        *,
        quantity: _Decimalish | None = None,
        price: _Decimalish | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        stop_price: _Decimalish | None = None,
        quote_order_qty: _Decimalish | None = None,
        response_type: str = "RESULT",
    ) -> SentRequest | None:
        """Write :meth:`new_order`'s request at once if it can go now (see :meth:`send_now`);
        its answer is ``await answer(sent, OrderResponse)``.

        The compiled writer (:mod:`zq_core.binance_request`) checks the limiter, builds,
        signs and writes the request in one call; what it does not handle (a value to
        URL-encode, a decimal as ``Decimal`` or int) goes the Python way below, which
        writes the same bytes.
        """
        writer = self._order_writer
        transport = self._transport
        if writer is not None and transport is not None:
            if writer.transport is not transport:
                frame = self._frame("POST", ep.ORDER, transport)
                writer.set_frame(transport, frame[1], frame[2])
            limiter = self.limiter
            written = writer.write_new_order(
                limiter.windows,
                None if self._limiter_on_own_clock else limiter.time_ms(),
                self.time_offset_ms,
                self.recv_window_ms,
                transport,
                symbol, side, order_type, quantity, price, time_in_force, client_order_id,
                stop_price, quote_order_qty, response_type,
                ep.WEIGHT_NEW_ORDER,
                1,
            )  # fmt: skip
            if written is None:
                return None
            if written is not NotImplemented:  # on the wire: the bookkeeping follows
                return self._sent_new_order(
                    written, symbol, side, order_type, quantity, price, time_in_force,
                    client_order_id, stop_price, response_type, quote_order_qty,
                )  # fmt: skip
        params = _new_order_params(
            symbol, side, order_type, quantity, price, time_in_force, client_order_id,
            stop_price, quote_order_qty, response_type,
        )  # fmt: skip
        query = _plain_query(params)
        if query is None:  # a value to quote: the general way
            return self.send_now(
                "POST", ep.ORDER, params, security=Security.SIGNED,
                weight=ep.WEIGHT_NEW_ORDER, orders=1,
            )  # fmt: skip
        return self._send_signed_now(
            "POST", ep.ORDER, params, query, ep.WEIGHT_NEW_ORDER, 1
        )

    @property
    def order_writer(self) -> OrderRequestWriter | None:
        """The compiled new-order writer (None without credentials): its
        ``send_new_order(self, symbol, side, order_type, quantity, price, time_in_force,
        client_order_id, stop_price, response_type)`` is :meth:`send_new_order` with no
        Python frame before the write."""
        return self._order_writer

    def _sent_new_order(
        self,
        written: tuple[bytes, HttpExchange],
        symbol: str,
        side: str,
        order_type: str,
        quantity: _Decimalish | None,
        price: _Decimalish | None,
        time_in_force: str | None,
        client_order_id: str | None,
        stop_price: _Decimalish | None,
        response_type: str,
        quote_order_qty: _Decimalish | None = None,
    ) -> SentRequest:
        """The :class:`SentRequest` of a new order the compiled writer wrote
        (``written``: its signed query and exchange)."""
        params = _new_order_params(
            symbol, side, order_type, quantity, price, time_in_force, client_order_id,
            stop_price, quote_order_qty, response_type,
        )  # fmt: skip
        call = _Call("POST", ep.ORDER, params, Security.SIGNED, ep.WEIGHT_NEW_ORDER, 1, False)
        return SentRequest(call, written[0], written[1])

    def _send_signed_now(
        self,
        method: str,
        path: str,
        params: dict[str, ParamValue | None],
        query: bytes,
        weight: int,
        orders: int,
    ) -> SentRequest | None:
        """:meth:`send_now` for a signed request whose query needs no encoding (``query``,
        from :func:`_plain_query`): the request's bytes made from its method and path's
        prebuilt head and tail, the query, the time and one HMAC over bytes."""
        transport = self._transport
        signer = self._signer
        if transport is None or signer is None or self.limiter.wait_ms(weight, orders) > 0:
            return None
        frame = self._frame(method, path, transport)
        unsigned = query + b"&recvWindow=%d&timestamp=%d" % (
            self.recv_window_ms,
            time.time_ns() // 1_000_000 + self.time_offset_ms,
        )
        signed = unsigned + b"&signature=" + signer.signature_of(unsigned)
        exchange = transport.send_bytes_now(b"".join((frame[1], signed, frame[2])))
        if exchange is None:  # closed, or no idle connection: nothing written
            return None
        self.limiter.count(weight, orders)  # it fitted: wait_ms said so, nothing ran since
        call = _Call(method, path, params, Security.SIGNED, weight, orders, False)
        return SentRequest(call, signed, exchange)

    def _frame(
        self, method: str, path: str, transport: HttpTransport
    ) -> tuple[HttpTransport, bytes, bytes]:
        """A signed request's prebuilt head (``b"POST /api/v3/order?"``) and tail
        (protocol, headers, blank line) for ``transport``."""
        frame = self._frames.get((method, path))
        if frame is None or frame[0] is not transport:
            tail = transport.request_tail(method, self._key_header)
            frame = (transport, f"{method} {path}?".encode("latin-1"), tail.encode("latin-1"))
            self._frames[(method, path)] = frame
        return frame

    @staticmethod
    def _order_ref(
        symbol: str, client_order_id: str | None, order_id: int | None
    ) -> dict[str, ParamValue | None]:
        if client_order_id is None and order_id is None:
            raise ValueError("give client_order_id or order_id")
        return {"symbol": symbol, "orderId": order_id, "origClientOrderId": client_order_id}

    async def query_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderResponse:
        """Return an order by client order id or venue id (``GET /api/v3/order``).

        Raises
        ------
        BinanceError
            With code -2013 when the venue does not know the order.
        """
        return await self.request(
            "GET",
            ep.ORDER,
            self._order_ref(symbol, client_order_id, order_id),
            security=Security.SIGNED,
            weight=ep.WEIGHT_QUERY_ORDER,
            response_type=OrderResponse,
        )

    async def cancel_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderResponse:
        """Cancel an open order (``DELETE /api/v3/order``)."""
        return await self.request(
            "DELETE",
            ep.ORDER,
            self._order_ref(symbol, client_order_id, order_id),
            security=Security.SIGNED,
            weight=ep.WEIGHT_CANCEL_ORDER,
            response_type=OrderResponse,
        )

    async def cancel_replace_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        *,
        cancel_client_order_id: str | None = None,
        cancel_order_id: int | None = None,
        mode: str = "STOP_ON_FAILURE",
        quantity: _Decimalish | None = None,
        price: _Decimalish | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        cancel_new_client_order_id: str | None = None,
        response_type: str = "RESULT",
    ) -> CancelReplaceResult:
        """Cancel an order and place a new one in one request: Binance spot's modify.

        ``mode`` ``STOP_ON_FAILURE`` places nothing if the cancel fails;
        ``ALLOW_FAILURE`` places the new order anyway.

        Raises
        ------
        BinanceCancelReplaceError
            With ``result`` when a half failed (-2021) or both did (-2022).
        """
        if cancel_client_order_id is None and cancel_order_id is None:
            raise ValueError("give cancel_client_order_id or cancel_order_id")
        params: dict[str, ParamValue | None] = {
            "symbol": symbol,
            "side": side,
            "type": order_type,
            "cancelReplaceMode": mode,
            "timeInForce": time_in_force,
            "quantity": _decimal_text(quantity),
            "price": _decimal_text(price),
            "cancelOrderId": cancel_order_id,
            "cancelOrigClientOrderId": cancel_client_order_id,
            "cancelNewClientOrderId": cancel_new_client_order_id,
            "newClientOrderId": client_order_id,
            "newOrderRespType": response_type,
        }
        try:
            return await self.request(
                "POST",
                ep.CANCEL_REPLACE,
                params,
                security=Security.SIGNED,
                weight=ep.WEIGHT_CANCEL_REPLACE,
                orders=1,
                response_type=CancelReplaceResult,
            )
        except BinanceError as error:
            codes = (ep.ERROR_CANCEL_REPLACE_PARTIAL, ep.ERROR_CANCEL_REPLACE_FAILED)
            if error.code not in codes or error.data is None:
                raise
            result = self._decode(error.data, CancelReplaceResult, error.status, error.endpoint)
            raise BinanceCancelReplaceError(
                error.code, error.msg, error.status, error.endpoint, result
            ) from None

    async def cancel_open_orders(self, symbol: str) -> list[OrderResponse]:
        """Cancel every open order of ``symbol`` (``DELETE /api/v3/openOrders``).

        Returns the canceled orders (entries for order lists, which have no single
        order id, are left out).
        """
        entries = await self.request(
            "DELETE",
            ep.OPEN_ORDERS,
            {"symbol": symbol},
            security=Security.SIGNED,
            weight=ep.WEIGHT_CANCEL_OPEN_ORDERS,
            response_type=list[dict[str, Any]],
        )
        try:
            return [msgspec.convert(e, OrderResponse) for e in entries if "orderId" in e]
        except msgspec.ValidationError as error:
            raise BinanceProtocolError(
                None, f"unexpected answer: {error}", 200, f"DELETE {ep.OPEN_ORDERS}"
            ) from None

    async def all_orders(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[OrderResponse]:
        """Return the account's orders of ``symbol``, open or not (``GET /api/v3/allOrders``).

        From ``order_id`` (inclusive) or ``start_time`` on, the oldest ``limit``; otherwise
        the most recent ``limit``.
        """
        if not 1 <= limit <= 1000:
            raise ValueError(f"allOrders limit must be in 1..1000, got {limit}")
        return await self.request(
            "GET",
            ep.ALL_ORDERS,
            {
                "symbol": symbol,
                "orderId": order_id,
                "startTime": start_time,
                "endTime": end_time,
                "limit": limit,
            },
            security=Security.SIGNED,
            weight=ep.WEIGHT_ALL_ORDERS,
            response_type=list[OrderResponse],
        )

    async def open_orders(self, symbol: str | None = None) -> list[OrderResponse]:
        """Return the open orders, of one symbol or all (``GET /api/v3/openOrders``)."""
        return await self.request(
            "GET",
            ep.OPEN_ORDERS,
            {"symbol": symbol},
            security=Security.SIGNED,
            weight=ep.open_orders_weight(symbol),
            response_type=list[OrderResponse],
        )

    async def my_trades(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[AccountTrade]:
        """Return the account's trades of ``symbol`` (``GET /api/v3/myTrades``)."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"myTrades limit must be in 1..1000, got {limit}")
        return await self.request(
            "GET",
            ep.MY_TRADES,
            {
                "symbol": symbol,
                "orderId": order_id,
                "fromId": from_id,
                "startTime": start_time,
                "endTime": end_time,
                "limit": limit,
            },
            security=Security.SIGNED,
            weight=ep.WEIGHT_MY_TRADES,
            response_type=list[AccountTrade],
        )

    async def account(self) -> Account:
        """Return the account's balances and permissions (``GET /api/v3/account``)."""
        return await self.request(
            "GET",
            ep.ACCOUNT,
            security=Security.SIGNED,
            weight=ep.WEIGHT_ACCOUNT,
            response_type=Account,
        )

    # -- user data stream ------------------------------------------------------------------

    async def create_listen_key(self) -> str:
        """Open a user data stream and return its listenKey (valid 60 minutes)."""
        answer = await self.request(
            "POST",
            ep.USER_DATA_STREAM,
            security=Security.API_KEY,
            weight=ep.WEIGHT_LISTEN_KEY,
            response_type=ListenKey,
        )
        return answer.listen_key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        """Extend a listenKey's validity by 60 minutes."""
        await self.request(
            "PUT",
            ep.USER_DATA_STREAM,
            {"listenKey": listen_key},
            security=Security.API_KEY,
            weight=ep.WEIGHT_LISTEN_KEY,
            response_type=dict[str, Any],
        )

    async def close_listen_key(self, listen_key: str) -> None:
        """Close a user data stream."""
        await self.request(
            "DELETE",
            ep.USER_DATA_STREAM,
            {"listenKey": listen_key},
            security=Security.API_KEY,
            weight=ep.WEIGHT_LISTEN_KEY,
            response_type=dict[str, Any],
        )
