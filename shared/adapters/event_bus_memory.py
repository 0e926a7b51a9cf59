"""EventBus in process memory: a partition per key hash, one consumer task per partition."""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass, field

from cloudevents.http import CloudEvent

from imfaas.shared.ports.event_bus import EventHandler

log = logging.getLogger("imfaas.bus")


@dataclass
class _Subscription:
    event_type: str
    group: str
    handler: EventHandler
    queues: list[asyncio.Queue[CloudEvent]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class MemoryEventBus:
    """Keeps Kafka's guarantees that handlers rely on: order per key, at least once.

    Events are held in memory only: a crash loses events not yet handled. That is safe for
    the message path because nothing is acknowledged to a client before it is stored.
    """

    def __init__(
        self,
        partitions: int = 16,
        max_attempts: int = 8,
        backoff_s: float = 0.05,
    ) -> None:
        self._partitions = partitions
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._subscriptions: list[_Subscription] = []
        self._started = False
        self.dead_letters: list[tuple[str, CloudEvent]] = []

    def subscribe(self, event_type: str, group: str, handler: EventHandler) -> None:
        """Deliver events of ``event_type`` to ``handler`` in order per key, at least once."""
        sub = _Subscription(event_type, group, handler)
        sub.queues = [asyncio.Queue() for _ in range(self._partitions)]
        self._subscriptions.append(sub)
        if self._started:
            self._start_subscription(sub)

    async def publish(self, event: CloudEvent, key: str) -> None:
        """Queue the event for every subscriber group of its type."""
        partition = zlib.crc32(key.encode("utf-8")) % self._partitions
        event_type = event["type"]
        for sub in self._subscriptions:
            if sub.event_type == event_type:
                sub.queues[partition].put_nowait(event)

    async def start(self) -> None:
        """Start one consumer task per partition and subscription."""
        self._started = True
        for sub in self._subscriptions:
            if not sub.tasks:
                self._start_subscription(sub)

    def _start_subscription(self, sub: _Subscription) -> None:
        sub.tasks = [
            asyncio.create_task(self._consume(sub, queue), name=f"bus:{sub.group}:{i}")
            for i, queue in enumerate(sub.queues)
        ]

    async def stop(self) -> None:
        """Cancel the consumers; an event being handled is cancelled too and may run again."""
        self._started = False
        tasks = [task for sub in self._subscriptions for task in sub.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in self._subscriptions:
            sub.tasks = []

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests and orderly shutdown)."""
        for sub in self._subscriptions:
            for queue in sub.queues:
                await queue.join()

    async def _consume(self, sub: _Subscription, queue: asyncio.Queue[CloudEvent]) -> None:
        while True:
            event = await queue.get()
            try:
                await self._handle_with_retries(sub, event)
            finally:
                queue.task_done()

    async def _handle_with_retries(self, sub: _Subscription, event: CloudEvent) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await sub.handler(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "handler %s failed on %s (attempt %d/%d)",
                    sub.group,
                    event["id"],
                    attempt,
                    self._max_attempts,
                )
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        log.error("dead-lettering %s for %s", event["id"], sub.group)
        self.dead_letters.append((sub.group, event))
