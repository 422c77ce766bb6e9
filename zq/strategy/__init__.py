"""Strategies and actors, the classes users subclass, and the order factory.

Exports :class:`Strategy`, :class:`Actor`, :class:`NoParams` and :class:`OrderFactory`.
"""

from zq.strategy.order_factory import OrderFactory
from zq.strategy.strategy import Actor, NoParams, PortfolioView, PositionView, Strategy

__all__ = ["Actor", "NoParams", "OrderFactory", "PortfolioView", "PositionView", "Strategy"]
