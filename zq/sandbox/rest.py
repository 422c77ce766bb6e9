"""The venue's REST API (Binance spot api/v3), independent of the HTTP server that carries it.

:meth:`RestApi.handle` takes a request's method, path, raw query and body, API key and client
address, and returns an :class:`Answer`: status, JSON body and the headers Binance sends, or
what a fault switch decided (drop the connection, hold the answer). Everything is synchronous:
the HTTP server (``zq.sandbox.protocol``, or aiohttp for what that one hands over) writes the
answer in the same turn of the event loop that read the request.

The fault switches are drawn in one order, request by request, so a seeded run repeats:
``rate_limit`` (answered at once), ``drop_before`` (the request is not acted on), then the
request, ``drop_after`` (acted on, the answer lost) and ``delay``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, NamedTuple
from urllib.parse import unquote_plus

import msgspec

from zq.sandbox import endpoints, errors
from zq.sandbox.config import VenueConfig
from zq.sandbox.errors import BinanceError
from zq.sandbox.exchange import (
    ORDER_TYPES,
    SIDES,
    TIME_IN_FORCES,
    Account,
    Order,
    SandboxExchange,
    format_decimal,
    now_ms,
)
from zq.sandbox.faults import FaultInjector
from zq.sandbox.limits import RateLimiter
from zq.sandbox.streams import StreamHub

__all__ = ["Answer", "ApiRequest", "RestApi", "parse_params"]

_log = logging.getLogger("zq.sandbox")

_encode = msgspec.json.Encoder().encode

# How Binance spells a decimal parameter (no sign, no exponent).
_DECIMAL: Final = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_UNSUPPORTED_TYPES: Final = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_RESPONSE_TYPES: Final = ("ACK", "RESULT", "FULL")
_DEFAULT_RECV_WINDOW: Final = 5000
_SIGNATURE: Final = "signature="
_API_PREFIX: Final = "/api/"
_SHA256_BLOCK: Final = 64

JSON_TYPE: Final = "application/json; charset=utf-8"
TEXT_TYPE: Final = "text/plain; charset=utf-8"


class Answer:
    """What to send back for one request.

    ``headers`` are the ones besides Content-Type and Content-Length (the X-MBX-* counters,
    Retry-After, Allow). ``drop`` means close the connection without an answer; ``delay`` is
    how long to hold the answer (seconds, 0 for none).
    """

    __slots__ = ("body", "content_type", "delay", "drop", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = JSON_TYPE,
    ) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.content_type = content_type
        self.drop = False
        self.delay = 0.0


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status, _encode(data))


def _dropped() -> Answer:
    answer = Answer(0, b"")
    answer.drop = True
    return answer


def _error(error: BinanceError) -> Answer:
    answer = _json(error.payload(), error.status)
    if error.retry_after is not None:
        answer.headers.append(("Retry-After", str(error.retry_after)))
    return answer


class ApiRequest:
    """One REST request as the API reads it: parameters from the query and the body (a name
    in both takes the query's value), and the raw query and body the signature covers."""

    __slots__ = ("api_key", "body", "ip", "method", "params", "path", "query")

    def __init__(
        self, method: str, path: str, query: str, body: str, api_key: str | None, ip: str
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.api_key = api_key
        self.ip = ip
        params = _params(query)
        if body:
            params = {**_params(body), **params}
        self.params = params


def _params(text: str) -> dict[str, str]:
    # parse_params as a dict (a repeated name keeps its last value); plain text (no escapes,
    # the usual case) is split without looking at each part twice.
    if "%" in text or "+" in text:
        return dict(parse_params(text))
    params: dict[str, str] = {}
    for part in text.split("&"):
        name, _, value = part.partition("=")
        if name:
            params[name] = value
    return params


def parse_params(text: str) -> list[tuple[str, str]]:
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


def _without_signature(raw: str) -> str:
    # The signed payload is the parameters as sent, less the signature itself. Clients put
    # it last: then the payload is what precedes it.
    at = raw.rfind(_SIGNATURE)
    if at > 0 and raw[at - 1] == "&" and "&" not in raw[at:]:
        return raw[: at - 1]
    return "&".join(part for part in raw.split("&") if part and not part.startswith(_SIGNATURE))


def _hmac_pads(secret: bytes) -> tuple[Any, Any]:
    # RFC 2104: the inner and outer hash states after (key XOR ipad) and (key XOR opad).
    if len(secret) > _SHA256_BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in secret))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in secret))
    return inner, outer


class _OrderRequest(NamedTuple):
    """The checked parameters of a new order (a tuple: made once per order, cheaply)."""

    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str | None
    client_order_id: str | None
    response_type: str


# --- Parameters ---------------------------------------------------------------------------------


def _str(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceError.mandatory(name)
    return value


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


def _optional_int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BinanceError.illegal(name, value) from None


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


_Route = Callable[[ApiRequest], Answer]


class RestApi:
    """The REST endpoints of a venue: faults, limits, authentication, the handlers.

    Parameters
    ----------
    exchange : SandboxExchange
        Orders, accounts and books.
    hub : StreamHub
        listenKeys of the user data streams.
    limiter : RateLimiter
        Request weights and order counts.
    faults : FaultInjector
        The fault switches.
    config : VenueConfig
        The largest ``recvWindow`` taken and the limits exchangeInfo shows.
    """

    def __init__(
        self,
        exchange: SandboxExchange,
        hub: StreamHub,
        limiter: RateLimiter,
        faults: FaultInjector,
        config: VenueConfig,
    ) -> None:
        self.exchange = exchange
        self.hub = hub
        self.limiter = limiter
        self.faults = faults
        self.config = config
        self._pads: dict[str, tuple[Any, Any]] = {}
        self.routes: dict[tuple[str, str], _Route] = {
            ("GET", endpoints.PING): self._ping,
            ("GET", endpoints.TIME): self._time,
            ("GET", endpoints.EXCHANGE_INFO): self._exchange_info,
            ("GET", endpoints.DEPTH): self._depth,
            ("POST", endpoints.ORDER): self._new_order,
            ("GET", endpoints.ORDER): self._query_order,
            ("DELETE", endpoints.ORDER): self._cancel_order,
            ("GET", endpoints.OPEN_ORDERS): self._open_orders,
            ("DELETE", endpoints.OPEN_ORDERS): self._cancel_open_orders,
            ("GET", endpoints.ALL_ORDERS): self._all_orders,
            ("POST", endpoints.CANCEL_REPLACE): self._cancel_replace,
            ("GET", endpoints.MY_TRADES): self._my_trades,
            ("GET", endpoints.ACCOUNT): self._account,
            ("POST", endpoints.USER_DATA_STREAM): self._new_listen_key,
            ("PUT", endpoints.USER_DATA_STREAM): self._keep_alive,
            ("DELETE", endpoints.USER_DATA_STREAM): self._close_listen_key,
        }
        self._methods: dict[str, list[str]] = {}
        for method, path in self.routes:
            self._methods.setdefault(path, []).append(method)

    @staticmethod
    def serves(path: str) -> bool:
        """Return whether ``path`` is the API's (the rest is the WebSocket and admin side)."""
        return path.startswith(_API_PREFIX)

    # --- One request ----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, body: str, api_key: str | None, ip: str
    ) -> Answer:
        """Answer one request (``query`` and ``body`` as sent, url-encoded)."""
        # A switch at 0 draws nothing (``FaultInjector.strikes``): not asked at all then.
        faults = self.faults
        switches = faults.config
        if switches.rate_limit > 0.0 and faults.strikes("rate_limit", "rate_limited"):
            return _error(
                BinanceError(errors.TOO_MANY_REQUESTS, "Too many requests queued.", retry_after=1)
            )
        if switches.drop_before > 0.0 and faults.strikes("drop_before", "dropped_before"):
            return _dropped()
        route = self.routes.get((method, path))
        try:
            request = ApiRequest(method, path, query, body, api_key, ip)
            params = request.params
            weight = endpoints.WEIGHTS.get((method, path), 1)
            if path == endpoints.DEPTH:
                weight = endpoints.depth_weight(_int(params, "limit", 100))
            elif path == endpoints.OPEN_ORDERS and method == "GET":
                weight = endpoints.open_orders_weight(bool(params.get("symbol")))
            used = self.limiter.charge(ip, weight)
            answer = route(request) if route is not None else self._no_route(method, path)
        except BinanceError as error:
            answer = _error(error)
            used = self.limiter.used_weight(ip)
        except Exception:
            # A defect of the venue: answered as Binance answers its own (-1000, HTTP 500).
            _log.exception("sandbox venue: %s %s failed", method, path)
            answer = _error(
                BinanceError(
                    errors.UNKNOWN,
                    "An unknown error occurred while processing the request.",
                    status=500,
                )
            )
            used = self.limiter.used_weight(ip)
        answer.headers.append(("X-MBX-USED-WEIGHT-1M", str(used)))
        switches = faults.config  # read again: ``FaultInjector.update`` replaces it
        if switches.drop_after > 0.0 and faults.strikes("drop_after", "dropped_after"):
            return _dropped()
        if switches.delay > 0.0 and faults.strikes("delay", "delayed"):
            answer.delay = faults.config.delay_seconds
        return answer

    def _no_route(self, method: str, path: str) -> Answer:
        allowed = self._methods.get(path)
        if allowed is None:
            return Answer(404, b"404: Not Found", content_type=TEXT_TYPE)
        return Answer(
            405,
            b"405: Method Not Allowed",
            [("Allow", ",".join(sorted(allowed)))],
            content_type=TEXT_TYPE,
        )

    def _authenticate(self, request: ApiRequest, *, signed: bool = True) -> Account:
        """Check the API key (and for signed endpoints the signature and timestamp)."""
        key = request.api_key
        if not key:
            raise BinanceError(errors.API_KEY_FORMAT, "API-key format invalid.")
        account = self.exchange.accounts.get(key)
        if account is None:
            raise BinanceError(
                errors.INVALID_API_KEY, "Invalid API-key, IP, or permissions for action."
            )
        if not signed:
            return account
        params = request.params
        signature = _str(params, "signature")
        timestamp = _int(params, "timestamp")
        payload = _without_signature(request.query)
        if request.body:
            payload += _without_signature(request.body)
        pads = self._pads.get(key)
        if pads is None:
            pads = self._pads[key] = _hmac_pads(account.config.secret.encode())
        # HMAC-SHA256 from the key's padded states (computed once per account): the same
        # digest as hmac.new(secret, payload, sha256), at a third of the cost.
        inner, outer = pads[0].copy(), pads[1].copy()
        inner.update(payload.encode())
        outer.update(inner.digest())
        expected = outer.hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(errors.INVALID_SIGNATURE, "Signature for this request is not valid.")
        recv_window = _int(params, "recvWindow", _DEFAULT_RECV_WINDOW)
        max_recv_window = self.config.max_recv_window
        if not 0 < recv_window <= max_recv_window:
            raise BinanceError(
                errors.BAD_RECV_WINDOW, f"recvWindow must be less than {max_recv_window}."
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

    def _ping(self, request: ApiRequest) -> Answer:
        return Answer(200, b"{}")

    def _time(self, request: ApiRequest) -> Answer:
        return _json({"serverTime": now_ms()})

    def _exchange_info(self, request: ApiRequest) -> Answer:
        params = request.params
        names = list(self.exchange.symbols)
        if params.get("symbol"):
            names = [params["symbol"]]
        elif params.get("symbols"):
            try:
                names = [str(name) for name in json.loads(params["symbols"])]
            except (ValueError, TypeError):
                raise BinanceError.illegal("symbols", params["symbols"]) from None
        symbols = [_symbol_info(self.exchange.symbol(name).config) for name in names]
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

    def _depth(self, request: ApiRequest) -> Answer:
        params = request.params
        state = self.exchange.symbol(_str(params, "symbol"))
        limit = _int(params, "limit", 100)
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
        symbol = _str(params, "symbol")
        self.exchange.symbol(symbol)
        side = _str(params, "side")
        if side not in SIDES:
            raise BinanceError(errors.INVALID_SIDE, "Invalid side.")
        order_type = _str(params, "type")
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
        quantity = _decimal(params, "quantity")
        price: Decimal | None = None
        time_in_force: str | None = None
        if order_type == "LIMIT":
            time_in_force = _str(params, "timeInForce")
            if time_in_force not in TIME_IN_FORCES:
                raise BinanceError(errors.INVALID_TIF, "Invalid timeInForce.")
            price = _decimal(params, "price")
        else:
            if params.get("timeInForce"):
                raise BinanceError(
                    errors.NOT_REQUIRED, "Parameter 'timeInForce' sent when not required."
                )
            if order_type == "LIMIT_MAKER":
                price = _decimal(params, "price")
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

    @staticmethod
    def _with_counts(answer: Answer, counts: tuple[int, int]) -> Answer:
        answer.headers.append(("X-MBX-ORDER-COUNT-10S", str(counts[0])))
        answer.headers.append(("X-MBX-ORDER-COUNT-1D", str(counts[1])))
        return answer

    def _place(self, account: Account, order: _OrderRequest) -> Order:
        return self.exchange.new_order(
            account,
            order.symbol,
            order.side,
            order.order_type,
            order.quantity,
            order.price,
            order.time_in_force,
            order.client_order_id,
        )

    def _new_order(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        order = self._order_request(request.params)
        counts = self.limiter.count_order(account.api_key)
        placed = self._place(account, order)
        return self._with_counts(_json(placed.to_new_order_response(order.response_type)), counts)

    def _cancel_replace(self, request: ApiRequest) -> Answer:
        # Cancel an order and place a new one in one request (Binance's way to modify).
        account = self._authenticate(request)
        params = request.params
        mode = _str(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceError.illegal("cancelReplaceMode", mode)
        order = self._order_request(params)
        cancel_id = _optional_int(params, "cancelOrderId")
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
                placed = self._place(account, order)
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
            return self._with_counts(_json(data), counts)
        if "SUCCESS" in (cancel_result, new_result):
            body = {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data}
            return _json(body, status=409)
        body = {"code": -2022, "msg": "Order cancel-replace failed.", "data": data}
        return _json(body, status=400)

    @staticmethod
    def _order_ids(params: dict[str, str]) -> tuple[int | None, str | None]:
        order_id = _optional_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(
                errors.MANDATORY_PARAM,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return order_id, client_id

    def _query_order(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        params = request.params
        symbol = _str(params, "symbol")
        order_id, client_id = self._order_ids(params)
        return _json(self.exchange.query_order(account, symbol, order_id, client_id).to_json())

    def _cancel_order(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        params = request.params
        symbol = _str(params, "symbol")
        order_id, client_id = self._order_ids(params)
        return _json(
            self.exchange.cancel_order(
                account, symbol, order_id, client_id, params.get("newClientOrderId") or None
            )
        )

    def _open_orders(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        symbol = request.params.get("symbol") or None
        if symbol is not None:
            self.exchange.symbol(symbol)
        return _json([order.to_json() for order in account.open_orders(symbol)])

    def _all_orders(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        params = request.params
        symbol = _str(params, "symbol")
        self.exchange.symbol(symbol)
        limit = _int(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise BinanceError.illegal("limit", str(limit))
        from_id = _optional_int(params, "orderId")
        start = _optional_int(params, "startTime")
        end = _optional_int(params, "endTime")
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

    def _cancel_open_orders(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        return _json(self.exchange.cancel_open_orders(account, _str(request.params, "symbol")))

    def _my_trades(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        params = request.params
        symbol = _str(params, "symbol")
        limit = _int(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise BinanceError.illegal("limit", str(limit))
        trades = self.exchange.my_trades(
            account,
            symbol,
            order_id=_optional_int(params, "orderId"),
            start_time=_optional_int(params, "startTime"),
            end_time=_optional_int(params, "endTime"),
            from_id=_optional_int(params, "fromId"),
            limit=limit,
        )
        return _json([trade.to_json() for trade in trades])

    def _account(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request)
        return _json(account.to_json())

    def _new_listen_key(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request, signed=False)
        return _json({"listenKey": self.hub.create_listen_key(account.api_key)})

    def _keep_alive(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request, signed=False)
        key = _str(request.params, "listenKey")
        if not self.hub.keep_alive(key, account.api_key):
            raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return Answer(200, b"{}")

    def _close_listen_key(self, request: ApiRequest) -> Answer:
        account = self._authenticate(request, signed=False)
        key = _str(request.params, "listenKey")
        if not self.hub.close_listen_key(key, account.api_key):
            raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
        return Answer(200, b"{}")


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
