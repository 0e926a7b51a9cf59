"""Frames written straight to the transport, read back by a real WebSocket client.

The gateway frames server-to-client messages itself, so every length encoding of RFC 6455
and UTF-8 byte lengths are checked against aiohttp's client parser; a client that stops
reading is closed 1013 without holding up the others.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event
from imfaas.gateway.frame_writer import text_frame
from imfaas.shared.delivery_batch import pack_batch

from . import test_gateway_server
from .test_gateway_server import Rig, delivery_request

rig = test_gateway_server.rig  # the same fixture: a gateway with scripted functions


async def conn_id(rig: Rig, user: str) -> str:
    return (await rig.routes.lookup([user]))[user][0].conn_id


async def deliver(rig: Rig, items: list[dict]) -> int:
    headers, body = delivery_request(items)
    response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
    assert response.status == 202
    return (await response.json())["sent"]


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)],
)
def test_the_header_carries_the_payload_length_in_the_shortest_form(size: int, header: int) -> None:
    data = text_frame("x" * size)
    assert data[0] == 0x81  # FIN, text, no RSV bits: uncompressed
    assert len(data) == header + size
    assert data[1] & 0x80 == 0  # servers never mask


def test_the_length_counts_utf8_bytes_not_characters() -> None:
    text = "é" * 100  # 100 characters, 200 bytes: needs the 16-bit length
    data = text_frame(text)
    assert data[1] == 126 and int.from_bytes(data[2:4], "big") == 200
    assert data[4:].decode("utf-8") == text


@pytest.mark.parametrize("size", [0, 100, 125, 126, 127, 65535, 65536, 300_000])
async def test_frames_of_every_length_form_arrive_intact(rig: Rig, size: int) -> None:
    ws = await rig.socket("u1")
    body = "ü漢😀x"[: 1 + size % 4] * (size // 4 + 1)
    frame = {"type": "msg.new", "message": {"text": body}}
    assert await deliver(rig, [{"conn": await conn_id(rig, "u1"), "frame": frame}]) == 1
    assert await ws.receive_json(timeout=5) == frame


async def test_a_client_offering_compression_gets_none_and_reads_every_frame(rig: Rig) -> None:
    ws = await rig.client.ws_connect("/v1/ws", compress=15)
    assert ws.compress == 0
    await ws.send_json({"type": "auth", "id": "a", "token": rig.token("u1")})
    assert (await ws.receive_json(timeout=5))["type"] == "auth.ok"
    frames = [{"type": "msg.new", "message": {"seq": n}} for n in range(50)]
    conn = await conn_id(rig, "u1")
    assert await deliver(rig, [{"conn": conn, "frame": f} for f in frames]) == 50
    assert [await ws.receive_json(timeout=5) for _ in frames] == frames


async def test_replies_and_deliveries_interleave_whole_on_one_socket(rig: Rig) -> None:
    ws = await rig.socket("u1")
    conn = await conn_id(rig, "u1")
    for n in range(20):
        await ws.send_json({"type": "ping", "id": f"p{n}"})
    assert await deliver(
        rig, [{"conn": conn, "frame": {"type": "msg.new", "n": n}} for n in range(20)]
    )
    got = [await ws.receive_json(timeout=5) for _ in range(40)]
    assert sorted(f["id"] for f in got if f["type"] == "pong") == sorted(f"p{n}" for n in range(20))
    assert [f["n"] for f in got if f["type"] == "msg.new"] == list(range(20))


async def test_a_client_that_stops_reading_is_closed_1013_and_the_others_get_everything(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, max_frame_bytes=4096, max_send_buffer_bytes=64 * 1024)
    await rig.client.start_server()
    try:
        stalled = await rig.socket("slow")
        healthy = await rig.socket("fast")
        slow_conn, fast_conn = await conn_id(rig, "slow"), await conn_id(rig, "fast")
        received: list[int] = []

        async def read_fast() -> None:
            while True:
                received.append((await healthy.receive_json(timeout=10))["n"])

        reader = asyncio.create_task(read_fast())
        sent_batches = 0
        stalled_dropped = False
        # The stalled client's kernel buffers take some megabytes before the gateway's own
        # buffer grows; keep delivering until the gateway stops sending to it.
        while not stalled_dropped and sent_batches < 400:
            shared = [
                {"type": "msg.new", "n": sent_batches * 50 + i, "t": "y" * 3000} for i in range(50)
            ]
            batch = pack_batch(
                [{"conn": c, "frame": f} for f in shared for c in (slow_conn, fast_conn)]
            )
            headers, body = encode_http(new_event(catalog.GATEWAY_DELIVERY, "/fanout", batch))
            response = await rig.client.post("/internal/v1/deliver", data=body, headers=headers)
            assert response.status == 202
            stalled_dropped = (await response.json())["sent"] < 100
            sent_batches += 1
        assert stalled_dropped, "the stalled socket was never dropped"

        expected = list(range(sent_batches * 50))
        for _ in range(200):
            if len(received) == len(expected):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
        assert received == expected  # in order, none lost, not held up by the stalled one

        # When the stalled client reads again it finds what was buffered, then 1013.
        while (msg := await stalled.receive(timeout=15)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert msg.type is aiohttp.WSMsgType.CLOSE and stalled.close_code == 1013
    finally:
        await rig.client.close()
