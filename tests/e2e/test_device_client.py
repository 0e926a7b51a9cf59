"""The resilient device client (imfaas/device_client.py) that the kill tests rely on."""

from __future__ import annotations

import asyncio

from imfaas.client import ImfaasClient
from imfaas.device_client import DeviceClient
from imfaas.shared.conversation_id import direct_conversation


async def _device(url: str, username: str, password: str, device_id: str) -> DeviceClient:
    http = ImfaasClient(url)
    device = DeviceClient(
        http, await http.login(username, password, device_id=device_id), request_timeout_s=3.0
    )
    await device.connect()
    return device


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        # Polling: the device's store changes from its own reader task, with no event to await.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_send_is_held_delivered_once_and_synced(server, client, password) -> None:
    await client.register("devalice", password)
    bob_id = await client.register("devbob", password)
    alice = await _device(server.url, "devalice", password, "a1")
    bob = await _device(server.url, "devbob", password, "b1")
    try:
        conversation = direct_conversation(alice.user_id, bob_id)
        for i in range(3):
            ack = await alice.send({"kind": "text", "text": f"hi {i}"}, f"c{i}", to=bob_id)
            assert (ack["conversation"], ack["seq"]) == (conversation, i + 1)
        # A resend of an acked id is the same message, not a new one.
        again = await alice.send({"kind": "text", "text": "hi 0"}, "c0", to=bob_id)
        assert again["seq"] == 1
        await _wait_for(lambda: len(bob.messages.get(conversation, {})) == 3)
        assert alice.cursors() == bob.cursors() == {conversation: 3}
        assert bob.stats.delivered == 3 and bob.stats.duplicates == 0
        assert alice.stats.acked == 4 and alice.stats.resends == 0

        late = await _device(server.url, "devbob", password, "b2")
        try:
            assert late.stats.synced == 3 and late.cursors() == {conversation: 3}
            view = await late.server_view()
            got = view[conversation]
            assert [got[seq]["client_msg_id"] for seq in sorted(got)] == ["c0", "c1", "c2"]
        finally:
            await late.close()
            await late.client.close()
    finally:
        for device in (alice, bob):
            await device.close()
            await device.client.close()


async def test_device_reconnects_resends_and_syncs_across_a_crash(
    dev_server_factory, password
) -> None:
    srv = dev_server_factory()
    async with ImfaasClient(srv.url) as http:
        await http.register("crashalice", password)
        bob_id = await http.register("crashbob", password)
    alice = await _device(srv.url, "crashalice", password, "a1")
    bob = await _device(srv.url, "crashbob", password, "b1")
    try:
        await alice.send({"kind": "text", "text": "before"}, "before", to=bob_id)
        srv.kill()
        restart = asyncio.get_running_loop().run_in_executor(None, srv.start)
        # Sent while the server is down: retried until the restarted server acks it.
        ack = await alice.send({"kind": "text", "text": "during"}, "during", to=bob_id)
        await restart
        assert ack["seq"] == 2
        assert alice.stats.reconnects >= 1
        conversation = ack["conversation"]
        await _wait_for(lambda: len(bob.messages.get(conversation, {})) == 2, timeout=30)
        held = bob.messages[conversation]
        assert [held[seq]["client_msg_id"] for seq in sorted(held)] == ["before", "during"]
    finally:
        for device in (alice, bob):
            await device.close()
            await device.client.close()
