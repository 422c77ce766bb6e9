"""The live node's TOML config: what it holds, and errors that name the file, key and value."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from zq.live.config import ConfigError, TradingNodeConfig, load_live_config
from zq.live.node import NodeStartError, TradingNode

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_the_example_config_loads_with_its_strategy_path_made_absolute() -> None:
    config = load_live_config(ROOT / "examples" / "configs" / "live_sandbox.toml")
    (venue,) = config.venues
    assert (venue.name, venue.adapter, venue.venue, venue.symbols) == (
        "BINANCE",
        "binance",
        "sandbox",
        ["BTCUSDT"],
    )
    assert venue.sandbox.balances == ["100000 USDT", "1 BTC"]
    (strategy,) = config.strategies
    assert strategy.path == f"{ROOT / 'examples' / 'ema_cross.py'}:EmaCross"
    assert config.risk.max_order_quantity == {"BTCUSDT.BINANCE": Decimal("0.05")}
    assert config.cancel_open_orders_on_stop is True
    assert config.base_dir == str((ROOT / "examples" / "configs").resolve())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[venues]]\nadapter = "ftx"\n', "venues[0].adapter = 'ftx': Invalid enum value 'ftx'"),
        ('[[venues]]\nvenue = "remote"\n', "venues[0].rest_url: a remote venue needs it"),
        (
            '[[venues]]\nvenue = "remote"\nrest_url = "ftp://x"\nws_url = "ws://x"\n',
            "venues[0].rest_url = 'ftp://x': must start with http:// or https://",
        ),
        ('[[venues]]\nsymbols = ["btc-usdt"]\n', "venues[0].symbols[0] = 'btc-usdt'"),
        ('[[venues]]\ncolour = "red"\n', "venues[0].colour = 'red': unknown key"),
        (
            '[[venues]]\n[venues.sandbox]\nbalances = ["lots BTC"]\n',
            "venues[0].sandbox.balances[0] = 'lots BTC': 'lots' is not a number",
        ),
        ("[[venues]]\n[[venues]]\n", "venues[1].name = 'BINANCE': duplicate venue"),
        ("heartbeat_interval_s = 0\n", "heartbeat_interval_s = 0.0: must be positive"),
        ('[[strategies]]\npath = "nowhere:Nothing"\n', "strategies[0].path = 'nowhere:Nothing'"),
    ],
)
def test_a_bad_value_is_named_with_its_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_live_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the config"):
        load_live_config(tmp_path / "missing.toml")


def test_a_remote_venue_without_its_credentials_refuses_to_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from zq.live.config import CredentialsConfig, LiveVenueConfig

    monkeypatch.delenv("ZQ_NO_SUCH_KEY", raising=False)
    config = TradingNodeConfig(
        venues=[
            LiveVenueConfig(
                venue="remote",
                rest_url="http://127.0.0.1:9",
                ws_url="ws://127.0.0.1:9",
                credentials=CredentialsConfig(api_key_env="ZQ_NO_SUCH_KEY"),
            )
        ]
    )
    node = TradingNode(config, install_signal_handlers=False)
    with pytest.raises(NodeStartError, match="environment variable ZQ_NO_SUCH_KEY is unset"):
        asyncio.run(node.start())
