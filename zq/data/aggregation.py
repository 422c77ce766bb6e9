"""Bar aggregation: build bars of one ``BarType`` from trades or quotes.

An aggregator is a small state machine: feed it ticks with :meth:`BarAggregator.handle`
and it calls its handler with each bar it completes. It knows nothing of clocks or the
bus, so the same code aggregates a live stream (the DataEngine closes time bars with clock
alerts) and a list of historical ticks (:func:`aggregate_bars`).

Prices come from trades for ``PriceType.LAST`` and from quotes for ``BID``, ``ASK`` and
``MID``; sizes likewise (a mid size is the mean of the bid and ask sizes). A mid price or
size has one more decimal than the quote, so it is exact. All arithmetic is exact: volume is
a ``Quantity`` sum, value a ``Decimal`` sum of ``|price| × size``.

The rules, which every aggregator follows:

- **Time bars** (``MILLISECOND`` .. ``DAY``) cover half-open intervals ``[open, close)``
  aligned on multiples of the interval since the UNIX epoch (UTC). A tick belongs to the
  interval of its ``ts_init`` (the time zq received it, the time a backtest's clock shows
  when it is processed), so a tick at exactly a close opens the *next* bar. A bar is closed
  by :meth:`TimeBarAggregator.close_until` once time reaches its close (the DataEngine's
  clock alert), or by the first tick at or after its close, whichever comes first. It is
  stamped ``ts_event = close``. An interval without ticks produces **no bar**. A late tick
  (``ts_init`` before the close of the last bar already built) goes to the next bar: a bar
  is never changed once built.
- **Tick bars** close on their ``step``-th tick.
- **Volume bars** close when their volume reaches ``step`` exactly: a tick that overshoots
  is **split**, the part that fills the bar goes into it and the rest opens the next bar (a
  tick of several steps makes several bars at its price). Every volume bar's volume is
  exactly ``step``.
- **Value bars** close on the tick that brings their value (``Σ |price| × size``) to
  ``step`` or more. A tick is **not** split (a fraction of it would need a size the
  instrument cannot represent): it belongs wholly to the bar it closes, and the next bar
  starts from zero.

Tick, volume and value bars are stamped with the closing tick's ``ts_event`` and
``ts_init``. Only completed bars are ever emitted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from decimal import Decimal

from zq.model.data import Bar, BarType, QuoteTick, TradeTick
from zq.model.enums import AggregationSource, BarAggregation, PriceType
from zq_core.fixed import FIXED_PRECISION_MAX, Price, Quantity

__all__ = [
    "BarAggregator",
    "BarHandler",
    "TickBarAggregator",
    "TimeBarAggregator",
    "ValueBarAggregator",
    "VolumeBarAggregator",
    "aggregate_bars",
    "make_bar_aggregator",
    "mid_price",
    "mid_size",
]

#: Called with each completed bar; what it returns is ignored.
BarHandler = Callable[[Bar], object]


def _half_sum_raw(a_raw: int, a_precision: int, b_raw: int, b_precision: int) -> tuple[int, int]:
    """Return ``(raw, precision)`` of ``(a + b) / 2``, exact with one more decimal."""
    precision = max(a_precision, b_precision)
    total = a_raw * 10 ** (precision - a_precision) + b_raw * 10 ** (precision - b_precision)
    if precision < FIXED_PRECISION_MAX:
        return total * 5, precision + 1
    half, odd = divmod(total, 2)  # no decimal left: round half to even
    if odd and half % 2:
        half += 1
    return half, precision


def mid_price(quote: QuoteTick) -> Price:
    """Return the mid of a quote's bid and ask, with one more decimal than the quote."""
    bid, ask = quote.bid_price, quote.ask_price
    return Price.from_raw(*_half_sum_raw(bid.raw, bid.precision, ask.raw, ask.precision))


def mid_size(quote: QuoteTick) -> Quantity:
    """Return the mean of a quote's bid and ask sizes, with one more decimal than the quote."""
    bid, ask = quote.bid_size, quote.ask_size
    return Quantity.from_raw(*_half_sum_raw(bid.raw, bid.precision, ask.raw, ask.precision))


class _BarBuilder:
    """The open bar: OHLC, volume and tick count since it opened."""

    __slots__ = ("close", "count", "high", "low", "open", "volume")

    def __init__(self) -> None:
        self.open: Price | None = None
        self.high: Price | None = None
        self.low: Price | None = None
        self.close: Price | None = None
        self.volume: Quantity | None = None
        self.count = 0

    def add(self, price: Price, size: Quantity) -> None:
        if self.open is None or self.high is None or self.low is None or self.volume is None:
            self.open = self.high = self.low = price
            self.volume = size
        else:
            if price > self.high:
                self.high = price
            elif price < self.low:
                self.low = price
            self.volume = self.volume + size
        self.close = price
        self.count += 1

    def build(self, bar_type: BarType, ts_event: int, ts_init: int) -> Bar:
        assert self.open is not None and self.high is not None and self.low is not None
        assert self.close is not None and self.volume is not None
        bar = Bar(
            bar_type, self.open, self.high, self.low, self.close, self.volume, ts_event, ts_init
        )
        self.open = self.high = self.low = self.close = self.volume = None
        self.count = 0
        return bar


class BarAggregator(ABC):
    """Build the bars of one internal ``BarType`` and hand each completed bar to ``handler``.

    Parameters
    ----------
    bar_type : BarType
        What to build; its source must be ``AggregationSource.INTERNAL``.
    handler : BarHandler
        Called with each completed bar, in order.

    Raises
    ------
    ValueError
        If the bar type is not internal, or does not match the aggregator's kind.
    """

    def __init__(self, bar_type: BarType, handler: BarHandler) -> None:
        if bar_type.source is not AggregationSource.INTERNAL:
            raise ValueError(
                f"cannot aggregate {bar_type}: its source is {bar_type.source.name}, "
                "zq aggregates only INTERNAL bar types"
            )
        self.bar_type = bar_type
        self.step = bar_type.spec.step
        self._handler = handler
        self._builder = _BarBuilder()
        self.price_type = bar_type.spec.price_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bar_type})"

    @property
    def uses_trades(self) -> bool:
        """Whether the bars are built from trades (``LAST``) rather than quotes."""
        return self.price_type is PriceType.LAST

    @property
    def has_open_bar(self) -> bool:
        """Whether a bar has received ticks and is not complete yet."""
        return self._builder.count > 0

    def handle(self, tick: QuoteTick | TradeTick) -> None:
        """Add a trade or a quote (whichever the bar type's price type is built from).

        Raises
        ------
        TypeError
            If the tick is a trade for a quote bar type, or a quote for a ``LAST`` one.
        """
        if type(tick) is TradeTick:
            self.handle_trade(tick)
        else:
            assert isinstance(tick, QuoteTick)
            self.handle_quote(tick)

    def handle_trade(self, trade: TradeTick) -> None:
        """Add a trade; only for ``LAST`` bar types."""
        if self.price_type is not PriceType.LAST:
            raise TypeError(f"{self.bar_type} is built from quotes, not trades")
        self.update(trade.price, trade.size, trade.ts_event, trade.ts_init)

    def handle_quote(self, quote: QuoteTick) -> None:
        """Add a quote; only for ``BID``, ``ASK`` and ``MID`` bar types."""
        price_type = self.price_type
        if price_type is PriceType.BID:
            self.update(quote.bid_price, quote.bid_size, quote.ts_event, quote.ts_init)
        elif price_type is PriceType.ASK:
            self.update(quote.ask_price, quote.ask_size, quote.ts_event, quote.ts_init)
        elif price_type is PriceType.MID:
            self.update(mid_price(quote), mid_size(quote), quote.ts_event, quote.ts_init)
        else:
            raise TypeError(f"{self.bar_type} is built from trades, not quotes")

    @abstractmethod
    def update(self, price: Price, size: Quantity, ts_event: int, ts_init: int) -> None:
        """Add one price and size observed at ``ts_event``, received at ``ts_init``."""

    def close_until(self, ts_ns: int, ts_init: int | None = None) -> None:  # noqa: B027
        """Complete the bars whose close is at or before ``ts_ns`` (time bars only).

        Other aggregators close on ticks, so for them this does nothing.
        """

    def reset(self) -> None:
        """Drop the open bar and start afresh."""
        self._builder = _BarBuilder()

    def _emit(self, ts_event: int, ts_init: int) -> None:
        self._handler(self._builder.build(self.bar_type, ts_event, ts_init))


class TickBarAggregator(BarAggregator):
    """Close a bar on every ``step``-th tick."""

    def __init__(self, bar_type: BarType, handler: BarHandler) -> None:
        if bar_type.spec.aggregation is not BarAggregation.TICK:
            raise ValueError(f"{bar_type} is not a tick bar type")
        super().__init__(bar_type, handler)

    def update(self, price: Price, size: Quantity, ts_event: int, ts_init: int) -> None:
        """Add a tick; complete the bar if it is the ``step``-th."""
        builder = self._builder
        builder.add(price, size)
        if builder.count == self.step:
            self._emit(ts_event, ts_init)


class VolumeBarAggregator(BarAggregator):
    """Close a bar when its volume reaches ``step``, splitting the tick that overshoots."""

    def __init__(self, bar_type: BarType, handler: BarHandler) -> None:
        if bar_type.spec.aggregation is not BarAggregation.VOLUME:
            raise ValueError(f"{bar_type} is not a volume bar type")
        super().__init__(bar_type, handler)
        self._steps: dict[int, Quantity] = {}  # the step at each size precision seen

    def _step_at(self, precision: int) -> Quantity:
        step = self._steps.get(precision)
        if step is None:
            step = self._steps[precision] = Quantity.from_raw(self.step * 10**precision, precision)
        return step

    def update(self, price: Price, size: Quantity, ts_event: int, ts_init: int) -> None:
        """Add a tick's size, completing as many bars as it fills."""
        builder = self._builder
        step = self._step_at(size.precision)  # volumes keep the precision of the sizes
        left = size
        while True:
            volume = builder.volume
            needed = step if volume is None else step - volume
            if left < needed:
                builder.add(price, left)
                return
            builder.add(price, needed)
            self._emit(ts_event, ts_init)
            left = left - needed
            if not left:
                return


class ValueBarAggregator(BarAggregator):
    """Close a bar on the tick that brings its value (``Σ |price| × size``) to ``step``."""

    def __init__(self, bar_type: BarType, handler: BarHandler) -> None:
        if bar_type.spec.aggregation is not BarAggregation.VALUE:
            raise ValueError(f"{bar_type} is not a value bar type")
        super().__init__(bar_type, handler)
        self._step_value = Decimal(self.step)
        self._value = Decimal(0)

    @property
    def value(self) -> Decimal:
        """The value of the open bar so far."""
        return self._value

    def update(self, price: Price, size: Quantity, ts_event: int, ts_init: int) -> None:
        """Add a tick; complete the bar if its value reached ``step``."""
        self._builder.add(price, size)
        self._value += abs(price * size)
        if self._value >= self._step_value:
            self._value = Decimal(0)
            self._emit(ts_event, ts_init)

    def reset(self) -> None:
        """Drop the open bar and start afresh."""
        super().reset()
        self._value = Decimal(0)


class TimeBarAggregator(BarAggregator):
    """Build bars over intervals ``[open, close)`` aligned on the UNIX epoch.

    Parameters
    ----------
    bar_type : BarType
        A time-aggregated internal bar type.
    handler : BarHandler
        Called with each completed bar.
    on_open : Callable[[int], object], optional
        Called with the close time of each bar when its first tick arrives, so the owner
        can arrange for :meth:`close_until` to be called then (the DataEngine sets a clock
        alert).
    """

    def __init__(
        self,
        bar_type: BarType,
        handler: BarHandler,
        on_open: Callable[[int], object] | None = None,
    ) -> None:
        if not bar_type.spec.is_time_aggregated:
            raise ValueError(f"{bar_type} is not a time bar type")
        super().__init__(bar_type, handler)
        self.interval_ns = bar_type.spec.interval_ns
        self._on_open = on_open
        self._close_ns: int | None = None
        self._floor_ns = 0  # the close of the last bar built: no tick goes before it

    @property
    def close_ns(self) -> int | None:
        """The close time of the open bar, or None when no bar is open."""
        return self._close_ns

    def update(self, price: Price, size: Quantity, ts_event: int, ts_init: int) -> None:
        """Add a tick to the bar of its ``ts_init``, first completing the bar before it."""
        close_ns = self._close_ns
        if close_ns is not None and ts_init >= close_ns:
            self.close_until(ts_init, ts_init)
            close_ns = None
        if close_ns is None:
            at = max(ts_init, self._floor_ns)
            close_ns = self._close_ns = at - at % self.interval_ns + self.interval_ns
            self._builder.add(price, size)
            if self._on_open is not None:
                self._on_open(close_ns)
        else:
            self._builder.add(price, size)

    def close_until(self, ts_ns: int, ts_init: int | None = None) -> None:
        """Complete the open bar if its close is at or before ``ts_ns``.

        Parameters
        ----------
        ts_ns : int
            The time reached, in UNIX nanoseconds.
        ts_init : int, optional
            The bar's ``ts_init`` (when it was built); default its close.
        """
        close_ns = self._close_ns
        if close_ns is None or close_ns > ts_ns:
            return
        self._close_ns = None
        self._floor_ns = close_ns
        self._emit(close_ns, close_ns if ts_init is None else ts_init)

    def reset(self) -> None:
        """Drop the open bar and start afresh."""
        super().reset()
        self._close_ns = None
        self._floor_ns = 0


def make_bar_aggregator(
    bar_type: BarType,
    handler: BarHandler,
    on_open: Callable[[int], object] | None = None,
) -> BarAggregator:
    """Return the aggregator for ``bar_type`` (``on_open`` is used by time bars only).

    Raises
    ------
    ValueError
        If the bar type is not internal.
    """
    aggregation = bar_type.spec.aggregation
    if bar_type.spec.is_time_aggregated:
        return TimeBarAggregator(bar_type, handler, on_open)
    if aggregation is BarAggregation.TICK:
        return TickBarAggregator(bar_type, handler)
    if aggregation is BarAggregation.VOLUME:
        return VolumeBarAggregator(bar_type, handler)
    if aggregation is BarAggregation.VALUE:
        return ValueBarAggregator(bar_type, handler)
    raise ValueError(f"no aggregator for {bar_type}")  # pragma: no cover - enum exhausted


def aggregate_bars(
    bar_type: BarType,
    ticks: Iterable[QuoteTick | TradeTick],
    until_ns: int | None = None,
) -> list[Bar]:
    """Aggregate historical ticks (in ``ts_init`` order) into the completed bars.

    Parameters
    ----------
    bar_type : BarType
        An internal bar type.
    ticks : Iterable[QuoteTick | TradeTick]
        Trades for ``LAST``, quotes otherwise.
    until_ns : int, optional
        The time reached: time bars closing at or before it are completed. Default: only
        the bars the ticks themselves complete. Time bars are stamped ``ts_init = close``,
        the time a clock would have completed them.

    Returns
    -------
    list[Bar]
        The bars, in the order live aggregation would have published them.
    """
    bars: list[Bar] = []
    aggregator = make_bar_aggregator(bar_type, bars.append)
    handle = aggregator.handle
    close_until = aggregator.close_until
    for tick in ticks:
        close_until(tick.ts_init)  # as a clock would have: built at its close
        handle(tick)
    if until_ns is not None:
        aggregator.close_until(until_ns)
    return bars
