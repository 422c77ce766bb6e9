"""``ResultSampler``: mark-to-market equity, mark prices and net positions over data time.

The sampler costs nothing per market datum: it runs only on a clock timer (every
``interval_ns`` of data time, on whole multiples of the interval), on each position event (so
every fill is sampled, after the portfolio applied it), when the run starts (stamped 1 ns
before the first datum) and when it stops.

At each sample it records:

- per instrument, the **mark price**: the mid of the matching core's book when both sides
  are quoted, else the core's last trade (with an L1 book built from trades both are the
  last trade); nothing before the instrument has a market;
- per instrument and strategy ever held, the **net signed quantity** (``0.0`` when flat);
- per account and currency, the settled **balance**, the **unrealized** PnL of the open
  positions settling in that currency at the mark price (at the position's last fill price
  while its instrument has no mark), and the **equity**:

  - margin account: ``equity = balance + unrealized``;
  - cash account: the balance already paid for the open positions (a spot buy moves the quote
    balance), so ``equity = balance + market value`` of those positions
    (``signed_qty × mark × multiplier``, i.e. their cost plus the unrealized PnL). The base
    currency's own balance row is reported as it is, so do not add rows of different
    currencies.

Values are floats (this is the statistics edge); the PnL itself is computed exactly by
:class:`~zq.model.position.Position` and rounded once here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from zq.backtest.result import SampleRecords
from zq.common import topics
from zq.common.component import Component
from zq.model.position import EXACT_CONTEXT, Position
from zq.portfolio.account import Account, CashAccount
from zq_core.fixed import FIXED_PRECISION_MAX, Price

if TYPE_CHECKING:
    from zq.backtest.exchange import SimulatedExchange
    from zq.cache import Cache
    from zq.common.clock import Clock, TimeEvent
    from zq.model.identifiers import InstrumentId, StrategyId, Venue
    from zq.model.position import PositionEvent
    from zq_core.bus import MessageBus
    from zq_core.matching import MatchingCore

__all__ = ["DEFAULT_SAMPLE_INTERVAL_NS", "SAMPLE_TIMER", "ResultSampler"]

#: One minute of data time.
DEFAULT_SAMPLE_INTERVAL_NS = 60 * 1_000_000_000
#: The name of the sampler's timer on the clock.
SAMPLE_TIMER = "zq.backtest.sample"


def mark_price(core: MatchingCore) -> Price | None:
    """Return the mark price of a matching core: its book's mid, else its last trade.

    The mid of two prices of precision ``p`` is exact at precision ``p + 1``; at the
    largest precision it is rounded down (it stays inside the spread).
    """
    book = core.book
    bid, ask = book.best_bid_raw(), book.best_ask_raw()
    precision = core.price_precision
    if bid is not None and ask is not None:
        if precision < FIXED_PRECISION_MAX:
            return Price.from_raw((bid + ask) * 5, precision + 1)
        return Price.from_raw((bid + ask) // 2, precision)
    last = core.last_trade
    return None if last is None else Price.from_raw(last, precision)


class ResultSampler(Component):
    """Sample prices, positions and mark-to-market equity during a backtest.

    Parameters
    ----------
    clock : Clock
        The node's clock; the timer runs on it.
    bus : MessageBus
        The position events of ``strategy_ids`` are sampled (one sample per fill).
    cache : Cache
        Where the accounts and positions are read.
    exchanges : Mapping[Venue, SimulatedExchange]
        The simulated venues; their matching cores give the mark prices.
    strategy_ids : Iterable[StrategyId]
        The strategies whose fills are sampled.
    interval_ns : int, default one minute
        The period of the timer samples, in nanoseconds of data time.

    Raises
    ------
    ValueError
        If ``interval_ns`` is not positive.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        exchanges: Mapping[Venue, SimulatedExchange],
        strategy_ids: Iterable[StrategyId],
        interval_ns: int = DEFAULT_SAMPLE_INTERVAL_NS,
    ) -> None:
        if not isinstance(interval_ns, int) or interval_ns <= 0:
            raise ValueError(f"sample_interval_ns must be a positive int, got {interval_ns!r}")
        super().__init__("ResultSampler")
        self.clock = clock
        self.bus = bus
        self.cache = cache
        self.interval_ns = interval_ns
        self.records = SampleRecords()
        self.sample_count = 0
        self._exchanges = dict(exchanges)
        self._cores: dict[InstrumentId, MatchingCore] = {}
        self._topics = [topics.position_events(s) for s in strategy_ids]
        # Every (instrument, strategy) ever held, in first-seen order (flat is sampled as 0),
        # with the names recorded for it: one string per id, shared by every row.
        self._held: dict[tuple[InstrumentId, StrategyId], tuple[str, str]] = {}
        self._instrument_names: dict[InstrumentId, str] = {}
        self._account_names: dict[object, str] = {}
        self._last_fill: tuple[object, ...] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def _on_start(self) -> None:
        self._cores = {}
        for instrument in self.cache.instruments():
            exchange = self._exchanges.get(instrument.id.venue)
            if exchange is not None:
                self._cores[instrument.id] = exchange.core(instrument.id)
                self._instrument_names[instrument.id] = str(instrument.id)
        now = self.clock.timestamp_ns()
        # The opening sample is stamped 1 ns before the start, so it stays apart from the
        # samples of fills at the first datum's time (samples at one instant keep the last).
        self.sample(max(now - 1, 0))
        interval = self.interval_ns
        boundary = -(-now // interval) * interval  # the first whole multiple at or after now
        self.clock.set_timer(
            SAMPLE_TIMER,
            interval,
            self._on_timer,
            start_ns=boundary,
            fire_immediately=boundary > now,  # at `now` itself the opening sample is taken
        )
        for topic in self._topics:
            self.bus.subscribe(topic, self._on_position_event)

    def _on_stop(self) -> None:
        for topic in self._topics:
            self.bus.unsubscribe(topic, self._on_position_event)
        if SAMPLE_TIMER in self.clock.timer_names:
            self.clock.cancel_timer(SAMPLE_TIMER)
        self.sample(self.clock.timestamp_ns())

    def _on_timer(self, event: TimeEvent) -> None:
        self.sample(event.ts_event)

    def _on_position_event(self, event: PositionEvent) -> None:
        # A fill through zero publishes two events (closed, then opened) after the
        # portfolio applied the whole fill: the first one's sample is already the final
        # state, so one sample per fill.
        fill = (event.ts_event, event.position_id, event.last_trade_id)
        if fill == self._last_fill:
            return
        self._last_fill = fill
        self.sample(event.ts_event)

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, ts: int) -> None:
        """Record the mark prices, net positions and equity at ``ts``."""
        self.sample_count += 1
        records = self.records
        marks: dict[InstrumentId, Price] = {}
        for instrument_id, core in self._cores.items():
            mark = mark_price(core)
            if mark is not None:
                marks[instrument_id] = mark
                records.price_ts.append(ts)
                records.price_instrument.append(self._instrument_names[instrument_id])
                records.price_value.append(mark.as_double())

        net: dict[tuple[InstrumentId, StrategyId], Decimal] = {}
        unrealized: dict[tuple[str, str], Decimal] = {}
        market_value: dict[tuple[str, str], Decimal] = {}
        with localcontext(EXACT_CONTEXT):
            for position in self.cache.positions_open():
                if not isinstance(position, Position):
                    continue
                held = (position.instrument_id, position.strategy_id)
                if held not in self._held:
                    self._held[held] = (str(held[0]), str(held[1]))
                net[held] = net.get(held, Decimal(0)) + position.signed_qty
                mark = marks.get(position.instrument_id, position.last_px)
                key = (str(position.account_id), position.currency.code)
                unrealized[key] = unrealized.get(key, Decimal(0)) + (
                    position.unrealized_pnl_decimal(mark)
                )
                value = position.signed_qty * mark.as_decimal() * position.multiplier
                market_value[key] = market_value.get(key, Decimal(0)) + value

        for held, (instrument_name, strategy_name) in self._held.items():
            records.position_ts.append(ts)
            records.position_instrument.append(instrument_name)
            records.position_strategy.append(strategy_name)
            records.position_qty.append(float(net.get(held, 0)))

        for account in self.cache.accounts():
            if not isinstance(account, Account):
                continue
            account_id = self._account_names.get(account.id)
            if account_id is None:
                account_id = self._account_names[account.id] = str(account.id)
            cash = isinstance(account, CashAccount)
            for currency in account.currencies():
                key = (account_id, currency.code)
                balance = account.balance(currency).as_decimal()
                gain = unrealized.get(key, Decimal(0))
                added = market_value.get(key, Decimal(0)) if cash else gain
                records.equity_ts.append(ts)
                records.equity_account.append(account_id)
                records.equity_currency.append(currency.code)
                records.equity_balance.append(float(balance))
                records.equity_unrealized.append(float(gain))
                records.equity_value.append(float(balance + added))

