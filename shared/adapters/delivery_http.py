"""Delivery to gateway nodes over HTTP: one POST of a binary CloudEvent batch per node."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event
from imfaas.shared.delivery_batch import pack_batch
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.node_registry import NodeRegistry

SOURCE = "/imfaas/functions/fanout"


# How long a looked-up node address is reused before asking the registry again.
NODE_CACHE_S = 2.0
# Sockets named in one POST: a 10,000-member group on one node goes as five ~60 KiB bodies,
# far under the gateway's MAX_DELIVERY_BODY_BYTES, and each socket's frames stay in order.
ITEMS_PER_POST = 2000


class HttpDelivery:
    """POSTs ``gateway.delivery`` events to the node's announced delivery URL (or, for a
    node that announces nothing, to ``url_template.format(node=node_id)``)."""

    def __init__(
        self, nodes: NodeRegistry, url_template: str, internal_token: str, timeout_s: float
    ) -> None:
        self._nodes = nodes
        self._urls: dict[str, str] = {}
        self._urls_read_at = 0.0
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
        """POSTs of at most ``ITEMS_PER_POST`` items, in order; any answer but 2xx, or no
        answer, is ``BackendUnavailable``."""
        url = await self._url_of(node_id)
        for start in range(0, len(items), ITEMS_PER_POST):
            await self._post(url, node_id, items[start : start + ITEMS_PER_POST])

    async def _post(self, url: str, node_id: str, items: list[dict[str, Any]]) -> None:
        if self._session is None:
            await self.start()
        assert self._session is not None
        headers, body = encode_http(
            new_event(catalog.GATEWAY_DELIVERY, SOURCE, pack_batch(items), subject=node_id)
        )
        if self._token:
            headers["X-Imfaas-Internal-Token"] = self._token
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status // 100 != 2:
                    raise BackendUnavailable(f"{url} answered {response.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BackendUnavailable(f"{url}: {exc!r}") from exc

    async def _url_of(self, node_id: str) -> str:
        now = time.monotonic()
        if node_id not in self._urls or now - self._urls_read_at > NODE_CACHE_S:
            live = await self._nodes.live_nodes()
            self._urls = {node.node_id: node.delivery_url for node in live}
            self._urls_read_at = now
        return self._urls.get(node_id) or self._template.format(node=node_id)
