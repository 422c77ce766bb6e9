"""Backtest configuration: msgspec structs, loaded from TOML or built in code.

A config is a plain, serializable value (it can be sent to a Dask worker). Errors name the
file, the key and the bad value::

    examples/configs/ema_cross.toml: venues[0].book_type = 'L9': Invalid enum value 'L9'
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import re
import sys
import tomllib
import typing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from zq.risk import RiskLimits

if TYPE_CHECKING:
    from zq.strategy import Strategy

__all__ = [
    "DATA_KEYS",
    "BacktestConfig",
    "ConfigError",
    "DataConfig",
    "FeeModelConfig",
    "InstrumentConfig",
    "LatencyModelConfig",
    "StrategyConfig",
    "VenueConfig",
    "load_config",
    "parse_config",
    "resolve_strategy",
]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the source, the key and the value."""


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class LatencyModelConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Order entry, cancel and acknowledgement latencies (ns); see ``LatencyModel``."""

    entry_ns: int = 0
    cancel_ns: int | None = None
    ack_ns: int = 0
    jitter_ns: int = 0
    seed: int = 0


class FeeModelConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Maker/taker rates overriding the instrument's (None: the instrument's own)."""

    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None


class VenueConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One simulated venue and its account.

    ``starting_balances`` are ``"AMOUNT CURRENCY"`` strings (``"1000000 USDT"``).
    """

    name: str = "SIM"
    book_type: Literal["L1_MBP", "L2_MBP", "L3_MBO"] = "L1_MBP"
    oms_type: Literal["NETTING", "HEDGING"] = "NETTING"
    account_type: Literal["CASH", "MARGIN"] = "CASH"
    starting_balances: list[str] = msgspec.field(default_factory=lambda: ["1000000 USDT"])
    base_currency: str | None = None
    leverage: Decimal = Decimal(1)
    queue_model: Literal["conservative", "probabilistic"] = "conservative"
    queue_seed: int = 0
    bar_sweep: Literal["ohlc", "olhc", "nearest"] = "ohlc"
    latency: LatencyModelConfig = msgspec.field(default_factory=LatencyModelConfig)
    fees: FeeModelConfig = msgspec.field(default_factory=FeeModelConfig)


class InstrumentConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An instrument of the run.

    ``demo`` is the generated ``BTCUSDT.SIM`` spot pair and takes no other key. The explicit
    kinds, ``equity``, ``currency_pair``, ``perpetual`` and ``future``, need an ``id``
    (``"SPY.ARCA"``), a ``quote_currency``, and the price and size grids: an increment
    (``price_increment = "0.01"``) or a precision (``price_precision = 2``, increment
    ``10**-2``), or both when they agree. ``currency_pair`` and ``perpetual`` also need a
    ``base_currency``; ``future`` an ``underlying``, ``activation`` and ``expiration``.
    Fees are fractions of the notional (``taker_fee = "0.0005"`` is 5 bp).
    """

    kind: Literal["demo", "equity", "currency_pair", "perpetual", "future"] = "demo"
    id: str | None = None
    raw_symbol: str | None = None
    asset_class: (
        Literal["CRYPTOCURRENCY", "EQUITY", "INDEX", "COMMODITY", "FX", "INTEREST_RATE"] | None
    ) = None
    quote_currency: str | None = None
    base_currency: str | None = None
    settlement_currency: str | None = None
    inverse: bool = False
    price_precision: int | None = None
    price_increment: Decimal | None = None
    size_precision: int | None = None
    size_increment: Decimal | None = None
    multiplier: Decimal = Decimal(1)
    lot_size: Decimal | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    margin_init: Decimal = Decimal(0)
    margin_maint: Decimal = Decimal(0)
    isin: str | None = None
    underlying: str | None = None
    activation: datetime | None = None
    expiration: datetime | None = None


_COMMON_INSTRUMENT_KEYS = frozenset(
    {
        "id",
        "raw_symbol",
        "asset_class",
        "quote_currency",
        "price_precision",
        "price_increment",
        "size_precision",
        "size_increment",
        "multiplier",
        "lot_size",
        "min_quantity",
        "max_quantity",
        "maker_fee",
        "taker_fee",
        "margin_init",
        "margin_maint",
    }
)

#: The keys each instrument kind takes (besides ``kind``).
INSTRUMENT_KEYS: dict[str, frozenset[str]] = {
    "demo": frozenset(),
    "equity": _COMMON_INSTRUMENT_KEYS | {"isin"},
    "currency_pair": _COMMON_INSTRUMENT_KEYS | {"base_currency"},
    "perpetual": _COMMON_INSTRUMENT_KEYS | {"base_currency", "settlement_currency", "inverse"},
    "future": _COMMON_INSTRUMENT_KEYS | {"underlying", "activation", "expiration"},
}

#: The keys each instrument kind requires.
INSTRUMENT_REQUIRED: dict[str, tuple[str, ...]] = {
    "demo": (),
    "equity": ("id", "quote_currency"),
    "currency_pair": ("id", "quote_currency", "base_currency"),
    "perpetual": ("id", "quote_currency", "base_currency"),
    "future": ("id", "quote_currency", "underlying", "activation", "expiration"),
}


class DataConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A data source; ``kind`` says which, and which keys apply.

    - ``generated``: a seeded random walk of ``count`` trades of the demo pair;
    - ``catalog``: a :class:`~zq.data.catalog.ParquetDataCatalog` at ``path``, its ``kinds``
      (``deltas``, ``quotes``, ``trades``, ``bars``) of its ``instruments`` (ids or bar
      types; all by default). The catalog's stored instruments join the run;
    - ``binance``: a Binance raw stream capture (book deltas, bookTicker quotes and trades)
      of ``instrument``, optionally with its ``market`` (``spot``, ``usdm``, ``coinm``);
    - ``quantconnect``: LEAN tick zips of ``instrument``, ``content`` ``trades`` or
      ``quotes`` (read from the file names by default), the wall clock's ``time_zone``
      (New York for trades, UTC-05:00 for FXCM quotes by default), ``include_suspicious``;
    - ``bars_csv``: an OHLCV CSV of ``bar_type`` whose timestamps mark each bar's ``open``
      or ``close`` (``timestamp_convention``, required), with ``timestamp_unit``,
      ``time_zone`` (of ISO stamps without offset) and ``round_excess_decimals``;
    - ``databento``: a DBN file (market data schemas), all its instruments or only
      ``instrument``;
    - ``tardis``: a Tardis.dev CSV of ``instrument``, ``content`` ``trades``, ``quotes`` or
      ``deltas`` (``incremental_book_L2``).

    File kinds take ``path`` (one file) or ``paths`` (a list; glob patterns are expanded
    and sorted), relative to the config file. Files are replayed one after the other, so
    list them in time order.
    """

    kind: Literal[
        "generated", "catalog", "binance", "quantconnect", "bars_csv", "databento", "tardis"
    ] = "generated"
    count: int = 100_000
    seed: int = 7
    path: str | None = None
    paths: list[str] | None = None
    kinds: list[Literal["deltas", "quotes", "trades", "bars"]] | None = None
    instruments: list[str] | None = None
    instrument: str | None = None
    content: Literal["trades", "quotes", "deltas"] | None = None
    market: Literal["spot", "usdm", "coinm"] | None = None
    bar_type: str | None = None
    timestamp_convention: Literal["open", "close"] | None = None
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns", "iso"] = "auto"
    time_zone: str | None = None
    round_excess_decimals: bool = False
    include_suspicious: bool = False

    def files(self, base_dir: Path | str = ".") -> list[Path]:
        """Return the files of a file source: ``path``, or ``paths`` with globs expanded.

        Relative paths are taken from ``base_dir`` (configs loaded by :func:`load_config`
        hold absolute ones).

        Raises
        ------
        ValueError
            If a pattern matches no file, or the source has no file.
        """
        base = Path(base_dir)
        if self.path is not None:
            return [base / self.path]
        found: list[Path] = []
        for pattern in self.paths or ():
            pattern = str(base / pattern)
            if glob.has_magic(pattern):
                matches = sorted(Path(p) for p in glob.glob(pattern))
                if not matches:
                    raise ValueError(f"the pattern {pattern!r} matches no file")
                found.extend(matches)
            else:
                found.append(Path(pattern))
        if not found:
            raise ValueError(f"a {self.kind} source needs path or paths")
        return found


_FILE_KEYS = frozenset({"path", "paths"})

#: The keys each data kind takes (besides ``kind``).
DATA_KEYS: dict[str, frozenset[str]] = {
    "generated": frozenset({"count", "seed"}),
    "catalog": frozenset({"path", "kinds", "instruments"}),
    "binance": _FILE_KEYS | {"instrument", "market"},
    "quantconnect": _FILE_KEYS | {"instrument", "content", "time_zone", "include_suspicious"},
    "bars_csv": _FILE_KEYS
    | {"bar_type", "timestamp_convention", "timestamp_unit", "time_zone", "round_excess_decimals"},
    "databento": _FILE_KEYS | {"instrument"},
    "tardis": _FILE_KEYS | {"instrument", "content"},
}

#: The keys each data kind requires (``path`` stands for ``path`` or ``paths``).
DATA_REQUIRED: dict[str, tuple[str, ...]] = {
    "generated": (),
    "catalog": ("path",),
    "binance": ("path", "instrument"),
    "quantconnect": ("path", "instrument"),
    "bars_csv": ("path", "bar_type", "timestamp_convention"),
    "databento": ("path",),
    "tardis": ("path", "instrument", "content"),
}


class StrategyConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A strategy by import path (``package.module:Class``) and its parameters.

    ``params`` are converted to the strategy's parameter struct (the ``params`` argument of
    its ``__init__``, or its ``params_type`` class attribute).
    """

    path: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    strategy_id: str | None = None
    order_id_tag: str | None = None


class BacktestConfig(_Config, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a :class:`~zq.backtest.node.BacktestNode` run needs.

    ``start`` and ``end`` bound the data by ``ts_init`` (inclusive; naive times are UTC).
    ``base_dir`` is the folder relative data paths are taken from: :func:`load_config`
    sets it to the config file's folder (None: the working directory).
    """

    trader_id: str = "BACKTESTER-001"
    venues: list[VenueConfig] = msgspec.field(default_factory=lambda: [VenueConfig()])
    instruments: list[InstrumentConfig] = msgspec.field(
        default_factory=lambda: [InstrumentConfig()]
    )
    data: list[DataConfig] = msgspec.field(default_factory=list)
    strategies: list[StrategyConfig] = msgspec.field(default_factory=list)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    start: datetime | None = None
    end: datetime | None = None
    base_dir: str | None = None

    @property
    def start_ns(self) -> int | None:
        """``start`` in UNIX nanoseconds."""
        return _to_ns(self.start)

    @property
    def end_ns(self) -> int | None:
        """``end`` in UNIX nanoseconds."""
        return _to_ns(self.end)


def _to_ns(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


# -- loading -------------------------------------------------------------------------------

_AT = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)`")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    # Follow a msgspec error path (".venues[0].book_type") through the raw mapping.
    value = raw
    for match in _STEP.finditer(path):
        key, index = match.groups()
        try:
            value = value[key] if key is not None else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, value


def _convert_error(
    source: str, raw: Any, exc: msgspec.ValidationError, prefix: str = ""
) -> ConfigError:
    message = str(exc)
    match = _AT.search(message)
    path = "" if match is None else match.group(1)
    reason = message if match is None else message[: match.start()]
    unknown = _UNKNOWN.match(reason)
    if unknown is not None:
        path = f"{path}.{unknown.group(1)}"
        reason = "unknown key"
    key = (prefix + path).lstrip(".")
    if not key:
        return ConfigError(f"{source}: {reason}")
    found, value = _lookup(raw, path)
    if found:
        return ConfigError(f"{source}: {key} = {value!r}: {reason}")
    return ConfigError(f"{source}: {key}: {reason}")


def parse_config(
    raw: dict[str, Any], source: str = "<config>", base_dir: Path | None = None
) -> BacktestConfig:
    """Convert a mapping (parsed TOML, JSON...) to a :class:`BacktestConfig` and check it.

    Strategy paths to ``.py`` files that are relative are taken from ``base_dir`` (the
    config file's folder when loaded by :func:`load_config`).

    Raises
    ------
    ConfigError
        Naming ``source``, the key and the bad value.
    """
    try:
        config = msgspec.convert(raw, BacktestConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise _convert_error(source, raw, exc) from None
    if base_dir is not None:
        base_dir = base_dir.resolve()
        config = msgspec.structs.replace(
            config,
            strategies=[_absolute(s, base_dir) for s in config.strategies],
            data=[_absolute_paths(d, base_dir) for d in config.data],
            base_dir=str(base_dir),
        )
    check_config(config, source)
    return config


def _absolute_paths(data: DataConfig, base_dir: Path) -> DataConfig:
    def absolute(path: str) -> str:
        return path if Path(path).is_absolute() else str(base_dir / path)

    return msgspec.structs.replace(
        data,
        path=None if data.path is None else absolute(data.path),
        paths=None if data.paths is None else [absolute(p) for p in data.paths],
    )


def _absolute(strategy: StrategyConfig, base_dir: Path) -> StrategyConfig:
    module, sep, name = strategy.path.rpartition(":")
    if not sep or not module.endswith(".py") or Path(module).is_absolute():
        return strategy
    return msgspec.structs.replace(strategy, path=f"{(base_dir / module).resolve()}:{name}")


def load_config(path: str | Path) -> BacktestConfig:
    """Read a TOML file and return its :class:`BacktestConfig`.

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or a key or value is wrong; the message names
        the file, the key and the value.
    """
    path = Path(path)
    return parse_config(read_toml(path), str(path), path.parent)


def read_toml(path: Path) -> dict[str, Any]:
    """Return a TOML file's table.

    Raises
    ------
    ConfigError
        If the file cannot be read or is not valid TOML, naming the file.
    """
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def check_config(config: BacktestConfig, source: str = "<config>") -> None:
    """Check what types alone cannot: names, balances, strategies and their parameters.

    Raises
    ------
    ConfigError
        Naming ``source``, the key and the bad value.
    """
    names = [venue.name for venue in config.venues]
    for i, venue in enumerate(config.venues):
        if venue.name in names[:i]:
            raise ConfigError(f"{source}: venues[{i}].name = {venue.name!r}: duplicate venue")
        for j, balance in enumerate(venue.starting_balances):
            try:
                parse_balance(balance)
            except ValueError as exc:
                key = f"venues[{i}].starting_balances[{j}]"
                raise ConfigError(f"{source}: {key} = {balance!r}: {exc}") from None
        if venue.leverage <= 0:
            raise ConfigError(
                f"{source}: venues[{i}].leverage = {venue.leverage}: must be positive"
            )
        for name in ("entry_ns", "cancel_ns", "ack_ns", "jitter_ns"):
            value = getattr(venue.latency, name)
            if value is not None and value < 0:
                raise ConfigError(
                    f"{source}: venues[{i}].latency.{name} = {value}: must not be negative"
                )
        for name in ("maker_fee", "taker_fee"):
            fee = getattr(venue.fees, name)
            if fee is not None and not Decimal(-1) < fee < Decimal(1):
                raise ConfigError(
                    f"{source}: venues[{i}].fees.{name} = '{fee}': must be a fraction of the "
                    "notional in (-1, 1), such as '0.0005' for 5 bp"
                )
    for i, instrument in enumerate(config.instruments):
        _check_instrument(instrument, f"{source}: instruments[{i}]")
    for i, data in enumerate(config.data):
        _check_data(data, f"{source}: data[{i}]", Path(config.base_dir or "."))
    check_strategies(config.strategies, source)
    start, end = config.start_ns, config.end_ns
    if start is not None and end is not None and end < start:
        raise ConfigError(f"{source}: end = {config.end}: before start = {config.start}")


def _foreign_keys(config: msgspec.Struct, allowed: frozenset[str], what: str, where: str) -> None:
    # A key set to other than its default that the kind does not take.
    for field in msgspec.structs.fields(config):
        name = field.name
        if name == "kind" or name in allowed:
            continue
        value = getattr(config, name)
        default = (
            field.default_factory()
            if field.default_factory is not msgspec.NODEFAULT
            else field.default
        )
        if value != default:
            keys = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"{where}.{name} = {value!r}: not a key of {what} (its keys: {keys})")


def _check_instrument(config: InstrumentConfig, where: str) -> None:
    what = f"a {config.kind!r} instrument"
    _foreign_keys(config, INSTRUMENT_KEYS[config.kind], what, where)
    for name in INSTRUMENT_REQUIRED[config.kind]:
        if getattr(config, name) is None:
            raise ConfigError(f"{where}.{name}: {what} needs it")
    if config.kind == "demo":
        return
    from zq.backtest.sources import instrument_from_config

    try:
        instrument_from_config(config)
    except _InstrumentKeyError as exc:
        value = getattr(config, exc.key)
        if value is None:
            raise ConfigError(f"{where}.{exc.key}: {exc.reason}") from None
        raise ConfigError(f"{where}.{exc.key} = {_show(value)}: {exc.reason}") from None


class _InstrumentKeyError(ValueError):
    """An instrument key whose value cannot be used (raised by ``instrument_from_config``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _show(value: object) -> str:
    return repr(str(value)) if isinstance(value, Decimal | datetime) else repr(value)


def _check_data(data: DataConfig, where: str, base_dir: Path) -> None:
    what = f"a {data.kind!r} source"
    _foreign_keys(data, DATA_KEYS[data.kind], what, where)
    if data.count <= 0:
        raise ConfigError(f"{where}.count = {data.count}: must be positive")
    for name in DATA_REQUIRED[data.kind]:
        if name == "path":
            if data.path is None and not data.paths:
                raise ConfigError(f"{where}.path: {what} needs a path (or paths)")
            if data.path is not None and data.paths is not None:
                raise ConfigError(f"{where}.paths = {data.paths!r}: give path or paths, not both")
        elif getattr(data, name) is None:
            raise ConfigError(f"{where}.{name}: {what} needs it")
    if data.kind == "catalog":
        if data.path is not None and not (base_dir / data.path).is_dir():
            raise ConfigError(f"{where}.path = {data.path!r}: no catalog folder there")
    elif data.kind != "generated":
        key = "path" if data.path is not None else "paths"
        try:
            files = data.files(base_dir)
        except ValueError as exc:
            raise ConfigError(f"{where}.{key} = {getattr(data, key)!r}: {exc}") from None
        for file in files:
            if not file.is_file():
                raise ConfigError(f"{where}.{key} = {getattr(data, key)!r}: no file {file}")
    if data.instrument is not None:
        _check_id(data.instrument, f"{where}.instrument")
    if data.bar_type is not None:
        from zq.model.data import BarType

        try:
            bar_type = BarType.from_str(data.bar_type)
            bar_type.spec.interval_ns  # noqa: B018 - refuses specifications without a time step
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}.bar_type = {data.bar_type!r}: {exc}") from None
    if data.time_zone is not None:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(data.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{where}.time_zone = {data.time_zone!r}: not an IANA time zone "
                "(such as 'America/New_York' or 'UTC')"
            ) from None
    if data.kind == "quantconnect" and data.content == "deltas":
        raise ConfigError(f"{where}.content = 'deltas': LEAN tick files hold trades or quotes")


def _check_id(text: str, where: str) -> None:
    from zq.model.identifiers import InstrumentId

    try:
        InstrumentId(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where} = {text!r}: {exc}") from None


def parse_balance(text: str) -> tuple[Decimal, str]:
    """Split ``"1000000 USDT"`` into its amount and currency code.

    Raises
    ------
    ValueError
        If the text is not ``AMOUNT CURRENCY`` with a non-negative amount.
    """
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("expected 'AMOUNT CURRENCY', such as '1000000 USDT'")
    try:
        amount = Decimal(parts[0])
    except ArithmeticError:
        raise ValueError(f"{parts[0]!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("the amount must be a non-negative number")
    return amount, parts[1].upper()


def resolve_strategy(path: str) -> type[Any]:
    """Import ``package.module:Class`` and return the class.

    Raises
    ------
    ValueError
        If the path is not ``module:Class``.
    ImportError, AttributeError
        If the module or the class is not found.
    TypeError
        If the class is not a ``Strategy``.
    """
    from zq.strategy import Strategy

    module_name, sep, name = path.rpartition(":")
    if not sep or not module_name or not name:
        raise ValueError("expected 'package.module:Class' or 'path/to/file.py:Class'")
    module = (
        _load_file(module_name)
        if module_name.endswith(".py")
        else (importlib.import_module(module_name))
    )
    cls = getattr(module, name)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise TypeError(f"{name} is not a Strategy subclass")
    return cls


def _load_file(file: str) -> ModuleType:
    # A strategy file is loaded once per path, under a name derived from it, and kept in
    # sys.modules so that its classes' annotations resolve (msgspec, get_type_hints).
    path = Path(file).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"zq_strategy_file_{path.stem}_{digest}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    if not path.is_file():
        raise ImportError(f"no strategy file {path}")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def strategy_params_type(cls: type[Any]) -> type[msgspec.Struct] | None:
    """Return the parameter struct a strategy class takes, or None when it takes none."""
    explicit = getattr(cls, "params_type", None)
    if isinstance(explicit, type) and issubclass(explicit, msgspec.Struct):
        return explicit
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: fall back to no declared parameters
        return None
    hint = hints.get("params")
    candidates = typing.get_args(hint) if typing.get_args(hint) else (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    return None


def check_strategies(strategies: list[StrategyConfig], source: str) -> None:
    """Check that each strategy's class imports and its parameters convert.

    Raises
    ------
    ConfigError
        Naming the source, ``strategies[i].path`` or ``.params`` and the value.
    """
    for i, strategy in enumerate(strategies):
        try:
            cls = resolve_strategy(strategy.path)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{source}: strategies[{i}].path = {strategy.path!r}: {exc}"
            ) from None
        params_type = strategy_params_type(cls)
        if params_type is None:
            if strategy.params:
                raise ConfigError(
                    f"{source}: strategies[{i}].params = {strategy.params!r}: "
                    f"{strategy.path} takes no parameters"
                )
            continue
        try:
            msgspec.convert(strategy.params, params_type, strict=False)
        except msgspec.ValidationError as exc:
            raise _convert_error(source, strategy.params, exc, f"strategies[{i}].params") from None


def build_strategy(config: StrategyConfig) -> Strategy[Any]:
    """Return a new instance of the configured strategy with its parameters."""
    from zq.strategy import Strategy

    cls = resolve_strategy(config.path)
    params_type = strategy_params_type(cls)
    kwargs: dict[str, Any] = {}
    if config.strategy_id is not None:
        kwargs["strategy_id"] = config.strategy_id
    if config.order_id_tag is not None:
        kwargs["order_id_tag"] = config.order_id_tag
    if params_type is not None:
        kwargs["params"] = msgspec.convert(config.params, params_type, strict=False)
    strategy = cls(**kwargs)
    if not isinstance(strategy, Strategy):
        raise TypeError(f"{config.path} is not a zq Strategy")
    return strategy
