"""Accounts: the balances held at one venue, moved by fills, deposits and withdrawals.

- :class:`CashAccount` holds assets and no leverage. A spot fill moves the quote and base
  balances exactly; a fill, withdrawal or fee that would take a balance below zero is
  refused with :class:`InsufficientBalance`, and the balances stay as they were.
- :class:`MarginAccount` holds collateral for perpetuals and futures. Realized PnL and
  commissions settle into the balance; open positions lock initial margin, and
  ``free = total − margin used``. A fill is a fact the venue reports, so the account never
  refuses one: when a fill leaves ``free`` below zero (or a loss takes a balance below
  zero) the account is *in margin call* and the :class:`AccountState` says so. Refusing
  before the order leaves is :meth:`MarginAccount.check_margin`'s job (the risk engine's).

Every change emits an :class:`AccountState` (kept in :attr:`Account.events`, the history
reports read).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal, getcontext
from typing import TYPE_CHECKING, cast

import msgspec

from zq.model.currency import Currency
from zq.model.enums import AccountType, OrderSide
from zq.model.identifiers import AccountId, InstrumentId
from zq.model.instruments import CurrencyPair, Equity, Instrument
from zq.model.position import EXACT_CONTEXT
from zq_core.fixed import Money
from zq_core.portfolio import AccountCore

if TYPE_CHECKING:
    from zq.model.events import OrderFilled

__all__ = [
    "Account",
    "AccountBalance",
    "AccountError",
    "AccountState",
    "CashAccount",
    "InsufficientBalance",
    "MarginAccount",
    "MarginBalance",
]


class AccountError(ValueError):
    """An operation an account refuses (bad amount, unsupported instrument)."""


class InsufficientBalance(AccountError):
    """A change that would take a balance (or free margin) below zero.

    Attributes
    ----------
    account_id, currency, needed, available
        Which account and currency, the amount needed and the amount available.
    """

    def __init__(
        self, account_id: AccountId, currency: Currency, needed: Money, available: Money
    ) -> None:
        self.account_id = account_id
        self.currency = currency
        self.needed = needed
        self.available = available
        super().__init__(
            f"account {account_id}: insufficient {currency.code} balance: needs "
            f"{needed.as_decimal()}, has {available.as_decimal()} available"
        )


class AccountBalance(msgspec.Struct, frozen=True, gc=False):
    """One currency's balance: ``free = total − locked`` (locked: margin in use)."""

    total: Money
    locked: Money
    free: Money


class MarginBalance(msgspec.Struct, frozen=True, gc=False):
    """The margin the open positions of one instrument lock."""

    instrument_id: InstrumentId
    initial: Money
    maintenance: Money


class AccountState(msgspec.Struct, frozen=True, gc=False, tag=True):
    """The account after a change: every balance, the margins, and whether in margin call.

    ``reason`` says what changed it: ``"opening"``, ``"deposit"``, ``"withdrawal"`` or
    ``"fill"`` (then ``trade_id`` names the fill).

    Like the balances, not ``kw_only``: one is made per fill, and msgspec builds a struct
    from positional arguments several times faster than from keywords.
    """

    account_id: AccountId
    account_type: AccountType
    base_currency: Currency | None
    balances: tuple[AccountBalance, ...]
    margins: tuple[MarginBalance, ...]
    margin_call: bool
    reason: str
    trade_id: str | None
    ts_event: int


# Decimal(1).scaleb(-precision) per currency precision (0..9): the quantize exponents.
_EXPONENTS = tuple(Decimal(1).scaleb(-precision) for precision in range(10))


def _quantize(value: Decimal, currency: Currency, rounding: str = ROUND_HALF_EVEN) -> Money:
    # In the current decimal context, as the amounts always were.
    return Money(value.quantize(_EXPONENTS[currency.precision], rounding), currency)


def _zero(currency: Currency) -> Money:
    return Money.from_raw(0, currency)


# -- margin in integers --------------------------------------------------------------------
# update_margin computes in the current decimal context: abs(notional) rounds the notional
# to the context's 28 digits, the product with the rate rounds again, and the quantize
# rounds up to the currency. The Portfolio's per-fill call does the same in integers
# (exact, a fraction of the cost) while that context is the default one; a test compares
# both.
_CONTEXT_DIGITS = 28
_MARGIN_MEMO_SIZE = 4096
_POWERS: tuple[int, ...] = tuple(10**k for k in range(120))


def _power(exponent: int) -> int:
    """Return ``10**exponent`` for ``exponent >= 0``."""
    return _POWERS[exponent] if exponent < 120 else int(10**exponent)


def _digit_count(value: int) -> int:
    """Return the number of decimal digits of ``value > 0`` (without making its string)."""
    # bit_length × log10(2), from below: at most two short of the count.
    count = (value.bit_length() * 1233) >> 12
    while count < 120 and value >= _POWERS[count]:
        count += 1
    return count if count < 120 else len(str(value))


def _digits_rounded(value: int) -> int:
    """Return ``value >= 0`` rounded half-even to 28 significant digits (same scale)."""
    if value < _POWERS[_CONTEXT_DIGITS]:
        return value
    excess = _digit_count(value) - _CONTEXT_DIGITS
    unit = _power(excess)
    quotient, remainder = divmod(value, unit)
    twice = remainder + remainder
    if twice > unit or (twice == unit and quotient & 1):
        quotient += 1
    return quotient * unit


def _round_up_product(notional: int, scale: int, rate: tuple[int, int], precision: int) -> int:
    """Return ``notional × 10**-scale × rate`` as Decimal computes it (product rounded to
    28 digits, then rounded away from zero to ``precision`` decimals), in raw units.

    ``notional`` is non-negative; ``rate`` is (coefficient, exponent).
    """
    coefficient, exponent = rate
    product = _digits_rounded(notional * abs(coefficient))
    cut = scale - exponent - precision
    if cut <= 0:
        raw = product * _power(-cut)
    else:
        raw, remainder = divmod(product, _power(cut))
        if remainder:
            raw += 1
    return -raw if coefficient < 0 else raw


def _parts(rate: Decimal) -> tuple[int, int]:
    """Return a finite Decimal as (coefficient, exponent)."""
    sign, digits, exponent = rate.as_tuple()
    coefficient = int("".join(map(str, digits)))
    return (-coefficient if sign else coefficient), int(exponent)


class Account(AccountCore):
    """Balances per currency at one venue; the base of :class:`CashAccount` and
    :class:`MarginAccount`.

    Parameters
    ----------
    account_id : AccountId
        The account, ``VENUE-NUMBER``.
    base_currency : Currency, optional
        The currency reports are in, and the default of ``free()`` and ``margin_used()``.
    balances : Mapping[Currency | str, Money] or iterable of Money, optional
        Opening balances (non-negative).
    """

    account_type: AccountType = AccountType.CASH

    def __init__(
        self,
        account_id: AccountId,
        base_currency: Currency | None = None,
        balances: Mapping[Currency | str, Money] | None = None,
        ts_event: int = 0,
    ) -> None:
        self.id: AccountId = account_id
        self.base_currency: Currency | None = base_currency
        self._zeros: dict[str, Money] = {}  # zero in a currency, made once (see _zero_of)
        self._totals: dict[str, Money] = {}
        self._currencies: dict[str, Currency] = {}
        self.events: list[AccountState] = []
        for money in (balances or {}).values():
            if money.raw < 0:
                raise AccountError(f"account {account_id}: opening balance {money} is negative")
            self._set(money)
        if base_currency is not None and base_currency.code not in self._totals:
            self._set(_zero(base_currency))
        self._emit("opening", None, ts_event)

    def __repr__(self) -> str:
        held = ", ".join(f"{m.as_decimal()} {code}" for code, m in self._totals.items())
        return f"{type(self).__name__}({self.id}, {held})"

    # -- queries ---------------------------------------------------------------------------

    @property
    def venue(self) -> str:
        """The venue of the account."""
        return self.id.venue

    def currencies(self) -> list[Currency]:
        """Return the currencies the account holds a balance in."""
        return list(self._currencies.values())

    def balance(self, currency: Currency | str) -> Money:
        """Return the total balance in ``currency`` (zero if none is held)."""
        cur = self._currency(currency)
        return self._totals.get(cur.code, _zero(cur))

    def locked(self, currency: Currency | str) -> Money:
        """Return the part of the balance in ``currency`` that is locked (margin in use)."""
        return _zero(self._currency(currency))

    def free(self, currency: Currency | str | None = None) -> Money:
        """Return ``total − locked`` in ``currency`` (default: the base currency)."""
        cur = self._default_currency(currency)
        return self.balance(cur) - self.locked(cur)

    def balances(self) -> dict[str, AccountBalance]:
        """Return every balance by currency code."""
        balances = {}
        for code, total in self._totals.items():
            locked = self._locked_of(code)
            balances[code] = AccountBalance(total, locked, total - locked)  # free
        return balances

    def _zero_of(self, currency: Currency) -> Money:
        # _zero(currency), made once per currency object (a Money costs a dozen look-ups).
        zero = self._zeros.get(currency.code)
        if zero is None or zero.currency is not currency:
            zero = self._zeros[currency.code] = _zero(currency)
        return zero

    def _locked_of(self, code: str) -> Money:
        # locked(code) of a held currency (balances() asks for each).
        return self.locked(code)

    @property
    def is_margin_call(self) -> bool:
        """Whether some balance or free margin is below zero (margin accounts only)."""
        return False

    def _margin_call(self, balances: tuple[AccountBalance, ...]) -> bool:
        # is_margin_call of these balances (computed once per state).
        return False

    @property
    def last_state(self) -> AccountState:
        """The state after the latest change."""
        return self.events[-1]

    # -- changes ---------------------------------------------------------------------------

    def deposit(self, amount: Money, ts_event: int = 0) -> AccountState:
        """Add ``amount`` to its currency's balance.

        Raises
        ------
        AccountError
            If ``amount`` is not positive.
        """
        self._require_positive(amount, "deposit")
        currency = self._register(amount.currency)
        self._set(self.balance(currency) + amount)
        return self._emit("deposit", None, ts_event)

    def withdraw(self, amount: Money, ts_event: int = 0) -> AccountState:
        """Take ``amount`` out of its currency's free balance.

        Raises
        ------
        AccountError
            If ``amount`` is not positive.
        InsufficientBalance
            If the free balance is smaller than ``amount``; nothing changes.
        """
        self._require_positive(amount, "withdrawal")
        currency = self._register(amount.currency)
        available = self.free(currency)
        if available < amount:
            raise InsufficientBalance(self.id, currency, amount, available)
        self._set(self.balance(currency) - amount)
        return self._emit("withdrawal", None, ts_event)

    def apply_fill(
        self, fill: OrderFilled, instrument: Instrument, realized_pnl: Money | None = None
    ) -> AccountState:
        """Settle a fill into the balances and return the new state."""
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------

    def _register(self, currency: object) -> Currency:
        if isinstance(currency, Currency):
            self._currencies.setdefault(currency.code, currency)
            return currency
        code = currency.code  # type: ignore[attr-defined]
        cur = self._currencies.get(code) or Currency.from_str(code)
        self._currencies.setdefault(code, cur)
        return cur

    def _currency(self, currency: Currency | str) -> Currency:
        if isinstance(currency, Currency):
            return currency
        return self._currencies.get(currency) or Currency.from_str(currency)

    def _default_currency(self, currency: Currency | str | None) -> Currency:
        if currency is not None:
            return self._currency(currency)
        if self.base_currency is None:
            raise AccountError(
                f"account {self.id} has no base currency; name the currency to query"
            )
        return self.base_currency

    def _set(self, money: Money) -> None:
        currency = self._register(money.currency)
        self._totals[currency.code] = money

    def _add(self, amount: Money) -> None:
        # balance(currency) + amount, a new balance starting at zero (a held currency is
        # registered already).
        code = amount.currency.code
        total = self._totals.get(code)
        if total is None:
            total = _zero(self._register(amount.currency))
        self._totals[code] = total + amount

    def _subtract(self, amount: Money) -> None:
        # balance(currency) − amount, as _add.
        code = amount.currency.code
        total = self._totals.get(code)
        if total is None:
            total = _zero(self._register(amount.currency))
        self._totals[code] = total - amount

    def _require_positive(self, amount: Money, what: str) -> None:
        if amount.raw <= 0:
            raise AccountError(f"account {self.id}: a {what} must be positive, got {amount}")

    def _margins(self) -> tuple[MarginBalance, ...]:
        return ()

    def _balance_tuple(self) -> tuple[AccountBalance, ...]:
        # The values of balances(), in its order, without the dict (one state per fill).
        balances = []
        for code, total in self._totals.items():
            locked = self._locked_of(code)
            balances.append(AccountBalance(total, locked, total - locked))  # free
        return tuple(balances)

    def _emit(self, reason: str, trade_id: str | None, ts_event: int) -> AccountState:
        balances = self._balance_tuple()
        # Positional, in the order of AccountState's fields.
        state = AccountState(
            self.id,
            self.account_type,
            self.base_currency,
            balances,
            self._margins(),
            self._margin_call(balances),
            reason,
            trade_id,
            ts_event,
        )
        self.events.append(state)
        return state


class CashAccount(Account):
    """An account of assets without leverage; no balance ever goes below zero.

    A spot fill (:class:`~zq.model.instruments.CurrencyPair`) of ``qty`` at ``px``:

    - buy: quote ``−= qty × px`` (rounded half-even to the quote's precision), base
      ``+= qty``;
    - sell: base ``−= qty``, quote ``+= qty × px``;
    - the commission is debited from the balance of its own currency.

    An equity fill moves only the quote (cash) balance. Any change that would leave a
    balance below zero raises :class:`InsufficientBalance` and changes nothing.

    Examples
    --------
    >>> account = CashAccount(AccountId("BINANCE-001"), balances={USDT: Money(1000, USDT)})
    ... # doctest: +SKIP
    """

    account_type = AccountType.CASH

    def fill_changes(self, fill: OrderFilled, instrument: Instrument) -> dict[str, Money]:
        """Return the change of each balance a fill would make, without applying it.

        Raises
        ------
        AccountError
            If the instrument is not a spot pair or an equity (use a MarginAccount).
        """
        if not isinstance(instrument, CurrencyPair | Equity):
            raise AccountError(
                f"account {self.id} is a cash account; {instrument.id} "
                f"({type(instrument).__name__}) needs a MarginAccount"
            )
        quote = instrument.quote_currency
        notional = fill.last_qty.as_decimal() * fill.last_px.as_decimal()
        notional *= instrument.multiplier.as_decimal()
        cash = _quantize(notional, quote)
        buying = fill.order_side is OrderSide.BUY
        changes: dict[str, Money] = {quote.code: -cash if buying else cash}
        if isinstance(instrument, CurrencyPair):
            base = instrument.base_currency
            qty = Money(fill.last_qty.as_decimal(), base)
            changes[base.code] = qty if buying else -qty
        commission = fill.commission
        code = commission.currency.code
        changes[code] = changes[code] - commission if code in changes else -commission
        return changes

    def apply_fill(
        self, fill: OrderFilled, instrument: Instrument, realized_pnl: Money | None = None
    ) -> AccountState:
        """Move the balances by a fill (``realized_pnl`` is not used by cash accounts).

        Raises
        ------
        InsufficientBalance
            If a balance would go below zero; no balance changes.
        AccountError
            If the instrument cannot be held in a cash account.
        """
        changes = self.fill_changes(fill, instrument)
        self.check_changes(changes)
        for change in changes.values():
            self._set(self.balance(self._register(change.currency)) + change)
        return self._emit("fill", str(fill.trade_id), fill.ts_event)

    def check_changes(self, changes: Mapping[str, Money]) -> None:
        """Raise :class:`InsufficientBalance` if any change would leave a balance below zero."""
        for change in changes.values():
            if change.raw >= 0:
                continue
            currency = self._register(change.currency)
            available = self.free(currency)
            if (available + change).raw < 0:
                raise InsufficientBalance(self.id, currency, -change, available)


class MarginAccount(Account):
    """A collateral account for perpetuals and futures, with leverage.

    Parameters
    ----------
    account_id : AccountId
        The account.
    leverage : Decimal, default 1
        The default leverage (initial margin = entry notional / leverage).
    leverages : Mapping[InstrumentId, Decimal], optional
        Leverage per instrument, as set at the venue.
    base_currency, balances
        As for :class:`Account`.

    Notes
    -----
    The initial margin rate of an instrument is, first match wins: its leverage in
    ``leverages`` (``1 / leverage``); the instrument's ``margin_init`` when above zero; the
    default ``1 / leverage``. Maintenance margin is ``notional × margin_maint`` (zero when
    the instrument has none). Margin is computed on the entry notional of the open
    positions (their ``entry_value``), rounded up to the currency's precision, and locked
    in the instrument's settlement currency.
    """

    account_type = AccountType.MARGIN

    # Fields of the compiled core (AccountCore), typed for readers.
    _leverages: dict[InstrumentId, Decimal]
    _margin: dict[InstrumentId, MarginBalance]
    # (instrument id, notional units, scale) -> (the instrument, the account's leverage,
    # the instrument's leverage, the margin): see _update_margin_units.
    _margin_memo: dict[
        tuple[InstrumentId, int, int],
        tuple[Instrument, Decimal, Decimal | None, MarginBalance],
    ]

    def __init__(
        self,
        account_id: AccountId,
        leverage: Decimal | int = 1,
        balances: Mapping[Currency | str, Money] | None = None,
        base_currency: Currency | None = None,
        leverages: Mapping[InstrumentId, Decimal | int] | None = None,
        ts_event: int = 0,
    ) -> None:
        self.leverage = self._check_leverage(leverage)
        self.leverages = {
            iid: self._check_leverage(value) for iid, value in (leverages or {}).items()
        }
        self._margin = {}
        self._margin_memo = {}
        super().__init__(account_id, base_currency, balances, ts_event)

    # The leverages are fields of the compiled core (read per fill); plain attributes to
    # users, as before.
    @property
    def leverage(self) -> Decimal:
        """The default leverage (a plain attribute: set it to change it)."""
        return cast("Decimal", self._leverage)

    @leverage.setter
    def leverage(self, value: Decimal) -> None:
        self._leverage = value

    @property
    def leverages(self) -> dict[InstrumentId, Decimal]:
        """The leverage per instrument (see :meth:`set_leverage`)."""
        return self._leverages

    @leverages.setter
    def leverages(self, value: dict[InstrumentId, Decimal]) -> None:
        self._leverages = value

    @staticmethod
    def _check_leverage(value: Decimal | int) -> Decimal:
        leverage = Decimal(value)
        if not leverage > 0:
            raise AccountError(f"leverage must be positive, got {value}")
        return leverage

    def set_leverage(self, instrument_id: InstrumentId, leverage: Decimal | int) -> None:
        """Set the leverage of one instrument (it applies from the next fill)."""
        self.leverages[instrument_id] = self._check_leverage(leverage)

    def initial_margin_rate(self, instrument: Instrument) -> Decimal:
        """Return the initial margin as a fraction of notional (see the class notes)."""
        leverage = self.leverages.get(instrument.id)
        if leverage is not None:
            return 1 / leverage
        if instrument.margin_init > 0:
            return instrument.margin_init
        return 1 / self.leverage

    def margin_required(self, instrument: Instrument, notional: Decimal) -> Money:
        """Return the initial margin of an (unsigned) ``notional`` in the settlement currency."""
        rate = self.initial_margin_rate(instrument)
        return _quantize(abs(notional) * rate, instrument.settlement_currency, ROUND_UP)

    # -- queries ---------------------------------------------------------------------------

    def margin(self, instrument_id: InstrumentId) -> MarginBalance | None:
        """Return the margin locked by one instrument's open positions, or None."""
        return self._margin.get(instrument_id)

    def margin_used(self, currency: Currency | str | None = None) -> Money:
        """Return the initial margin locked in ``currency`` (default: the base currency)."""
        cur = self._default_currency(currency)
        used = _zero(cur)
        for margin in self._margin.values():
            if margin.initial.currency.code == cur.code:
                used = used + margin.initial
        return used

    def maintenance_margin(self, currency: Currency | str | None = None) -> Money:
        """Return the maintenance margin in ``currency`` (default: the base currency)."""
        cur = self._default_currency(currency)
        used = _zero(cur)
        for margin in self._margin.values():
            if margin.maintenance.currency.code == cur.code:
                used = used + margin.maintenance
        return used

    def locked(self, currency: Currency | str) -> Money:
        return self.margin_used(currency)

    def _locked_of(self, code: str) -> Money:
        # margin_used(code) without the currency look-ups: one pass over the margins.
        if type(self).locked is not MarginAccount.locked:
            return self.locked(code)  # a subclass decides
        used = None
        for margin in self._margin.values():
            initial = margin.initial
            if initial.currency.code == code:
                used = initial if used is None else used + initial
        # The same amount as zero + used (in an equal currency).
        return self._zero_of(self._currencies[code]) if used is None else used

    @property
    def is_margin_call(self) -> bool:
        return self._margin_call(tuple(self.balances().values()))

    def _margin_call(self, balances: tuple[AccountBalance, ...]) -> bool:
        for balance in balances:  # noqa: SIM110 - a loop over one or two: no generator
            if balance.free.raw < 0:
                return True
        return False

    def _emit(self, reason: str, trade_id: str | None, ts_event: int) -> AccountState:
        # Account._emit in one pass (one state per fill): each balance with its locked
        # margin (as _locked_of sums it) and whether any free balance is below zero.
        if type(self).locked is not MarginAccount.locked:
            return super()._emit(reason, trade_id, ts_event)  # a subclass decides
        margins = self._margin.values()
        balances = []
        margin_call = False
        for code, total in self._totals.items():
            locked = None
            for margin in margins:
                initial = margin.initial
                if initial.currency.code == code:
                    locked = initial if locked is None else locked + initial
            if locked is None:
                locked = self._zero_of(self._currencies[code])
            free = total - locked
            if free.raw < 0:
                margin_call = True
            balances.append(AccountBalance(total, locked, free))
        # Positional, in the order of AccountState's fields.
        state = AccountState(
            self.id,
            self.account_type,
            self.base_currency,
            tuple(balances),
            tuple(margins),
            margin_call,
            reason,
            trade_id,
            ts_event,
        )
        self.events.append(state)
        return state

    def check_margin(self, instrument: Instrument, notional: Decimal) -> None:
        """Raise if opening ``notional`` more would need more margin than is free.

        Raises
        ------
        InsufficientBalance
            Naming the margin needed and the free balance.
        """
        needed = self.margin_required(instrument, notional)
        available = self.free(instrument.settlement_currency)
        if needed > available:
            raise InsufficientBalance(self.id, instrument.settlement_currency, needed, available)

    # -- changes ---------------------------------------------------------------------------

    def apply_fill(
        self, fill: OrderFilled, instrument: Instrument, realized_pnl: Money | None = None
    ) -> AccountState:
        """Settle a fill's realized PnL and commission; margin follows :meth:`update_margin`.

        Never refuses (the fill happened at the venue); a resulting deficit shows as
        :attr:`is_margin_call` and in the returned state.
        """
        # _add and _subtract, inline for a currency already held (one call per fill).
        totals = self._totals
        if realized_pnl is not None and realized_pnl.raw != 0:
            code = realized_pnl.currency.code
            total = totals.get(code)
            if total is None:
                self._add(realized_pnl)
            else:
                totals[code] = total + realized_pnl
        commission = fill.commission
        if commission.raw != 0:
            code = commission.currency.code
            total = totals.get(code)
            if total is None:
                self._subtract(commission)
            else:
                totals[code] = total - commission
        return self._emit("fill", str(fill.trade_id), fill.ts_event)

    def update_margin(self, instrument: Instrument, entry_notional: Decimal) -> MarginBalance:
        """Set the margin of one instrument from the entry notional of its open positions."""
        currency = instrument.settlement_currency
        if currency.code not in self._totals:
            self._set(_zero(currency))  # registers the currency too
        notional = abs(entry_notional)
        rate = instrument.margin_maint
        initial = self.margin_required(instrument, notional)
        if rate:
            maintenance = _quantize(notional * rate, currency, ROUND_UP)
        else:
            maintenance = self._zero_of(currency)
        margin = MarginBalance(instrument.id, initial, maintenance)
        return self._set_margin(margin, notional == 0)

    def _update_margin_units(
        self, instrument: Instrument, units: int, scale: int
    ) -> MarginBalance:
        """:meth:`update_margin` of the entry notional ``units × 10**-scale``, in integers.

        The Portfolio's call per fill: the same margins as update_margin (see the comment
        above _CONTEXT_DIGITS), memoized by notional, since a position's notional comes
        back to the same values as prices do.
        """
        context = getcontext()
        if context.prec != _CONTEXT_DIGITS or context.rounding != ROUND_HALF_EVEN:
            notional = Decimal(units).scaleb(-scale, context=EXACT_CONTEXT)
            return self.update_margin(instrument, notional)
        instrument_id = instrument.id
        # What the margin depends on besides the notional: the instrument (frozen: its
        # margin rates and currency with it) and the leverages (immutable Decimals, set
        # anew when changed); the memo checks they are the very same objects.
        leverage = self.leverage
        own_leverage = self.leverages.get(instrument_id)
        key = (instrument_id, units, scale)
        memo = self._margin_memo
        known = memo.get(key)
        if (
            known is not None
            and known[0] is instrument
            and known[1] is leverage
            and known[2] is own_leverage
        ):
            margin = known[3]
        else:
            currency = instrument.settlement_currency
            if currency.code not in self._totals:
                self._set(_zero(currency))  # registers the currency too (balances stay)
            margin = self._margin_of(instrument, currency, units, scale)
            if len(memo) >= _MARGIN_MEMO_SIZE:
                memo.clear()
            memo[key] = (instrument, leverage, own_leverage, margin)
        return self._set_margin(margin, units == 0)

    def _margin_of(
        self, instrument: Instrument, currency: Currency, units: int, scale: int
    ) -> MarginBalance:
        notional = _digits_rounded(abs(units))  # abs() of a Decimal rounds to 28 digits
        precision = currency.precision
        rate = _parts(self.initial_margin_rate(instrument))
        initial = Money.from_raw(_round_up_product(notional, scale, rate, precision), currency)
        if instrument.margin_maint:
            rate = _parts(instrument.margin_maint)
            raw = _round_up_product(notional, scale, rate, precision)
            maintenance = Money.from_raw(raw, currency)
        else:
            maintenance = self._zero_of(currency)
        return MarginBalance(instrument.id, initial, maintenance)

    def _set_margin(self, margin: MarginBalance, flat: bool) -> MarginBalance:
        # Keep the margin of an instrument with open positions; forget it when flat.
        if flat:
            self._margin.pop(margin.instrument_id, None)
        else:
            self._margin[margin.instrument_id] = margin
        return margin

    def _margins(self) -> tuple[MarginBalance, ...]:
        return tuple(self._margin.values())
