"""Kill tests: a stream of messages while processes are killed and backends restarted.

On the local cluster over the real backends (``IMFAAS_BACKENDS=real`` only). Devices send
at least ``IMFAAS_KILL_MESSAGES`` (default 10,000) messages across many direct conversations
and a few groups,
behaving as real apps do (imfaas/device_client.py: resend with the same ``client_msg_id``
until acked, reconnect, sync, drop duplicates). Meanwhile, one at a time: ``kill -9`` of a
gateway, ``send``, ``store``, ``fanout`` and the dispatcher (``imfaas up`` restarts them like a
kubelet), restarts of Kafka, Cassandra and PostgreSQL, and a Redis FLUSHALL. Afterwards:
every acknowledged message is stored exactly once at its acked seq, seqs are 1..n in every
conversation, nothing unacknowledged was stored, each device's messages in one conversation
keep its sending order, and every device converged to the server's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from imfaas.client import ImfaasClient
from imfaas.device_client import DeviceClient
from imfaas.local_cluster import Child, pid_file, plan_cluster, process_tree
from imfaas.shared.conversation_id import direct_conversation
from imfaas.shared.settings import Settings

pytestmark = pytest.mark.skipif(
    "real" not in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="kills cluster processes and restarts real servers: runs with IMFAAS_BACKENDS=real",
)

INFRA = Path(__file__).resolve().parents[2] / "infra"
TARGET = int(os.environ.get("IMFAAS_KILL_MESSAGES", "10000"))
RATE = float(os.environ.get("IMFAAS_KILL_RATE", "150"))  # messages/s, all devices together
USERS = 24
DEVICES_PER_USER = 2
GROUPS = 4
WARMUP_S = 5.0
SETTLE_S = 3.0
FLOWING_ACKS = 50
DEADLINE_S = 1200.0


def peers_of(i: int, n: int) -> list[int]:
    """Each user talks with its ring neighbours and the user opposite: many conversations."""
    return sorted({(i + d) % n for d in (1, -1, 2, -2, n // 2)} - {i})


def groups_of(i: int, n: int) -> list[int]:
    """Which of the GROUPS groups user ``i`` is in: one or two of them."""
    return sorted({i % GROUPS, (i // GROUPS + 1) % GROUPS})


def infra(server: str, command: str) -> None:
    subprocess.run(["bash", str(INFRA / f"{server}.sh"), command], check=True, timeout=300)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Stream:
    """Hands out message numbers until the disruptions are over and the target is reached."""

    target: int
    issued: int = 0
    acked: int = 0
    disruptions_done: bool = False
    log: list[str] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)  # send call to ack, retries included

    def next_number(self) -> int | None:
        if self.disruptions_done and self.issued >= self.target:
            return None
        self.issued += 1
        return self.issued


class Disruptor:
    """Kills cluster children (``imfaas up`` restarts them) and restarts backends."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.children: dict[str, Child] = {
            c.name: c for c in plan_cluster("127.0.0.1", port, 2, data_dir)
        }

    async def kill(self, name: str) -> None:
        """SIGKILL the child, then wait until its successor answers its readiness URL."""
        path = pid_file(self.data_dir, name)
        old = int(path.read_text())
        # The whole container dies: the functions-framework master and its worker.
        for pid in process_tree(old):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        url = self.children[name].ready_url
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if int(path.read_text()) != old and (
                url is None or await asyncio.to_thread(_ready, url)
            ):
                return
        raise AssertionError(f"{name} did not come back after kill -9")

    async def restart(self, backend: str) -> None:
        """Stop the server and start it again (start waits until it serves)."""
        await asyncio.to_thread(infra, backend, "stop")
        await asyncio.to_thread(infra, backend, "start")

    async def flush_redis(self) -> None:
        """FLUSHALL: routes, caches, node registry and revocations are gone at once."""
        connection = redis_asyncio.from_url(Settings.from_env().redis_url)
        try:
            await connection.flushall()
        finally:
            await connection.aclose()

    def plan(self) -> list[tuple[str, Any]]:
        """The disruptions, in order, one at a time."""
        return [
            ("kill -9 gateway-1", lambda: self.kill("gateway-1")),
            ("kill -9 send", lambda: self.kill("send")),
            ("kill -9 store", lambda: self.kill("store")),
            ("kill -9 fanout", lambda: self.kill("fanout")),
            ("kill -9 dispatcher", lambda: self.kill("dispatch")),
            ("restart Kafka", lambda: self.restart("kafka")),
            ("restart Cassandra", lambda: self.restart("cassandra")),
            ("restart PostgreSQL", lambda: self.restart("postgres")),
            ("flush Redis", self.flush_redis),
            ("kill -9 gateway-2", lambda: self.kill("gateway-2")),
        ]


async def disrupt(disruptor: Disruptor, stream: Stream) -> None:
    await asyncio.sleep(WARMUP_S)
    for label, action in disruptor.plan():
        started, issued = time.monotonic(), stream.issued
        await action()
        back = time.monotonic() - started
        # One disruption at a time: the next one hits a stream that flows again.
        acked = stream.acked
        while stream.acked < acked + FLOWING_ACKS:  # noqa: ASYNC110 (counted by the devices)
            await asyncio.sleep(0.05)
        flowing = time.monotonic() - started
        stream.log.append(
            f"{label} at message {issued}: back after {back:.1f} s,"
            f" stream flowing again after {flowing:.1f} s"
        )
        await asyncio.sleep(SETTLE_S)
    stream.disruptions_done = True


async def run_device(
    device: DeviceClient,
    index: int,
    targets: list[str],
    stream: Stream,
    acks: dict[str, tuple[dict[str, Any], DeviceClient, str]],
) -> None:
    rng = random.Random(index)
    interval = USERS * DEVICES_PER_USER / RATE
    while (number := stream.next_number()) is not None:
        target = rng.choice(targets)
        client_msg_id = f"d{index}-m{number}"
        content = {"kind": "text", "text": client_msg_id}
        sent_at = time.monotonic()
        if target.startswith("g:"):
            ack = await device.send(content, client_msg_id, conversation=target)
        else:
            ack = await device.send(content, client_msg_id, to=target)
        stream.ack_latencies.append(time.monotonic() - sent_at)
        stream.acked += 1
        acks[client_msg_id] = (ack, device, target)
        await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)


async def test_kill_and_restart_everything_mid_stream(server, client: ImfaasClient) -> None:
    names = [f"kill{os.getpid()}u{i}" for i in range(USERS)]
    user_ids = [await client.register(name, "correct-horse-battery") for name in names]
    devices: list[DeviceClient] = []
    for name in names:
        for d in range(DEVICES_PER_USER):
            session = await client.login(name, "correct-horse-battery", device_id=f"dev-{d}")
            device = DeviceClient(ImfaasClient(server.url), session, request_timeout_s=5.0)
            await device.connect()
            devices.append(device)

    # The groups: each created by its first member over a plain socket, before any disruption.
    group_convs: list[str] = []
    for g in range(GROUPS):
        members = [user_ids[i] for i in range(USERS) if g in groups_of(i, USERS)]
        owner = next(d for d in devices if d.user_id == members[0])
        conn = await client.connect(owner.session)
        created = await conn.request("group.create", name=f"kill-{g}", members=members[1:])
        await conn.close()
        group_convs.append(created["conversation"])

    stream = Stream(TARGET)
    acks: dict[str, tuple[dict[str, Any], DeviceClient, str]] = {}
    disruptor = Disruptor(server.data_dir, server.port)
    started = time.monotonic()
    try:
        async with asyncio.timeout(DEADLINE_S):
            await asyncio.gather(
                disrupt(disruptor, stream),
                *(
                    run_device(
                        device,
                        i,
                        [user_ids[p] for p in peers_of(i // DEVICES_PER_USER, USERS)]
                        + [group_convs[g] for g in groups_of(i // DEVICES_PER_USER, USERS)],
                        stream,
                        acks,
                    )
                    for i, device in enumerate(devices)
                ),
            )
        elapsed = time.monotonic() - started
        for device in devices:
            await device.sync()

        # The server's history, as each user sees it from scratch.
        first_device = {d.user_id: d for d in reversed(devices)}
        views = {user: await first_device[user].server_view() for user in user_ids}
        history: dict[str, dict[int, dict[str, Any]]] = {}
        for user, view in views.items():
            for conversation, messages in view.items():
                seen = history.setdefault(conversation, messages)
                # Every member sees the same messages at the same seqs.
                assert {s: m["msg_id"] for s, m in seen.items()} == {
                    s: m["msg_id"] for s, m in messages.items()
                }, f"{user} sees another {conversation}"
        for conversation, messages in history.items():
            assert sorted(messages) == list(range(1, len(messages) + 1)), f"gap in {conversation}"

        stored = [m for messages in history.values() for m in messages.values()]
        by_client_id = Counter(m["client_msg_id"] for m in stored)
        twice = [cid for cid, n in by_client_id.items() if n > 1]
        assert not twice, f"stored more than once: {twice[:10]}"
        assert set(by_client_id) == set(acks), "stored and acknowledged messages differ"
        assert len(acks) == stream.issued
        where = {m["client_msg_id"]: m for m in stored}
        sequence_of_device: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for client_msg_id, (ack, device, target) in acks.items():
            message = where[client_msg_id]
            expected = (
                target if target.startswith("g:") else direct_conversation(device.user_id, target)
            )
            assert message["conversation"] == ack["conversation"] == expected
            assert (message["seq"], message["msg_id"]) == (ack["seq"], ack["msg_id"])
            assert message["sender"] == device.user_id
            assert message["content"] == {"kind": "text", "text": client_msg_id}
            number = int(client_msg_id.split("-m")[1])
            sequence_of_device.setdefault((id(device), ack["conversation"]), []).append(
                (number, ack["seq"])
            )
        for pairs in sequence_of_device.values():
            seqs = [seq for _, seq in sorted(pairs)]
            assert seqs == sorted(seqs), "a device's messages were stored out of sending order"

        for device in devices:
            mine = views[device.user_id]
            assert set(device.messages) == set(mine), "device holds other conversations"
            for conversation, messages in mine.items():
                held = device.messages[conversation]
                assert {s: m["msg_id"] for s, m in held.items()} == {
                    s: m["msg_id"] for s, m in messages.items()
                }, f"a device of {device.user_id} did not converge on {conversation}"

        totals = Counter[str]()
        reasons = Counter[str]()
        for device in devices:
            s = device.stats
            totals.update(
                sends=s.sends,
                resends=s.resends,
                acked=s.acked,
                delivered=s.delivered,
                duplicates_dropped=s.duplicates,
                synced=s.synced,
                reconnects=s.reconnects,
            )
            reasons.update(s.retry_reasons)
        print(
            f"\nkill stream: {stream.issued} messages in {len(history)} conversations"
            f" from {len(devices)} devices in {elapsed:.0f} s; stored {len(stored)}"
        )
        for line in stream.log:
            print(f"  {line}")
        print("  " + ", ".join(f"{k} {v}" for k, v in totals.items()))
        print("  retries: " + (", ".join(f"{k} {v}" for k, v in reasons.items()) or "none"))
        lat = sorted(stream.ack_latencies)
        print(
            f"  send-to-ack incl. resends: p50 {lat[len(lat) // 2] * 1000:.0f} ms,"
            f" p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms, max {lat[-1]:.1f} s"
        )
    finally:
        for device in devices:
            await device.close()
            await device.client.close()
