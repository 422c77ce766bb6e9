"""ResultSampler: when it samples, the mark price it takes, positions per strategy."""

from __future__ import annotations

from array import array
from decimal import Decimal

import msgspec
import pytest

from tests.unit.backtest.test_result import BTC, SECOND, T0, Script, scripted_config, trade
from zq.backtest import BacktestNode, StrategyConfig, VenueConfig
from zq.backtest.sampler import DEFAULT_SAMPLE_INTERVAL_NS, ResultSampler, mark_price
from zq.cache import Cache
from zq.common.clock import TestClock
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import BookType
from zq_core.bus import MessageBus
from zq_core.fixed import FIXED_PRECISION_MAX, Price, Quantity
from zq_core.matching import MatchingCore
from zq_core.sampling import SampleColumns

MINUTE = 60 * SECOND


def core(book_type: BookType = BookType.L1_MBP) -> MatchingCore:
    return MatchingCore(str(BTC), int(book_type), 2, 5, 1)


def quote(ts: int, bid: str, ask: str) -> QuoteTick:
    size = Quantity.from_str("1.00000")
    return QuoteTick(BTC, Price.from_str(bid), Price.from_str(ask), size, size, ts, ts)


def idle_config():
    return scripted_config()  # the script's orders only fire on trades; quotes leave it idle


# -- the mark price ------------------------------------------------------------------------------


def test_mark_is_none_before_any_market() -> None:
    assert mark_price(core()) is None


def test_mark_is_the_mid_of_the_book_at_one_more_decimal() -> None:
    matching = core()
    matching.apply_quote(10_000, 100, 10_001, 100, T0)  # 100.00 / 100.01
    mark = mark_price(matching)
    assert mark is not None
    assert str(mark) == "100.005" and mark.precision == 3


def test_mark_of_an_l1_book_built_from_trades_is_the_last_trade() -> None:
    matching = core()
    matching.apply_trade(10_050, 100, 1, T0)
    assert str(mark_price(matching)) == "100.500"  # bid = ask = the trade


def test_mark_of_a_one_sided_book_is_the_last_trade() -> None:
    matching = core(BookType.L2_MBP)
    matching.apply_delta(1, 1, 10_000, 100, 0, T0)  # ADD a bid at 100.00
    assert matching.book.best_bid_raw() == 10_000 and matching.book.best_ask_raw() is None
    assert mark_price(matching) is None  # no trade yet, no mid
    matching.apply_trade(10_020, 100, 1, T0)
    mark = mark_price(matching)
    assert mark is not None
    assert str(mark) == "100.20"


# -- when samples are taken -------------------------------------------------------------------


def test_timer_samples_fall_on_whole_intervals_of_data_time() -> None:
    # Quotes at 7 s, 61 s, 200 s: samples at start − 1 ns, 60, 120, 180 s, and the end.
    data = [quote(T0 + s * SECOND, "100.00", "100.02") for s in (7, 61, 200)]
    result = BacktestNode(idle_config(), data=data, sample_interval_ns=MINUTE).run()
    times = result.equity["ts"].tolist()
    assert times == [T0 + 7 * SECOND - 1, T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE,
                     T0 + 200 * SECOND]
    assert result.sample_interval_ns == MINUTE
    assert result.equity["equity"].tolist() == [1_000_000.0] * 5  # nothing traded
    assert result.prices["price"].tolist() == [100.01] * 4  # the mid, from the first quote


def test_sample_count_does_not_grow_with_the_data_only_with_time() -> None:
    # The same 10 minutes of data time, 11 quotes or 601: the same samples.
    sparse = [quote(T0 + s * SECOND, "100.00", "100.02") for s in range(0, 601, 60)]
    dense = [quote(T0 + s * SECOND, "100.00", "100.02") for s in range(0, 601)]
    runs = [
        BacktestNode(idle_config(), data=data, sample_interval_ns=MINUTE).run()
        for data in (sparse, dense)
    ]
    assert runs[0].data_count == 11 and runs[1].data_count == 601
    assert runs[0].equity["ts"].tolist() == runs[1].equity["ts"].tolist()
    # The opening sample (1 ns before 0 s), then the timer at 60 s ... 600 s; the end of the
    # run (600 s) falls on the last of them.
    assert len(runs[0].equity) == 11


def test_default_interval_is_one_minute() -> None:
    assert DEFAULT_SAMPLE_INTERVAL_NS == MINUTE
    assert BacktestNode(idle_config()).sample_interval_ns == MINUTE


def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_interval_ns must be a positive int, got 0"):
        ResultSampler(TestClock(), MessageBus(), Cache(), {}, [], interval_ns=0)


# -- positions per strategy -------------------------------------------------------------------


def test_positions_history_keeps_each_strategy_apart() -> None:
    script = "tests.unit.backtest.test_result:Script"
    config = msgspec.structs.replace(
        scripted_config(),
        strategies=[
            StrategyConfig(path=script, strategy_id="Long-001", params={"orders": {"1": ("BUY", "1")}}),
            StrategyConfig(
                path=script,
                strategy_id="Short-002",
                order_id_tag="002",
                params={"orders": {"1": ("SELL", "2")}},
            ),
        ],
    )
    data = [trade(n, "100.00") for n in range(1, 5)]
    result = BacktestNode(config, data=data, sample_interval_ns=5 * SECOND).run()
    last = result.positions_history.groupby("strategy_id")["signed_qty"].last()
    assert last.to_dict() == {"Long-001": 1.0, "Short-002": -2.0}
    # Before any fill nothing was held: the first rows come with the first fill.
    assert result.positions_history["ts"].min() == result.fills["ts_event"].min()


# -- positions rebuilt from their events ----------------------------------------------------------

# Scale-ins at three prices leave an average with no finite decimal expansion (607 / 6), and
# the partial exits then take rounded shares of the entry value: the sampler, which rebuilds the
# open positions from their events, must value them as the positions themselves do.
AWKWARD_PRICES = ["100.00", "101.00", "103.00", "104.00", "99.00", "105.00", "102.00"]
AWKWARD_ORDERS = {
    "1": ("BUY", "3"),
    "2": ("BUY", "1"),
    "3": ("BUY", "2"),
    "4": ("SELL", "1"),
    "5": ("SELL", "2"),
}
REFERENCE: dict[str, object] = {}


class ValuingScript(Script):
    """The script, which on stop values its open positions at the last trade (the mark of
    an L1 book built from trades) with the positions' own arithmetic."""

    def on_trade(self, trade: TradeTick) -> None:
        REFERENCE["mark"] = trade.price
        super().on_trade(trade)

    def on_stop(self) -> None:
        mark = REFERENCE["mark"]
        assert isinstance(mark, Price)
        positions = self.cache.positions_open(strategy_id=self.id)
        REFERENCE["unrealized"] = sum(
            (p.unrealized_pnl_decimal(mark) for p in positions), Decimal(0)
        )
        REFERENCE["net"] = sum((p.signed_qty for p in positions), Decimal(0))


@pytest.mark.parametrize("oms_type", ["NETTING", "HEDGING"])
def test_equity_of_positions_rebuilt_from_events_matches_the_positions_own_pnl(oms_type) -> None:
    config = msgspec.structs.replace(
        scripted_config(),
        venues=[
            VenueConfig(
                name="SIM",
                account_type="MARGIN",
                oms_type=oms_type,
                starting_balances=["1000000 USDT"],
            )
        ],
        strategies=[
            StrategyConfig(
                path="tests.unit.backtest.test_sampler:ValuingScript",
                params={"orders": AWKWARD_ORDERS},
            )
        ],
    )
    data = [trade(i, p) for i, p in enumerate(AWKWARD_PRICES, start=1)]
    REFERENCE.clear()
    result = BacktestNode(config, data=data, sample_interval_ns=5 * SECOND).run()
    unrealized = REFERENCE["unrealized"]
    assert isinstance(unrealized, Decimal) and unrealized != 0
    if oms_type == "NETTING":
        # long 6 after the scale-ins (entry value 607), then 1 and 2 sold: 3 left.
        assert REFERENCE["net"] == Decimal(3)
    last = result.equity.iloc[-1]
    assert last["unrealized"] == float(unrealized)
    balance = result.balances["SIM-001"]["USDT"].as_decimal()
    assert last["balance"] == float(balance)
    assert last["equity"] == float(balance + unrealized)
    held = result.positions_history.groupby("ts")["signed_qty"].sum()
    assert held.iloc[-1] == float(REFERENCE["net"])  # type: ignore[arg-type]


# -- integer columns against Decimals ------------------------------------------------------------


@pytest.mark.parametrize("case", ["ema", "cash", "hedging"])
def test_linear_samples_in_integers_equal_the_decimal_samples(monkeypatch, case) -> None:
    # Linear positions are valued column-wise in int64 (A × mark − C); the sample-by-sample
    # Decimal valuation, which takes every other case, must give the same rows bit for bit.
    import zq.backtest.sampler as sampler_module
    from tests.unit.backtest.test_node import load_example
    from tests.unit.backtest.test_result import assert_same_frame, script_config

    kwargs: dict[str, object] = {"sample_interval_ns": 5 * SECOND}
    if case == "ema":
        config, kwargs = load_example(count=20_000), {}
    else:
        orders = {"1": ("BUY", "1"), "2": ("BUY", "0.5"), "3": ("SELL", "1.25"), "5": ("SELL", "1")}
        oms_type, account_type = ("NETTING", "CASH") if case == "cash" else ("HEDGING", "MARGIN")
        config = script_config(orders, oms_type, account_type)
        prices = ["100.00", "130.00", "90.00", "95.00", "97.50", "99.00"]
        kwargs["data"] = [trade(i, p) for i, p in enumerate(prices, start=1)]
    used: list[bool] = []
    linear_rows = sampler_module._linear_rows

    def noting(*args):  # type: ignore[no-untyped-def]
        rows = linear_rows(*args)
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(sampler_module, "_linear_rows", noting)
    fast = BacktestNode(config, **kwargs).run()  # type: ignore[arg-type]
    assert used == [True]
    monkeypatch.setattr(sampler_module, "_linear_rows", lambda *args: None)
    exact = BacktestNode(config, **kwargs).run()  # type: ignore[arg-type]
    assert len(fast.equity) > 5 and fast.fill_count > 0
    for name in ("equity", "prices", "positions_history"):
        assert_same_frame(getattr(fast, name), getattr(exact, name))


def test_the_compiled_columns_refuse_arrays_of_another_item_type() -> None:
    # They are written through their buffers: an array of another type code is refused.
    events: list[object] = []
    with pytest.raises(TypeError, match=r"ts and position_counts must be array\('q'\)"):
        SampleColumns(array("l"), array("q"), events, [], [])
    mark = (lambda: None, lambda: None, None, 2, array("q"), array("q"))
    with pytest.raises(TypeError, match="a mark's columns must be"):
        SampleColumns(array("q"), array("q"), events, [mark], [])
    with pytest.raises(TypeError, match="an account's column must be"):
        SampleColumns(array("q"), array("q"), events, [], [([], array("b"))])
    columns = SampleColumns(array("q"), array("q"), events, [], [([1, 2], array("q"))])
    columns.sample(5)
    assert list(columns.ts) == [5] and list(columns.account_counts[0][1]) == [2]


class _SlotEvent(msgspec.Struct, frozen=True, gc=False):
    ts_event: int
    position_id: str
    last_trade_id: str


class _OtherSlotEvent(_SlotEvent, frozen=True, gc=False):
    extra: int = 0


class _PlainEvent:
    def __init__(self, ts_event: int, position_id: str, last_trade_id: str) -> None:
        self.ts_event = ts_event
        self.position_id = position_id
        self.last_trade_id = last_trade_id


@pytest.mark.parametrize("kinds", [(_SlotEvent, _OtherSlotEvent), (_PlainEvent, _PlainEvent)])
def test_the_columns_sample_once_per_fill_whatever_the_event_type(kinds: tuple[type, type]) -> None:
    # msgspec structs are read at their field offsets, other objects by attribute; equal
    # (not identical) ids count as the same fill. Events: fill T1 at ts 10 through zero
    # (two events), fill T2 at ts 10 (another trade), fill T1 of position Q at ts 20.
    first, second = kinds
    events: list[object] = []
    columns = SampleColumns(array("q"), array("q"), events, [], [])
    p, t1 = "P", "T1"
    for event in (
        first(10, p, t1),
        second(10, "".join(["P"]), "".join(["T", "1"])),  # the same fill, equal ids
        first(10, p, "T2"),
        second(20, "Q", t1),
    ):
        columns.on_position_event(event)
    # Three samples (fills T1, T2, Q's T1); the first covers its two events.
    assert list(columns.ts) == [10, 10, 20]
    assert list(columns.position_counts) == [2, 3, 4]
    assert len(events) == 4


@pytest.mark.parametrize(
    "bid, ask", [(101, 103), (-7, 2), (2**58 - 1, 2**58 - 1), (2**62, 2**62 + 3), (-(2**61), 5)]
)
@pytest.mark.parametrize("precision", [2, FIXED_PRECISION_MAX])  # the largest: rounded down
def test_a_samples_mid_is_the_integer_formula_small_or_large(bid, ask, precision):
    # The mid is computed in C while both raws are below 2**58, with Python ints past that:
    # (bid + ask) × 5 one decimal finer, or (bid + ask) // 2 (floored) at the largest.
    raws, precisions = array("q"), array("b")
    mark = (lambda: bid, lambda: ask, None, precision, raws, precisions)
    columns = SampleColumns(array("q"), array("q"), [], [mark], [])
    finer = precision < FIXED_PRECISION_MAX
    expected = (bid + ask) * 5 if finer else (bid + ask) // 2
    if not -(2**63) <= expected < 2**63:
        with pytest.raises(OverflowError):
            columns.sample(1)
        return
    columns.sample(1)
    assert list(raws) == [expected]
    assert list(precisions) == [precision + 1 if finer else precision]


@pytest.mark.parametrize(
    "market",
    [
        "empty",
        "quote",
        "trade",
        "one-sided",
        "two-sided",
        "large",
        "negative",
    ],
)
@pytest.mark.parametrize("precision", [2, FIXED_PRECISION_MAX])
def test_a_books_mark_read_from_its_ladders_is_the_one_its_methods_give(market, precision):
    # A mark whose seventh item is the book reads its best prices in C: the same columns as
    # the calls of best_bid_raw and best_ask_raw (and the core's last trade without a mid).
    matching = core(BookType.L1_MBP if market in ("quote", "trade", "large") else BookType.L2_MBP)
    if market == "quote":
        matching.apply_quote(10_000, 100, 10_001, 100, T0)
    elif market == "trade":
        matching.apply_trade(10_050, 100, 1, T0)
    elif market == "one-sided":
        matching.apply_delta(1, 1, 10_000, 100, 0, T0)
        matching.apply_trade(10_020, 100, 1, T0)
    elif market == "two-sided":
        matching.apply_delta(1, 1, 10_000, 100, 0, T0)
        matching.apply_delta(1, 2, 10_010, 100, 0, T0)
    elif market == "large":  # past 2**58: the Python ints' formula
        matching.apply_quote(2**60, 100, 2**60 + 3, 100, T0)
    elif market == "negative":
        matching.apply_delta(1, 1, -(2**58) + 1, 100, 0, T0)
        matching.apply_delta(1, 2, 7, 100, 0, T0)
    book = matching.book
    columns = []
    for extra in ((), (book,)):
        raws, precisions = array("q"), array("b")
        mark = (book.best_bid_raw, book.best_ask_raw, matching, precision, raws, precisions, *extra)
        try:
            SampleColumns(array("q"), array("q"), [], [mark], []).sample(1)
        except OverflowError:  # a mid past int64 (large, one decimal finer)
            columns.append("overflow")
        else:
            columns.append((list(raws), list(precisions)))
    assert columns[0] == columns[1]
    assert (columns[0] == "overflow") == (market == "large" and precision == 2)


def test_the_sampler_reads_the_compiled_books_in_c_and_calls_any_other_one() -> None:
    from types import SimpleNamespace

    from zq.backtest.sampler import _keeps_best_raw
    from zq_core.book import L2Book

    other = SimpleNamespace(best_bid_raw=lambda: 1, best_ask_raw=lambda: 2)
    assert _keeps_best_raw(core().book) and _keeps_best_raw(L2Book("X", 2, 2))
    assert not _keeps_best_raw(other)


def test_read_columns_reads_numbers_names_and_kinds_in_one_pass() -> None:
    from types import SimpleNamespace

    from zq.model.currency import Currency
    from zq_core.fixed import Money
    from zq_core.sampling import read_columns

    usd = Currency.from_str("USD")
    rows = [
        SimpleNamespace(qty=Quantity.from_str("1.5"), px=Price.from_str("-2.25"),
                        fee=Money("0.01", usd), ts=7, name="a"),
        SimpleNamespace(qty=Quantity.from_str("3"), px=Price.from_str("10.125"),
                        fee=Money("-4", usd), ts=-(2**63), name="b"),
    ]
    numbers, names, kinds = read_columns(
        rows, ("qty.raw", "qty.precision", "px.raw", "px.precision", "fee.raw", "ts"),
        ("name", "fee.currency.code"), {SimpleNamespace: 3},
    )
    assert list(numbers) == [15, 1, -225, 2, 1, 7, 3, 0, 10125, 3, -400, -(2**63)]
    assert names == [["a", "b"], ["USD", "USD"]]
    assert list(kinds) == [3, 3]
    assert read_columns([], ("qty.raw",)) == (array("q"), [], array("b"))
    assert list(read_columns([SimpleNamespace(px=None)], ("px.raw", "px.precision"))[0]) == [0, -1]
    with pytest.raises(TypeError, match="not a fixed-point value"):
        read_columns(rows, ("ts.raw",))
    with pytest.raises(TypeError, match="not an int"):
        read_columns(rows, ("qty",))
    with pytest.raises(OverflowError):
        read_columns([SimpleNamespace(ts=2**63)], ("ts",))
    with pytest.raises(ValueError, match="empty step"):
        read_columns(rows, ("qty..raw",))
    # Paths: attributes of attributes, digits for items.
    held = [SimpleNamespace(balances=(SimpleNamespace(total=Money("2.5", usd)),))]
    numbers, names, _ = read_columns(
        held, ("balances.0.total.raw", "balances.0.total.precision"), ("balances.0.total.currency.code",)
    )
    assert list(numbers) == [250, 2] and names == [["USD"]]
    with pytest.raises(IndexError):
        read_columns(held, ("balances.1.total.raw",))


def test_identities_are_the_ids_of_the_values_in_order() -> None:
    from zq.model.enums import OrderSide
    from zq_core.sampling import identities

    shared = object()
    values = [shared, None, 7, "text", shared, OrderSide.BUY, 2**80]
    assert list(identities(values)) == [id(value) for value in values]
    assert list(identities([])) == []
    with pytest.raises(TypeError):
        identities((1, 2))  # type: ignore[arg-type]


def test_take_picks_the_rows_of_a_list_in_order_and_refuses_a_row_outside() -> None:
    import numpy as np

    from zq_core.sampling import take

    values = [object() for _ in range(5)]
    rows = np.array([4, 0, 0, 2], dtype=np.int64)
    assert take(values, rows) == [values[4], values[0], values[0], values[2]]
    assert take(values, np.flatnonzero(np.array([1, 0, 1]))) == [values[0], values[2]]
    assert take(values, np.zeros(0, dtype=np.int64)) == []
    for outside in (5, -1):
        with pytest.raises(IndexError):
            take(values, np.array([0, outside], dtype=np.int64))


@pytest.mark.parametrize("case", ["ema", "cash", "hedging", "scaled"])
def test_the_compiled_replay_leaves_the_columns_the_python_replay_leaves(monkeypatch, case) -> None:
    # replay_linear (events read in one pass, applied in C) against _LinearReplay.run, the
    # event-by-event replay it stands in for: the same sums at each sample, the same pairs.
    import numpy as np

    import zq.backtest.sampler as sampler_module
    from tests.unit.backtest.test_node import load_example
    from tests.unit.backtest.test_result import script_config

    kwargs: dict[str, object] = {"sample_interval_ns": 5 * SECOND}
    if case == "ema":
        config, kwargs = load_example(count=20_000), {}
    else:
        orders = {"1": ("BUY", "1"), "2": ("BUY", "0.5"), "3": ("SELL", "1.25"), "5": ("SELL", "1")}
        if case == "scaled":  # scale in, scale out by exact and inexact shares, flip
            orders = {"1": ("BUY", "3"), "2": ("BUY", "1"), "3": ("SELL", "1.5"),
                      "4": ("SELL", "0.7"), "5": ("SELL", "4")}
        oms_type, account_type = ("NETTING", "CASH") if case == "cash" else ("HEDGING", "MARGIN")
        config = script_config(orders, oms_type, account_type)
        prices = ["100.00", "130.00", "90.00", "95.00", "97.50", "99.00"]
        kwargs["data"] = [trade(i, p) for i, p in enumerate(prices, start=1)]
    samplers: list[ResultSampler] = []
    linear_rows = sampler_module._linear_rows

    def keeping(sampler, ts):  # type: ignore[no-untyped-def]
        samplers.append(sampler)
        return linear_rows(sampler, ts)

    monkeypatch.setattr(sampler_module, "_linear_rows", keeping)
    BacktestNode(config, **kwargs).run()  # type: ignore[arg-type]
    (sampler,) = samplers
    count = sampler.sample_count
    compiled = sampler_module._LinearReplay(sampler)
    python = sampler_module._LinearReplay(sampler)
    done = compiled.run_compiled(count)
    assert done is not None and done == python.run(count)
    assert list(compiled.columns) == list(python.columns) and len(python.columns) > 0
    for key, column in python.columns.items():
        ours = compiled.columns[key]
        assert (ours.a_at, ours.c_at, ours.open_at) == (column.a_at, column.c_at, column.open_at)
        assert (ours.a, ours.c, ours.open) == (column.a, column.c, column.open)
    assert list(compiled.nets.items()) == list(python.nets.items())
    assert compiled.net_at == python.net_at and compiled.first_held == python.first_held
    assert np.any(np.frombuffer(next(iter(python.columns.values())).open_at, dtype=np.int64))


def run_keeping_the_sampler(
    monkeypatch: pytest.MonkeyPatch, case: str, position_mode: str
) -> ResultSampler:
    """Run the EMA example ("ema") or a scripted margin run in ``position_mode`` (any other
    case) and return the node's sampler."""
    import zq.backtest.sampler as sampler_module
    from tests.unit.backtest.test_node import load_example
    from tests.unit.backtest.test_result import script_config

    kwargs: dict[str, object] = {"sample_interval_ns": 5 * SECOND}
    if case == "ema":
        config, kwargs = load_example(count=20_000), {}
    else:
        orders = {"1": ("BUY", "1"), "2": ("BUY", "0.5"), "3": ("SELL", "1.25"), "5": ("SELL", "1")}
        config = script_config(orders, position_mode, "MARGIN")
        prices = ["100.00", "130.00", "90.00", "95.00", "97.50", "99.00"]
        kwargs["data"] = [trade(i, p) for i, p in enumerate(prices, start=1)]
    samplers: list[ResultSampler] = []
    linear_rows = sampler_module._linear_rows

    def keeping(sampler, ts):  # type: ignore[no-untyped-def]
        samplers.append(sampler)
        return linear_rows(sampler, ts)

    monkeypatch.setattr(sampler_module, "_linear_rows", keeping)
    BacktestNode(config, **kwargs).run()  # type: ignore[arg-type]
    (sampler,) = samplers
    return sampler


@pytest.mark.parametrize("case", ["ema", "hedging"])
def test_the_replay_on_the_round_trips_columns_equals_the_replay_on_its_own_read(
    monkeypatch, case
) -> None:
    # The node hands the sampler the position events' columns the round trips read: the
    # compiled replay on them leaves what it leaves on its own read of the events.
    import zq.backtest.sampler as sampler_module

    sampler = run_keeping_the_sampler(monkeypatch, case, "HEDGING")
    count = sampler.sample_count
    shared = sampler._read_columns
    assert shared is not None
    events = sampler._position_events
    assert sampler_module._columns_read(shared, events) is not None
    assert sampler_module._columns_read(shared, events[:-1]) is None  # other events
    on_columns = sampler_module._LinearReplay(sampler)
    assert on_columns.run_compiled(count) is True
    sampler._read_columns = None
    own = sampler_module._LinearReplay(sampler)
    assert own.run_compiled(count) is True
    assert list(on_columns.columns) == list(own.columns) and len(own.columns) > 0
    for key, column in own.columns.items():
        ours = on_columns.columns[key]
        assert (ours.a_at, ours.c_at, ours.open_at) == (column.a_at, column.c_at, column.open_at)
    assert list(on_columns.nets.items()) == list(own.nets.items())
    assert on_columns.net_at == own.net_at and on_columns.first_held == own.first_held
    # A type the replay codes otherwise (no position event) coded as an opening: not used.
    from zq.model.position import PositionOpened

    read_events, columns, kinds, codes = shared
    other = type("Other", (), {})
    assert sampler_module._columns_read(
        (read_events, columns, {**kinds, other: kinds[PositionOpened]}, codes), events
    ) is None


def test_replay_linear_sums_by_hand_and_refuses_an_inexact_share_or_an_overflow() -> None:
    from zq_core.sampling import replay_linear

    def replay(kinds, qty, px, signed, counts=None):  # type: ignore[no-untyped-def]
        count = len(kinds)
        return replay_linear(
            array("q", counts or [count]), array("b", kinds), array("q", [0] * count),
            array("q", qty), array("q", px), array("q", signed), array("q", [0]),
            array("q", [0]), array("q", [10]), 1,
        )

    # Open 2 at 5, add 1 at 6 (entry value 16), close: A and C per sample, times k = 10.
    a, c, opened, nets, first_held, order = replay(
        [0, 1, 2], [2, 1, 3], [5, 6, 7], [2, 3, 0], counts=[0, 1, 2, 3]
    )
    assert list(a) == [0, 20, 30, 0] and list(c) == [0, 100, 160, 0]
    assert list(opened) == [0, 1, 1, 0] and list(nets) == [0, 2, 3, 0]
    assert list(first_held) == [1] and order == [0]
    # A reduction of 1 out of 3 shares an entry value of 16 (not exact): refused.
    assert replay([0, 1, 1], [2, 1, 1], [5, 6, 7], [2, 3, 2]) is None
    # Out of 3 with a value of 18: exact (12 remains).
    assert list(replay([0, 1, 1], [2, 1, 1], [6, 6, 7], [2, 3, 2])[1]) == [120]
    assert replay([0], [2**62], [4], [2**62]) is None


@pytest.mark.parametrize("case", ["ema", "margin"])
def test_the_balance_table_on_the_account_historys_columns_equals_its_own_read(
    monkeypatch, case
) -> None:
    # The node hands the sampler the states' columns the account history read: the table
    # of the sampled states taken from them is the one read of those states.
    import numpy as np

    import zq.backtest.sampler as sampler_module

    sampler = run_keeping_the_sampler(monkeypatch, case, "NETTING")
    shared = sampler._state_columns
    assert shared is not None
    (account,) = sampler._accounts
    states = account.states
    counts = np.frombuffer(account.counts, dtype=np.int64)
    rows = np.unique(counts[counts > 0]) - 1
    assert len(rows) >= 3
    table = sampler_module._shared_balance_table(shared, states, rows)
    expected = sampler_module._balance_table([states[row] for row in rows.tolist()])
    assert table is not None and list(table) == list(expected)
    for code, (precision, held, raws) in expected.items():
        ours = table[code]
        assert ours[0] == precision
        assert np.array_equal(ours[1], held) and np.array_equal(ours[2], raws)
    # Another list of states (here a copy): not taken from the columns.
    assert sampler_module._shared_balance_table(shared, list(states), rows) is None
    assert sampler_module._shared_balance_table(shared, states[:-1], rows) is None


def test_unique_of_growing_counts_is_numpys_unique() -> None:
    import numpy as np

    import zq.backtest.sampler as sampler_module

    for values in ([], [3], [1, 1, 2, 5, 5, 5, 9], [4, 2, 2, 7], [2, 2, 2]):
        column = np.array(values, dtype=np.int64)
        ours = sampler_module._unique(column)
        assert ours.dtype == column.dtype and np.array_equal(ours, np.unique(column))

