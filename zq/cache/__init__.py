"""The Cache: instruments, orders (with open / closed / in-flight indices), positions,
accounts and the latest market data, shared by every component of one node."""

from zq.cache.cache import Cache, CacheError

__all__ = ["Cache", "CacheError"]
