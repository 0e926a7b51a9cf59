"""RetryPolicy and Retry-After parsing: bounds, jitter, the server's wait, the dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from imfaas.functions.push.providers.retry_policy import RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0


def test_full_jitter_spans_zero_to_the_exponential_ceiling() -> None:
    low = RetryPolicy(base_delay_s=2.0, max_delay_s=1000.0, rand=lambda: 0.0)
    high = RetryPolicy(base_delay_s=2.0, max_delay_s=1000.0, rand=lambda: 0.999)
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0)]:
        assert low.decide(attempts).delay_s == 0.0
        assert high.decide(attempts).delay_s == pytest.approx(0.999 * ceiling)


def test_delay_is_capped_even_after_many_attempts() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, max_attempts=10_000, rand=lambda: 1.0)
    assert policy.decide(5).delay_s == 16.0
    assert policy.decide(6).delay_s == 30.0
    assert policy.decide(5000).delay_s == 30.0


def test_jitter_draws_from_the_injected_random_each_time() -> None:
    draws = iter([0.1, 0.5, 0.9])
    policy = RetryPolicy(base_delay_s=10.0, max_delay_s=10.0, rand=lambda: next(draws))
    assert [policy.decide(1).delay_s for _ in range(3)] == pytest.approx([1.0, 5.0, 9.0])


def test_retry_after_is_a_floor_not_a_replacement() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100.0, rand=lambda: 0.5)
    assert policy.decide(1, retry_after_s=7.0).delay_s == 7.0
    # The backoff (0.5 * 64 = 32 s) already waits longer than the server asked.
    assert policy.decide(7, retry_after_s=7.0).delay_s == 32.0


def test_an_extreme_retry_after_is_bounded() -> None:
    policy = RetryPolicy(max_retry_after_s=600.0, rand=lambda: 0.0)
    assert policy.decide(1, retry_after_s=86_400.0).delay_s == 600.0


def test_dead_letter_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, rand=lambda: 0.5)
    assert [policy.decide(n).dead_letter for n in (1, 2, 3, 4)] == [False, False, True, True]
    # The server's Retry-After does not buy attempts past the limit.
    assert policy.decide(3, retry_after_s=1.0).dead_letter


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 0 ", NOW) == 0.0


def test_retry_after_as_an_http_date() -> None:
    when = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == 90.0
    # A date already past means "now".
    past = datetime.fromtimestamp(NOW - 90, UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2024"])
def test_unusable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
