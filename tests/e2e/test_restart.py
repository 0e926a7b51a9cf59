"""Stopping and starting ``imfaas dev`` keeps users, tokens and messages; a crash loses no ack."""

from __future__ import annotations

from imfaas.client import ImfaasClient
from imfaas.shared.conversation_id import direct_conversation


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


async def test_restart_keeps_users_tokens_and_messages(dev_server_factory, password: str) -> None:
    server = dev_server_factory()
    async with ImfaasClient(server.url) as c:
        alice = await c.register("alice", password)
        bob = await c.register("bob", password)
        alice_session = await c.login("alice", password, device_id="a1")
        bob_session = await c.login("bob", password, device_id="b1")
        a = await c.connect(alice_session)
        for i in range(3):
            await a.request("msg.send", to=bob, client_msg_id=f"m{i}", content=text(str(i)))

    assert server.stop() == 0
    server.start()

    async with ImfaasClient(server.url) as c:
        # Old access token still opens a socket; old refresh token still rotates.
        b = await c.connect(bob_session)
        page = await b.request("sync", cursors={})
        conversation = direct_conversation(alice, bob)
        assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
        assert [m["content"]["text"] for m in page["messages"]] == ["0", "1", "2"]
        refreshed = await c.refresh(alice_session.refresh_token)
        assert refreshed.user_id == alice
        # The password still works and the sequence goes on without a gap.
        again = await c.login("alice", password, device_id="a1")
        a = await c.connect(again)
        ack = await a.request("msg.send", to=bob, client_msg_id="m3", content=text("3"))
        assert (ack["conversation"], ack["seq"]) == (conversation, 4)
        # Dedup survives the restart too.
        resent = await a.request("msg.send", to=bob, client_msg_id="m1", content=text("1"))
        assert resent["seq"] == 2
        assert (await b.next_event("msg.new"))["message"]["seq"] == 4


async def test_acked_message_survives_a_crash(dev_server_factory, password: str) -> None:
    server = dev_server_factory()
    async with ImfaasClient(server.url) as c:
        await c.register("carol", password)
        dave = await c.register("dave", password)
        session = await c.login("carol", password)
        conn = await c.connect(session)
        ack = await conn.request("msg.send", to=dave, client_msg_id="k1", content=text("kept"))
        server.kill()
    server.start()
    async with ImfaasClient(server.url) as c:
        conn = await c.connect(await c.login("carol", password))
        history = await conn.request("msg.history", conversation=ack["conversation"])
        assert [(m["seq"], m["msg_id"]) for m in history["messages"]] == [(1, ack["msg_id"])]
