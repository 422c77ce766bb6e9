"""Portfolio: position ids by mode, cache updates, accounts and PnL queries."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.unit.portfolio.fills import (
    BNB,
    BTC,
    BTCUSD_INVERSE,
    BTCUSDT_PERP,
    ES,
    ETH,
    ETHUSDT,
    STRATEGY,
    USD,
    USDT,
    buy,
    sell,
)
from zq.cache import Cache
from zq.model.enums import OmsType
from zq.model.identifiers import AccountId, PositionId, StrategyId, Venue
from zq.model.position import PositionChanged, PositionClosed, PositionError, PositionOpened
from zq.portfolio import CashAccount, InsufficientBalance, MarginAccount, Portfolio, Position
from zq_core.fixed import Money, Price

P = Price.from_str


def usd(value: str) -> Money:
    return Money(value, USD)


def usdt(value: str) -> Money:
    return Money(value, USDT)


def test_netting_keeps_one_position_per_instrument_and_strategy():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "2", "5000.00", order="O-1"), ES)
    events = portfolio.process_fill(sell(ES, "1", "5004.00", order="O-2", position_id="X"), ES)
    (position,) = cache.positions()
    assert position.id == PositionId("ESH4.GLBX-S-001")
    assert isinstance(events[0], PositionChanged)
    assert portfolio.net_position(ES.id) == Decimal(1)


def test_hedging_opens_a_position_per_order_and_closes_the_named_one():
    cache = Cache()
    portfolio = Portfolio(cache, {Venue("GLBX"): OmsType.HEDGING})
    portfolio.process_fill(buy(ES, "2", "5000.00", order="O-1"), ES)
    portfolio.process_fill(sell(ES, "1", "5010.00", order="O-2"), ES)
    ids = sorted(p.id for p in cache.positions_open())
    assert ids == ["ESH4.GLBX-S-001-O-1", "ESH4.GLBX-S-001-O-2"]
    # long 2 and short 1 side by side: net +1
    assert portfolio.net_position(ES.id) == Decimal(1)
    events = portfolio.process_fill(
        buy(ES, "1", "5000.00", order="O-3", position_id="ESH4.GLBX-S-001-O-2"), ES
    )
    assert [type(e) for e in events] == [PositionClosed]
    # short 1 at 5010 bought back at 5000: 10 × 50 = 500
    assert cache.position(PositionId("ESH4.GLBX-S-001-O-2")).realized_pnl == usd("500")


def test_flip_in_netting_reuses_the_position_id():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "1", "5000.00"), ES)
    events = portfolio.process_fill(sell(ES, "3", "4990.00", order="O-2"), ES)
    assert [type(e) for e in events] == [PositionClosed, PositionOpened]
    assert {e.position_id for e in events} == {PositionId("ESH4.GLBX-S-001")}
    assert portfolio.is_net_short(ES.id) and portfolio.net_position(ES.id) == Decimal(-2)
    # closing 1 long: (4990 − 5000) × 50 = −500
    assert portfolio.realized_pnl(ES.id) == usd("-500")


def test_realized_unrealized_and_total_pnl_per_instrument_and_in_total():
    cache = Cache()
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "2", "5000.00"), ES)
    portfolio.process_fill(sell(ES, "1", "5002.00"), ES)
    portfolio.process_fill(buy(BTCUSDT_PERP, "0.5", "30000.0"), BTCUSDT_PERP)
    portfolio.process_fill(sell(BTCUSDT_PERP, "0.2", "31000.0"), BTCUSDT_PERP)
    portfolio.process_fill(buy(BTCUSD_INVERSE, "10000", "40000.0"), BTCUSD_INVERSE)
    portfolio.process_fill(sell(BTCUSD_INVERSE, "10000", "50000.0"), BTCUSD_INVERSE)
    # ES: 2 × 50 = 100 USD; perp: 0.2 × 1000 = 200 USDT; inverse: 0.05 BTC (see positions)
    assert portfolio.realized_pnl(ES.id) == usd("100")
    assert portfolio.realized_pnl() == {
        "USD": usd("100"),
        "USDT": usdt("200"),
        "BTC": Money("0.05", BTC),
    }
    # ES 1 open at 5000, marked at 4999.75: −0.25 × 50 = −12.50; total 100 − 12.50 = 87.50
    assert portfolio.unrealized_pnl(ES.id, P("4999.75")) == usd("-12.50")
    assert portfolio.total_pnl(ES.id, P("4999.75")) == usd("87.50")
    # perp 0.3 open at 30000, marked at 29000: −300; inverse flat: no unrealized
    assert portfolio.unrealized_pnl(BTCUSDT_PERP.id, P("29000.0")) == usdt("-300")
    assert portfolio.unrealized_pnl(BTCUSD_INVERSE.id, P("45000.0")) is None
    assert portfolio.is_flat(BTCUSD_INVERSE.id) and not portfolio.is_flat()
    # exposure: 1 × 4999.75 × 50 = 249987.50 USD
    assert portfolio.net_exposure(ES.id, P("4999.75")) == usd("249987.50")
    assert portfolio.realized_pnl(ETHUSDT.id) is None


def test_queries_filter_by_strategy():
    portfolio = Portfolio(Cache())
    other = StrategyId("S-002")
    portfolio.process_fill(buy(ES, "1", "5000.00"), ES)
    portfolio.process_fill(sell(ES, "3", "5000.00", strategy=other), ES)
    assert portfolio.net_position(ES.id) == Decimal(-2)
    assert portfolio.net_position(ES.id, other) == Decimal(-3)
    assert portfolio.is_net_long(ES.id, StrategyId("S-001"))


def test_commissions_total_per_currency():
    portfolio = Portfolio(Cache())
    portfolio.process_fill(buy(ES, "1", "5000.00", commission=usd("2.25")), ES)
    portfolio.process_fill(sell(ES, "1", "5000.00", commission=usd("2.25")), ES)
    portfolio.process_fill(buy(BTCUSDT_PERP, "1", "100.0", commission=usdt("0.04")), BTCUSDT_PERP)
    assert portfolio.commissions() == {"USD": usd("4.50"), "USDT": usdt("0.04")}
    assert portfolio.commissions(ES.id) == {"USD": usd("4.50")}


def test_duplicate_fill_is_refused_before_the_account_moves():
    cache = Cache()
    account = CashAccount(AccountId("BINANCE-001"), balances={USDT: usdt("1000")})
    cache.add_account(account)
    portfolio = Portfolio(cache)
    first = buy(ETHUSDT, "0.1", "2000.00", trade_id="T-DUP")
    portfolio.process_fill(first, ETHUSDT)
    with pytest.raises(PositionError, match="already applied trade T-DUP"):
        portfolio.process_fill(first, ETHUSDT)
    # 1000 − 0.1 × 2000 = 800, debited once
    assert account.balance(USDT) == usdt("800")
    assert account.balance(ETH) == Money("0.1", ETH)


def test_cash_account_refusal_leaves_positions_untouched():
    cache = Cache()
    account = CashAccount(AccountId("BINANCE-001"), balances={USDT: usdt("100")})
    cache.add_account(account)
    portfolio = Portfolio(cache)
    with pytest.raises(InsufficientBalance):
        portfolio.process_fill(buy(ETHUSDT, "1", "2000.00"), ETHUSDT)
    assert cache.positions() == [] and account.balance(USDT) == usdt("100")


def test_margin_account_follows_positions_pnl_and_margin():
    cache = Cache()
    account = MarginAccount(
        AccountId("GLBX-001"), leverage=10, base_currency=USD, balances={USD: usd("50000")}
    )
    cache.add_account(account)
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "2", "5000.00", commission=usd("4.50")), ES)
    # entry notional 2 × 5000 × 50 = 500000; ES margin_init 5% = 25000
    assert account.margin_used() == usd("25000")
    assert account.free() == usd("24995.50")  # 50000 − 4.50 − 25000
    portfolio.process_fill(sell(ES, "1", "5010.00", commission=usd("2.25")), ES)
    # realized (5010 − 5000) × 50 = 500; margin on 1 contract: 12500
    assert account.balance(USD) == usd("50493.25")  # 50000 − 4.50 + 500 − 2.25
    assert account.margin_used() == usd("12500")
    portfolio.process_fill(sell(ES, "1", "4990.00"), ES)
    # realized (4990 − 5000) × 50 = −500; flat: no margin
    assert account.balance(USD) == usd("49993.25")
    assert account.margin_used() == usd("0")
    assert [s.reason for s in account.events] == ["opening", "fill", "fill", "fill"]


def test_margin_account_settles_pnl_of_positions_past_128_bits():
    # 5,000,000 ES at 5000: the entry value is 5e6 × 5000 = 2.5e10, in the position's units
    # of 1e-30 2.5e40 > 2**127, so the position holds its values as Python ints and the
    # portfolio reads the realized PnL from there; the next round trip fits 128 bits again.
    assert 5_000_000 * 5000 * 10**30 > 2**127
    cache = Cache()
    account = MarginAccount(
        AccountId("GLBX-001"), leverage=10, base_currency=USD, balances={USD: usd("50000")}
    )
    cache.add_account(account)
    portfolio = Portfolio(cache)
    portfolio.process_fill(buy(ES, "5000000", "5000.00", trade_id="T-1"), ES)
    position = cache.positions()[0]
    assert position._is_wide
    # entry notional 5e6 × 5000 × 50 = 1.25e12; ES margin_init 5%: 6.25e10
    assert account.margin_used() == usd("62500000000")
    portfolio.process_fill(sell(ES, "5000000", "5000.25", trade_id="T-2"), ES)
    # realized (5000.25 − 5000) × 5e6 × 50 = 62,500,000; flat, the round trip's exit value
    # still past 128 bits
    assert account.balance(USD) == usd("62550000")  # 50000 + 62,500,000
    assert account.margin_used() == usd("0")
    assert position._is_wide
    portfolio.process_fill(buy(ES, "1", "5000.00", trade_id="T-3"), ES)
    assert not position._is_wide  # a new round trip: every value fits again
    portfolio.process_fill(sell(ES, "1", "4999.75", trade_id="T-4"), ES)
    # realized (4999.75 − 5000) × 50 = −12.50
    assert account.balance(USD) == usd("62549987.50")
    assert position.realized_pnl == usd("62499987.50")


def test_process_fill_cannot_be_replaced_on_an_instance():
    # The execution engine calls the class's process_fill (compiled): one set on the
    # instance would never run, so setting it is refused; other attributes still set.
    portfolio = Portfolio(Cache())
    with pytest.raises(AttributeError, match="cannot be replaced on an instance"):
        portfolio.process_fill = lambda fill, instrument: []  # type: ignore[method-assign]
    assert "process_fill" not in vars(portfolio)
    portfolio.note = "kept"  # type: ignore[attr-defined]
    assert portfolio.note == "kept"  # type: ignore[attr-defined]


def test_inverse_margin_is_locked_in_bitcoin():
    cache = Cache()
    account = MarginAccount(AccountId("BITMEX-001"), balances={BTC: Money("1", BTC)})
    cache.add_account(account)
    Portfolio(cache).process_fill(buy(BTCUSD_INVERSE, "40000", "40000.0"), BTCUSD_INVERSE)
    # value 40000 / 40000 = 1 BTC; instrument margin_init 1% = 0.01 BTC
    assert account.margin_used(BTC) == Money("0.01", BTC)
    assert account.free(BTC) == Money("0.99", BTC)


def test_positions_are_the_portfolio_position_type():
    cache = Cache()
    Portfolio(cache).process_fill(buy(ES, "1", "5000.00"), ES)
    assert isinstance(cache.positions()[0], Position)
    assert cache.positions_open()[0].is_open


def test_fill_for_another_instrument_than_given_is_refused():
    with pytest.raises(PositionError, match="not ESH4"):
        Portfolio(Cache()).process_fill(buy(BTCUSDT_PERP, "1", "100.0"), ES)


class _PlainCache(Cache):
    """A Cache subclass: process_fill re-indexes through Cache.update_position."""


class _PlainMarginAccount(MarginAccount):
    """A MarginAccount subclass: process_fill settles through its Python methods."""


def _run_fills(cache: Cache, account: MarginAccount, hedging: bool) -> list[object]:
    cache.add_account(account)
    oms = OmsType.HEDGING if hedging else OmsType.NETTING
    portfolio = Portfolio(cache, default_oms_type=oms)
    steps = [  # (side, quantity, price, position id named)
        (buy, "2", "5000.00", None),
        (buy, "1", "5001.25", None),
        (sell, "5", "5010.00", None),  # through zero in netting mode
        (buy, "2", "4990.50", "ESH4.GLBX-S-001-O-3"),
        (buy, "1", "4999.75", None),
        (sell, "1", "5003.00", "ESH4.GLBX-S-001-O-5"),
    ]
    produced: list[object] = []
    for n, (side, qty, px, position_id) in enumerate(steps, 1):
        step = side(
            ES,
            qty,
            px,
            commission=usd("2.25"),
            order=f"O-{n}",
            trade_id=f"T-{n}",
            ts=n,
            position_id=position_id,
        )
        produced.append(portfolio.process_fill(step, ES))
        produced.append(dict(cache.net_positions()))
        produced.append(sorted(p.id for p in cache.positions_open()))
        produced.append(sorted(p.id for p in cache.positions_closed()))
        for index in (cache._positions_open, cache._positions_closed):  # keys in order
            produced.append(list(index.ids))
            for keyed in (index.by_instrument, index.by_strategy, index.by_pair):
                produced.append([(key, list(ids)) for key, ids in keyed.items()])
    produced.append(account.events)
    produced.append(account.margin(ES.id))
    return produced


@pytest.mark.parametrize("hedging", [False, True])
def test_compiled_fill_path_equals_the_python_methods_it_skips(hedging):
    # process_fill re-indexes the position and settles a MarginAccount in compiled code;
    # for a Cache or MarginAccount subclass it calls their Python methods instead (the
    # reference): events, net positions, indices and account states must be equal.
    def account(kind: type[MarginAccount]) -> MarginAccount:
        return kind(AccountId("GLBX-001"), leverage=10, balances={USD: usd("50000")})

    compiled = _run_fills(Cache(), account(MarginAccount), hedging)
    python = _run_fills(_PlainCache(), account(_PlainMarginAccount), hedging)
    assert compiled == python


def _run_two_instruments(cache: Cache, account: MarginAccount) -> list[object]:
    # Two instruments settled in two currencies in one account (the states hold two
    # balances and two margins), fees in the settlement currency, in BNB, or none.
    cache.add_account(account)
    portfolio = Portfolio(cache)
    bnb = Money("0.01", BNB)
    steps = [  # (side, instrument, quantity, price, commission)
        (buy, ES, "2", "5000.00", usd("2.25")),
        (buy, BTCUSDT_PERP, "0.5", "40000.0", usdt("4.00")),
        (sell, ES, "3", "5010.00", usd("2.25")),  # through zero, fee in USD
        (sell, BTCUSDT_PERP, "1.0", "40100.0", bnb),  # through zero, fee in BNB
        (buy, ES, "1", "4990.00", usd("0")),  # closes, no fee
        (buy, BTCUSDT_PERP, "0.5", "39900.0", usdt("4.00")),  # closes
    ]
    produced: list[object] = []
    for n, (side, instrument, qty, px, fee) in enumerate(steps, 1):
        step = side(
            instrument,
            qty,
            px,
            commission=fee,
            order=f"O-{n}",
            trade_id=f"T-{n}",
            ts=n,
            account="GLBX-001",
        )
        produced.append(portfolio.process_fill(step, instrument))
        produced.append(account._state_count())
    produced.append(account.events)
    produced.append(account.balances())
    return produced


def test_compiled_fill_path_equals_the_python_methods_with_two_currencies():
    # Several balances and margins per state, and a fee in another currency than the
    # realized PnL (the balance moves in two steps then), as the Python methods give them.
    def account(kind: type[MarginAccount]) -> MarginAccount:
        return kind(
            AccountId("GLBX-001"),
            leverage=10,
            balances={USD: usd("50000"), USDT: usdt("50000"), BNB: Money("1", BNB)},
        )

    compiled = _run_two_instruments(Cache(), account(MarginAccount))
    python = _run_two_instruments(_PlainCache(), account(_PlainMarginAccount))
    assert compiled == python
    states = compiled[-2]
    assert isinstance(states, list) and len(states) == 7  # the opening, then one per fill
    assert [len(state.margins) for state in states[1:]] == [1, 2, 2, 2, 1, 0]
    assert all(len(state.balances) == 3 for state in states)


def _run_two_strategies(cache: Cache, account: MarginAccount) -> list[object]:
    # Two strategies netting in one instrument, their fills interleaved (the pair changes
    # at each fill, the instrument holds two positions), then the cache reset (new
    # indices) and the same again.
    portfolio = Portfolio(cache)
    other = StrategyId("S-002")
    steps = [  # (side, strategy, quantity, price)
        (buy, STRATEGY, "2", "5000.00"),
        (sell, other, "1", "5001.00"),
        (sell, STRATEGY, "3", "5002.00"),  # through zero
        (buy, STRATEGY, "1", "5003.00"),  # flat
        (buy, other, "1", "5004.00"),  # flat
        (buy, other, "2", "5005.00"),
    ]
    produced: list[object] = []
    for run in range(2):
        cache.add_account(account)
        for n, (side, strategy, qty, px) in enumerate(steps, 1):
            step = side(
                ES, qty, px, strategy=strategy, order=f"O-{run}-{n}", trade_id=f"T-{run}-{n}"
            )
            produced.append(portfolio.process_fill(step, ES))
            produced.append(dict(cache.net_positions()))
            produced.append(list(cache.open_position_ids(ES.id)))
            produced.append(portfolio.net_position(ES.id, STRATEGY))
            produced.append(portfolio.net_position(ES.id, other))
            produced.append(account.margin(ES.id))
        cache.reset()
    produced.append(account.events)
    return produced


def test_compiled_fill_path_equals_the_python_methods_for_two_strategies():
    def account(kind: type[MarginAccount]) -> MarginAccount:
        return kind(AccountId("GLBX-001"), leverage=10, balances={USD: usd("50000")})

    compiled = _run_two_strategies(Cache(), account(MarginAccount))
    python = _run_two_strategies(_PlainCache(), account(_PlainMarginAccount))
    assert compiled == python
    # After S-001 bought 2 and S-002 sold 1, in each run: both open, each pair's net, the
    # margin of both (3 × 5000-ish × 50 at ES's 5 %).
    for second in (6, 6 + 36):
        assert compiled[second + 2] == [
            PositionId("ESH4.GLBX-S-001"),
            PositionId("ESH4.GLBX-S-002"),
        ]
        assert compiled[second + 3] == Decimal("2") and compiled[second + 4] == Decimal("-1")
        assert compiled[second + 5].initial == usd("37502.50")


def test_compiled_fill_path_equals_the_python_methods_for_a_currency_not_held_yet():
    # The account holds no USDT when the perpetual's first fill comes: its margin's update
    # registers the currency (at zero) first, then the fills settle into it.
    def account(kind: type[MarginAccount]) -> MarginAccount:
        return kind(AccountId("GLBX-001"), leverage=10, balances={USD: usd("50000")})

    compiled = _run_two_instruments(Cache(), account(MarginAccount))
    python = _run_two_instruments(_PlainCache(), account(_PlainMarginAccount))
    assert compiled == python
    states = compiled[-2]
    assert isinstance(states, list)
    assert [len(state.balances) for state in states] == [1, 1, 2, 2, 3, 3, 3]


def test_a_fill_of_another_type_is_read_by_its_attributes():
    # The compiled path reads an OrderFilled's fields at their offsets and anything else by
    # name: a look-alike fill gives the same events, positions and account states.
    def run(wrap: bool) -> list[object]:
        cache = Cache()
        account = MarginAccount(AccountId("GLBX-001"), leverage=10, balances={USD: usd("50000")})
        cache.add_account(account)
        portfolio = Portfolio(cache)
        produced: list[object] = []
        for n, (side, qty, px) in enumerate([(buy, "2", "5000.00"), (sell, "3", "5010.00")]):
            fill = side(ES, qty, px, commission=usd("2.25"), order=f"O-{n}", trade_id=f"T-{n}")
            if wrap:
                fill = SimpleNamespace(**{f: getattr(fill, f) for f in fill.__struct_fields__})
            produced.append(portfolio.process_fill(fill, ES))
            produced.append(dict(cache.net_positions()))
        produced.append(account.events)
        return produced

    assert run(wrap=True) == run(wrap=False)


def test_the_same_notional_locks_the_margin_of_each_rate():
    # The margin's integers are remembered by their arguments: the same entry notional at
    # another leverage, or in an instrument of another rate, locks its own margin.
    cache = Cache()
    account = MarginAccount(AccountId("BINANCE-001"), balances={USDT: usdt("100000")})
    cache.add_account(account)
    portfolio = Portfolio(cache)
    steps = [(buy, "1.0"), (sell, "1.0"), (buy, "1.0")]  # open, close, open again
    for leverage, expected in ((None, "40000.0"), (Decimal(10), "4000.0"), (Decimal(4), "10000.0")):
        if leverage is not None:
            account.set_leverage(BTCUSDT_PERP.id, leverage)
        for side, qty in steps:
            portfolio.process_fill(side(BTCUSDT_PERP, qty, "40000.0"), BTCUSDT_PERP)
        margin = account.margin(BTCUSDT_PERP.id)
        assert margin is not None and margin.initial == usdt(expected)
        portfolio.process_fill(sell(BTCUSDT_PERP, "1.0", "40000.0"), BTCUSDT_PERP)
        assert account.margin(BTCUSDT_PERP.id) is None


def test_a_positions_fees_are_summed_per_currency_in_the_order_first_paid():
    # The fee total of the latest fee's currency moves in C between reads: each read
    # (commissions, commission, net_realized_pnl, _commissions) sees every fee so far.
    cache = Cache()
    cache.add_account(MarginAccount(AccountId("BINANCE-001"), balances={USDT: usdt("1000")}))
    portfolio = Portfolio(cache)
    bnb = Money("0.001", BNB)
    fees = [usdt("0.10"), usdt("0.20"), bnb, bnb, usdt("0.30"), usdt("-0.05"), bnb]
    paid: dict[str, Money] = {}
    for n, fee in enumerate(fees, 1):
        side = buy if n % 2 else sell
        step = side(BTCUSDT_PERP, "0.1", "40000.0", commission=fee, trade_id=f"T-{n}")
        portfolio.process_fill(step, BTCUSDT_PERP)
        code = fee.currency.code
        paid[code] = paid[code] + fee if code in paid else fee
        if n % 3 == 0:  # read between some fills only: later fees add to the unread total
            continue
        position = cache.positions()[0]
        assert list(position.commissions.items()) == list(paid.items())
        assert position._commissions == paid
        assert position.commission(USDT) == paid["USDT"]
        assert position.net_realized_pnl == position.realized_pnl - paid["USDT"]
    assert position.commissions == {"USDT": usdt("0.55"), "BNB": Money("0.003", BNB)}


def test_a_fills_account_state_is_made_when_events_are_read_and_keeps_its_place():
    # The compiled fill path notes a fill's AccountState and makes it when `events` is
    # read: the count is right before, a deposit between fills keeps its place, and the
    # list read first is the account's list (the later states are appended to it).
    cache = Cache()
    account = MarginAccount(AccountId("GLBX-001"), leverage=10, balances={USD: usd("50000")})
    cache.add_account(account)
    portfolio = Portfolio(cache)
    history = account.events
    portfolio.process_fill(buy(ES, "2", "5000.00", commission=usd("2.25"), trade_id="T-1"), ES)
    assert account._state_count() == 2 and len(history) == 1  # noted, not made yet
    account.deposit(usd("100"), ts_event=5)  # the noted state is made first
    portfolio.process_fill(sell(ES, "2", "5010.00", commission=usd("2.25"), trade_id="T-2"), ES)
    assert account._state_count() == 4
    assert account.events is history
    assert [(s.reason, s.trade_id) for s in history] == [
        ("opening", None),
        ("fill", "T-1"),
        ("deposit", None),
        ("fill", "T-2"),
    ]
    assert all(type(s.trade_id) is str for s in history if s.trade_id is not None)
    # T-1: 50000 − 2.25 commission = 49997.75; ES's multiplier is 50, so 2 × 5000 × 50 =
    # 500000 notional at ES's margin_init 0.05 locks 25000: free 24997.75.
    first = history[1].balances[0]
    assert (first.total, first.locked, first.free) == (
        usd("49997.75"), usd("25000"), usd("24997.75")
    )
    assert not history[1].margin_call and history[1].margins[0].initial == usd("25000")
    # maintenance 500000 × 0.04 = 20000
    assert history[1].margins[0].maintenance == usd("20000")
    # T-2: + 100 deposit + 2 × 10 × 50 = 1000 realized − 2.25: 51095.50, flat: none locked.
    last = history[3].balances[0]
    assert (last.total, last.locked, last.free) == (usd("51095.50"), usd("0"), usd("51095.50"))
    assert not history[3].margin_call and history[3].margins == ()
