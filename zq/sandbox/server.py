"""``SandboxVenue``: an aiohttp server speaking Binance spot REST (api/v3) and WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import unquote_plus

import msgspec
from aiohttp import WSMsgType, web

from zq.sandbox import endpoints, errors
from zq.sandbox.config import VenueConfig
from zq.sandbox.errors import BinanceError
from zq.sandbox.exchange import (
    ORDER_TYPES,
    SIDES,
    TIME_IN_FORCES,
    Account,
    SandboxExchange,
    format_decimal,
    now_ms,
)
from zq.sandbox.faults import FaultInjector
from zq.sandbox.limits import RateLimiter
from zq.sandbox.market import GeneratedMarket, ReplayMarket
from zq.sandbox.streams import Connection, StreamHub, parse_stream

__all__ = ["SandboxVenue"]

_log = logging.getLogger("zq.sandbox")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_encode = msgspec.json.Encoder().encode

# How Binance spells a decimal parameter (no sign, no exponent).
_DECIMAL: Final = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_UNSUPPORTED_TYPES: Final = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_RESPONSE_TYPES: Final = ("ACK", "RESULT", "FULL")
_DEFAULT_RECV_WINDOW: Final = 5000


@dataclass(frozen=True, slots=True)
class _OrderRequest:
    """The checked parameters of a new order."""

    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str | None
    client_order_id: str | None
    response_type: str

# What the middleware read of a request: its parameters, and the raw query and body signed.
_PARAMS: Final = web.RequestKey("zq_sandbox_params", dict[str, str])
_RAW: Final = web.RequestKey("zq_sandbox_raw", tuple[str, str])


def _without_signature(raw: str) -> str:
    # The signed payload is the parameters as sent, less the signature itself.
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def _parse_params(text: str) -> list[tuple[str, str]]:
    """Return ``parse_qsl(text, keep_blank_values=True)``, quicker for plain parameters.

    A name or value without ``%`` or ``+`` is its own decoding; only the others go through
    ``unquote_plus``.
    """
    pairs: list[tuple[str, str]] = []
    if not text:
        return pairs
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        pairs.append((name, value))
    return pairs


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(data), status=status, content_type="application/json")


class SandboxVenue:
    """A local Binance-spot-protocol exchange on loopback.

    Parameters
    ----------
    config : VenueConfig, optional
        Symbols, accounts, limits, market source and faults (defaults: BTCUSDT, one
        account, a generated market, no faults, a free port on 127.0.0.1).

    Examples
    --------
    >>> async def main():
    ...     async with SandboxVenue() as venue:
    ...         print(venue.url)
    """

    def __init__(self, config: VenueConfig | None = None) -> None:
        self.config = config if config is not None else VenueConfig()
        self.faults = FaultInjector(self.config.faults)
        self.exchange = SandboxExchange(self.config.symbols, self.config.accounts)
        self.hub = StreamHub(self.exchange, self.faults, self.config.listen_key_ttl)
        self.exchange.listener = self.hub
        self.limiter = RateLimiter(self.config)
        self._macs: dict[str, hmac.HMAC] = {}
        self.market: GeneratedMarket | ReplayMarket | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: The task moving the market (None for a manual market); it ends with the error
        #: of a replay that cannot go on.
        self.market_task: asyncio.Task[None] | None = None
        market = self.config.market
        if market.kind == "generated":
            self.market = GeneratedMarket(
                self.exchange, market.start_price, market.levels, market.seed
            )
        elif market.kind == "replay":
            if market.path is None:
                raise ValueError("a replay market needs a path")
            symbol = market.symbol or self.config.symbols[0].symbol
            self.market = ReplayMarket(
                self.exchange, market.path, symbol, market.speed, market.loop
            )

    # --- Lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL, ``http://host:port``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket base URL, ``ws://host:port`` (streams at /ws/... and /stream)."""
        return f"ws://{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Listen (on the configured port, or a free one) and start the market."""
        app = web.Application(middlewares=[self._middleware])
        routes = [
            web.get(endpoints.PING, self._ping),
            web.get(endpoints.TIME, self._time),
            web.get(endpoints.EXCHANGE_INFO, self._exchange_info),
            web.get(endpoints.DEPTH, self._depth),
            web.post(endpoints.ORDER, self._new_order),
            web.get(endpoints.ORDER, self._query_order),
            web.delete(endpoints.ORDER, self._cancel_order),
            web.get(endpoints.OPEN_ORDERS, self._open_orders),
            web.delete(endpoints.OPEN_ORDERS, self._cancel_open_orders),
            web.get(endpoints.ALL_ORDERS, self._all_orders),
            web.post(endpoints.CANCEL_REPLACE, self._cancel_replace),
            web.get(endpoints.MY_TRADES, self._my_trades),
            web.get(endpoints.ACCOUNT, self._account),
            web.post(endpoints.USER_DATA_STREAM, self._new_listen_key),
            web.put(endpoints.USER_DATA_STREAM, self._keep_alive),
            web.delete(endpoints.USER_DATA_STREAM, self._close_listen_key),
            web.get(endpoints.STREAM_RAW, self._ws_raw),
            web.get(endpoints.STREAM_COMBINED, self._ws_combined),
        ]
        if self.config.admin:
            routes += [
                web.get(endpoints.FAULTS, self._get_faults),
                web.post(endpoints.FAULTS, self._set_faults),
                web.post(endpoints.MARKET_STEP, self._step_market),
            ]
        app.add_routes(routes)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        sockets: Any = getattr(site._server, "sockets", None)
        if not sockets:
            raise RuntimeError(f"the sandbox venue could not listen on {self.config.host}")
        self.port = int(sockets[0].getsockname()[1])
        self._tasks = [
            asyncio.create_task(self._depth_timer(), name="sandbox-depth"),
            asyncio.create_task(self._housekeeping(), name="sandbox-housekeeping"),
        ]
        market: Coroutine[Any, Any, None] | None = None
        if isinstance(self.market, GeneratedMarket):
            market = self.market.run(self.config.market.interval)
        elif isinstance(self.market, ReplayMarket) and not self.config.market.paused:
            market = self.market.run()
        if market is not None:
            self.market_task = asyncio.create_task(market, name="sandbox-market")
            self.market_task.add_done_callback(self._market_done)
            self._tasks.append(self.market_task)

    @staticmethod
    def _market_done(task: asyncio.Task[None]) -> None:
        # A market that fails (a bad capture line) stops moving: say so, with the cause.
        if not task.cancelled() and task.exception() is not None:
            _log.error("the sandbox market stopped: %s", task.exception())

    async def stop(self) -> None:
        """Stop the market, close every connection and the listening socket."""
        # A task already done (a market that failed) was reported by its callback.
        running = [task for task in self._tasks if not task.done()]
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.hub.disconnect_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- Python API -----------------------------------------------------------------------------

    def set_levels(
        self,
        symbol: str,
        bids: Sequence[tuple[Decimal, Decimal]] = (),
        asks: Sequence[tuple[Decimal, Decimal]] = (),
    ) -> int:
        """Set market levels of ``symbol`` to absolute sizes (0 removes); return the update id."""
        return self.exchange.set_levels(symbol, bids, asks)

    def trade(self, symbol: str, price: Decimal, qty: Decimal, buyer_is_maker: bool) -> None:
        """Print a market trade on ``symbol``; resting orders at or through it may fill."""
        self.exchange.trade(symbol, price, qty, buyer_is_maker)

    def account(self, api_key: str) -> Account:
        """Return an account by API key."""
        return self.exchange.accounts[api_key]

    # --- Background tasks -----------------------------------------------------------------------

    async def _depth_timer(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            self.hub.flush_depth()

    async def _housekeeping(self) -> None:
        last_disconnect = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            await self.hub.expire_listen_keys()
            every = self.faults.config.disconnect_every
            now = time.monotonic()
            if every <= 0:
                last_disconnect = now
            elif now - last_disconnect >= every:
                last_disconnect = now
                # Counted before closing: a client may see the close before it completes.
                self.faults.counts["disconnects"] += len(self.hub.connections)
                await self.hub.disconnect_all()

    # --- Middleware: faults, weights, errors ----------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        faults = self.faults
        if faults.strikes("rate_limit", "rate_limited"):
            error = BinanceError(
                errors.TOO_MANY_REQUESTS, "Too many requests queued.", retry_after=1
            )
            return self._error_response(error)
        if faults.strikes("drop_before", "dropped_before"):
            self._drop(request)
        ip = request.remote or "unknown"
        try:
            params = await self._read_params(request)
            weight = endpoints.WEIGHTS.get((request.method, request.path), 1)
            if request.path == endpoints.DEPTH:
                weight = endpoints.depth_weight(self._int(params, "limit", 100))
            elif request.path == endpoints.OPEN_ORDERS and request.method == "GET":
                weight = endpoints.open_orders_weight(bool(params.get("symbol")))
            self.limiter.charge(ip, weight)
            response = await handler(request)
        except BinanceError as error:
            response = self._error_response(error)
        except web.HTTPException:
            raise
        except Exception:
            # A defect of the venue: answered as Binance answers its own (-1000, HTTP 500).
            _log.exception("sandbox venue: %s %s failed", request.method, request.path)
            response = self._error_response(
                BinanceError(
                    errors.UNKNOWN,
                    "An unknown error occurred while processing the request.",
                    status=500,
                )
            )
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(self.limiter.used_weight(ip))
        if faults.strikes("drop_after", "dropped_after"):
            self._drop(request)
        if faults.strikes("delay", "delayed"):
            await asyncio.sleep(faults.config.delay_seconds)
        return response

    @staticmethod
    def _drop(request: web.Request) -> None:
        # Close the connection without an answer: the client cannot tell what happened.
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable()

    @staticmethod
    def _error_response(error: BinanceError) -> web.Response:
        response = _json(error.payload(), error.status)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, str]:
        # Query string and url-encoded body; a name in both takes the query's value.
        query = request.raw_path.partition("?")[2]
        body = ""
        if request.method in ("POST", "PUT", "DELETE") and request.can_read_body:
            body = (await request.read()).decode("utf-8", errors="replace")
        params = dict(_parse_params(body))
        params.update(_parse_params(query))
        request[_RAW] = (query, body)
        request[_PARAMS] = params
        return params

    # --- Parameters -----------------------------------------------------------------------------

    @staticmethod
    def _str(params: dict[str, str], name: str) -> str:
        value = params.get(name)
        if not value:
            raise BinanceError.mandatory(name)
        return value

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int | None = None) -> int:
        value = params.get(name)
        if value is None or value == "":
            if default is None:
                raise BinanceError.mandatory(name)
            return default
        try:
            return int(value)
        except ValueError:
            raise BinanceError.illegal(name, value) from None

    @staticmethod
    def _optional_int(params: dict[str, str], name: str) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise BinanceError.illegal(name, value) from None

    @staticmethod
    def _decimal(params: dict[str, str], name: str) -> Decimal:
        value = params.get(name)
        if not value:
            raise BinanceError.mandatory(name)
        if not _DECIMAL.match(value):
            raise BinanceError(
                errors.ILLEGAL_CHARS,
                f"Illegal characters found in parameter '{name}'; legal range is "
                f"'{_DECIMAL.pattern}'.",
            )
        return Decimal(value)

    def _authenticate(self, request: web.Request, *, signed: bool = True) -> Account:
        """Check the API key (and for signed endpoints the signature and timestamp)."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(errors.API_KEY_FORMAT, "API-key format invalid.")
        account = self.exchange.accounts.get(key)
        if account is None:
            raise BinanceError(
                errors.INVALID_API_KEY, "Invalid API-key, IP, or permissions for action."
            )
        if not signed:
            return account
        params: dict[str, str] = request[_PARAMS]
        signature = self._str(params, "signature")
        timestamp = self._int(params, "timestamp")
        query, body = request[_RAW]
        payload = _without_signature(query) + _without_signature(body)
        keyed = self._macs.get(account.api_key)
        if keyed is None:
            keyed = self._macs[account.api_key] = hmac.new(
                account.config.secret.encode(), digestmod=hashlib.sha256
            )
        mac = keyed.copy()  # the key's state is computed once per account
        mac.update(payload.encode())
        expected = mac.hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(errors.INVALID_SIGNATURE, "Signature for this request is not valid.")
        recv_window = self._int(params, "recvWindow", _DEFAULT_RECV_WINDOW)
        if not 0 < recv_window <= self.config.max_recv_window:
            raise BinanceError(
                errors.BAD_RECV_WINDOW,
                f"recvWindow must be less than {self.config.max_recv_window}.",
            )
        now = now_ms()
        if timestamp >= now + 1000:
            raise BinanceError(
                errors.INVALID_TIMESTAMP,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if now - timestamp > recv_window:
            raise BinanceError(
                errors.INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
            )
        return account

    # --- Public endpoints -----------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return _json({})

    async def _time(self, request: web.Request) -> web.Response:
        return _json({"serverTime": now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        params: dict[str, str] = request[_PARAMS]
        names = list(self.exchange.symbols)
        if params.get("symbol"):
            names = [params["symbol"]]
        elif params.get("symbols"):
            try:
                names = [str(name) for name in json.loads(params["symbols"])]
            except (ValueError, TypeError):
                raise BinanceError.illegal("symbols", params["symbols"]) from None
        symbols = [self._symbol_info(self.exchange.symbol(name).config) for name in names]
        return _json(
            {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": self.config.weight_limit,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": self.config.orders_per_10s,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "DAY",
                        "intervalNum": 1,
                        "limit": self.config.orders_per_day,
                    },
                ],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    @staticmethod
    def _symbol_info(config: Any) -> dict[str, Any]:
        notional: dict[str, Any]
        if config.notional_filter == "NOTIONAL":
            notional = {
                "filterType": "NOTIONAL",
                "minNotional": format_decimal(config.min_notional),
                "applyMinToMarket": True,
                "maxNotional": format_decimal(config.max_notional),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            }
        else:
            notional = {
                "filterType": "MIN_NOTIONAL",
                "minNotional": format_decimal(config.min_notional),
                "applyToMarket": True,
                "avgPriceMins": 5,
            }
        return {
            "symbol": config.symbol,
            "status": "TRADING",
            "baseAsset": config.base_asset,
            "baseAssetPrecision": 8,
            "quoteAsset": config.quote_asset,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": False,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": format_decimal(config.min_price),
                    "maxPrice": format_decimal(config.max_price),
                    "tickSize": format_decimal(config.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": format_decimal(config.min_qty),
                    "maxQty": format_decimal(config.max_qty),
                    "stepSize": format_decimal(config.step_size),
                },
                notional,
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"],
        }

    async def _depth(self, request: web.Request) -> web.Response:
        params: dict[str, str] = request[_PARAMS]
        state = self.exchange.symbol(self._str(params, "symbol"))
        limit = self._int(params, "limit", 100)
        if not 1 <= limit <= 5000:
            raise BinanceError.illegal("limit", str(limit))
        return _json(
            {
                "lastUpdateId": state.update_id,
                "bids": [
                    [format_decimal(p), format_decimal(q)] for p, q in state.levels(1, limit)
                ],
                "asks": [
                    [format_decimal(p), format_decimal(q)] for p, q in state.levels(2, limit)
                ],
            }
        )

    # --- Signed endpoints -----------------------------------------------------------------------

    def _order_request(self, params: dict[str, str]) -> _OrderRequest:
        """Read and check the new-order parameters (no state is touched)."""
        symbol = self._str(params, "symbol")
        self.exchange.symbol(symbol)
        side = self._str(params, "side")
        if side not in SIDES:
            raise BinanceError(errors.INVALID_SIDE, "Invalid side.")
        order_type = self._str(params, "type")
        if order_type in _UNSUPPORTED_TYPES:
            raise BinanceError(errors.UNSUPPORTED_OPERATION, "This operation is not supported.")
        if order_type not in ORDER_TYPES:
            raise BinanceError(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        if params.get("quoteOrderQty"):
            raise BinanceError(errors.UNSUPPORTED_OPERATION, "This operation is not supported.")
        for name in ("stopPrice", "icebergQty", "trailingDelta"):
            if params.get(name):
                raise BinanceError(
                    errors.NOT_REQUIRED, f"Parameter '{name}' sent when not required."
                )
        quantity = self._decimal(params, "quantity")
        price: Decimal | None = None
        time_in_force: str | None = None
        if order_type == "LIMIT":
            time_in_force = self._str(params, "timeInForce")
            if time_in_force not in TIME_IN_FORCES:
                raise BinanceError(errors.INVALID_TIF, "Invalid timeInForce.")
            price = self._decimal(params, "price")
        else:
            if params.get("timeInForce"):
                raise BinanceError(
                    errors.NOT_REQUIRED, "Parameter 'timeInForce' sent when not required."
                )
            if order_type == "LIMIT_MAKER":
                price = self._decimal(params, "price")
            elif params.get("price"):
                raise BinanceError(errors.NOT_REQUIRED, "Parameter 'price' sent when not required.")
        response_type = params.get("newOrderRespType") or "FULL"
        if response_type not in _RESPONSE_TYPES:
            raise BinanceError.illegal("newOrderRespType", response_type)
        return _OrderRequest(
            symbol,
            side,
            order_type,
            quantity,
            price,
            time_in_force,
            params.get("newClientOrderId") or None,
            response_type,
        )

    def _place(self, account: Account, order: _OrderRequest) -> tuple[dict[str, Any], int, int]:
        """Count and place an order; return its response body and the order counts."""
        count_10s, count_day = self.limiter.count_order(account.api_key)
        placed = self.exchange.new_order(
            account,
            order.symbol,
            order.side,
            order.order_type,
            order.quantity,
            order.price,
            order.time_in_force,
            order.client_order_id,
        )
        return placed.to_new_order_response(order.response_type), count_10s, count_day

    @staticmethod
    def _with_counts(response: web.Response, count_10s: int, count_day: int) -> web.Response:
        response.headers["X-MBX-ORDER-COUNT-10S"] = str(count_10s)
        response.headers["X-MBX-ORDER-COUNT-1D"] = str(count_day)
        return response

    async def _new_order(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        body, count_10s, count_day = self._place(account, self._order_request(request[_PARAMS]))
        return self._with_counts(_json(body), count_10s, count_day)

    async def _cancel_replace(self, request: web.Request) -> web.Response:
        # Cancel an order and place a new one in one request (Binance's way to modify).
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        mode = self._str(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceError.illegal("cancelReplaceMode", mode)
        order = self._order_request(params)
        cancel_id = self._optional_int(params, "cancelOrderId")
        cancel_client_id = params.get("cancelOrigClientOrderId") or None
        if cancel_id is None and cancel_client_id is None:
            raise BinanceError(
                errors.MANDATORY_PARAM,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                "but both were empty/null!",
            )
        # Filters and the order count are checked before the cancel, as on Binance.
        self.exchange.check_filters(
            order.symbol, order.side, order.order_type, order.quantity, order.price
        )
        counts = self.limiter.count_order(account.api_key)
        cancel: dict[str, Any]
        new: dict[str, Any] | None = None
        try:
            cancel = self.exchange.cancel_order(
                account,
                order.symbol,
                cancel_id,
                cancel_client_id,
                params.get("cancelNewClientOrderId") or None,
            )
            cancel_result = "SUCCESS"
        except BinanceError as error:
            cancel, cancel_result = error.payload(), "FAILURE"
        if cancel_result == "FAILURE" and mode == "STOP_ON_FAILURE":
            new_result = "NOT_ATTEMPTED"
        else:
            try:
                placed = self.exchange.new_order(
                    account,
                    order.symbol,
                    order.side,
                    order.order_type,
                    order.quantity,
                    order.price,
                    order.time_in_force,
                    order.client_order_id,
                )
                new = placed.to_new_order_response(order.response_type)
                new_result = "SUCCESS"
            except BinanceError as error:
                new, new_result = error.payload(), "FAILURE"
        data = {
            "cancelResult": cancel_result,
            "newOrderResult": new_result,
            "cancelResponse": cancel,
            "newOrderResponse": new,
        }
        if cancel_result == new_result == "SUCCESS":
            return self._with_counts(_json(data), *counts)
        if "SUCCESS" in (cancel_result, new_result):
            body = {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data}
            return _json(body, status=409)
        body = {"code": -2022, "msg": "Order cancel-replace failed.", "data": data}
        return _json(body, status=400)

    def _order_ids(self, params: dict[str, str]) -> tuple[int | None, str | None]:
        order_id = self._optional_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(
                errors.MANDATORY_PARAM,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return order_id, client_id

    async def _query_order(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        symbol = self._str(params, "symbol")
        order_id, client_id = self._order_ids(params)
        return _json(self.exchange.query_order(account, symbol, order_id, client_id).to_json())

    async def _cancel_order(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        symbol = self._str(params, "symbol")
        order_id, client_id = self._order_ids(params)
        return _json(
            self.exchange.cancel_order(
                account, symbol, order_id, client_id, params.get("newClientOrderId") or None
            )
        )

    async def _open_orders(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        symbol = params.get("symbol") or None
        if symbol is not None:
            self.exchange.symbol(symbol)
        return _json([order.to_json() for order in account.open_orders(symbol)])

    async def _all_orders(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        symbol = self._str(params, "symbol")
        self.exchange.symbol(symbol)
        limit = self._int(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise BinanceError.illegal("limit", str(limit))
        from_id = self._optional_int(params, "orderId")
        start = self._optional_int(params, "startTime")
        end = self._optional_int(params, "endTime")
        orders = [
            order
            for (name, order_id), order in account.orders.items()
            if name == symbol
            and (from_id is None or order_id >= from_id)
            and (start is None or order.time >= start)
            and (end is None or order.time <= end)
        ]
        # From a starting point: the oldest ``limit``; otherwise the most recent.
        chosen = orders[:limit] if from_id is not None or start is not None else orders[-limit:]
        return _json([order.to_json() for order in chosen])

    async def _cancel_open_orders(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        return _json(self.exchange.cancel_open_orders(account, self._str(params, "symbol")))

    async def _my_trades(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        params: dict[str, str] = request[_PARAMS]
        symbol = self._str(params, "symbol")
        limit = self._int(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise BinanceError.illegal("limit", str(limit))
        trades = self.exchange.my_trades(
            account,
            symbol,
            order_id=self._optional_int(params, "orderId"),
            start_time=self._optional_int(params, "startTime"),
            end_time=self._optional_int(params, "endTime"),
            from_id=self._optional_int(params, "fromId"),
            limit=limit,
        )
        return _json([trade.to_json() for trade in trades])

    async def _account(self, request: web.Request) -> web.Response:
        account = self._authenticate(request)
        return _json(account.to_json())

    async def _new_listen_key(self, request: web.Request) -> web.Response:
        account = self._authenticate(request, signed=False)
        return _json({"listenKey": self.hub.create_listen_key(account.api_key)})

    async def _keep_alive(self, request: web.Request) -> web.Response:
        account = self._authenticate(request, signed=False)
        key = self._str(request[_PARAMS], "listenKey")
        if not self.hub.keep_alive(key, account.api_key):
            raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return _json({})

    async def _close_listen_key(self, request: web.Request) -> web.Response:
        account = self._authenticate(request, signed=False)
        key = self._str(request[_PARAMS], "listenKey")
        if not self.hub.close_listen_key(key, account.api_key):
            raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return _json({})

    # --- WebSockets -----------------------------------------------------------------------------

    async def _ws_raw(self, request: web.Request) -> web.StreamResponse:
        names = [name for name in request.match_info["streams"].split("/") if name]
        return await self._serve_ws(request, names, combined=False)

    async def _ws_combined(self, request: web.Request) -> web.StreamResponse:
        names = [name for name in request.query.get("streams", "").split("/") if name]
        return await self._serve_ws(request, names, combined=True)

    def _check_stream(self, name: str) -> bool:
        return (
            parse_stream(name, set(self.exchange.symbols)) is not None
            or self.hub.listen_key_account(name) is not None
        )

    async def _serve_ws(
        self, request: web.Request, names: list[str], *, combined: bool
    ) -> web.StreamResponse:
        bad = [name for name in names if not self._check_stream(name)]
        if bad:
            return _json({"code": -1121, "msg": f"Invalid stream(s) {bad}."}, status=400)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = Connection(ws, combined)
        self.hub.add(connection)
        for name in names:
            self.hub.subscribe(connection, name)
        writer = asyncio.create_task(connection.write())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reply = self._ws_request(connection, message.data)
                    connection.queue.put_nowait(_encode(reply))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.hub.remove(connection)
            await writer
        return ws

    def _ws_request(self, connection: Connection, text: str) -> dict[str, Any]:
        # SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS, as Binance's stream servers take them.
        try:
            request = json.loads(text)
            method = request["method"]
            request_id = request.get("id")
            params = request.get("params", [])
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(connection.streams), "id": request_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            return {"error": {"code": 2, "msg": f"Invalid request: {method!r}"}, "id": request_id}
        for name in params:
            if not isinstance(name, str) or not self._check_stream(name):
                return {
                    "error": {"code": 2, "msg": f"Invalid request: unknown stream {name!r}"},
                    "id": request_id,
                }
        for name in params:
            if method == "SUBSCRIBE":
                self.hub.subscribe(connection, name)
            else:
                self.hub.unsubscribe(connection, name)
        return {"result": None, "id": request_id}

    # --- Admin ----------------------------------------------------------------------------------

    async def _get_faults(self, request: web.Request) -> web.Response:
        return _json(self.faults.to_json())

    async def _step_market(self, request: web.Request) -> web.Response:
        # Move a paused replay: {"trades": n} (up to and including the n-th next trade, the
        # default is 1) or {"events": n}; answer where the market is.
        market = self.market
        if not isinstance(market, ReplayMarket) or not self.config.market.paused:
            return _json({"error": "the market is not a paused replay"}, status=409)
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict) or not set(body) <= {"trades", "events"} or len(body) > 1:
                raise ValueError('the body must be {"trades": n} or {"events": n}')
            unit, count = next(iter(body.items()), ("trades", 1))
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError(f"{unit} must be a positive integer, got {count!r}")
        except ValueError as error:
            return _json({"error": str(error)}, status=400)
        move = market.step_through_trade if unit == "trades" else market.step
        for _ in range(count):
            if move() is None:
                break
        return _json(
            {"events": market.events, "last_ts": market.last_ts, "finished": market.finished}
        )

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of switch: value")
            self.faults.update(**changes)
        except (ValueError, TypeError) as error:
            return _json({"error": str(error)}, status=400)
        return _json(self.faults.to_json())
