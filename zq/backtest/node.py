"""``BacktestNode``: builds a backtest kernel from a config, replays the data, returns results.

Each :meth:`BacktestNode.run` builds a fresh kernel (clock, bus, cache), the DataEngine, the
Portfolio and its accounts, the RiskEngine, the ExecutionEngine with one
:class:`~zq.backtest.client.BacktestExecutionClient` per venue, and the strategies; replays
the data merged by ``ts_init``; and disposes of everything before returning a
:class:`BacktestResult`. Nothing is kept between runs, so two runs of one config give the
same event log.

For each datum, in order:

1. the clock advances to its ``ts_init`` (timers due at or before it fire first);
2. the venue's exchange processes it (resting orders match on the new market, and in-flight
   commands and events due by then are delivered);
3. the DataEngine processes it (cache, then the strategies' callbacks).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from zq.backtest.client import BacktestExecutionClient
from zq.backtest.config import (
    BacktestConfig,
    DataConfig,
    InstrumentConfig,
    StrategyConfig,
    VenueConfig,
    parse_balance,
    resolve_strategy,
    strategy_params_type,
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
from zq.common import topics
from zq.common.clock import TestClock
from zq.data.client import ReplayDataClient
from zq.data.engine import DataEngine
from zq.execution import ExecutionEngine
from zq.kernel import Kernel, KernelConfig
from zq.model.currency import Currency
from zq.model.data import Bar, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import BookType, OmsType
from zq.model.events import OrderEvent, OrderFilled
from zq.model.identifiers import AccountId, Venue
from zq.model.instruments import Instrument
from zq.model.position import PositionEvent
from zq.portfolio import Portfolio
from zq.portfolio.account import Account, CashAccount, MarginAccount
from zq.risk import RiskEngine
from zq.strategy import Strategy
from zq_core.fixed import Money

__all__ = ["BacktestNode", "BacktestResult"]


@dataclass
class BacktestResult:
    """What a backtest run did.

    Attributes
    ----------
    orders, fills, positions, account_history : pandas.DataFrame
        One row per order (final state), fill, position (final state) and account change.
        Prices, quantities and money are floats (for statistics and charts); ids are strings;
        times are UNIX nanoseconds.
    balances : dict[str, dict[str, Money]]
        Final total balance per account id and currency.
    realized_pnl : dict[str, Money]
        Gross realized PnL per currency, all positions.
    commissions : dict[str, Money]
        Commissions paid per currency, all positions.
    events : list
        Every order and position event published to the strategies, in order.
    data_count : int
        Data replayed.
    elapsed_seconds : float
        Wall time of the replay (build and teardown excluded).
    """

    orders: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    account_history: pd.DataFrame
    balances: dict[str, dict[str, Money]]
    realized_pnl: dict[str, Money]
    commissions: dict[str, Money]
    events: list[OrderEvent | PositionEvent] = field(repr=False)
    data_count: int
    elapsed_seconds: float
    start_ns: int | None
    end_ns: int | None

    @property
    def order_count(self) -> int:
        """Orders the strategies created."""
        return len(self.orders)

    @property
    def fill_count(self) -> int:
        """Fills."""
        return len(self.fills)

    @property
    def position_count(self) -> int:
        """Positions (open and closed)."""
        return len(self.positions)

    @property
    def events_per_second(self) -> float:
        """Data replayed per second of wall time."""
        return self.data_count / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def summary(self) -> str:
        """Return the result as a few lines of text."""
        lines = [
            f"data: {self.data_count:,} events in {self.elapsed_seconds:.3f} s "
            f"({self.events_per_second:,.0f} events/s)",
            f"orders: {self.order_count:,}  fills: {self.fill_count:,}  "
            f"positions: {self.position_count:,}",
        ]
        for account_id, balances in self.balances.items():
            text = ", ".join(f"{money.as_decimal()} {code}" for code, money in balances.items())
            lines.append(f"balance {account_id}: {text}")
        pnl = ", ".join(f"{m.as_decimal()} {code}" for code, m in self.realized_pnl.items())
        fees = ", ".join(f"{m.as_decimal()} {code}" for code, m in self.commissions.items())
        lines.append(f"realized PnL: {pnl or '0'}  commissions: {fees or '0'}")
        return "\n".join(lines)


_ExchangeHandler = Callable[[SimulatedExchange, Any], None]
_EXCHANGE_HANDLERS: dict[type, tuple[_ExchangeHandler, Callable[[Any], Any]]] = {
    TradeTick: (SimulatedExchange.process_trade, lambda d: d.instrument_id),
    QuoteTick: (SimulatedExchange.process_quote, lambda d: d.instrument_id),
    OrderBookDelta: (SimulatedExchange.process_delta, lambda d: d.instrument_id),
    Bar: (SimulatedExchange.process_bar, lambda d: d.bar_type.instrument_id),
}


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
    ) -> None:
        from zq.backtest.config import check_config

        check_config(config)
        self.config = config
        self._data: list[Any] = sorted(data or (), key=_ts_init)
        self._instruments: list[Instrument] = list(instruments or ())
        self.kernel: Kernel | None = None
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
        data_engine = DataEngine(clock, bus, cache)
        data_engine.register_client(ReplayDataClient())  # accepts the strategies' subscriptions
        risk = RiskEngine(clock, bus, cache, portfolio, config.risk)
        execution = ExecutionEngine(clock, bus, cache, portfolio)
        exchanges: dict[Venue, SimulatedExchange] = {}
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
        self.strategies = [_strategy(c) for c in config.strategies]
        for strategy in self.strategies:
            strategy.register(kernel.trader_id, clock, bus, cache, portfolio)
            kernel.add_component(strategy)
        return kernel, data_engine, exchanges

    def _stream(self) -> Iterator[Any]:
        instruments = {i.id: i for i in self.instruments()}
        sources: list[Iterable[Any]] = [
            _source(c, instruments, self.config) for c in self.config.data
        ]
        if self._data:
            sources.append(self._data)
        stream: Iterable[Any] = (
            sources[0] if len(sources) == 1 else heapq.merge(*sources, key=_ts_init)
        )
        start, end = self.config.start_ns, self.config.end_ns
        for datum in stream:
            ts = datum.ts_init
            if start is not None and ts < start:
                continue
            if end is not None and ts > end:
                break
            yield datum

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
        stream = self._stream()
        first = next(stream, None)
        count = 0
        started = time.perf_counter()
        try:
            if first is not None:
                clock.set_time(first.ts_init)
            kernel.start()
            if first is not None:
                count = self._replay(first, stream, clock, data_engine, exchanges)
            elapsed = time.perf_counter() - started
            kernel.stop()
            return self._result(kernel, events, count, elapsed)
        finally:
            kernel.dispose()
            self.kernel = None
            self.strategies = []

    @staticmethod
    def _replay(
        first: Any,
        stream: Iterator[Any],
        clock: TestClock,
        data_engine: DataEngine,
        exchanges: dict[Venue, SimulatedExchange],
    ) -> int:
        advance = clock.advance_time
        process = data_engine.process
        handlers = _EXCHANGE_HANDLERS
        # The exchange of each instrument id seen, resolved once (None: no venue).
        exchange_of: dict[Any, SimulatedExchange | None] = {}
        count = 0
        datum = first
        while datum is not None:
            advance(datum.ts_init)
            handler = handlers.get(type(datum))
            if handler is not None:
                method, instrument_of = handler
                instrument_id = instrument_of(datum)
                try:
                    exchange = exchange_of[instrument_id]
                except KeyError:
                    exchange = exchange_of[instrument_id] = exchanges.get(instrument_id.venue)
                if exchange is not None:
                    method(exchange, datum)
            process(datum)
            count += 1
            datum = next(stream, None)
        return count

    def _result(
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
        return BacktestResult(
            orders=_orders_frame(cache.orders()),
            fills=_fills_frame([e for e in events if isinstance(e, OrderFilled)]),
            positions=_positions_frame(positions),
            account_history=_accounts_frame(accounts),
            balances={str(a.id): {c.code: a.balance(c) for c in a.currencies()} for a in accounts},
            realized_pnl={c: Money(v, currencies[c]) for c, v in realized.items()},
            commissions={c: Money(v, currencies[c]) for c, v in fees.items()},
            events=events,
            data_count=count,
            elapsed_seconds=elapsed,
            start_ns=self.config.start_ns,
            end_ns=self.config.end_ns,
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


def _strategy(config: StrategyConfig) -> Strategy[Any]:
    cls = resolve_strategy(config.path)
    params_type = strategy_params_type(cls)
    kwargs: dict[str, Any] = {}
    if config.strategy_id is not None:
        kwargs["strategy_id"] = config.strategy_id
    if config.order_id_tag is not None:
        kwargs["order_id_tag"] = config.order_id_tag
    if params_type is not None:
        import msgspec

        kwargs["params"] = msgspec.convert(config.params, params_type, strict=False)
    strategy = cls(**kwargs)
    assert isinstance(strategy, Strategy)
    return strategy


def _f(value: Any) -> float | None:
    # Prices, quantities and money become floats at this edge (statistics, charts).
    if value is None:
        return None
    return float(value.as_decimal() if hasattr(value, "as_decimal") else value)


def _orders_frame(orders: list[Any]) -> pd.DataFrame:
    rows = [
        {
            "client_order_id": str(o.client_order_id),
            "venue_order_id": None if o.venue_order_id is None else str(o.venue_order_id),
            "strategy_id": str(o.strategy_id),
            "instrument_id": str(o.instrument_id),
            "side": o.side.name,
            "type": o.order_type.name,
            "quantity": _f(o.quantity),
            "price": _f(o.price),
            "time_in_force": o.time_in_force.name,
            "status": o.status.name,
            "filled_qty": _f(o.filled_qty),
            "avg_px": _f(o.avg_px),
            "ts_init": o.init.ts_init,
        }
        for o in orders
    ]
    return pd.DataFrame(rows, columns=_ORDER_COLUMNS)


_ORDER_COLUMNS = [
    "client_order_id",
    "venue_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "type",
    "quantity",
    "price",
    "time_in_force",
    "status",
    "filled_qty",
    "avg_px",
    "ts_init",
]


def _fills_frame(fills: list[OrderFilled]) -> pd.DataFrame:
    rows = [
        {
            "ts_event": f.ts_event,
            "client_order_id": str(f.client_order_id),
            "venue_order_id": str(f.venue_order_id),
            "trade_id": str(f.trade_id),
            "strategy_id": str(f.strategy_id),
            "instrument_id": str(f.instrument_id),
            "account_id": str(f.account_id),
            "side": f.order_side.name,
            "last_qty": _f(f.last_qty),
            "last_px": _f(f.last_px),
            "commission": _f(f.commission),
            "commission_currency": f.commission.currency.code,
            "liquidity_side": f.liquidity_side.name,
        }
        for f in fills
    ]
    return pd.DataFrame(rows, columns=_FILL_COLUMNS)


_FILL_COLUMNS = [
    "ts_event",
    "client_order_id",
    "venue_order_id",
    "trade_id",
    "strategy_id",
    "instrument_id",
    "account_id",
    "side",
    "last_qty",
    "last_px",
    "commission",
    "commission_currency",
    "liquidity_side",
]


def _positions_frame(positions: list[Any]) -> pd.DataFrame:
    rows = [
        {
            "position_id": str(p.id),
            "strategy_id": str(p.strategy_id),
            "instrument_id": str(p.instrument_id),
            "side": p.side.name,
            "signed_qty": float(p.signed_qty),
            "peak_qty": _f(p.peak_qty),
            "avg_px_open": float(p.avg_px_open),
            "avg_px_close": _f(p.avg_px_close),
            "realized_pnl": _f(p.realized_pnl),
            "currency": p.currency.code,
            "ts_opened": p.ts_opened,
            "ts_closed": p.ts_closed,
        }
        for p in positions
    ]
    return pd.DataFrame(rows, columns=_POSITION_COLUMNS)


_POSITION_COLUMNS = [
    "position_id",
    "strategy_id",
    "instrument_id",
    "side",
    "signed_qty",
    "peak_qty",
    "avg_px_open",
    "avg_px_close",
    "realized_pnl",
    "currency",
    "ts_opened",
    "ts_closed",
]


def _accounts_frame(accounts: list[Account]) -> pd.DataFrame:
    rows = [
        {
            "ts_event": state.ts_event,
            "account_id": str(state.account_id),
            "reason": state.reason,
            "currency": balance.total.currency.code,
            "total": _f(balance.total),
            "locked": _f(balance.locked),
            "free": _f(balance.free),
            "margin_call": state.margin_call,
        }
        for account in accounts
        for state in account.events
        for balance in state.balances
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "ts_event",
            "account_id",
            "reason",
            "currency",
            "total",
            "locked",
            "free",
            "margin_call",
        ],
    )
