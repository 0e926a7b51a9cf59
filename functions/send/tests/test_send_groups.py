"""msg.send to a group conversation: membership, member and whole-group mutes, and that a
change made through the group function is enforced on the very next send."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.functions.group.handler import create_function as create_group
from imfaas.functions.send import handler as send_handler
from imfaas.shared.ports.media_registry import MediaUpload
from imfaas.shared.testing import identity, reply_frame

NOW_MS = 1_800_000_000_000
TEXT = {"kind": "text", "text": "hi all"}
MEMBERS = ("ua", "ub", "uc", "ud")


@pytest.fixture
def clock(monkeypatch) -> list[int]:
    """The send function's clock, in ms (whole seconds only: exact as floats)."""
    now = [NOW_MS]
    monkeypatch.setattr(send_handler, "time", SimpleNamespace(time=lambda: now[0] / 1000))
    return now


class Setup:
    """A send function and the group function on the same ports (one shared cache)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.group_fn = create_group(env.settings, env.ports)
        self.group_id = ""

    @property
    def conversation(self) -> str:
        return f"g:{self.group_id}"

    async def group(self, user: str, frame: dict[str, Any]) -> dict[str, Any]:
        """A group request that must succeed; its events are dropped."""
        who = identity(user, conn_id="cg")
        reply = await reply_frame(self.group_fn.handle, {"id": "g1", **frame}, who)
        assert reply is not None and reply["type"].endswith(".ok"), reply
        self.env.bus.published.clear()
        return reply

    async def create(self, owner: str = "ua", members: tuple[str, ...] = ("ub", "uc")) -> None:
        frame = {"type": "group.create", "name": "team", "members": list(members)}
        self.group_id = (await self.group(owner, frame))["group_id"]

    async def change(self, actor: str, kind: str, **fields: Any) -> None:
        await self.group(actor, {"type": f"group.{kind}", "group_id": self.group_id, **fields})

    async def send(self, user: str, request_id: str = "r1", **fields: Any):
        frame = {
            "type": "msg.send",
            "id": request_id,
            "conversation": self.conversation,
            "client_msg_id": f"cm-{request_id}",
            "content": TEXT,
            **fields,
        }
        who = identity(user, "d-" + user, "conn-" + user, node_id="gw-7")
        return await reply_frame(self.env.fn.handle, frame, who)

    def submitted(self) -> list[tuple[dict[str, Any], str]]:
        return self.env.bus.data_and_keys(catalog.MESSAGE_SUBMITTED)

    async def accepted(self, user: str, request_id: str = "r1") -> dict[str, Any]:
        """``user``'s send is published (and nothing else); its data."""
        assert await self.send(user, request_id) is None
        [(data, key)] = self.submitted()
        assert key == self.conversation
        assert len(self.env.bus.published) == 1
        self.env.bus.published.clear()
        return data

    async def refused(self, user: str, code: str) -> None:
        """``user``'s send gets ``code`` and nothing is published."""
        reply = await self.send(user, "r-no")
        assert reply is not None, "the send was accepted"
        assert (reply["type"], reply["code"], reply["id"]) == ("error", code, "r-no")
        assert reply["message"]
        assert self.env.bus.published == []


@pytest.fixture
async def setup(make_send, clock) -> Setup:
    """Users ua..ud; group ``team`` of owner ua with members ub and uc (ud is an outsider)."""
    env = await make_send(users=MEMBERS)
    s = Setup(env)
    await s.create()
    return s


# -- who may post -----------------------------------------------------------------------


async def test_a_member_posts_one_submitted_event_keyed_by_the_group(setup):
    assert await setup.send("ub", "req-3") is None

    [(data, key)] = setup.submitted()
    assert key == setup.conversation
    assert setup.env.bus.published[0][0]["subject"] == setup.conversation
    assert data == {
        "conversation": setup.conversation,
        "sender": "ub",
        "sender_device": "d-ub",
        "client_msg_id": "cm-req-3",
        "content": TEXT,
        "submitted_ts": NOW_MS,
        "reply_to": {"node": "gw-7", "conn": "conn-ub", "request_id": "req-3"},
    }


@pytest.mark.parametrize("user", ["ua", "ub", "uc"], ids=["owner", "member", "member2"])
async def test_every_member_may_post(setup, user):
    data = await setup.accepted(user)
    assert data["sender"] == user


async def test_an_outsider_of_an_existing_group_is_forbidden(setup):
    await setup.refused("ud", "forbidden")


async def test_an_unknown_group_is_not_found(setup):
    setup.group_id = "gnosuchgroup"
    await setup.refused("ua", "not_found")


async def test_a_group_send_needs_no_direct_message_rules(make_send, clock):
    # Strangers who block each other may still talk in a group they share.
    env = await make_send(users=MEMBERS, direct_message_policy="friends")
    s = Setup(env)
    await s.create()
    await env.ports.relations.block("ub", "uc")

    assert (await s.accepted("uc"))["conversation"] == s.conversation


# -- mutes ------------------------------------------------------------------------------


async def test_a_muted_member_is_forbidden_until_the_mute_ends(setup, clock):
    until = NOW_MS + 60_000
    await setup.change("ua", "mute", user="ub", until=until)

    await setup.refused("ub", "forbidden")
    await setup.accepted("uc")  # the others still post
    await setup.accepted("ua")
    clock[0] = until - 1000
    await setup.refused("ub", "forbidden")
    clock[0] = until  # muted_until is exclusive
    assert (await setup.accepted("ub"))["submitted_ts"] == until


async def test_lifting_a_member_mute_lets_them_post_again(setup):
    await setup.change("ua", "mute", user="ub", until=NOW_MS + 3_600_000)
    await setup.refused("ub", "forbidden")

    await setup.change("ua", "mute", user="ub", until=0)

    await setup.accepted("ub")


async def test_a_muted_admin_is_forbidden_even_while_moderators_may_post(setup):
    await setup.change("ua", "set_role", user="ub", role="admin")
    await setup.change("ua", "mute", until=NOW_MS + 60_000)  # the whole group
    await setup.change("ua", "mute", user="ub", until=NOW_MS + 60_000)

    await setup.refused("ub", "forbidden")
    await setup.accepted("ua")


@pytest.mark.parametrize(
    ("user", "allowed"),
    [("ua", True), ("ub", True), ("uc", False)],
    ids=["owner", "admin", "member"],
)
async def test_a_muted_group_lets_only_the_owner_and_admins_post(setup, user, allowed):
    await setup.change("ua", "set_role", user="ub", role="admin")
    await setup.change("ub", "mute", until=NOW_MS + 60_000)

    if allowed:
        assert (await setup.accepted(user))["sender"] == user
    else:
        await setup.refused(user, "forbidden")


async def test_a_group_mute_ends_at_its_time_or_when_lifted(setup, clock):
    await setup.change("ua", "mute", until=NOW_MS + 10_000)
    await setup.refused("uc", "forbidden")

    clock[0] = NOW_MS + 10_000
    await setup.accepted("uc")
    clock[0] = NOW_MS
    await setup.refused("uc", "forbidden")
    await setup.change("ua", "mute", until=0)
    await setup.accepted("uc")


async def test_promotion_and_demotion_are_seen_by_the_next_send(setup):
    await setup.change("ua", "mute", until=NOW_MS + 60_000)
    await setup.refused("uc", "forbidden")

    await setup.change("ua", "set_role", user="uc", role="admin")
    await setup.accepted("uc")
    await setup.change("ua", "set_role", user="uc", role="member")
    await setup.refused("uc", "forbidden")


# -- membership changes through the group function --------------------------------------


async def test_a_kicked_member_is_forbidden_on_the_next_send(setup):
    await setup.accepted("uc")  # the snapshot is now cached in this process

    await setup.change("ua", "kick", user="uc")

    await setup.refused("uc", "forbidden")
    await setup.accepted("ub")


async def test_a_member_who_left_is_forbidden_on_the_next_send(setup):
    await setup.accepted("ub")

    await setup.group("ub", {"type": "group.leave", "group_id": setup.group_id})

    await setup.refused("ub", "forbidden")


async def test_an_invited_user_may_post_at_once(setup):
    await setup.refused("ud", "forbidden")  # cached: ud is not a member

    await setup.change("ua", "invite", users=["ud"])

    assert (await setup.accepted("ud"))["sender"] == "ud"


async def test_a_dissolved_group_is_not_found(setup):
    await setup.accepted("ub")

    await setup.change("ua", "dissolve")

    await setup.refused("ub", "not_found")
    await setup.refused("ua", "not_found")


async def test_the_new_owner_after_a_transfer_posts_in_a_muted_group(setup):
    await setup.change("ua", "mute", until=NOW_MS + 60_000)
    await setup.change("ua", "transfer", user="uc")

    await setup.accepted("uc")
    await setup.accepted("ua")  # the old owner is an admin now


# -- content ----------------------------------------------------------------------------


FILE = {"kind": "file", "object_key": "k-1", "name": "a.png", "size": 10, "mime": "image/png"}


async def test_a_file_must_be_the_senders_own_upload_in_a_group_too(setup):
    await setup.env.ports.media.record_upload(MediaUpload("k-1", "ub", "a.png", 10, "image/png", 0))

    reply = await setup.send("uc", "r-no", content=FILE)
    assert (reply["type"], reply["code"]) == ("error", "not_found")
    assert setup.env.bus.published == []
    assert await setup.send("ub", "r2", content=FILE) is None
    [(data, _)] = setup.submitted()
    assert data["content"] == FILE


async def test_a_malformed_group_id_is_bad_request(setup):
    setup.group_id = "a:b"
    await setup.refused("ua", "bad_request")
