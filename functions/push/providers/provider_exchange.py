"""Sending to a provider: timing, transport failures as outcomes, one auth refresh."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx

from imfaas.functions.push.providers.oauth_token_cache import (
    AccessTokenCache,
    TokenFetch,
    TokenFetchError,
)
from imfaas.functions.push.providers.push_payload import PushNotification, PushOutcome
from imfaas.functions.push.providers.retry_policy import parse_retry_after


async def guarded_send(send: Callable[[], Awaitable[PushOutcome]]) -> PushOutcome:
    """Run one send, timed; a time-out, a connection failure or no access token is an outcome."""
    started = time.perf_counter()
    try:
        outcome = await send()
    except httpx.TimeoutException:
        outcome = PushOutcome.retry("timeout")
    except httpx.TransportError:
        # Refused, reset or dropped connections, TLS and HTTP/2 protocol errors: the next
        # attempt opens a new connection.
        outcome = PushOutcome.retry("connection")
    except TokenFetchError as exc:
        outcome = (
            PushOutcome.retry(exc.reason, exc.status_code)
            if exc.retryable
            else PushOutcome.rejected(exc.reason, exc.status_code)
        )
    return replace(outcome, latency_ms=(time.perf_counter() - started) * 1000.0)


def compact_json(value: Any) -> bytes:
    """JSON as UTF-8 without escapes or spaces: the bytes the providers' 4096-byte limits count."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class ProviderClient:
    """What the three clients share: one HTTP client, one cached token, guarded sends.

    Subclasses build the request in ``_send`` and post it with ``_post_json``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        fetch_token: TokenFetch,
        auth_expired: Callable[[httpx.Response], bool],
        *,
        clock: Callable[[], float],
        refresh_margin_s: float = 60.0,
        scheme: str = "Bearer",
    ) -> None:
        self._http = http
        self._clock = clock
        self._tokens = AccessTokenCache(fetch_token, refresh_margin_s=refresh_margin_s, clock=clock)
        self._auth_expired = auth_expired
        self._scheme = scheme

    async def send(self, notification: PushNotification) -> PushOutcome:
        """Send one notification (see ``PushProvider.send``)."""
        return await guarded_send(lambda: self._send(notification))

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def _send(self, notification: PushNotification) -> PushOutcome:
        raise NotImplementedError

    async def _post_json(
        self, url: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST JSON with the cached token; renewed and posted once more if refused as expired."""
        content = compact_json(payload)
        base = {**(headers or {}), "content-type": "application/json"}

        async def post(token: str) -> httpx.Response:
            authorization = {"authorization": f"{self._scheme} {token}"}
            return await self._http.post(url, content=content, headers={**base, **authorization})

        token = await self._tokens.get()
        response = await post(token)
        if not self._auth_expired(response):
            return response
        self._tokens.invalidate(token)
        return await post(await self._tokens.get())


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is empty or not one (a proxy's page)."""
    try:
        body = json.loads(response.content) if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after_s(response: httpx.Response, now: float) -> float | None:
    """The response's Retry-After in seconds, if it has a usable one."""
    return parse_retry_after(response.headers.get("retry-after"), now)
