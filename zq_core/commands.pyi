"""Type stubs for zq_core.commands: the ExecutionEngine's submit path in C."""

from collections.abc import Callable
from typing import Any, final

__all__ = ["SubmitPath"]

@final
class SubmitPath:
    """Carry out the usual ``SubmitOrder`` in C; hand the rest to ``fallback``."""

    def __init__(
        self,
        engine: Any,
        submit_type: type,
        submitted_type: type,
        fallback: Callable[[Any], None],
    ) -> None: ...
    def execute(self, command: Any) -> None: ...
