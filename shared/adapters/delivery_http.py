"""Delivery to gateway nodes over HTTP: one POST of a binary CloudEvent batch per node."""

from __future__ import annotations

from typing import Any

import aiohttp

from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event
from imfaas.shared.errors import BackendUnavailable

SOURCE = "/imfaas/functions/fanout"


class HttpDelivery:
    """POSTs ``gateway.delivery`` events to ``url_template.format(node=node_id)``."""

    def __init__(self, url_template: str, internal_token: str, timeout_s: float) -> None:
        self._template = url_template
        self._token = internal_token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the pooled client session."""
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        """Close the client session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, node_id: str, items: list[dict[str, Any]]) -> None:
        """One POST; any answer but 2xx, or no answer, is ``BackendUnavailable``."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        headers, body = encode_http(
            new_event(catalog.GATEWAY_DELIVERY, SOURCE, {"items": items}, subject=node_id)
        )
        if self._token:
            headers["X-Imfaas-Internal-Token"] = self._token
        url = self._template.format(node=node_id)
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status // 100 != 2:
                    raise BackendUnavailable(f"{url} answered {response.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BackendUnavailable(f"{url}: {exc!r}") from exc
