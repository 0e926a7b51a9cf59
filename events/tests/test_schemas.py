"""The JSON Schemas under events/schemas: well formed, linked, and true to the client protocol.

Every schema file is loaded into one `referencing.Registry` keyed by its `$id`, so the tests
resolve `$ref`s between files exactly as a consumer would, without network access. The good and
bad instances come from the client protocol (version 1); each bad one changes a good one in a
single way, so it fails for the reason its test id names.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*/*.json"))
BASE_URI = "https://imfaas.dev/schemas/"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Frame types of protocol sections 2 and 3 (requests, replies and events), and the HTTP bodies of 1.
PROTOCOL_FRAMES = [
    "auth", "auth.ok", "error", "ping", "pong",
    "msg.send", "msg.ack", "msg.new", "sync", "sync.result", "msg.history", "msg.history.result",
    "conv.list", "conv.list.result", "msg.read", "msg.read.ok", "receipt",
    "msg.recall", "msg.recall.ok", "msg.recalled", "msg.edit", "msg.edit.ok", "msg.edited",
    "typing", "typing.ok", "kicked",
]  # fmt: skip
HTTP_BODIES = [
    "register.request", "register.response", "login.request", "login.response",
    "token_refresh.request", "error.response",
]  # fmt: skip
EVENT_DATA = [
    "message.submitted", "message.stored", "push.requested", "session.revoked",
    "gateway.delivery", "client.request", "reply", "http.response",
]  # fmt: skip


def schema_name(path: Path) -> str:
    """'frames/msg.send' for events/schemas/frames/msg.send.json."""
    return f"{path.parent.name}/{path.stem}"


def load_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file by name; raises on a file that is not JSON."""
    return {schema_name(path): json.loads(path.read_text("utf-8")) for path in SCHEMA_FILES}


SCHEMAS = load_schemas()
SHARED = {"frames/defs"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    """All schemas, keyed by `$id`; an unknown reference raises instead of being fetched."""
    resources = [(schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values()]
    return Registry().with_resources(resources)


def validator(name: str, registry: Registry) -> Draft202012Validator:
    """A validator for the named schema that resolves references through the registry."""
    return Draft202012Validator(SCHEMAS[name], registry=registry)


def without(instance: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A copy of the instance without the keys."""
    return {key: value for key, value in instance.items() if key not in keys}


def having(instance: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of the instance with the fields set."""
    return {**instance, **fields}


# ------------------------------------------------------------------ building blocks
DIRECT = "d:alice:bob"
GROUP = "g:team42"
TEXT = {"kind": "text", "text": "hello"}
FILE = {
    "kind": "file",
    "object_key": "u/alice/7f3a",
    "name": "cat.png",
    "size": 48213,
    "mime": "image/png",
}
CIPHER = {"kind": "cipher", "alg": "x3dh+aes-256-gcm", "ciphertext": "q83vEjRW", "nonce": "AAEC"}
MESSAGE = {
    "conversation": DIRECT,
    "seq": 1,
    "msg_id": "01HZX3",
    "sender": "alice",
    "sender_device": "phone-1",
    "client_msg_id": "c-1",
    "ts": 1_700_000_000_000,
    "content": TEXT,
}
RECALLED = having(without(MESSAGE, "content"), seq=2, recalled=True)
EDITED = having(MESSAGE, seq=3, edited=True, content={"kind": "text", "text": "hello again"})
REPLY_TO = {"node": "gw-0", "conn": "c17", "request_id": "r-9"}
TOO_LONG_ID = "x" * 129

# frames, section 2
AUTH = {"type": "auth", "id": "1", "token": "eyJhbGciOiJFZERTQSJ9.e30.sig"}
AUTH_OK = {"type": "auth.ok", "id": "1", "user_id": "alice", "device_id": "phone-1"}
ERROR = {"type": "error", "id": "1", "code": "unauthorized", "message": "token expired"}
PING = {"type": "ping", "id": "p1"}
PONG = {"type": "pong", "id": "p1"}
# frames, section 3
MSG_SEND = {"type": "msg.send", "id": "2", "to": "bob", "client_msg_id": "c-1", "content": TEXT}
MSG_SEND_CONV = having(without(MSG_SEND, "to"), conversation=GROUP, content=FILE)
MSG_ACK = {
    "type": "msg.ack",
    "id": "2",
    "conversation": DIRECT,
    "seq": 1,
    "msg_id": "01HZX3",
    "ts": 1_700_000_000_000,
    "client_msg_id": "c-1",
}
MSG_NEW = {"type": "msg.new", "message": MESSAGE}
SYNC = {"type": "sync", "id": "3", "cursors": {DIRECT: 4, GROUP: 0}, "limit": 100}
SYNC_RESULT = {
    "type": "sync.result",
    "id": "3",
    "messages": [MESSAGE, RECALLED, EDITED],
    "cursors": {DIRECT: 3, GROUP: 0},
    "has_more": False,
}
MSG_HISTORY = {
    "type": "msg.history",
    "id": "4",
    "conversation": DIRECT,
    "before_seq": 10,
    "limit": 20,
}
MSG_HISTORY_RESULT = {
    "type": "msg.history.result",
    "id": "4",
    "messages": [EDITED, RECALLED],
    "has_more": True,
}
CONV_LIST = {"type": "conv.list", "id": "5"}
SUMMARY = {
    "conversation": DIRECT,
    "last_seq": 3,
    "read_seq": 1,
    "unread": 1,
    "last_message": EDITED,
}
EMPTY_GROUP = {
    "conversation": GROUP,
    "last_seq": 0,
    "read_seq": 0,
    "unread": 0,
    "last_message": None,
}
CONV_LIST_RESULT = {"type": "conv.list.result", "id": "5", "conversations": [SUMMARY, EMPTY_GROUP]}
MSG_READ = {"type": "msg.read", "id": "6", "conversation": DIRECT, "seq": 3}
MSG_READ_OK = {"type": "msg.read.ok", "id": "6"}
RECEIPT = {"type": "receipt", "conversation": DIRECT, "user": "bob", "seq": 3}
MSG_RECALL = {"type": "msg.recall", "id": "7", "conversation": DIRECT, "seq": 2}
MSG_RECALL_OK = {"type": "msg.recall.ok", "id": "7"}
MSG_RECALLED = {"type": "msg.recalled", "conversation": DIRECT, "seq": 2}
MSG_EDIT = {"type": "msg.edit", "id": "8", "conversation": DIRECT, "seq": 3, "content": TEXT}
MSG_EDIT_OK = {"type": "msg.edit.ok", "id": "8"}
MSG_EDITED = {"type": "msg.edited", "conversation": DIRECT, "seq": 3, "content": TEXT}
TYPING = {"type": "typing", "id": "9", "conversation": GROUP}
TYPING_EVENT = {"type": "typing", "conversation": GROUP, "user": "bob"}
TYPING_OK = {"type": "typing.ok", "id": "9"}
KICKED = {"type": "kicked", "reason": "signed in on another phone"}
# frames, section 4
FRIEND_LIST_OK = {
    "type": "friend.list.ok",
    "id": "10",
    "friends": ["bob"],
    "pending_in": ["dave"],
    "pending_out": ["carol"],
    "blocked": ["mallory"],
}
GROUP_INFO_OK = {
    "type": "group.info.ok",
    "id": "11",
    "group": {
        "group_id": "team42",
        "name": "Team",
        "owner": "alice",
        "member_count": 3,
        "muted_all": False,
    },
}
GROUP_MEMBERS_OK = {
    "type": "group.members.ok",
    "id": "12",
    "members": [
        {"user": "alice", "role": "owner", "muted_until": 0},
        {"user": "bob", "role": "member", "muted_until": 1_700_000_600_000},
    ],
    "next": "bob",
}
UPLOAD_URL_OK = {
    "type": "media.upload_url.ok",
    "id": "13",
    "object_key": "u/alice/7f3a",
    "url": "https://s3.example.com/media/u/alice/7f3a?X-Amz-Signature=ab",
    "method": "PUT",
    "headers": {"Content-Type": "image/png"},
}
PRESENCE = {
    "type": "presence",
    "user": "bob",
    "status": "offline",
    "ts": 1_700_000_000_000,
    "last_seen": 1_699_999_990_000,
}

# HTTP bodies, section 1
REGISTER = {"username": "alice.w_1", "password": "correct horse"}
LOGIN = {
    "username": "alice.w_1",
    "password": "correct horse",
    "device_id": "phone-1",
    "platform": "ios",
}
LOGIN_RESPONSE = {
    "access_token": "eyJ.a.b",
    "refresh_token": "rt-1",
    "expires_in": 900,
    "user_id": "alice",
    "device_id": "phone-1",
    "ws_url": "wss://gw-0.imfaas.dev/v1/ws",
}
HTTP_ERROR = {"error": {"code": "conflict", "message": "username taken"}}

# internal event data
SUBMITTED = {
    "conversation": DIRECT,
    "sender": "alice",
    "sender_device": "phone-1",
    "client_msg_id": "c-1",
    "content": TEXT,
    "submitted_ts": 1_700_000_000_000,
    "reply_to": REPLY_TO,
}
PUSH_JOB = {
    "key": "01HZX3:d1",
    "user": "bob",
    "device": "d1",
    "provider": "apns",
    "token": "a" * 64,
    "notification": {
        "title": "New message",
        "body": None,
        "conversation": "d:alice:bob",
        "seq": 1,
        "badge": 2,
    },
    "attempt": 0,
    "not_before": 0,
}
STORED = {"message": MESSAGE, "duplicate": False, "reply_to": REPLY_TO, "members": ["alice", "bob"]}
PUSH = {"message": MESSAGE, "users": ["bob"]}
SOCKET_UP = {
    "user": "alice",
    "device": "phone-1",
    "node": "gw-1",
    "conn": "c17",
    "state": "up",
    "ts": 1_700_000_000_000,
}
REVOKED = {
    "user": "alice",
    "device": "phone-1",
    "session": "s-1",
    "close_code": 4409,
    "reason": "kicked",
}
NOTIFIED = {
    "users": ["alice", "bob"],
    "frame": {"type": "receipt", "conversation": "d:alice:bob", "user": "bob", "seq": 3},
    "skip": {"node": "gw-1", "conn": "c-7"},
}
DELIVERY = {
    "items": [
        {"conn": "c17", "frame": MSG_NEW},
        {"conn": "c18", "frame": KICKED, "close": 4409},
        {"conn": "c19", "close": 1012},
    ]
}

GOOD: list[tuple[str, Any]] = [
    # section 2
    ("frames/auth", AUTH),
    ("frames/auth.ok", AUTH_OK),
    ("frames/error", ERROR),
    ("frames/error", {"type": "error", "code": "bad_request", "message": "not JSON"}),
    ("frames/ping", PING),
    ("frames/pong", PONG),
    # section 3
    ("frames/msg.send", MSG_SEND),
    ("frames/msg.send", MSG_SEND_CONV),
    ("frames/msg.send", having(MSG_SEND, content=CIPHER)),
    ("frames/msg.send", having(MSG_SEND, content={"kind": "text", "text": "é" * 16384})),
    ("frames/msg.ack", MSG_ACK),
    ("frames/msg.new", MSG_NEW),
    ("frames/msg.new", {"type": "msg.new", "message": having(MESSAGE, content=FILE)}),
    ("frames/msg.new", {"type": "msg.new", "message": having(RECALLED, conversation=GROUP)}),
    ("frames/sync", SYNC),
    ("frames/sync", {"type": "sync", "id": "3", "cursors": {}}),
    ("frames/sync.result", SYNC_RESULT),
    ("frames/sync.result", having(SYNC_RESULT, messages=[], cursors={})),
    ("frames/msg.history", MSG_HISTORY),
    ("frames/msg.history", {"type": "msg.history", "id": "4", "conversation": GROUP}),
    ("frames/msg.history.result", MSG_HISTORY_RESULT),
    ("frames/conv.list", CONV_LIST),
    ("frames/conv.list.result", CONV_LIST_RESULT),
    ("frames/conv.list.result", having(CONV_LIST_RESULT, conversations=[])),
    ("frames/msg.read", MSG_READ),
    ("frames/msg.read.ok", MSG_READ_OK),
    ("frames/receipt", RECEIPT),
    ("frames/msg.recall", MSG_RECALL),
    ("frames/msg.recall.ok", MSG_RECALL_OK),
    ("frames/msg.recalled", MSG_RECALLED),
    ("frames/msg.edit", MSG_EDIT),
    ("frames/msg.edit.ok", MSG_EDIT_OK),
    ("frames/msg.edited", MSG_EDITED),
    ("frames/typing", TYPING),
    ("frames/typing", TYPING_EVENT),
    ("frames/typing.ok", TYPING_OK),
    ("frames/kicked", KICKED),
    # section 4
    ("frames/friend.request", {"type": "friend.request", "id": "10", "user": "bob"}),
    (
        "frames/friend.request",
        {"type": "friend.request", "id": "10", "user": "bob", "message": "hi, it's Alice"},
    ),
    ("frames/friend.request.ok", {"type": "friend.request.ok", "id": "10"}),
    ("frames/friend.accept", {"type": "friend.accept", "id": "10", "user": "alice"}),
    ("frames/friend.accept.ok", {"type": "friend.accept.ok", "id": "10"}),
    ("frames/friend.remove", {"type": "friend.remove", "id": "10", "user": "bob"}),
    ("frames/friend.remove.ok", {"type": "friend.remove.ok", "id": "10"}),
    ("frames/block", {"type": "block", "id": "10", "user": "mallory"}),
    ("frames/block.ok", {"type": "block.ok", "id": "10"}),
    ("frames/unblock", {"type": "unblock", "id": "10", "user": "mallory"}),
    ("frames/unblock.ok", {"type": "unblock.ok", "id": "10"}),
    ("frames/friend.list", {"type": "friend.list", "id": "10"}),
    ("frames/friend.list.ok", FRIEND_LIST_OK),
    ("frames/friend.event", {"type": "friend.event", "kind": "request", "user": "alice"}),
    ("frames/friend.event", {"type": "friend.event", "kind": "accepted", "user": "bob"}),
    (
        "frames/group.create",
        {"type": "group.create", "id": "11", "name": "Team", "members": ["bob", "carol"]},
    ),
    ("frames/group.create", {"type": "group.create", "id": "11", "name": "Just me", "members": []}),
    (
        "frames/group.create",
        {"type": "group.create", "id": "11", "name": "Open", "members": [], "anyone_invites": True},
    ),
    (
        "frames/group.create.ok",
        {"type": "group.create.ok", "id": "11", "group_id": "team42", "conversation": GROUP},
    ),
    ("frames/group.info", {"type": "group.info", "id": "11", "group_id": "team42"}),
    ("frames/group.info.ok", GROUP_INFO_OK),
    ("frames/group.members", {"type": "group.members", "id": "12", "group_id": "team42"}),
    (
        "frames/group.members",
        {"type": "group.members", "id": "12", "group_id": "team42", "after": "bob", "limit": 50},
    ),
    ("frames/group.members.ok", GROUP_MEMBERS_OK),
    ("frames/group.members.ok", having(GROUP_MEMBERS_OK, next=None)),
    (
        "frames/group.invite",
        {"type": "group.invite", "id": "12", "group_id": "team42", "users": ["dave"]},
    ),
    ("frames/group.invite.ok", {"type": "group.invite.ok", "id": "12"}),
    ("frames/group.leave", {"type": "group.leave", "id": "12", "group_id": "team42"}),
    ("frames/group.leave.ok", {"type": "group.leave.ok", "id": "12"}),
    ("frames/group.kick", {"type": "group.kick", "id": "12", "group_id": "team42", "user": "dave"}),
    ("frames/group.kick.ok", {"type": "group.kick.ok", "id": "12"}),
    (
        "frames/group.set_role",
        {
            "type": "group.set_role",
            "id": "12",
            "group_id": "team42",
            "user": "bob",
            "role": "admin",
        },
    ),
    ("frames/group.set_role.ok", {"type": "group.set_role.ok", "id": "12"}),
    (
        "frames/group.mute",
        {"type": "group.mute", "id": "12", "group_id": "team42", "until": 1_700_000_600_000},
    ),
    (
        "frames/group.mute",
        {"type": "group.mute", "id": "12", "group_id": "team42", "user": "bob", "until": 0},
    ),
    ("frames/group.mute.ok", {"type": "group.mute.ok", "id": "12"}),
    (
        "frames/group.transfer",
        {"type": "group.transfer", "id": "12", "group_id": "team42", "user": "bob"},
    ),
    ("frames/group.transfer.ok", {"type": "group.transfer.ok", "id": "12"}),
    ("frames/group.dissolve", {"type": "group.dissolve", "id": "12", "group_id": "team42"}),
    ("frames/group.dissolve.ok", {"type": "group.dissolve.ok", "id": "12"}),
    ("frames/group.rename", {"type": "group.rename", "id": "13", "group_id": "t", "name": "Ops"}),
    ("frames/group.rename.ok", {"type": "group.rename.ok", "id": "13"}),
    (
        "frames/group.settings",
        {"type": "group.settings", "id": "14", "group_id": "t", "anyone_invites": True},
    ),
    ("frames/group.settings.ok", {"type": "group.settings.ok", "id": "14"}),
    (
        "frames/group.event",
        {"type": "group.event", "group_id": "team42", "kind": "joined", "users": ["bob"]},
    ),
    ("frames/group.event", {"type": "group.event", "group_id": "team42", "kind": "dissolved"}),
    (
        "frames/presence.subscribe",
        {"type": "presence.subscribe", "id": "13", "users": ["bob", "carol"]},
    ),
    (
        "frames/presence.subscribe.ok",
        {
            "type": "presence.subscribe.ok",
            "id": "13",
            "presence": {"bob": "online", "carol": "offline"},
        },
    ),
    ("frames/presence", PRESENCE),
    ("frames/presence", without(having(PRESENCE, status="online"), "last_seen")),
    (
        "frames/media.upload_url",
        {
            "type": "media.upload_url",
            "id": "13",
            "name": "cat.png",
            "size": 48213,
            "mime": "image/png",
        },
    ),
    ("frames/media.upload_url.ok", UPLOAD_URL_OK),
    (
        "frames/media.download_url",
        {"type": "media.download_url", "id": "13", "object_key": "u/alice/7f3a"},
    ),
    (
        "frames/media.download_url.ok",
        {
            "type": "media.download_url.ok",
            "id": "13",
            "url": "https://s3.example.com/media/u/alice/7f3a?sig=ab",
        },
    ),
    (
        "frames/device.push_token",
        {"type": "device.push_token", "id": "13", "provider": "fcm", "token": "fcm-token"},
    ),
    ("frames/device.push_token.ok", {"type": "device.push_token.ok", "id": "13"}),
    # section 1
    ("http/register.request", REGISTER),
    ("http/register.request", {"username": "bob", "password": "p" * 128}),
    ("http/register.response", {"user_id": "u_8c1f"}),
    ("http/login.request", LOGIN),
    ("http/login.request", without(LOGIN, "device_id", "platform")),
    ("http/login.response", LOGIN_RESPONSE),
    ("http/token_refresh.request", {"refresh_token": "rt-1"}),
    ("http/error.response", HTTP_ERROR),
    # internal events
    ("events/message.submitted", SUBMITTED),
    ("events/message.stored", STORED),
    ("events/message.stored", having(STORED, duplicate=True)),
    ("events/message.stored", without(STORED, "members")),
    ("events/push.requested", PUSH),
    ("events/push.task", {"user": "bob", "message": MESSAGE}),
    ("events/push.job", PUSH_JOB),
    ("events/push.dead", {**PUSH_JOB, "attempt": 8, "reason": "InternalServerError"}),
    ("frames/push.settings", {"type": "push.settings", "id": "1"}),
    (
        "frames/push.settings",
        {"type": "push.settings", "id": "1", "preview": False, "dnd": {"start": 1320, "end": 420}},
    ),
    (
        "frames/push.settings.ok",
        {"type": "push.settings.ok", "id": "1", "preview": True, "dnd": None},
    ),
    ("frames/push.mute", {"type": "push.mute", "id": "2", "conversation": "d:a:b", "until": 0}),
    ("frames/push.mute.ok", {"type": "push.mute.ok", "id": "2"}),
    ("events/session.revoked", REVOKED),
    ("events/socket.presence", SOCKET_UP),
    ("events/socket.presence", having(SOCKET_UP, state="down")),
    ("events/session.revoked", having(REVOKED, close_code=4401, reason="logout")),
    ("events/users.notified", NOTIFIED),
    ("events/users.notified", without(NOTIFIED, "skip")),
    ("events/gateway.delivery", DELIVERY),
    (
        "events/gateway.delivery",
        {
            "frames": [{"type": "msg.new", "message": MESSAGE}],
            "items": [{"conn": "c1", "ref": 0}, {"conn": "c2", "ref": 0, "close": 4409}],
        },
    ),
    ("events/client.request", MSG_SEND),
    ("events/client.request", PING),
    ("events/reply", MSG_ACK),
    ("events/reply", KICKED),
    ("events/http.response", {"status": 201, "body": {"user_id": "u_8c1f"}}),
    ("events/http.response", {"status": 204, "body": None}),
    (
        "events/http.response",
        {"status": 429, "body": HTTP_ERROR, "headers": {"Retry-After": "30"}},
    ),
]


def bad(name: str, instance: Any, why: str) -> Any:
    """One invalid instance, with a test id naming the schema and what is wrong."""
    return pytest.param(name, instance, id=f"{name}: {why}")


BAD = [
    # internal events
    bad("events/users.notified", having(NOTIFIED, users=[]), "nobody to notify"),
    bad(
        "events/users.notified",
        having(NOTIFIED, frame={"type": "receipt", "id": "r1"}),
        "a reply frame (with an id)",
    ),
    bad("events/users.notified", having(NOTIFIED, skip={"node": "gw-1"}), "skip without conn"),
    bad("events/users.notified", without(NOTIFIED, "frame"), "no frame"),
    # section 2
    bad("frames/auth", without(AUTH, "token"), "no token"),
    bad("frames/auth", without(AUTH, "id"), "no id"),
    bad("frames/auth", having(AUTH, id=""), "empty id"),
    bad("frames/auth", having(AUTH, id=TOO_LONG_ID), "id over 128 chars"),
    bad("frames/auth", having(AUTH, id=1), "numeric id"),
    bad("frames/auth", having(AUTH, type="auth.ok"), "another type"),
    bad("frames/auth.ok", without(AUTH_OK, "device_id"), "no device_id"),
    bad("frames/auth.ok", having(AUTH_OK, user_id="a:b"), "user id with a colon"),
    bad("frames/error", having(ERROR, code="oops"), "unknown code"),
    bad("frames/error", without(ERROR, "message"), "no message"),
    bad("frames/ping", without(PING, "id"), "no id"),
    bad("frames/pong", without(PONG, "id"), "no id"),
    bad("frames/pong", having(PONG, type="ping"), "ping type"),
    # section 3
    bad("frames/msg.send", without(MSG_SEND, "client_msg_id"), "no client_msg_id"),
    bad("frames/msg.send", having(MSG_SEND, client_msg_id=TOO_LONG_ID), "client_msg_id too long"),
    bad("frames/msg.send", without(MSG_SEND, "content"), "no content"),
    bad("frames/msg.send", without(MSG_SEND, "to"), "neither to nor conversation"),
    bad("frames/msg.send", having(MSG_SEND, conversation=DIRECT), "both to and conversation"),
    bad("frames/msg.send", having(MSG_SEND_CONV, conversation="x:1"), "conversation x:1"),
    bad("frames/msg.send", having(MSG_SEND_CONV, conversation="d:alice"), "direct with one user"),
    bad("frames/msg.send", having(MSG_SEND_CONV, conversation="d:a:b:c"), "direct with three"),
    bad("frames/msg.send", having(MSG_SEND_CONV, conversation="g:"), "empty group id"),
    bad("frames/msg.send", having(MSG_SEND, to="a:b"), "recipient with a colon"),
    bad(
        "frames/msg.send",
        having(MSG_SEND, content={"kind": "text", "text": "x" * 16385}),
        "text over 16384 chars",
    ),
    bad("frames/msg.send", having(MSG_SEND, content={"kind": "text"}), "text without text"),
    bad(
        "frames/msg.send",
        having(MSG_SEND, content={"kind": "video", "text": "hi"}),
        "unknown content kind",
    ),
    bad("frames/msg.send", having(MSG_SEND, content=without(FILE, "size")), "file without size"),
    bad("frames/msg.send", having(MSG_SEND, content=having(FILE, size=-1)), "negative file size"),
    bad(
        "frames/msg.send",
        having(MSG_SEND, content=without(CIPHER, "ciphertext")),
        "cipher without ciphertext",
    ),
    bad("frames/msg.send", having(MSG_SEND, content=without(CIPHER, "alg")), "cipher without alg"),
    bad("frames/msg.send", having(MSG_SEND, content="hello"), "content as a string"),
    bad("frames/msg.ack", having(MSG_ACK, seq=0), "seq 0"),
    bad("frames/msg.ack", having(MSG_ACK, seq=1.5), "fractional seq"),
    bad("frames/msg.ack", without(MSG_ACK, "msg_id"), "no msg_id"),
    bad("frames/msg.ack", having(MSG_ACK, ts="2023-11-14"), "ts as a string"),
    bad("frames/msg.ack", without(MSG_ACK, "id"), "no id"),
    bad("frames/msg.new", having(MSG_NEW, id="1"), "event with an id"),
    bad("frames/msg.new", without(MSG_NEW, "message"), "no message"),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": without(MESSAGE, "content")},
        "message without content, not recalled",
    ),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": having(RECALLED, recalled=False)},
        "recalled false without content",
    ),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": having(RECALLED, content=TEXT)},
        "recalled message with content",
    ),
    bad("frames/msg.new", {"type": "msg.new", "message": having(MESSAGE, seq=0)}, "seq 0"),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": without(MESSAGE, "sender_device")},
        "no sender_device",
    ),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": having(MESSAGE, edited="yes")},
        "edited not a boolean",
    ),
    bad(
        "frames/msg.new",
        {"type": "msg.new", "message": having(MESSAGE, recalled="no")},
        "recalled not a boolean",
    ),
    bad("frames/sync", without(SYNC, "cursors"), "no cursors"),
    bad("frames/sync", having(SYNC, cursors={"x:1": 3}), "cursor for conversation x:1"),
    bad("frames/sync", having(SYNC, cursors={DIRECT: -1}), "negative cursor"),
    bad("frames/sync", having(SYNC, cursors={DIRECT: "3"}), "cursor as a string"),
    bad("frames/sync", having(SYNC, cursors=[DIRECT, 3]), "cursors as a list"),
    bad("frames/sync", having(SYNC, limit=0), "limit 0"),
    bad("frames/sync.result", without(SYNC_RESULT, "has_more"), "no has_more"),
    bad("frames/sync.result", having(SYNC_RESULT, cursors={"x:1": 3}), "cursor for x:1"),
    bad("frames/sync.result", having(SYNC_RESULT, cursors={DIRECT: -1}), "negative cursor"),
    bad("frames/sync.result", without(SYNC_RESULT, "cursors"), "no cursors"),
    bad(
        "frames/sync.result",
        having(SYNC_RESULT, messages=[having(MESSAGE, seq=0)]),
        "message with seq 0",
    ),
    bad("frames/msg.history", without(MSG_HISTORY, "conversation"), "no conversation"),
    bad("frames/msg.history", having(MSG_HISTORY, before_seq=0), "before_seq 0"),
    bad("frames/msg.history", having(MSG_HISTORY, limit=0), "limit 0"),
    bad(
        "frames/msg.history.result",
        having(MSG_HISTORY_RESULT, messages=MESSAGE),
        "messages not a list",
    ),
    bad("frames/msg.history.result", without(MSG_HISTORY_RESULT, "has_more"), "no has_more"),
    bad("frames/conv.list", without(CONV_LIST, "id"), "no id"),
    bad("frames/conv.list.result", without(CONV_LIST_RESULT, "conversations"), "no conversations"),
    bad(
        "frames/conv.list.result",
        having(CONV_LIST_RESULT, conversations=[having(SUMMARY, unread=-1)]),
        "negative unread",
    ),
    bad(
        "frames/conv.list.result",
        having(CONV_LIST_RESULT, conversations=[without(SUMMARY, "last_message")]),
        "no last_message",
    ),
    bad(
        "frames/conv.list.result",
        having(CONV_LIST_RESULT, conversations=[having(SUMMARY, conversation="alice:bob")]),
        "conversation without prefix",
    ),
    bad("frames/msg.read", having(MSG_READ, seq=0), "seq 0"),
    bad("frames/msg.read", without(MSG_READ, "seq"), "no seq"),
    bad("frames/msg.read.ok", without(MSG_READ_OK, "id"), "no id"),
    bad("frames/receipt", without(RECEIPT, "user"), "no user"),
    bad("frames/receipt", having(RECEIPT, id="6"), "event with an id"),
    bad("frames/msg.recall", without(MSG_RECALL, "seq"), "no seq"),
    bad("frames/msg.recall", having(MSG_RECALL, conversation="x:1"), "conversation x:1"),
    bad("frames/msg.recall.ok", without(MSG_RECALL_OK, "id"), "no id"),
    bad("frames/msg.recalled", having(MSG_RECALLED, seq=0), "seq 0"),
    bad("frames/msg.recalled", having(MSG_RECALLED, id="7"), "event with an id"),
    bad("frames/msg.edit", without(MSG_EDIT, "content"), "no content"),
    bad(
        "frames/msg.edit",
        having(MSG_EDIT, content={"kind": "text", "text": "x" * 16385}),
        "text over 16384 chars",
    ),
    bad("frames/msg.edit.ok", having(MSG_EDIT_OK, type="msg.edited"), "another type"),
    bad("frames/msg.edited", without(MSG_EDITED, "content"), "no content"),
    bad("frames/msg.edited", having(MSG_EDITED, id="8"), "event with an id"),
    bad("frames/typing", without(TYPING, "conversation"), "request without conversation"),
    bad("frames/typing", without(TYPING, "id"), "neither id nor user"),
    bad("frames/typing", having(TYPING_EVENT, user="a:b"), "event user with a colon"),
    bad("frames/typing", having(TYPING, conversation="x:1"), "conversation x:1"),
    bad("frames/typing.ok", without(TYPING_OK, "id"), "no id"),
    bad("frames/kicked", without(KICKED, "reason"), "no reason"),
    bad("frames/kicked", having(KICKED, id="1"), "event with an id"),
    # section 4
    bad("frames/friend.request", {"type": "friend.request", "id": "10"}, "no user"),
    bad("frames/friend.request.ok", {"type": "friend.request.ok"}, "no id"),
    bad("frames/friend.accept", {"type": "friend.accept", "id": "10"}, "no user"),
    bad("frames/friend.accept.ok", {"type": "friend.accept.ok"}, "no id"),
    bad("frames/friend.remove", {"type": "friend.remove", "id": "10", "user": ""}, "empty user"),
    bad("frames/friend.remove.ok", {"type": "friend.remove.ok"}, "no id"),
    bad("frames/block", {"type": "block", "id": "10"}, "no user"),
    bad("frames/block.ok", {"type": "block.ok"}, "no id"),
    bad("frames/unblock", {"type": "unblock", "id": "10"}, "no user"),
    bad("frames/unblock.ok", {"type": "unblock.ok"}, "no id"),
    bad("frames/friend.list", {"type": "friend.list"}, "no id"),
    bad("frames/friend.list.ok", without(FRIEND_LIST_OK, "blocked"), "no blocked"),
    bad("frames/friend.list.ok", having(FRIEND_LIST_OK, friends="bob"), "friends not a list"),
    bad(
        "frames/friend.event",
        {"type": "friend.event", "kind": "poke", "user": "bob"},
        "unknown kind",
    ),
    bad(
        "frames/friend.event",
        {"type": "friend.event", "id": "1", "kind": "request", "user": "bob"},
        "event with an id",
    ),
    bad("frames/group.create", {"type": "group.create", "id": "11", "name": "Team"}, "no members"),
    bad(
        "frames/group.create.ok",
        {"type": "group.create.ok", "id": "11", "group_id": "team42", "conversation": "team42"},
        "conversation without g:",
    ),
    bad("frames/group.info", {"type": "group.info", "id": "11"}, "no group_id"),
    bad(
        "frames/group.info.ok",
        having(GROUP_INFO_OK, group={"group_id": "team42"}),
        "group without name, owner, count, muted_all",
    ),
    bad(
        "frames/group.members",
        {"type": "group.members", "id": "12", "group_id": "team42", "limit": 0},
        "limit 0",
    ),
    bad(
        "frames/group.info.ok",
        having(GROUP_INFO_OK, group=having(GROUP_INFO_OK["group"], member_count=0)),
        "no members",
    ),
    bad("frames/group.members.ok", without(GROUP_MEMBERS_OK, "next"), "no next"),
    bad(
        "frames/group.members.ok",
        having(GROUP_MEMBERS_OK, members=[{"user": "bob", "role": "boss", "muted_until": 0}]),
        "unknown role",
    ),
    bad(
        "frames/group.invite",
        {"type": "group.invite", "id": "12", "group_id": "team42", "users": []},
        "no users",
    ),
    bad("frames/group.invite.ok", {"type": "group.invite.ok"}, "no id"),
    bad(
        "frames/group.leave",
        {"type": "group.leave", "id": "12", "group_id": "a:b"},
        "group id with a colon",
    ),
    bad("frames/group.leave.ok", {"type": "group.leave.ok"}, "no id"),
    bad("frames/group.kick", {"type": "group.kick", "id": "12", "group_id": "team42"}, "no user"),
    bad("frames/group.kick.ok", {"type": "group.kick.ok"}, "no id"),
    bad(
        "frames/group.set_role",
        {
            "type": "group.set_role",
            "id": "12",
            "group_id": "team42",
            "user": "bob",
            "role": "owner",
        },
        "role owner",
    ),
    bad("frames/group.set_role.ok", {"type": "group.set_role.ok"}, "no id"),
    bad("frames/group.mute", {"type": "group.mute", "id": "12", "group_id": "team42"}, "no until"),
    bad(
        "frames/group.mute",
        {"type": "group.mute", "id": "12", "group_id": "team42", "until": -1},
        "negative until",
    ),
    bad("frames/group.mute.ok", {"type": "group.mute.ok"}, "no id"),
    bad(
        "frames/group.transfer",
        {"type": "group.transfer", "id": "12", "group_id": "team42"},
        "no user",
    ),
    bad("frames/group.transfer.ok", {"type": "group.transfer.ok"}, "no id"),
    bad("frames/group.dissolve", {"type": "group.dissolve", "id": "12"}, "no group_id"),
    bad("frames/group.dissolve.ok", {"type": "group.dissolve.ok"}, "no id"),
    bad("frames/group.rename", {"type": "group.rename", "id": "13", "group_id": "t"}, "no name"),
    bad("frames/group.rename.ok", {"type": "group.rename.ok"}, "no id"),
    bad(
        "frames/group.settings",
        {"type": "group.settings", "id": "14", "group_id": "t", "anyone_invites": "yes"},
        "anyone_invites not a boolean",
    ),
    bad("frames/group.settings.ok", {"type": "group.settings.ok"}, "no id"),
    bad(
        "frames/group.event",
        {"type": "group.event", "group_id": "team42", "kind": "exploded"},
        "unknown kind",
    ),
    bad("frames/group.event", {"type": "group.event", "kind": "left"}, "no group_id"),
    bad("frames/presence.subscribe", {"type": "presence.subscribe", "id": "13"}, "no users"),
    bad(
        "frames/presence.subscribe.ok",
        {"type": "presence.subscribe.ok", "id": "13", "presence": {"bob": "away"}},
        "unknown status",
    ),
    bad(
        "frames/presence.subscribe.ok",
        {"type": "presence.subscribe.ok", "id": "13", "presence": {"a:b": "online"}},
        "user id with a colon",
    ),
    bad("frames/presence", having(PRESENCE, status="away"), "unknown status"),
    bad("frames/presence", without(PRESENCE, "ts"), "no ts"),
    bad(
        "frames/media.upload_url",
        {
            "type": "media.upload_url",
            "id": "13",
            "name": "cat.png",
            "size": "48213",
            "mime": "image/png",
        },
        "size as a string",
    ),
    bad(
        "frames/media.upload_url",
        {"type": "media.upload_url", "id": "13", "name": "a", "size": -1, "mime": "text/plain"},
        "negative size",
    ),
    bad(
        "frames/media.upload_url.ok",
        having(UPLOAD_URL_OK, url="/media/u/alice/7f3a"),
        "relative url",
    ),
    bad(
        "frames/media.upload_url.ok",
        having(UPLOAD_URL_OK, headers={"Content-Length": 5}),
        "header value not a string",
    ),
    bad("frames/media.download_url", {"type": "media.download_url", "id": "13"}, "no object_key"),
    bad("frames/media.download_url.ok", {"type": "media.download_url.ok", "id": "13"}, "no url"),
    bad(
        "frames/media.download_url.ok",
        {"type": "media.download_url.ok", "id": "13", "url": "media/u/alice/7f3a"},
        "relative url",
    ),
    bad(
        "frames/device.push_token",
        {"type": "device.push_token", "id": "13", "provider": "sms", "token": "t"},
        "unknown provider",
    ),
    bad("frames/device.push_token.ok", {"type": "device.push_token.ok"}, "no id"),
    # section 1
    bad("http/register.request", having(REGISTER, username="Alice"), "uppercase username"),
    bad("http/register.request", having(REGISTER, username="al"), "username of 2"),
    bad("http/register.request", having(REGISTER, username="a" * 33), "username of 33"),
    bad("http/register.request", having(REGISTER, username="al ice"), "username with a space"),
    bad("http/register.request", having(REGISTER, password="p" * 7), "password of 7"),
    bad("http/register.request", having(REGISTER, password="p" * 129), "password of 129"),
    bad("http/register.request", without(REGISTER, "password"), "no password"),
    bad("http/register.response", {}, "no user_id"),
    bad("http/register.response", {"user_id": "u:1"}, "user id with a colon"),
    bad("http/login.request", having(LOGIN, platform="linux"), "unknown platform"),
    bad("http/login.request", without(LOGIN, "password"), "no password"),
    bad("http/login.request", having(LOGIN, username="Alice"), "uppercase username"),
    bad("http/login.request", having(LOGIN, password="p" * 7), "password of 7"),
    bad("http/login.request", having(LOGIN, password="p" * 129), "password of 129"),
    bad("http/login.response", having(LOGIN_RESPONSE, expires_in=0), "expires_in 0"),
    bad("http/login.response", without(LOGIN_RESPONSE, "ws_url"), "no ws_url"),
    bad(
        "http/login.response",
        having(LOGIN_RESPONSE, ws_url="https://gw-0.imfaas.dev/v1/ws"),
        "ws_url not a WebSocket URL",
    ),
    bad("http/login.response", having(LOGIN_RESPONSE, expires_in="900"), "expires_in string"),
    bad("http/login.response", without(LOGIN_RESPONSE, "refresh_token"), "no refresh_token"),
    bad("http/token_refresh.request", {}, "no refresh_token"),
    bad("http/token_refresh.request", {"refresh_token": ""}, "empty refresh_token"),
    bad("http/error.response", {"error": {"code": "nope", "message": "x"}}, "unknown code"),
    bad("http/error.response", {"error": {"code": "conflict"}}, "no message"),
    bad("http/error.response", {"code": "conflict", "message": "x"}, "not wrapped in error"),
    # internal events
    bad("events/message.submitted", without(SUBMITTED, "reply_to"), "no reply_to"),
    bad(
        "events/message.submitted",
        having(SUBMITTED, reply_to=without(REPLY_TO, "request_id")),
        "reply_to without request_id",
    ),
    bad(
        "events/message.submitted",
        having(SUBMITTED, client_msg_id=TOO_LONG_ID),
        "client_msg_id too long",
    ),
    bad(
        "events/message.submitted",
        having(SUBMITTED, content={"kind": "text", "text": 5}),
        "text not a string",
    ),
    bad("events/message.submitted", without(SUBMITTED, "submitted_ts"), "no submitted_ts"),
    bad("events/message.stored", having(STORED, duplicate="no"), "duplicate not a boolean"),
    bad("events/message.stored", having(STORED, members=["a:b"]), "member with a colon"),
    bad(
        "events/message.stored",
        having(STORED, reply_to=without(REPLY_TO, "conn")),
        "reply_to without conn",
    ),
    bad("events/push.requested", having(PUSH, users=[]), "no users"),
    bad("events/push.requested", without(PUSH, "message"), "no message"),
    bad("events/push.task", {"user": "bob"}, "no message"),
    bad("events/push.job", having(PUSH_JOB, provider="web"), "unknown provider"),
    bad("events/push.dead", PUSH_JOB, "no reason"),
    bad(
        "frames/push.settings",
        {"type": "push.settings", "id": "1", "dnd": {"start": 1440, "end": 1}},
        "dnd start past the day",
    ),
    bad(
        "frames/push.settings.ok",
        {"type": "push.settings.ok", "id": "1", "preview": True},
        "no dnd",
    ),
    bad("frames/push.mute", {"type": "push.mute", "id": "2", "conversation": "d:a:b"}, "no until"),
    bad("frames/push.mute.ok", {"type": "push.mute.ok"}, "no id"),
    bad("events/session.revoked", having(REVOKED, close_code=4408), "close code 4408"),
    bad("events/session.revoked", without(REVOKED, "session"), "no session"),
    bad("events/socket.presence", having(SOCKET_UP, state="away"), "state away"),
    bad("events/socket.presence", without(SOCKET_UP, "conn"), "no conn"),
    bad("events/gateway.delivery", {"items": []}, "no items"),
    bad("events/gateway.delivery", {"items": [{"conn": "c1", "ref": -1}]}, "negative ref"),
    bad(
        "events/gateway.delivery",
        {"frames": [KICKED], "items": [{"conn": "c1", "ref": 0, "frame": KICKED}]},
        "both ref and frame",
    ),
    bad("events/gateway.delivery", {"items": [{"conn": "c17"}]}, "neither frame nor close"),
    bad("events/gateway.delivery", {"items": [{"conn": "c17", "close": 999}]}, "close 999"),
    bad("events/gateway.delivery", {"items": [{"conn": "c17", "close": 5000}]}, "close 5000"),
    bad(
        "events/gateway.delivery",
        {"items": [{"conn": "c17", "frame": "pong"}]},
        "frame not an object",
    ),
    bad(
        "events/gateway.delivery",
        {"items": [{"conn": "c17", "frame": {"id": "1"}}]},
        "frame without type",
    ),
    bad("events/gateway.delivery", {"items": [{"frame": KICKED}]}, "no conn"),
    bad(
        "events/gateway.delivery",
        {"items": [{"conn": "c17", "close": 4409, "frame": {"reason": "x"}}]},
        "closing frame without type",
    ),
    bad("events/gateway.delivery", {"items": [{"conn": "c17", "frame": {"type": 5}}]}, "type 5"),
    bad("events/gateway.delivery", {"items": [{"conn": "c17", "frame": {"type": ""}}]}, "type ''"),
    bad("events/client.request", without(MSG_SEND, "id"), "no id"),
    bad("events/client.request", having(PING, id=7), "numeric id"),
    bad("events/reply", without(MSG_ACK, "type"), "no type"),
    bad("events/reply", [MSG_ACK], "not an object"),
    bad("events/http.response", {"status": 99, "body": None}, "status 99"),
    bad("events/http.response", {"status": 600, "body": None}, "status 600"),
    bad("events/http.response", {"status": 200, "body": []}, "body a list"),
    bad("events/http.response", {"status": 200}, "no body"),
    bad(
        "events/http.response",
        {"status": 429, "body": None, "headers": {"Retry-After": 30}},
        "numeric header",
    ),
]


def walk_refs(node: Any) -> Iterator[str]:
    """Every `$ref` value anywhere in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_refs(item)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=schema_name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    text = path.read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["$id"] == f"{BASE_URI}{path.parent.name}/{path.name}"
    assert schema["title"]
    assert schema["description"]
    indents = {len(line) - len(line.lstrip(" ")) for line in text.splitlines()}
    assert "\t" not in text and all(n % 2 == 0 for n in indents), "indent by two spaces"


@pytest.mark.parametrize("name", sorted(set(SCHEMAS) - SHARED))
def test_schema_describes_an_object(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema["type"] == "object"
    assert schema["required"]
    if name.startswith("frames/"):
        assert schema["properties"]["type"] == {"const": name.removeprefix("frames/")}
        assert "type" in schema["required"]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_ref_resolves(name: str, registry: Registry) -> None:
    resolver = registry.resolver(base_uri=SCHEMAS[name]["$id"])
    for ref in walk_refs(SCHEMAS[name]):
        assert resolver.lookup(ref).contents is not None, ref


def test_every_protocol_frame_and_body_has_a_schema() -> None:
    expected = {f"frames/{t}" for t in PROTOCOL_FRAMES}
    expected |= {f"http/{n}" for n in HTTP_BODIES} | {f"events/{n}" for n in EVENT_DATA}
    assert expected <= set(SCHEMAS)


def test_every_schema_has_good_and_bad_examples() -> None:
    named = set(SCHEMAS) - SHARED
    assert {name for name, _ in GOOD} == named
    assert {param.values[0] for param in BAD} == named


@pytest.mark.parametrize(("name", "instance"), GOOD, ids=[name for name, _ in GOOD])
def test_good_instance_is_valid(name: str, instance: Any, registry: Registry) -> None:
    errors = [error.message for error in validator(name, registry).iter_errors(instance)]
    assert errors == []


@pytest.mark.parametrize(("name", "instance"), BAD)
def test_bad_instance_is_invalid(name: str, instance: Any, registry: Registry) -> None:
    assert not validator(name, registry).is_valid(instance)


@pytest.mark.parametrize(("name", "instance"), GOOD, ids=[name for name, _ in GOOD])
def test_optional_extension_fields_are_allowed(
    name: str, instance: Any, registry: Registry
) -> None:
    assert validator(name, registry).is_valid({**instance, "x_extension": {"since": 2}})


# Server frames that answer nothing (protocol sections 3 and 4); typing is both a request and one.
EVENT_TYPES = {
    "msg.new", "msg.recalled", "msg.edited", "receipt", "kicked", "friend.event", "group.event",
    "presence",
}  # fmt: skip
FRAME_EXAMPLES = [
    (name, instance)
    for name, instance in GOOD
    if name.startswith("frames/") and name not in {"frames/error", "frames/typing"}
]


@pytest.mark.parametrize(("name", "instance"), FRAME_EXAMPLES, ids=[n for n, _ in FRAME_EXAMPLES])
def test_requests_and_replies_need_an_id_and_events_have_none(
    name: str, instance: dict[str, Any], registry: Registry
) -> None:
    check = validator(name, registry)
    if name.removeprefix("frames/") in EVENT_TYPES:
        assert "id" not in instance
        assert not check.is_valid(having(instance, id="1"))
    else:
        assert not check.is_valid(without(instance, "id"))
        assert not check.is_valid(having(instance, id=""))
        assert not check.is_valid(having(instance, id=TOO_LONG_ID))


def test_error_frame_id_is_optional(registry: Registry) -> None:
    check = validator("frames/error", registry)
    assert check.is_valid(ERROR)
    assert check.is_valid(without(ERROR, "id"))


def test_typing_is_a_request_with_id_or_an_event_with_user(registry: Registry) -> None:
    check = validator("frames/typing", registry)
    assert check.is_valid(TYPING)
    assert check.is_valid(TYPING_EVENT)
    assert check.is_valid(having(TYPING, user="bob")), "a request may carry extra fields"
    assert not check.is_valid(without(TYPING, "id"))
    assert not check.is_valid(having(TYPING, id=TOO_LONG_ID))


# Keys whose value maps ids to values (a conversation to a cursor, a user to a status, a header name
# to its value) rather than being an object with named fields.
MAP_FIELDS = {"cursors", "presence", "headers"}
# Fields that may be left out anywhere: edited marks an edited message, nonce stands for the extra
# fields a cipher content may carry.
OPTIONAL_EVERYWHERE = {"edited", "nonce"}
# Per schema, the dotted paths of the fields the protocol marks optional.
OPTIONAL = {
    "frames/error": {"id"},
    "frames/sync": {"limit"},
    "frames/msg.history": {"before_seq", "limit"},
    "frames/friend.request": {"message"},
    "frames/group.members": {"after", "limit"},
    "frames/group.mute": {"user"},
    "frames/group.create": {"anyone_invites"},
    "frames/group.info.ok": {"group.anyone_invites"},
    "frames/group.event": {"users"},
    "frames/presence": {"last_seen"},
    "http/login.request": {"device_id", "platform"},
    "events/gateway.delivery": {"items.1.frame", "items.1.close", "items.1.ref", "frames"},
    "events/client.request": {"to", "client_msg_id", "content"},
    "events/reply": {"id", "conversation", "seq", "msg_id", "ts", "client_msg_id", "reason"},
    "events/http.response": {"headers"},
    "events/users.notified": {"skip"},
    "events/message.stored": {"members"},
    "frames/push.settings": {"preview", "dnd"},
}
# Per schema, the dotted paths whose value the schema leaves open: extension fields, and frames or
# bodies carried as payloads (their own schemas check them).
OPEN = {
    "frames/group.event": {"users"},
    "events/gateway.delivery": {"items.0.frame", "items.1.frame", "frames.0"},
    "events/client.request": {"to", "client_msg_id", "content"},
    "events/reply": {"id", "conversation", "seq", "msg_id", "ts", "client_msg_id", "reason"},
    "events/http.response": {"body"},
    "events/users.notified": {"frame"},
}
# A value of another JSON type than the example's, for each type.
WRONG_TYPE = {str: 12345, bool: "true", int: "12", list: "x", dict: "x", type(None): 12345}


def field_paths(
    instance: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """The path of every field and list item in an example, depth first; map entries excluded."""
    items = instance.items() if isinstance(instance, dict) else enumerate(instance)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list) and key not in MAP_FIELDS:
            yield from field_paths(value, (*prefix, key))


def dotted(path: tuple[str | int, ...]) -> str:
    """'items.1.frame' for ('items', 1, 'frame')."""
    return ".".join(str(part) for part in path)


def changed(
    instance: Any, path: tuple[str | int, ...], value: Any = None, drop: bool = False
) -> Any:
    """A deep copy of the instance with the value at path replaced, or removed when drop is set."""
    copy = json.loads(json.dumps(instance))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def value_at(instance: Any, path: tuple[str | int, ...]) -> Any:
    """The value at a path of an example."""
    for part in path:
        instance = instance[part]
    return instance


def is_open(name: str, path: tuple[str | int, ...]) -> bool:
    """True when path is, or lies inside, a value the schema leaves open."""
    open_paths = OPEN.get(name, set())
    return path[-1] == "nonce" or any(
        dotted(path[:length]) in open_paths for length in range(1, len(path) + 1)
    )


def field_cases(kind: str) -> list[Any]:
    """For each good example, one case per field ("drop") or per field and list item ("type").

    Values a schema leaves open are skipped with everything inside them.
    """
    cases = []
    for name, instance in GOOD:
        for path in field_paths(instance):
            inside_open = len(path) > 1 and is_open(name, path[:-1])
            if inside_open or (kind == "drop" and isinstance(path[-1], int)):
                continue
            if kind == "type" and is_open(name, path):
                continue
            cases.append(pytest.param(name, instance, path, id=f"{name}: {dotted(path)}"))
    return cases


@pytest.mark.parametrize(("name", "instance", "path"), field_cases("drop"))
def test_fields_are_required_unless_the_protocol_marks_them_optional(
    name: str, instance: Any, path: tuple[str | int, ...], registry: Registry
) -> None:
    optional = dotted(path) in OPTIONAL.get(name, set()) or path[-1] in OPTIONAL_EVERYWHERE
    assert validator(name, registry).is_valid(changed(instance, path, drop=True)) == optional


@pytest.mark.parametrize(("name", "instance", "path"), field_cases("type"))
def test_a_field_of_the_wrong_json_type_is_invalid(
    name: str, instance: Any, path: tuple[str | int, ...], registry: Registry
) -> None:
    wrong = changed(instance, path, WRONG_TYPE[type(value_at(instance, path))])
    assert not validator(name, registry).is_valid(wrong)


# String fields the protocol lets be empty; every other string is an id, a name or a token.
MAY_BE_EMPTY = {"text", "message", "reason", "ciphertext"}
MAY_BE_EMPTY_IN = {"frames/error": {"id"}}  # echoed as read from a frame that failed


def string_field_cases() -> list[Any]:
    """One case per string field (not list item) of each good example, outside open values."""
    return [
        pytest.param(name, instance, path, id=f"{name}: {dotted(path)}")
        for name, instance in GOOD
        for path in field_paths(instance)
        if isinstance(path[-1], str)
        and not is_open(name, path)
        and path[-1] not in MAY_BE_EMPTY | MAY_BE_EMPTY_IN.get(name, set())
        and isinstance(value_at(instance, path), str)
    ]


@pytest.mark.parametrize(("name", "instance", "path"), string_field_cases())
def test_id_name_and_token_strings_are_not_empty(
    name: str, instance: Any, path: tuple[str | int, ...], registry: Registry
) -> None:
    assert not validator(name, registry).is_valid(changed(instance, path, ""))
