"""The sandbox venue's configuration: symbols, accounts, limits, market source and faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

__all__ = [
    "AccountConfig",
    "FaultConfig",
    "MarketConfig",
    "SymbolConfig",
    "VenueConfig",
    "default_account",
    "default_symbol",
]


@dataclass(frozen=True, slots=True)
class SymbolConfig:
    """One spot symbol and its exchangeInfo filters.

    Prices and quantities are decimals; ``tick_size`` must be ``10**-price_precision`` times a
    whole number, and ``step_size`` ``10**-size_precision`` times a whole number (the matching
    core works on integers at those precisions).
    """

    symbol: str = "BTCUSDT"
    base_asset: str = "BTC"
    quote_asset: str = "USDT"
    price_precision: int = 2
    size_precision: int = 8
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.00001")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    #: Which notional filter exchangeInfo shows: the current ``NOTIONAL`` or the older
    #: ``MIN_NOTIONAL``; both are enforced the same way.
    notional_filter: Literal["NOTIONAL", "MIN_NOTIONAL"] = "NOTIONAL"

    def __post_init__(self) -> None:
        if not self.symbol.isalnum() or self.symbol.upper() != self.symbol:
            raise ValueError(f"symbol must be upper-case letters and digits, got {self.symbol!r}")
        for name, precision in (
            ("price_precision", self.price_precision),
            ("size_precision", self.size_precision),
        ):
            if not 0 <= precision <= 8:
                raise ValueError(f"{self.symbol}: {name} must be in 0..8, got {precision}")
        for name, step, precision in (
            ("tick_size", self.tick_size, self.price_precision),
            ("step_size", self.step_size, self.size_precision),
        ):
            if step <= 0 or step.scaleb(precision) != step.scaleb(precision).to_integral_value():
                raise ValueError(
                    f"{self.symbol}: {name} {step} is not a positive multiple of 1e-{precision}"
                )


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One account: its API key and secret, starting balances and commission rates."""

    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    maker_commission: Decimal = Decimal("0.001")
    taker_commission: Decimal = Decimal("0.001")

    def __post_init__(self) -> None:
        if not self.api_key or not self.secret:
            raise ValueError("an account needs a non-empty api_key and secret")
        for asset, amount in self.balances.items():
            if amount < 0:
                raise ValueError(f"account {self.api_key}: balance of {asset} is negative")


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Where the market comes from.

    ``kind``:

    - ``"generated"``: a seeded random walk of a book around ``start_price``, one update every
      ``interval`` seconds, with trades;
    - ``"replay"``: a Binance raw capture (``path``) replayed at ``speed`` times real time
      (``speed=0``: as fast as the loop allows), for the capture's symbol; with ``paused``
      it does not run by itself but moves only when told (``venue.market.step()`` or
      ``step_through_trade()``), which makes a replay deterministic for a client that
      reacts to each event (the parity test);
    - ``"manual"``: nothing moves unless the Python API (``SandboxVenue.set_levels``,
      ``SandboxVenue.trade``) moves it; what tests use.
    """

    kind: Literal["generated", "replay", "manual"] = "generated"
    path: Path | None = None
    symbol: str | None = None  # the symbol a replay feeds (default: the venue's first)
    speed: float = 1.0
    interval: float = 0.05
    start_price: Decimal = Decimal("60000")
    levels: int = 20
    seed: int = 1
    loop: bool = True  # start a replay again from the top when it ends
    paused: bool = False  # a replay moves only when told (ReplayMarket.step), never by itself

    def __post_init__(self) -> None:
        if self.paused and self.kind != "replay":
            raise ValueError(f"only a replay market can be paused, not a {self.kind!r} one")


@dataclass(slots=True)
class FaultConfig:
    """Fault-injection switches; the venue reads them per request, so they change at runtime.

    Shares are probabilities in [0, 1], drawn from one seeded RNG.
    """

    drop_before: float = 0.0  # close the connection before processing: nothing happened
    drop_after: float = 0.0  # process, then close the connection: the order may exist
    delay: float = 0.0  # share of responses delayed by ``delay_seconds``
    delay_seconds: float = 0.5
    rate_limit: float = 0.0  # answer 429 (-1003) without processing
    disconnect_every: float = 0.0  # seconds between forced WebSocket disconnects (0: never)
    duplicate: float = 0.0  # share of user-stream events sent twice
    reorder: float = 0.0  # share of user-stream events held back and sent after the next
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first switch that is out of range."""
        for name in ("drop_before", "drop_after", "delay", "rate_limit", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} must be a share in [0, 1], got {value}")
        for name in ("delay_seconds", "disconnect_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name} must not be negative, got {getattr(self, name)}")


def default_symbol() -> SymbolConfig:
    """Return BTCUSDT with Binance's spot filters."""
    return SymbolConfig()


def default_account() -> AccountConfig:
    """Return the account every sandbox has unless told otherwise."""
    return AccountConfig(
        api_key="sandbox-api-key",
        secret="sandbox-secret",
        balances={"USDT": Decimal("100000"), "BTC": Decimal("1")},
    )


@dataclass(slots=True)
class VenueConfig:
    """The whole sandbox venue.

    Rate limits follow Binance spot: ``weight_limit`` request weight per ``weight_window``
    seconds and per IP (``X-MBX-USED-WEIGHT-1M``), ``orders_per_10s`` and ``orders_per_day``
    new orders per account. After ``ban_after`` requests refused with 429 in one window the
    IP is banned (418) for ``ban_seconds``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    symbols: tuple[SymbolConfig, ...] = (SymbolConfig(),)
    accounts: tuple[AccountConfig, ...] = field(default_factory=lambda: (default_account(),))
    market: MarketConfig = field(default_factory=MarketConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    weight_limit: int = 6000
    weight_window: float = 60.0
    orders_per_10s: int = 50
    orders_per_day: int = 160_000
    ban_after: int = 5
    ban_seconds: float = 120.0
    max_recv_window: int = 60_000
    listen_key_ttl: float = 3600.0
    #: Seconds a REST connection may wait for its next request before the venue closes it
    #: (0: never). A client keeping connections alive closes them sooner itself (zq's
    #: transport after 15 s), so that it never writes on one the venue is closing.
    idle_timeout: float = 75.0
    admin: bool = True  # serve /sandbox/* (fault switches, state) without authentication

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("the venue needs at least one symbol")
        names = [s.symbol for s in self.symbols]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate symbols in {names}")
        keys = [a.api_key for a in self.accounts]
        if len(set(keys)) != len(keys):
            raise ValueError("two accounts share an api_key")
        if not self.idle_timeout >= 0:  # NaN fails too
            raise ValueError(f"idle_timeout must be 0 (never) or positive, not {self.idle_timeout}")
        if self.weight_limit <= 0 or self.weight_window <= 0:
            raise ValueError("weight_limit and weight_window must be positive")
