"""Type stubs for zq_core.book_l3: the market-by-order book (import it from zq_core.book)."""

from typing import Final, Literal, SupportsIndex, final

from zq_core.book_base import OrderBook
from zq_core.fixed import Price, Quantity

__all__ = ["MODIFY_RULES", "L3Book"]

_ModifyRule = Literal["keep_on_decrease", "always_lose"]

MODIFY_RULES: Final[tuple[str, ...]]


@final
class L3Book(OrderBook):
    """A market-by-order book: every order, in time priority at its price level."""

    def __init__(
        self,
        instrument_id: str,
        price_precision: SupportsIndex,
        size_precision: SupportsIndex,
        modify_rule: _ModifyRule = "keep_on_decrease",
        strict: bool = True,
    ) -> None: ...
    @property
    def modify_rule(self) -> _ModifyRule: ...
    @property
    def strict(self) -> bool: ...
    @property
    def faults(self) -> int: ...
    @property
    def order_count(self) -> int: ...

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
    def order(self, order_id: int) -> tuple[int, Price, Quantity] | None: ...
    def queue(self, side: int, price: Price | SupportsIndex) -> list[tuple[int, Quantity]]: ...
    def queue_position(self, order_id: int) -> tuple[int, Quantity]: ...
    # Testing hook: overwrite an order, bypassing every rule (to exercise check_integrity).
    def _overwrite_order(self, order_id: int, price: int, size: int) -> None: ...
