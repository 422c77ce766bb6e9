"""Instruments: spot pairs, perpetuals, dated futures and equities.

An instrument fixes the price and size grids (tick size, lot size), the limits (min/max
quantity and price, min notional), the contract multiplier and the maker/taker fees. Its
``make_price`` / ``make_qty`` refuse values off the grid, so a strategy cannot create a
price the venue would reject.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec

from zq.model.currency import Currency
from zq.model.enums import AssetClass
from zq.model.identifiers import InstrumentId
from zq_core.fixed import Money, Price, Quantity

__all__ = [
    "CryptoPerpetual",
    "CurrencyPair",
    "Equity",
    "FuturesContract",
    "Instrument",
    "InstrumentError",
]

_ONE = Quantity(1, 0)


class InstrumentError(ValueError):
    """A value refused by an instrument (off the grid, out of its limits)."""


class Instrument(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of every instrument. Use one of the concrete kinds below."""

    id: InstrumentId
    raw_symbol: str
    asset_class: AssetClass
    quote_currency: Currency
    price_increment: Price  # tick size
    size_increment: Quantity  # smallest quantity step (lot step)
    multiplier: Quantity = _ONE
    lot_size: Quantity | None = None  # round lot, where the venue has one
    min_quantity: Quantity | None = None
    max_quantity: Quantity | None = None
    min_notional: Money | None = None
    max_notional: Money | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    margin_init: Decimal = Decimal(0)
    margin_maint: Decimal = Decimal(0)
    ts_event: int = 0
    ts_init: int = 0

    def __post_init__(self) -> None:
        if self.price_increment.raw <= 0:
            self._refuse(f"price_increment must be positive, got {self.price_increment}")
        if self.size_increment.raw <= 0:
            self._refuse(f"size_increment must be positive, got {self.size_increment}")
        if self.multiplier.raw <= 0:
            self._refuse(f"multiplier must be positive, got {self.multiplier}")
        if (
            self.min_quantity is not None
            and self.max_quantity is not None
            and self.min_quantity > self.max_quantity
        ):
            self._refuse(f"min_quantity {self.min_quantity} > max_quantity {self.max_quantity}")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            self._refuse(f"min_price {self.min_price} > max_price {self.max_price}")
        for name in ("maker_fee", "taker_fee"):
            fee = getattr(self, name)
            if not Decimal(-1) < fee < Decimal(1):
                self._refuse(f"{name} must be a fraction in (-1, 1), got {fee}")
        for name in ("min_notional", "max_notional"):
            money = getattr(self, name)
            if money is not None and money.currency.code != self.settlement_currency.code:
                self._refuse(
                    f"{name} is in {money.currency.code}, the instrument settles in "
                    f"{self.settlement_currency.code}"
                )

    def _refuse(self, reason: str) -> None:
        raise InstrumentError(f"instrument {self.id}: {reason}")

    # -- grids -----------------------------------------------------------------------------

    @property
    def price_precision(self) -> int:
        """Decimals of a price: those of the tick size."""
        return int(self.price_increment.precision)

    @property
    def size_precision(self) -> int:
        """Decimals of a quantity: those of the size increment."""
        return int(self.size_increment.precision)

    @property
    def is_inverse(self) -> bool:
        """Whether quantities are quoted in the quote currency (inverse contracts)."""
        return False

    @property
    def settlement_currency(self) -> Currency:
        """The currency PnL and fees are settled in."""
        return self.quote_currency

    def make_price(self, value: Any) -> Price:
        """Return ``value`` as a price on this instrument's tick grid.

        Raises
        ------
        InstrumentError
            If the value has more decimals than the tick size or is not a multiple of it.
        """
        price: Price = self._convert(Price, value, self.price_precision, "price")
        if not price.is_multiple_of(self.price_increment):
            self._refuse(
                f"price {value} is not on the tick grid (tick size {self.price_increment})"
            )
        return price

    def make_qty(self, value: Any) -> Quantity:
        """Return ``value`` as a quantity on this instrument's size grid.

        Raises
        ------
        InstrumentError
            If the value is negative, has more decimals than the size increment or is not a
            multiple of it.
        """
        quantity: Quantity = self._convert(Quantity, value, self.size_precision, "quantity")
        if not quantity.is_multiple_of(self.size_increment):
            self._refuse(
                f"quantity {value} is not on the size grid (size increment {self.size_increment})"
            )
        return quantity

    def _convert(self, kind: Any, value: Any, precision: int, what: str) -> Any:
        if isinstance(value, kind):
            if value.precision > precision:
                self._refuse(f"{what} {value} has more than {precision} decimals")
            return kind.from_raw(value.raw * 10 ** (precision - value.precision), precision)
        try:
            return kind(value, precision)
        except (ValueError, TypeError, OverflowError) as exc:
            self._refuse(f"{what} {value!r} refused: {exc}")
            raise  # unreachable: _refuse raises

    # -- value -----------------------------------------------------------------------------

    def notional_value(self, quantity: Quantity, price: Price) -> Money:
        """Return the notional of ``quantity`` at ``price``, exact, rounded half-even to cents.

        Linear contracts: quantity × price × multiplier in the quote currency. Inverse
        contracts: quantity × multiplier / price in the base (settlement) currency.
        """
        currency = self.settlement_currency
        if self.is_inverse:
            value = quantity.as_decimal() * self.multiplier.as_decimal() / price.as_decimal()
        else:
            value = quantity.as_decimal() * price.as_decimal() * self.multiplier.as_decimal()
        exponent = Decimal(1).scaleb(-currency.precision)
        return Money(value.quantize(exponent, rounding=ROUND_HALF_EVEN), currency)


class CurrencyPair(Instrument, frozen=True, kw_only=True, tag=True):
    """A spot pair such as BTCUSDT: base currency bought with the quote currency."""

    base_currency: Currency


class CryptoPerpetual(Instrument, frozen=True, kw_only=True, tag=True):
    """A perpetual swap; ``inverse`` ones are quoted in the quote currency, settle in base."""

    base_currency: Currency
    settlement: Currency | None = None
    inverse: bool = False

    @property
    def is_inverse(self) -> bool:
        return self.inverse

    @property
    def settlement_currency(self) -> Currency:
        if self.settlement is not None:
            return self.settlement
        return self.base_currency if self.inverse else self.quote_currency


class FuturesContract(Instrument, frozen=True, kw_only=True, tag=True):
    """A dated future (for example ESH4 on CME Globex)."""

    underlying: str
    activation_ns: int
    expiration_ns: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.expiration_ns <= self.activation_ns:
            self._refuse(
                f"expiration_ns {self.expiration_ns} is not after "
                f"activation_ns {self.activation_ns}"
            )


class Equity(Instrument, frozen=True, kw_only=True, tag=True):
    """A listed share."""

    isin: str | None = None
