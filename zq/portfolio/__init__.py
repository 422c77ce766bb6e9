"""The portfolio: positions, PnL and accounts.

Exports :class:`Portfolio` (fills → positions and account changes, PnL queries), the
accounts :class:`CashAccount` and :class:`MarginAccount` with their :class:`AccountState`
events, and re-exports :class:`~zq.model.position.Position`.
"""

from zq.model.position import (
    Position,
    PositionChanged,
    PositionClosed,
    PositionError,
    PositionEvent,
    PositionOpened,
)
from zq.portfolio.account import (
    Account,
    AccountBalance,
    AccountError,
    AccountState,
    CashAccount,
    InsufficientBalance,
    MarginAccount,
    MarginBalance,
)
from zq.portfolio.portfolio import Portfolio

__all__ = [
    "Account",
    "AccountBalance",
    "AccountError",
    "AccountState",
    "CashAccount",
    "InsufficientBalance",
    "MarginAccount",
    "MarginBalance",
    "Portfolio",
    "Position",
    "PositionChanged",
    "PositionClosed",
    "PositionError",
    "PositionEvent",
    "PositionOpened",
]
