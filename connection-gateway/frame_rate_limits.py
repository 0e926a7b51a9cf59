"""Per-user, per-frame-type token buckets, shared by all of a user's sockets on this node.

Pure: the caller passes the clock. A user's sockets normally all land on one node (login's
``ws_url`` picks it by rendezvous hashing), so buckets live in the gateway process and no
frame waits for a backend. A user spread over several nodes gets one budget per node; that
is deliberately accepted, as a shared budget would cost a round trip per frame.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

# Past this many buckets the least recently used go first, even if not yet full again
# (which gives that user a fresh budget early); only reached under extreme load.
MAX_BUCKETS = 1_000_000


@dataclass(frozen=True, slots=True)
class FrameRate:
    """Sustained frames per second and the burst allowed on top."""

    per_s: float
    burst: int


class TokenBucket:
    """A token bucket that starts full; the rate is passed in, so many buckets share one."""

    __slots__ = ("at", "tokens")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.at = now

    def take(self, per_s: float, burst: int, now: float) -> bool:
        """Refill for the time since the last call, then take one token if there is one."""
        elapsed = max(0.0, now - self.at)
        self.tokens = min(float(burst), self.tokens + elapsed * per_s)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FrameRateLimits:
    """Token buckets keyed by (user, frame type); types without a rate are not limited here.

    Memory stays bounded: a bucket untouched long enough to be full again is dropped (a fresh
    bucket is the same thing), and at most ``max_buckets`` are kept.
    """

    def __init__(self, rates: Mapping[str, FrameRate], max_buckets: int = MAX_BUCKETS) -> None:
        for frame_type, rate in rates.items():
            if not (0 < rate.per_s < math.inf) or rate.burst < 1:
                raise ValueError(f"{frame_type}: rate and burst must be positive")
        self._rates = dict(rates)
        self._max_buckets = max_buckets
        # The longest any bucket takes to refill from empty: older buckets are full.
        self._refill_s = max((r.burst / r.per_s for r in self._rates.values()), default=0.0)
        # Least recently touched first, so expired buckets are popped from the front.
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    def limits(self, frame_type: str) -> bool:
        """Whether frames of this type have a per-user rate."""
        return frame_type in self._rates

    def allow(self, user_id: str, frame_type: str, now: float) -> bool:
        """Take one token from the user's bucket for this type; False when it is empty."""
        rate = self._rates.get(frame_type)
        if rate is None:
            return True
        self.prune(now)
        key = (user_id, frame_type)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate.burst, now)
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(rate.per_s, rate.burst, now)

    def prune(self, now: float) -> None:
        """Drop every bucket that has had time to fill up again."""
        buckets = self._buckets
        while buckets:
            key, oldest = next(iter(buckets.items()))
            if now - oldest.at < self._refill_s:
                return
            del buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
