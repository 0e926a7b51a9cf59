"""Login brute-force brake: attempts counted per username and per client IP in the cache.

Per username every attempt counts (a success clears the count), so a burst of parallel guesses
is counted before any of them reaches argon2. Per IP only failures count, so many people
behind one NAT logging in successfully never slow each other down. Beyond ``free_failures`` in
the window, one attempt is admitted per lock period, the period doubling up to a cap: an
attacker slows to a trickle, and a victim sharing the username waits at most the cap once the
attacker stops.

A cache that cannot be reached raises ``BackendUnavailable`` (the login answers 503): we fail
closed, since failing open would hand out unthrottled password guesses whenever the cache is
down or overloaded, and sockets cannot authenticate without the cache (revocation check) anyway.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from imfaas.shared.errors import RateLimited
from imfaas.shared.ports.cache import Cache

# 2**30 s is far beyond any sane cap; bounding the exponent keeps the float finite.
_MAX_DOUBLINGS = 30


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures a window allows for free, and the lock that follows them."""

    window_s: float
    free_failures: int
    lock_base_s: float
    lock_max_s: float

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.free_failures < 0:
            raise ValueError("throttle window must be positive and free failures not negative")
        if not 0 < self.lock_base_s <= self.lock_max_s:
            raise ValueError("throttle lock base must be positive and at most the cap")

    def lock_s(self, failures: int) -> float:
        """Seconds until the next attempt once ``failures`` are counted (0 while free)."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, _MAX_DOUBLINGS)
        return min(self.lock_base_s * 2**doublings, self.lock_max_s)


def ip_bucket(client_ip: str) -> str:
    """The address an IP is counted under: IPv4 as is, IPv6 by its /64 (one host usually
    holds a whole /64); empty when unreadable (then only the username counts)."""
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    """Admits or refuses login attempts; records their outcome."""

    def __init__(
        self,
        cache: Cache,
        per_user: ThrottlePolicy,
        per_ip: ThrottlePolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._per_user = per_user
        self._per_ip = per_ip
        self._clock = clock

    async def admit(self, username: str, client_ip: str) -> None:
        """Count this attempt against the username; raise ``RateLimited`` (with the seconds
        to wait) when the username or the IP is locked. Known and unknown names alike."""
        ip = ip_bucket(client_ip)
        scopes = [f"user:{username}"] + ([f"ip:{ip}"] if ip else [])
        now = self._clock()
        # A lock in force answers first and counts nothing: hammering it gains nothing and
        # costs the victim nothing more.
        for scope in scopes:
            await self._refuse_while_locked(scope, now)
        if ip:
            failures = int(await self._cache.get(_count_key(f"ip:{ip}")) or 0)
            await self._claim_turn(f"ip:{ip}", self._per_ip.lock_s(failures), now)
        attempts = await self._cache.incr(_count_key(f"user:{username}"), self._per_user.window_s)
        await self._claim_turn(f"user:{username}", self._per_user.lock_s(attempts - 1), now)

    async def record_failure(self, client_ip: str) -> None:
        """Count a wrong password against the IP (the username's attempt is counted already)."""
        ip = ip_bucket(client_ip)
        if ip:
            await self._cache.incr(_count_key(f"ip:{ip}"), self._per_ip.window_s)

    async def record_success(self, username: str) -> None:
        """Clear the username's count and lock; the IP's failures stay (one valid account
        must not reset an attacker's address)."""
        scope = f"user:{username}"
        for key in (_count_key(scope), _turn_key(scope), _until_key(scope)):
            await self._cache.delete(key)

    async def _refuse_while_locked(self, scope: str, now: float) -> None:
        until = await self._cache.get(_until_key(scope))
        if until is not None and float(until) > now:
            raise _rate_limited(float(until) - now)

    async def _claim_turn(self, scope: str, lock_s: float, now: float) -> None:
        """Past the free failures, only the first attempt of each lock period passes; the
        atomic counter settles a race between parallel attempts."""
        if lock_s <= 0:
            return
        if await self._cache.incr(_turn_key(scope), lock_s) > 1:
            raise _rate_limited(lock_s)
        await self._cache.set(_until_key(scope), repr(now + lock_s), lock_s)


def _rate_limited(wait_s: float) -> RateLimited:
    return RateLimited("too many login attempts, retry later", retry_after_s=math.ceil(wait_s))


def _count_key(scope: str) -> str:
    return f"login-count:{scope}"


def _turn_key(scope: str) -> str:
    return f"login-turn:{scope}"


def _until_key(scope: str) -> str:
    return f"login-locked-until:{scope}"
