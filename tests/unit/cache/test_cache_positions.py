"""Cache: the open and closed position indices, against a filter over a plain model.

Positions come from real fills through the Portfolio (netting at BINANCE, hedging at GLBX),
so they open, close, reopen and flip the way a backtest moves them. The model keeps the
ids in the order they entered each state, as the cache promises.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.portfolio.fills import BTCUSDT_PERP, ES, STRATEGY, buy, fill, sell
from zq.cache import Cache
from zq.model.enums import OmsType, OrderSide
from zq.model.identifiers import InstrumentId, PositionId, StrategyId, Venue
from zq.portfolio import Portfolio, Position

OTHER = StrategyId("S-002")
STRATEGIES = [STRATEGY, OTHER]
INSTRUMENTS = [BTCUSDT_PERP, ES]
VENUES = [Venue("BINANCE"), Venue("GLBX")]


def hedging_portfolio(cache: Cache) -> Portfolio:
    return Portfolio(cache, {Venue("GLBX"): OmsType.HEDGING})


def ids(positions: list[Position]) -> list[str]:
    return [str(p.id) for p in positions]


def test_netting_position_moves_to_closed_and_back_to_the_end_of_open():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "1", "5000.00", order="O-1"), ES)
    portfolio.process_fill(buy(BTCUSDT_PERP, "1", "100.0", order="O-2"), BTCUSDT_PERP)
    assert ids(cache.positions_open()) == ["ESH4.GLBX-S-001", "BTCUSDT-PERP.BINANCE-S-001"]
    portfolio.process_fill(sell(ES, "1", "5001.00", order="O-3"), ES)
    assert ids(cache.positions_open()) == ["BTCUSDT-PERP.BINANCE-S-001"]
    assert ids(cache.positions_closed(instrument_id=ES.id)) == ["ESH4.GLBX-S-001"]
    assert cache.positions_open(instrument_id=ES.id, strategy_id=STRATEGY) == []
    assert portfolio.net_position(ES.id, STRATEGY) == Decimal(0)
    portfolio.process_fill(sell(ES, "2", "5002.00", order="O-4"), ES)  # reopens, short
    assert ids(cache.positions_open()) == ["BTCUSDT-PERP.BINANCE-S-001", "ESH4.GLBX-S-001"]
    assert cache.positions_closed() == []
    assert portfolio.net_position(ES.id, STRATEGY) == Decimal(-2)


def test_a_flip_keeps_the_position_open_and_in_place():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "1", "5000.00", order="O-1"), ES)
    portfolio.process_fill(buy(BTCUSDT_PERP, "1", "100.0", order="O-2"), BTCUSDT_PERP)
    portfolio.process_fill(sell(ES, "3", "5001.00", order="O-3"), ES)  # long 1 → short 2
    assert ids(cache.positions_open()) == ["ESH4.GLBX-S-001", "BTCUSDT-PERP.BINANCE-S-001"]
    assert ids(cache.positions_open(instrument_id=ES.id, strategy_id=STRATEGY)) == [
        "ESH4.GLBX-S-001"
    ]
    assert cache.positions_closed() == []


def test_hedging_positions_are_indexed_one_per_order_by_instrument_and_strategy():
    cache = Cache()
    portfolio = hedging_portfolio(cache)
    portfolio.process_fill(buy(ES, "2", "5000.00", order="O-1"), ES)
    portfolio.process_fill(sell(ES, "1", "5000.00", order="O-2", strategy=OTHER), ES)
    portfolio.process_fill(sell(ES, "1", "5000.00", order="O-3"), ES)
    assert ids(cache.positions_open(instrument_id=ES.id, strategy_id=STRATEGY)) == [
        "ESH4.GLBX-S-001-O-1",
        "ESH4.GLBX-S-001-O-3",
    ]
    assert ids(cache.positions_open(strategy_id=OTHER)) == ["ESH4.GLBX-S-002-O-2"]
    assert ids(cache.positions_open(venue=Venue("BINANCE"))) == []
    # long 2 and short 1 of S-001: net +1
    assert portfolio.net_position(ES.id, STRATEGY) == Decimal(1)
    closing = buy(ES, "1", "4990.00", order="O-4", position_id="ESH4.GLBX-S-001-O-3")
    portfolio.process_fill(closing, ES)
    assert ids(cache.positions_open(instrument_id=ES.id, strategy_id=STRATEGY)) == [
        "ESH4.GLBX-S-001-O-1"
    ]
    assert ids(cache.positions_closed(strategy_id=STRATEGY)) == ["ESH4.GLBX-S-001-O-3"]


def test_reset_empties_the_position_indices():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "1", "5000.00"), ES)
    assert portfolio.net_position(ES.id, STRATEGY) == Decimal(1)
    cache.reset()
    assert cache.positions_open() == [] and cache.positions_open(instrument_id=ES.id) == []
    assert cache.positions() == [] and cache.positions_closed() == []
    # the net quantities the portfolio reads are emptied too
    assert portfolio.net_position(ES.id, STRATEGY) == 0
    assert dict(cache.net_positions()) == {}


_steps = st.lists(
    st.tuples(
        st.integers(0, 1),  # instrument (0: netting venue, 1: hedging venue)
        st.integers(0, 1),  # strategy
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 3),  # quantity
        st.integers(-1, 3),  # hedging: the open position to trade against (-1: a new one)
    ),
    min_size=1,
    max_size=40,
)


def matches(
    position: Position,
    venue: Venue | None,
    instrument_id: InstrumentId | None,
    strategy_id: StrategyId | None,
) -> bool:
    return (
        (venue is None or position.instrument_id.venue == venue)
        and (instrument_id is None or position.instrument_id == instrument_id)
        and (strategy_id is None or position.strategy_id == strategy_id)
    )


def check_queries(
    cache: Cache, portfolio: Portfolio, opened: list[PositionId], closed: list[PositionId]
) -> None:
    """Every filtered query against the model's lists, filtered."""
    for venue in (None, *VENUES):
        for instrument_id in (None, *(x.id for x in INSTRUMENTS)):
            for strategy_id in (None, *STRATEGIES):
                keys = (venue, instrument_id, strategy_id)
                expected_open = [cache.position(p) for p in opened]
                expected_open = [p for p in expected_open if matches(p, *keys)]
                expected_closed = [cache.position(p) for p in closed]
                expected_closed = [p for p in expected_closed if matches(p, *keys)]
                filters = {"venue": venue, "instrument_id": instrument_id}
                filters["strategy_id"] = strategy_id
                assert cache.positions_open(**filters) == expected_open
                assert cache.positions_closed(**filters) == expected_closed
                if venue is None and instrument_id is not None:
                    held = sum((p.signed_qty for p in expected_open), Decimal(0))
                    net = portfolio.net_position(instrument_id, strategy_id)
                    # the same Decimal as the sum over the open positions, exponent included
                    assert net == held and str(net) == str(held)


@settings(max_examples=150, deadline=None)
@given(steps=_steps)
def test_position_queries_equal_a_filter_over_the_order_positions_entered_each_state(steps):
    cache = Cache()
    portfolio = hedging_portfolio(cache)
    # The model: ids in the order they entered the open (closed) state.
    opened: list[PositionId] = []
    closed: list[PositionId] = []
    for n, (i, s, side, qty, target) in enumerate(steps):
        instrument, strategy = INSTRUMENTS[i], STRATEGIES[s]
        position_id = None
        if instrument is ES and target >= 0:
            candidates = [
                p for p in opened if matches(cache.position(p), None, ES.id, strategy)
            ]
            if candidates:
                position_id = str(candidates[target % len(candidates)])
        px = "5000.00" if instrument is ES else "100.0"
        f = fill(
            instrument,
            side,
            str(qty),
            px,
            order=f"O-{n}",
            strategy=strategy,
            position_id=position_id,
        )
        (first, *_) = portfolio.process_fill(f, instrument)
        pid = first.position_id
        into, out_of = (opened, closed) if cache.position(pid).is_open else (closed, opened)
        if pid in out_of:
            out_of.remove(pid)
        if pid not in into:
            into.append(pid)
        check_queries(cache, portfolio, opened, closed)
    assert sorted(opened + closed) == sorted(p.id for p in cache.positions())
