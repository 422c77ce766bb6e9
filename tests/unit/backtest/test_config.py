"""Backtest configs: TOML loading and errors that name the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from zq.backtest import BacktestConfig, ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "configs" / "ema_cross.toml"
STRATEGY = "tests.unit.backtest.test_node:BuyOnce"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_example_config_loads_with_its_strategy_file_resolved() -> None:
    config = load_config(EXAMPLE)
    (venue,) = config.venues
    assert (venue.name, venue.account_type, venue.starting_balances) == (
        "SIM",
        "MARGIN",
        ["1000000 USDT"],
    )
    assert config.data[0].count == 200_000
    (strategy,) = config.strategies
    assert strategy.path == f"{ROOT / 'examples' / 'ema_cross.py'}:EmaCross"
    assert strategy.params == {"fast": 10, "slow": 20, "trade_size": "0.01"}


def test_empty_config_has_one_sim_venue_and_the_demo_instrument() -> None:
    config = parse_config({})
    assert config == BacktestConfig()
    assert [v.name for v in config.venues] == ["SIM"]
    assert [i.kind for i in config.instruments] == ["demo"]


def test_time_range_from_toml_datetimes_is_in_nanoseconds(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "start = 2024-01-01T00:00:00Z\nend = 2024-01-01T00:01:00"))
    assert config.start_ns == 1_704_067_200_000_000_000
    assert config.end_ns == 1_704_067_260_000_000_000


def test_bad_enum_value_names_the_key_and_the_value(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[venues]]\nname = "SIM"\nbook_type = "L9"\n')
    assert "venues[0].book_type = 'L9'" in message


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[data]]\ncount = "many"\n')
    assert "data[0].count = 'many'" in message


def test_unknown_key_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[venues]]\nbokk_type = "L2_MBP"\n')
    assert "venues[0].bokk_type = 'L2_MBP': unknown key" in message


def test_bad_balance_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[venues]]\nstarting_balances = ["lots USDT"]\n')
    assert "venues[0].starting_balances[0] = 'lots USDT'" in message
    assert "not a number" in message


def test_non_positive_count_is_refused(tmp_path: Path) -> None:
    assert "data[0].count = 0: must be positive" in error_of(tmp_path, "[[data]]\ncount = 0\n")


def test_unknown_strategy_module_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[strategies]]\npath = "no_such_module:Thing"\n')
    assert "strategies[0].path = 'no_such_module:Thing'" in message


def test_strategy_path_without_class_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[strategies]]\npath = "tests.unit.backtest.test_node"\n')
    assert "expected 'package.module:Class'" in message


def test_class_that_is_not_a_strategy_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[strategies]]\npath = "pathlib:Path"\n')
    assert "Path is not a Strategy subclass" in message


def test_bad_strategy_parameter_names_the_key_and_the_value(tmp_path: Path) -> None:
    text = f'[[strategies]]\npath = "{STRATEGY}"\nparams = {{ size = "big" }}\n'
    message = error_of(tmp_path, text)
    assert "strategies[0].params.size = 'big'" in message


def test_unknown_strategy_parameter_is_named(tmp_path: Path) -> None:
    text = f'[[strategies]]\npath = "{STRATEGY}"\nparams = {{ sise = "1" }}\n'
    assert "strategies[0].params.sise = '1': unknown key" in error_of(tmp_path, text)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(tmp_path, "venues = [\n")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the config"):
        load_config(tmp_path / "missing.toml")


def test_duplicate_venue_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[venues]]\nname = "SIM"\n[[venues]]\nname = "SIM"\n')
    assert "venues[1].name = 'SIM': duplicate venue" in message


def test_end_before_start_is_refused(tmp_path: Path) -> None:
    text = "start = 2024-01-02T00:00:00Z\nend = 2024-01-01T00:00:00Z\n"
    assert "before start" in error_of(tmp_path, text)
