"""Type stubs for zq_core.order_ids: client order ids made in C."""

from typing import Any, final

__all__ = ["OrderIdGenerator"]

@final
class OrderIdGenerator:
    """Make a strategy's client order ids from the clock's time and a growing count."""

    def __init__(self, tags: str, id_type: Any, count: int = 0) -> None: ...
    @property
    def count(self) -> int: ...
    def set_count(self, count: int) -> None: ...
    def next_id(self, now: int) -> Any: ...
