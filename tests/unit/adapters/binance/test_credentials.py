"""Credentials: from the environment or a private file; the secret never shows."""

from __future__ import annotations

import logging
import os
import pickle

import pytest

from zq.adapters.binance.credentials import BinanceCredentials, CredentialsError

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_from_env_reads_the_default_variables():
    creds = BinanceCredentials.from_env(
        environ={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    )
    assert creds.api_key == KEY
    assert creds.secret_bytes == SECRET.encode()


def test_from_env_names_the_missing_variable_and_not_the_other_value():
    with pytest.raises(CredentialsError, match="BINANCE_API_SECRET is unset") as info:
        BinanceCredentials.from_env(environ={"BINANCE_API_KEY": KEY})
    assert KEY not in str(info.value)


def test_from_env_reads_the_real_environment(monkeypatch):
    monkeypatch.setenv("ZQ_TEST_KEY", KEY)
    monkeypatch.setenv("ZQ_TEST_SECRET", SECRET)
    creds = BinanceCredentials.from_env("ZQ_TEST_KEY", "ZQ_TEST_SECRET")
    assert creds.api_key == KEY


def test_repr_and_str_never_show_the_secret(caplog):
    creds = BinanceCredentials(KEY, SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert KEY not in repr(creds)  # only its ends
    assert repr(creds) == "BinanceCredentials(api_key='vmPU…Eh8A', secret=<hidden>)"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("connecting with %s", creds)
    assert SECRET not in caplog.text


def test_credentials_refuse_pickling():
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(BinanceCredentials(KEY, SECRET))


def test_from_file_reads_a_private_toml_file(tmp_path):
    path = tmp_path / "binance.toml"
    path.write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    os.chmod(path, 0o600)
    creds = BinanceCredentials.from_file(path)
    assert creds.api_key == KEY
    assert creds.secret_bytes == SECRET.encode()


def test_from_file_refuses_a_file_others_can_read(tmp_path):
    path = tmp_path / "binance.toml"
    path.write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError, match=r"permissions 0644 .* chmod 600"):
        BinanceCredentials.from_file(path)


def test_from_file_names_the_missing_field(tmp_path):
    path = tmp_path / "binance.toml"
    path.write_text(f'api_key = "{KEY}"\n')
    os.chmod(path, 0o600)
    with pytest.raises(CredentialsError, match=r"binance.toml: field api_secret is missing"):
        BinanceCredentials.from_file(path)


def test_from_file_parse_error_does_not_quote_the_secret(tmp_path):
    path = tmp_path / "binance.toml"
    path.write_text(f'api_key = "{KEY}"\napi_secret = {SECRET}\n')  # unquoted: invalid TOML
    os.chmod(path, 0o600)
    with pytest.raises(CredentialsError, match="not a valid TOML file") as info:
        BinanceCredentials.from_file(path)
    assert SECRET not in str(info.value)


def test_from_file_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CredentialsError, match=r"nope\.toml: cannot read credentials"):
        BinanceCredentials.from_file(tmp_path / "nope.toml")


def test_empty_or_spaced_values_are_refused():
    with pytest.raises(CredentialsError, match="API secret is missing"):
        BinanceCredentials(KEY, " ")
    with pytest.raises(CredentialsError, match="spaces"):
        BinanceCredentials("a key", SECRET)
