"""Venue adapters: one folder per venue protocol (``binance``: the Binance spot REST and
WebSocket clients)."""
