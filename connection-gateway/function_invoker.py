"""How the gateway reaches functions: HTTP POST of a binary CloudEvent, or in-process.

Both build and parse the same bytes through the one codec, so the embedded default exercises
exactly the encoding that production puts on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import aiohttp
from cloudevents.http import CloudEvent

from imfaas.events import trace_context
from imfaas.events.codec import BadEvent, decode_http, encode_http
from imfaas.shared import tracing
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.function_runtime import Function


class FunctionInvoker(Protocol):
    """Calls a function with one event and returns its reply event (None for ``202``)."""

    async def invoke(self, function: str, event: CloudEvent) -> CloudEvent | None:
        """Raise ``BackendUnavailable`` when the function cannot answer."""


class InProcessInvoker:
    """Calls functions living in this process with the very CloudEvent the HTTP path sends.

    The bytes round trip is skipped here (it cost a third of the embedded hot path); the
    codec itself is covered by its tests and by the local cluster, where every call is HTTP.
    """

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self._functions = dict(functions)

    async def invoke(self, function: str, event: CloudEvent) -> CloudEvent | None:
        """Hand the event to the function and return its reply event."""
        target = self._functions.get(function)
        if target is None:
            raise BackendUnavailable(f"function {function!r} is not running here")
        # What the function publishes continues the event's trace, as over HTTP.
        with trace_context.handling(event), tracing.span(f"{function} handle", event):
            return await target.handle(event)


class HttpInvoker:
    """POSTs binary-mode CloudEvents to each function's URL (a Knative Service in production)."""

    def __init__(self, urls: Mapping[str, str], timeout_s: float) -> None:
        self._urls = dict(urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the pooled client session."""
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        """Close the client session."""
        if self._session is not None:
            await self._session.close()

    async def invoke(self, function: str, event: CloudEvent) -> CloudEvent | None:
        """One POST; ``202`` is no reply, ``200`` carries the reply event, anything else fails."""
        url = self._urls.get(function)
        if url is None or self._session is None:
            raise BackendUnavailable(f"no URL for function {function!r}")
        headers, body = encode_http(event)
        # The hop's own log lines (a timeout, a refusal) name the event's trace.
        with trace_context.handling(event), tracing.span(f"forward {function}", event, "client"):
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    if response.status == 202:
                        return None
                    if response.status != 200:
                        raise BackendUnavailable(f"{function} answered {response.status}")
                    return decode_http(dict(response.headers), payload)
            except (TimeoutError, aiohttp.ClientError, BadEvent) as exc:
                raise BackendUnavailable(f"{function}: {exc!r}") from exc
