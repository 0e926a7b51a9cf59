"""A bounded fuzz run over real sockets: over 100,000 bad frames, every one answered by the
protocol (one ``bad_request``, with its id when it had one, or the right close code), and
afterwards the server still registers, logs in and delivers, its memory bounded.

Frames are pipelined (a batch sent, then its replies read) and the per-socket rate limits
are raised, so the run measures the protocol's answers, not the rate limiter's.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from imfaas.client import ImfaasClient, LoginSession
from imfaas.events.schema_registry import frame_problems

REAL = "real" in os.environ.get("IMFAAS_BACKENDS", "")
LIMIT = 64 * 1024
SOCKETS = 4
FRAMES_PER_SOCKET = 25_000
BATCH = 1_000
PRE_AUTH_SOCKETS = 60
PASSWORD = "correct-horse-battery"
UNLIMITED = "1000000"
FUZZ_ENV = {
    "IMFAAS_SOCKET_RATE_PER_S": UNLIMITED,
    "IMFAAS_SOCKET_RATE_BURST": UNLIMITED,
    "IMFAAS_FRAME_RATES": ",".join(
        f"{t}={UNLIMITED}/{UNLIMITED}" for t in ("msg.send", "sync", "msg.history", "conv.list")
    ),
}


@dataclass(frozen=True)
class BadFrame:
    """One frame to send and the ``bad_request`` id it must get back (None: no id)."""

    kind: str
    payload: str | bytes
    reply_id: str | None


def bad_frames(rng: random.Random, socket_no: int, count: int) -> list[BadFrame]:
    """``count`` bad frames of every kind, ids unique on the socket, in a random order."""
    frames: list[BadFrame] = []
    for n in range(count):
        frame_id = f"s{socket_no}-{n}"
        kind = rng.choices(KINDS, WEIGHTS)[0]
        frames.append(MAKERS[kind](rng, frame_id))
    return frames


def _text(kind: str, value: object, reply_id: str | None) -> BadFrame:
    return BadFrame(kind, json.dumps(value, ensure_ascii=False), reply_id)


def _garbage(rng: random.Random, frame_id: str) -> BadFrame:
    chars = '{}[]":,0123456789abcdefnulltrue \\é😀\x00\t'
    return BadFrame("not-json", "".join(rng.choices(chars, k=rng.randint(1, 80))) + "}{", None)


def _not_an_object(rng: random.Random, frame_id: str) -> BadFrame:
    value = rng.choice([[frame_id], frame_id, 7, -0.5, None, True, [{"type": "ping"}]])
    return _text("not-an-object", value, None)


def _bad_id(rng: random.Random, frame_id: str) -> BadFrame:
    frame_id_value = rng.choice([None, 7, "", "x" * 129, [frame_id], {"id": frame_id}, 1.5])
    frame = {"type": rng.choice(["ping", "msg.send", "sync"]), "id": frame_id_value}
    if frame_id_value is None:
        del frame["id"]
    return _text("bad-id", frame, None)


def _bad_type(rng: random.Random, frame_id: str) -> BadFrame:
    frame_type = rng.choice([None, 7, "", ["ping"], "no.such.type", "pong", "msg.new", "auth"])
    frame = {"id": frame_id, "type": frame_type, rng.choice(["x", "to", "é"]): rng.random()}
    if frame_type is None:
        del frame["type"]
    return _text("bad-type", frame, frame_id)


def _unknown_fields(rng: random.Random, frame_id: str) -> BadFrame:
    extra = {f"f{i}": rng.choice([[], {}, "x" * 50, 10**30, -1, None]) for i in range(5)}
    return _text(
        "unknown-type", {"type": f"x.{rng.randint(0, 99)}", "id": frame_id, **extra}, frame_id
    )


def _wrong_types(rng: random.Random, frame_id: str) -> BadFrame:
    frame = rng.choice(
        [
            {"type": "msg.send", "to": 7, "client_msg_id": "c", "content": {"kind": "text"}},
            {"type": "msg.send", "to": "u", "client_msg_id": [], "content": "hi"},
            {"type": "sync", "cursors": "all"},
            {"type": "sync", "cursors": {"d:a:b": -1}},
            {"type": "msg.history", "conversation": 12},
            {"type": "msg.history", "conversation": "x:y", "limit": 10**30},
        ]
    )
    return _text("wrong-field-types", {**frame, "id": frame_id}, frame_id)


def _not_json_numbers(rng: random.Random, frame_id: str) -> BadFrame:
    number = rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000])
    return BadFrame(
        "not-json-number", f'{{"type": "ping", "id": "{frame_id}", "n": {number}}}', None
    )


def _deep(rng: random.Random, frame_id: str) -> BadFrame:
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    # Far deeper than Python's recursion limit, still within the frame size limit.
    depth = rng.randint(2_000, (LIMIT - 1) // (len(opener) + len(closer)))
    return BadFrame("deep-nesting", opener * depth + "1" + closer * depth, None)


def _lone_surrogate(rng: random.Random, frame_id: str) -> BadFrame:
    escape = rng.choice(["\\ud800", "\\udfff", "\\uDBFF"])
    if rng.random() < 0.5:
        return BadFrame("lone-surrogate", f'{{"type": "ping", "id": "{escape}"}}', None)
    return BadFrame(
        "lone-surrogate", f'{{"type": "ping", "id": "{frame_id}", "x": "{escape}"}}', frame_id
    )


def _near_limit(rng: random.Random, frame_id: str) -> BadFrame:
    head = f'{{"type": "huge", "id": "{frame_id}", "s": "'
    size = LIMIT - len(head) - 2 - rng.randint(0, 64)
    return BadFrame("just-under-the-limit", head + "x" * size + '"}', frame_id)


def _binary(rng: random.Random, frame_id: str) -> BadFrame:
    return BadFrame("binary", rng.randbytes(rng.randint(0, 256)), None)


MAKERS: dict[str, Callable[[random.Random, str], BadFrame]] = {
    "not-json": _garbage,
    "not-an-object": _not_an_object,
    "bad-id": _bad_id,
    "bad-type": _bad_type,
    "unknown-type": _unknown_fields,
    "wrong-field-types": _wrong_types,
    "not-json-number": _not_json_numbers,
    "deep-nesting": _deep,
    "lone-surrogate": _lone_surrogate,
    "just-under-the-limit": _near_limit,
    "binary": _binary,
}
KINDS = list(MAKERS)
# Big frames are few: they cost bandwidth, not coverage.
WEIGHTS = [20, 10, 15, 15, 15, 5, 5, 0.05, 5, 0.1, 10]


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def send_all(ws: aiohttp.ClientWebSocketResponse, frames: list[BadFrame]) -> None:
    for frame in frames:
        if isinstance(frame.payload, bytes):
            await ws.send_bytes(frame.payload)
        else:
            await ws.send_str(frame.payload)


async def fuzz_socket(
    ws: aiohttp.ClientWebSocketResponse, frames: list[BadFrame], problems: list[str]
) -> Counter[str]:
    """Send the frames a batch at a time; every one must get exactly one bad_request."""
    answered: Counter[str] = Counter()
    for start in range(0, len(frames), BATCH):
        batch = frames[start : start + BATCH]
        expected = Counter(f.reply_id for f in batch)
        sender = asyncio.create_task(send_all(ws, batch))
        got: Counter[str | None] = Counter()
        for _ in range(len(batch)):
            msg = await ws.receive(timeout=30)
            assert msg.type is aiohttp.WSMsgType.TEXT, (msg, batch[0].kind)
            reply = json.loads(msg.data)
            problems.extend(frame_problems(reply))
            assert (reply["type"], reply["code"]) == ("error", "bad_request"), reply
            got[reply.get("id")] += 1
        await sender
        assert got == expected, (got - expected, expected - got)
        answered.update(f.kind for f in batch)
    return answered


async def open_ws(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(f"{url}/v1/ws", max_msg_size=0, autoping=True)


async def authenticated(
    session: aiohttp.ClientSession, url: str, login: LoginSession
) -> aiohttp.ClientWebSocketResponse:
    ws = await open_ws(session, url)
    await ws.send_str(json.dumps({"type": "auth", "id": "a", "token": login.access_token}))
    reply = await ws.receive_json(timeout=10)
    assert reply["type"] == "auth.ok", reply
    return ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[dict], int | None]:
    """Frames the server sent until it closed, and its close code."""
    frames = []
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type is aiohttp.WSMsgType.TEXT:
            frames.append(json.loads(msg.data))
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return frames, ws.close_code
        elif msg.type is aiohttp.WSMsgType.CLOSING:
            continue
        else:
            return frames, ws.close_code


async def pre_auth_run(session: aiohttp.ClientSession, url: str, rng: random.Random) -> Counter:
    """Sockets that send a bad frame first: unauthorized, then 4401; oversize: 1009."""
    closes: Counter[str] = Counter()
    for n in range(PRE_AUTH_SOCKETS):
        frame = MAKERS[rng.choice(KINDS)](rng, f"pre-{n}")
        if frame.kind == "deep-nesting":
            frame = _bad_type(rng, f"pre-{n}")
        ws = await open_ws(session, url)
        await send_all(ws, [frame])
        frames, code = await closed_with(ws)
        assert code == 4401, (frame.kind, frames, code)
        (error,) = frames
        assert (error["type"], error["code"]) == ("error", "unauthorized")
        closes["4401"] += 1
    return closes


async def closing_run(
    session: aiohttp.ClientSession, url: str, logins: list[LoginSession]
) -> Counter[str]:
    """Frames that end a socket: over the size limit (1009) and invalid UTF-8 text (1007)."""
    closes: Counter[str] = Counter()
    for login in logins:
        for payload, code in [
            ("x" * (LIMIT + 1), 1009),
            ('{"type":"ping","id":"p","s":"' + "é" * (LIMIT // 2) + '"}', 1009),
            (b"x" * (LIMIT + 1), 1009),
            (b'{"type":"ping","id":"\xff\xfe"}', 1007),
        ]:
            ws = await authenticated(session, url, login)
            if isinstance(payload, str):
                await ws.send_str(payload)
            elif code == 1007:
                # RFC 6455 §8.1: a text frame must be UTF-8; the server must close with 1007.
                await ws.send_frame(payload, aiohttp.WSMsgType.TEXT)
            else:
                await ws.send_bytes(payload)
            frames, got = await closed_with(ws)
            assert (got, frames) == (code, []), payload[:40]
            closes[str(code)] += 1
        ws = await open_ws(session, url)  # before auth too
        await ws.send_str("x" * (LIMIT + 1))
        assert (await closed_with(ws))[1] == 1009
        closes["1009"] += 1
    return closes


@pytest.fixture(scope="module")
def fuzz_server(dev_server_factory):
    """A server with the per-socket and per-type rate limits out of the way."""
    return dev_server_factory(env=FUZZ_ENV)


async def new_login(client: ImfaasClient, name: str) -> tuple[str, LoginSession]:
    username = f"fz{os.getpid()}{name}"
    user_id = await client.register(username, PASSWORD)
    return user_id, await client.login(username, PASSWORD)


async def test_a_hundred_thousand_bad_frames_change_nothing(fuzz_server) -> None:
    url = fuzz_server.url
    rng = random.Random(20240608)
    problems: list[str] = []
    pid = fuzz_server.process.pid
    async with ImfaasClient(url) as client, aiohttp.ClientSession() as session:
        logins = [(await new_login(client, f"s{n}"))[1] for n in range(SOCKETS)]
        # Warm up before measuring memory: first sockets, first forwarded frames.
        warm = await authenticated(session, url, logins[0])
        await fuzz_socket(warm, bad_frames(rng, 99, 2 * BATCH), problems)
        await warm.close()
        rss_before = None if REAL else rss_kib(pid)

        sockets = [await authenticated(session, url, login) for login in logins]
        plans = [bad_frames(rng, n, FRAMES_PER_SOCKET) for n in range(SOCKETS)]
        counts = await asyncio.gather(
            *(fuzz_socket(ws, plan, problems) for ws, plan in zip(sockets, plans, strict=True))
        )
        # The sockets are still open and served after all that.
        for ws in sockets:
            await ws.send_str('{"type": "ping", "id": "still-there"}')
            assert await ws.receive_json(timeout=10) == {"type": "pong", "id": "still-there"}
            await ws.close()
        closes = await pre_auth_run(session, url, rng) + await closing_run(session, url, logins)
        rss_after = None if REAL else rss_kib(pid)

        # A fresh user can still register, log in, send and receive.
        alice_id, alice = await new_login(client, "alice")
        bob_id, bob = await new_login(client, "bob")
        bob_conn = await client.connect(bob)
        alice_conn = await client.connect(alice)
        await alice_conn.request(
            "msg.send",
            to=bob_id,
            client_msg_id="after-fuzz",
            content={"kind": "text", "text": "hi"},
        )
        new = await bob_conn.next_event("msg.new", timeout=10)
        assert new["message"]["sender"] == alice_id
        assert new["message"]["content"] == {"kind": "text", "text": "hi"}

    total = sum(counts, Counter())
    frames = total.total() + closes.total()
    print(
        f"\nfuzz: {frames} bad frames; answered bad_request: {dict(total)}; closes: {dict(closes)}"
    )
    assert frames >= 100_000
    assert problems == []
    if rss_before is not None and rss_after is not None:
        growth_mib = (rss_after - rss_before) / 1024
        print(f"fuzz: server RSS {rss_before // 1024} -> {rss_after // 1024} MiB")
        assert growth_mib < 64, growth_mib
    else:
        print("fuzz: RSS not measured on the cluster (its gateways are separate processes)")


def ping_of_size(size: int, frame_id: str) -> str:
    head = f'{{"type":"ping","id":"{frame_id}","pad":"'
    return head + "x" * (size - len(head) - 2) + '"}'


async def test_a_frame_of_exactly_the_size_limit_is_answered_one_byte_more_closes_1009(
    new_user, connect
) -> None:
    # Found by this fuzz run: aiohttp refused a message of exactly its max_msg_size.
    _, _, session = await new_user()
    conn = await connect(session)
    await conn.send_text(ping_of_size(LIMIT, "edge"))
    assert await conn.next_unmatched() == {"type": "pong", "id": "edge"}

    await conn.send_text(ping_of_size(LIMIT + 1, "over"))
    assert await conn.wait_closed() == 1009
