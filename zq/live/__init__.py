"""Live trading: the ``TradingNode``, its venue clients, its durable journal and recovery.

``zq.live.node`` holds :class:`~zq.live.node.TradingNode`; ``zq.live.data_client`` and
``zq.live.execution_client`` the Binance clients it trades through (the execution client's
report handling in ``zq.live.reports``, its queries of the venue in
``zq.live.reconciliation``); ``zq.live.journal`` the :class:`~zq.live.journal.Journal`
(order events, fills, positions, accounts and markers in an embedded SQLite file);
``zq.live.recovery`` rebuilds a cache and portfolio from one.
"""
