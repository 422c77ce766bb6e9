"""Currencies, and a registry of the common ones.

A `Currency` is an immutable value; its ``precision`` is the number of decimal places that
`zq_core.fixed.Money` in that currency carries. The module defines constants for common fiat
and crypto currencies (``USD``, ``BTC``, ...) and keeps them in a registry that
`Currency.from_str` reads; venues with other assets add theirs with `Currency.register`.
"""

from __future__ import annotations

from typing import Final

import msgspec

from zq.model.enums import CurrencyType
from zq_core.fixed import FIXED_PRECISION_MAX

__all__ = [
    "AUD",
    "BNB",
    "BTC",
    "CAD",
    "CHF",
    "CNY",
    "ETH",
    "EUR",
    "GBP",
    "HKD",
    "JPY",
    "KRW",
    "NZD",
    "SGD",
    "SOL",
    "USD",
    "USDC",
    "USDT",
    "XRP",
    "Currency",
]

_REGISTRY: dict[str, Currency] = {}


def _is_code(code: str) -> bool:
    return bool(code) and all("A" <= ch <= "Z" or "0" <= ch <= "9" for ch in code)


class Currency(msgspec.Struct, frozen=True):
    """A currency or asset that money is counted in.

    Parameters
    ----------
    code : str
        The code: upper-case ASCII letters and digits, e.g. ``"USD"`` or ``"USDT"``.
    precision : int
        Decimal places of amounts in this currency, 0..9 (``USD`` 2, ``JPY`` 0, ``BTC`` 8).
    iso4217 : int
        The ISO 4217 numeric code, or 0 when there is none (crypto).
    name : str
        The full name, for display.
    currency_type : CurrencyType
        FIAT, CRYPTO or COMMODITY.

    Raises
    ------
    ValueError
        If the code or precision is invalid; the message names the bad value.

    Examples
    --------
    >>> Currency.from_str("USD").precision
    2
    """

    code: str
    precision: int
    iso4217: int
    name: str
    currency_type: CurrencyType

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _is_code(self.code):
            raise ValueError(
                "Currency code must be non-empty upper-case ASCII letters and digits, "
                f"got {self.code!r}"
            )
        if type(self.precision) is not int or not 0 <= self.precision <= FIXED_PRECISION_MAX:
            raise ValueError(
                f"Currency {self.code} precision must be an int in 0..{FIXED_PRECISION_MAX}, "
                f"got {self.precision!r}"
            )
        if type(self.iso4217) is not int or not 0 <= self.iso4217 <= 999:
            raise ValueError(
                f"Currency {self.code} ISO 4217 number must be an int in 0..999 "
                f"(0 when there is none), got {self.iso4217!r}"
            )
        if not isinstance(self.name, str):
            raise ValueError(f"Currency {self.code} name must be a str, got {self.name!r}")
        if not isinstance(self.currency_type, CurrencyType):
            raise ValueError(
                f"Currency {self.code} currency_type must be a CurrencyType, "
                f"got {self.currency_type!r}"
            )

    def __str__(self) -> str:
        return self.code

    @property
    def is_fiat(self) -> bool:
        """Whether this is a fiat currency."""
        return self.currency_type is CurrencyType.FIAT

    @property
    def is_crypto(self) -> bool:
        """Whether this is a crypto asset."""
        return self.currency_type is CurrencyType.CRYPTO

    @staticmethod
    def from_str(code: str) -> Currency:
        """Return the registered currency with this code (case-insensitive).

        Parameters
        ----------
        code : str
            A currency code such as ``"USD"``.

        Returns
        -------
        Currency

        Raises
        ------
        ValueError
            If no currency with this code is registered.
        """
        currency = _REGISTRY.get(code)
        if currency is None:
            currency = _REGISTRY.get(code.strip().upper())
        if currency is None:
            raise ValueError(
                f"unknown currency {code!r}; register it first with Currency.register(...)"
            )
        return currency

    @staticmethod
    def register(currency: Currency, *, overwrite: bool = False) -> Currency:
        """Add ``currency`` to the registry that `from_str` reads, and return it.

        Registering an identical currency again does nothing.

        Parameters
        ----------
        currency : Currency
            The currency to add.
        overwrite : bool, default False
            Replace a different currency already registered under the same code.

        Raises
        ------
        ValueError
            If a different currency has this code and ``overwrite`` is False.
        """
        if not isinstance(currency, Currency):
            raise TypeError(f"can only register a Currency, got {currency!r}")
        existing = _REGISTRY.get(currency.code)
        if existing is not None and existing != currency and not overwrite:
            raise ValueError(
                f"currency {currency.code} is already registered as {existing!r}; "
                "pass overwrite=True to replace it"
            )
        _REGISTRY[currency.code] = currency
        return currency

    @staticmethod
    def is_registered(code: str) -> bool:
        """Return whether a currency with this code is registered."""
        return code in _REGISTRY


def _define(
    code: str, precision: int, iso4217: int, name: str, currency_type: CurrencyType
) -> Currency:
    return Currency.register(Currency(code, precision, iso4217, name, currency_type))


_FIAT = CurrencyType.FIAT
_CRYPTO = CurrencyType.CRYPTO

# Fiat (ISO 4217 minor units).
USD: Final = _define("USD", 2, 840, "US dollar", _FIAT)
EUR: Final = _define("EUR", 2, 978, "Euro", _FIAT)
GBP: Final = _define("GBP", 2, 826, "Pound sterling", _FIAT)
JPY: Final = _define("JPY", 0, 392, "Japanese yen", _FIAT)
CHF: Final = _define("CHF", 2, 756, "Swiss franc", _FIAT)
AUD: Final = _define("AUD", 2, 36, "Australian dollar", _FIAT)
CAD: Final = _define("CAD", 2, 124, "Canadian dollar", _FIAT)
NZD: Final = _define("NZD", 2, 554, "New Zealand dollar", _FIAT)
HKD: Final = _define("HKD", 2, 344, "Hong Kong dollar", _FIAT)
SGD: Final = _define("SGD", 2, 702, "Singapore dollar", _FIAT)
CNY: Final = _define("CNY", 2, 156, "Chinese yuan renminbi", _FIAT)
KRW: Final = _define("KRW", 0, 410, "South Korean won", _FIAT)

# Crypto (no ISO number). Precisions are the usual exchange-balance precisions, capped by
# the fixed-point maximum of 9 (ETH's native 18 decimals do not fit an int64 usefully).
USDT: Final = _define("USDT", 8, 0, "Tether", _CRYPTO)
USDC: Final = _define("USDC", 8, 0, "USD Coin", _CRYPTO)
BTC: Final = _define("BTC", 8, 0, "Bitcoin", _CRYPTO)
ETH: Final = _define("ETH", 8, 0, "Ether", _CRYPTO)
BNB: Final = _define("BNB", 8, 0, "BNB", _CRYPTO)
SOL: Final = _define("SOL", 9, 0, "Solana", _CRYPTO)
XRP: Final = _define("XRP", 6, 0, "XRP", _CRYPTO)
