"""Execute the Python examples of every docs page (and the README) so they never rot.

Each page's ```python blocks run in order in one namespace; a block that raises fails the
page's test and the message names the page and the block's first line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_docs_have_examples() -> None:
    pages_with_code = [page for page in PAGES if _blocks(page)]
    assert len(pages_with_code) >= 5, pages_with_code


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_examples_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for line, source in _blocks(page):
        code = compile(source, f"{page.relative_to(ROOT)}:{line}", "exec", dont_inherit=True)
        exec(code, namespace)
