"""Type stubs for zq_core.commands: the ExecutionEngine's command path in C."""

from collections.abc import Callable
from typing import Any, final

__all__ = ["CommandPath", "register_exchange_client"]

def register_exchange_client(client_type: type[Any]) -> None: ...

@final
class CommandPath:
    """Carry out the usual submit, modify and cancel in C; hand the rest to ``fallback``."""

    def __init__(
        self,
        engine: Any,
        types: tuple[type, ...],
        state_table: dict[Any, Any],
        fallback: Callable[[Any], None],
    ) -> None: ...
    def execute(self, command: Any) -> None: ...
