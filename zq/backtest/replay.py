"""The Python side of the compiled replay loop (``zq_core.replay``).

:class:`Resolver` tells the loop where each series goes: the venue's matching core, and
what the data engine wants of it. :func:`object_runs` turns market data objects (given to
``BacktestNode(data=...)``) into runs the loop replays like array rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from zq.backtest.exchange import SimulatedExchange
from zq.data.catalog.schema import DataKind, DataSeries
from zq.data.engine import DataEngine
from zq.model.data import Bar, BarType, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import BookAction, BookType, OrderSide
from zq.model.identifiers import InstrumentId, Venue
from zq.model.instruments import Instrument

__all__ = ["KIND_CODES", "Resolver", "object_runs"]

#: The loop's kind codes: the catalog's tie-break rank at equal ``ts_init``.
KIND_CODES: dict[DataKind, int] = {kind: rank for rank, kind in enumerate(DataKind)}
_KIND_NAMES = {rank: kind.value for kind, rank in KIND_CODES.items()}
_OBJECT_KINDS: dict[type, DataKind] = {
    OrderBookDelta: DataKind.DELTAS,
    QuoteTick: DataKind.QUOTES,
    TradeTick: DataKind.TRADES,
    Bar: DataKind.BARS,
}

Runs = Iterable[tuple[DataSeries, Any]]

_log = logging.getLogger(__name__)

#: The data each kind of venue book matches on. Other data still reaches the strategies
#: (an L2 venue's quotes, say) but not the matching core.
_FEEDS: dict[BookType, tuple[DataKind, ...]] = {
    BookType.L1_MBP: (DataKind.QUOTES, DataKind.TRADES, DataKind.BARS),
    BookType.L2_MBP: (DataKind.DELTAS, DataKind.TRADES),
    BookType.L3_MBO: (DataKind.DELTAS, DataKind.TRADES),
}


class Resolver:
    """Answer the replay loop's questions about series (see ``zq_core.replay.ReplayLoop``).

    Parameters
    ----------
    data_engine : DataEngine
        The run's data engine.
    exchanges : dict[Venue, SimulatedExchange]
        The simulated venues.
    instruments : dict[InstrumentId, Instrument]
        The run's instruments (to check the series' precisions against).
    """

    def __init__(
        self,
        data_engine: DataEngine,
        exchanges: dict[Venue, SimulatedExchange],
        instruments: dict[InstrumentId, Instrument],
    ) -> None:
        self.data_engine = data_engine
        self._exchanges = exchanges
        self._instruments = instruments
        self._keys: dict[DataSeries, InstrumentId | BarType] = {}

    def key(self, series: DataSeries) -> InstrumentId | BarType:
        """Return the series' key object: its instrument id, or its bar type."""
        key = self._keys.get(series)
        if key is None:
            kind = DataKind.of(series.kind)
            bars = kind is DataKind.BARS
            key = BarType.from_str(series.key) if bars else InstrumentId(series.key)
            self._keys[series] = key
        return key

    def venue(self, series: DataSeries) -> tuple[int, Any, int, int, Any, Any]:
        """Return ``(kind, key, price_precision, size_precision, exchange, core)``.

        Raises
        ------
        ValueError
            If the series' precisions differ from its instrument's (the matching core reads
            raw values at the instrument's precisions).
        """
        kind = DataKind.of(series.kind)
        key = self.key(series)
        instrument_id = series.instrument_id
        exchange = self._exchanges.get(instrument_id.venue)
        core = None
        if exchange is not None and kind not in _FEEDS[exchange.book_type]:
            _log.info(
                "%s of %s do not feed venue %s's matching (an %s venue matches on %s)",
                kind.value, series.key, instrument_id.venue, exchange.book_type.name,
                " and ".join(k.value for k in _FEEDS[exchange.book_type]),
            )
            exchange = None
        if exchange is not None and instrument_id in self._instruments:
            instrument = self._instruments[instrument_id]
            if (series.price_precision, series.size_precision) != (
                instrument.price_precision,
                instrument.size_precision,
            ):
                raise ValueError(
                    f"{kind.value} of {series.key} have price/size precisions "
                    f"{series.price_precision}/{series.size_precision}, but instrument "
                    f"{instrument_id} has {instrument.price_precision}/"
                    f"{instrument.size_precision}: load the data at the instrument's precisions"
                )
            core = exchange.core(instrument_id)
        else:
            exchange = None
        return (
            KIND_CODES[kind],
            key,
            series.price_precision,
            series.size_precision,
            exchange,
            core,
        )

    def data(self, series: DataSeries) -> tuple[Any, Any, Any, Any, Any]:
        """Return the data engine's ``replay_route`` answer for the series."""
        return self.data_engine.replay_route(
            DataKind.of(series.kind).value,
            self.key(series),
            series.price_precision,
            series.size_precision,
        )

    def dtype(self, kind: int) -> np.dtype[np.void]:
        """Return the numpy dtype of the rows of ``kind``."""
        return DataKind(_KIND_NAMES[kind]).dtype

    def make(self, kind: int) -> Callable[..., Any]:
        """Return the callable that makes a quote or bar from raw fields (the loop makes
        trades and deltas itself, see ``delta_types``)."""
        name = _KIND_NAMES[kind]
        if name == "quotes":
            return QuoteTick
        if name == "bars":
            return Bar
        raise ValueError(f"the loop makes {name} itself")

    def delta_types(
        self,
    ) -> tuple[type[OrderBookDelta], tuple[BookAction | None, ...], tuple[OrderSide, ...]]:
        """Return what deltas are made of: the class, actions and sides by value."""
        actions = {int(action): action for action in BookAction}
        return (
            OrderBookDelta,
            tuple(actions.get(i) for i in range(max(actions) + 1)),
            tuple(OrderSide(i) for i in range(len(OrderSide))),
        )


def object_runs(
    data: Iterable[Any],
    instruments: dict[InstrumentId, Instrument],
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Iterator[tuple[DataSeries, list[Any]]]:
    """Group market data objects (in ``ts_init`` order) into runs of one series each.

    A series has its instrument's precisions (objects carry their own; the loop reads an
    object's fields, not raw rows). Objects outside ``[start_ns, end_ns]`` (by
    ``ts_init``) are skipped.

    Raises
    ------
    TypeError
        If an object is not a quote, trade, bar or book delta.
    """
    series: DataSeries | None = None
    signature: tuple[Any, ...] | None = None
    run: list[Any] = []
    for datum in data:
        ts = datum.ts_init
        if start_ns is not None and ts < start_ns:
            continue
        if end_ns is not None and ts > end_ns:
            break
        kind = _OBJECT_KINDS.get(type(datum))
        if kind is None:
            raise TypeError(
                f"cannot replay a {type(datum).__name__}: expected a QuoteTick, TradeTick, "
                "Bar or OrderBookDelta"
            )
        key = datum.bar_type if kind is DataKind.BARS else datum.instrument_id
        current = (kind, key)
        if current != signature:
            if run:
                assert series is not None
                yield series, run
            signature = current
            instrument = instruments.get(
                key.instrument_id if isinstance(key, BarType) else key
            )
            if instrument is not None:
                precisions = (instrument.price_precision, instrument.size_precision)
            elif kind is DataKind.BARS:
                precisions = (datum.open.precision, datum.volume.precision)
            elif kind is DataKind.QUOTES:
                precisions = (datum.bid_price.precision, datum.bid_size.precision)
            else:
                precisions = (datum.price.precision, datum.size.precision)
            series = DataSeries(kind, str(key), *precisions)
            run = []
        run.append(datum)
    if run:
        assert series is not None
        yield series, run
