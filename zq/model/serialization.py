"""JSON and MessagePack for every zq event, command, data type and instrument.

msgspec does the work; this module adds the hooks for the types it does not know:
``Price`` / ``Quantity`` travel as decimal strings (``"1.20"``, so the precision survives),
``Money`` as ``"1234.56 USD"`` and identifiers as plain strings.

``TradeTick`` is a compiled class (``zq_core.data``), which msgspec cannot decode or put in a
tagged union; it travels as ``_TradeTickWire``, a Struct of the same fields and tag, so its
bytes are those of the Struct it once was.

>>> from zq.model.serialization import to_json, from_json
>>> from_json(to_json(tick), type(tick)) == tick   # doctest: +SKIP
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.data import (
    Bar,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import AggressorSide
from zq.model.events import ORDER_EVENT_TYPES
from zq.model.identifiers import Identifier, InstrumentId, TradeId
from zq.model.instruments import CryptoPerpetual, CurrencyPair, Equity, FuturesContract
from zq.model.position import PositionChanged, PositionClosed, PositionOpened
from zq_core.fixed import Money, Price, Quantity

__all__ = [
    "MESSAGE_TYPES",
    "Message",
    "from_json",
    "from_msgpack",
    "to_json",
    "to_msgpack",
]

T = TypeVar("T")

#: Every type that can be sent or stored on its own (a tagged union decodes any of them).
MESSAGE_TYPES: tuple[type[Any], ...] = (
    QuoteTick,
    TradeTick,
    Bar,
    OrderBookDelta,
    OrderBookDepth,
    InstrumentStatus,
    CurrencyPair,
    CryptoPerpetual,
    FuturesContract,
    Equity,
    *ORDER_EVENT_TYPES,
    PositionOpened,
    PositionChanged,
    PositionClosed,
    SubmitOrder,
    ModifyOrder,
    CancelOrder,
    CancelAllOrders,
    QueryOrder,
)
Message = Any  # the union of MESSAGE_TYPES; use ``type=Message`` helpers below to decode any


class _TradeTickWire(msgspec.Struct, frozen=True, gc=False, tag="TradeTick"):
    """A TradeTick on the wire: its fields in order, tagged with its name."""

    instrument_id: InstrumentId
    price: Price
    size: Quantity
    aggressor_side: AggressorSide
    trade_id: TradeId
    ts_event: int
    ts_init: int


def _wire_kind(kind: Any) -> Any:
    return _TradeTickWire if kind is TradeTick else kind


def _from_wire(decoded: Any) -> Any:
    if type(decoded) is _TradeTickWire:
        return TradeTick(
            decoded.instrument_id,
            decoded.price,
            decoded.size,
            decoded.aggressor_side,
            decoded.trade_id,
            decoded.ts_event,
            decoded.ts_init,
        )
    return decoded


_MESSAGE_UNION: Any = _wire_kind(MESSAGE_TYPES[0])
for _kind in MESSAGE_TYPES[1:]:
    _MESSAGE_UNION = _MESSAGE_UNION | _wire_kind(_kind)


def _encode_hook(obj: Any) -> Any:
    if type(obj) is TradeTick:
        return _TradeTickWire(
            obj.instrument_id,
            obj.price,
            obj.size,
            obj.aggressor_side,
            obj.trade_id,
            obj.ts_event,
            obj.ts_init,
        )
    if isinstance(obj, Identifier):
        return str(obj)
    if isinstance(obj, Price | Quantity):
        return str(obj)
    if isinstance(obj, Money):
        return f"{obj.as_decimal():f} {obj.currency.code}"  # never exponent form ("0E-8")
    raise NotImplementedError(f"zq cannot serialize objects of type {type(obj).__name__}: {obj!r}")


def _decode_hook(kind: type, obj: Any) -> Any:
    # ValueError / TypeError raised here reach the caller as msgspec.ValidationError with
    # the field's path appended ("- at `$.bid_price`").
    if kind is TradeTick:  # nested in another type (``list[TradeTick]``): decoded as Any
        return _from_wire(msgspec.convert(obj, _TradeTickWire, dec_hook=_decode_hook))
    if not isinstance(obj, str):
        raise TypeError(f"expected a string for {kind.__name__}, got {obj!r}")
    try:
        if issubclass(kind, Identifier):
            return kind(obj)
        if kind is Price or kind is Quantity:
            return kind.from_str(obj)
        if kind is Money:
            value, _, code = obj.rpartition(" ")
            return Money(value, Currency.from_str(code))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"invalid {kind.__name__} {obj!r}: {exc}") from None
    raise NotImplementedError(f"zq cannot deserialize type {kind.__name__}")


_JSON_ENCODER = msgspec.json.Encoder(enc_hook=_encode_hook)
_MSGPACK_ENCODER = msgspec.msgpack.Encoder(enc_hook=_encode_hook)


@cache
def _json_decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(_wire_kind(kind), dec_hook=_decode_hook)


@cache
def _msgpack_decoder(kind: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(_wire_kind(kind), dec_hook=_decode_hook)


def to_json(obj: Any) -> bytes:
    """Encode a zq value as JSON bytes."""
    return _JSON_ENCODER.encode(obj)


def to_msgpack(obj: Any) -> bytes:
    """Encode a zq value as MessagePack bytes."""
    return _MSGPACK_ENCODER.encode(obj)


def from_json(data: bytes | str, kind: Any = None) -> Any:
    """Decode JSON into ``kind``; without ``kind``, into whichever message type it tags."""
    return _from_wire(_json_decoder(_MESSAGE_UNION if kind is None else kind).decode(data))


def from_msgpack(data: bytes, kind: Any = None) -> Any:
    """Decode MessagePack into ``kind``; without ``kind``, into whichever message type it tags."""
    return _from_wire(_msgpack_decoder(_MESSAGE_UNION if kind is None else kind).decode(data))
