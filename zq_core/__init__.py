"""zq_core: the compiled hot paths of zq (bus dispatch, fixed-point arithmetic, cache lookups).

It never imports ``zq``; ``zq`` is the readable Python layer built on it.
"""
