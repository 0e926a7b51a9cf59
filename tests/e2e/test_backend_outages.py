"""Backends going away mid-stream (local cluster on the real servers only).

A client keeps sending; Redis, then Kafka, is stopped for a few seconds and started again.
Sends fail with ``unavailable`` or go unanswered while a backend is down, never ``internal``
and never a hang; the client resends the same ``client_msg_id``; afterwards every message is
stored exactly once, with gap-free seqs in the order the client sent them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from imfaas.client import ClientError, Connection

pytestmark = pytest.mark.skipif(
    "real" not in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="stops real servers: runs with IMFAAS_BACKENDS=real (the test command's last phase)",
)

INFRA = Path(__file__).resolve().parents[2] / "infra"
MESSAGES = 24
OUTAGE_AFTER = 6
OUTAGE_S = 3.0


def infra(server: str, command: str) -> None:
    subprocess.run(["bash", str(INFRA / f"{server}.sh"), command], check=True, timeout=240)


async def send_until_acked(conn: Connection, to: str, client_msg_id: str) -> dict:
    """Resend the same client_msg_id until it is acknowledged (as a real client does)."""
    deadline = time.monotonic() + 180
    errors: list[str] = []
    while time.monotonic() < deadline:
        try:
            return await conn.request(
                "msg.send",
                timeout=8.0,
                to=to,
                client_msg_id=client_msg_id,
                content={"kind": "text", "text": client_msg_id},
            )
        except ClientError as exc:
            assert exc.code == "unavailable", f"{client_msg_id}: {exc.code} {exc.message}"
            errors.append(exc.code)
        except TimeoutError:
            errors.append("timeout")
        await asyncio.sleep(0.5)
    raise AssertionError(f"{client_msg_id} never acknowledged: {errors}")


@pytest.mark.parametrize("backend", ["redis", "kafka"])
async def test_a_backend_outage_loses_and_duplicates_nothing(
    backend: str, new_user, connect, client
) -> None:
    _, _, alice_session = await new_user()
    bob_name, bob, _ = await new_user()
    alice = await connect(alice_session)
    acks = []
    restart: asyncio.Task[None] | None = None

    async def restart_later() -> None:
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(infra, backend, "start")

    for i in range(MESSAGES):
        if i == OUTAGE_AFTER:
            infra(backend, "stop")
            restart = asyncio.create_task(restart_later())
        acks.append(await send_until_acked(alice, bob, f"{backend}-{i}"))
    assert restart is not None
    await restart
    infra(backend, "wait")

    assert [ack["seq"] for ack in acks] == list(range(1, MESSAGES + 1))
    bob_conn = await connect(await client.login(bob_name, "correct-horse-battery"))
    page = await bob_conn.request("sync", cursors={}, limit=1000)
    got = [(m["seq"], m["client_msg_id"]) for m in page["messages"]]
    assert got == [(i + 1, f"{backend}-{i}") for i in range(MESSAGES)]
