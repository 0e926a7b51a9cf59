"""The gateway's Prometheus metrics, served as text on ``GET /metrics``.

Label children are looked up once per label value and kept in plain dicts, so counting a
frame is a dict lookup and an increment. Client-chosen frame types outside the known set
count as ``other``: a client cannot grow the label space.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"
INVALID = "invalid"

# Seconds: the forward path is ~1 ms embedded, tens of ms to a cold function.
FORWARD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


class GatewayMetrics:
    """One node's metrics in a registry of its own (several gateways may share a process)."""

    def __init__(self, frame_types: Iterable[str], connections: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known_in = frozenset(frame_types) | {INVALID}
        gauge = Gauge(
            "imfaas_gateway_connections",
            "WebSocket connections open on this node.",
            registry=self.registry,
        )
        gauge.set_function(connections)
        self._frames_in = Counter(
            "imfaas_gateway_frames_in",
            "Client frames received, by type (invalid: unreadable; other: unknown type).",
            ["type"],
            registry=self.registry,
        )
        self._frames_out = Counter(
            "imfaas_gateway_frames_out",
            "Frames sent to clients, by type.",
            ["type"],
            registry=self.registry,
        )
        self._errors = Counter(
            "imfaas_gateway_errors",
            "Error frames sent to clients, by code.",
            ["code"],
            registry=self.registry,
        )
        self._closes = Counter(
            "imfaas_gateway_closes",
            "WebSocket closes, by close code (the server's, else the client's).",
            ["code"],
            registry=self.registry,
        )
        self._forward = Histogram(
            "imfaas_gateway_forward_seconds",
            "Time from forwarding a frame to a function to its reply, by function.",
            ["function"],
            buckets=FORWARD_BUCKETS,
            registry=self.registry,
        )
        self._batches = Histogram(
            "imfaas_gateway_delivery_batch_items",
            "Items per delivery batch received from fanout.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._in: dict[str, Callable[[], None]] = {}
        self._out: dict[str, Callable[[], None]] = {}
        self._error: dict[str, Callable[[], None]] = {}
        self._close: dict[int, Callable[[], None]] = {}
        self._latency: dict[str, Callable[[float], None]] = {}

    def frame_in(self, frame_type: str | None) -> None:
        """Count one received frame (None: unreadable)."""
        if frame_type is None:
            frame_type = INVALID
        inc = self._in.get(frame_type)
        if inc is None:
            label = frame_type if frame_type in self._known_in else OTHER
            inc = self._in.get(label)
            if inc is None:
                inc = self._in[label] = self._frames_in.labels(label).inc
        inc()

    def frame_out(self, frame: dict[str, Any], sockets: int = 1) -> None:
        """Count a frame sent to ``sockets`` sockets (and its code when it is an error)."""
        frame_type = str(frame.get("type"))
        inc = self._out.get(frame_type)
        if inc is None:
            inc = self._out[frame_type] = self._frames_out.labels(frame_type).inc
        inc(sockets)
        if frame_type == "error":
            code = str(frame.get("code"))
            error = self._error.get(code)
            if error is None:
                error = self._error[code] = self._errors.labels(code).inc
            error(sockets)

    def closed(self, code: int) -> None:
        """Count one socket closed with ``code``."""
        inc = self._close.get(code)
        if inc is None:
            inc = self._close[code] = self._closes.labels(str(code)).inc
        inc()

    def forwarded(self, function: str, seconds: float) -> None:
        """Record one forward's round trip."""
        observe = self._latency.get(function)
        if observe is None:
            observe = self._latency[function] = self._forward.labels(function).observe
        observe(seconds)

    def delivery_batch(self, items: int) -> None:
        """Record the size of one delivery batch."""
        self._batches.observe(items)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
