"""Per-user, per-type token buckets: refusals, refill, sharing, isolation, bounded memory."""

from __future__ import annotations

import pytest

from imfaas.gateway.frame_rate_limits import FrameRate, FrameRateLimits


def take(limits: FrameRateLimits, n: int, user: str = "u1", kind: str = "typing", now=0.0):
    return [limits.allow(user, kind, now) for _ in range(n)]


def test_a_burst_is_allowed_then_refused():
    limits = FrameRateLimits({"typing": FrameRate(1.0, 3)})

    assert take(limits, 5) == [True, True, True, False, False]


def test_the_bucket_refills_at_the_sustained_rate():
    limits = FrameRateLimits({"typing": FrameRate(2.0, 1)})
    assert take(limits, 2, now=0.0) == [True, False]

    assert limits.allow("u1", "typing", 0.2) is False  # 0.4 of a token
    assert limits.allow("u1", "typing", 0.55) is True  # 0.4 + 0.7 >= 1
    assert limits.allow("u1", "typing", 0.55) is False


def test_refill_never_exceeds_the_burst():
    limits = FrameRateLimits({"typing": FrameRate(100.0, 2)})
    take(limits, 2, now=0.0)

    assert take(limits, 3, now=1000.0) == [True, True, False]


def test_users_and_types_have_buckets_of_their_own():
    limits = FrameRateLimits({"typing": FrameRate(0.01, 1), "msg.send": FrameRate(0.01, 1)})

    assert take(limits, 2, user="a") == [True, False]
    assert take(limits, 2, user="b") == [True, False]
    assert take(limits, 2, user="a", kind="msg.send") == [True, False]


def test_types_without_a_rate_are_never_refused_and_hold_no_memory():
    limits = FrameRateLimits({"typing": FrameRate(0.01, 1)})

    assert all(take(limits, 1000, kind="ping"))
    assert not limits.limits("ping") and limits.limits("typing")
    assert len(limits) == 0


def test_a_bucket_that_filled_up_again_is_dropped():
    limits = FrameRateLimits({"typing": FrameRate(1.0, 5), "sync": FrameRate(10.0, 10)})
    take(limits, 5, user="a", now=0.0)
    take(limits, 1, user="b", kind="sync", now=3.0)
    assert len(limits) == 2

    limits.prune(4.9)  # 4.9 s after its last use, a's bucket holds 4.9 of 5 tokens
    assert len(limits) == 2
    limits.prune(5.0)
    assert len(limits) == 1
    limits.prune(8.0)
    assert len(limits) == 0


def test_a_dropped_bucket_answers_as_the_full_bucket_it_was():
    limits = FrameRateLimits({"typing": FrameRate(1.0, 3)})
    assert take(limits, 4, now=0.0) == [True, True, True, False]
    assert take(limits, 1, now=1.5) == [True]  # 1.5 tokens, 0.5 left
    assert take(limits, 4, now=4.0) == [True, True, True, False]  # refilled to 3
    limits.prune(9.0)
    assert len(limits) == 0  # 5 s unused: it was full

    assert take(limits, 4, now=9.0) == [True, True, True, False]


def test_many_users_over_time_keep_memory_bounded_by_the_recently_active():
    limits = FrameRateLimits({"typing": FrameRate(2.0, 4)})  # full again after 2 s
    for second in range(100):
        for i in range(50):
            limits.allow(f"u{second}-{i}", "typing", float(second))
    # Only users seen in the last 2 s can still hold a bucket that is not full.
    assert len(limits) <= 150


def test_the_hard_cap_evicts_the_least_recently_used():
    limits = FrameRateLimits({"typing": FrameRate(0.001, 1)}, max_buckets=2)
    take(limits, 1, user="a")
    take(limits, 1, user="b")
    take(limits, 1, user="a")  # a is now the most recent
    take(limits, 1, user="c")

    assert len(limits) == 2
    assert limits.allow("a", "typing", 0.0) is False  # kept: still empty
    assert limits.allow("b", "typing", 0.0) is True  # evicted: a fresh bucket


@pytest.mark.parametrize(
    "rate", [FrameRate(0.0, 1), FrameRate(-1.0, 1), FrameRate(1.0, 0), FrameRate(float("inf"), 1)]
)
def test_impossible_rates_are_rejected(rate):
    with pytest.raises(ValueError):
        FrameRateLimits({"typing": rate})
