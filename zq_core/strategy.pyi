"""Type stubs for zq_core.strategy: a strategy's commands built and sent in C."""

from typing import Any, Generic, Never, TypeVar, final, overload

__all__ = ["OrderSender", "Required", "SentCommand"]

T = TypeVar("T")

@final
class OrderSender:
    """Build one strategy's commands and send them to ``endpoint``."""

    def __init__(
        self,
        trader_id: Any,
        strategy_id: Any,
        cache: Any,
        bus: Any,
        clock: Any,
        endpoint: str,
        types: tuple[type, type, type],
    ) -> None: ...
    def submit_order(self, order: Any, position_id: Any = None) -> None: ...
    def modify_order(
        self, order: Any, quantity: Any = None, price: Any = None, trigger_price: Any = None
    ) -> None: ...
    def cancel_order(self, order: Any) -> None: ...

@final
class SentCommand:
    """A strategy's command method: its OrderSender's own once the strategy is registered."""

    @property
    def function(self) -> Any: ...
    def __init__(self, function: Any) -> None: ...
    def __get__(self, obj: object | None, owner: Any = None) -> Any: ...

@final
class Required(Generic[T]):
    """A read-only attribute of an actor: the value of another attribute, ``slot``."""

    doc: str
    def __init__(self, slot: str, what: str | None, doc: str = "") -> None: ...
    def __set_name__(self, owner: type, name: str) -> None: ...
    @overload
    def __get__(self, obj: None, owner: Any = None) -> Required[T]: ...
    @overload
    def __get__(self, obj: object, owner: Any = None) -> T: ...
    def __set__(self, obj: object, value: Never) -> None: ...
    def __delete__(self, obj: object) -> None: ...
