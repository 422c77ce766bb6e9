"""Cash and margin accounts: exact balance moves, refusals, margin, history."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.portfolio.fills import (
    BNB,
    BTCUSDT_PERP,
    ES,
    ETH,
    ETHUSDT,
    USD,
    USDT,
    buy,
    sell,
)
from zq.model.enums import AccountType
from zq.model.identifiers import AccountId
from zq.model.serialization import from_json, to_json
from zq.portfolio import (
    AccountError,
    AccountState,
    CashAccount,
    InsufficientBalance,
    MarginAccount,
)
from zq_core.fixed import Money

BINANCE = AccountId("BINANCE-001")
GLBX = AccountId("GLBX-001")


def usdt(value: str) -> Money:
    return Money(value, USDT)


def usd(value: str) -> Money:
    return Money(value, USD)


def cash_account(amount: str = "1000") -> CashAccount:
    return CashAccount(BINANCE, base_currency=USDT, balances={USDT: usdt(amount)})


# -- cash ----------------------------------------------------------------------------------


def test_spot_round_trip_moves_quote_and_base_exactly():
    account = cash_account()
    account.apply_fill(buy(ETHUSDT, "0.25", "2000.00", commission=usdt("0.5")), ETHUSDT)
    # USDT: 1000 − 0.25 × 2000 − 0.5 = 499.5; ETH: +0.25
    assert account.balance(USDT) == usdt("499.5")
    assert account.balance(ETH) == Money("0.25", ETH)
    account.apply_fill(sell(ETHUSDT, "0.25", "2100.00", commission=usdt("0.525")), ETHUSDT)
    # USDT: 499.5 + 0.25 × 2100 − 0.525 = 499.5 + 525 − 0.525 = 1023.975; ETH back to 0
    assert account.balance(USDT) == usdt("1023.975")
    assert account.balance(ETH) == Money("0", ETH)
    assert [state.reason for state in account.events] == ["opening", "fill", "fill"]


def test_cash_account_refuses_overspending_and_leaves_balances_unchanged():
    account = cash_account("100")
    before = account.balances()
    with pytest.raises(InsufficientBalance) as info:
        # 0.05 × 2000 = 100 USDT, plus 0.1 commission: 100.1 needed, 100 available
        account.apply_fill(buy(ETHUSDT, "0.05", "2000.00", commission=usdt("0.1")), ETHUSDT)
    assert info.value.account_id == BINANCE and info.value.currency == USDT
    assert info.value.needed == usdt("100.1") and info.value.available == usdt("100")
    assert "BINANCE-001" in str(info.value) and "USDT" in str(info.value)
    assert account.balances() == before
    assert len(account.events) == 1


def test_selling_more_base_than_held_is_refused():
    account = cash_account()
    with pytest.raises(InsufficientBalance, match=r"insufficient ETH balance: needs 1\.000"):
        account.apply_fill(sell(ETHUSDT, "1.000", "2000.00"), ETHUSDT)
    assert account.balance(ETH) == Money("0", ETH)


def test_commission_in_a_third_currency_is_debited_from_that_balance():
    account = CashAccount(BINANCE, balances={USDT: usdt("1000"), BNB: Money("0.01", BNB)})
    account.apply_fill(buy(ETHUSDT, "0.1", "2000.00", commission=Money("0.004", BNB)), ETHUSDT)
    # USDT 1000 − 200 = 800; BNB 0.01 − 0.004 = 0.006
    assert account.balance(USDT) == usdt("800")
    assert account.balance(BNB) == Money("0.006", BNB)
    with pytest.raises(InsufficientBalance, match="BNB"):
        account.apply_fill(buy(ETHUSDT, "0.1", "2000.00", commission=Money("0.01", BNB)), ETHUSDT)
    assert account.balance(USDT) == usdt("800")


def test_cash_account_refuses_derivatives():
    with pytest.raises(AccountError, match="needs a MarginAccount"):
        cash_account().apply_fill(buy(BTCUSDT_PERP, "1", "100.0"), BTCUSDT_PERP)


def test_deposits_and_withdrawals_are_validated():
    account = cash_account("10")
    account.deposit(usdt("5"))
    assert account.balance(USDT) == usdt("15")
    with pytest.raises(AccountError, match="must be positive"):
        account.deposit(usdt("0"))
    with pytest.raises(AccountError, match="must be positive"):
        account.withdraw(usdt("-1"))
    with pytest.raises(InsufficientBalance):
        account.withdraw(usdt("15.01"))
    account.withdraw(usdt("15"))
    assert account.balance(USDT) == usdt("0")
    assert [state.reason for state in account.events][-2:] == ["deposit", "withdrawal"]


def test_negative_opening_balance_is_refused():
    with pytest.raises(AccountError, match="negative"):
        CashAccount(BINANCE, balances={USDT: usdt("-1")})


# -- margin --------------------------------------------------------------------------------


def test_margin_rate_precedence_is_account_leverage_then_instrument_then_default():
    account = MarginAccount(GLBX, leverage=Decimal(10), balances={USD: usd("1000")})
    assert account.initial_margin_rate(ES) == Decimal("0.05")  # ES sets margin_init
    assert account.initial_margin_rate(BTCUSDT_PERP) == Decimal("0.1")  # default 1 / 10
    account.set_leverage(ES.id, 4)
    assert account.initial_margin_rate(ES) == Decimal("0.25")


def test_margin_account_locks_initial_margin_and_reports_free_balance():
    account = MarginAccount(GLBX, leverage=20, base_currency=USD, balances={USD: usd("20000")})
    # one ES at 5000: notional 5000 × 50 = 250000; initial 5% = 12500; maintenance 4% = 10000
    margin = account.update_margin(ES, Decimal(250000))
    account.apply_fill(buy(ES, "1", "5000.00", commission=usd("2.50")), ES)
    assert margin.initial == usd("12500") and margin.maintenance == usd("10000")
    assert account.margin_used() == usd("12500")
    assert account.maintenance_margin() == usd("10000")
    # total 20000 − 2.50 commission = 19997.50; free = 19997.50 − 12500 = 7497.50
    assert account.balance(USD) == usd("19997.50")
    assert account.free() == usd("7497.50")
    assert account.balances()["USD"].locked == usd("12500")
    assert not account.is_margin_call


def test_margin_account_settles_realized_pnl_and_releases_margin():
    account = MarginAccount(GLBX, base_currency=USD, balances={USD: usd("20000")})
    account.update_margin(ES, Decimal(250000))
    account.apply_fill(buy(ES, "1", "5000.00"), ES)
    account.update_margin(ES, Decimal(0))
    state = account.apply_fill(sell(ES, "1", "4990.00", commission=usd("2.50")), ES, usd("-500"))
    # 20000 − 500 − 2.50 = 19497.50, no margin in use
    assert account.balance(USD) == usd("19497.50") and account.margin_used() == usd("0")
    assert state.margins == () and state.trade_id is not None


def test_margin_check_refuses_an_order_that_needs_more_than_the_free_balance():
    account = MarginAccount(GLBX, base_currency=USD, balances={USD: usd("10000")})
    # 250000 × 5% = 12500 > 10000 free
    with pytest.raises(InsufficientBalance, match=r"needs 12500\.00, has 10000\.00"):
        account.check_margin(ES, Decimal(250000))
    account.check_margin(ES, Decimal(200000))  # 10000 needed: allowed


def test_a_fill_that_leaves_free_margin_negative_is_flagged_not_hidden():
    account = MarginAccount(GLBX, base_currency=USD, balances={USD: usd("10000")})
    account.update_margin(ES, Decimal(250000))
    state = account.apply_fill(buy(ES, "1", "5000.00"), ES)
    assert account.free() == usd("-2500")
    assert account.is_margin_call and state.margin_call


def test_leverage_must_be_positive():
    with pytest.raises(AccountError, match="leverage must be positive"):
        MarginAccount(GLBX, leverage=0)


def test_account_state_round_trips_through_json():
    account = MarginAccount(GLBX, base_currency=USD, balances={USD: usd("10000")})
    account.update_margin(ES, Decimal(250000))
    state = account.apply_fill(buy(ES, "1", "5000.00", commission=usd("1.25")), ES)
    assert state.account_type is AccountType.MARGIN
    assert from_json(to_json(state), AccountState) == state
