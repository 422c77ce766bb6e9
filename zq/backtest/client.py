"""``BacktestExecutionClient``: the execution client of a simulated venue.

It owns one :class:`~zq.backtest.exchange.SimulatedExchange` and hands it the commands the
ExecutionEngine routes to the venue; the exchange's order events come back through
:meth:`~zq.execution.client.ExecutionClient._send_event`, at their delivery time.
"""

from __future__ import annotations

from collections.abc import Iterable

from zq.backtest.exchange import SimulatedExchange
from zq.backtest.models import FeeModel, FillModel, LatencyModel, QueueModel
from zq.common.clock import Clock
from zq.execution.client import EventSink, ExecutionClient
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.enums import BookType, OmsType
from zq.model.identifiers import AccountId, Venue
from zq.model.instruments import Instrument
from zq_core.commands import exchange_command, register_exchange_client

__all__ = ["BacktestExecutionClient"]


class BacktestExecutionClient(ExecutionClient):
    """Trade on a :class:`SimulatedExchange` as if it were a venue.

    Parameters
    ----------
    venue : Venue or str
        The simulated venue.
    instruments : Iterable[Instrument]
        The instruments it trades.
    clock : Clock
        The node's clock.
    oms_type : OmsType, default NETTING
        The venue's position mode.
    account_id : AccountId or str, optional
        Default ``{venue}-001``.
    book_type, fill_model, queue_model, latency_model, fee_model
        Passed to the exchange.
    """

    def __init__(
        self,
        venue: Venue | str,
        instruments: Iterable[Instrument],
        clock: Clock,
        *,
        oms_type: OmsType = OmsType.NETTING,
        account_id: AccountId | str | None = None,
        book_type: BookType = BookType.L1_MBP,
        fill_model: FillModel | None = None,
        queue_model: QueueModel | None = None,
        latency_model: LatencyModel | None = None,
        fee_model: FeeModel | None = None,
    ) -> None:
        venue = Venue(venue)
        account = AccountId(account_id if account_id is not None else f"{venue}-001")
        super().__init__(f"{venue}-EXEC", venue, account, clock, oms_type)
        self.exchange = SimulatedExchange(
            venue,
            instruments,
            self._send_event,
            book_type=book_type,
            account_id=account,
            fill_model=fill_model,
            queue_model=queue_model,
            latency_model=latency_model,
            fee_model=fee_model,
        )

    def set_event_sink(self, sink: EventSink) -> None:
        """Set where the client's events go; the exchange then hands them there directly."""
        super().set_event_sink(sink)
        self.exchange.set_event_handler(sink)

    @exchange_command
    def submit_order(self, command: SubmitOrder) -> None:
        """Send the order to the exchange (it arrives after the entry latency)."""
        self.exchange.submit(command)

    @exchange_command
    def modify_order(self, command: ModifyOrder) -> None:
        """Send the modify to the exchange."""
        self.exchange.modify(command)

    @exchange_command
    def cancel_order(self, command: CancelOrder) -> None:
        """Send the cancel to the exchange."""
        self.exchange.cancel(command)

    def cancel_all_orders(self, command: CancelAllOrders) -> None:
        """Send a cancel of every matching open order to the exchange."""
        self.exchange.cancel_all(command)

    def query_order(self, command: QueryOrder) -> None:
        """Do nothing: a simulated venue never loses an order, so there is nothing to
        reconcile."""


# The ExecutionEngine's compiled command path calls the exchange of a client of exactly this
# type itself (the three methods above only hand the command on, and an instance cannot
# replace them: exchange_command refuses the assignment); a subclass is called.
register_exchange_client(BacktestExecutionClient)
