"""A function's Prometheus metrics, answered on ``GET /metrics`` by its HTTP entry.

functions-framework hands every path to the function's target, so the metrics need no
second port. Outcomes are a fixed set: no caller can grow the label space.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTCOMES = ("replied", "accepted", "bad_request", "too_large", "unavailable", "failed")
HANDLE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class FunctionMetrics:
    """Events handled by outcome and how long handling took, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        events = Counter(
            "imfaas_function_events",
            "CloudEvents received, by outcome (replied: 200, accepted: 202, else the error).",
            ["function", "outcome"],
            registry=self.registry,
        )
        seconds = Histogram(
            "imfaas_function_handle_seconds",
            "Time the function spent on one event (decoded to answered).",
            ["function"],
            buckets=HANDLE_BUCKETS,
            registry=self.registry,
        )
        self._events = events
        self._seconds = seconds
        self._counters: dict[tuple[str, str], Callable[[], None]] = {}
        self._observers: dict[str, Callable[[float], None]] = {}

    def counted(self, function: str, outcome: str) -> None:
        """Count one event with its outcome (one of ``OUTCOMES``)."""
        inc = self._counters.get((function, outcome))
        if inc is None:
            inc = self._counters[function, outcome] = self._events.labels(function, outcome).inc
        inc()

    def handled(self, function: str, seconds: float) -> None:
        """Record how long one event took."""
        observe = self._observers.get(function)
        if observe is None:
            observe = self._observers[function] = self._seconds.labels(function).observe
        observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
