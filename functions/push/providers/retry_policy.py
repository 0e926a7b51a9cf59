"""When to try a push again: capped exponential backoff with full jitter (pure)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a naive result means the header said "-0000".
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Either wait ``delay_s`` and send again, or give up (``dead_letter``)."""

    dead_letter: bool
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full jitter: after n failures wait U(0, min(cap, base·2^(n-1))), at least Retry-After."""

    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    max_attempts: int = 8
    # A provider asking for longer than this is treated as asking for this long, so one
    # odd header cannot park a notification for a day.
    max_retry_after_s: float = 3600.0
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff_s(self, attempts_made: int) -> float:
        """The jittered delay after ``attempts_made`` failed attempts (1 after the first)."""
        exponent = min(attempts_made - 1, 62)  # 2**62 s is past any cap; avoids float overflow
        ceiling = min(self.max_delay_s, self.base_delay_s * math.ldexp(1.0, exponent))
        return self.rand() * ceiling

    def decide(self, attempts_made: int, retry_after_s: float | None = None) -> RetryDecision:
        """After ``attempts_made`` failed attempts: dead letter at ``max_attempts``, else wait."""
        if attempts_made >= self.max_attempts:
            return RetryDecision(dead_letter=True)
        delay = self.backoff_s(attempts_made)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return RetryDecision(dead_letter=False, delay_s=delay)
