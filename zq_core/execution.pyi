"""Type stubs for zq_core.execution: the compiled event path of zq's ExecutionEngine."""

from typing import Any

from zq_core.bus import MessageBus

__all__ = ["ExecutionCore"]

class ExecutionCore:
    """The compiled base of ``zq.execution.ExecutionEngine`` (its event path)."""

    cache: Any  # a CacheCore (zq.cache.Cache), typed by the subclass
    bus: MessageBus
    portfolio: Any
    duplicate_fills: int
    overfills: int
    unknown_events: int
    invalid_events: int
    client_errors: int
    portfolio_errors: int
    _netting_ids: dict[Any, Any]
    _position_ids: dict[Any, Any]
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def process(self, event: Any, /) -> None: ...
    def _forget_netting_ids(self) -> None: ...
    def _position_id(self, order: Any, /) -> Any: ...
    def _apply_venue(self, order: Any, event: Any, /) -> bool: ...
    def _apply_local(self, order: Any, event: Any, /) -> bool: ...
