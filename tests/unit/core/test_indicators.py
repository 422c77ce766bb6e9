"""Streaming indicators checked against pandas' rolling and exponential windows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from zq_core.indicators import ExponentialMovingAverage, SimpleMovingAverage

VALUES = np.random.default_rng(11).normal(100.0, 5.0, size=500)


@pytest.mark.parametrize("period", [1, 2, 10, 20])
def test_ema_equals_pandas_ewm_seeded_by_the_first_value(period: int) -> None:
    ema = ExponentialMovingAverage(period)
    expected = pd.Series(VALUES).ewm(span=period, adjust=False).mean().to_numpy()
    got = [ema.update(v) for v in VALUES]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert ema.value == got[-1]
    assert ema.alpha == 2.0 / (period + 1)


def test_ema_is_initialized_after_period_values_and_resets() -> None:
    ema = ExponentialMovingAverage(3)
    states = []
    for value in (1.0, 2.0, 3.0, 4.0):
        ema.update(value)
        states.append(ema.initialized)
    assert states == [False, False, True, True]
    ema.reset()
    assert (ema.count, ema.value, ema.initialized) == (0, 0.0, False)
    assert ema.update(7.0) == 7.0


@pytest.mark.parametrize("cls", [ExponentialMovingAverage, SimpleMovingAverage])
def test_initialized_is_a_read_only_member_that_follows_the_count(cls: type) -> None:
    # A member descriptor (read by the interpreter without a call), kept equal to
    # count >= period through updates and resets.
    assert type(cls.__dict__["initialized"]).__name__ == "member_descriptor"
    indicator = cls(4)
    for _ in range(2):
        seen = []
        for value in range(6):
            seen.append(indicator.initialized)
            indicator.update(float(value))
        seen.append(indicator.initialized)
        assert seen == [False] * 4 + [True] * 3
        indicator.reset()
        assert indicator.initialized is False
    with pytest.raises(AttributeError):
        indicator.initialized = True


@pytest.mark.parametrize("cls", [ExponentialMovingAverage, SimpleMovingAverage])
def test_update_takes_its_value_positionally_only(cls: type) -> None:
    indicator = cls(2)
    assert indicator.update(3) == 3.0
    with pytest.raises(TypeError):
        indicator.update(value=1.0)


@pytest.mark.parametrize("period", [1, 3, 50])
def test_sma_mean_and_std_equal_pandas_rolling(period: int) -> None:
    sma = SimpleMovingAverage(period)
    means, stds = [], []
    for value in VALUES:
        means.append(sma.update(value))
        stds.append(sma.std)
    series = pd.Series(VALUES)
    full = series.rolling(period, min_periods=1)
    np.testing.assert_allclose(means, full.mean().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(stds, full.std(ddof=0).to_numpy(), rtol=1e-6, atol=1e-6)
    assert sma.initialized


@pytest.mark.parametrize("cls", [ExponentialMovingAverage, SimpleMovingAverage])
def test_a_period_below_one_is_refused(cls: type) -> None:
    with pytest.raises(ValueError, match="period must be at least 1, got 0"):
        cls(0)


@pytest.mark.parametrize("cls", [ExponentialMovingAverage, SimpleMovingAverage])
def test_a_pickled_indicator_goes_on_from_its_state(cls: type) -> None:
    indicator = cls(3)
    for value in (1.0, 2.0):
        indicator.update(value)
    copy = pickle.loads(pickle.dumps(indicator))
    assert (copy.count, copy.value, copy.initialized) == (2, indicator.value, False)
    assert copy.update(3.0) == indicator.update(3.0)
    assert copy.initialized and indicator.initialized
