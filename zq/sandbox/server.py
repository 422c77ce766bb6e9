"""``SandboxVenue``: a local exchange speaking Binance spot REST (api/v3) and WebSockets.

One port serves both. Connections start on the lean REST protocol (``zq.sandbox.protocol``),
which answers the api/v3 requests itself; a connection that asks for anything else (a
WebSocket stream, an admin endpoint) is handed over to aiohttp, which serves the streams and
the admin endpoints (and the API too, for the rare request the lean protocol leaves to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from zq.sandbox import endpoints
from zq.sandbox.config import VenueConfig
from zq.sandbox.exchange import Account, SandboxExchange
from zq.sandbox.faults import FaultInjector
from zq.sandbox.limits import RateLimiter
from zq.sandbox.market import GeneratedMarket, ReplayMarket
from zq.sandbox.protocol import RestProtocol
from zq.sandbox.rest import RestApi
from zq.sandbox.streams import Connection, StreamHub, parse_stream

__all__ = ["SandboxVenue"]

_log = logging.getLogger("zq.sandbox")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_encode = msgspec.json.Encoder().encode


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
        #: The REST endpoints (whichever HTTP server carries the request).
        self.api = RestApi(self.exchange, self.hub, self.limiter, self.faults, self.config)
        self.market: GeneratedMarket | ReplayMarket | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._rest_connections: set[RestProtocol] = set()
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
        fallback = self._runner.server
        assert fallback is not None
        api, connections = self.api, self._rest_connections
        self._server = await asyncio.get_running_loop().create_server(
            lambda: RestProtocol(api, fallback, connections),
            self.config.host,
            self.config.port,
        )
        sockets = self._server.sockets
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
        if self._server is not None:
            self._server.close()
        for connection in list(self._rest_connections):
            connection.close()
        if self._runner is not None:
            # Closes the connections handed over to aiohttp.
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

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
            idle_timeout = self.config.idle_timeout
            if idle_timeout > 0:
                for connection in list(self._rest_connections):
                    connection.close_idle(now, idle_timeout)
            if every <= 0:
                last_disconnect = now
            elif now - last_disconnect >= every:
                last_disconnect = now
                # Counted before closing: a client may see the close before it completes.
                self.faults.counts["disconnects"] += len(self.hub.connections)
                await self.hub.disconnect_all()

    # --- REST on the fallback server -------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        # The API's paths on a connection the REST protocol handed over (HTTP/1.0, a chunked
        # body...): answered by the same RestApi.
        if not self.api.serves(request.path):
            return await handler(request)
        body = ""
        if request.method in ("POST", "PUT", "DELETE") and request.can_read_body:
            body = (await request.read()).decode("utf-8", errors="replace")
        answer = self.api.handle(
            request.method,
            request.path,
            request.raw_path.partition("?")[2],
            body,
            request.headers.get("X-MBX-APIKEY"),
            request.remote or "unknown",
        )
        if answer.drop:
            # Close the connection without an answer: the client cannot tell what happened.
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        response = web.Response(body=answer.body, status=answer.status, headers=answer.headers)
        response.headers["Content-Type"] = answer.content_type
        return response

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
