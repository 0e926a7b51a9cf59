"""Login brute-force brake: per-username and per-IP counts, doubling locks, fail closed."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.functions.login.login_throttle import LoginThrottle, ThrottlePolicy, ip_bucket
from imfaas.shared.errors import BackendUnavailable, RateLimited

USER = ThrottlePolicy(window_s=900, free_failures=3, lock_base_s=2, lock_max_s=16)
IP = ThrottlePolicy(window_s=900, free_failures=5, lock_base_s=2, lock_max_s=16)


class ClockedCache:
    """A ``Cache`` whose entries expire by a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.values: dict[str, tuple[str, float]] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise BackendUnavailable("cache down")

    async def get(self, key: str) -> str | None:
        self._check()
        value, expires = self.values.get(key, ("", 0.0))
        return value if expires > self.now else None

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        self._check()
        self.values[key] = (value, self.now + ttl_s)

    async def delete(self, key: str) -> None:
        self._check()
        self.values.pop(key, None)

    async def incr(self, key: str, ttl_s: float) -> int:
        self._check()
        current = await self.get(key)
        expires = self.values[key][1] if current is not None else self.now + ttl_s
        value = int(current or 0) + 1
        self.values[key] = (str(value), expires)
        return value


@pytest.fixture
def cache() -> ClockedCache:
    return ClockedCache()


@pytest.fixture
def throttle(cache: ClockedCache) -> LoginThrottle:
    return LoginThrottle(cache, USER, IP, clock=lambda: cache.now)


async def admitted(throttle: LoginThrottle, username: str, ip: str = "198.51.100.7") -> bool:
    try:
        await throttle.admit(username, ip)
    except RateLimited:
        return False
    return True


async def wait_of(throttle: LoginThrottle, username: str, ip: str = "198.51.100.7") -> int:
    with pytest.raises(RateLimited) as info:
        await throttle.admit(username, ip)
    assert info.value.code == "rate_limited"
    assert info.value.retry_after_s is not None
    return info.value.retry_after_s


# -- policy -----------------------------------------------------------------------------


def test_lock_is_zero_while_free_then_doubles_up_to_the_cap():
    assert [USER.lock_s(n) for n in range(9)] == [0, 0, 0, 2, 4, 8, 16, 16, 16]


def test_lock_after_a_huge_count_stays_at_the_cap():
    assert USER.lock_s(10**9) == 16


@pytest.mark.parametrize(
    "values",
    [
        {"window_s": 0},
        {"free_failures": -1},
        {"lock_base_s": 0},
        {"lock_base_s": 20, "lock_max_s": 10},
    ],
    ids=["no-window", "negative-free", "no-base", "base-above-cap"],
)
def test_impossible_policies_are_refused(values):
    fields = {"window_s": 900, "free_failures": 3, "lock_base_s": 2, "lock_max_s": 16, **values}
    with pytest.raises(ValueError):
        ThrottlePolicy(**fields)


@pytest.mark.parametrize(
    ("ip", "bucket"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("", ""),
        ("not-an-ip", ""),
    ],
)
def test_ip_bucket(ip, bucket):
    assert ip_bucket(ip) == bucket


# -- per username -----------------------------------------------------------------------


async def test_free_attempts_pass_then_one_per_doubling_lock(throttle, cache):
    for _ in range(USER.free_failures):
        assert await admitted(throttle, "alice")
    assert await admitted(throttle, "alice")  # the first turn, then a 2 s lock
    assert await wait_of(throttle, "alice") == 2

    cache.now += 2
    assert await admitted(throttle, "alice")
    assert await wait_of(throttle, "alice") == 4
    cache.now += 3
    assert await wait_of(throttle, "alice") == 1


async def test_locks_stop_growing_at_the_cap(throttle, cache):
    waits = []
    for _ in range(10):
        while await admitted(throttle, "alice"):
            pass
        waits.append(await wait_of(throttle, "alice"))
        cache.now += waits[-1]
    assert waits[:4] == [2, 4, 8, 16]
    assert set(waits[4:]) == {16}


async def test_refused_attempts_do_not_lengthen_the_lock(throttle, cache):
    for _ in range(USER.free_failures + 1):
        await throttle.admit("alice", "198.51.100.7")
    for _ in range(50):
        assert await wait_of(throttle, "alice") == 2

    cache.now += 2
    assert await admitted(throttle, "alice")
    assert await wait_of(throttle, "alice") == 4


async def test_unknown_and_known_usernames_are_throttled_alike(throttle):
    outcomes = {}
    for name in ("alice", "nobody-by-this-name"):
        outcomes[name] = [await admitted(throttle, name) for _ in range(6)]
    assert outcomes["alice"] == outcomes["nobody-by-this-name"] == [True] * 4 + [False] * 2


async def test_a_success_clears_the_username(throttle, cache):
    for _ in range(USER.free_failures + 1):
        await throttle.admit("alice", "198.51.100.7")
    assert not await admitted(throttle, "alice")

    await throttle.record_success("alice")

    assert [await admitted(throttle, "alice") for _ in range(4)] == [True] * 4


async def test_the_count_restarts_after_the_window(throttle, cache):
    for _ in range(USER.free_failures):
        await throttle.admit("alice", "198.51.100.7")
    cache.now += USER.window_s

    assert [await admitted(throttle, "alice") for _ in range(4)] == [True] * 4


async def test_other_usernames_are_not_slowed(throttle):
    for _ in range(USER.free_failures + 1):
        await throttle.admit("alice", "198.51.100.7")
    assert not await admitted(throttle, "alice")

    assert await admitted(throttle, "bob")


async def test_a_parallel_burst_gets_the_free_attempts_and_one_turn(throttle):
    results = await asyncio.gather(*(admitted(throttle, "alice") for _ in range(40)))

    assert results.count(True) == USER.free_failures + 1


# -- per IP -----------------------------------------------------------------------------


async def test_failures_from_one_ip_over_many_usernames_lock_that_ip(throttle, cache):
    for n in range(IP.free_failures):
        assert await admitted(throttle, f"user{n}", "203.0.113.9")
        await throttle.record_failure("203.0.113.9")

    assert await admitted(throttle, "fresh", "203.0.113.9")  # the IP's first turn
    assert await wait_of(throttle, "another", "203.0.113.9") == 2
    assert await admitted(throttle, "another", "203.0.113.10")


async def test_ipv6_neighbours_in_one_64_share_a_count(throttle):
    for n in range(IP.free_failures + 1):
        await throttle.admit(f"user{n}", f"2001:db8:0:1::{n + 1}")
        await throttle.record_failure(f"2001:db8:0:1::{n + 1}")

    assert not await admitted(throttle, "someone", "2001:db8:0:1::ffff")
    assert await admitted(throttle, "someone", "2001:db8:0:2::1")


async def test_successes_from_one_ip_never_slow_it(throttle):
    for n in range(3 * IP.free_failures):
        assert await admitted(throttle, f"user{n}", "203.0.113.9")
        await throttle.record_success(f"user{n}")


async def test_a_success_keeps_the_ip_count(throttle):
    for n in range(IP.free_failures + 1):
        await throttle.admit(f"user{n}", "203.0.113.9")
        await throttle.record_failure("203.0.113.9")
    await throttle.record_success("user0")

    assert not await admitted(throttle, "user0", "203.0.113.9")


async def test_without_an_ip_only_the_username_counts(throttle):
    for n in range(3 * IP.free_failures):
        assert await admitted(throttle, f"user{n}", "")
        await throttle.record_failure("")


# -- cache down -------------------------------------------------------------------------


async def test_an_unreachable_cache_fails_closed(throttle, cache):
    cache.down = True

    with pytest.raises(BackendUnavailable):
        await throttle.admit("alice", "198.51.100.7")
