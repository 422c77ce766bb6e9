"""Type stubs for zq_core.portfolio: the compiled fill path of accounts and the portfolio."""

from typing import Any

__all__ = ["AccountCore", "PortfolioCore", "bind"]

def bind(
    position: type[Any],
    position_error: type[Exception],
    buy: Any,
    sell: Any,
    account: type[Any],
    cash_account: type[Any],
    margin_account: type[Any],
    account_balance: type[Any],
    account_state: type[Any],
    cache: type[Any],
    margin_balance: type[Any] | None = None,
) -> None: ...

class AccountCore:
    def _update_margin_units_compiled(self, instrument: Any, units: int, scale: int) -> Any: ...
    def _state_count(self) -> int: ...
    id: Any
    base_currency: Any
    events: list[Any]
    _totals: dict[str, Any]
    _currencies: dict[str, Any]
    _zeros: dict[str, Any]
    _leverage: Any
    _leverages: Any
    _margin: Any
    _margin_memo: Any

class PortfolioCore:
    _cache: Any
    _cache_core: Any
    _netting_ids: dict[Any, Any]
    _nets: Any
    def net_position(self, instrument_id: Any, strategy_id: Any | None = None) -> Any: ...
    def process_fill(self, fill: Any, instrument: Any) -> list[Any]: ...
