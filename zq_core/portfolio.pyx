"""The compiled fill path of the portfolio: a fill applied to its position and its account.

``zq.portfolio.Portfolio`` subclasses :class:`PortfolioCore` and ``zq.portfolio.account.
Account`` subclasses :class:`AccountCore`: the per-fill state lives in C fields and
:meth:`PortfolioCore.process_fill` runs without the interpreter, calling the position's and
the margin account's compiled methods. What is rare (a new position, a cash account, a
memo miss of the margin, a subclass that overrides a method) goes through the Python
methods of ``zq``, which stay the reference. The classes of ``zq`` this module needs are
handed over once with :func:`bind` (``zq_core`` never imports ``zq``).
"""

from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject, PyObject_GenericSetAttr
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t, uintptr_t

from zq_core.cache cimport CacheCore

from zq_core.fixed cimport Money, money_from_raw_c, money_like_c
from zq_core.position cimport (
    F_ACCOUNT_ID,
    F_COMMISSION,
    F_INSTRUMENT_ID,
    F_ORDER_SIDE,
    F_STRATEGY_ID,
    F_TRADE_ID,
    F_TS_EVENT,
    PositionCore,
    fill_field,
    fill_kind,
    fill_offsets,
    money_sum,
    zq_as_int128,
    zq_add64,
    zq_i128,
    zq_int128_to_long,
    zq_mul128,
    zq_sub64,
    zq_fill_slot,
)

from decimal import ROUND_HALF_EVEN, Decimal, getcontext

__all__ = ["AccountCore", "PortfolioCore", "bind"]

# See zq.portfolio.account: the integer margin equals update_margin's in this context.
cdef int _CONTEXT_DIGITS = 28
cdef object _getcontext = getcontext
cdef object _HALF_EVEN = ROUND_HALF_EVEN
# A Context's prec and rounding are getset descriptors of its type: read through them (a
# getattr of a context costs ~330 instructions, its getter ~40).
cdef object _ContextType = type(getcontext())
cdef object _PREC = _ContextType.__dict__["prec"]
cdef object _ROUNDING = _ContextType.__dict__["rounding"]

# What zq hands over (bind).
cdef object _Position = None
cdef object _PositionError = ValueError
cdef object _BUY = None
cdef object _SELL = None
cdef object _Account = None
cdef object _CashAccount = None
cdef object _MarginAccount = None
cdef object _AccountBalance = None
cdef object _AccountState = None
cdef object _Cache = None
cdef object _MARGIN = None  # MarginAccount.account_type
cdef object _MarginBalance = None
cdef object _ZERO = None
# zq.portfolio.account's _MARGIN_MEMO_SIZE: the margin memo is cleared when this full.
cdef Py_ssize_t _MARGIN_MEMO_SIZE = 4096
cdef object _TEN_28 = 10 ** 28  # 10**_CONTEXT_DIGITS
cdef tuple _POWERS = tuple(10 ** k for k in range(120))  # as zq.portfolio.account's

# The rates of the latest margin computed (_margin_rates): an instrument (frozen), the
# account's and the instrument's leverages (immutable Decimals, checked by identity), and
# the initial and maintenance rates as (coefficient, exponent) (maintenance None when the
# instrument has none).
cdef object _rates_instrument = None
cdef object _rates_leverage = None
cdef object _rates_own_leverage = None
cdef tuple _rates_initial = None
cdef object _rates_maintenance = None
# The same rates as C integers (_rates_fit: both coefficients fit 128 bits and both
# exponents are within ±1000), and the instrument's settlement currency, its code and
# precision.
cdef bint _rates_fit = False
cdef zq_i128 _rates_initial_n = 0
cdef int _rates_initial_exponent = 0
cdef zq_i128 _rates_maintenance_n = 0
cdef int _rates_maintenance_exponent = 0
cdef object _rates_currency = None
cdef object _rates_code = None
cdef int _rates_precision = 0
# A zero Money of _rates_currency: the margins are made like it (money_like_c), without
# reading the currency's code and precision again.
cdef Money _rates_zero = None
# The fill path's table of margins (AccountCore._margin_slots): 2**_SLOT_BITS slots.
cdef enum:
    _SLOT_BITS = 8
    _SLOT_COUNT = 256


cdef extern from *:
    """
    #include <structmember.h>
    /* The offset of an object field behind a member descriptor (__slots__ keep their
       fields so), or -1. */
    static Py_ssize_t zq_portfolio_offset(PyObject *descr) {
        PyMemberDef *member;
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX && member->type != T_OBJECT) return -1;
        return member->offset;
    }
    /* The field at `offset` (borrowed; NULL when unset). */
    static inline PyObject *zq_portfolio_slot(PyObject *obj, Py_ssize_t offset) {
        return *(PyObject **)((char *)obj + offset);
    }
    """
    Py_ssize_t zq_portfolio_offset(PyObject *descr)
    PyObject *zq_portfolio_slot(object obj, Py_ssize_t offset)


cdef extern from *:
    """
    /* list[at:at + 4] = a, b, c, d, for a list the caller made long enough. */
    static void zq_note4(PyObject *list, Py_ssize_t at, PyObject *a, PyObject *b,
                         PyObject *c, PyObject *d) {
        PyObject *items[4] = {a, b, c, d};
        for (int k = 0; k < 4; k++) {
            PyObject *old = PyList_GET_ITEM(list, at + k);
            Py_INCREF(items[k]);
            PyList_SET_ITEM(list, at + k, items[k]);
            Py_XDECREF(old);
        }
    }
    """
    void zq_note4(list pending, Py_ssize_t at, object a, object b, object c, object d)


cdef extern from *:
    """
    /* descr.__get__(obj, type(obj)) through the descriptor's slot (a new reference). */
    static PyObject *zq_portfolio_get(PyObject *descr, PyObject *obj) {
        descrgetfunc get = Py_TYPE(descr)->tp_descr_get;
        if (get == NULL) { Py_INCREF(descr); return descr; }
        return get(descr, obj, (PyObject *)Py_TYPE(obj));
    }
    """
    object zq_portfolio_get(object descr, object obj)


# _default_context's answer while PortfolioCore._process hands the one it found for the fill
# to the margin's update (no Python code runs in between), else -1: asked.
cdef int _context_answer = -1


cdef bint _default_context() except -1:
    # Whether the current decimal context is the default one of the margin's integers
    # (28 digits, half-even): getcontext().prec and .rounding, read through the getters.
    if _context_answer >= 0:
        return _context_answer
    context = _getcontext()
    if type(context) is _ContextType:
        prec = zq_portfolio_get(_PREC, context)
        rounding = zq_portfolio_get(_ROUNDING, context)
    else:
        prec = context.prec
        rounding = context.rounding
    return prec == _CONTEXT_DIGITS and rounding == _HALF_EVEN


# The Cache's position indices and net positions, read at their __slots__ offsets on a
# zq Cache (exactly), and the fields of its position index type: a getattr of a slot costs
# a type look-up (~150 instructions), a fill reads half a dozen of them. An offset of -1
# (not a plain slot) or an unset slot: getattr.
cdef enum:
    C_POSITIONS_OPEN
    C_POSITIONS_CLOSED
    C_NET_POSITIONS
    I_IDS
    I_BY_PAIR
    I_BY_INSTRUMENT
    I_BY_STRATEGY
    SLOT_COUNT
cdef tuple _SLOT_NAMES = (
    "_positions_open", "_positions_closed", "_net_positions", "ids", "by_pair", "by_instrument",
    "by_strategy",
)
cdef Py_ssize_t[7] _SLOT_OFFSETS = [-1, -1, -1, -1, -1, -1, -1]
cdef object _Index = None  # the type of the Cache's position indices, once its offsets are known


cdef int _bind_slots(type kind, int first, int end) except -1:
    cdef int field
    for field in range(first, end):
        descriptor = getattr(kind, _SLOT_NAMES[field], None)
        _SLOT_OFFSETS[field] = zq_portfolio_offset(<PyObject *>descriptor)
    return 0


cdef inline object _slot(obj, int field):
    # obj.<_SLOT_NAMES[field]>; the caller checked obj's type (a Cache, or _Index).
    cdef Py_ssize_t offset = _SLOT_OFFSETS[field]
    cdef PyObject *value
    if offset >= 0:
        value = zq_portfolio_slot(obj, offset)
        if value is not NULL:
            return <object>value
    return getattr(obj, _SLOT_NAMES[field])


cdef object _index_slot(index, int field):
    # index.<_SLOT_NAMES[field]> of one of the Cache's position indices.
    global _Index
    if type(index) is not _Index:
        if _Index is not None:
            return getattr(index, _SLOT_NAMES[field])
        _bind_slots(type(index), I_IDS, SLOT_COUNT)  # the first index seen
        _Index = type(index)
    return _slot(index, field)


# The offset of the `id` field of the latest instrument type seen (a msgspec struct keeps
# it behind a member descriptor; -1: read by getattr).
cdef object _instrument_kind = None
cdef Py_ssize_t _instrument_id_at = -1


# fill_field's layout (position's): the fill's fields read inline (_fill).
cdef PyObject **_FILL_KIND = fill_kind()
cdef Py_ssize_t *_FILL_AT = fill_offsets()


cdef inline object _fill(fill, int field):
    # fill_field(fill, field)
    cdef PyObject *value = zq_fill_slot(fill, _FILL_KIND[0], _FILL_AT, field)
    if value is NULL:
        return fill_field(fill, field)
    return <object>value


cdef inline object _instrument_id(instrument):
    # instrument.id
    global _instrument_kind, _instrument_id_at
    cdef PyObject *value
    kind = type(instrument)
    if kind is not _instrument_kind:
        descriptor = getattr(kind, "id", None)
        _instrument_id_at = zq_portfolio_offset(<PyObject *>descriptor)
        _instrument_kind = kind
    if _instrument_id_at >= 0:
        value = zq_portfolio_slot(instrument, _instrument_id_at)
        if value is not NULL:
            return <object>value
    return instrument.id


def bind(position, position_error, buy, sell, account, cash_account, margin_account,
         account_balance, account_state, cache, margin_balance=None):
    """Hand over the classes of ``zq`` the fill path makes or tests for.

    ``zq.portfolio`` calls this once, at import, before any fill.
    """
    global _Position, _PositionError, _BUY, _SELL, _Account, _CashAccount, _MarginAccount
    global _AccountBalance, _AccountState, _Cache, _ZERO, _MARGIN, _MarginBalance
    _Position, _PositionError, _BUY, _SELL = position, position_error, buy, sell
    _Account, _CashAccount, _MarginAccount = account, cash_account, margin_account
    _AccountBalance, _AccountState = account_balance, account_state
    _Cache = cache
    _bind_slots(cache, C_POSITIONS_OPEN, I_IDS)
    _MarginBalance = margin_balance  # None: a margin memo miss takes the Python path
    _MARGIN = margin_account.account_type
    _ZERO = Decimal(0)


cdef class AccountCore:
    """The state of ``zq.portfolio.account.Account`` a fill moves, and a margin fill."""

    cdef int _fill_margin(self, fill, instrument, instrument_id, object units, zq_i128 units_n,
                          int scale, object realized_pnl) except -1:
        # MarginAccount._update_margin_units(instrument, units, scale), then
        # apply_fill(fill, instrument, realized_pnl): the same state, without the
        # interpreter. The caller checked that the account is exactly a MarginAccount.
        # `units` None: the notional is units_n (128 bits).
        cdef dict totals = self._totals
        cdef Money amount, commission
        cdef int64_t raw
        if units is None:
            self._margin_units_n(instrument, instrument_id, units_n, scale)
        else:
            self._margin_units(instrument, units, scale)
        # apply_fill: the realized PnL and the commission settle into the balances. Both in
        # the currency of a held balance (the same object) and the sums within int64: the
        # balance moves once, to what the two steps below give.
        commission = <Money?>_fill(fill, F_COMMISSION)
        if realized_pnl is not None and commission.raw != 0:
            amount = <Money?>realized_pnl
            total = totals.get(amount._code) if amount.currency is commission.currency else None
            if (
                total is not None
                and (<Money?>total).currency is amount.currency
                and zq_add64((<Money>total).raw, amount.raw, &raw)
                and zq_sub64(raw, commission.raw, &raw)
            ):
                totals[amount._code] = money_like_c(<Money>total, raw)
                self._emit_margin(_fill(fill, F_TRADE_ID), _fill(fill, F_TS_EVENT))
                return 0
        if realized_pnl is not None:
            amount = <Money?>realized_pnl
            if amount.raw != 0:
                total = totals.get(amount._code)
                if total is None:
                    self._add(amount)
                else:
                    totals[amount._code] = money_sum(<Money?>total, amount, False)
        amount = commission
        if amount.raw != 0:
            total = totals.get(amount._code)
            if total is None:
                self._subtract(amount)
            else:
                totals[amount._code] = money_sum(<Money?>total, amount, True)
        self._emit_margin(_fill(fill, F_TRADE_ID), _fill(fill, F_TS_EVENT))
        return 0

    def _update_margin_units_compiled(self, instrument, units, int scale):
        """``MarginAccount._update_margin_units`` as a fill runs it (compiled); for tests."""
        cdef zq_i128 units_n
        if zq_as_int128(units, &units_n):
            return self._margin_units_n(instrument, instrument.id, units_n, scale)
        return self._margin_units(instrument, units, scale)

    cdef object _margin_units_n(self, instrument, instrument_id, zq_i128 units, int scale):
        # _margin_units of a notional held in 128 bits: the margin computed in C (no Python
        # int, no memo key to hash; remembered by zq_margin_raw_memo), the MarginBalance
        # made again only when the slot of its raw amounts holds another (see
        # _margin_slots). What does not fit, and what _margin_miss hands to Python, takes
        # _margin_units.
        cdef int64_t initial_raw, maintenance_raw = 0
        cdef uint64_t mixed
        cdef Py_ssize_t slot
        cdef int precision
        if not _default_context():
            return self._update_margin_units(instrument, zq_int128_to_long(units), scale)
        own_leverage = self._leverages.get(instrument_id) if self._leverages else None
        if _MarginBalance is None:
            return self._margin_units(instrument, zq_int128_to_long(units), scale)
        _margin_rates(self, instrument, self._leverage, own_leverage)
        currency = _rates_currency
        totals = self._totals
        if totals is not self._held_totals or _rates_code is not self._held_code:
            if _rates_code not in totals:
                return self._margin_units(instrument, zq_int128_to_long(units), scale)
            self._held_totals = totals  # (a held currency stays held: see _held_code)
            self._held_code = _rates_code
        if not _rates_fit:
            return self._margin_units(instrument, zq_int128_to_long(units), scale)
        precision = _rates_precision
        if not zq_margin_raw_memo(units, scale, _rates_initial_n, _rates_initial_exponent,
                                  precision, &initial_raw):
            return self._margin_units(instrument, zq_int128_to_long(units), scale)
        if _rates_maintenance is not None and not zq_margin_raw_memo(
            units, scale, _rates_maintenance_n, _rates_maintenance_exponent, precision,
            &maintenance_raw
        ):
            return self._margin_units(instrument, zq_int128_to_long(units), scale)
        mixed = (<uint64_t>initial_raw * <uint64_t>0x9E3779B97F4A7C15u) ^ <uint64_t>maintenance_raw
        slot = <Py_ssize_t>((mixed * <uint64_t>0xBF58476D1CE4E5B9u) >> (64 - _SLOT_BITS))
        margins = self._margin_slots
        if margins is None:
            margins = self._margin_slots = [None] * _SLOT_COUNT
        margin = (<list>margins)[slot]
        if not (
            margin is not None
            and self._slot_initial[slot] == initial_raw
            and self._slot_maintenance[slot] == maintenance_raw
            and self._slot_instrument[slot] == <uintptr_t><PyObject *>instrument_id
            and self._slot_currency[slot] == <uintptr_t><PyObject *>currency
        ):
            initial = money_like_c(_rates_zero, initial_raw)
            if _rates_maintenance is not None:
                maintenance = money_like_c(_rates_zero, maintenance_raw)
            else:
                maintenance = _rates_zero
            margin = _MarginBalance(instrument_id, initial, maintenance)
            (<list>margins)[slot] = margin
            # The margin holds the instrument id and the currency: the addresses stay theirs.
            self._slot_initial[slot] = initial_raw
            self._slot_maintenance[slot] = maintenance_raw
            self._slot_instrument[slot] = <uintptr_t><PyObject *>instrument_id
            self._slot_currency[slot] = <uintptr_t><PyObject *>currency
        if units == 0:  # _set_margin: flat, the instrument locks no margin
            self._margin.pop(instrument_id, None)
        else:
            self._margin[instrument_id] = margin
        return margin

    cdef object _margin_units(self, instrument, object units, int scale):
        # MarginAccount._update_margin_units(instrument, units, scale): the memo's margin
        # when it holds it, else _margin_miss (the Python method in another decimal
        # context). Returns the margin.
        cdef dict margins
        cdef tuple known
        if not _default_context():
            return self._update_margin_units(instrument, units, scale)
        instrument_id = instrument.id
        own_leverage = self._leverages.get(instrument_id)
        found = self._margin_memo.get((instrument_id, units, scale))
        if found is None:
            return self._margin_miss(instrument, instrument_id, units, scale, own_leverage)
        known = <tuple?>found
        if known[0] is instrument and known[1] is self._leverage and known[2] is own_leverage:
            margins = self._margin
            if units == 0:  # flat: the instrument locks no margin
                margins.pop(instrument_id, None)
            else:
                margins[instrument_id] = known[3]
            return known[3]
        return self._margin_miss(instrument, instrument_id, units, scale, own_leverage)

    cdef object _margin_miss(self, instrument, instrument_id, object units, int scale,
                             own_leverage):
        # MarginAccount._update_margin_units(instrument, units, scale) when its memo does not
        # hold the margin, in the default decimal context: MarginAccount._margin_of in C
        # (the same integers), memoized and set as there. What is rare takes the Python
        # method: a settlement currency the account does not hold yet, an amount outside
        # int64 (Money.from_raw raises there), MarginBalance not handed over.
        cdef dict memo = self._margin_memo
        cdef tuple initial_rate
        currency = instrument.settlement_currency
        if _MarginBalance is None or currency.code not in self._totals:
            return self._update_margin_units(instrument, units, scale)
        leverage = self._leverage
        _margin_rates(self, instrument, leverage, own_leverage)
        initial_rate = _rates_initial
        maintenance_rate = _rates_maintenance
        precision = currency.precision
        initial_raw = _margin_raw(units, scale, initial_rate, precision)
        if not INT64_MIN <= initial_raw <= INT64_MAX:
            return self._update_margin_units(instrument, units, scale)
        initial = money_from_raw_c(initial_raw, currency)
        if maintenance_rate is not None:
            raw = _margin_raw(units, scale, <tuple>maintenance_rate, precision)
            if not INT64_MIN <= raw <= INT64_MAX:
                return self._update_margin_units(instrument, units, scale)
            maintenance = money_from_raw_c(raw, currency)
        else:
            maintenance = self._zeros.get(currency.code)
            if maintenance is None or (<Money>maintenance).currency is not currency:
                maintenance = self._zero_of(currency)
        margin = _MarginBalance(instrument_id, initial, maintenance)
        if len(memo) >= _MARGIN_MEMO_SIZE:
            memo.clear()
        memo[(instrument_id, units, scale)] = (instrument, leverage, own_leverage, margin)
        if units == 0:  # _set_margin: flat, the instrument locks no margin
            self._margin.pop(instrument_id, None)
        else:
            self._margin[instrument_id] = margin
        return margin

    cdef int _emit_margin(self, trade_id, ts_event) except -1:
        # MarginAccount._emit("fill", str(trade_id), ts_event), noted only: the state is
        # made when `events` is read (_flush), from what it is made of, kept here as four
        # items of _pending (no tuple per fill; the first _noted items are noted): the
        # totals (the one Money, or a tuple of them in the account's order; each is a new
        # Money per change), the margins (the one MarginBalance, or a tuple of them: they
        # are immutable), the trade id and the time.
        cdef dict locked_margins = self._margin
        cdef dict totals = self._totals
        cdef list pending = self._pending
        cdef Py_ssize_t noted = self._noted
        cdef Py_ssize_t count = len(locked_margins)
        cdef Py_ssize_t at = 0
        cdef PyObject *value
        # tuple(self._margin.values()), without the view (usually none or one margin).
        if count == 0:
            margins = ()
        elif count == 1 and PyDict_Next(locked_margins, &at, NULL, &value):
            margins = <object>value
        else:
            margins = tuple(locked_margins.values())
        at = 0
        if len(totals) == 1 and PyDict_Next(totals, &at, NULL, &value):
            held = <object>value
        else:
            held = tuple(totals.values())
        if pending is None:
            pending = self._pending = [None] * 64
            noted = 0
        elif noted + 4 > len(pending):
            # Grown by doubling (appends grow a list by an eighth, copying it each time);
            # the items past _noted are overwritten before they are read.
            pending *= 2
        zq_note4(pending, noted, held, margins, trade_id, ts_event)
        self._noted = noted + 4
        return 0

    cdef object _fill_state(self, list pending, Py_ssize_t at):
        # The AccountState _emit_margin noted in pending[at:at + 4]: each balance with its
        # locked margin (the initial margins in its currency) and whether a free balance is
        # below zero; MarginAccount._emit's.
        cdef tuple margins
        cdef dict currencies = self._currencies
        cdef list balances
        cdef tuple balance_tuple, held
        cdef bint margin_call = False
        cdef Money initial, locked
        noted = pending[at + 1]
        margins = <tuple>noted if type(noted) is tuple else (noted,)
        noted = pending[at]
        held = (noted,) if isinstance(noted, Money) else <tuple?>noted
        balances = None if len(held) == 1 else []
        for total in held:
            code = (<Money?>total)._code
            locked = None
            for margin in margins:
                initial = <Money?>margin.initial
                if initial._code == code:
                    locked = initial if locked is None else locked + initial
            if locked is None:
                locked = self._zeros.get(code)
                if locked is None or locked.currency is not currencies[code]:
                    locked = self._zero_of(currencies[code])
            free = money_sum(<Money?>total, locked, True)
            if (<Money?>free).raw < 0:
                margin_call = True
            balance = _AccountBalance(total, locked, free)
            if balances is None:  # the one currency: no list to make a tuple of
                balance_tuple = (balance,)
            else:
                balances.append(balance)
        if balances is not None:
            balance_tuple = tuple(balances)
        # Positional, in the order of AccountState's fields.
        return _AccountState(
            self.id,
            _MARGIN,  # account_type: the fill path checked the account is a MarginAccount
            self.base_currency,
            balance_tuple,
            margins,
            margin_call,
            "fill",
            str(pending[at + 2]),  # trade_id
            pending[at + 3],  # ts_event
        )

    cdef list _flush(self):
        # The states, the noted ones made (in order).
        cdef list pending = self._pending
        cdef list states = self._states
        cdef Py_ssize_t at
        if pending is not None and self._noted:
            # (may raise: nothing is dropped until every state is made)
            made = [self._fill_state(pending, at) for at in range(0, self._noted, 4)]
            self._pending = None
            self._noted = 0
            if states is None:
                states = self._states = []
            states.extend(made)
        return states

    @property
    def events(self):
        """Every :class:`AccountState` of the account, oldest first (a list).

        A fill's state is noted in C and made on the first read after it: read ``events``
        again after a change (the list read before stays the list of the account, the new
        states are appended to it then).
        """
        return self._flush()

    @events.setter
    def events(self, list value not None):
        self._states = value
        self._pending = None
        self._noted = 0

    def _state_count(self):
        """``len(self.events)``, without making the noted states."""
        return self._count()

    cdef Py_ssize_t _count(self) except -1:
        cdef Py_ssize_t count = 0 if self._states is None else len(self._states)
        if self._pending is not None:
            count += self._noted // 4
        return count


cdef int _margin_rates(AccountCore account, instrument, leverage,
                       own_leverage) except -1:
    # _rates_initial and _rates_maintenance of the instrument and the leverages (see
    # MarginAccount.initial_margin_rate and _margin_of), kept while they stay the same.
    global _rates_instrument, _rates_leverage, _rates_own_leverage
    global _rates_initial, _rates_maintenance, _rates_fit, _rates_initial_n
    global _rates_initial_exponent, _rates_maintenance_n, _rates_maintenance_exponent
    global _rates_currency, _rates_code, _rates_precision, _rates_zero
    if (
        _rates_instrument is instrument
        and _rates_leverage is leverage
        and _rates_own_leverage is own_leverage
        and _rates_initial is not None
    ):
        return 0
    _rates_instrument = None  # until both rates are made (they may raise)
    if own_leverage is not None:
        rate = 1 / own_leverage
    elif instrument.margin_init > 0:
        rate = instrument.margin_init
    else:
        rate = 1 / leverage
    initial = _parts(rate)
    maintenance = instrument.margin_maint
    _rates_maintenance = _parts(maintenance) if maintenance else None
    _rates_initial = initial
    currency = instrument.settlement_currency
    _rates_currency = currency
    _rates_code = currency.code
    _rates_precision = currency.precision
    _rates_zero = money_from_raw_c(0, currency)
    _rates_fit = (
        zq_as_int128(initial[0], &_rates_initial_n) and -1000 <= initial[1] <= 1000
    )
    _rates_initial_exponent = initial[1] if _rates_fit else 0
    if _rates_maintenance is not None:
        _rates_fit = _rates_fit and (
            zq_as_int128(_rates_maintenance[0], &_rates_maintenance_n)
            and -1000 <= _rates_maintenance[1] <= 1000
        )
        _rates_maintenance_exponent = _rates_maintenance[1] if _rates_fit else 0
    _rates_leverage = leverage
    _rates_own_leverage = own_leverage
    _rates_instrument = instrument
    return 0


cdef tuple _parts(rate):
    # zq.portfolio.account._parts: a finite Decimal as (coefficient, exponent).
    sign, digits, exponent = rate.as_tuple()
    coefficient = int("".join(map(str, digits)))
    return (-coefficient if sign else coefficient), int(exponent)


cdef extern from *:
    """
    /* The margin's integers in 128 bits (zq_int128.h, included through zq_core.position):
       the same results as _digits_rounded and _round_up_product below while every step
       stays under 10**38; each returns 0 (no exception set) when it does not, and the
       caller takes the Python-int route. */
    #if ZQ_HAVE_INT128
    static unsigned __int128 zq_margin_pow10[39];

    static void zq_margin_init(void) {
        unsigned __int128 p = 1;
        for (int k = 0; k < 39; k++) { zq_margin_pow10[k] = p; p *= 10; }
    }

    /* _digits_rounded: v (< 10**38) rounded half-even to 28 significant digits. */
    static unsigned __int128 zq_margin_digits(unsigned __int128 v) {
        unsigned __int128 unit, quotient, remainder, twice;
        int count = 29;
        if (v < zq_margin_pow10[28]) return v;
        while (count < 38 && v >= zq_margin_pow10[count]) count++;
        unit = zq_margin_pow10[count - 28];
        quotient = v / unit;
        remainder = v % unit;
        twice = remainder + remainder;
        if (twice > unit || (twice == unit && (quotient & 1))) quotient += 1;
        return quotient * unit;  /* at most 10**38: 28 digits times a power of ten */
    }

    /* _round_up_product(_digits_rounded(abs(units)), scale, (coefficient, exponent),
       precision) as int64. */
    static int zq_margin_raw_n(zq_i128 value, int scale, zq_i128 rate, int exponent,
                               int precision, int64_t *out) {
        unsigned __int128 notional, magnitude, product, raw, power;
        int cut;
        notional = value < 0 ? -(unsigned __int128)value : (unsigned __int128)value;
        magnitude = rate < 0 ? -(unsigned __int128)rate : (unsigned __int128)rate;
        if (notional >= zq_margin_pow10[38] || magnitude >= zq_margin_pow10[38]) return 0;
        notional = zq_margin_digits(notional);
        if (__builtin_mul_overflow(notional, magnitude, &product)) return 0;
        if (product >= zq_margin_pow10[38]) return 0;
        product = zq_margin_digits(product);
        cut = scale - exponent - precision;
        if (cut <= 0) {
            if (-cut > 38 || __builtin_mul_overflow(product, zq_margin_pow10[-cut], &raw))
                return 0;
        } else {
            if (cut > 38) return 0;
            power = zq_margin_pow10[cut];
            raw = product / power;
            if (product % power) raw += 1;
        }
        if (raw > (unsigned __int128)INT64_MAX) return 0;
        *out = rate < 0 ? -(int64_t)raw : (int64_t)raw;
        return 1;
    }

    static int zq_margin_raw(PyObject *units, int scale, PyObject *coefficient, int exponent,
                             int precision, int64_t *out) {
        __int128 value, rate;
        if (!zq_as_int128(units, &value) || !zq_as_int128(coefficient, &rate))
            return 0;
        return zq_margin_raw_n(value, scale, rate, exponent, precision, out);
    }

    /* zq_margin_raw_n, remembered: a direct-mapped table of the latest results by all
       five arguments (a fill's notional comes back with its price). */
    #define ZQ_MARGIN_MEMO_BITS 8
    static struct {
        zq_i128 value, rate;
        int scale, exponent, precision, used;
        int64_t raw;
    } zq_margin_memo[1 << ZQ_MARGIN_MEMO_BITS];

    static int zq_margin_raw_memo(zq_i128 value, int scale, zq_i128 rate, int exponent,
                                  int precision, int64_t *out) {
        uint64_t mixed = ((uint64_t)value ^ (uint64_t)((unsigned __int128)value >> 64)
                          ^ ((uint64_t)rate * 0x9E3779B97F4A7C15u)) * 0xBF58476D1CE4E5B9u;
        size_t slot = (size_t)(mixed >> (64 - ZQ_MARGIN_MEMO_BITS));
        if (zq_margin_memo[slot].used && zq_margin_memo[slot].value == value
            && zq_margin_memo[slot].rate == rate && zq_margin_memo[slot].scale == scale
            && zq_margin_memo[slot].exponent == exponent
            && zq_margin_memo[slot].precision == precision) {
            *out = zq_margin_memo[slot].raw;
            return 1;
        }
        if (!zq_margin_raw_n(value, scale, rate, exponent, precision, out)) return 0;
        zq_margin_memo[slot].value = value;
        zq_margin_memo[slot].rate = rate;
        zq_margin_memo[slot].scale = scale;
        zq_margin_memo[slot].exponent = exponent;
        zq_margin_memo[slot].precision = precision;
        zq_margin_memo[slot].raw = *out;
        zq_margin_memo[slot].used = 1;
        return 1;
    }
    #else
    static void zq_margin_init(void) {}
    static int zq_margin_raw_n(zq_i128 value, int scale, zq_i128 rate, int exponent,
                               int precision, int64_t *out) { return 0; }
    static int zq_margin_raw_memo(zq_i128 value, int scale, zq_i128 rate, int exponent,
                                  int precision, int64_t *out) { return 0; }
    static int zq_margin_raw(PyObject *units, int scale, PyObject *coefficient, int exponent,
                             int precision, int64_t *out) { return 0; }
    #endif
    """
    void zq_margin_init()
    bint zq_margin_raw_n(zq_i128 value, int scale, zq_i128 rate, int exponent,
                         int precision, int64_t *out)
    bint zq_margin_raw_memo(zq_i128 value, int scale, zq_i128 rate, int exponent,
                            int precision, int64_t *out)
    bint zq_margin_raw(object units, int scale, object coefficient, int exponent,
                       int precision, int64_t *out)


zq_margin_init()


cdef object _margin_raw(units, int scale, tuple rate, int precision):
    # _round_up_product(_digits_rounded(abs(units)), scale, rate, precision): in 128 bits
    # when it fits (see zq_margin_raw), else with Python ints. abs() as Decimal's (units is
    # an int: exact).
    cdef int64_t raw
    coefficient, exponent = rate
    if -1000 <= exponent <= 1000 and zq_margin_raw(
        units, scale, coefficient, exponent, precision, &raw
    ):
        return raw
    return _round_up_product(_digits_rounded(abs(units)), scale, rate, precision)


cdef object _digits_rounded(value):
    # zq.portfolio.account._digits_rounded: value >= 0 rounded half-even to 28 significant
    # digits (same scale).
    cdef Py_ssize_t count
    if value < _TEN_28:
        return value
    # The digit count (account._digit_count): bit_length × log10(2) from below, at most two
    # short of it, without making the number's string.
    count = (value.bit_length() * 1233) >> 12
    while count < 120 and value >= _POWERS[count]:
        count += 1
    if count >= 120:
        count = len(str(value))
    excess = count - _CONTEXT_DIGITS
    unit = _POWERS[excess] if excess < 120 else 10 ** excess
    quotient, remainder = divmod(value, unit)
    twice = remainder + remainder
    if twice > unit or (twice == unit and quotient & 1):
        quotient += 1
    return quotient * unit


cdef object _round_up_product(notional, int scale, tuple rate, int precision):
    # zq.portfolio.account._round_up_product: notional × 10**-scale × rate as Decimal
    # computes it (the product rounded to 28 digits, then away from zero to precision
    # decimals), in raw units.
    coefficient, exponent = rate
    product = _digits_rounded(notional * abs(coefficient))
    cut = scale - exponent - precision
    if cut <= 0:
        raw = product * (_POWERS[-cut] if -cut < 120 else 10 ** (-cut))
    else:
        raw, remainder = divmod(product, _POWERS[cut] if cut < 120 else 10 ** cut)
        if remainder:
            raw += 1
    return -raw if coefficient < 0 else raw


# The latest fill's instrument id found equal to its instrument's id, another object (the
# venue's events carry their own): the next fill with both skips the string comparison.
cdef object _equal_fill_instrument_id = None
cdef object _equal_instrument_key = None


cdef class PortfolioCore:
    """The fill path of ``zq.portfolio.Portfolio``."""

    def __setattr__(self, name, value):
        # The execution engine calls the class's process_fill (the compiled _process when
        # the class keeps PortfolioCore's): one set on an instance would be bypassed.
        if name == "process_fill":
            raise AttributeError(
                f"{type(self).__name__}.process_fill cannot be replaced on an instance: the "
                "execution engine calls the class's method; override process_fill in a "
                "subclass instead"
            )
        PyObject_GenericSetAttr(self, name, value)

    def net_position(self, instrument_id, strategy_id=None):
        """Return the signed quantity held in ``instrument_id`` (summed over positions).

        With a ``strategy_id`` (the query strategies make per signal), one look-up in the
        cache's net positions.
        """
        if strategy_id is None:
            return self._net_position_all(instrument_id)
        nets = self._nets
        if type(nets) is dict:
            return (<dict>nets).get((instrument_id, strategy_id), _ZERO)
        return nets.get((instrument_id, strategy_id), _ZERO)

    def process_fill(self, fill, instrument):
        """Apply a fill to its position and its account; return the position events.

        A fill a cash account refuses (:class:`~zq.portfolio.account.InsufficientBalance`)
        or a duplicate trade id (:class:`~zq.model.position.PositionError`) raises before
        anything changes. A margin account takes every fill and flags a deficit.

        Raises
        ------
        PositionError
            If the fill is for another instrument, its trade id was already applied, or
            the position belongs to another strategy.
        InsufficientBalance
            If a cash account cannot pay for the fill.
        """
        return self._process(fill, instrument)

    cdef list _process(self, fill, instrument):
        # process_fill, a cdef method: the execution core calls it when the portfolio's
        # class does not override process_fill.
        cdef PositionCore position
        cdef CacheCore core = self._cache_core
        cdef list events
        cdef bint margin, plain
        cdef bint was_wide = False
        cdef zq_i128 realized_before = 0
        cdef zq_i128 units_n
        cdef int context = -1  # _default_context(), once asked
        cdef Py_hash_t pair_hash = -1  # hash(pair) when known
        cdef bint alone = False  # the pair's open ids are {position_id} (_reindexed)
        cdef dict instrument_ids
        global _equal_fill_instrument_id, _equal_instrument_key, _context_answer
        instrument_id = _fill(fill, F_INSTRUMENT_ID)
        instrument_key = _instrument_id(instrument)  # once (the margin's look-ups use it)
        if instrument_id is not instrument_key and not (
            instrument_id is _equal_fill_instrument_id
            and instrument_key is _equal_instrument_key
        ):
            if instrument_id != instrument_key:
                raise _PositionError(
                    f"fill {fill.trade_id} is for {fill.instrument_id}, not {instrument.id}"
                )
            _equal_fill_instrument_id = instrument_id
            _equal_instrument_key = instrument_key
        side = _fill(fill, F_ORDER_SIDE)
        if side is not _BUY and side is not _SELL:
            raise _PositionError(f"fill {fill.trade_id} has no BUY or SELL side")
        strategy_id = _fill(fill, F_STRATEGY_ID)
        if (
            instrument_id is self._last_instrument_id
            and strategy_id is self._last_strategy_id
        ):
            pair = self._last_pair
            pair_hash = self._last_pair_hash
            position_id = self._last_netting_id
        else:
            pair = (instrument_id, strategy_id)
            position_id = self._netting_ids.get(pair)
            if position_id is None:
                position_id = self.position_id_for(fill)
            else:  # a netting pair's id never changes (the modes are fixed)
                self._last_pair_hash = hash(pair)
                self._last_instrument_id = instrument_id
                self._last_strategy_id = strategy_id
                self._last_pair = pair
                self._last_netting_id = position_id
                self._pair_ids = None
        cache = self._cache
        found = core._positions.get(position_id) if core is not None else cache.position(
            position_id
        )
        if found is not None:
            position = <PositionCore?>found
            if (
                _fill(fill, F_TRADE_ID) in position._trade_ids
                or (position.strategy_id is not strategy_id
                    and position.strategy_id != strategy_id)
                or (position.instrument_id is not instrument_id
                    and position.instrument_id != instrument_id)
            ):
                position.check(fill)  # raises, naming what is wrong (the side is checked above)
        account_id = _fill(fill, F_ACCOUNT_ID)
        account = core._accounts.get(account_id) if core is not None else cache.account(account_id)
        margin = type(account) is _MarginAccount  # the usual account: no isinstance to ask
        # No Python code ran since `found` was read from core._positions (nor will until
        # _reindexed): it is still the cached position.
        plain = margin
        if not margin:
            if account is None or not isinstance(account, _Account):
                account = self.account_for(fill)
            if isinstance(account, _CashAccount):
                account.apply_fill(fill, instrument)  # refuses before anything changes
            margin = isinstance(account, _MarginAccount)
        if found is None:
            position = <PositionCore?>_Position(instrument, fill, position_id)
            before_w = None  # realized_before: zero
            cache.add_position(position)
            events = position.last_events
        else:
            # The realized PnL before (in the position's units, as the position holds it).
            was_wide = position._wide
            realized_before = position._realized_n
            before_w = position._realized_w
            events = position._apply_fill(fill)
            if core is None or type(cache) is not _Cache or not _reindexed(
                self, core, cache, position, position_id, pair, pair_hash, plain, &context,
                &alone
            ):
                cache.update_position(position)
        if margin:
            # None: no PnL realized (an opening or an increase), nothing to round
            delta = position._realized_since(was_wide, realized_before, before_w)
            # update_margin(instrument, Σ entry_value of the open positions), in integers
            instrument_id = instrument_key
            instrument_ids = None
            if type(cache) is _Cache:  # open_position_ids(instrument_id), without the call
                open_index = _slot(cache, C_POSITIONS_OPEN)
                if open_index is self._ids_index and instrument_id is self._ids_instrument:
                    instrument_ids = self._instrument_ids
                else:
                    instrument_ids = <dict?>(<dict?>_index_slot(open_index, I_BY_INSTRUMENT)).get(
                        instrument_id
                    )
                    if instrument_ids is not None and type(open_index) is _Index:
                        _keep_index(self, open_index)
                        self._ids_instrument = instrument_id
                        self._instrument_ids = instrument_ids
                open_ids = () if instrument_ids is None else instrument_ids
            else:
                open_ids = cache.open_position_ids(instrument_id)
            units_n = 0
            if not open_ids:  # none open: _entry_notional's (0, 0)
                units = None
                scale = 0
            elif (
                # (the pair's open ids are among the instrument's: with the pair's {position
                # id}, the instrument's one id is it)
                len(instrument_ids) == 1 and (alone or position_id in instrument_ids)
                if instrument_ids is not None
                else len(open_ids) == 1 and position_id in open_ids
            ):  # the one just filled
                scale = position._pnl_scale
                if not position._wide and zq_mul128(
                    position._open_n, position._multiplier_raw, &units_n
                ):
                    units = None  # units_n: no Python int
                else:
                    units = position._open_units()
                    if position._multiplier_raw != 1:
                        units = units * position._multiplier_raw
            else:
                units, scale = self._entry_notional(instrument_id)
            if type(account) is _MarginAccount:
                _context_answer = context  # -1 if _reindexed did not ask
                try:
                    (<AccountCore>account)._fill_margin(
                        fill, instrument, instrument_id, units, units_n, scale, delta
                    )
                finally:
                    _context_answer = -1
            else:  # a subclass may override either
                if units is None:
                    units = zq_int128_to_long(units_n)
                account._update_margin_units(instrument, units, scale)
                account.apply_fill(fill, instrument, delta)
        return events


cdef int _index_move(PositionCore position, position_id, tuple pair, out_of,
                     into) except -1:
    # if position_id in out_of.ids: out_of.remove(position); then into.add(position) (the
    # caller found it is not in into.ids): zq.cache's _PositionIndex.remove and add, the
    # keyed dicts looked up with `pair` (the fill's, equal to the position's).
    instrument_id = position.instrument_id
    strategy_id = position.strategy_id
    ids = <dict?>_slot(out_of, I_IDS)
    if position_id in ids:
        del ids[position_id]
        del (<dict?>(<dict?>_slot(out_of, I_BY_INSTRUMENT))[instrument_id])[position_id]
        del (<dict?>(<dict?>_slot(out_of, I_BY_STRATEGY))[strategy_id])[position_id]
        del (<dict?>(<dict?>_slot(out_of, I_BY_PAIR))[pair])[position_id]
    (<dict?>_slot(into, I_IDS))[position_id] = None
    _keyed_add(<dict?>_slot(into, I_BY_INSTRUMENT), instrument_id, position_id)
    _keyed_add(<dict?>_slot(into, I_BY_STRATEGY), strategy_id, position_id)
    keyed = <dict?>_slot(into, I_BY_PAIR)
    found = keyed.get(pair)
    if found is None:  # setdefault((instrument_id, strategy_id), {})
        found = keyed[(instrument_id, strategy_id)] = {}
    (<dict?>found)[position_id] = None
    return 0


cdef inline int _keyed_add(dict keyed, key, position_id) except -1:
    # keyed.setdefault(key, {})[position_id] = None, without the spare dict.
    found = keyed.get(key)
    if found is None:
        found = keyed[key] = {}
    (<dict?>found)[position_id] = None
    return 0


cdef inline int _keep_index(PortfolioCore portfolio, open_index) except -1:
    # The keyed dicts the portfolio keeps are open_index's (those of another are dropped).
    if open_index is not portfolio._ids_index:
        portfolio._ids_index = open_index
        portfolio._pair_ids = None
        portfolio._ids_instrument = None
        portfolio._instrument_ids = None
    return 0


cdef extern from *:
    """
    /* dict[key] (borrowed; NULL: absent, or an error set) and dict[key] = value, with the
       key's hash given (-1: not known). CPython 3.5 to 3.12 take it
       (_PyDict_GetItem_KnownHash, _PyDict_SetItem_KnownHash); later versions hash again. */
    #if CYTHON_COMPILING_IN_CPYTHON && PY_VERSION_HEX < 0x030D0000
    #define ZQ_KNOWN_HASH 1
    #else
    #define ZQ_KNOWN_HASH 0
    #endif
    static PyObject *zq_dict_get_hashed(PyObject *d, PyObject *key, Py_hash_t hash) {
    #if ZQ_KNOWN_HASH
        if (hash != -1) return _PyDict_GetItem_KnownHash(d, key, hash);
    #endif
        return PyDict_GetItemWithError(d, key);
    }
    static int zq_dict_set_hashed(PyObject *d, PyObject *key, PyObject *value, Py_hash_t hash) {
    #if ZQ_KNOWN_HASH
        if (hash != -1) return _PyDict_SetItem_KnownHash(d, key, value, hash);
    #endif
        return PyDict_SetItem(d, key, value);
    }
    """
    PyObject *zq_dict_get_hashed(dict d, object key, Py_hash_t hash) except? NULL
    int zq_dict_set_hashed(dict d, object key, object value, Py_hash_t hash) except -1


cdef object _pair_ids_of(dict by_pair, tuple pair, Py_hash_t pair_hash):
    # by_pair.get(pair)
    cdef PyObject *found = zq_dict_get_hashed(by_pair, pair, pair_hash)
    return None if found is NULL else <object>found


cdef bint _reindexed(PortfolioCore portfolio, CacheCore core, cache, PositionCore position,
                     position_id, tuple pair, Py_hash_t pair_hash, bint cached,
                     int *context, bint *alone) except -1:
    # Cache.update_position(position) when the position is the cached one (known to be,
    # `cached`, else looked up): the pair's net quantity, summed as Cache.update_position
    # sums it (`pair`: the fill's (instrument id, strategy id), equal to the position's),
    # the position moved between the indices if it opened or closed. False (nothing done)
    # when it is not the cached one, or an index is not exactly a _PositionIndex:
    # Cache.update_position does it then (and raises what it raises). `alone` is set when
    # the pair's open ids are {position_id}.
    cdef dict positions = core._positions
    cdef dict nets
    if not cached and positions.get(position_id) is not position:
        return False
    # (the caller checked that the cache is exactly a zq Cache: its slots are read)
    open_index = _slot(cache, C_POSITIONS_OPEN)
    closed_index = _slot(cache, C_POSITIONS_CLOSED)
    into = open_index if position._raw != 0 else closed_index
    if position_id not in <dict?>_index_slot(into, I_IDS):
        # Opened or closed by this fill: moved between the indices as
        # Cache.update_position moves it (_PositionIndex.remove, then add), when both are
        # exactly _PositionIndex (read at their slots).
        if type(open_index) is not _Index or type(closed_index) is not _Index:
            return False
        out_of = closed_index if into is open_index else open_index
        _index_move(position, position_id, pair, out_of, into)
    cdef dict open_ids
    if (
        pair is portfolio._last_pair
        and open_index is portfolio._ids_index
        and portfolio._pair_ids is not None
    ):
        open_ids = portfolio._pair_ids
    else:
        open_ids = <dict?>_pair_ids_of(
            <dict?>_index_slot(open_index, I_BY_PAIR), pair, pair_hash
        )
        if open_ids is not None and pair is portfolio._last_pair and type(open_index) is _Index:
            _keep_index(portfolio, open_index)
            portfolio._pair_ids = open_ids
    nets = <dict?>_slot(cache, C_NET_POSITIONS)
    # (an id in a _PositionIndex's ids is in its pair's: the one open id is position_id)
    if open_ids is not None and len(open_ids) == 1 and (
        (into is open_index and type(open_index) is _Index) or position_id in open_ids
    ):
        # The sum over the one open position: 0 + signed_qty, which is signed_qty itself
        # in the default context (at most 19 digits, an exponent <= 0, not zero: open).
        qty = position.signed_qty
        context[0] = _default_context()  # (the margin's update reuses the answer)
        zq_dict_set_hashed(nets, pair, qty if context[0] else _ZERO + qty, pair_hash)
        alone[0] = True
    elif open_ids:
        total = _ZERO
        for open_id in open_ids:
            held = positions[open_id]
            if isinstance(held, PositionCore):
                total += (<PositionCore>held).signed_qty
            else:
                total += held.signed_qty
        nets[pair] = total
    else:
        nets.pop(pair, None)
    return True
