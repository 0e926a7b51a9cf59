"""AccessTokenCache: reuse until shortly before expiry, one fetch for concurrent callers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from imfaas.functions.push.providers.oauth_token_cache import (
    AccessTokenCache,
    IssuedToken,
    TokenFetchError,
    request_oauth_token,
)
from imfaas.functions.push.tests.fake_push_server import FakeClock


class CountingFetch:
    """A token endpoint stand-in: numbered tokens, optionally held at a gate or failing."""

    def __init__(self, expires_in_s: float = 3600.0) -> None:
        self.calls = 0
        self.expires_in_s = expires_in_s
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def __call__(self) -> IssuedToken:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return IssuedToken(f"token-{self.calls}", self.expires_in_s)


async def test_token_is_reused_until_the_refresh_margin() -> None:
    clock, fetch = FakeClock(), CountingFetch(expires_in_s=3600.0)
    cache = AccessTokenCache(fetch, refresh_margin_s=60.0, clock=clock)
    assert await cache.get() == "token-1"
    clock.advance(3539.0)
    assert await cache.get() == "token-1"
    clock.advance(1.0)
    assert await cache.get() == "token-2"
    assert fetch.calls == 2


async def test_concurrent_callers_share_one_fetch() -> None:
    fetch = CountingFetch()
    fetch.gate = asyncio.Event()
    cache = AccessTokenCache(fetch, clock=FakeClock())
    waiting = [asyncio.create_task(cache.get()) for _ in range(5)]
    await asyncio.sleep(0)
    fetch.gate.set()
    assert await asyncio.gather(*waiting) == ["token-1"] * 5
    assert fetch.calls == 1


async def test_a_failed_fetch_reaches_every_waiter_and_the_next_call_fetches_again() -> None:
    fetch = CountingFetch()
    fetch.gate = asyncio.Event()
    fetch.fail_with = TokenFetchError("down", retryable=True, status_code=503)
    cache = AccessTokenCache(fetch, clock=FakeClock())
    waiting = [asyncio.create_task(cache.get()) for _ in range(3)]
    await asyncio.sleep(0)
    fetch.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, TokenFetchError) for r in results)
    assert fetch.calls == 1
    fetch.fail_with = None
    assert await cache.get() == "token-2"


async def test_one_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    fetch = CountingFetch()
    fetch.gate = asyncio.Event()
    cache = AccessTokenCache(fetch, clock=FakeClock())
    first = asyncio.create_task(cache.get())
    second = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    first.cancel()
    fetch.gate.set()
    assert await second == "token-1"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_invalidate_drops_only_the_refused_token() -> None:
    fetch = CountingFetch()
    cache = AccessTokenCache(fetch, clock=FakeClock())
    assert await cache.get() == "token-1"
    cache.invalidate("token-1")
    assert await cache.get() == "token-2"
    # A second sender that also saw token-1 refused must not throw away token-2.
    cache.invalidate("token-1")
    assert await cache.get() == "token-2"
    assert fetch.calls == 2


async def _token_request(response: httpx.Response) -> IssuedToken:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        try:
            return await request_oauth_token(http, "https://auth.test/token", {"a": "b c"})
        finally:
            assert [r.content for r in seen] == [b"a=b+c"]


async def test_a_token_request_reads_the_token_and_its_lifetime() -> None:
    issued = await _token_request(
        httpx.Response(200, json={"access_token": "tok", "expires_in": 3599})
    )
    assert issued == IssuedToken("tok", 3599.0)


@pytest.mark.parametrize(
    ("response", "retryable"),
    [
        (httpx.Response(400, json={"error": "invalid_grant"}), False),
        (httpx.Response(401, json={"error": "invalid_client"}), False),
        (httpx.Response(429), True),
        (httpx.Response(503), True),
        (httpx.Response(200, json={"token_type": "Bearer"}), True),
        (httpx.Response(200, text="<html>"), True),
    ],
)
async def test_a_failed_token_request_says_whether_to_retry(
    response: httpx.Response, retryable: bool
) -> None:
    with pytest.raises(TokenFetchError) as failure:
        await _token_request(response)
    assert failure.value.retryable is retryable
    assert failure.value.status_code == response.status_code
