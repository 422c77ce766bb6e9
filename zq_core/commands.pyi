"""Type stubs for zq_core.commands: the ExecutionEngine's command path in C."""

from collections.abc import Callable
from typing import Any, TypeVar, final

__all__ = ["CommandPath", "ExchangeCommand", "exchange_command", "register_exchange_client"]

F = TypeVar("F", bound=Callable[..., Any])

def register_exchange_client(client_type: type[Any]) -> None: ...
def exchange_command(method: F) -> F: ...

@final
class ExchangeCommand:
    """A command method of an exchange client that an instance cannot replace."""

    method: Callable[..., Any]
    def __init__(self, method: Callable[..., Any]) -> None: ...
    def __set_name__(self, owner: type, name: str) -> None: ...
    def __get__(self, obj: object, owner: type | None = None) -> Callable[..., Any]: ...
    def __set__(self, obj: object, value: object) -> None: ...
    def __delete__(self, obj: object) -> None: ...

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
    def execute(self, command: Any, /) -> None: ...
