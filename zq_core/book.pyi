"""Type stubs for zq_core.book: L1Book, L2Book, and the re-exported L3Book."""

from typing import final

from zq_core.book_base import DELTA_ROW_DTYPE as DELTA_ROW_DTYPE
from zq_core.book_base import BookIntegrityError as BookIntegrityError
from zq_core.book_base import OrderBook as OrderBook
from zq_core.book_l3 import L3Book as L3Book

__all__ = ["DELTA_ROW_DTYPE", "BookIntegrityError", "L1Book", "L2Book", "L3Book", "OrderBook"]


@final
class L2Book(OrderBook):
    """An aggregated (market-by-price) order book."""

    def apply_delta(
        self,
        action: int,
        side: int,
        price: int,
        size: int,
        order_id: int = 0,
        sequence: int = 0,
        ts_event: int = 0,
    ) -> None: ...


@final
class L1Book(OrderBook):
    """A top-of-book (best bid and ask) book."""

    def apply_delta(
        self,
        action: int,
        side: int,
        price: int,
        size: int,
        order_id: int = 0,
        sequence: int = 0,
        ts_event: int = 0,
    ) -> None: ...

    def apply_quote(
        self, bid: int, bid_size: int, ask: int, ask_size: int, ts_event: int = 0
    ) -> None: ...
