"""A log-bucket latency histogram: constant memory, mergeable across client processes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# 1 µs .. ~100 s with about 2.3 % relative error per bucket.
_BASE = 1.0 + 1 / 44
_MIN_NS = 1_000


@dataclass
class LatencyHistogram:
    """Counts of latencies (ns) in logarithmic buckets."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0

    def add(self, latency_ns: int) -> None:
        """Record one latency."""
        bucket = 0 if latency_ns <= _MIN_NS else int(math.log(latency_ns / _MIN_NS, _BASE))
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.total += 1

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's counts (from another process)."""
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.total += other.total

    def percentile_ms(self, p: float) -> float:
        """The latency (ms) below which ``p`` percent of the samples fall."""
        if not self.total:
            return float("nan")
        rank = math.ceil(self.total * p / 100)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return _MIN_NS * _BASE ** (bucket + 0.5) / 1e6
        return float("nan")

    def to_json(self) -> dict:
        """A JSON-able form."""
        return {"counts": {str(k): v for k, v in self.counts.items()}, "total": self.total}

    @classmethod
    def from_json(cls, data: dict) -> LatencyHistogram:
        """Rebuild from ``to_json``."""
        return cls({int(k): v for k, v in data["counts"].items()}, data["total"])
