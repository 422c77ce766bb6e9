"""Tests of zq_core.data.TradeTick against a plain frozen dataclass holding the same fields.

The oracle is what a trade meant before it was compiled: seven fields compared with ``==``
(prices and sizes by value, as ``Price`` and ``Quantity`` compare) and hashed as a tuple.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zq.model.data  # noqa: F401  (registers the AggressorSide and TradeId types)
from zq.backtest import BacktestNode
from zq.backtest.config import BacktestConfig, StrategyConfig, VenueConfig
from zq.data.arrays import TRADE_DTYPE, trades_to_objects
from zq.data.catalog.schema import DataKind, DataSeries
from zq.demo import START_NS, demo_instrument
from zq.model.enums import AggressorSide
from zq.model.identifiers import InstrumentId, TradeId
from zq.strategy import Strategy
from zq_core.data import TradeTick
from zq_core.fixed import FIXED_PRECISION_MAX, Price, Quantity

BTC = InstrumentId("BTCUSDT.BINANCE")
ETH = InstrumentId("ETHUSDT.BINANCE")


@dataclass(frozen=True)
class RefTrade:
    """The oracle: the same fields, plain Python equality and hashing."""

    instrument_id: InstrumentId
    price: Price
    size: Quantity
    aggressor_side: AggressorSide
    trade_id: TradeId
    ts_event: int
    ts_init: int

    def compiled(self) -> TradeTick:
        return TradeTick(
            self.instrument_id,
            self.price,
            self.size,
            self.aggressor_side,
            self.trade_id,
            self.ts_event,
            self.ts_init,
        )


def _ref_of(trade: TradeTick) -> RefTrade:
    return RefTrade(
        trade.instrument_id,
        trade.price,
        trade.size,
        trade.aggressor_side,
        trade.trade_id,
        trade.ts_event,
        trade.ts_init,
    )


# --- Strategies ----------------------------------------------------------------------------

precisions = st.integers(0, FIXED_PRECISION_MAX)
# Small raws collide often (equal trades); full-width ones reach the int64 edges.
price_raws = st.one_of(st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1))
size_raws = st.one_of(st.integers(0, 3), st.integers(0, 2**63 - 1))
ids = st.one_of(st.integers(0, 3), st.integers(0, 2**64 - 1))
timestamps = st.one_of(st.integers(0, 3), st.integers(-(2**63), 2**63 - 1))
sides = st.sampled_from(list(AggressorSide))
raw_fields = st.tuples(
    st.sampled_from([BTC, ETH]),
    price_raws,
    precisions,
    size_raws,
    precisions,
    st.integers(0, len(AggressorSide) - 1),
    ids,
    timestamps,
    timestamps,
)


def _from_raw(fields: tuple[Any, ...]) -> TradeTick:
    return TradeTick.from_raw(*fields)


def _ref_from_raw(fields: tuple[Any, ...]) -> RefTrade:
    instrument_id, price, pp, size, sp, side, trade_id, ts_event, ts_init = fields
    return RefTrade(
        instrument_id,
        Price.from_raw(price, pp),
        Quantity.from_raw(size, sp),
        AggressorSide(side),
        TradeId(str(trade_id)),
        ts_event,
        ts_init,
    )


# --- Fields --------------------------------------------------------------------------------


def test_constructor_keeps_the_given_objects_positionally_and_by_keyword():
    price, size, trade_id = Price.from_str("42000.10"), Quantity.from_str("0.500"), TradeId("T-1")
    trade = TradeTick(BTC, price, size, AggressorSide.SELLER, trade_id, 10, 11)
    assert trade.instrument_id is BTC
    assert trade.price is price and trade.size is size and trade.trade_id is trade_id
    assert trade.aggressor_side is AggressorSide.SELLER
    assert (trade.ts_event, trade.ts_init) == (10, 11)
    by_keyword = TradeTick(
        ts_init=11,
        ts_event=10,
        trade_id=trade_id,
        aggressor_side=AggressorSide.SELLER,
        size=size,
        price=price,
        instrument_id=BTC,
    )
    assert by_keyword == trade


@given(raw_fields)
def test_fields_made_from_raw_equal_the_oracles(fields):
    trade = _from_raw(fields)
    expected = _ref_from_raw(fields)
    assert _ref_of(trade) == expected
    assert type(trade.price) is Price and trade.price.precision == fields[2]
    assert type(trade.size) is Quantity and trade.size.precision == fields[4]
    assert type(trade.trade_id) is TradeId and trade.trade_id == str(fields[6])
    assert trade.aggressor_side is AggressorSide(fields[5])
    assert type(trade.ts_event) is int and type(trade.ts_init) is int


def test_price_is_a_read_only_member_made_with_the_trade():
    # A member descriptor (the interpreter reads it from the instance, no property call):
    # the trade's Price exists from the start, of the raw and precision it was given.
    assert type(TradeTick.__dict__["price"]).__name__ == "member_descriptor"
    trade = TradeTick.from_raw(BTC, 4200010, 2, 500, 3, 1, 77, 10, 11)
    assert type(trade.price) is Price and trade.price == Price.from_str("42000.10")
    with pytest.raises(AttributeError):
        trade.price = Price.from_str("1.00")  # type: ignore[misc]
    assert trade.price == Price.from_str("42000.10")


def test_fields_made_on_access_are_kept():
    trade = TradeTick.from_raw(BTC, 4200010, 2, 500, 3, 1, 77, 10, 11)
    assert trade.price is trade.price
    assert trade.size is trade.size
    assert trade.trade_id is trade.trade_id


def test_extreme_trade_ids_are_their_unsigned_decimal_digits():
    for value in (0, 9, 10, 2**63 - 1, 2**63, 2**64 - 1):
        trade = TradeTick.from_raw(BTC, 1, 0, 1, 0, 0, value, 1, 1)
        assert trade.trade_id == str(value)
    assert TradeTick.from_raw(BTC, 1, 0, 1, 0, 0, 2**64 - 1, 1, 1).trade_id == (
        "18446744073709551615"  # 2**64 - 1, by hand
    )


# --- Value semantics -----------------------------------------------------------------------


@given(raw_fields, raw_fields)
def test_equality_and_hash_agree_with_the_oracle(left_fields, right_fields):
    left, right = _from_raw(left_fields), _from_raw(right_fields)
    ref_left, ref_right = _ref_from_raw(left_fields), _ref_from_raw(right_fields)
    assert (left == right) is (ref_left == ref_right)
    assert (left != right) is (ref_left != ref_right)
    if left == right:
        assert hash(left) == hash(right)


@given(raw_fields)
def test_a_trade_made_from_raw_equals_one_made_from_objects(fields):
    from_raw = _from_raw(fields)
    constructed = _ref_from_raw(fields).compiled()
    assert from_raw == constructed and constructed == from_raw
    assert hash(from_raw) == hash(constructed)


@given(raw_fields, st.integers(0, 6))
def test_changing_any_one_field_makes_an_unequal_trade(fields, which):
    ref = _ref_from_raw(fields)
    changed: list[Any] = list(
        (
            ref.instrument_id,
            ref.price,
            ref.size,
            ref.aggressor_side,
            ref.trade_id,
            ref.ts_event,
            ref.ts_init,
        )
    )
    replacements: list[Any] = [
        ETH if ref.instrument_id == BTC else BTC,
        Price.from_raw(ref.price.raw ^ 1, ref.price.precision),
        Quantity.from_raw(ref.size.raw ^ 1, ref.size.precision),
        AggressorSide((int(ref.aggressor_side) + 1) % len(AggressorSide)),
        TradeId(ref.trade_id + "0"),
        ref.ts_event ^ 1,
        ref.ts_init ^ 1,
    ]
    changed[which] = replacements[which]
    other, trade = TradeTick(*changed), _from_raw(fields)
    assert other != trade
    assert (other == trade) is False


def test_prices_and_sizes_compare_by_value_across_precisions():
    one = TradeTick(BTC, Price.from_str("1.10"), Quantity.from_str("2"), 1, TradeId("7"), 1, 1)
    same = TradeTick.from_raw(BTC, 11, 1, 2000, 3, 1, 7, 1, 1)  # 1.1 and 2.000
    assert one == same and hash(one) == hash(same)
    assert {one, same} == {one}


def test_a_trade_is_never_equal_to_another_type():
    trade = TradeTick.from_raw(BTC, 1, 0, 1, 0, 0, 1, 1, 1)
    assert trade != _ref_of(trade)
    assert trade != (BTC, 1, 1, 0, "1", 1, 1)
    with pytest.raises(TypeError):
        _ = trade < trade  # type: ignore[operator]


def test_a_trade_is_immutable():
    trade = TradeTick.from_raw(BTC, 1, 0, 1, 0, 0, 1, 1, 1)
    for name in ("instrument_id", "price", "size", "aggressor_side", "trade_id", "ts_event"):
        with pytest.raises(AttributeError):
            setattr(trade, name, None)
    with pytest.raises(AttributeError):
        trade.extra = 1  # type: ignore[attr-defined]


def test_repr_names_every_field():
    trade = TradeTick.from_raw(BTC, 4200010, 2, 500, 3, 2, 123, 10, 11)
    assert repr(trade) == (
        "TradeTick(instrument_id=InstrumentId('BTCUSDT.BINANCE'), price=Price('42000.10'), "
        "size=Quantity('0.500'), aggressor_side=<AggressorSide.SELLER: 2>, "
        "trade_id=TradeId('123'), ts_event=10, ts_init=11)"
    )


@given(raw_fields)
def test_pickle_and_copy_give_an_equal_trade(fields):
    trade = _from_raw(fields)
    restored = pickle.loads(pickle.dumps(trade))
    assert type(restored) is TradeTick and restored == trade
    assert type(restored.trade_id) is TradeId
    assert copy.copy(trade) is trade and copy.deepcopy(trade) is trade


# --- Bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        ({"instrument_id": None}, TypeError, "instrument_id must be an InstrumentId"),
        ({"price": "1.0"}, TypeError, "price"),
        ({"size": Price.from_str("1")}, TypeError, "size"),
        ({"price": None}, TypeError, "price"),
        ({"aggressor_side": 3}, ValueError, "aggressor_side must be an AggressorSide"),
        ({"aggressor_side": "BUYER"}, ValueError, "aggressor_side must be an AggressorSide"),
        ({"trade_id": ""}, ValueError, "TradeId must not be empty"),
        ({"trade_id": 12}, TypeError, "TradeId must be a str"),
        ({"ts_event": 2**63}, OverflowError, "ts_event 9223372036854775808 does not fit in int64"),
        ({"ts_init": "1"}, TypeError, "ts_init must be an int of UNIX nanoseconds, got '1'"),
    ],
)
def test_bad_constructor_arguments_are_refused_naming_the_field(change, error, fragment):
    fields: dict[str, Any] = {
        "instrument_id": BTC,
        "price": Price.from_str("1"),
        "size": Quantity.from_str("1"),
        "aggressor_side": AggressorSide.BUYER,
        "trade_id": TradeId("1"),
        "ts_event": 1,
        "ts_init": 1,
    }
    fields.update(change)
    with pytest.raises(error, match=fragment):
        TradeTick(**fields)


def test_a_plain_str_trade_id_becomes_a_trade_id():
    trade = TradeTick(BTC, Price.from_str("1"), Quantity.from_str("1"), 0, "T-9", 1, 1)
    assert type(trade.trade_id) is TradeId and trade.trade_id == "T-9"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ((BTC, 1, 10, 1, 0, 0, 1, 1, 1), "price precision must be 0..9, got 10"),
        ((BTC, 1, 0, 1, -1, 0, 1, 1, 1), "size precision must be 0..9, got -1"),
        ((BTC, 1, 0, -5, 0, 0, 1, 1, 1), "size must not be negative, got raw -5"),
        ((BTC, 1, 0, 1, 0, 3, 1, 1, 1), "aggressor_side must be an AggressorSide value, got 3"),
        (("BTC", 1, 0, 1, 0, 0, 1, 1, 1), None),  # a plain str is an acceptable instrument id
        ((None, 1, 0, 1, 0, 0, 1, 1, 1), "instrument_id must be an InstrumentId"),
    ],
)
def test_bad_raw_fields_are_refused_naming_the_field(fields, fragment):
    if fragment is None:
        assert TradeTick.from_raw(*fields).instrument_id == "BTC"
        return
    with pytest.raises((ValueError, TypeError), match=fragment):
        TradeTick.from_raw(*fields)


# --- Made by the replay loop (trade_from_raw) ----------------------------------------------

received: list[TradeTick] = []


class Collector(Strategy[None]):
    """Keep every trade received."""

    def on_start(self) -> None:
        self.subscribe_trades(demo_instrument().id)

    def on_trade(self, trade: TradeTick) -> None:
        received.append(trade)


def _replay(rows: np.ndarray) -> None:
    instrument = demo_instrument()
    series = DataSeries(DataKind.TRADES, str(instrument.id), 2, 5)
    config = BacktestConfig(
        venues=[VenueConfig(account_type="MARGIN")],
        strategies=[StrategyConfig(path=f"{__name__}:Collector", strategy_id="Collector-001")],
    )
    received.clear()
    BacktestNode(config, instruments=[instrument], sources=[[(series, rows)]]).run()


def _rows(count: int) -> np.ndarray:
    rows = np.zeros(count, dtype=TRADE_DTYPE)
    rows["ts_init"] = START_NS + np.arange(count) * 1_000
    rows["ts_event"] = rows["ts_init"] - 7
    rows["price"] = 4_200_000 + np.arange(count) * 3
    rows["size"] = 100_000 + np.arange(count)
    rows["trade_id"] = [0, 2**64 - 1, 12_345, 7][:count]
    rows["aggressor_side"] = [0, 1, 2, 1][:count]
    return rows


def test_trades_replayed_from_rows_equal_the_python_loaders_trades():
    rows = _rows(4)
    _replay(rows)
    instrument_id = demo_instrument().id
    expected = list(trades_to_objects(rows, instrument_id, 2, 5))  # built field by field
    assert received == expected
    assert [type(t.trade_id) for t in received] == [TradeId] * 4
    assert [t.trade_id for t in received] == ["0", "18446744073709551615", "12345", "7"]
    assert [t.aggressor_side for t in received] == [
        AggressorSide.NO_AGGRESSOR,
        AggressorSide.BUYER,
        AggressorSide.SELLER,
        AggressorSide.BUYER,
    ]
    assert received[1].price == Price.from_str("42000.03")  # raw 4_200_003 at precision 2


def test_a_row_with_an_unknown_aggressor_side_is_refused_naming_it():
    rows = _rows(2)
    rows["aggressor_side"][1] = 9
    with pytest.raises(ValueError, match=r"ts_init \d+ has aggressor side 9, which is no"):
        _replay(rows)
