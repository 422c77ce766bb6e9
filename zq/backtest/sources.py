"""Backtest data sources and instruments, from their configs.

A *source* is an iterator of runs ``(DataSeries, rows)``: ``rows`` is a numpy array of the
series kind's dtype (:mod:`zq.data.arrays`) and the runs come in non-decreasing
``ts_init`` order, within a run and from one run to the next. A run may be a whole loader
chunk. The node merges the sources of a config by ``ts_init``; nothing here creates a
Python object per row.

===============  =========================================================================
kind             what a source yields
===============  =========================================================================
``generated``    trades of a seeded random walk of the demo pair (``zq.demo``)
``catalog``      the runs of :meth:`~zq.data.catalog.ParquetDataCatalog.stream`
``binance``      book deltas, bookTicker quotes and trades of a raw capture, interleaved
``quantconnect`` LEAN trade or quote ticks, one file after the other
``bars_csv``     OHLCV bars stamped at their close
``databento``    DBN market data (deltas, quotes, trades, bars) in file order
``tardis``       Tardis.dev trades, quotes or ``incremental_book_L2`` deltas
===============  =========================================================================

Prices and sizes are read at the precisions of the run's instrument, so the data's
instrument must be one of the run's (``[[instruments]]``, or a catalog's stored ones).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zq.backtest.config import (
    BacktestConfig,
    DataConfig,
    InstrumentConfig,
    _InstrumentKeyError,
    _to_ns,
)
from zq.data.catalog.schema import DataKind, DataSeries
from zq.data.errors import DataFormatError
from zq.model.currency import Currency
from zq.model.data import BarType
from zq.model.enums import AssetClass
from zq.model.identifiers import InstrumentId
from zq.model.instruments import (
    CryptoPerpetual,
    CurrencyPair,
    Equity,
    FuturesContract,
    Instrument,
    InstrumentError,
)
from zq_core.fixed import Price, Quantity

__all__ = [
    "Rows",
    "Run",
    "catalog_instruments",
    "instrument_from_config",
    "open_source",
    "open_sources",
    "runs_to_objects",
]

Rows = npt.NDArray[np.void]
Run = tuple[DataSeries, Rows]
Instruments = Mapping[InstrumentId, Instrument]

_INT64_MIN = np.iinfo(np.int64).min


# -- sources ---------------------------------------------------------------------------------


def open_sources(
    config: BacktestConfig, instruments: Instruments, base_dir: Path | str | None = None
) -> list[Iterator[Run]]:
    """Open every data source of ``config``, bounded by its ``start`` and ``end``.

    Parameters
    ----------
    config : BacktestConfig
        The run; its ``data`` are opened in order.
    instruments : Mapping[InstrumentId, Instrument]
        The run's instruments (the data's precisions come from them).
    base_dir : Path or str, optional
        Folder of relative paths; ``config.base_dir`` (then the working directory) by
        default.
    """
    base = Path(base_dir if base_dir is not None else config.base_dir or ".")
    start, end = config.start_ns, config.end_ns
    sources: list[Iterator[Run]] = []
    for data in config.data:
        if data.kind == "catalog":
            # One source per series: the replay loop merges them in C, in whole chunks.
            catalog = _open_catalog(data, base)
            streams = catalog.series_streams(data.kinds, data.instruments, start, end)
            sources.extend(_clip(stream, start, end) for stream in streams)
        else:
            sources.append(open_source(data, instruments, base, start, end))
    return sources


def open_source(
    config: DataConfig,
    instruments: Instruments,
    base_dir: Path | str = ".",
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Iterator[Run]:
    """Return the runs of one data source with ``start_ns <= ts_init <= end_ns``.

    Files are opened lazily, when the iterator is first advanced, and read chunk by chunk.

    Raises
    ------
    ValueError
        If the data's instrument is not among ``instruments`` (naming both), or a file
        starts before the previous one ended.
    DataFormatError
        From the loaders: a malformed record, naming file, line, field and value; or data
        whose ``ts_init`` goes backwards.
    """
    opener = _OPENERS[config.kind]
    return _clip(opener(config, instruments, Path(base_dir), start_ns, end_ns), start_ns, end_ns)


def runs_to_objects(runs: Iterable[Run]) -> Iterator[Any]:
    """Yield the zq data objects (deltas, quotes, trades, bars) of runs, in order."""
    for series, rows in runs:
        yield from series.to_objects(rows)


def _clip(runs: Iterator[Run], start: int | None, end: int | None) -> Iterator[Run]:
    if start is None and end is None:
        yield from runs  # closing this closes ``runs``
        return
    try:
        for series, rows in runs:
            stamps = rows["ts_init"]
            low = 0 if start is None else int(np.searchsorted(stamps, start, side="left"))
            high = len(rows) if end is None else int(np.searchsorted(stamps, end, side="right"))
            if high > low:
                yield series, rows[low:high]
            if high < len(rows):
                return  # past the end: stop reading
    finally:
        close = getattr(runs, "close", None)
        if close is not None:
            close()  # the source's files and reader thread, now rather than when collected


# -- generated -------------------------------------------------------------------------------


def _generated(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.demo import demo_instrument, trade_walk

    instrument = demo_instrument()
    if instrument.id not in instruments:
        raise ValueError(f"generated data trades {instrument.id}: add an instrument of kind 'demo'")
    series = _series(DataKind.TRADES, instrument)
    for rows in trade_walk(config.count, config.seed):
        yield series, rows


# -- catalog ---------------------------------------------------------------------------------


def _catalog(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    yield from _open_catalog(config, base_dir).stream(config.kinds, config.instruments, start, end)


def _open_catalog(config: DataConfig, base_dir: Path) -> Any:
    from zq.data.catalog import ParquetDataCatalog

    return ParquetDataCatalog(_resolve(base_dir, _required(config.path, "path")))


def catalog_instruments(config: DataConfig, base_dir: Path | str = ".") -> list[Instrument]:
    """Return the instruments stored in a catalog source (those of ``instruments`` if set)."""
    from zq.data.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(_resolve(Path(base_dir), _required(config.path, "path")))
    wanted = None if config.instruments is None else {str(i) for i in config.instruments}
    return [
        instrument
        for instrument in catalog.instruments()
        if wanted is None
        or str(instrument.id) in wanted
        or any(_instrument_of_key(key) == str(instrument.id) for key in wanted)
    ]


def _instrument_of_key(key: str) -> str | None:
    try:
        return str(BarType.from_str(key).instrument_id)
    except ValueError:
        return None


# -- binance ---------------------------------------------------------------------------------


def _binance(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.data.loaders.binance import BinanceCaptureLoader, BookSyncState

    instrument = _instrument(config, instruments)
    kinds = (DataKind.DELTAS, DataKind.QUOTES, DataKind.TRADES)
    parts = [_series(kind, instrument) for kind in kinds]
    state: BookSyncState | None = None
    floor = _INT64_MIN
    for path in _files(config, base_dir):
        # Each file continues the previous one's book (its sync state carries over).
        loader = BinanceCaptureLoader(
            path,
            market=config.market,
            price_precision=instrument.price_precision,
            size_precision=instrument.size_precision,
            resume=state,
        )
        for chunk in loader.chunks():
            arrays = (chunk.deltas, chunk.quotes, chunk.trades)
            floor = yield from _interleave(list(zip(parts, arrays, strict=True)), floor)
        state = loader.sync_state


def _interleave(
    parts: list[tuple[DataSeries, Rows]], floor: int
) -> Generator[Run, None, int]:
    """Yield the rows of several series of one chunk as runs in ``ts_init`` order.

    Each series' rows are in file order. A ``ts_init`` below an earlier one (a local clock
    stepping back) is raised to it, so the order of every series is kept and the stream
    never goes backwards. At equal ``ts_init`` the series' order in ``parts`` decides.
    Return the last ``ts_init``.
    """
    parts = [(series, rows) for series, rows in parts if len(rows)]
    for _, rows in parts:
        stamps = rows["ts_init"]
        monotonic = np.maximum.accumulate(np.maximum(stamps, floor))
        if not np.array_equal(monotonic, stamps):
            rows["ts_init"] = monotonic
    if not parts:
        return floor
    if len(parts) == 1:
        series, rows = parts[0]
        yield series, rows
        return int(rows["ts_init"][-1])
    stamps = np.concatenate([rows["ts_init"] for _, rows in parts])
    yield from _merge(parts, stamps)
    return int(stamps.max())


def _merge(parts: list[tuple[DataSeries, Rows]], keys: npt.NDArray[np.int64]) -> Iterator[Run]:
    """Yield the rows of ``parts`` as runs in the stable order of ``keys`` (one per row, in
    the order of the parts' rows concatenated); each part's keys must be sorted."""
    lengths = [len(rows) for _, rows in parts]
    owner = np.repeat(np.arange(len(parts)), lengths)
    offsets = np.cumsum([0, *lengths])
    order = np.argsort(keys, kind="stable")
    owners = owner[order]
    breaks = np.flatnonzero(owners[1:] != owners[:-1]) + 1
    starts = np.concatenate(([0], breaks)).tolist()
    stops = np.concatenate((breaks, [len(order)])).tolist()
    for first, stop in zip(starts, stops, strict=True):
        index = int(owners[first])
        series, rows = parts[index]
        begin = int(order[first]) - int(offsets[index])
        yield series, rows[begin : begin + stop - first]


# -- quantconnect ----------------------------------------------------------------------------


def _quantconnect(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.data.loaders import quantconnect

    instrument = _instrument(config, instruments)
    readers: list[tuple[Path, Iterable[Rows]]] = []
    zone: str | dt.tzinfo
    for path in _files(config, base_dir):
        content = config.content or _lean_content(path)
        if content == "trades":
            zone = config.time_zone or quantconnect.EQUITY_TIME_ZONE
            trades = quantconnect.trade_chunks(
                path,
                instrument.price_precision,
                size_precision=instrument.size_precision,
                time_zone=zone,
                include_suspicious=config.include_suspicious,
            )
            readers.append((path, (chunk.trades for chunk in trades)))
        else:
            zone = config.time_zone or quantconnect.FXCM_TIME_ZONE
            quotes = quantconnect.quote_chunks(path, instrument.price_precision, time_zone=zone)
            readers.append((path, (chunk.quotes for chunk in quotes)))
    first = config.content or _lean_content(readers[0][0])
    kind = DataKind.TRADES if first == "trades" else DataKind.QUOTES
    yield from _ordered(_series(kind, instrument), readers)


def _lean_content(path: Path) -> str:
    name = path.name.lower()
    if "_trade" in name:
        return "trades"
    if "_quote" in name:
        return "quotes"
    raise ValueError(
        f"{path}: cannot tell trades from quotes by the file name (YYYYMMDD_trade.zip or "
        "YYYYMMDD_quote.zip): set content"
    )


# -- bars ------------------------------------------------------------------------------------


def _bars_csv(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.data.loaders.bars_csv import bar_chunks

    bar_type = BarType.from_str(_required(config.bar_type, "bar_type"))
    instrument = _lookup(bar_type.instrument_id, instruments, f"bar type {bar_type}")
    convention = _required(config.timestamp_convention, "timestamp_convention")
    readers: list[tuple[Path, Iterable[Rows]]] = [
        (
            path,
            bar_chunks(
                path,
                timestamp_convention=convention,
                interval=bar_type,
                price_precision=instrument.price_precision,
                size_precision=instrument.size_precision,
                timestamp_unit=config.timestamp_unit,
                time_zone=config.time_zone or "UTC",
                round_excess_decimals=config.round_excess_decimals,
            ),
        )
        for path in _files(config, base_dir)
    ]
    series = DataSeries(
        DataKind.BARS, str(bar_type), instrument.price_precision, instrument.size_precision
    )
    yield from _ordered(series, readers)


# -- tardis ----------------------------------------------------------------------------------


def _tardis(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.data.loaders import tardis

    instrument = _instrument(config, instruments)
    price, size = instrument.price_precision, instrument.size_precision
    content = _required(config.content, "content")
    readers: list[tuple[Path, Iterable[Rows]]] = []
    for path in _files(config, base_dir):
        if content == "trades":
            readers.append((path, (c.trades for c in tardis.trade_chunks(path, price, size))))
        elif content == "quotes":
            readers.append((path, tardis.quote_chunks(path, price, size)))
        else:
            readers.append((path, tardis.book_l2_chunks(path, price, size)))
    kind = {"trades": DataKind.TRADES, "quotes": DataKind.QUOTES}.get(content, DataKind.DELTAS)
    yield from _ordered(_series(kind, instrument), readers)


# -- databento -------------------------------------------------------------------------------

_DBN_CHUNK = 65_536
_DBN_OUTPUTS = (
    ("deltas", DataKind.DELTAS),
    ("quotes", DataKind.QUOTES),
    ("trades", DataKind.TRADES),
    ("bars", DataKind.BARS),
)


def _databento(
    config: DataConfig, instruments: Instruments, base_dir: Path, start: Any, end: Any
) -> Iterator[Run]:
    from zq.data.loaders.databento import DatabentoChunk, DatabentoLoader

    floor = _INT64_MIN
    for path in _files(config, base_dir):
        probe = DatabentoLoader(path)
        wanted: int | None = None
        precisions: dict[int, int] = {}
        sizes: set[int] = set()
        for numeric in probe.metadata.symbology:
            instrument_id = probe.instrument_id(numeric)
            if config.instrument is not None and str(instrument_id) != config.instrument:
                continue
            instrument = _lookup(instrument_id, instruments, f"{path} holds {instrument_id}")
            precisions[numeric] = instrument.price_precision
            sizes.add(instrument.size_precision)
            wanted = numeric
        if not precisions:
            raise ValueError(f"{path}: no instrument {config.instrument} in the file's symbology")
        if len(sizes) > 1:
            raise ValueError(f"{path}: its instruments have different size precisions")
        loader = DatabentoLoader(path, price_precision=precisions, size_precision=sizes.pop())
        cache: dict[tuple[int, DataKind], DataSeries] = {}
        block: list[DatabentoChunk] = []
        chunks = loader.iter_chunks(
            _DBN_CHUNK, instrument_id=wanted if config.instrument is not None else None
        )
        for chunk in chunks:
            if block and chunk.first_record // _DBN_CHUNK != block[0].first_record // _DBN_CHUNK:
                runs = _dbn_block(loader, instruments, block, cache)
                floor = yield from _checked(runs, path, floor)
                block = []
            block.append(chunk)
        floor = yield from _checked(_dbn_block(loader, instruments, block, cache), path, floor)


def _dbn_block(
    loader: Any,
    instruments: Instruments,
    block: list[Any],
    cache: dict[tuple[int, DataKind], DataSeries],
) -> Iterator[Run]:
    # The outputs of one block of DBN records (one chunk per instrument), in file order.
    parts: list[tuple[DataSeries, Rows]] = []
    positions: list[npt.NDArray[np.int64]] = []
    for chunk in block:
        for name, kind in _DBN_OUTPUTS:
            rows = getattr(chunk, name)
            if not len(rows):
                continue
            series = cache.get((chunk.instrument_id, kind))
            if series is None:
                instrument = instruments[loader.instrument_id(chunk.instrument_id)]
                key = str(loader.bar_type(chunk.instrument_id)) if kind is DataKind.BARS else None
                series = cache[(chunk.instrument_id, kind)] = _series(kind, instrument, key)
            index = chunk.rows.get(name)
            if index is None:
                index = np.arange(len(rows), dtype=np.int64) + chunk.first_record
            parts.append((series, rows))
            positions.append(index)
    if parts:
        yield from _merge(parts, np.concatenate(positions))


# -- shared ----------------------------------------------------------------------------------


def _ordered(series: DataSeries, readers: list[tuple[Path, Iterable[Rows]]]) -> Iterator[Run]:
    # One series read file after file, refusing time that goes backwards.
    floor = _INT64_MIN
    for path, chunks in readers:
        floor = yield from _checked(((series, rows) for rows in chunks), path, floor)


def _checked(runs: Iterable[Run], path: Path, floor: int) -> Generator[Run, None, int]:
    for series, rows in runs:
        if not len(rows):
            continue
        stamps = rows["ts_init"]
        if stamps[0] < floor:
            raise DataFormatError(
                path,
                f"starts at ts_init {int(stamps[0])}, before the previous data ended "
                f"({floor}): list the files in time order",
                field="ts_init",
                value=int(stamps[0]),
            )
        back = np.flatnonzero(stamps[1:] < stamps[:-1])
        if len(back):
            row = int(back[0]) + 1
            raise DataFormatError(
                path,
                f"ts_init goes backwards at row {row} of a chunk "
                f"({int(stamps[row - 1])} then {int(stamps[row])}): the data must be in time order",
                field="ts_init",
                value=int(stamps[row]),
            )
        floor = int(stamps[-1])
        yield series, rows
    return floor


_Opener = Callable[[DataConfig, Instruments, Path, Any, Any], Iterator[Run]]
_OPENERS: dict[str, _Opener] = {
    "generated": _generated,
    "catalog": _catalog,
    "binance": _binance,
    "quantconnect": _quantconnect,
    "bars_csv": _bars_csv,
    "databento": _databento,
    "tardis": _tardis,
}


def _series(kind: DataKind, instrument: Instrument, key: str | None = None) -> DataSeries:
    return DataSeries(
        kind,
        str(instrument.id) if key is None else key,
        instrument.price_precision,
        instrument.size_precision,
    )


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise ValueError(f"{name} is required")
    return value


def _resolve(base_dir: Path, path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else base_dir / path


def _files(config: DataConfig, base_dir: Path) -> list[Path]:
    return config.files(base_dir)


def _instrument(config: DataConfig, instruments: Instruments) -> Instrument:
    text = _required(config.instrument, "instrument")
    return _lookup(InstrumentId(text), instruments, f"{config.kind} data of {text}")


def _lookup(instrument_id: InstrumentId, instruments: Instruments, what: str) -> Instrument:
    instrument = instruments.get(instrument_id)
    if instrument is None:
        known = ", ".join(sorted(str(i) for i in instruments)) or "none"
        raise ValueError(
            f"{what}: {instrument_id} is not an instrument of the run (add an [[instruments]] "
            f"entry; the run has: {known})"
        )
    return instrument


# -- instruments -----------------------------------------------------------------------------

_ASSET_CLASSES = {
    "equity": AssetClass.EQUITY,
    "currency_pair": AssetClass.CRYPTOCURRENCY,
    "perpetual": AssetClass.CRYPTOCURRENCY,
    "future": AssetClass.INDEX,
}


def instrument_from_config(config: InstrumentConfig) -> Instrument:
    """Build the instrument an ``[[instruments]]`` entry describes.

    ``demo`` is :func:`zq.demo.demo_instrument`. The grids come from the increments, or
    from the precisions (increment ``10**-precision``); an equity or a future without a
    size grid trades whole units. The asset class defaults to ``EQUITY`` for equities,
    ``CRYPTOCURRENCY`` for pairs and perpetuals and ``INDEX`` for futures.

    Raises
    ------
    ValueError
        Naming the key and why its value cannot be used (a ``_InstrumentKeyError``).
    """
    if config.kind == "demo":
        from zq.demo import demo_instrument

        return demo_instrument()
    instrument_id = _key("id", lambda: InstrumentId(_required(config.id, "id")))
    price_increment = _grid(config.price_increment, config.price_precision, "price", Price)
    whole = config.kind in ("equity", "future")
    size_increment = _grid(
        config.size_increment,
        config.size_precision,
        "size",
        Quantity,
        Decimal(1) if whole else None,
    )
    size_precision = int(size_increment.precision)

    def quantity(name: str) -> Quantity | None:
        value = getattr(config, name)
        if value is None:
            return None
        result: Quantity = _key(name, lambda: Quantity(value, size_precision))
        return result

    fields: dict[str, Any] = {
        "id": instrument_id,
        "raw_symbol": config.raw_symbol or str(instrument_id.symbol),
        "asset_class": (
            AssetClass[config.asset_class] if config.asset_class else _ASSET_CLASSES[config.kind]
        ),
        "quote_currency": _currency(config, "quote_currency"),
        "price_increment": price_increment,
        "size_increment": size_increment,
        "multiplier": _key(
            "multiplier", lambda: Quantity(config.multiplier, _decimals(config.multiplier))
        ),
        "lot_size": quantity("lot_size"),
        "min_quantity": quantity("min_quantity"),
        "max_quantity": quantity("max_quantity"),
        "maker_fee": config.maker_fee,
        "taker_fee": config.taker_fee,
        "margin_init": config.margin_init,
        "margin_maint": config.margin_maint,
    }
    try:
        if config.kind == "equity":
            return Equity(**fields, isin=config.isin)
        if config.kind == "currency_pair":
            return CurrencyPair(**fields, base_currency=_currency(config, "base_currency"))
        if config.kind == "perpetual":
            settlement = (
                None
                if config.settlement_currency is None
                else _currency(config, "settlement_currency")
            )
            return CryptoPerpetual(
                **fields,
                base_currency=_currency(config, "base_currency"),
                settlement=settlement,
                inverse=config.inverse,
            )
        return FuturesContract(
            **fields,
            underlying=_required(config.underlying, "underlying"),
            activation_ns=_to_ns(config.activation) or 0,
            expiration_ns=_to_ns(config.expiration) or 0,
        )
    except InstrumentError as exc:
        reason = str(exc).split(": ", 1)[-1]
        for name in _INSTRUMENT_CHECKED:
            if name in reason:
                raise _InstrumentKeyError(name, reason) from None
        raise _InstrumentKeyError("id", reason) from None


# Keys an Instrument's own checks name in their messages.
_INSTRUMENT_CHECKED = (
    "price_increment",
    "size_increment",
    "multiplier",
    "min_quantity",
    "max_quantity",
    "maker_fee",
    "taker_fee",
    "expiration",
)


def _key(name: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise _InstrumentKeyError(name, str(exc)) from None


def _currency(config: InstrumentConfig, name: str) -> Currency:
    return _key(name, lambda: Currency.from_str(_required(getattr(config, name), name)))  # type: ignore[no-any-return]


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _grid(
    increment: Decimal | None,
    precision: int | None,
    what: str,
    kind: type[Any],
    default: Decimal | None = None,
) -> Any:
    key = f"{what}_increment"
    if precision is not None and not 0 <= precision <= 9:
        raise _InstrumentKeyError(f"{what}_precision", "must be 0 to 9")
    if increment is None:
        if precision is None:
            if default is None:
                raise _InstrumentKeyError(key, f"needs {key} or {what}_precision (the {what} grid)")
            increment = default
        else:
            increment = Decimal(1).scaleb(-precision)
    if not increment.is_finite() or increment <= 0:
        raise _InstrumentKeyError(key, "must be positive")
    decimals = _decimals(increment)
    if precision is not None and decimals > precision:
        raise _InstrumentKeyError(
            key, f"has {decimals} decimals, more than {what}_precision = {precision}"
        )
    if decimals > 9:
        raise _InstrumentKeyError(key, "has more than 9 decimals")
    return _key(key, lambda: kind(increment, decimals if precision is None else precision))
