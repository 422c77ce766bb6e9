"""Type stubs for zq_core.matching: the simulated exchange's matching core."""

from collections.abc import Callable
from typing import Any, Final, Literal, final

import numpy as np
import numpy.typing as npt

from zq_core.book_base import OrderBook

__all__ = [
    "QUEUE_CONSERVATIVE",
    "QUEUE_PROBABILISTIC",
    "REPORT_ACCEPTED",
    "REPORT_CANCELED",
    "REPORT_CANCEL_REJECTED",
    "REPORT_EXPIRED",
    "REPORT_FILLED",
    "REPORT_MODIFY_REJECTED",
    "REPORT_REJECTED",
    "REPORT_TRIGGERED",
    "REPORT_UPDATED",
    "MatchingCore",
    "SimOrder",
]

QUEUE_CONSERVATIVE: Final = 1
QUEUE_PROBABILISTIC: Final = 2
REPORT_ACCEPTED: Final = 1
REPORT_REJECTED: Final = 2
REPORT_FILLED: Final = 3
REPORT_CANCELED: Final = 4
REPORT_EXPIRED: Final = 5
REPORT_TRIGGERED: Final = 6
REPORT_UPDATED: Final = 7
REPORT_MODIFY_REJECTED: Final = 8
REPORT_CANCEL_REJECTED: Final = 9

# (kind, order_id, ts, quantity, price, maker, reason)
Report = tuple[int, int, int, int, int, bool, str | None]

@final
class SimOrder:
    """A simulated order inside a MatchingCore (read-only)."""

    @property
    def order_id(self) -> int: ...
    @property
    def side(self) -> int: ...
    @property
    def order_type(self) -> int: ...
    @property
    def time_in_force(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def filled(self) -> int: ...
    @property
    def leaves(self) -> int: ...
    @property
    def price(self) -> int: ...
    @property
    def has_price(self) -> bool: ...
    @property
    def trigger(self) -> int: ...
    @property
    def has_trigger(self) -> bool: ...
    @property
    def trigger_type(self) -> int: ...
    @property
    def expire_ts(self) -> int: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def reduce_only(self) -> bool: ...
    @property
    def triggered(self) -> bool: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def ahead(self) -> int: ...

@final
class MatchingCore:
    """The matching core of one instrument."""

    reduce_only_limit: Callable[[int, int], int] | None

    def __init__(
        self,
        instrument_id: str,
        book_type: int,
        price_precision: int,
        size_precision: int,
        tick: int,
        queue_model: int = 1,
        seed: int = 0,
        bar_sweep: Literal["ohlc", "olhc", "nearest"] = "ohlc",
    ) -> None: ...
    @property
    def book_type(self) -> int: ...
    @property
    def price_precision(self) -> int: ...
    @property
    def size_precision(self) -> int: ...
    @property
    def tick(self) -> int: ...
    @property
    def queue_model(self) -> int: ...
    @property
    def bar_sweep(self) -> str: ...
    @property
    def ts_now(self) -> int: ...
    @property
    def book(self) -> OrderBook: ...
    @property
    def last_trade(self) -> int | None: ...
    def drain(self) -> list[Report]: ...
    def order(self, order_id: int) -> SimOrder | None: ...
    def open_orders(self) -> list[SimOrder]: ...
    def available(self, book_side: int, price: int) -> int: ...
    def advance_time(self, ts: int) -> None: ...
    def apply_quote(self, bid: int, bid_size: int, ask: int, ask_size: int, ts: int) -> None: ...
    def apply_delta(
        self,
        action: int,
        side: int,
        price: int,
        size: int,
        order_id: int = 0,
        ts: int = 0,
        sequence: int = 0,
    ) -> None: ...
    def apply_deltas(self, deltas: npt.NDArray[np.void] | Any) -> int: ...
    def apply_trade(self, price: int, size: int, aggressor: int = 0, ts: int = 0) -> None: ...
    def apply_bar(
        self, open: int, high: int, low: int, close: int, volume: int, ts: int
    ) -> None: ...
    def submit(
        self,
        order_id: int,
        side: int,
        order_type: int,
        time_in_force: int,
        quantity: int,
        price: int | None = None,
        trigger: int | None = None,
        trigger_type: int = 0,
        expire_ts: int = 0,
        post_only: bool = False,
        reduce_only: bool = False,
        ts: int = 0,
    ) -> None: ...
    def modify(
        self,
        order_id: int,
        quantity: int | None = None,
        price: int | None = None,
        trigger: int | None = None,
        ts: int = 0,
    ) -> None: ...
    def cancel(self, order_id: int, ts: int = 0) -> None: ...
    def cancel_all(self, side: int = 0, ts: int = 0) -> None: ...
