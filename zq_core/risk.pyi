"""Type stubs for zq_core.risk: the RiskEngine's order checks on raw integers."""

from collections.abc import Callable
from typing import Any, final

__all__ = ["RiskCore"]

@final
class RiskCore:
    """Show that a command passes the RiskEngine's checks, on raw integers."""

    passed_count: int
    def __init__(
        self,
        cache: Any,
        buy: Any,
        trigger_valued: tuple[Any, ...],
        bus: Any,
        endpoint: str,
        submit_type: type,
        modify_type: type,
        cancel_type: type,
        fallback: Callable[[Any], None],
    ) -> None: ...
    def execute(self, command: Any, /) -> None: ...
    def set_limits(self, limits: Any) -> None: ...
    def set_trading_state(self, state: int) -> None: ...
    def submit_passes(self, order: Any) -> bool: ...
    def modify_passes(
        self, order: Any, quantity: Any, price: Any, trigger_price: Any
    ) -> bool: ...
