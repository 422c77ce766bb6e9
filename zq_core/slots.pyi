"""Type stubs for zq_core.slots: msgspec struct fields read at their slot offsets (C only)."""

__all__: list[str] = []
