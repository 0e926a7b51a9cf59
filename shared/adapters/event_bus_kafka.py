"""EventBus on Kafka (kafka-python): the CloudEvents Kafka binding in binary mode.

Publishing is idempotent with ``acks=all``; its blocking waits run in worker threads, never on
the event loop. A subscription is a consumer group member in a thread of its own: it hands
each record to the async handler, in order within a partition and with the partitions of a
poll handled side by side, retries with backoff, sends what keeps failing to
``<topic>.dlq`` and commits an offset only after its record is done. This is what Knative's
KafkaSource does with ordered delivery in production, so the same code serves as the local
dispatcher.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cloudevents.http import CloudEvent
from cloudevents.kafka import KafkaMessage, from_binary, to_binary
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from imfaas.events import catalog
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.event_bus import EventHandler

log = logging.getLogger("imfaas.bus.kafka")

# A consumer without partitions this long is replaced by a new one. Longer than a dead
# member's session (10 s), after which its partitions come to the survivors anyway.
UNASSIGNED_RESTART_S = 20.0

POLL_TIMEOUT_MS = 200


def topic_for(event_type: str, prefix: str) -> str:
    """The topic of an event type (``imfaas.message.stored`` for ``…message.stored.v1``)."""
    base = catalog.TOPICS.get(event_type)
    if base is None:
        base = event_type.removeprefix(catalog.PREFIX).removesuffix(".v1")
        base = f"imfaas.{base}"
    return prefix + base


def encode_record(event: CloudEvent, key: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the binary-mode Kafka record for an event."""
    message = to_binary(event, key_mapper=lambda _: key)
    record_key = message.key.encode() if isinstance(message.key, str) else message.key
    return record_key or key.encode(), message.value, list(message.headers.items())


def decode_record(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> CloudEvent:
    """The CloudEvent carried by a binary-mode Kafka record."""
    event = from_binary(KafkaMessage(dict(headers), key, value), data_unmarshaller=_json_data)
    # The binding copies the record key into a "partitionkey" attribute; the key is transport
    # detail here (we key by conversation or user), so the event comes back as it was sent.
    event._attributes.pop("partitionkey", None)
    return event


def _json_data(value: bytes) -> Any:
    return json.loads(value) if value else None


@dataclass
class _Subscription:
    event_type: str
    group: str
    handler: EventHandler
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    # Handler calls in progress (one per partition at most), cancelled when a stop outlasts
    # its grace period.
    running: set[Future[object]] = field(default_factory=set)
    running_lock: threading.Lock = field(default_factory=threading.Lock)
    # True once the group gave this member partitions (it may have to wait for a rebalance).
    assigned: bool = False


class KafkaEventBus:
    """Publishes to and consumes from Kafka topics named by event type."""

    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str = "",
        partitions: int = 16,
        timeout_s: float = 10.0,
        max_attempts: int = 8,
        backoff_s: float = 0.2,
        stop_grace_s: float = 10.0,
        client_id: str = "imfaas",
    ) -> None:
        self._bootstrap = bootstrap
        self._prefix = topic_prefix
        self._partitions = partitions
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._stop_grace_s = stop_grace_s
        self._client_id = client_id
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._subscriptions: list[_Subscription] = []
        self._known_topics: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        # What this process sent to a dead-letter topic (the topic is the durable record).
        self.dead_letters: list[tuple[str, CloudEvent]] = []
        self._starting: set[asyncio.Task[None]] = set()

    # -- topics ------------------------------------------------------------------------

    async def ensure_topics(self, event_types: list[str]) -> None:
        """Create the topics (and dead-letter topics) of these event types if missing."""
        names = [topic_for(t, self._prefix) for t in event_types]
        wanted = [n for n in (*names, *(f"{n}.dlq" for n in names)) if n not in self._known_topics]
        if wanted:
            await asyncio.to_thread(self._create_topics, wanted)

    def _create_topics(self, names: list[str]) -> None:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-admin",
                request_timeout_ms=int(self._timeout_s * 1000),
            )
        except KafkaError as exc:
            raise BackendUnavailable(f"kafka: {exc!r}") from exc
        try:
            existing = set(admin.list_topics())
            missing = [n for n in names if n not in existing]
            if missing:
                try:
                    admin.create_topics(
                        [NewTopic(n, self._partitions, 1) for n in missing],
                        timeout_ms=int(self._timeout_s * 1000),
                    )
                except TopicAlreadyExistsError:
                    pass  # another process created it first
                _await_leaders(admin, missing, self._timeout_s * 2)
            self._known_topics.update(names)
        except KafkaError as exc:
            raise BackendUnavailable(f"kafka: {exc!r}") from exc
        finally:
            admin.close()

    # -- publishing --------------------------------------------------------------------

    def _require_producer(self) -> KafkaProducer:
        with self._producer_lock:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=1,
                    max_block_ms=int(self._timeout_s * 1000),
                    request_timeout_ms=int(self._timeout_s * 1000),
                )
            return self._producer

    async def publish(self, event: CloudEvent, key: str) -> None:
        """Send and wait for the broker's ``acks=all``; raise ``BackendUnavailable``."""
        await self.ensure_topics([event["type"]])
        topic = topic_for(event["type"], self._prefix)
        record_key, value, headers = encode_record(event, key)

        def send() -> None:
            future = self._require_producer().send(
                topic, value=value, key=record_key, headers=headers
            )
            future.get(timeout=self._timeout_s)

        try:
            await asyncio.to_thread(send)
        except (KafkaError, TimeoutError) as exc:
            raise BackendUnavailable(f"kafka: {exc!r}") from exc

    # -- consuming ---------------------------------------------------------------------

    def subscribe(self, event_type: str, group: str, handler: EventHandler) -> None:
        """Consume the event type's topic as consumer group ``group``: from ``start`` on, or
        right away when the bus has started already."""
        sub = _Subscription(event_type, group, handler)
        self._subscriptions.append(sub)
        if self._loop is not None:
            task = self._loop.create_task(self._start_consumer(sub))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def start(self) -> None:
        """Create the topics and start one consumer thread per subscription."""
        self._loop = asyncio.get_running_loop()
        for sub in self._subscriptions:
            await self._start_consumer(sub)

    async def _start_consumer(self, sub: _Subscription) -> None:
        await self.ensure_topics([sub.event_type])
        if sub.thread is None or not sub.thread.is_alive():
            sub.stop.clear()
            sub.thread = threading.Thread(
                target=self._consume, args=(sub,), name=f"kafka:{sub.group}", daemon=True
            )
            sub.thread.start()

    async def stop(self) -> None:
        """Let each consumer finish its record (up to the grace period; then the handler is
        cancelled and the record stays uncommitted), leave its group, close the producer."""
        self._loop = None
        for sub in self._subscriptions:
            sub.stop.set()
        for sub in self._subscriptions:
            if sub.thread is None:
                continue
            await asyncio.to_thread(sub.thread.join, self._stop_grace_s)
            if sub.thread.is_alive():
                with sub.running_lock:
                    for future in sub.running:
                        future.cancel()
                await asyncio.to_thread(sub.thread.join, self._timeout_s)
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.to_thread(producer.close, self._timeout_s)

    async def ping(self) -> bool:
        """True when the broker answers a metadata request."""

        def ask() -> bool:
            admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-ping",
                request_timeout_ms=int(self._timeout_s * 1000),
            )
            try:
                admin.list_topics()
                return True
            finally:
                admin.close()

        try:
            return await asyncio.to_thread(ask)
        except (KafkaError, OSError):
            return False

    def consuming(self) -> bool:
        """True when every subscription's consumer holds partitions (readiness)."""
        return all(sub.assigned for sub in self._subscriptions)

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until every subscription has committed everything in its topic so far,
        including what handlers published while draining (checked twice in a row)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        quiet = 0
        while quiet < 2:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("kafka consumers did not catch up")
            lag = await asyncio.to_thread(self._lag)
            quiet = quiet + 1 if lag == 0 else 0
            await asyncio.sleep(0.05)

    def _lag(self) -> int:
        """Records in subscribed topics that their group has not committed yet."""
        admin = KafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="imfaas-drain")
        probe = KafkaConsumer(bootstrap_servers=self._bootstrap, client_id="imfaas-drain")
        try:
            lag = 0
            for sub in self._subscriptions:
                topic = topic_for(sub.event_type, self._prefix)
                parts = probe.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in parts]
                ends = probe.end_offsets(tps)
                group = f"{self._prefix}{sub.group}"
                committed = admin.list_consumer_group_offsets(group)
                for tp in tps:
                    done = committed.get(tp)
                    lag += ends.get(tp, 0) - (done.offset if done is not None else 0)
            return lag
        finally:
            probe.close()
            admin.close()

    def _consume(self, sub: _Subscription) -> None:
        """Run a consumer until stopped; when the broker fails under it (a restart, a lost
        connection, a failed commit), start a fresh one after a pause. Uncommitted records
        come again: at least once."""
        pause = 0.5
        while not sub.stop.is_set():
            try:
                self._consume_once(sub)
                return
            except Exception:
                log.exception("consumer %s failed; starting a new one", sub.group)
            if sub.stop.wait(pause):
                return
            pause = min(pause * 2, 10.0)

    def _consume_once(self, sub: _Subscription) -> None:
        topic = topic_for(sub.event_type, self._prefix)
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}-{sub.group}",
            group_id=f"{self._prefix}{sub.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=100,
            # The broker's floor is 6 s; short enough that a dead member's partitions move on.
            session_timeout_ms=10000,
            heartbeat_interval_ms=2000,
            # A topic created a moment ago may be missing from the first metadata, leaving
            # this member with no partitions; a fresh look soon triggers the rebalance.
            metadata_max_age_ms=2000,
            # A rebalance waits this long for members to rejoin; a handler with its retries
            # fits well inside it, and a crashed member stops holding the group up sooner.
            max_poll_interval_ms=120000,
        )
        # One worker per partition of a poll: order holds within a partition (a conversation's
        # or a user's key), and one slow key does not hold up the other partitions' records.
        workers = ThreadPoolExecutor(self._partitions, thread_name_prefix=f"kafka:{sub.group}")
        try:
            last_assigned = time.monotonic()
            while not sub.stop.is_set():
                batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                sub.assigned = bool(consumer.assignment())
                if sub.assigned:
                    last_assigned = time.monotonic()
                elif time.monotonic() - last_assigned > UNASSIGNED_RESTART_S:
                    # kafka-python 2.3 sometimes leaves a member that joined before its topic
                    # was in the metadata without partitions for good; a new member rejoins.
                    raise RuntimeError(f"no partitions for {UNASSIGNED_RESTART_S:.0f} s")
                if not batches:
                    continue
                handled = {
                    partition: workers.submit(self._handle_partition, sub, records)
                    for partition, records in batches.items()
                }
                commits = {}
                for partition, future in handled.items():
                    next_offset = future.result()
                    if next_offset is not None:
                        commits[partition] = OffsetAndMetadata(next_offset, None, -1)
                if commits:
                    consumer.commit(commits)
                if sub.stop.is_set():
                    return  # what was not committed goes to the partition's next owner
        finally:
            sub.assigned = False
            workers.shutdown(wait=True, cancel_futures=True)
            consumer.close()

    def _handle_partition(self, sub: _Subscription, records: list[Any]) -> int | None:
        """Handle one partition's records in order; returns the offset to commit (None when
        none was done). Stops early, uncommitted, when the subscription stops."""
        next_offset = None
        for record in records:
            if sub.stop.is_set():
                break
            try:
                self._handle_record(sub, record)
            except _Stopping:
                break
            next_offset = record.offset + 1
        return next_offset

    def _handle_record(self, sub: _Subscription, record: Any) -> None:
        try:
            event = decode_record(record.key, record.value, list(record.headers or []))
        except Exception:
            log.exception("undecodable record at %s/%s", record.partition, record.offset)
            self._dead_letter(record, "undecodable")
            return
        for attempt in range(1, self._max_attempts + 1):
            if self._run_handler(sub, event):
                return
            if sub.stop.wait(min(30.0, self._backoff_s * 2 ** (attempt - 1))):
                raise _Stopping()
        log.error("dead-lettering %s for %s", event["id"], sub.group)
        self._dead_letter(record, "retries exhausted")
        self.dead_letters.append((sub.group, event))

    def _run_handler(self, sub: _Subscription, event: CloudEvent) -> bool:
        loop = self._loop
        if loop is None:
            raise _Stopping()
        future = asyncio.run_coroutine_threadsafe(_call(sub.handler, event), loop)
        with sub.running_lock:
            sub.running.add(future)
        try:
            future.result()
            return True
        except CancelledError as exc:
            raise _Stopping() from exc
        except Exception:
            log.exception("handler failed on %s", event["id"])
            return False
        finally:
            with sub.running_lock:
                sub.running.discard(future)

    def _dead_letter(self, record: Any, reason: str) -> None:
        headers = [*(record.headers or []), ("imfaas_dlq_reason", reason.encode())]
        future = self._require_producer().send(
            f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
        )
        future.get(timeout=self._timeout_s)


class _Stopping(Exception):
    """Stop was asked while waiting to retry: the record stays uncommitted."""


async def _call(handler: EventHandler, event: CloudEvent) -> object:
    return await handler(event)


def _await_leaders(admin: KafkaAdminClient, topics: list[str], within_s: float) -> None:
    """Wait until every new topic's partitions have leaders. Creation returns before the
    broker's metadata shows them, and a consumer that subscribes in that gap may be given no
    partitions and, with kafka-python 2.3, sometimes never rejoin (a dispatcher that never
    became ready in CI)."""
    deadline = time.monotonic() + within_s
    while True:
        described = admin.describe_topics(topics)
        if all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"kafka: topics {topics} have no leaders yet")
        time.sleep(0.1)
