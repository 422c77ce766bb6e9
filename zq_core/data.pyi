"""Type stubs for zq_core.data: the compiled TradeTick (re-exported as zq.model.data.TradeTick)."""

from typing import Any, final

# Only for the annotations: the compiled module itself never imports zq (the types are
# registered at run time by zq.model.data).
from zq.model.enums import AggressorSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

__all__ = ["TradeTick"]

def _register_types(aggressor_sides: tuple[AggressorSide, ...], trade_id: type[TradeId]) -> None:
    """Register the ``AggressorSide`` members (by value) and the ``TradeId`` str subclass."""

@final
class TradeTick:
    """One trade printed by the venue; ``aggressor_side`` says who crossed the spread."""

    def __init__(
        self,
        instrument_id: InstrumentId,
        price: Price,
        size: Quantity,
        aggressor_side: AggressorSide,
        trade_id: TradeId | str,
        ts_event: int,
        ts_init: int,
    ) -> None: ...
    @staticmethod
    def from_raw(
        instrument_id: InstrumentId,
        price: int,
        price_precision: int,
        size: int,
        size_precision: int,
        aggressor_side: int,
        trade_id: int,
        ts_event: int,
        ts_init: int,
    ) -> TradeTick:
        """Return a trade of raw fields, as the backtest replay loop makes one from a row."""
    @property
    def instrument_id(self) -> InstrumentId: ...
    @property
    def price(self) -> Price: ...
    @property
    def size(self) -> Quantity: ...
    @property
    def aggressor_side(self) -> AggressorSide: ...
    @property
    def trade_id(self) -> TradeId: ...
    @property
    def ts_event(self) -> int: ...
    @property
    def ts_init(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]: ...
    def __copy__(self) -> TradeTick: ...
    def __deepcopy__(self, memo: Any) -> TradeTick: ...
