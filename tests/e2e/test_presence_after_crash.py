"""Presence when a gateway node dies (local cluster only: two gateways, ``imfaas up``
restarts a killed child under its node id): its sockets' users go ``offline`` for their
subscribers on the other node, and delivery to them stops, without waiting for route TTLs."""

from __future__ import annotations

import os
import time

import pytest

from .test_kill_stream import Disruptor

pytestmark = pytest.mark.skipif(
    "real" not in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="needs two gateway nodes: runs on the local cluster (IMFAAS_BACKENDS=real)",
)


async def test_a_killed_gateways_users_go_offline(server, new_user, connect) -> None:
    disruptor = Disruptor(server.data_dir, server.port)
    gateway_of = {
        child.ready_url.removesuffix("/healthz"): name
        for name, child in disruptor.children.items()
        if name.startswith("gateway-") and child.ready_url
    }
    users = [await new_user() for _ in range(8)]
    by_node: dict[str, list] = {}
    for user in users:
        origin = user[2].ws_url.replace("ws://", "http://").removesuffix("/v1/ws")
        by_node.setdefault(origin, []).append(user)
    assert len(by_node) == 2, "every user was placed on one node"
    (_, watchers), (doomed_origin, doomed) = sorted(by_node.items())
    watcher, victim = watchers[0], doomed[0]
    w = await connect(watcher[2])
    await connect(victim[2])
    created = await w.request("group.create", name="crash", members=[victim[1]])
    assert created["group_id"]
    status = await w.request("presence.subscribe", users=[victim[1]])
    assert status["presence"] == {victim[1]: "online"}

    killed_at = time.monotonic()
    await disruptor.kill(gateway_of[doomed_origin])

    while (event := await w.next_event("presence", timeout=30))["user"] != victim[1]:
        pass
    assert event["status"] == "offline"
    print(f"\noffline announced {time.monotonic() - killed_at:.1f} s after kill -9")
    again = await w.request("presence.subscribe", users=[victim[1]])
    assert again["presence"] == {victim[1]: "offline"}
