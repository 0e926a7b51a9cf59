"""The push function's own Prometheus metrics: sends per provider and outcome, latency, and
notifications not sent (and why)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PushMetrics:
    """Counters in a registry of their own, appended to the function's ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._sends = Counter(
            "imfaas_push_sends",
            "Provider sends by provider and outcome (delivered, retry, invalid_token, rejected).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "imfaas_push_send_seconds",
            "Time of one provider send, token fetches included.",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._dropped = Counter(
            "imfaas_push_skipped",
            "Notifications not sent, by reason (rate_limited, do_not_disturb, muted, no_token,"
            " already_final).",
            ["reason"],
            registry=self.registry,
        )

    def sent(self, provider: str, outcome: str, latency_ms: float) -> None:
        """Count one send and its latency."""
        self._sends.labels(provider, outcome).inc()
        self._latency.labels(provider).observe(latency_ms / 1000)

    def dropped(self, reason: str) -> None:
        """Count one notification not sent."""
        self._dropped.labels(reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of these metrics."""
        return generate_latest(self.registry)
