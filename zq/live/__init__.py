"""Live trading: the durable journal of a node and its recovery.

``zq.live.journal`` holds :class:`~zq.live.journal.Journal` (order events, fills, positions,
accounts and markers in an embedded SQLite file); ``zq.live.recovery`` rebuilds a cache and
portfolio from one.
"""
