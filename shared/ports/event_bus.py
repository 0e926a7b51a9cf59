"""Events between functions (Kafka in production)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from cloudevents.http import CloudEvent

EventHandler = Callable[[CloudEvent], Awaitable[object]]


class EventPublisher(Protocol):
    """Publishes CloudEvents to topics named by event type."""

    async def publish(self, event: CloudEvent, key: str) -> None:
        """Durably publish; events with the same key are delivered in publish order.

        Returns once the bus has the event (Kafka: ``acks=all``); raises ``BackendUnavailable``.
        """


class EventBus(EventPublisher, Protocol):
    """A bus that can also deliver events to in-process subscribers (embedded mode)."""

    def subscribe(self, event_type: str, group: str, handler: EventHandler) -> None:
        """Deliver every event of ``event_type`` to ``handler``, in order per key, at least once.

        A handler that raises gets the same event again (after a backoff) before any later
        event of that key.
        """

    async def start(self) -> None:
        """Start delivering."""

    async def stop(self) -> None:
        """Stop after the events being handled finish."""

    async def drain(self) -> None:
        """Wait until every event published so far (and what handlers publish meanwhile)
        has been handled by every subscription of this process."""
