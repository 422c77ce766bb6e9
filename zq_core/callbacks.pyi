"""Type stubs for zq_core.callbacks: a strategy's events delivered to its callbacks in C."""

from typing import Any, final

__all__ = ["ASSIGNED", "CallbackSlot", "EventCallbacks"]

ASSIGNED: str

@final
class CallbackSlot:
    """A callback of the base class that an instance can replace by assignment."""

    @property
    def name(self) -> str: ...
    @property
    def function(self) -> Any: ...
    def __init__(self, name: str, function: Any) -> None: ...
    def __get__(self, obj: Any, owner: Any) -> Any: ...
    def __set__(self, obj: Any, value: Any) -> None: ...
    def __delete__(self, obj: Any) -> None: ...

@final
class EventCallbacks:
    """Call ``owner``'s callbacks for each event it is given."""

    def __init__(
        self,
        owner: Any,
        names: dict[Any, str],
        general: str,
        overridden: frozenset[str],
        defaults: dict[str, Any],
        by_name: bool,
    ) -> None: ...
    def __call__(self, event: Any) -> None: ...
    def deliver(self, event: Any) -> None: ...
