"""An access token kept until shortly before it expires, fetched once for all concurrent callers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx


class TokenFetchError(Exception):
    """The token endpoint gave no token; ``retryable`` tells an outage from bad credentials."""

    def __init__(self, reason: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token and how many seconds it is valid from when it was fetched."""

    value: str
    expires_in_s: float


TokenFetch = Callable[[], Awaitable[IssuedToken]]


async def request_oauth_token(
    http: httpx.AsyncClient, url: str, form: Mapping[str, str]
) -> IssuedToken:
    """POST a form-encoded OAuth 2.0 token request; ``TokenFetchError`` unless a token comes back.

    429 and 5xx are retryable; other errors mean the credentials or the grant are wrong.
    Transport errors and time-outs propagate as httpx exceptions.
    """
    response = await http.post(url, data=dict(form))
    if response.status_code != 200:
        retryable = response.status_code == 429 or response.status_code >= 500
        reason = f"token endpoint answered {response.status_code}"
        raise TokenFetchError(reason, retryable=retryable, status_code=response.status_code)
    try:
        body = json.loads(response.content)
        return IssuedToken(str(body["access_token"]), float(body["expires_in"]))
    except (ValueError, KeyError, TypeError):
        # A 200 without a token is the endpoint misbehaving, not our credentials.
        raise TokenFetchError(
            "token endpoint answered without a token", retryable=True, status_code=200
        ) from None


class AccessTokenCache:
    """Hands out one token until ``refresh_margin_s`` before its expiry, then fetches a new one.

    Concurrent callers share a single fetch, and its failure (``TokenFetchError`` or a
    transport error); the next call after a failure fetches again.
    """

    def __init__(
        self,
        fetch: TokenFetch,
        *,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._value: str | None = None
        self._refresh_at = 0.0
        self._inflight: asyncio.Task[str] | None = None

    async def get(self) -> str:
        """The current token, fetching a new one when none is fresh."""
        if self._value is not None and self._clock() < self._refresh_at:
            return self._value
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
            # Retrieved here too, so a failure whose callers were all cancelled is not logged
            # as "never retrieved".
            self._inflight.add_done_callback(_consume_exception)
        # Shielded: one caller cancelled (its send timed out) must not cancel the others' fetch.
        return await asyncio.shield(self._inflight)

    def invalidate(self, token: str) -> None:
        """Drop ``token`` after the provider refused it; a newer token already fetched is kept."""
        if self._value == token:
            self._value = None

    async def _refresh(self) -> str:
        fetched_at = self._clock()
        try:
            issued = await self._fetch()
        finally:
            self._inflight = None
        self._value = issued.value
        self._refresh_at = fetched_at + issued.expires_in_s - self._refresh_margin_s
        return issued.value


def _consume_exception(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()
