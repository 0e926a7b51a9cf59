"""The gateway's asyncio server over real loopback sockets, with its backends played by fakes.

These cover what the embedded end-to-end tests cannot provoke: a function or the cache
being unavailable, bad delivery batches, the internal token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cloudevents.http import CloudEvent
from prometheus_client.parser import text_string_to_metric_families

from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event, reply_to
from imfaas.gateway.config import GatewayConfig
from imfaas.gateway.server import MAX_QUEUED_REQUESTS, ClientConnection, Gateway
from imfaas.shared.access_tokens import TokenIssuer, TokenVerifier, ensure_key_pair
from imfaas.shared.adapters.cache_memory import MemoryCache
from imfaas.shared.adapters.node_registry_memory import MemoryNodeRegistry
from imfaas.shared.adapters.route_table_memory import MemoryRouteTable
from imfaas.shared.delivery_batch import pack_batch
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.settings import Settings


class ScriptedInvoker:
    """Plays the functions: a callable per function name; records what it was sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, CloudEvent]] = []
        self.behaviour: dict[str, Callable[[CloudEvent], CloudEvent | None]] = {}

    async def invoke(self, function: str, event: CloudEvent) -> CloudEvent | None:
        self.calls.append((function, event))
        return self.behaviour[function](event)


class FlakyCache(MemoryCache):
    """A memory cache that can be switched off."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get(self, key: str) -> str | None:
        if self.down:
            raise BackendUnavailable("cache down")
        return await super().get(key)


def down(event: CloudEvent) -> CloudEvent | None:
    raise BackendUnavailable("function is scaled to zero and not coming back")


def echo(event: CloudEvent) -> CloudEvent:
    frame = event.get_data()
    return reply_to(event, catalog.REPLY, "/test", {"type": "echo", "id": frame["id"]})


class Rig:
    """A gateway on a loopback port plus the handles a test needs."""

    def __init__(self, tmp_path: Path, internal_token: str = "", **settings: Any) -> None:
        keys = tmp_path / "keys"
        ensure_key_pair(keys, "k1")
        settings = Settings.from_env(
            {},
            data_dir=tmp_path,
            node_id="gw-a",
            internal_token=internal_token,
            gateway_delivery_url="http://127.0.0.1:1/internal/v1/deliver",
            frame_routes={"msg.send": "send", "sync": "history"},
            **settings,
        )
        self.issuer = TokenIssuer((keys / "k1.private.pem").read_bytes(), "k1", "imfaas", 900)
        self.cache = FlakyCache()
        self.routes = MemoryRouteTable()
        self.invoker = ScriptedInvoker()
        self.nodes = MemoryNodeRegistry()
        self.gateway = Gateway(
            GatewayConfig.from_settings(settings),
            TokenVerifier.from_dir(keys, "imfaas"),
            self.cache,
            self.routes,
            self.invoker,
            self.nodes,
        )
        self.gateway.public_ws_url = "ws://127.0.0.1:1/v1/ws"
        self.client = TestClient(TestServer(self.gateway.build_app()))

    def token(self, user: str = "u1", device: str = "d1") -> str:
        return self.issuer.issue(user, device, f"s-{device}", "web")

    async def socket(self, user: str = "u1", device: str = "d1") -> aiohttp.ClientWebSocketResponse:
        ws = await self.client.ws_connect("/v1/ws")
        await ws.send_json({"type": "auth", "id": "a", "token": self.token(user, device)})
        assert (await ws.receive_json(timeout=5))["type"] == "auth.ok"
        return ws


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    await r.client.start_server()
    yield r
    await r.client.close()


async def test_frame_is_forwarded_as_a_cloudevent_and_the_reply_relayed(rig: Rig) -> None:
    rig.invoker.behaviour["send"] = echo
    ws = await rig.socket()
    await ws.send_json({"type": "msg.send", "id": "m1", "to": "u2"})
    assert await ws.receive_json(timeout=5) == {"type": "echo", "id": "m1"}
    function, event = rig.invoker.calls[0]
    assert function == "send"
    assert event["type"] == "io.imfaas.client.msg.send.v1"
    assert (event["imuser"], event["imdevice"], event["imnode"]) == ("u1", "d1", "gw-a")
    assert event["traceparent"].startswith("00-")
    assert event.get_data() == {"type": "msg.send", "id": "m1", "to": "u2"}


async def test_unavailable_function_gets_unavailable_and_the_socket_lives(rig: Rig) -> None:
    rig.invoker.behaviour["send"] = down
    rig.invoker.behaviour["history"] = echo
    ws = await rig.socket()
    await ws.send_json({"type": "msg.send", "id": "m1"})
    reply = await ws.receive_json(timeout=5)
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "unavailable", "m1")
    assert "scaled to zero" not in reply["message"]
    await ws.send_json({"type": "sync", "id": "s1"})
    assert (await ws.receive_json(timeout=5))["id"] == "s1"


async def test_function_replying_garbage_is_internal(rig: Rig) -> None:
    rig.invoker.behaviour["send"] = lambda e: new_event("io.imfaas.other.v1", "/x", {"a": 1})
    ws = await rig.socket()
    await ws.send_json({"type": "msg.send", "id": "m1"})
    reply = await ws.receive_json(timeout=5)
    assert (reply["code"], reply["id"]) == ("internal", "m1")


async def test_cache_down_at_auth_is_unavailable_then_1013(rig: Rig) -> None:
    rig.cache.down = True
    ws = await rig.client.ws_connect("/v1/ws")
    await ws.send_json({"type": "auth", "id": "a", "token": rig.token()})
    reply = await ws.receive_json(timeout=5)
    assert (reply["code"], reply["id"]) == ("unavailable", "a")
    closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1013


async def test_login_function_down_is_503_unavailable(rig: Rig) -> None:
    rig.invoker.behaviour["login"] = down
    response = await rig.client.post("/v1/login", json={"username": "abc", "password": "x" * 8})
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "unavailable"


async def test_route_is_registered_while_connected_and_removed_after(rig: Rig) -> None:
    ws = await rig.socket("u7", "phone")
    routes = await rig.routes.lookup(["u7"])
    assert [(r.device_id, r.node_id) for r in routes["u7"]] == [("phone", "gw-a")]
    await ws.close()
    for _ in range(50):
        if not await rig.routes.lookup(["u7"]):
            break
        await asyncio.sleep(0.02)
    assert await rig.routes.lookup(["u7"]) == {}


def delivery_request(items: Any) -> tuple[dict[str, str], bytes]:
    return encode_http(new_event(catalog.GATEWAY_DELIVERY, "/fanout", {"items": items}))


async def test_delivery_batch_reaches_sockets_and_closes_on_request(rig: Rig) -> None:
    ws = await rig.socket("u1", "d1")
    route = (await rig.routes.lookup(["u1"]))["u1"][0]
    headers, body = delivery_request(
        [
            {"conn": route.conn_id, "frame": {"type": "msg.new", "message": {"seq": 1}}},
            {"conn": "gone", "frame": {"type": "msg.new"}},
            {"conn": route.conn_id, "close": 4409, "frame": {"type": "kicked", "reason": "x"}},
        ]
    )
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    assert response.status == 202
    assert (await response.json())["sent"] == 2
    assert (await ws.receive_json(timeout=5))["type"] == "msg.new"
    assert (await ws.receive_json(timeout=5))["type"] == "kicked"
    closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 4409


async def test_a_shared_frame_reaches_every_socket_that_references_it(rig: Rig) -> None:
    sockets = [await rig.socket(f"u{i}", "d1") for i in range(3)]
    conns = [(await rig.routes.lookup([f"u{i}"]))[f"u{i}"][0].conn_id for i in range(3)]
    shared = {"type": "msg.new", "message": {"conversation": "g:g1", "seq": 7}}
    data = pack_batch([{"conn": conn, "frame": shared} for conn in conns])
    assert data["frames"] == [shared]  # the frame travels once

    headers, body = encode_http(new_event(catalog.GATEWAY_DELIVERY, "/fanout", data))
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)

    assert (await response.json())["sent"] == 3
    for ws in sockets:
        assert await ws.receive_json(timeout=5) == shared


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "application/json"}, b"not an event"),
        (*delivery_request("not-a-list"),),
        encode_http(new_event("io.imfaas.message.stored.v1", "/x", {"items": []})),
        encode_http(
            new_event(
                catalog.GATEWAY_DELIVERY, "/x", {"frames": [], "items": [{"conn": "c", "ref": 0}]}
            )
        ),
        encode_http(
            new_event(catalog.GATEWAY_DELIVERY, "/x", {"frames": {}, "items": [{"conn": "c"}]})
        ),
    ],
    ids=["garbage", "items-not-list", "wrong-type", "ref-to-no-frame", "frames-not-list"],
)
async def test_bad_delivery_batches_are_400(rig: Rig, headers: dict, body: bytes) -> None:
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (None, 401),
        ("", 401),
        ("s3cre", 401),
        ("s3cret-and-more", 401),
        ("S3CRET", 401),
        ("s3crét", 401),  # not ASCII: must not crash the constant-time comparison
        ("s3cret", 202),
    ],
    ids=["none", "empty", "prefix", "longer", "case", "non-ascii", "right"],
)
async def test_delivery_needs_the_internal_token_when_one_is_set(
    tmp_path: Path, token: str | None, status: int
) -> None:
    rig = Rig(tmp_path, internal_token="s3cret")
    await rig.client.start_server()
    try:
        ws = await rig.socket("u1", "d1")
        route = (await rig.routes.lookup(["u1"]))["u1"][0]
        headers, body = delivery_request(
            [{"conn": route.conn_id, "frame": {"type": "msg.new", "message": {"seq": 1}}}]
        )
        if token is not None:
            headers["X-Imfaas-Internal-Token"] = token
        response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
        assert response.status == status
        if status == 401:
            assert (await response.json())["error"]["code"] == "unauthorized"
            # Nothing reached the socket: the next frame it gets is the pong.
            await ws.send_json({"type": "ping", "id": "p"})
        assert (await ws.receive_json(timeout=5))["type"] == (
            "pong" if status == 401 else "msg.new"
        )
        assert rig.gateway.frames_delivered == (1 if status == 202 else 0)
    finally:
        await rig.client.close()


async def test_healthz_counts_delivery_batches(rig: Rig) -> None:
    headers, body = delivery_request([{"conn": "nobody", "frame": {"type": "x"}}])
    await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    health = await (await rig.client.get("/healthz")).json()
    assert (health["node"], health["delivery_batches"], health["frames_delivered"]) == (
        "gw-a",
        1,
        0,
    )


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def wait_until_no_sockets(rig: Rig) -> None:
    for _ in range(500):
        if rig.gateway.connection_count == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("sockets still open")


async def test_metrics_count_frames_errors_forwards_batches_and_closes(rig: Rig) -> None:
    rig.invoker.behaviour["send"] = echo
    ws = await rig.socket()
    await ws.send_json({"type": "msg.send", "id": "m1"})
    await ws.send_json({"type": "ping", "id": "p1"})
    await ws.send_str("not json")
    await ws.send_json({"type": "no.such.type", "id": "x1"})
    await ws.send_json({"type": "sync", "id": "s1"})  # history is unscripted: internal
    replies = [await ws.receive_json(timeout=5) for _ in range(5)]
    assert sorted(r["type"] for r in replies) == ["echo", "error", "error", "error", "pong"]
    route = (await rig.routes.lookup(["u1"]))["u1"][0]
    headers, body = delivery_request(
        [
            {"conn": route.conn_id, "frame": {"type": "msg.new", "message": {"seq": 1}}},
            {"conn": "gone", "frame": {"type": "msg.new"}},
            {"conn": route.conn_id, "close": 4409, "frame": {"type": "kicked", "reason": "x"}},
        ]
    )
    assert (await rig.client.post("/internal/v1/deliver", data=body, headers=headers)).status == 202
    while (await ws.receive(timeout=5)).type is not aiohttp.WSMsgType.CLOSE:
        pass
    await wait_until_no_sockets(rig)
    response = await rig.client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    counted_in = {
        kind: metric(text, "imfaas_gateway_frames_in_total", type=kind)
        for kind in ("auth", "msg.send", "ping", "invalid", "other", "sync", "no.such.type")
    }
    assert counted_in == {
        "auth": 1,
        "msg.send": 1,
        "ping": 1,
        "invalid": 1,
        "other": 1,
        "sync": 1,
        "no.such.type": 0,  # a client's made-up type never becomes a label
    }
    counted_out = {
        kind: metric(text, "imfaas_gateway_frames_out_total", type=kind)
        for kind in ("auth.ok", "echo", "pong", "error", "msg.new", "kicked")
    }
    assert counted_out == {
        "auth.ok": 1,
        "echo": 1,
        "pong": 1,
        "error": 3,
        "msg.new": 1,
        "kicked": 1,
    }
    assert metric(text, "imfaas_gateway_errors_total", code="bad_request") == 2
    assert metric(text, "imfaas_gateway_errors_total", code="internal") == 1
    assert metric(text, "imfaas_gateway_forward_seconds_count", function="send") == 1
    assert metric(text, "imfaas_gateway_forward_seconds_count", function="history") == 1
    assert metric(text, "imfaas_gateway_delivery_batch_items_count") == 1
    assert metric(text, "imfaas_gateway_delivery_batch_items_sum") == 3
    assert metric(text, "imfaas_gateway_closes_total", code="4409") == 1


async def test_metrics_gauge_follows_open_sockets(rig: Rig) -> None:
    async def connections() -> float:
        text = await (await rig.client.get("/metrics")).text()
        return metric(text, "imfaas_gateway_connections")

    first, second = await rig.socket("u1", "d1"), await rig.socket("u2", "d2")
    assert await connections() == 2
    await first.close()
    await second.close()
    await wait_until_no_sockets(rig)
    assert await connections() == 0
    text = await (await rig.client.get("/metrics")).text()
    assert metric(text, "imfaas_gateway_closes_total", code="1000") == 2


async def test_healthz_task_count_rises_with_a_socket_and_falls_back_when_it_closes(
    rig: Rig,
) -> None:
    async def tasks() -> int:
        return (await (await rig.client.get("/healthz")).json())["tasks"]

    rig.invoker.behaviour["send"] = echo
    before = await tasks()
    ws = await rig.socket()
    await ws.send_json({"type": "msg.send", "id": "m1"})
    assert (await ws.receive_json(timeout=5))["id"] == "m1"
    # aiohttp's two tasks for the socket are live (its request worker ends with the reply).
    assert await tasks() >= before + 2
    await ws.close()
    for _ in range(200):
        if rig.gateway.connection_count == 0 and await tasks() == before:
            break
        await asyncio.sleep(0.01)
    assert await tasks() == before


async def test_shutdown_withdraws_the_node_and_closes_sockets_with_1012(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.client.start_server()
    ws = await rig.socket()
    await rig.gateway.announce()
    assert [n.node_id for n in await rig.nodes.live_nodes()] == ["gw-a"]
    try:
        await rig.client.server.close()
        assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1012
        # Drained: logins and fanout no longer see the node.
        assert await rig.nodes.live_nodes() == []
    finally:
        await rig.client.close()


# -- connection caps ------------------------------------------------------------------------


async def caps_rig(tmp_path: Path, **settings: Any) -> Rig:
    rig = Rig(tmp_path, **settings)
    await rig.client.start_server()
    return rig


async def refused_with_1013(ws: aiohttp.ClientWebSocketResponse) -> bool:
    msg = await ws.receive(timeout=5)
    return msg.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1013


async def until_counted(rig: Rig, total: int) -> None:
    """Wait (a bounded while) for the gateway to count ``total`` sockets."""
    for _ in range(250):
        if rig.gateway.caps.total == total:
            return
        await asyncio.sleep(0.02)


async def test_a_socket_beyond_the_per_ip_cap_is_closed_1013_and_the_others_live(
    tmp_path: Path,
) -> None:
    rig = await caps_rig(tmp_path, max_connections_per_ip=2)
    try:
        first, second = await rig.socket("u1", "d1"), await rig.socket("u2", "d2")
        beyond = await rig.client.ws_connect("/v1/ws")
        assert await refused_with_1013(beyond)
        for i, ws in enumerate((first, second)):
            await ws.send_json({"type": "ping", "id": f"p{i}"})
            assert await ws.receive_json(timeout=5) == {"type": "pong", "id": f"p{i}"}
        # A socket that closes gives its place back.
        await first.close()
        await until_counted(rig, 1)
        third = await rig.socket("u3", "d3")
        await third.send_json({"type": "ping", "id": "p"})
        assert (await third.receive_json(timeout=5))["type"] == "pong"
    finally:
        await rig.client.close()


async def test_a_socket_beyond_the_node_cap_is_closed_1013(tmp_path: Path) -> None:
    rig = await caps_rig(tmp_path, max_connections=1, max_connections_per_ip=0)
    try:
        first = await rig.socket()
        beyond = await rig.client.ws_connect("/v1/ws")
        assert await refused_with_1013(beyond)
        await first.send_json({"type": "ping", "id": "p"})
        assert (await first.receive_json(timeout=5))["type"] == "pong"
        assert rig.gateway.connection_count == 1
    finally:
        await rig.client.close()


async def test_every_way_a_socket_ends_gives_its_place_back(tmp_path: Path) -> None:
    rig = await caps_rig(
        tmp_path,
        max_connections_per_ip=20,
        socket_rate_per_s=0.001,
        socket_rate_burst=1,
    )
    try:
        # The client closes after auth.
        ws = await rig.socket("u1", "d1")
        await ws.close()
        # Auth refused: the server closes 4401.
        ws = await rig.client.ws_connect("/v1/ws")
        await ws.send_json({"type": "auth", "id": "a", "token": "forged"})
        await ws.receive(timeout=5)
        assert (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
        # Never authenticates, closes.
        ws = await rig.client.ws_connect("/v1/ws")
        await ws.close()
        # Rate limited until the server closes 4429.
        ws = await rig.socket("u2", "d2")
        for i in range(60):
            await ws.send_json({"type": "ping", "id": f"p{i}"})
        while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert ws.close_code == 4429
        # The peer vanishes mid-session without a close frame.
        reader, writer = await asyncio.open_connection(rig.client.host, rig.client.port)
        writer.write(
            b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")
        writer.transport.abort()
        # Not a WebSocket request at all: the upgrade fails.
        response = await rig.client.get("/v1/ws")
        assert response.status == 400
        await until_counted(rig, 0)
        assert (rig.gateway.caps.total, rig.gateway.caps.ips, rig.gateway.connection_count) == (
            0,
            0,
            0,
        )
    finally:
        await rig.client.close()


async def test_x_forwarded_for_counts_only_through_a_trusted_proxy(tmp_path: Path) -> None:
    rig = await caps_rig(tmp_path, max_connections_per_ip=1, trusted_proxies=("127.0.0.0/8",))
    try:
        a = await rig.client.ws_connect("/v1/ws", headers={"X-Forwarded-For": "198.51.100.1"})
        b = await rig.client.ws_connect("/v1/ws", headers={"X-Forwarded-For": "198.51.100.2"})
        again = await rig.client.ws_connect("/v1/ws", headers={"X-Forwarded-For": "198.51.100.1"})
        assert await refused_with_1013(again)
        assert rig.gateway.caps.held_by("198.51.100.1") == 1
        assert rig.gateway.caps.held_by("198.51.100.2") == 1
        assert not a.closed and not b.closed
    finally:
        await rig.client.close()


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    rig = await caps_rig(tmp_path, max_connections_per_ip=1)
    try:
        await rig.client.ws_connect("/v1/ws", headers={"X-Forwarded-For": "198.51.100.1"})
        other = await rig.client.ws_connect("/v1/ws", headers={"X-Forwarded-For": "198.51.100.2"})
        assert await refused_with_1013(other)
        assert rig.gateway.caps.held_by("198.51.100.1") == 0
    finally:
        await rig.client.close()


# -- per-user, per-type limits across a user's sockets ----------------------------------------


async def test_a_users_sockets_share_one_budget_per_frame_type(tmp_path: Path) -> None:
    rig = await caps_rig(tmp_path, frame_rates={"msg.send": (0.001, 2)})
    rig.invoker.behaviour["send"] = echo
    rig.invoker.behaviour["history"] = echo
    try:
        phone, laptop = await rig.socket("u1", "phone"), await rig.socket("u1", "laptop")
        other = await rig.socket("u2", "d")
        for ws, request_id in ((phone, "1"), (laptop, "2")):
            await ws.send_json({"type": "msg.send", "id": request_id})
            assert await ws.receive_json(timeout=5) == {"type": "echo", "id": request_id}
        await phone.send_json({"type": "msg.send", "id": "3"})
        refused = await phone.receive_json(timeout=5)
        assert (refused["type"], refused["code"], refused["id"]) == ("error", "rate_limited", "3")
        await laptop.send_json({"type": "sync", "id": "s"})
        assert (await laptop.receive_json(timeout=5))["id"] == "s"
        await other.send_json({"type": "msg.send", "id": "4"})
        assert (await other.receive_json(timeout=5))["type"] == "echo"
        assert [e.get_data()["id"] for _, e in rig.invoker.calls] == ["1", "2", "s", "4"]
    finally:
        await rig.client.close()


# -- HTTP API forwarding ----------------------------------------------------------------------


def http_answer(status: int, body: dict | None, headers: dict[str, str] | None = None):
    """A login function that answers every request with this status, body and headers."""

    def answer(event: CloudEvent) -> CloudEvent:
        data: dict[str, Any] = {"status": status, "body": body}
        if headers is not None:
            data["headers"] = headers
        return reply_to(event, catalog.HTTP_RESPONSE, "/test", data)

    return answer


@pytest.mark.parametrize(
    ("trusted", "forwarded_for", "client_ip"),
    [
        ((), "198.51.100.9", "127.0.0.1"),
        (("127.0.0.0/8",), "198.51.100.9", "198.51.100.9"),
    ],
    ids=["peer", "through-a-trusted-proxy"],
)
async def test_login_requests_carry_the_client_ip(
    tmp_path: Path, trusted: tuple[str, ...], forwarded_for: str, client_ip: str
) -> None:
    rig = await caps_rig(tmp_path, trusted_proxies=trusted)
    try:
        rig.invoker.behaviour["login"] = http_answer(401, {"error": {"code": "unauthorized"}})
        response = await rig.client.post(
            "/v1/login", json={"username": "alice"}, headers={"X-Forwarded-For": forwarded_for}
        )
        assert response.status == 401
        _, event = rig.invoker.calls[-1]
        assert event["imclientip"] == client_ip
    finally:
        await rig.client.close()


async def test_a_functions_retry_after_reaches_the_client_and_nothing_else(rig: Rig) -> None:
    body = {"error": {"code": "rate_limited", "message": "retry later"}}
    rig.invoker.behaviour["login"] = http_answer(
        429, body, {"Retry-After": "7", "Set-Cookie": "session=evil", "Content-Length": "1"}
    )

    response = await rig.client.post("/v1/login", json={"username": "alice"})

    assert response.status == 429
    assert await response.json() == body
    assert response.headers["Retry-After"] == "7"
    assert "Set-Cookie" not in response.headers


async def test_a_body_arriving_in_several_packets_is_read_whole(rig: Rig) -> None:
    rig.invoker.behaviour["login"] = http_answer(401, {"error": {"code": "unauthorized"}})
    body = b'{"username": "alice", "password": "' + b"p" * 20_000 + b'"}'

    async def in_packets() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]
            await asyncio.sleep(0.01)

    response = await rig.client.post(
        "/v1/login", data=in_packets(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 401
    _, event = rig.invoker.calls[-1]
    assert event.get_data()["password"] == "p" * 20_000


async def test_a_delivery_batch_over_the_client_body_limit_is_served(rig: Rig) -> None:
    # A big group on one node names thousands of sockets: more than a client body may hold.
    ws = await rig.socket("u1")
    conn = (await rig.routes.lookup(["u1"]))["u1"][0].conn_id
    items = [{"conn": f"gone-{n:06d}", "frame": {"type": "msg.new"}} for n in range(3000)]
    headers, body = delivery_request([*items, {"conn": conn, "frame": {"type": "msg.new", "n": 1}}])
    assert len(body) > 64 * 1024
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    assert response.status == 202 and (await response.json())["sent"] == 1
    assert await ws.receive_json(timeout=5) == {"type": "msg.new", "n": 1}


async def test_a_delivery_batch_past_its_own_limit_is_413(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imfaas.gateway import server

    monkeypatch.setattr(server, "MAX_DELIVERY_BODY_BYTES", 1000)
    headers, body = delivery_request([{"conn": "c", "frame": {"t": "x" * 2000}}])
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"


# -- a socket's request queue and worker: in order, capped, gone while the socket is idle


def only_connection(rig: Rig) -> ClientConnection:
    (conn,) = rig.gateway._connections.values()
    return conn


async def until_idle(conn: ClientConnection) -> None:
    for _ in range(500):
        if conn.worker is None and conn.requests is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request worker did not finish")


async def test_an_idle_socket_holds_no_queue_and_no_worker(tmp_path: Path) -> None:
    rig = await caps_rig(tmp_path)
    try:

        async def echo(function: str, event: CloudEvent) -> CloudEvent:
            return reply_to(event, catalog.REPLY, "/test", {"type": "ok", "id": event.data["id"]})

        rig.invoker.invoke = echo  # type: ignore[method-assign]
        ws = await rig.socket()
        conn = only_connection(rig)
        assert conn.requests is None and conn.worker is None
        for n in range(3):
            await ws.send_json({"type": "sync", "id": f"r{n}"})
            assert await ws.receive_json(timeout=5) == {"type": "ok", "id": f"r{n}"}
            await until_idle(conn)
        await ws.close()
    finally:
        await rig.client.close()


async def test_requests_are_answered_in_order_and_those_past_the_cap_refused(
    tmp_path: Path,
) -> None:
    # Per-socket and per-type rates out of the way: only the in-flight cap refuses here.
    rig = await caps_rig(tmp_path, socket_rate_burst=10_000, frame_rates={})
    try:
        gate = asyncio.Event()
        started = asyncio.Event()

        async def held(function: str, event: CloudEvent) -> CloudEvent:
            started.set()
            await gate.wait()
            return reply_to(event, catalog.REPLY, "/test", {"type": "ok", "id": event.data["id"]})

        rig.invoker.invoke = held  # type: ignore[method-assign]
        ws = await rig.socket()
        await ws.send_json({"type": "sync", "id": "first"})
        await asyncio.wait_for(started.wait(), 5)
        # The first is with the function; MAX_QUEUED_REQUESTS more wait; the next is refused.
        queued = [f"q{n}" for n in range(MAX_QUEUED_REQUESTS)]
        for request_id in [*queued, "over"]:
            await ws.send_json({"type": "sync", "id": request_id})
        refusal = await ws.receive_json(timeout=5)
        assert (refusal["code"], refusal["id"]) == ("rate_limited", "over")
        gate.set()
        answered = [(await ws.receive_json(timeout=5))["id"] for _ in range(len(queued) + 1)]
        assert answered == ["first", *queued]
        await until_idle(only_connection(rig))
        await ws.close()
    finally:
        await rig.client.close()
