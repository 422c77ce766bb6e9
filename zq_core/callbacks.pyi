"""Type stubs for zq_core.callbacks: a strategy's events delivered to its callbacks in C."""

from typing import Any, final

__all__ = ["EventCallbacks"]

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
