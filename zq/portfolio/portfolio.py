"""The Portfolio: turns fills into positions and account changes, and answers PnL queries.

Position ids
------------
- NETTING venues keep one position per instrument and strategy:
  ``f"{instrument_id}-{strategy_id}"``. It reopens (same id, same object) after going flat;
  a fill's own ``position_id`` is ignored.
- HEDGING venues keep one position per opening order: the fill's ``position_id`` when set
  (that is how an order reduces or closes a given position), else
  ``f"{instrument_id}-{strategy_id}-{client_order_id}"``. So in hedging mode an order
  without a ``position_id`` always opens (or adds to) its own position; to close one, the
  closing order names it.

Money totals are per currency (a ``dict`` keyed by currency code): amounts in different
currencies are never added. Totals add the exact (unrounded) values of the positions and
round once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import TYPE_CHECKING, overload

from zq.cache import Cache
from zq.model.enums import OmsType, OrderSide
from zq.model.identifiers import InstrumentId, PositionId, StrategyId, Venue
from zq.model.position import EXACT_CONTEXT, Position, PositionError, PositionEvent
from zq.portfolio.account import (
    Account,
    AccountBalance,
    AccountState,
    CashAccount,
    MarginAccount,
    MarginBalance,
)
from zq_core import portfolio as _core
from zq_core.cache import CacheCore
from zq_core.fixed import Money, Price
from zq_core.portfolio import PortfolioCore

if TYPE_CHECKING:
    from zq.model.currency import Currency
    from zq.model.events import OrderFilled
    from zq.model.instruments import Instrument

__all__ = ["Portfolio"]

_ZERO = Decimal(0)

_core.bind(
    Position,
    PositionError,
    OrderSide.BUY,
    OrderSide.SELL,
    Account,
    CashAccount,
    MarginAccount,
    AccountBalance,
    AccountState,
    Cache,
    MarginBalance,
)


def _round(value: Decimal, currency: Currency) -> Money:
    exponent = Decimal(1).scaleb(-currency.precision)
    with localcontext(EXACT_CONTEXT):
        return Money(value.quantize(exponent, rounding=ROUND_HALF_EVEN), currency)


class Portfolio(PortfolioCore):
    """Positions and accounts of one node, kept in its cache.

    Parameters
    ----------
    cache : Cache
        Where positions are added and updated, and accounts are found (by the fill's
        ``account_id``, else the first account at the instrument's venue).
    oms_type_by_venue : Mapping[Venue | str, OmsType], optional
        NETTING or HEDGING per venue.
    default_oms_type : OmsType, default NETTING
        For venues not in ``oms_type_by_venue``.
    """

    def __init__(
        self,
        cache: Cache,
        oms_type_by_venue: Mapping[Venue | str, OmsType] | None = None,
        default_oms_type: OmsType = OmsType.NETTING,
    ) -> None:
        self._cache = cache
        self._cache_core = cache if isinstance(cache, CacheCore) else None
        self._oms: dict[str, OmsType] = {
            str(venue): oms for venue, oms in (oms_type_by_venue or {}).items()
        }
        self._default_oms = default_oms_type
        # Per (instrument, strategy): its netting position id, or None at a hedging venue
        # (the modes are fixed at construction, so the answer is made once per pair).
        self._netting_ids: dict[tuple[InstrumentId, StrategyId], PositionId | None] = {}
        # The cache's net quantity per (instrument, strategy), kept as positions change.
        self._nets = cache.net_positions()

    def oms_type(self, venue: Venue | str) -> OmsType:
        """Return the position mode of ``venue``."""
        return self._oms.get(str(venue), self._default_oms)

    def position_id_for(self, fill: OrderFilled) -> PositionId:
        """Return the id of the position ``fill`` belongs to (see the module's docstring)."""
        key = (fill.instrument_id, fill.strategy_id)
        try:
            netting_id = self._netting_ids[key]
        except KeyError:
            netting_id = self._netting_ids[key] = self._netting_id(*key)
        if netting_id is not None:
            return netting_id
        if fill.position_id is not None:
            return fill.position_id
        return PositionId(f"{fill.instrument_id}-{fill.strategy_id}-{fill.client_order_id}")

    def _netting_id(
        self, instrument_id: InstrumentId, strategy_id: StrategyId
    ) -> PositionId | None:
        if self.oms_type(instrument_id.venue) is OmsType.HEDGING:
            return None
        return PositionId(f"{instrument_id}-{strategy_id}")

    def account_for(self, fill: OrderFilled) -> Account | None:
        """Return the account a fill settles into, or None when the cache has none."""
        account = self._cache.account(fill.account_id)
        if account is None:
            account = self._cache.account_for_venue(fill.instrument_id.venue)
        return account if isinstance(account, Account) else None

    # -- fills -----------------------------------------------------------------------------

    if TYPE_CHECKING:  # compiled: PortfolioCore.process_fill, typed for users and mypy

        def process_fill(self, fill: OrderFilled, instrument: Instrument) -> list[PositionEvent]:
            """Apply a fill to its position and its account (see ``PortfolioCore.process_fill``)."""
            ...

    def _entry_notional(self, instrument_id: InstrumentId) -> tuple[int, int]:
        # The entry value of the open positions of one instrument (the margin's base), as
        # (units, scale): the sum of their entry_value is units × 10**-scale, exactly.
        units, scale = 0, 0
        cache = self._cache
        for position_id in cache.open_position_ids(instrument_id):
            position = cache.position(position_id)
            if isinstance(position, Position):
                value = position._open_value * position._multiplier_raw
                value_scale = position._pnl_scale
                if value_scale > scale:
                    units *= 10 ** (value_scale - scale)
                    scale = value_scale
                elif value_scale < scale:
                    value *= 10 ** (scale - value_scale)
                units += value
        return units, scale

    # -- queries ---------------------------------------------------------------------------

    def positions(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> list[Position]:
        """Return the positions (open and closed) matching the filters."""
        found = self._cache.positions(instrument_id=instrument_id, strategy_id=strategy_id)
        return [p for p in found if isinstance(p, Position)]

    def positions_open(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> list[Position]:
        """Return the open positions matching the filters."""
        found = self._cache.positions_open(instrument_id=instrument_id, strategy_id=strategy_id)
        return [p for p in found if isinstance(p, Position)]

    if TYPE_CHECKING:  # compiled: PortfolioCore.net_position, typed for users and mypy

        def net_position(
            self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
        ) -> Decimal:
            """Return the signed quantity held in ``instrument_id`` (summed over positions)."""
            ...

    def _net_position_all(self, instrument_id: InstrumentId) -> Decimal:
        # net_position(instrument_id) of every strategy: the sum over the open positions.
        total = _ZERO
        for position in self._cache.positions_open(instrument_id=instrument_id):
            if isinstance(position, Position):
                total += position.signed_qty
        return total

    def is_flat(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> bool:
        """Return whether no position matching the filters is open."""
        return not self.positions_open(instrument_id, strategy_id)

    def is_net_long(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> bool:
        """Return whether the net position is above zero."""
        return self.net_position(instrument_id, strategy_id) > 0

    def is_net_short(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> bool:
        """Return whether the net position is below zero."""
        return self.net_position(instrument_id, strategy_id) < 0

    @overload
    def realized_pnl(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Money | None: ...
    @overload
    def realized_pnl(
        self, instrument_id: None = None, strategy_id: StrategyId | None = None
    ) -> dict[str, Money]: ...
    def realized_pnl(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> Money | dict[str, Money] | None:
        """Return the gross realized PnL.

        For one instrument: a ``Money`` in its settlement currency, or None when no
        position was ever held. Without an instrument: a ``dict`` by currency code.
        """
        totals = self._sum(
            (p.currency, p.realized_pnl_decimal) for p in self.positions(instrument_id, strategy_id)
        )
        return self._one(totals) if instrument_id is not None else totals

    def unrealized_pnl(
        self, instrument_id: InstrumentId, price: Price, strategy_id: StrategyId | None = None
    ) -> Money | None:
        """Return the unrealized PnL of the open positions at ``price`` (None: none open)."""
        return self._one(
            self._sum(
                (p.currency, p.unrealized_pnl_decimal(price))
                for p in self.positions_open(instrument_id, strategy_id)
            )
        )

    def total_pnl(
        self, instrument_id: InstrumentId, price: Price, strategy_id: StrategyId | None = None
    ) -> Money | None:
        """Return realized plus unrealized PnL at ``price``, gross of commissions."""
        return self._one(
            self._sum(
                (p.currency, p.realized_pnl_decimal + p.unrealized_pnl_decimal(price))
                for p in self.positions(instrument_id, strategy_id)
            )
        )

    def net_exposure(
        self, instrument_id: InstrumentId, price: Price, strategy_id: StrategyId | None = None
    ) -> Money | None:
        """Return the signed value of the open positions at ``price`` (None: none open).

        Linear: ``signed_qty × price × multiplier``; inverse: ``signed_qty × multiplier /
        price`` in the base currency.
        """
        positions = self.positions_open(instrument_id, strategy_id)
        with localcontext(EXACT_CONTEXT):
            px = price.as_decimal()
            return self._one(
                self._sum(
                    (
                        p.currency,
                        p.signed_qty * p.multiplier / px
                        if p.is_inverse
                        else p.signed_qty * px * p.multiplier,
                    )
                    for p in positions
                )
            )

    def commissions(
        self, instrument_id: InstrumentId | None = None, strategy_id: StrategyId | None = None
    ) -> dict[str, Money]:
        """Return the commissions paid, by currency code."""
        totals: dict[str, Money] = {}
        for position in self.positions(instrument_id, strategy_id):
            for code, money in position.commissions.items():
                previous = totals.get(code)
                totals[code] = money if previous is None else previous + money
        return totals

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _sum(items: Iterable[tuple[Currency, Decimal]]) -> dict[str, Money]:
        values: dict[str, Decimal] = {}
        currencies: dict[str, Currency] = {}
        with localcontext(EXACT_CONTEXT):
            for currency, value in items:
                currencies[currency.code] = currency
                values[currency.code] = values.get(currency.code, Decimal(0)) + value
        return {code: _round(value, currencies[code]) for code, value in values.items()}

    @staticmethod
    def _one(totals: dict[str, Money]) -> Money | None:
        # One instrument settles in one currency, so there is at most one entry.
        return next(iter(totals.values()), None)
