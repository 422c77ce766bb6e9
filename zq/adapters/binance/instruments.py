"""Binance ``exchangeInfo`` symbols as zq instruments (spot pairs).

The filters map onto a :class:`~zq.model.instruments.CurrencyPair`:

- ``PRICE_FILTER`` tickSize, minPrice, maxPrice: ``price_increment``, ``min_price``,
  ``max_price``;
- ``LOT_SIZE`` stepSize, minQty, maxQty: ``size_increment``, ``min_quantity``,
  ``max_quantity``;
- ``NOTIONAL`` minNotional, maxNotional (``MIN_NOTIONAL`` minNotional on older symbols):
  ``min_notional``, ``max_notional``.

Precisions are the decimals of the steps (tickSize ``"0.01000000"`` → 2). A zero
``minPrice``, ``maxPrice`` or ``maxNotional`` means the bound is disabled, and maps to
None. Assets zq does not know are registered as crypto currencies with the symbol's asset
precision (at most 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn

from zq.model.currency import Currency
from zq.model.enums import AssetClass, CurrencyType
from zq.model.identifiers import InstrumentId
from zq.model.instruments import CurrencyPair, InstrumentError
from zq_core.fixed import FIXED_PRECISION_MAX, Money, Price, Quantity

__all__ = [
    "BINANCE_VENUE",
    "BinanceInstrumentError",
    "parse_exchange_info",
    "parse_symbol",
]

#: The venue part of the instrument ids this adapter makes, unless told otherwise.
BINANCE_VENUE: Final = "BINANCE"
_NS_PER_MS: Final = 1_000_000


class BinanceInstrumentError(ValueError):
    """An ``exchangeInfo`` symbol that cannot be mapped; names the symbol, filter and field."""


class _Symbol:
    """One symbol entry being read, to name it in every error."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        if not isinstance(entry, Mapping):
            raise BinanceInstrumentError(
                f"exchangeInfo: a symbol entry is not an object: {entry!r}"
            )
        self.entry = entry
        name = entry.get("symbol")
        if not isinstance(name, str) or not name:
            raise BinanceInstrumentError(
                f"exchangeInfo: a symbol entry has no symbol name: {dict(entry)!r}"
            )
        self.name = name
        self.filters: dict[str, Mapping[str, Any]] = {}
        filters = entry.get("filters", [])
        if not isinstance(filters, list):
            self.fail("field filters", "must be a list", filters)
        for index, item in enumerate(filters):
            kind = item.get("filterType") if isinstance(item, Mapping) else None
            if not isinstance(kind, str):
                self.fail(f"filters[{index}]", "has no filterType", item)
            self.filters[kind] = item

    def fail(self, where: str, problem: str, value: object) -> NoReturn:
        raise BinanceInstrumentError(
            f"exchangeInfo symbol {self.name}: {where}: {problem} (got {value!r})"
        )

    def text(self, field: str) -> str:
        value = self.entry.get(field)
        if not isinstance(value, str) or not value:
            self.fail(f"field {field}", "missing or not a string", value)
        return value

    def integer(self, field: str, default: int) -> int:
        value = self.entry.get(field, default)
        if type(value) is not int or value < 0:
            self.fail(f"field {field}", "must be a non-negative integer", value)
        return value

    def filter(self, kind: str) -> Mapping[str, Any] | None:
        return self.filters.get(kind)

    def required_filter(self, kind: str) -> Mapping[str, Any]:
        found = self.filters.get(kind)
        if found is None:
            self.fail(f"filter {kind}", "missing", sorted(self.filters))
        return found

    def decimal(self, kind: str, item: Mapping[str, Any], field: str) -> Decimal:
        value = item.get(field)
        where = f"filter {kind} field {field}"
        if not isinstance(value, str):
            self.fail(where, "missing or not a decimal string", value)
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.fail(where, "not a decimal number", value)
        if not number.is_finite() or number < 0:
            self.fail(where, "must be a finite non-negative number", value)
        return number


def _precision(step: Decimal) -> int:
    """Return the decimals of a step: ``0.01000000`` → 2, ``10`` → 0."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _currency(code: str, precision: int) -> Currency:
    if Currency.is_registered(code):
        return Currency.from_str(code)
    precision = min(precision, FIXED_PRECISION_MAX)
    return Currency.register(Currency(code, precision, 0, code, CurrencyType.CRYPTO))


def parse_symbol(
    entry: Mapping[str, Any],
    venue: str = BINANCE_VENUE,
    *,
    maker_fee: Decimal = Decimal(0),
    taker_fee: Decimal = Decimal(0),
    ts_event: int = 0,
    ts_init: int = 0,
) -> CurrencyPair:
    """Return one ``exchangeInfo`` symbol entry as a :class:`CurrencyPair`.

    Parameters
    ----------
    entry
        One element of ``exchangeInfo["symbols"]``.
    venue
        The venue part of the instrument id (``BTCUSDT.BINANCE``).
    maker_fee, taker_fee
        The account's fees as fractions (``exchangeInfo`` does not carry them).
    ts_event, ts_init
        UNIX ns: when the venue published the entry, and now.

    Raises
    ------
    BinanceInstrumentError
        Naming the symbol, the filter and the field that is missing or malformed.
    """
    symbol = _Symbol(entry)
    base_code = symbol.text("baseAsset")
    quote_code = symbol.text("quoteAsset")
    base_precision = symbol.integer("baseAssetPrecision", 8)
    quote_precision = symbol.integer("quoteAssetPrecision", symbol.integer("quotePrecision", 8))
    try:
        base = _currency(base_code, base_precision)
        quote = _currency(quote_code, quote_precision)
    except ValueError as error:
        symbol.fail("fields baseAsset/quoteAsset", str(error), (base_code, quote_code))

    price_filter = symbol.required_filter("PRICE_FILTER")
    tick = symbol.decimal("PRICE_FILTER", price_filter, "tickSize")
    if tick == 0:
        symbol.fail(
            "filter PRICE_FILTER field tickSize", "must be positive", price_filter["tickSize"]
        )
    price_precision = _precision(tick)
    lot = symbol.required_filter("LOT_SIZE")
    step = symbol.decimal("LOT_SIZE", lot, "stepSize")
    if step == 0:
        symbol.fail("filter LOT_SIZE field stepSize", "must be positive", lot["stepSize"])
    size_precision = _precision(step)
    for kind, precision in (("PRICE_FILTER", price_precision), ("LOT_SIZE", size_precision)):
        if precision > FIXED_PRECISION_MAX:
            symbol.fail(
                f"filter {kind}",
                f"a step with {precision} decimals exceeds zq's {FIXED_PRECISION_MAX}",
                symbol.filters[kind],
            )

    def price(kind: str, item: Mapping[str, Any], field: str) -> Price | None:
        value = symbol.decimal(kind, item, field)
        if value == 0:
            return None
        try:
            return Price(_plain(value), price_precision)
        except ValueError as error:
            symbol.fail(f"filter {kind} field {field}", str(error), item[field])

    def quantity(kind: str, item: Mapping[str, Any], field: str) -> Quantity | None:
        value = symbol.decimal(kind, item, field)
        if value == 0:
            return None
        try:
            return Quantity(_plain(value), size_precision)
        except ValueError as error:
            symbol.fail(f"filter {kind} field {field}", str(error), item[field])

    def money(kind: str, item: Mapping[str, Any], field: str) -> Money | None:
        if field not in item:
            return None
        value = symbol.decimal(kind, item, field)
        if value == 0:
            return None
        try:
            return Money(_plain(value), quote)
        except ValueError as error:
            symbol.fail(f"filter {kind} field {field}", str(error), item[field])

    min_notional = max_notional = None
    notional = symbol.filter("NOTIONAL")
    if notional is not None:
        min_notional = money("NOTIONAL", notional, "minNotional")
        max_notional = money("NOTIONAL", notional, "maxNotional")
    else:
        legacy = symbol.filter("MIN_NOTIONAL")
        if legacy is not None:
            min_notional = money("MIN_NOTIONAL", legacy, "minNotional")

    try:
        return CurrencyPair(
            id=InstrumentId.from_parts(symbol.name, venue),
            raw_symbol=symbol.name,
            asset_class=AssetClass.CRYPTOCURRENCY,
            base_currency=base,
            quote_currency=quote,
            price_increment=Price(_plain(tick), price_precision),
            size_increment=Quantity(_plain(step), size_precision),
            min_price=price("PRICE_FILTER", price_filter, "minPrice"),
            max_price=price("PRICE_FILTER", price_filter, "maxPrice"),
            min_quantity=quantity("LOT_SIZE", lot, "minQty"),
            max_quantity=quantity("LOT_SIZE", lot, "maxQty"),
            min_notional=min_notional,
            max_notional=max_notional,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            ts_event=ts_event,
            ts_init=ts_init,
        )
    except (InstrumentError, ValueError) as error:
        symbol.fail("filters", str(error), sorted(symbol.filters))


def parse_exchange_info(
    info: Mapping[str, Any],
    venue: str = BINANCE_VENUE,
    *,
    symbols: Iterable[str] | None = None,
    trading_only: bool = True,
    maker_fee: Decimal = Decimal(0),
    taker_fee: Decimal = Decimal(0),
    ts_init: int = 0,
) -> list[CurrencyPair]:
    """Return the spot pairs of an ``exchangeInfo`` answer, in its order.

    Parameters
    ----------
    info
        The decoded ``GET /api/v3/exchangeInfo`` answer.
    symbols
        Keep these symbols only (all when None); a requested symbol that is absent is an
        error.
    trading_only
        Skip symbols whose ``status`` is not ``TRADING`` (halted, delisted, pre-trading).

    Raises
    ------
    BinanceInstrumentError
        For a malformed entry (naming it) or a requested symbol that is absent.
    """
    entries = info.get("symbols")
    if not isinstance(entries, list):
        raise BinanceInstrumentError(f"exchangeInfo: field symbols is not a list: {entries!r}")
    server_time = info.get("serverTime", 0)
    ts_event = server_time * _NS_PER_MS if type(server_time) is int else 0
    wanted = set(symbols) if symbols is not None else None
    found: list[CurrencyPair] = []
    seen: set[str] = set()
    for entry in entries:
        name = entry.get("symbol") if isinstance(entry, Mapping) else None
        if wanted is not None and name not in wanted:
            continue
        if isinstance(name, str):
            seen.add(name)
        if (
            trading_only
            and isinstance(entry, Mapping)
            and entry.get("status", "TRADING") != "TRADING"
        ):
            continue
        found.append(
            parse_symbol(
                entry,
                venue,
                maker_fee=maker_fee,
                taker_fee=taker_fee,
                ts_event=ts_event,
                ts_init=ts_init,
            )
        )
    if wanted is not None and wanted - seen:
        raise BinanceInstrumentError(
            f"exchangeInfo: symbols not listed by the venue: {sorted(wanted - seen)}"
        )
    return found
