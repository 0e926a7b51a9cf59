"""media.download_url for objects sent in a group: any current member may read them; an
outsider, a kicked member or anyone after a dissolve gets not_found, as for an unknown key."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.group.handler import create_function as create_group
from imfaas.functions.media.tests.conftest import call
from imfaas.functions.store.handler import create_function as create_store
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, reply_frame

USERS = ("ua", "ub", "uc", "ud")
BODY = b"group-bytes"
META = {"name": "p.png", "size": len(BODY), "mime": "image/png"}


class Group:
    """A group made through the group function (on the media function's ports)."""

    def __init__(self, env: Any, group_id: str = "") -> None:
        self.fn = create_group(env.settings, env.ports)
        self.group_id = group_id
        self.conversation = f"g:{group_id}"

    async def change(self, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
        frame = {"type": f"group.{kind}", "id": "g", **fields}
        if self.group_id:  # every request but group.create
            frame["group_id"] = self.group_id
        reply = await reply_frame(self.fn.handle, frame, identity(actor))
        assert reply is not None and reply["type"] == f"group.{kind}.ok", reply
        return reply


@pytest.fixture
async def group(env) -> Group:
    """Owner ua, members ub and uc; ud exists but is not a member."""
    for user in USERS:
        await env.ports.users.create_user(UserRecord(user, "name-" + user, "x", 0))
    created = await Group(env).change("ua", "create", name="t", members=["ub", "uc"])
    return Group(env, created["group_id"])


async def uploaded(env, user: str = "ub") -> str:
    """``user`` uploads BODY; the object key."""
    reply = await env.ask(user, {"type": "media.upload_url", **META})
    assert reply["type"] == "media.upload_url.ok", reply
    assert (await call("PUT", reply["url"], BODY, reply["headers"]))[0] == 200
    return reply["object_key"]


async def download(env, user: str, key: str) -> dict[str, Any]:
    return await env.ask(user, {"type": "media.download_url", "object_key": key})


async def assert_readable(env, user: str, key: str) -> None:
    answer = await download(env, user, key)
    assert answer["type"] == "media.download_url.ok", answer
    assert await call("GET", answer["url"]) == (200, BODY)


async def assert_hidden(env, user: str, key: str) -> None:
    """Refused exactly as a key that was never used."""
    answer = await download(env, user, key)
    assert answer == await download(env, user, "0" * 32)
    assert (answer["type"], answer["code"]) == ("error", "not_found")


async def test_every_member_reads_an_object_sent_in_the_group(env, group):
    key = await uploaded(env)
    await env.ports.media.add_reference(key, group.conversation)

    for member in ("ua", "ub", "uc"):
        await assert_readable(env, member, key)
    await assert_hidden(env, "ud", key)


async def test_a_file_sent_through_the_store_is_readable_by_the_members(env, group):
    key = await uploaded(env, "uc")
    await assert_hidden(env, "ua", key)  # no message names it yet
    store = create_store(env.settings, env.ports)
    data = {
        "conversation": group.conversation,
        "sender": "uc",
        "sender_device": "dc1",
        "client_msg_id": "cm-1",
        "content": {"kind": "file", "object_key": key, **META},
        "submitted_ts": 0,
        "reply_to": {"node": "gw-test", "conn": "c1", "request_id": "r1"},
    }

    await store.handle(new_event(catalog.MESSAGE_SUBMITTED, "/test", data))

    await assert_readable(env, "ua", key)
    await assert_readable(env, "ub", key)
    await assert_hidden(env, "ud", key)


async def test_a_kicked_member_can_no_longer_read(env, group):
    key = await uploaded(env)
    await env.ports.media.add_reference(key, group.conversation)
    await assert_readable(env, "uc", key)

    await group.change("ua", "kick", user="uc")

    await assert_hidden(env, "uc", key)
    await assert_readable(env, "ua", key)


async def test_a_member_who_left_can_no_longer_read(env, group):
    key = await uploaded(env, "ua")
    await env.ports.media.add_reference(key, group.conversation)
    await assert_readable(env, "ub", key)

    await group.change("ub", "leave")

    await assert_hidden(env, "ub", key)


async def test_a_member_invited_later_reads_what_was_sent_before(env, group):
    key = await uploaded(env)
    await env.ports.media.add_reference(key, group.conversation)
    await assert_hidden(env, "ud", key)

    await group.change("ua", "invite", users=["ud"])

    await assert_readable(env, "ud", key)


async def test_after_a_dissolve_only_the_uploader_reads(env, group):
    key = await uploaded(env, "ub")
    await env.ports.media.add_reference(key, group.conversation)

    await group.change("ua", "dissolve")

    await assert_hidden(env, "ua", key)
    await assert_hidden(env, "uc", key)
    await assert_readable(env, "ub", key)


async def test_a_direct_reference_still_grants_after_the_group_is_gone(env, group):
    key = await uploaded(env, "ub")
    await env.ports.media.add_reference(key, group.conversation)
    await env.ports.media.add_reference(key, "d:ub:uc")

    await group.change("ua", "dissolve")

    await assert_readable(env, "uc", key)
    await assert_hidden(env, "ua", key)


async def test_an_unknown_group_reference_grants_nothing(env, group):
    key = await uploaded(env, "ub")
    await env.ports.media.add_reference(key, "g:nosuch")

    await assert_hidden(env, "ua", key)
    await assert_readable(env, "ub", key)
