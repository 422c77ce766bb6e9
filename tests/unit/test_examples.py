"""Every script in examples/ runs to completion."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, capsys):
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out


def test_order_lifecycle_example_publishes_every_event():
    module = runpy.run_path(str(EXAMPLES[0].parent / "order_lifecycle.py"))
    assert module["main"]() == ["OrderSubmitted", "OrderAccepted", "OrderFilled", "OrderCanceled"]
