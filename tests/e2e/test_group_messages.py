"""Group conversations end to end (protocol §3 on `g:` conversations, §4 groups): messages
through send → store → fanout to every member's devices, conv.list, sync, receipts, recall
by moderators, media for members, renames; and the authorization matrix: every refusal gets
its code and changes nothing."""

from __future__ import annotations

import itertools
import time

import pytest

from imfaas.client import Connection

from .test_media import file_content, http, uploaded

_sent = itertools.count()


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


async def post(conn: Connection, conversation: str, value: str = "hi") -> dict:
    """Send a text to a conversation; return the ack."""
    return await conn.request(
        "msg.send", conversation=conversation, client_msg_id=f"g{next(_sent)}", content=text(value)
    )


async def refused(conn: Connection, frame_type: str, **fields) -> str:
    """The error code of a request that must be refused."""
    reply = await conn.request_raw(frame_type, **fields)
    assert reply["type"] == "error", reply
    return reply["code"]


async def assert_nothing(conn: Connection, event_type: str) -> None:
    with pytest.raises(TimeoutError):
        await conn.next_event(event_type, timeout=0.5)


async def last_seq(conn: Connection, conversation: str) -> int:
    """The conversation's newest seq as a member sees it in msg.history (0: none)."""
    page = await conn.request("msg.history", conversation=conversation, limit=1)
    return page["messages"][0]["seq"] if page["messages"] else 0


async def next_group_event(conn: Connection, kind: str) -> dict:
    while (event := await conn.next_event("group.event"))["kind"] != kind:
        pass
    return event


async def team(new_user, connect, client, password, others: int = 2):
    """Alice owns a group with ``others`` members; Bob (the first) has two devices."""
    _alice_name, alice, alice_session = await new_user()
    made = [await new_user() for _ in range(others)]
    a = await connect(alice_session)
    conns = [await connect(session) for _, _, session in made]
    bob_name = made[0][0]
    b2 = await connect(await client.login(bob_name, password, device_id="bob-2", platform="web"))
    ids = [user_id for _, user_id, _ in made]
    created = await a.request("group.create", name="team", members=ids)
    for conn in (*conns, b2):
        await next_group_event(conn, "joined")
    return created["conversation"], created["group_id"], alice, a, ids, conns, b2


async def test_a_group_message_reaches_every_device_of_every_member_once(
    new_user, connect, client, password
) -> None:
    conv, _, alice, a, (_bob, _carol), (b, c), b2 = await team(new_user, connect, client, password)

    ack = await post(a, conv, "hello team")

    assert (ack["conversation"], ack["seq"]) == (conv, 1)
    for conn in (b, b2, c):
        message = (await conn.next_event("msg.new"))["message"]
        assert (message["conversation"], message["seq"], message["sender"]) == (conv, 1, alice)
        assert message["content"] == text("hello team")
    # A member's reply reaches the sender's socket and the replier's other device.
    reply = await post(b, conv, "hi alice")
    assert reply["seq"] == 2
    for conn in (a, b2, c):
        assert (await conn.next_event("msg.new"))["message"]["seq"] == 2
    await assert_nothing(b, "msg.new")  # not the sending socket

    # The same client_msg_id again: the same ack, nobody hears it twice.
    again = await a.request(
        "msg.send", conversation=conv, client_msg_id="dup-1", content=text("once")
    )
    resent = await a.request(
        "msg.send", conversation=conv, client_msg_id="dup-1", content=text("once")
    )
    assert resent["seq"] == again["seq"] == 3
    assert (await c.next_event("msg.new"))["message"]["seq"] == 3
    await assert_nothing(c, "msg.new")


async def test_conv_list_sync_and_receipts_in_a_group(new_user, connect, client, password) -> None:
    conv, _group_id, _alice, a, (_bob, carol), (b, c), _ = await team(
        new_user, connect, client, password
    )
    # A new group is listed before anyone writes.
    listed = {row["conversation"]: row for row in (await c.request("conv.list"))["conversations"]}
    assert listed[conv]["last_seq"] == 0 and listed[conv]["last_message"] is None

    for n in range(3):
        await post(a, conv, f"m{n}")
    await post(b, conv, "from bob")

    row = next(
        r for r in (await c.request("conv.list"))["conversations"] if r["conversation"] == conv
    )
    assert (row["last_seq"], row["read_seq"], row["unread"]) == (4, 0, 4)
    assert row["last_message"]["content"] == text("from bob")
    synced = await c.request("sync", cursors={conv: 1})
    assert [m["seq"] for m in synced["messages"] if m["conversation"] == conv] == [2, 3, 4]
    assert synced["cursors"][conv] == 4 and "gone" not in synced

    await c.request("msg.read", conversation=conv, seq=3)
    for conn in (a, b):
        receipt = await conn.next_event("receipt")
        assert (receipt["conversation"], receipt["user"], receipt["seq"]) == (conv, carol, 3)
    row = next(
        r for r in (await c.request("conv.list"))["conversations"] if r["conversation"] == conv
    )
    assert (row["read_seq"], row["unread"]) == (3, 1)
    # The reader's mark is the reader's own: Bob's counters did not move.
    row_b = next(
        r for r in (await b.request("conv.list"))["conversations"] if r["conversation"] == conv
    )
    assert (row_b["read_seq"], row_b["unread"]) == (0, 3)
    assert await refused(c, "msg.read", conversation=conv, seq=9) == "bad_request"


async def test_a_kicked_member_loses_the_conversation_at_once(
    new_user, connect, client, password
) -> None:
    conv, group_id, _, a, (_bob, carol), (_b, c), _ = await team(
        new_user, connect, client, password
    )
    await post(a, conv, "before")
    await c.next_event("msg.new")

    await a.request("group.kick", group_id=group_id, user=carol)
    await next_group_event(c, "kicked")

    assert await refused(
        c, "msg.send", conversation=conv, client_msg_id="k1", content=text("x")
    ) == ("forbidden")
    assert await refused(c, "msg.history", conversation=conv) == "forbidden"
    assert await refused(c, "msg.read", conversation=conv, seq=1) == "forbidden"
    synced = await c.request("sync", cursors={conv: 1})
    assert synced["gone"] == [conv] and synced["cursors"][conv] == 1
    assert conv not in {r["conversation"] for r in (await c.request("conv.list"))["conversations"]}
    await post(a, conv, "after")
    await assert_nothing(c, "msg.new")
    assert await last_seq(a, conv) == 2  # the refused send stored nothing


async def test_mutes_hold_on_every_send(new_user, connect, client, password) -> None:
    conv, group_id, _, a, (bob, carol), (b, c), _ = await team(new_user, connect, client, password)
    until = int(time.time() * 1000) + 3_600_000
    await a.request("group.set_role", group_id=group_id, user=bob, role="admin")
    await a.request("group.mute", group_id=group_id, user=carol, until=until)

    assert await refused(
        c, "msg.send", conversation=conv, client_msg_id="m1", content=text("x")
    ) == ("forbidden")
    await a.request("group.mute", group_id=group_id, user=carol, until=0)
    assert (await post(c, conv, "free again"))["seq"] == 1

    await a.request("group.mute", group_id=group_id, until=until)  # the whole group
    assert await refused(
        c, "msg.send", conversation=conv, client_msg_id="m2", content=text("x")
    ) == ("forbidden")
    assert (await post(b, conv, "admins still speak"))["seq"] == 2
    assert (await post(a, conv, "so does the owner"))["seq"] == 3
    assert await last_seq(c, conv) == 3  # muted members still read


async def test_moderators_recall_any_message_members_only_their_own(
    new_user, connect, client, password
) -> None:
    conv, group_id, _, a, (bob, _carol), (b, c), _ = await team(new_user, connect, client, password)
    await a.request("group.set_role", group_id=group_id, user=bob, role="admin")
    await post(c, conv, "carol's")
    await post(a, conv, "alice's")

    assert await refused(c, "msg.recall", conversation=conv, seq=2) == "forbidden"
    assert await refused(c, "msg.edit", conversation=conv, seq=2, content=text("x")) == "forbidden"
    await b.request("msg.recall", conversation=conv, seq=1)  # an admin, someone else's message
    recalled = await c.next_event("msg.recalled")
    assert (recalled["conversation"], recalled["seq"]) == (conv, 1)
    page = await c.request("msg.history", conversation=conv)
    by_seq = {m["seq"]: m for m in page["messages"]}
    assert by_seq[1].get("recalled") is True and "content" not in by_seq[1]
    assert by_seq[2]["content"] == text("alice's")


async def test_members_download_a_groups_file_outsiders_and_the_kicked_do_not(
    new_user, connect, client, password
) -> None:
    conv, group_id, _, a, (_bob, carol), (b, c), _ = await team(new_user, connect, client, password)
    _, _, outsider_session = await new_user()
    o = await connect(outsider_session)
    grant = await uploaded(a)
    await a.request(
        "msg.send", conversation=conv, client_msg_id="file-1", content=file_content(grant)
    )

    answer = await c.request("media.download_url", object_key=grant["object_key"])
    assert (await http("GET", answer["url"]))[0] == 200
    assert await refused(o, "media.download_url", object_key=grant["object_key"]) == "not_found"
    await a.request("group.kick", group_id=group_id, user=carol)
    assert await refused(c, "media.download_url", object_key=grant["object_key"]) == "not_found"
    assert (await b.request("media.download_url", object_key=grant["object_key"]))["url"]


async def test_rename_reaches_the_members(new_user, connect, client, password) -> None:
    _, group_id, _, a, (_bob, _carol), (b, c), _ = await team(new_user, connect, client, password)

    await a.request("group.rename", group_id=group_id, name="Ops")

    event = await next_group_event(c, "renamed")
    assert (event["name"], event["group_id"]) == ("Ops", group_id)
    assert (await b.request("group.info", group_id=group_id))["group"]["name"] == "Ops"
    assert await refused(c, "group.rename", group_id=group_id, name="mine") == "forbidden"


async def test_authorization_matrix(new_user, connect, client, password) -> None:
    """Each refusal with its code, and afterwards nothing has changed."""
    conv, group_id, alice, a, (bob, carol), (b, c), _ = await team(
        new_user, connect, client, password
    )
    _, outsider, outsider_session = await new_user()
    o = await connect(outsider_session)
    await post(a, conv, "first")
    await b.request("block", user=outsider)
    until = int(time.time() * 1000) + 3_600_000
    await a.request("group.mute", group_id=group_id, user=carol, until=until)
    before = await a.request("group.members", group_id=group_id)
    grant = await uploaded(a)

    cases = [
        # (who, request, fields, code)
        (
            o,
            "msg.send",
            {"conversation": conv, "client_msg_id": "x1", "content": text("x")},
            "forbidden",
        ),
        (o, "msg.history", {"conversation": conv}, "forbidden"),
        (o, "msg.read", {"conversation": conv, "seq": 1}, "forbidden"),
        (o, "msg.recall", {"conversation": conv, "seq": 1}, "forbidden"),
        (o, "typing", {"conversation": conv}, "not_found"),
        (o, "group.info", {"group_id": group_id}, "not_found"),
        (o, "group.invite", {"group_id": group_id, "users": [outsider]}, "not_found"),
        (o, "media.download_url", {"object_key": grant["object_key"]}, "not_found"),
        (o, "msg.send", {"to": bob, "client_msg_id": "x2", "content": text("x")}, "forbidden"),
        (b, "msg.send", {"to": outsider, "client_msg_id": "x3", "content": text("x")}, "forbidden"),
        (
            c,
            "msg.send",
            {"conversation": conv, "client_msg_id": "x4", "content": text("x")},
            "forbidden",
        ),
        (c, "group.kick", {"group_id": group_id, "user": bob}, "forbidden"),
        (c, "group.invite", {"group_id": group_id, "users": [outsider]}, "forbidden"),
        (c, "group.mute", {"group_id": group_id, "until": until}, "forbidden"),
        (c, "group.set_role", {"group_id": group_id, "user": bob, "role": "admin"}, "forbidden"),
        (c, "group.dissolve", {"group_id": group_id}, "forbidden"),
        (c, "group.rename", {"group_id": group_id, "name": "x"}, "forbidden"),
        (c, "msg.recall", {"conversation": conv, "seq": 1}, "forbidden"),
        (b, "group.transfer", {"group_id": group_id, "user": carol}, "forbidden"),
        (
            a,
            "msg.send",
            {"conversation": "g:nosuchgroup", "client_msg_id": "x5", "content": text("x")},
            "not_found",
        ),
    ]
    codes = [await refused(who, frame, **fields) for who, frame, fields, _ in cases]

    assert codes == [code for *_, code in cases]
    assert await last_seq(a, conv) == 1
    assert await a.request("group.members", group_id=group_id) == {**before, "id": ANY_ID}
    info = (await b.request("group.info", group_id=group_id))["group"]
    assert (info["name"], info["owner"], info["member_count"], info["muted_all"]) == (
        "team",
        alice,
        3,
        False,
    )


class _AnyId:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)


ANY_ID = _AnyId()


async def test_an_open_group_lets_any_member_invite(new_user, connect) -> None:
    made = [await new_user() for _ in range(4)]
    a, b, c, d = [await connect(session) for _, _, session in made]
    bob, carol, dave = (user_id for _, user_id, _ in made[1:])
    created = await a.request("group.create", name="open", members=[bob], anyone_invites=True)
    group_id = created["group_id"]

    await b.request("group.invite", group_id=group_id, users=[carol])
    assert (await next_group_event(c, "joined"))["users"] == [carol]
    await a.request("group.settings", group_id=group_id, anyone_invites=False)
    assert (await next_group_event(b, "settings"))["anyone_invites"] is False
    assert await refused(b, "group.invite", group_id=group_id, users=[dave]) == "forbidden"
    assert (await d.request("conv.list"))["conversations"] == []
