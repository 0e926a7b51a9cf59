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
    # Partitions whose consumer is inside the handler right now.
    busy: set[int] = field(default_factory=set)
    # An event interrupted by a hard stop, handled first when consumers start again.
    redo: dict[int, CloudEvent] = field(default_factory=dict)


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
        stop_grace_s: float = 10.0,
    ) -> None:
        self._partitions = partitions
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._stop_grace_s = stop_grace_s
        self._subscriptions: list[_Subscription] = []
        self._started = False
        self._stopping = False
        self.dead_letters: list[tuple[str, CloudEvent]] = []
        # Events queued or being handled, across all subscriptions (for ``drain``).
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

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
                self._in_flight += 1
                self._idle.clear()
                sub.queues[partition].put_nowait(event)

    async def start(self) -> None:
        """Start one consumer task per partition and subscription."""
        self._started = True
        for sub in self._subscriptions:
            if not sub.tasks:
                self._start_subscription(sub)

    def _start_subscription(self, sub: _Subscription) -> None:
        sub.tasks = [
            asyncio.create_task(self._consume(sub, i), name=f"bus:{sub.group}:{i}")
            for i in range(self._partitions)
        ]

    async def stop(self) -> None:
        """Let events being handled finish (up to the grace period), then stop the consumers.

        An event cut off after the grace period is kept and handled first on the next start.
        """
        self._started = False
        self._stopping = True
        try:
            busy: list[asyncio.Task[None]] = []
            for sub in self._subscriptions:
                for index, task in enumerate(sub.tasks):
                    if index in sub.busy:
                        busy.append(task)
                    else:
                        task.cancel()
            if busy:
                _, late = await asyncio.wait(busy, timeout=self._stop_grace_s)
                for task in late:
                    task.cancel()
            every = [task for sub in self._subscriptions for task in sub.tasks]
            await asyncio.gather(*every, return_exceptions=True)
        finally:
            self._stopping = False
            for sub in self._subscriptions:
                sub.tasks = []

    async def ping(self) -> bool:
        """Always reachable: it lives in this process."""
        return True

    async def drain(self) -> None:
        """Wait until no event is queued or being handled, including events that handlers
        publish while draining."""
        await self._idle.wait()

    async def _consume(self, sub: _Subscription, index: int) -> None:
        queue = sub.queues[index]
        while not self._stopping:
            event = sub.redo.pop(index) if index in sub.redo else await queue.get()
            sub.busy.add(index)
            try:
                await self._handle_with_retries(sub, event)
            except asyncio.CancelledError:
                sub.redo[index] = event
                raise
            finally:
                sub.busy.discard(index)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

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
