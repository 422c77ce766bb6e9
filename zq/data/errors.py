"""The error every loader raises for malformed input."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """Malformed market data: names the file, the line or record, the field and the value.

    Loaders raise it before yielding anything from the bad record, so no half-parsed record
    ever reaches the caller.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        record: int | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.record = record
        self.field = field
        self.value = value
        where = [f"file {self.path}"]
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        message = f"{', '.join(where)}: {problem}"
        if value is not None:
            text = repr(value)
            message += f" (value {text[:80]}{'...' if len(text) > 80 else ''})"
        super().__init__(message)
