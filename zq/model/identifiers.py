"""Identifiers: validated, immutable strings.

Each identifier is a ``str`` subclass, so hashing and equality run at C speed (the cache
and the bus key on them per event). Construction validates the value and raises
``ValueError`` naming the identifier type and the offending value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self

__all__ = [
    "AccountId",
    "ClientOrderId",
    "Identifier",
    "InstrumentId",
    "OrderListId",
    "PositionId",
    "StrategyId",
    "Symbol",
    "TradeId",
    "TraderId",
    "Venue",
    "VenueOrderId",
]

_MAX_LENGTH = 128


class Identifier(str):
    """Base of every identifier: a non-empty printable string without whitespace."""

    __slots__ = ()
    #: Whether a '-' separated tag is required (``TRADER-001``).
    _requires_tag: ClassVar[bool] = False

    def __new__(cls, value: str) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise TypeError(f"{cls.__name__} must be a str, got {type(value).__name__}: {value!r}")
        if not value:
            raise ValueError(f"{cls.__name__} must not be empty")
        if len(value) > _MAX_LENGTH:
            raise ValueError(
                f"{cls.__name__} longer than {_MAX_LENGTH} characters: {value[:40]!r}..."
            )
        if not value.isprintable() or not value.isascii() or " " in value:
            raise ValueError(
                f"{cls.__name__} must be printable ASCII without spaces, got {value!r}"
            )
        if cls._requires_tag:
            name, sep, tag = value.rpartition("-")
            if not sep or not name or not tag:
                raise ValueError(
                    f"{cls.__name__} must look like NAME-TAG (for example "
                    f"'{cls.__name__.removesuffix('Id').upper()}-001'), got {value!r}"
                )
        return str.__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"

    def __reduce__(self) -> tuple[type[Self], tuple[str]]:
        return (type(self), (str(self),))


class TraderId(Identifier):
    """The trader (one node) that owns strategies: ``NAME-TAG``, e.g. ``TRADER-001``."""

    __slots__ = ()
    _requires_tag = True


class StrategyId(Identifier):
    """A strategy instance: ``NAME-TAG``, e.g. ``EMACross-001``."""

    __slots__ = ()
    _requires_tag = True


class Symbol(Identifier):
    """A venue's ticker symbol, e.g. ``BTCUSDT`` or ``ESH4``."""

    __slots__ = ()


#: Venue parts of instrument ids, made once (``InstrumentId.venue`` is read per order event),
#: by venue name and by instrument id (``_INSTRUMENT_VENUES``, below ``Venue``).
_VENUES: dict[str, Venue] = {}


class Venue(Identifier):
    """A trading venue, e.g. ``BINANCE``. Upper-case letters, digits and '_' only."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        venue = super().__new__(cls, value)
        if not all(ch.isupper() or ch.isdigit() or ch == "_" for ch in venue):
            raise ValueError(f"Venue must be upper-case letters, digits or '_', got {value!r}")
        return venue


class _VenueParts(dict[str, Venue]):
    """The venue part of each instrument id read, made on its first read (``__missing__``)."""

    __slots__ = ()

    def __missing__(self, instrument_id: str) -> Venue:
        part = instrument_id.rpartition(".")[2]
        venue = _VENUES.get(part)
        if venue is None:
            venue = _VENUES[part] = Venue(part)  # validated once per venue name
        self[str(instrument_id)] = venue
        return venue


_INSTRUMENT_VENUES = _VenueParts()


class InstrumentId(Identifier):
    """An instrument: ``SYMBOL.VENUE`` (split on the last '.', so ``BRK.B.XNYS`` works)."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        instrument_id = super().__new__(cls, value)
        symbol, sep, venue = value.rpartition(".")
        if not sep or not symbol:
            raise ValueError(f"InstrumentId must look like SYMBOL.VENUE, got {value!r}")
        try:
            Venue(venue)
        except ValueError as exc:
            raise ValueError(f"InstrumentId {value!r} has an invalid venue part: {exc}") from None
        return instrument_id

    @classmethod
    def from_parts(cls, symbol: str, venue: str) -> InstrumentId:
        """Build ``SYMBOL.VENUE`` from its parts."""
        return cls(f"{symbol}.{venue}")

    @property
    def symbol(self) -> Symbol:
        """The symbol part."""
        return Symbol(self.rpartition(".")[0])

    if TYPE_CHECKING:

        @property
        def venue(self) -> Venue:
            """The venue part."""

    else:
        # Its getter is the dict's own __getitem__: a venue part made before is read without
        # an interpreter frame (the cache reads it as it indexes each order).
        venue = property(_INSTRUMENT_VENUES.__getitem__, doc="The venue part.")


class ClientOrderId(Identifier):
    """The order id the trader assigns; unique per trader and never reused."""

    __slots__ = ()


class VenueOrderId(Identifier):
    """The order id the venue assigns."""

    __slots__ = ()


class OrderListId(Identifier):
    """A list of linked orders (brackets, OCO)."""

    __slots__ = ()


class TradeId(Identifier):
    """A venue's id of one trade (execution); fills are de-duplicated by it."""

    __slots__ = ()


class PositionId(Identifier):
    """A position: ``INSTRUMENT-STRATEGY`` in netting mode, per opening order in hedging mode."""

    __slots__ = ()


class AccountId(Identifier):
    """An account at a venue: ``VENUE-NUMBER``, e.g. ``BINANCE-001``."""

    __slots__ = ()
    _requires_tag = True

    @property
    def venue(self) -> Venue:
        """The venue part (before the last '-')."""
        return Venue(self.rpartition("-")[0])
