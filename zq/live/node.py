"""``TradingNode``: the kernel on uvloop with a ``LiveClock``, trading through venue adapters.

Start-up, in this order (each step must succeed, else the node does not start, says why,
and closes what it opened):

1. build the kernel (``Environment.LIVE``: a ``LiveClock`` on the running loop, a bus that
   logs a failing handler instead of stopping), the DataEngine, the Portfolio, the
   RiskEngine and the ExecutionEngine, wired as in a backtest;
2. per venue: start the sandbox venue if the config says ``venue = "sandbox"``; open the REST
   client and sync its clock with the venue's; load the configured symbols from
   ``exchangeInfo`` into the cache; open the user data stream (before reading any state, so
   no report falls between the state read and the stream);
3. reconcile: the account's balances become the node's cash account; the venue's open orders
   are matched with the cache (the orders the node knows are queried and brought up to date;
   unknown ones are refused, cancelled or ignored as the venue config says); the spot
   holdings are the base-asset balances (:attr:`TradingNode.holdings`);
4. start the market-data connection, then the kernel (engines, then strategies: their
   subscriptions reach the venue now);
5. run until :meth:`TradingNode.stop`, SIGINT or SIGTERM, or ``run_seconds``, logging a
   heartbeat with the health state every ``heartbeat_interval_s``.

Stop: the strategies stop first (no new orders), then, if
``cancel_open_orders_on_stop``, every open order of the node is cancelled and the answers
waited for (``stop_timeout_s``), then the engines stop, the clients disconnect (the
listenKey is closed) and a sandbox venue started by the node stops.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from zq.adapters.binance.credentials import BinanceCredentials
from zq.adapters.binance.errors import (
    BinanceError,
    BinanceIpBannedError,
    BinanceRateLimitError,
    BinanceUnknownStatusError,
)
from zq.adapters.binance.http import BinanceHttpClient
from zq.adapters.binance.instruments import parse_exchange_info
from zq.backtest.config import (
    ConfigError,
    build_strategy,
    parse_balance,
)
from zq.cache import Cache
from zq.common.topics import ENDPOINT_EXECUTION
from zq.data.engine import DataEngine
from zq.execution import ExecutionEngine
from zq.kernel import Kernel, KernelConfig
from zq.live.affinity import set_cpu_affinity
from zq.live.busy_poll import BusyPoll
from zq.live.config import LiveVenueConfig, TradingNodeConfig, check_live_config
from zq.live.data_client import BinanceDataClient, binance_book_factory
from zq.live.execution_client import BinanceExecutionClient
from zq.live.journal import (
    MARKER_RECONCILE,
    MARKER_START,
    MARKER_STOP,
    Journal,
    JournalEntry,
    JournalError,
    JournalMarker,
)
from zq.live.recovery import RecoveryError, RecoverySummary, rebuild
from zq.model.commands import CancelOrder
from zq.model.currency import Currency
from zq.model.enums import Environment, OmsType, OrderStatus
from zq.model.events import OrderEvent, OrderFilled
from zq.model.identifiers import AccountId, ClientOrderId, InstrumentId, Venue
from zq.model.instruments import CurrencyPair, Instrument
from zq.model.position import PositionEvent
from zq.portfolio import Portfolio
from zq.portfolio.account import Account, CashAccount
from zq.risk import RiskEngine
from zq.risk.engine import TradingState
from zq.strategy import Strategy
from zq_core.bus import MessageBus
from zq_core.fixed import Money

__all__ = ["NodeHealth", "NodeStartError", "TradingNode", "run_node"]

_log = logging.getLogger("zq.live")
_T = TypeVar("_T")

#: The account every sandbox venue started by a node has.
SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_SECRET = "sandbox-secret"
_QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


class NodeHealth(Enum):
    """Where a node stands; ``DEGRADED``: running, but a connection is down or an order's
    submit is unresolved."""

    READY = "READY"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    DEGRADED = "DEGRADED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


class NodeStartError(RuntimeError):
    """The node could not start (a venue unreachable, refused credentials, a state that
    cannot be reconciled); the message says which venue and why."""


@dataclass
class _VenueRuntime:
    """One venue's parts while the node runs."""

    config: LiveVenueConfig
    venue: Venue
    rest_url: str = ""
    ws_url: str = ""
    sandbox: Any = None  # a SandboxVenue started by the node
    http: BinanceHttpClient | None = None
    data: BinanceDataClient | None = None
    execution: BinanceExecutionClient | None = None
    instruments: list[Instrument] = field(default_factory=list)


class TradingNode:
    """Run strategies live against venues, from a :class:`TradingNodeConfig`.

    Parameters
    ----------
    config : TradingNodeConfig
        Venues, strategies, risk limits, stop behaviour.
    credentials : Mapping[str, BinanceCredentials], optional
        Credentials by venue name, instead of reading the venue's ``credentials`` config.
    install_signal_handlers : bool, default True
        Stop gracefully on SIGINT and SIGTERM while :meth:`run` runs.

    Examples
    --------
    >>> TradingNode(load_live_config("examples/configs/live_sandbox.toml")).run_live()
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        config: TradingNodeConfig,
        *,
        credentials: dict[str, BinanceCredentials] | None = None,
        install_signal_handlers: bool = True,
    ) -> None:
        try:
            check_live_config(config)
        except ConfigError as error:
            raise NodeStartError(str(error)) from None
        self.config = config
        self.install_signal_handlers = install_signal_handlers
        self._credentials = dict(credentials or {})
        self._frozen = False  # start-up's objects frozen for the garbage collector
        self._polling: BusyPoll | None = None  # with busy_poll, while the node runs
        self._poll_turns = 0  # turns made by the busy polls that ended
        self.health = NodeHealth.READY
        self.kernel: Kernel | None = None
        self.portfolio: Portfolio | None = None
        self.strategies: list[Strategy[Any]] = []
        self.venues: dict[str, _VenueRuntime] = {}
        #: Base-asset balances of the spot instruments at start-up, by instrument.
        self.holdings: dict[InstrumentId, Decimal] = {}
        self.heartbeats = 0
        self.canceled_on_stop = 0
        self._pending_strategies: list[Strategy[Any]] = []
        #: The journal (when configured) and what its rebuild found at start-up.
        self.journal: Journal | None = None
        self.recovery: RecoverySummary | None = None
        self._journal_writer: _JournalWriter | None = None
        self._stop_requested: asyncio.Event | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    # -- queries -----------------------------------------------------------------------------

    def sandbox(self, name: str = "BINANCE") -> Any:
        """Return the sandbox venue the node started for venue ``name`` (None if remote)."""
        runtime = self.venues.get(name)
        return None if runtime is None else runtime.sandbox

    def execution_client(self, name: str = "BINANCE") -> BinanceExecutionClient:
        """Return the execution client of venue ``name``.

        Raises
        ------
        KeyError
            If the node has no such venue, or it is not connected.
        """
        runtime = self.venues[name]
        if runtime.execution is None:
            raise KeyError(f"venue {name} is not connected")
        return runtime.execution

    @property
    def data_engine(self) -> DataEngine:
        """The node's DataEngine (built by :meth:`start`)."""
        return self._data_engine

    @property
    def risk_engine(self) -> RiskEngine:
        """The node's RiskEngine (its trading state is HALTED after a journal failure)."""
        return self._risk_engine

    @property
    def execution_engine(self) -> ExecutionEngine:
        """The node's ExecutionEngine (built by :meth:`start`)."""
        return self._execution_engine

    def data_client(self, name: str = "BINANCE") -> BinanceDataClient:
        """Return the data client of venue ``name``."""
        runtime = self.venues[name]
        if runtime.data is None:
            raise KeyError(f"venue {name} is not connected")
        return runtime.data

    # -- running -----------------------------------------------------------------------------

    def run_live(self) -> None:
        """Run the node on a new uvloop loop until it is stopped."""
        from zq.kernel import run_live

        run_live(self.run())

    async def run(self) -> None:
        """Start, run until stopped (a signal, :meth:`stop` or ``run_seconds``), then stop.

        Raises
        ------
        NodeStartError
            If the node cannot start; nothing is left running.
        """
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        installed: list[signal.Signals] = []
        if self.install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self._on_signal, sig)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread: stop() still works
        try:
            await self.start()
            try:
                await asyncio.wait_for(self._stop_requested.wait(), self.config.run_seconds)
            except TimeoutError:
                _log.info("%s: ran %g s, stopping", self.config.trader_id, self.config.run_seconds)
            finally:
                await self.shutdown()  # also when the run is cancelled
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        _log.info("%s: %s received, stopping", self.config.trader_id, sig.name)
        self.stop()

    def stop(self) -> None:
        """Ask a running node to stop (from the loop's thread; returns at once)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def start(self) -> None:
        """Build, connect, reconcile and start the strategies (steps 1 to 4 above).

        Raises
        ------
        NodeStartError
            Naming the venue and the cause; what was opened is closed again.
        """
        if self.health is not NodeHealth.READY:
            raise NodeStartError(f"the node is {self.health.name}: start it once")
        self.health = NodeHealth.STARTING
        if self.config.cpu_affinity is not None:
            cpus = set_cpu_affinity(self.config.cpu_affinity)
            _log.info("%s: pinned to CPU %s", self.config.trader_id, sorted(cpus))
        if self._stop_requested is None:
            self._stop_requested = asyncio.Event()
        try:
            self._build()
            for runtime in self.venues.values():
                await self._connect(runtime)
            self._recover()
            for runtime in self.venues.values():
                await self._open_streams(runtime)
            for runtime in self.venues.values():
                await self._reconcile(runtime)
            for runtime in self.venues.values():
                assert runtime.data is not None
                await runtime.data.connect()
            self._add_strategies()
            assert self.kernel is not None
            if self.journal is not None:
                self.journal.append(self._marker(MARKER_START), sync=True)
            self.kernel.start()
        except BaseException as error:
            self.health = NodeHealth.FAILED
            try:
                await self._close()
            except Exception as close_error:
                error.add_note(f"closing the node then failed: {close_error!r}")
            if isinstance(error, NodeStartError):
                raise
            if isinstance(error, Exception):
                raise NodeStartError(
                    f"node {self.config.trader_id} cannot start: {error}"
                ) from error
            raise
        self.health = NodeHealth.RUNNING
        # What start-up built lives as long as the node: frozen, the garbage collector's
        # full collections (pauses of milliseconds in the latency tails) skip it. _close
        # unfreezes it.
        gc.freeze()
        self._frozen = True
        if self.config.busy_poll:
            self._polling = BusyPoll(asyncio.get_running_loop())
            self._polling.start()
        self._heartbeat_task = asyncio.get_running_loop().create_task(
            self._heartbeat(), name=f"{self.config.trader_id}-heartbeat"
        )
        _log.info(
            "%s: running (%s)",
            self.config.trader_id,
            ", ".join(f"{name} at {r.rest_url}" for name, r in self.venues.items()),
        )

    # -- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        config = self.config
        kernel = Kernel(
            KernelConfig(trader_id=config.trader_id, environment=Environment.LIVE),
            loop=asyncio.get_running_loop(),
        )
        cache = kernel.cache
        portfolio = Portfolio(
            cache, oms_type_by_venue={v.name: OmsType[v.oms_type] for v in config.venues}
        )
        data_engine = DataEngine(
            kernel.clock, kernel.bus, cache, book_factory=binance_book_factory(cache)
        )
        risk = RiskEngine(kernel.clock, kernel.bus, cache, portfolio, config.risk)
        self._risk_engine = risk
        execution = ExecutionEngine(kernel.clock, kernel.bus, cache, portfolio)
        for component in (data_engine, risk, execution):
            kernel.add_component(component)
        self.kernel, self.portfolio = kernel, portfolio
        self._data_engine, self._execution_engine = data_engine, execution
        for venue_config in config.venues:
            self.venues[venue_config.name] = _VenueRuntime(venue_config, Venue(venue_config.name))

    def _credentials_for(self, runtime: _VenueRuntime) -> BinanceCredentials:
        name = runtime.config.name
        if name in self._credentials:
            return self._credentials[name]
        if runtime.config.venue == "sandbox":
            return BinanceCredentials(SANDBOX_API_KEY, SANDBOX_SECRET)
        source = runtime.config.credentials
        if source.file is not None:
            path = Path(source.file)
            if not path.is_absolute() and self.config.base_dir is not None:
                path = Path(self.config.base_dir) / path
            return BinanceCredentials.from_file(path)
        return BinanceCredentials.from_env(source.api_key_env, source.api_secret_env)

    async def _connect(self, runtime: _VenueRuntime) -> None:
        config = runtime.config
        name = config.name
        assert self.kernel is not None
        if config.venue == "sandbox":
            runtime.sandbox = await _start_sandbox(config, self.config.base_dir)
            runtime.rest_url, runtime.ws_url = runtime.sandbox.url, runtime.sandbox.ws_url
        else:
            assert config.rest_url is not None and config.ws_url is not None
            runtime.rest_url, runtime.ws_url = config.rest_url, config.ws_url
        where = f"venue {name} at {runtime.rest_url}"
        try:
            credentials = self._credentials_for(runtime)
        except ValueError as error:  # CredentialsError
            raise NodeStartError(f"{where}: no credentials: {error}") from None
        http = BinanceHttpClient(
            runtime.rest_url,
            credentials,
            recv_window_ms=config.recv_window_ms,
            timeout_s=self.config.connect_timeout_s,
            max_retries=2,
        )
        runtime.http = http
        timeout = self.config.connect_timeout_s

        async def reach() -> Any:
            await http.connect()
            await asyncio.wait_for(http.sync_time(), timeout)
            return await asyncio.wait_for(http.exchange_info(config.symbols), timeout)

        info = await self._retrying(
            f"{where} is unreachable or refused the start-up requests", reach
        )
        try:
            instruments = parse_exchange_info(info, name, symbols=config.symbols)
        except ValueError as error:
            raise NodeStartError(f"{where}: its exchangeInfo cannot be used: {error}") from None
        runtime.instruments = list(instruments)
        cache = self.kernel.cache
        for instrument in instruments:
            cache.add_instrument(instrument)

    async def _open_streams(self, runtime: _VenueRuntime) -> None:
        config = runtime.config
        name = config.name
        assert self.kernel is not None and runtime.http is not None
        cache, http, timeout = self.kernel.cache, runtime.http, self.config.connect_timeout_s
        where = f"venue {name} at {runtime.rest_url}"
        client_id = f"{name}-{config.adapter}"
        execution = BinanceExecutionClient(
            client_id,
            name,
            AccountId(f"{name}-001"),
            self.kernel.clock,
            http,
            runtime.ws_url,
            cache,
            oms_type=OmsType[config.oms_type],
            resolve_attempts=config.submit_resolve_attempts,
            resolve_delay_s=config.submit_resolve_delay_s,
            new_order_response=config.new_order_response,
        )
        runtime.execution = execution

        async def open_stream() -> None:
            try:
                await execution.connect(timeout)
            except BaseException:
                await execution.disconnect()  # the next attempt starts clean
                raise

        await self._retrying(f"{where}: the user data stream did not open", open_stream)
        self._execution_engine.register_client(execution)
        runtime.data = BinanceDataClient(client_id, name, http, runtime.ws_url)
        self._data_engine.register_client(runtime.data)

    async def _retrying(self, failure: str, step: Callable[[], Awaitable[_T]]) -> _T:
        """Run a start-up step, again after a transient failure (``startup_attempts`` in all,
        waiting ``startup_backoff_s``, doubled each time up to ``startup_backoff_max_s``).

        Raises
        ------
        NodeStartError
            ``failure`` (naming the venue) with the attempts made and the last error, at once
            for an error that a retry would not change (refused credentials, a request the
            venue rejects).
        """
        config = self.config
        delay = config.startup_backoff_s
        for attempt in range(1, config.startup_attempts + 1):
            try:
                return await step()
            except (BinanceError, TimeoutError, OSError) as error:
                if not _transient(error):
                    raise NodeStartError(f"{failure}: {error!r}") from None
                if attempt == config.startup_attempts:
                    raise NodeStartError(
                        f"{failure} ({attempt} attempt(s), the last error: {error!r})"
                    ) from None
                _log.warning(
                    "%s (attempt %d of %d: %r); again in %.2f s",
                    failure,
                    attempt,
                    config.startup_attempts,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, config.startup_backoff_max_s)
        raise AssertionError("unreachable: startup_attempts is at least 1")

    # -- the journal -------------------------------------------------------------------------

    def _recover(self) -> None:
        """Open the journal (if configured) and rebuild the cache from it; journal from now on.

        A restarted node thus knows its orders, positions and account before it reconciles
        them with the venue; what the venue did meanwhile is then generated as events.
        """
        if self.config.journal is None:
            return
        assert self.kernel is not None and self.portfolio is not None
        path = Path(self.config.journal)
        if not path.is_absolute() and self.config.base_dir is not None:
            path = Path(self.config.base_dir) / path
        try:
            journal = Journal(path, synchronous=self.config.journal_synchronous)
            self.journal = journal
            self.recovery = rebuild(journal, self.kernel.cache, self.portfolio)
        except (JournalError, RecoveryError) as error:
            raise NodeStartError(f"journal {path}: {error}") from None
        summary = self.recovery
        if summary.records:
            _log.info(
                "journal %s: rebuilt %d records: orders %s, %d open, %d in flight, last marker %s",
                path,
                summary.records,
                summary.orders_by_status,
                len(summary.open_orders),
                len(summary.inflight_orders),
                None if summary.last_marker is None else summary.last_marker.name,
            )
        for runtime in self.venues.values():
            for instrument in runtime.instruments:
                journal.append(instrument)
        journal.append(self._marker(MARKER_RECONCILE), sync=True)
        writer = _JournalWriter(journal, self.kernel.cache, self._journal_failed)
        writer.attach(self.kernel.bus)
        self._journal_writer = writer

    def _journal_failed(self, error: Exception) -> None:
        """A journal write failed: no new order may go out; the node stops."""
        _log.error("%s: the journal failed, halting and stopping: %s", self.config.trader_id, error)
        self._risk_engine.set_trading_state(TradingState.HALTED, f"journal failed: {error}")
        self.health = NodeHealth.DEGRADED
        self.stop()

    def _marker(self, name: str) -> JournalMarker:
        return JournalMarker(
            name=name, ts_event=time.time_ns(), info={"trader_id": self.config.trader_id}
        )

    # -- reconciliation ----------------------------------------------------------------------

    async def _reconcile(self, runtime: _VenueRuntime) -> None:
        """Bring the cache to the venue's state; refuse to start if it cannot be done."""
        assert self.kernel is not None and runtime.execution is not None
        config, client, cache = runtime.config, runtime.execution, self.kernel.cache
        where = f"venue {config.name} at {runtime.rest_url}"

        async def read_state() -> tuple[Any, list[Any]]:
            return await client.account(), await client.open_orders(config.symbols)

        account, opened = await self._retrying(
            f"{where}: cannot read the account to reconcile", read_state
        )
        if not account.can_trade:
            raise NodeStartError(f"{where}: the account may not trade (canTrade is false)")
        # Balances: total = free + locked, in the currencies the node knows.
        known: dict[str, Currency] = {}
        for instrument in runtime.instruments:
            for currency in (getattr(instrument, "base_currency", None), instrument.quote_currency):
                if currency is not None:
                    known[currency.code] = currency
        balances: dict[Currency | str, Money] = {code: Money(0, c) for code, c in known.items()}
        for entry in account.balances:
            total = Decimal(entry.free) + Decimal(entry.locked)
            currency = known.get(entry.asset)
            if currency is None:
                if total == 0:
                    continue
                try:
                    currency = Currency.from_str(entry.asset)
                except ValueError:
                    _log.info("%s: balance of %s %s not tracked", where, total, entry.asset)
                    continue
            balances[currency.code] = Money(total, currency)
        existing = cache.account(client.account_id)
        if isinstance(existing, CashAccount):
            rebuilt_account: CashAccount | None = existing  # from the journal
        else:
            rebuilt_account = None
            opened_account = CashAccount(client.account_id, None, balances, time.time_ns())
            cache.add_account(opened_account)
            if self.journal is not None:
                self.journal.append(opened_account.last_state, sync=True)
        for instrument in runtime.instruments:
            if isinstance(instrument, CurrencyPair):
                base = balances.get(instrument.base_currency.code)
                self.holdings[instrument.id] = Decimal(0) if base is None else base.as_decimal()
        # Open orders: the node's own are brought up to date; others follow the policy.
        unknown = []
        for response in opened:
            try:
                order = cache.order(ClientOrderId(response.client_order_id))
            except ValueError:
                order = None
            if order is None:
                unknown.append(response)
        if unknown:
            listed = ", ".join(
                f"{r.symbol} {r.side} {r.orig_qty} @ {r.price} ({r.client_order_id})"
                for r in unknown[:5]
            )
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            policy = config.unknown_open_orders
            if policy == "refuse":
                raise NodeStartError(
                    f"{where}: {len(unknown)} open order(s) this node does not know: "
                    f"{listed}{more}. Cancel them, or set unknown_open_orders = 'cancel' "
                    "(or 'ignore') in the venue's config"
                )
            if policy == "cancel":
                assert runtime.http is not None
                for response in unknown:
                    await runtime.http.cancel_order(response.symbol, order_id=response.order_id)
                _log.warning(
                    "%s: cancelled %d unknown open order(s): %s%s",
                    where,
                    len(unknown),
                    listed,
                    more,
                )
            else:
                _log.warning(
                    "%s: ignoring %d unknown open order(s): %s%s", where, len(unknown), listed, more
                )
        # The node's orders (from a journal) brought up to the venue's state: from the open
        # orders just read and the account's trades per symbol; only an order gone from the
        # venue without a trade explaining it is queried on its own.
        first_try = [True]

        async def catch_up() -> None:
            # Retried from a fresh read of the open orders (the first read is now older).
            listed = opened if first_try[0] else await client.open_orders(config.symbols)
            first_try[0] = False
            await client.catch_up(open_at_venue=listed)

        await self._retrying(f"{where}: cannot reconcile the orders", catch_up)
        if rebuilt_account is not None:
            # What the journal and the reconciled orders do not explain (transfers, fees
            # charged elsewhere, fills of unjournaled orders) is applied as a deposit or
            # withdrawal, and said.
            for money in balances.values():
                change = money - rebuilt_account.balance(money.currency.code)
                if change.raw == 0:
                    continue
                _log.warning(
                    "%s: the venue's %s balance differs from the journal's by %s; applied",
                    where,
                    money.currency.code,
                    change,
                )
                if change.raw > 0:
                    state = rebuilt_account.deposit(change, time.time_ns())
                else:
                    state = rebuilt_account.withdraw(-change, time.time_ns())
                if self.journal is not None:
                    self.journal.append(state, sync=True)
        _log.info(
            "%s: reconciled: %d balance(s), %d open order(s), holdings %s",
            where,
            len(balances),
            len(opened),
            {str(k): str(v) for k, v in self.holdings.items()},
        )

    # -- strategies --------------------------------------------------------------------------

    def _add_strategies(self) -> None:
        for strategy_config in self.config.strategies:
            self.add_strategy(build_strategy(strategy_config))
        pending, self._pending_strategies = self._pending_strategies, []
        for strategy in pending:
            self.add_strategy(strategy)

    def add_strategy(self, strategy: Strategy[Any]) -> None:
        """Add a strategy built in code (before :meth:`start`, or while running)."""
        if self.kernel is None:
            self._pending_strategies.append(strategy)
            return
        assert self.portfolio is not None
        kernel = self.kernel
        strategy.register(kernel.trader_id, kernel.clock, kernel.bus, kernel.cache, self.portfolio)
        if self.recovery is not None:
            count = self.recovery.order_counts.get(strategy.id, 0)
            if count > strategy.order_factory.count:
                strategy.order_factory.set_count(count)  # never issue a journaled id again
        kernel.add_component(strategy)
        self.strategies.append(strategy)

    # -- health ------------------------------------------------------------------------------

    def check_health(self) -> NodeHealth:
        """Update and return :attr:`health` from the connections and unresolved orders."""
        if self.health not in (NodeHealth.RUNNING, NodeHealth.DEGRADED):
            return self.health
        degraded = False
        for runtime in self.venues.values():
            for client in (runtime.data, runtime.execution):
                if client is not None and not client.is_connected:
                    degraded = True
            if runtime.execution is not None and runtime.execution.unresolved:
                degraded = True
        self.health = NodeHealth.DEGRADED if degraded else NodeHealth.RUNNING
        return self.health

    async def _heartbeat(self) -> None:
        interval = self.config.heartbeat_interval_s
        while True:
            await asyncio.sleep(interval)
            self.heartbeats += 1
            if self.journal is not None:
                try:
                    self.journal.flush()
                except JournalError as error:
                    self._journal_failed(error)
            health = self.check_health()
            assert self.kernel is not None
            cache = self.kernel.cache
            parts = []
            for name, runtime in self.venues.items():
                execution = runtime.execution
                if execution is None:
                    continue
                if execution.unresolved:
                    # Ask again for orders whose submit could not be resolved.
                    for coid in list(execution.unresolved):
                        order = cache.order(coid)
                        if order is not None:
                            try:
                                await execution.reconcile_order(order)
                            except BinanceError as error:
                                _log.warning("%s: %s still unresolved: %s", name, coid, error)
                parts.append(
                    f"{name}: stream {'up' if execution.is_connected else 'DOWN'}, "
                    f"reports {execution.reports}, unresolved {len(execution.unresolved)}"
                )
            _log.info(
                "%s heartbeat: %s; open orders %d, in flight %d; %s",
                self.config.trader_id,
                health.name,
                len(cache.orders_open()),
                len(cache.orders_inflight()),
                "; ".join(parts),
            )

    # -- stopping ----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop gracefully: strategies, then open orders (if configured), engines, clients."""
        if self.health in (NodeHealth.STOPPED, NodeHealth.STOPPING, NodeHealth.READY):
            return
        self.health = NodeHealth.STOPPING
        for strategy in reversed(self.strategies):
            if strategy.is_running:
                strategy.stop()
        if self.config.cancel_open_orders_on_stop:
            await self._cancel_open_orders()
        for runtime in self.venues.values():
            if runtime.execution is not None:
                await runtime.execution.wait_idle(self.config.stop_timeout_s)
        await self._close()
        self.health = NodeHealth.STOPPED
        _log.info("%s: stopped", self.config.trader_id)

    async def _cancel_open_orders(self) -> None:
        assert self.kernel is not None
        cache = self.kernel.cache
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.stop_timeout_s
        # Let submits in flight get their answers first: an order accepted meanwhile is
        # then cancelled too.
        for runtime in self.venues.values():
            if runtime.execution is not None:
                await runtime.execution.wait_idle(self.config.stop_timeout_s)
        # Every open order of the node is asked to cancel; one whose cancel was refused or
        # lost (back to working) is asked again, at most every 0.25 s, until the deadline.
        asked: dict[ClientOrderId, float] = {}
        while True:
            now = loop.time()
            for order in cache.orders_open():
                if order.status is OrderStatus.PENDING_CANCEL:
                    continue
                if now - asked.get(order.client_order_id, -1.0) < 0.25:
                    continue
                asked[order.client_order_id] = now
                self.kernel.bus.send(
                    ENDPOINT_EXECUTION,
                    CancelOrder(
                        trader_id=order.trader_id,
                        strategy_id=order.strategy_id,
                        instrument_id=order.instrument_id,
                        client_order_id=order.client_order_id,
                        venue_order_id=order.venue_order_id,
                        ts_init=self.kernel.clock.timestamp_ns(),
                    ),
                )
            if not cache.orders_open() and not cache.orders_inflight():
                break
            if now > deadline:
                _log.error(
                    "%s: %d order(s) still open after %g s of cancelling",
                    self.config.trader_id,
                    len(cache.orders_open()),
                    self.config.stop_timeout_s,
                )
                break
            await asyncio.sleep(0.01)
        self.canceled_on_stop = len(asked)

    @property
    def busy_poll_turns(self) -> int:
        """Turns of the event loop made by ``busy_poll`` (0 without it)."""
        polling = self._polling
        return self._poll_turns + (polling.turns if polling is not None else 0)

    async def _close(self) -> None:
        if self._polling is not None:
            self._polling.stop()
            self._poll_turns += self._polling.turns
            self._polling = None
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            await asyncio.gather(self._heartbeat_task, return_exceptions=True)
            self._heartbeat_task = None
        kernel = self.kernel
        if kernel is not None and kernel.is_running:
            kernel.stop()
        for runtime in self.venues.values():
            if runtime.data is not None:
                await runtime.data.disconnect()
            if runtime.execution is not None:
                await runtime.execution.disconnect()
            if runtime.http is not None:
                await runtime.http.close()
            if runtime.sandbox is not None:
                await runtime.sandbox.stop()
        journal, self.journal = self.journal, None
        if self._journal_writer is not None and kernel is not None:
            self._journal_writer.detach(kernel.bus)
        if journal is not None and not journal.is_closed:
            failed = self._journal_writer is not None and self._journal_writer.failure
            try:
                if not failed:
                    journal.append(self._marker(MARKER_STOP), sync=True)
            finally:
                journal.close()
        if kernel is not None and not kernel.is_disposed:
            kernel.dispose()


#: Every strategy's order and position event topics (``topics.order_events`` /
#: ``topics.position_events`` of any strategy id).
_ALL_ORDER_EVENTS = "events.order.*"
_ALL_POSITION_EVENTS = "events.position.*"
#: The journal hears each event before the strategies do.
_JOURNAL_PRIORITY = 1_000_000


class _JournalWriter:
    """Append what the engines publish to the journal, before anyone else hears of it.

    An order's ``OrderInitialized`` goes in before its first event; an event the engine
    published without applying it (a refusal the order's state does not take) is left out,
    as the rebuild could not re-apply it. After a fill's position events, the account's new
    state. The write-ahead events (``OrderSubmitted``, pending update and cancel) are
    published before the client is called, and the journal syncs them: they are on disk
    before the venue hears of the order.

    A write that fails (a full disk, a closed journal) is handed to ``on_failure`` once and
    nothing more is written: the node halts trading and stops.
    """

    def __init__(
        self, journal: Journal, cache: Cache, on_failure: Callable[[Exception], None]
    ) -> None:
        self.journal = journal
        self.cache = cache
        self._on_failure = on_failure
        self.failure: Exception | None = None
        self._known: set[ClientOrderId] = {o.client_order_id for o in cache.orders()}
        self._account_after_fill: AccountId | None = None

    def _append(self, entry: JournalEntry) -> None:
        if self.failure is not None:
            return
        try:
            self.journal.append(entry)
        except (JournalError, OSError) as error:
            self.failure = error
            self._on_failure(error)

    def attach(self, bus: MessageBus) -> None:
        bus.subscribe(_ALL_ORDER_EVENTS, self.on_order_event, _JOURNAL_PRIORITY)
        bus.subscribe(_ALL_POSITION_EVENTS, self.on_position_event, _JOURNAL_PRIORITY)

    def detach(self, bus: MessageBus) -> None:
        bus.unsubscribe(_ALL_ORDER_EVENTS, self.on_order_event)
        bus.unsubscribe(_ALL_POSITION_EVENTS, self.on_position_event)

    def on_order_event(self, event: OrderEvent) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None or order.events[-1] is not event:
            return  # published without being applied
        if order.client_order_id not in self._known:
            self._known.add(order.client_order_id)
            self._append(order.init)
        self._append(event)
        if isinstance(event, OrderFilled):
            self._account_after_fill = event.account_id

    def on_position_event(self, event: PositionEvent) -> None:
        self._append(event)
        account_id, self._account_after_fill = self._account_after_fill, None
        if account_id is not None:
            account = self.cache.account(account_id)
            if isinstance(account, Account):
                self._append(account.last_state)


def _transient(error: BaseException) -> bool:
    """Whether a start-up request may succeed when tried again: no answer, a timeout, a
    venue error (5xx) or a rate limit; not a refusal (bad credentials, a bad request) nor
    an IP ban."""
    if isinstance(error, BinanceIpBannedError):
        return False
    if isinstance(error, (BinanceUnknownStatusError, BinanceRateLimitError)):
        return True
    if isinstance(error, BinanceError):
        return error.status == 0 or error.status >= 500
    return isinstance(error, (TimeoutError, OSError))


def _split_symbol(symbol: str) -> tuple[str, str]:
    for quote in _QUOTE_ASSETS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise NodeStartError(
        f"sandbox: cannot tell the quote asset of symbol {symbol!r} (known: {_QUOTE_ASSETS})"
    )


async def _start_sandbox(config: LiveVenueConfig, base_dir: str | None) -> Any:
    """Start the local sandbox venue a ``venue = "sandbox"`` config asks for."""
    from zq.sandbox import AccountConfig, MarketConfig, SandboxVenue, SymbolConfig
    from zq.sandbox import VenueConfig as SandboxConfig

    options = config.sandbox
    symbols = tuple(
        SymbolConfig(symbol=s, base_asset=b, quote_asset=q)
        for s, (b, q) in ((s, _split_symbol(s)) for s in config.symbols)
    )
    balances: dict[str, Decimal] = {}
    for text in options.balances:
        amount, asset = parse_balance(text)
        balances[asset] = amount
    if options.market == "replay":
        assert options.path is not None
        path = Path(options.path)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        market = MarketConfig(kind="replay", path=path, speed=options.speed)
    else:
        market = MarketConfig(
            kind="generated",
            seed=options.seed,
            interval=options.interval,
            start_price=options.start_price,
        )
    venue = SandboxVenue(
        SandboxConfig(
            symbols=symbols,
            accounts=(AccountConfig(SANDBOX_API_KEY, SANDBOX_SECRET, balances),),
            market=market,
            orders_per_10s=options.orders_per_10s,
        )
    )
    await venue.start()
    _log.info("sandbox venue for %s listening on %s", config.name, venue.url)
    return venue


def run_node(config: TradingNodeConfig) -> TradingNode:
    """Run a node from ``config`` on a new uvloop loop until it stops; return it."""
    node = TradingNode(config)
    node.run_live()
    return node
