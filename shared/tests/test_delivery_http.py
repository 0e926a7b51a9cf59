"""HTTP delivery to a gateway node over a real loopback server that records each POST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from imfaas.events.codec import decode_http
from imfaas.shared.adapters.delivery_http import ITEMS_PER_POST, HttpDelivery
from imfaas.shared.adapters.node_registry_memory import MemoryNodeRegistry
from imfaas.shared.delivery_batch import unpack_items
from imfaas.shared.errors import BackendUnavailable


class Node:
    """A gateway's delivery endpoint: keeps every batch; can fail the N-th POST."""

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.tokens: list[str] = []
        self.fail_post: int | None = None

    async def deliver(self, request: web.Request) -> web.Response:
        self.tokens.append(request.headers.get("X-Imfaas-Internal-Token", ""))
        if self.fail_post == len(self.tokens):
            return web.json_response({}, status=500)
        event = decode_http(dict(request.headers), await request.read())
        self.batches.append(unpack_items(event.get_data()))
        return web.json_response({"sent": 0}, status=202)


@pytest.fixture
async def node() -> AsyncIterator[tuple[Node, str]]:
    recorder = Node()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/deliver", recorder.deliver)
    server = TestServer(app)
    await server.start_server()
    yield recorder, str(server.make_url("/deliver"))
    await server.close()


def items(n: int) -> list[dict]:
    frame = {"type": "msg.new", "message": {"conversation": "g:g1", "seq": 1}}
    return [{"conn": f"c{i}", "frame": frame} for i in range(n)]


async def test_a_big_batch_goes_in_order_in_posts_of_bounded_size(node) -> None:
    recorder, url = node
    delivery = HttpDelivery(MemoryNodeRegistry(), url, "secret", 5.0)
    try:
        await delivery.deliver("gw-a", items(2 * ITEMS_PER_POST + 500))
    finally:
        await delivery.close()
    assert [len(b) for b in recorder.batches] == [ITEMS_PER_POST, ITEMS_PER_POST, 500]
    conns = [item["conn"] for batch in recorder.batches for item in batch]
    assert conns == [f"c{i}" for i in range(2 * ITEMS_PER_POST + 500)]
    assert set(recorder.tokens) == {"secret"}


async def test_a_failed_post_is_backend_unavailable_and_stops_the_rest(node) -> None:
    recorder, url = node
    recorder.fail_post = 2
    delivery = HttpDelivery(MemoryNodeRegistry(), url, "", 5.0)
    try:
        with pytest.raises(BackendUnavailable):
            await delivery.deliver("gw-a", items(3 * ITEMS_PER_POST))
    finally:
        await delivery.close()
    assert len(recorder.tokens) == 2 and len(recorder.batches) == 1


async def test_an_unreachable_node_is_backend_unavailable() -> None:
    delivery = HttpDelivery(MemoryNodeRegistry(), "http://127.0.0.1:1/deliver", "", 2.0)
    try:
        with pytest.raises(BackendUnavailable):
            await delivery.deliver("gw-a", items(3))
    finally:
        await delivery.close()
