"""Type stubs for zq_core.replay: the compiled backtest replay loop."""

from collections.abc import Callable, Iterable
from typing import Any, final

from zq_core.bus import MessageBus

__all__ = ["ReplayLoop", "Route", "fill_columns"]

@final
class Route:
    """Where the rows of one series go (made by the loop)."""

    @property
    def series(self) -> Any: ...
    @property
    def kind(self) -> int: ...
    def latest(self) -> Any:
        """Return the latest row as a datum object (the cache calls this)."""

@final
class ReplayLoop:
    """Replay sources of ``(series, rows)`` runs through a backtest kernel."""

    def __init__(
        self,
        clock: Any,
        bus: MessageBus,
        resolver: Any,
        progress: Callable[[int, int], object] | None = None,
        progress_every: int = 65_536,
    ) -> None: ...
    @property
    def count(self) -> int: ...
    @property
    def ts_last(self) -> int: ...
    def open(self, sources: Iterable[Iterable[tuple[Any, Any]]]) -> int | None: ...
    def close(self) -> None:
        """Close the sources not yet exhausted (``run`` and ``open`` do when they fail)."""
    def run(self) -> int: ...

def fill_columns(out: Any, offset: int, columns: list[tuple[Any, int]]) -> int:
    """Copy ``(array, field_offset)`` columns into the rows ``out[offset:]`` (without the
    GIL); return the rows copied."""
