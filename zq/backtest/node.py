"""``BacktestNode``: builds a backtest kernel from a config, replays the data, returns results.

Each :meth:`BacktestNode.run` builds a fresh kernel (clock, bus, cache), the DataEngine, the
Portfolio and its accounts, the RiskEngine, the ExecutionEngine with one
:class:`~zq.backtest.client.BacktestExecutionClient` per venue, and the strategies; replays
the data merged by ``ts_init``; and disposes of everything before returning a
:class:`BacktestResult`. Nothing is kept between runs, so two runs of one config give the
same event log.

The replay loop is compiled (``zq_core.replay``). For each datum, in order:

1. the clock advances to its ``ts_init`` (timers due at or before it fire first);
2. the venue's exchange processes it (in-flight commands and events due by then are
   delivered, then resting orders match on the new market);
3. the DataEngine processes it (cache, then the strategies' callbacks). A datum nobody
   subscribed to is not made into an object: the cache makes its latest one on demand.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import Any

from zq.backtest.client import BacktestExecutionClient
from zq.backtest.config import (
    BacktestConfig,
    DataConfig,
    InstrumentConfig,
    VenueConfig,
    build_strategy,
    parse_balance,
)
from zq.backtest.exchange import SimulatedExchange
from zq.backtest.models import (
    ConservativeQueueModel,
    FillModel,
    LatencyModel,
    MakerTakerFeeModel,
    ProbabilisticQueueModel,
    QueueModel,
)
from zq.backtest.progress import NO_PROGRESS, progress_bar
from zq.backtest.replay import Resolver, object_runs
from zq.backtest.result import (
    BacktestResult,
    SampleRecords,
    accounts_frame,
    equity_frame,
    fills_and_round_trips,
    orders_frame,
    positions_frame,
    positions_history_frame,
    prices_frame,
)
from zq.backtest.sampler import DEFAULT_SAMPLE_INTERVAL_NS, ResultSampler
from zq.backtest.sources import open_sources
from zq.common import topics
from zq.common.clock import TestClock
from zq.data.catalog.schema import DataSeries
from zq.data.client import ReplayDataClient
from zq.data.engine import DataEngine
from zq.execution import ExecutionEngine
from zq.kernel import Kernel, KernelConfig
from zq.model.currency import Currency
from zq.model.enums import BookType, OmsType
from zq.model.events import OrderEvent
from zq.model.identifiers import AccountId, InstrumentId, Venue
from zq.model.instruments import Instrument
from zq.model.position import PositionEvent
from zq.portfolio import Portfolio
from zq.portfolio.account import Account, CashAccount, MarginAccount
from zq.risk import RiskEngine
from zq.strategy import Strategy
from zq_core.book_base import OrderBook
from zq_core.fixed import Money
from zq_core.replay import ReplayLoop

__all__ = ["BacktestNode", "BacktestResult"]


class BacktestNode:
    """Run backtests of one config.

    Parameters
    ----------
    config : BacktestConfig
        The venues, instruments, data sources, strategies, risk limits and time range.
    data : Iterable, optional
        Market data objects (quotes, trades, bars, book deltas) replayed with the
        configured sources, merged by ``ts_init``.
    instruments : Iterable[Instrument], optional
        Instruments in addition to the configured ones.
    sources : Iterable, optional
        More sources, each an iterable of ``(DataSeries, rows)`` runs in ``ts_init`` order
        (``rows`` in a layout of :mod:`zq.data.arrays`, at the instrument's precisions), as
        ``ParquetDataCatalog.stream`` yields them. A list replays on every ``run``; a
        generator only once.
    sample_interval_ns : int
        How often (data time) the result samples prices, positions and equity.
    progress : bool
        Show a progress bar on stderr.

    Examples
    --------
    >>> result = BacktestNode(load_config("examples/configs/ema_cross.toml")).run()
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        config: BacktestConfig,
        data: Iterable[Any] | None = None,
        instruments: Iterable[Instrument] | None = None,
        *,
        sources: Iterable[Iterable[tuple[DataSeries, Any]]] | None = None,
        sample_interval_ns: int = DEFAULT_SAMPLE_INTERVAL_NS,
        progress: bool = False,
    ) -> None:
        from zq.backtest.config import check_config

        check_config(config)
        self.config = config
        self._data: list[Any] = sorted(data or (), key=_ts_init)
        self._extra_sources = list(sources or ())
        self._instruments: list[Instrument] = list(instruments or ())
        self.kernel: Kernel | None = None
        self.sample_interval_ns = sample_interval_ns
        self.progress = progress
        self._sampler: ResultSampler | None = None
        self.strategies: list[Strategy[Any]] = []

    # -- building --------------------------------------------------------------------------

    def instruments(self) -> list[Instrument]:
        """Return the instruments of the run: configured, from catalogs, then given (the
        first of each id)."""
        found: dict[Any, Instrument] = {}
        catalogs = [_catalog_instruments(d) for d in self.config.data if d.kind == "catalog"]
        for group in ([_instrument(c) for c in self.config.instruments], *catalogs):
            for instrument in group:
                found.setdefault(instrument.id, instrument)
        for instrument in self._instruments:
            found.setdefault(instrument.id, instrument)
        return list(found.values())

    def _build(self) -> tuple[Kernel, DataEngine, dict[Venue, SimulatedExchange]]:
        config = self.config
        kernel = Kernel(KernelConfig(trader_id=config.trader_id))
        clock, bus, cache = kernel.clock, kernel.bus, kernel.cache
        instruments = self.instruments()
        for instrument in instruments:
            cache.add_instrument(instrument)
        venues = {Venue(v.name): v for v in config.venues}
        for instrument in instruments:
            if instrument.id.venue not in venues:
                raise ValueError(
                    f"instrument {instrument.id} is on venue {instrument.id.venue}, "
                    f"which has no [[venues]] entry (venues: {', '.join(map(str, venues))})"
                )
        portfolio = Portfolio(
            cache, oms_type_by_venue={v.name: OmsType[v.oms_type] for v in config.venues}
        )
        exchanges: dict[Venue, SimulatedExchange] = {}
        data_engine = DataEngine(clock, bus, cache, venue_books=partial(_venue_book, exchanges))
        data_engine.register_client(ReplayDataClient())  # accepts the strategies' subscriptions
        risk = RiskEngine(clock, bus, cache, portfolio, config.risk)
        execution = ExecutionEngine(clock, bus, cache, portfolio)
        for name, venue in venues.items():
            cache.add_account(_account(venue))
            client = BacktestExecutionClient(
                name,
                [i for i in instruments if i.id.venue == name],
                clock,
                oms_type=OmsType[venue.oms_type],
                book_type=BookType[venue.book_type],
                fill_model=FillModel(venue.bar_sweep),
                queue_model=_queue_model(venue),
                latency_model=LatencyModel(
                    venue.latency.entry_ns,
                    venue.latency.cancel_ns,
                    venue.latency.ack_ns,
                    jitter_ns=venue.latency.jitter_ns,
                    seed=venue.latency.seed,
                ),
                fee_model=MakerTakerFeeModel(venue.fees.maker_fee, venue.fees.taker_fee),
            )
            execution.register_client(client)
            exchanges[name] = client.exchange
        for component in (data_engine, risk, execution):
            kernel.add_component(component)
        self.strategies = [build_strategy(c) for c in config.strategies]
        for strategy in self.strategies:
            strategy.register(kernel.trader_id, clock, bus, cache, portfolio)
            kernel.add_component(strategy)
        # Result sampling (zq.backtest.sampler): equity, marks and positions on a data-time
        # timer and at each fill; nothing per datum. Its records go to _result.
        ids = [strategy.id for strategy in self.strategies]
        self._sampler = ResultSampler(clock, bus, cache, exchanges, ids, self.sample_interval_ns)
        kernel.add_component(self._sampler)
        return kernel, data_engine, exchanges

    def _sources(self, instruments: dict[Any, Instrument]) -> list[Iterable[tuple[Any, Any]]]:
        # Each source yields (series, rows) runs in ts_init order; the loop merges them.
        # ``instruments``: run()'s, not read again (a catalog's are parsed from its files).
        start, end = self.config.start_ns, self.config.end_ns
        sources: list[Iterable[tuple[Any, Any]]] = list(open_sources(self.config, instruments))
        if self._data:
            sources.append(object_runs(self._data, instruments, start, end))
        sources.extend(self._extra_sources)
        return sources

    # -- running ---------------------------------------------------------------------------

    def run(self) -> BacktestResult:
        """Build a fresh node, replay the data through it, and return the result.

        Raises
        ------
        ValueError
            If an instrument's venue is not configured.
        """
        kernel, data_engine, exchanges = self._build()
        self.kernel = kernel
        clock = kernel.clock
        assert isinstance(clock, TestClock)  # a backtest kernel: time comes from the data
        events: list[OrderEvent | PositionEvent] = []
        for strategy in self.strategies:
            kernel.bus.subscribe(topics.order_events(strategy.id), events.append)
            kernel.bus.subscribe(topics.position_events(strategy.id), events.append)
        instruments = {i.id: i for i in self.instruments()}
        resolver = Resolver(data_engine, exchanges, instruments)
        bar = progress_bar(self.progress, self.config.start_ns, self.config.end_ns)
        loop = ReplayLoop(clock, kernel.bus, resolver, None if bar is NO_PROGRESS else bar)
        count = 0
        gc.collect()  # what earlier runs left, before the replay freezes what is alive
        started = time.perf_counter()
        cpu_started = time.thread_time()
        try:
            first = loop.open(self._sources(instruments))
            if first is not None:
                clock.set_time(first)
            kernel.start()
            with _frozen_survivors():
                count = loop.run()
            bar(count, clock.timestamp_ns())  # the final figures, drawn by close()
            bar.close()
            elapsed = time.perf_counter() - started
            cpu = time.thread_time() - cpu_started
            kernel.stop()
            result = self._result(kernel, events, count, elapsed)
            result.cpu_seconds = cpu
        except BaseException as exc:
            # The error the user must see is this one (a strategy's, a data file's), not
            # one from tearing down a kernel it left running.
            try:
                self._teardown(kernel)
            except Exception as teardown_error:
                exc.add_note(f"tearing the backtest node down then failed: {teardown_error!r}")
            raise
        self._teardown(kernel)
        return result

    def _teardown(self, kernel: Kernel) -> None:
        self.kernel = None
        self.strategies = []
        if kernel.is_running:
            kernel.stop()
        kernel.dispose()

    def _result(
        self,
        kernel: Kernel,
        events: list[OrderEvent | PositionEvent],
        count: int,
        elapsed: float,
    ) -> BacktestResult:
        # The frames are built from many small objects while every object of the run is
        # alive: a full garbage collection then walks them all, for nothing (building the
        # frames makes no cycles), so the collector waits until the result is built.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._build_result(kernel, events, count, elapsed)
        finally:
            if collecting:
                gc.enable()

    def _build_result(
        self,
        kernel: Kernel,
        events: list[OrderEvent | PositionEvent],
        count: int,
        elapsed: float,
    ) -> BacktestResult:
        cache = kernel.cache
        accounts = [a for a in cache.accounts() if isinstance(a, Account)]
        positions = cache.positions()
        realized: dict[str, Decimal] = {}
        fees: dict[str, Decimal] = {}
        currencies: dict[str, Currency] = {}
        for position in positions:
            code = position.currency.code
            currencies[code] = position.currency
            realized[code] = realized.get(code, Decimal(0)) + position.realized_pnl.as_decimal()
            for fee_code, money in position.commissions.items():
                fees[fee_code] = fees.get(fee_code, Decimal(0)) + money.as_decimal()
                currencies.setdefault(fee_code, money.currency)
        # The sampler's last sample is the state at the end of the run (after the stop).
        sampler, self._sampler = self._sampler, None
        inverse = [str(i.id) for i in cache.instruments() if i.is_inverse]
        # The round trips read the position events' columns, the sampler's records use them.
        fills, fills_table, round_trips = fills_and_round_trips(
            events, inverse, None if sampler is None else sampler.use_position_columns
        )
        # The account history reads the states' columns, the sampler's records use them.
        account_history = accounts_frame(
            accounts, None if sampler is None else sampler.use_state_columns
        )
        records = SampleRecords()
        if sampler is not None:
            sampler.sample(kernel.clock.timestamp_ns())
            records = sampler.records
        return BacktestResult(
            orders=orders_frame(cache.orders(), fills),
            fills=fills_table,
            positions=positions_frame(positions),
            account_history=account_history,
            balances={str(a.id): {c.code: a.balance(c) for c in a.currencies()} for a in accounts},
            realized_pnl={c: Money(v, currencies[c]) for c, v in realized.items()},
            commissions={c: Money(v, currencies[c]) for c, v in fees.items()},
            events=events,
            data_count=count,
            elapsed_seconds=elapsed,
            start_ns=self.config.start_ns,
            end_ns=self.config.end_ns,
            round_trips=round_trips,
            equity=equity_frame(records),
            prices=prices_frame(records),
            positions_history=positions_history_frame(records),
            sample_interval_ns=self.sample_interval_ns,
        )


# -- helpers ---------------------------------------------------------------------------------


def _ts_init(datum: Any) -> int:
    return int(datum.ts_init)


def _instrument(config: InstrumentConfig) -> Instrument:
    from zq.backtest.sources import instrument_from_config

    return instrument_from_config(config)


def _source(
    config: DataConfig, instruments: dict[Any, Instrument], run: BacktestConfig
) -> Iterable[Any]:
    # Objects for the per-object replay; the array runs are zq.backtest.sources.open_sources.
    from zq.backtest.sources import open_source, runs_to_objects

    base_dir = run.base_dir or "."
    return runs_to_objects(open_source(config, instruments, base_dir, run.start_ns, run.end_ns))


def _catalog_data(config: DataConfig, start: int | None, end: int | None) -> Iterator[Any]:
    from zq.backtest.sources import open_source, runs_to_objects

    return runs_to_objects(open_source(config, {}, ".", start, end))


def _catalog_instruments(config: DataConfig) -> list[Instrument]:
    from zq.backtest.sources import catalog_instruments

    return catalog_instruments(config)


def _generated(config: DataConfig, instruments: dict[Any, Instrument]) -> list[Any]:
    from zq.backtest.sources import open_source, runs_to_objects

    return list(runs_to_objects(open_source(config, instruments)))


# The young generation's threshold during a replay: net tracked allocations between two
# young collections (CPython's default is 700). A run keeps nearly all it makes (about 8
# tracked objects per order), so every young collection walks survivors for nothing; at
# this size a 1 M-trade flip runs ~9 young collections instead of ~545. Cyclic garbage
# still waits at most this many allocations (a few MB).
_REPLAY_YOUNG_THRESHOLD = 50_000


@contextmanager
def _frozen_survivors() -> Iterator[None]:
    # A run keeps what it makes (orders, fills, positions, events), so every collection
    # after the one an object survived would scan it again for nothing: the middle
    # generation's each ten young ones, the full one's the whole run. What is alive when the
    # replay starts, and what survives any collection during it, is frozen (not scanned
    # again) until the replay ends, so an object is scanned once at most. Younger objects
    # are collected as usual, less often (see _REPLAY_YOUNG_THRESHOLD). Cyclic garbage that
    # forms among frozen objects waits for the end of the replay. (Freezing only the full
    # collection's survivors: 2 M-trade EMA flip ~810 k -> ~910 k events/s with this.)
    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            gc.freeze()

    thresholds = gc.get_threshold()
    young, *older = thresholds
    if 0 < young < _REPLAY_YOUNG_THRESHOLD:  # 0: the user turned collection off
        gc.set_threshold(_REPLAY_YOUNG_THRESHOLD, *older)
    gc.freeze()
    gc.callbacks.append(freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(freeze_survivors)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _venue_book(
    exchanges: dict[Venue, SimulatedExchange],
    instrument_id: InstrumentId,
    book_type: BookType,
    price_precision: int,
    size_precision: int,
) -> OrderBook | None:
    # The book a simulated venue keeps of the market, for the data engine to read rather
    # than keep a copy fed the same deltas (L2 and L3 venues; their books hold the market
    # only: what our fills took is kept apart).
    exchange = exchanges.get(instrument_id.venue)
    if exchange is None or book_type is BookType.L1_MBP or exchange.book_type is not book_type:
        return None
    book: OrderBook = exchange.core(instrument_id).book
    if (book.price_precision, book.size_precision) != (price_precision, size_precision):
        return None
    return book


def _queue_model(venue: VenueConfig) -> QueueModel:
    if venue.queue_model == "probabilistic":
        return ProbabilisticQueueModel(venue.queue_seed)
    return ConservativeQueueModel()


def _account(venue: VenueConfig) -> Account:
    balances: dict[Currency | str, Money] = {}
    for text in venue.starting_balances:
        amount, code = parse_balance(text)
        balances[code] = Money(amount, Currency.from_str(code))
    account_id = AccountId(f"{venue.name}-001")
    base = Currency.from_str(venue.base_currency) if venue.base_currency else None
    if venue.account_type == "MARGIN":
        return MarginAccount(account_id, venue.leverage, balances=balances, base_currency=base)
    return CashAccount(account_id, base, balances)


