"""Live node configuration: msgspec structs, loaded from TOML or built in code.

The same shape and error style as :mod:`zq.backtest.config` (strategies and risk limits are
the backtest's own types), so a strategy section moves between the two files unchanged.
Errors name the file, the key and the bad value::

    examples/configs/live_sandbox.toml: venues[0].adapter = 'ftx': Invalid enum value 'ftx'

Credentials are never in the config: it names the environment variables (or the private
file) they are read from.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from zq.backtest.config import (
    ConfigError,
    StrategyConfig,
    _absolute,
    _convert_error,
    check_strategies,
    parse_balance,
    read_toml,
)
from zq.live.affinity import check_cpus
from zq.risk import RiskLimits

__all__ = [
    "ConfigError",
    "CredentialsConfig",
    "LiveVenueConfig",
    "SandboxOptions",
    "TradingNodeConfig",
    "load_live_config",
    "parse_live_config",
]


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class CredentialsConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the API key and secret come from: a ``chmod 600`` TOML ``file`` (with
    ``api_key`` and ``api_secret``) when given, else the two environment variables."""

    api_key_env: str = "BINANCE_API_KEY"
    api_secret_env: str = "BINANCE_API_SECRET"
    file: str | None = None


class SandboxOptions(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The local venue a node starts when ``venue = "sandbox"``.

    ``market``: ``generated`` (a seeded random walk moving every ``interval`` seconds) or
    ``replay`` (a Binance spot raw capture at ``path``, ``speed`` times its pace).
    ``balances`` are ``"AMOUNT ASSET"`` strings; the account's key and secret are the
    sandbox's own (``sandbox-api-key`` / ``sandbox-secret``), whatever ``credentials`` say.
    """

    market: Literal["generated", "replay"] = "generated"
    seed: int = 1
    interval: float = 0.05
    start_price: Decimal = Decimal("60000")
    path: str | None = None
    speed: float = 1.0
    balances: list[str] = msgspec.field(default_factory=lambda: ["100000 USDT", "1 BTC"])
    orders_per_10s: int = 50


class LiveVenueConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One venue the node trades on, through an adapter.

    ``venue = "sandbox"`` (the default) starts a local sandbox venue in the node's process
    and points the adapter at it, so a config runs on a fresh machine; ``"remote"`` uses
    ``rest_url`` and ``ws_url`` (``https://api.binance.com``,
    ``wss://stream.binance.com:9443``) and the ``credentials``.
    """

    name: str = "BINANCE"
    adapter: Literal["binance"] = "binance"
    venue: Literal["sandbox", "remote"] = "sandbox"
    rest_url: str | None = None
    ws_url: str | None = None
    credentials: CredentialsConfig = msgspec.field(default_factory=CredentialsConfig)
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTCUSDT"])
    oms_type: Literal["NETTING", "HEDGING"] = "NETTING"
    recv_window_ms: int = 5000
    #: The answer asked of a new order: ``FULL`` (with its immediate fills), ``RESULT`` or
    #: ``ACK`` (ids only: acceptance and fills then come from the user stream alone).
    new_order_response: Literal["FULL", "RESULT", "ACK"] = "FULL"
    #: Queries of an order whose submit had no answer before it is declared lost.
    submit_resolve_attempts: int = 5
    submit_resolve_delay_s: float = 0.2
    #: Open orders at the venue that this node does not know: refuse to start, cancel them
    #: before the strategies start, or leave them alone (their events are ignored).
    unknown_open_orders: Literal["refuse", "cancel", "ignore"] = "refuse"
    sandbox: SandboxOptions = msgspec.field(default_factory=SandboxOptions)


class TradingNodeConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a :class:`~zq.live.node.TradingNode` needs.

    ``journal`` is the path of the node's durable journal (None: no journal), written with
    ``journal_synchronous`` (see :doc:`/live/journal`).
    ``heartbeat_interval_s`` is how often the node logs its health. ``run_seconds`` stops
    the node after so long (None: run until SIGINT or SIGTERM). ``base_dir`` is the folder
    relative paths are taken from (the config file's folder when loaded from a file).
    """

    trader_id: str = "TRADER-001"
    venues: list[LiveVenueConfig] = msgspec.field(default_factory=lambda: [LiveVenueConfig()])
    strategies: list[StrategyConfig] = msgspec.field(default_factory=list)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    journal: str | None = None
    #: SQLite's ``synchronous`` for the journal: ``FULL`` (each commit fsynced: survives a
    #: power loss) or ``NORMAL`` (survives the process being killed, not the machine; a
    #: synced append costs tens of microseconds instead of milliseconds).
    journal_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    cancel_open_orders_on_stop: bool = True
    heartbeat_interval_s: float = 5.0
    connect_timeout_s: float = 10.0
    #: Tries of each start-up step (reaching the venue, opening the user stream, reading and
    #: reconciling its state) against transient failures, waiting ``startup_backoff_s``
    #: before the second and twice as long before each next, at most
    #: ``startup_backoff_max_s``.
    startup_attempts: int = 5
    startup_backoff_s: float = 0.5
    startup_backoff_max_s: float = 10.0
    stop_timeout_s: float = 5.0
    #: Keep the event loop turning instead of sleeping in the poller while the node runs
    #: (:class:`zq.live.busy_poll.BusyPoll`): a message is then read the moment it arrives,
    #: without the process being woken up (a scheduler wake-up costs tens of microseconds to
    #: milliseconds on a busy machine). The price is one CPU core kept at 100 %, and it pays
    #: only where the node has that core to itself: measured, it shortens the read of the
    #: venue's answers, not tick-to-order (docs/live/binance-adapter.md#deployment-settings).
    busy_poll: bool = False
    #: The CPUs the node's process runs on (``os.sched_setaffinity`` at the start of
    #: ``start``, every thread); None: wherever the scheduler puts it. See
    #: docs/live/binance-adapter.md#latency for what it was measured to change.
    cpu_affinity: list[int] | None = None
    run_seconds: float | None = None
    base_dir: str | None = None


def parse_live_config(
    raw: dict[str, Any], source: str = "<config>", base_dir: Path | None = None
) -> TradingNodeConfig:
    """Convert a mapping (parsed TOML...) to a :class:`TradingNodeConfig` and check it.

    Raises
    ------
    ConfigError
        Naming ``source``, the key and the bad value.
    """
    try:
        config = msgspec.convert(raw, TradingNodeConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise _convert_error(source, raw, exc) from None
    if base_dir is not None:
        base_dir = base_dir.resolve()
        config = msgspec.structs.replace(
            config,
            strategies=[_absolute(s, base_dir) for s in config.strategies],
            base_dir=str(base_dir),
        )
    check_live_config(config, source)
    return config


def load_live_config(path: str | Path) -> TradingNodeConfig:
    """Read a TOML file and return its :class:`TradingNodeConfig`.

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or a key or value is wrong.
    """
    path = Path(path)
    return parse_live_config(read_toml(path), str(path), path.parent)


def check_live_config(config: TradingNodeConfig, source: str = "<config>") -> None:
    """Check what types alone cannot: names, URLs, symbols, balances, strategies.

    Raises
    ------
    ConfigError
        Naming ``source``, the key and the bad value.
    """
    if not config.venues:
        raise ConfigError(f"{source}: venues: the node needs at least one venue")
    names = [venue.name for venue in config.venues]
    for i, venue in enumerate(config.venues):
        where = f"{source}: venues[{i}]"
        if venue.name in names[:i]:
            raise ConfigError(f"{where}.name = {venue.name!r}: duplicate venue")
        if not venue.name.isalnum() or venue.name.upper() != venue.name:
            raise ConfigError(f"{where}.name = {venue.name!r}: upper-case letters and digits")
        if venue.venue == "remote":
            for key in ("rest_url", "ws_url"):
                if getattr(venue, key) is None:
                    raise ConfigError(f"{where}.{key}: a remote venue needs it")
        for key, prefixes in (
            ("rest_url", ("http://", "https://")),
            ("ws_url", ("ws://", "wss://")),
        ):
            url = getattr(venue, key)
            if url is not None and not url.startswith(prefixes):
                raise ConfigError(
                    f"{where}.{key} = {url!r}: must start with {' or '.join(prefixes)}"
                )
        if not venue.symbols:
            raise ConfigError(f"{where}.symbols: name at least one symbol")
        for j, symbol in enumerate(venue.symbols):
            if not symbol.isalnum() or symbol.upper() != symbol:
                raise ConfigError(
                    f"{where}.symbols[{j}] = {symbol!r}: a Binance symbol such as 'BTCUSDT'"
                )
        if not 0 < venue.recv_window_ms <= 60_000:
            raise ConfigError(f"{where}.recv_window_ms = {venue.recv_window_ms}: in 1..60000")
        if venue.submit_resolve_attempts < 1:
            raise ConfigError(
                f"{where}.submit_resolve_attempts = {venue.submit_resolve_attempts}: at least 1"
            )
        for j, balance in enumerate(venue.sandbox.balances):
            try:
                parse_balance(balance)
            except ValueError as exc:
                key = f"{where}.sandbox.balances[{j}]"
                raise ConfigError(f"{key} = {balance!r}: {exc}") from None
        if venue.sandbox.market == "replay" and venue.sandbox.path is None:
            raise ConfigError(f"{where}.sandbox.path: a replay market needs the capture's path")
    if config.startup_attempts < 1:
        raise ConfigError(f"{source}: startup_attempts = {config.startup_attempts}: at least 1")
    if config.startup_backoff_s < 0 or config.startup_backoff_max_s < config.startup_backoff_s:
        raise ConfigError(
            f"{source}: startup_backoff_s = {config.startup_backoff_s}, startup_backoff_max_s "
            f"= {config.startup_backoff_max_s}: need 0 <= startup_backoff_s <= "
            "startup_backoff_max_s"
        )
    for key in ("heartbeat_interval_s", "connect_timeout_s", "stop_timeout_s"):
        value = getattr(config, key)
        if not value > 0:
            raise ConfigError(f"{source}: {key} = {value}: must be positive")
    if config.run_seconds is not None and not config.run_seconds > 0:
        raise ConfigError(f"{source}: run_seconds = {config.run_seconds}: must be positive")
    if config.cpu_affinity is not None:
        try:
            check_cpus(config.cpu_affinity, f"{source}: cpu_affinity")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    check_strategies(config.strategies, source)
