"""Test support shipped with the library: recording fakes and embedded ports in a temp dir.

Each function's own tests import these, so ``pytest functions/<name>`` needs nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudevents.http import CloudEvent
from starlette.requests import Request
from starlette.responses import Response

from imfaas.events.client_frames import SocketIdentity, client_frame_event
from imfaas.events.codec import encode_http
from imfaas.shared.access_tokens import ensure_key_pair
from imfaas.shared.adapter_factory import DURABLE_PORTS, Ports, open_ports
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.settings import Settings


class RecordingEventBus:
    """An ``EventPublisher`` that keeps what was published, in order, with its key."""

    def __init__(self) -> None:
        self.published: list[tuple[CloudEvent, str]] = []
        self.fail_with: Exception | None = None

    async def publish(self, event: CloudEvent, key: str) -> None:
        """Record the event (or raise ``fail_with`` to play an unavailable bus)."""
        if self.fail_with is not None:
            raise self.fail_with
        self.published.append((event, key))

    def of_type(self, event_type: str) -> list[CloudEvent]:
        """Published events of one type."""
        return [event for event, _ in self.published if event["type"] == event_type]

    def data_and_keys(self, event_type: str) -> list[tuple[Any, str]]:
        """(data, key) of the published events of one type."""
        return [
            (event.get_data(), key) for event, key in self.published if event["type"] == event_type
        ]


class RecordingDelivery:
    """A ``Delivery`` that keeps each batch per node; nodes in ``down`` are unreachable."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[dict[str, Any]]]] = []
        self.down: set[str] = set()

    async def deliver(self, node_id: str, items: list[dict[str, Any]]) -> None:
        """Record the batch, or raise ``BackendUnavailable`` for a node that is down."""
        if node_id in self.down:
            raise BackendUnavailable(f"{node_id} is down")
        self.batches.append((node_id, items))


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: a temp data dir, a dev key pair, cheap password hashing."""
    ensure_key_pair(data_dir / "keys", "k1")
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "node_id": "gw-test",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


async def open_test_ports(settings: Settings) -> tuple[Ports, RecordingEventBus, RecordingDelivery]:
    """Embedded durable adapters plus a recording bus and delivery."""
    ports = await open_ports(settings, (*DURABLE_PORTS, "routes", "cache", "nodes"))
    bus, delivery = RecordingEventBus(), RecordingDelivery()
    ports.bus_ = bus
    ports.delivery_ = delivery
    return ports, bus, delivery


def identity(
    user_id: str, device_id: str = "d1", conn_id: str = "c1", node_id: str = "gw-test"
) -> SocketIdentity:
    """A socket identity as the gateway would set it after ``auth``."""
    return SocketIdentity(user_id, device_id, "s-" + device_id, "web", node_id, conn_id)


def frame_event(frame: dict[str, Any], who: SocketIdentity) -> CloudEvent:
    """A forwarded client frame, exactly as the gateway builds it."""
    return client_frame_event(frame, who)


async def reply_frame(
    handle: Callable[[CloudEvent], Awaitable[CloudEvent | None]],
    frame: dict[str, Any],
    who: SocketIdentity,
) -> dict[str, Any] | None:
    """Send one frame through a function and return the reply frame (None for no reply)."""
    reply = await handle(frame_event(frame, who))
    return None if reply is None else reply.get_data()


@dataclass
class PortSet:
    """One test environment's settings and ports, with the recording fakes."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    delivery: RecordingDelivery


@contextlib.asynccontextmanager
async def port_sets(base_dir: Path) -> AsyncIterator[Callable[..., Awaitable[PortSet]]]:
    """Factory of fresh port sets, each in a folder of its own; all are closed on exit."""
    opened: list[Ports] = []

    async def make(**overrides: Any) -> PortSet:
        settings = make_settings(base_dir / f"env{len(opened)}", **overrides)
        ports, bus, delivery = await open_test_ports(settings)
        opened.append(ports)
        return PortSet(settings, ports, bus, delivery)

    try:
        yield make
    finally:
        for ports in opened:
            await ports.close()


def forwarded_event(frame_type: str, data: Any, who: SocketIdentity) -> CloudEvent:
    """A forwarded ``frame_type`` frame whose data may be anything at all (hostile-input tests);
    a dict is sent as it is, whatever its own ``type`` says."""
    event = client_frame_event({"type": frame_type}, who)
    event.data = data
    return event


async def post_event(
    entry: Callable[[Request], Awaitable[Response]], event: CloudEvent
) -> Response:
    """What Knative (or the dispatcher) does: POST the binary-mode event to a function entry."""
    headers, body = encode_http(event)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return await entry(Request(scope, receive))


def drop_real_namespace(
    *,
    keyspace: str | None = None,
    cassandra_port: int = 29042,
    topic_prefix: str | None = None,
    kafka_bootstrap: str = "127.0.0.1:29092",
) -> list[str]:
    """Delete a test's Cassandra keyspace and Kafka topics on the local real servers (blocking;
    the drivers are imported only here). Tests make a namespace each, and left behind they
    pile up in the brokers' heaps. Returns what could not be cleaned, for a log line."""
    problems = []
    if keyspace is not None:
        from cassandra.cluster import Cluster

        cluster = Cluster(["127.0.0.1"], port=cassandra_port, connect_timeout=10)
        try:
            cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
        except Exception as exc:  # a server a test left stopped: nothing to clean there
            problems.append(f"keyspace {keyspace}: {exc!r}")
        finally:
            cluster.shutdown()
    if topic_prefix is not None:
        from kafka.admin import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=30_000)
        except Exception as exc:
            return [*problems, f"topics {topic_prefix}*: {exc!r}"]
        try:
            mine = [topic for topic in admin.list_topics() if topic.startswith(topic_prefix)]
            if mine:
                admin.delete_topics(mine, timeout_ms=30_000)
        except Exception as exc:
            problems.append(f"topics {topic_prefix}*: {exc!r}")
        finally:
            admin.close()
    return problems
