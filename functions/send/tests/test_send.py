"""msg.send → message.submitted (protocol §3, §5)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.media_registry import MediaUpload
from imfaas.shared.testing import frame_event, identity, reply_frame

ALICE = identity("ua", "da1", "conn-a1", node_id="gw-1")
TEXT = {"kind": "text", "text": "hello"}


def frame(request_id: str = "r1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "msg.send",
        "id": request_id,
        "client_msg_id": "cm-1",
        "content": TEXT,
    }
    base.update(fields)
    return base


async def send(env, who=ALICE, **fields: Any):
    return await reply_frame(env.fn.handle, frame(**fields), who)


def assert_error(reply, code: str, request_id: str = "r1") -> None:
    assert reply is not None
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply["id"] == request_id
    assert isinstance(reply["message"], str) and reply["message"]


# -- success ----------------------------------------------------------------------------


async def test_send_to_a_user_publishes_one_submitted_event_and_no_reply(env):
    before = int(time.time() * 1000)
    reply = await send(env, to="ub", client_msg_id="cm-42", request_id="req-7")
    assert reply is None
    assert len(env.bus.published) == 1
    event, key = env.bus.published[0]
    assert event["type"] == catalog.MESSAGE_SUBMITTED
    assert key == "d:ua:ub"
    data = event.get_data()
    assert data["conversation"] == "d:ua:ub"
    assert data["sender"] == "ua"
    assert data["sender_device"] == "da1"
    assert data["client_msg_id"] == "cm-42"
    assert data["content"] == TEXT
    assert data["reply_to"] == {"node": "gw-1", "conn": "conn-a1", "request_id": "req-7"}
    assert before <= data["submitted_ts"] <= int(time.time() * 1000)


async def test_direct_conversation_id_is_sorted_whoever_sends(env):
    bob = identity("ub", "db1", "conn-b1")
    assert await send(env, who=bob, to="ua") is None
    event, key = env.bus.published[0]
    assert key == event.get_data()["conversation"] == "d:ua:ub"
    assert event.get_data()["sender"] == "ub"


async def test_send_to_a_conversation_the_sender_belongs_to(env):
    assert await send(env, conversation="d:ua:uc") is None
    (event, key), *_ = env.bus.published
    assert key == "d:ua:uc"
    assert event.get_data()["conversation"] == "d:ua:uc"


async def test_client_msg_id_of_128_chars_is_accepted(env):
    assert await send(env, to="ub", client_msg_id="c" * 128) is None
    assert env.bus.published[0][0].get_data()["client_msg_id"] == "c" * 128


async def test_text_of_exactly_16_kib_is_accepted(env):
    assert await send(env, to="ub", content={"kind": "text", "text": "x" * 16384}) is None
    assert len(env.bus.of_type(catalog.MESSAGE_SUBMITTED)) == 1


async def test_cipher_content_is_passed_through_opaquely(env):
    content = {
        "kind": "cipher",
        "alg": "x3dh+dr",
        "ciphertext": "AAECAwQ=",
        "header": {"dh": "abc", "n": 3},
        "recipients": ["db1", "db2"],
    }
    assert await send(env, to="ub", content=dict(content)) is None
    assert env.bus.published[0][0].get_data()["content"] == content


FILE = {"kind": "file", "object_key": "k-1", "name": "a.png", "size": 10, "mime": "image/png"}


async def uploaded(env, uploader: str = "ua", key: str = "k-1", size: int = 10, mime="image/png"):
    await env.ports.media.record_upload(MediaUpload(key, uploader, "a.png", size, mime, 0))


async def test_file_content_naming_the_senders_upload_is_accepted(env):
    await uploaded(env)
    assert await send(env, to="ub", content=dict(FILE)) is None
    assert env.bus.published[0][0].get_data()["content"] == FILE
    # The type is compared without case, as uploads record it.
    assert (
        await send(env, to="ub", client_msg_id="cm-2", content=FILE | {"mime": "Image/PNG"}) is None
    )


@pytest.mark.parametrize(
    ("upload", "content", "code"),
    [
        (None, FILE, "not_found"),
        ({"uploader": "ub"}, FILE, "not_found"),  # someone else's: as if it did not exist
        ({}, FILE | {"object_key": "k-2"}, "not_found"),
        ({"size": 11}, FILE, "forbidden"),
        ({"mime": "image/jpeg"}, FILE, "forbidden"),
    ],
)
async def test_file_content_not_matching_an_own_upload_is_refused(env, upload, content, code):
    if upload is not None:
        await uploaded(env, **upload)
    assert_error(await send(env, to="ub", content=content), code)
    assert env.bus.published == []


# -- recipients and conversations -------------------------------------------------------


async def test_unknown_recipient_is_not_found(env):
    assert_error(await send(env, to="nobody"), "not_found")
    assert env.bus.published == []


async def test_conversation_with_an_unknown_member_is_not_found(env):
    assert_error(await send(env, conversation="d:ua:zz"), "not_found")
    assert env.bus.published == []


@pytest.mark.parametrize(
    "fields",
    [{"to": "ub", "conversation": "d:ua:ub"}, {}],
    ids=["both", "neither"],
)
async def test_exactly_one_of_to_and_conversation(env, fields):
    assert_error(await send(env, **fields), "bad_request")
    assert env.bus.published == []


async def test_sending_to_yourself_is_bad_request(env):
    assert_error(await send(env, to="ua"), "bad_request")
    assert env.bus.published == []


@pytest.mark.parametrize(
    "to", ["", "u:b", 7, None, "u" * 65], ids=["empty", "colon", "int", "null", "long"]
)
async def test_malformed_recipient_is_bad_request(env, to):
    assert_error(await send(env, to=to), "bad_request")


async def test_conversation_of_others_is_forbidden(env):
    assert_error(await send(env, conversation="d:ub:uc"), "forbidden")
    assert env.bus.published == []


async def test_group_conversation_is_not_found(env):
    assert_error(await send(env, conversation="g:x"), "not_found")
    assert env.bus.published == []


@pytest.mark.parametrize(
    "conversation",
    ["x:1", "d:ub:ua", "d:ua", "d:ua:ua", "d:ua:ub:uc", "", 12],
    ids=["kind", "unsorted", "one-member", "same-user", "three", "empty", "int"],
)
async def test_malformed_conversation_is_bad_request(env, conversation):
    assert_error(await send(env, conversation=conversation), "bad_request")
    assert env.bus.published == []


# -- client_msg_id and content ----------------------------------------------------------


@pytest.mark.parametrize(
    "client_msg_id", ["", "c" * 129, 5, None], ids=["empty", "129", "int", "null"]
)
async def test_bad_client_msg_id_is_bad_request(env, client_msg_id):
    assert_error(await send(env, to="ub", client_msg_id=client_msg_id), "bad_request")
    assert env.bus.published == []


async def test_missing_client_msg_id_is_bad_request(env):
    bad = {"type": "msg.send", "id": "r1", "to": "ub", "content": TEXT}
    assert_error(await reply_frame(env.fn.handle, bad, ALICE), "bad_request")
    assert env.bus.published == []


async def test_missing_content_is_bad_request(env):
    bad = {"type": "msg.send", "id": "r1", "to": "ub", "client_msg_id": "c"}
    assert_error(await reply_frame(env.fn.handle, bad, ALICE), "bad_request")


@pytest.mark.parametrize(
    "content",
    [
        "hello",
        ["text", "hello"],
        None,
        {"text": "no kind"},
        {"kind": "video", "url": "x"},
        {"kind": "text", "text": ""},
        {"kind": "text"},
        {"kind": "text", "text": 5},
        {"kind": "cipher", "ciphertext": "abc"},
        {"kind": "cipher", "alg": "x"},
        {"kind": "file", "object_key": "o", "name": "n", "size": -1, "mime": "m"},
        {"kind": "file", "object_key": "o", "name": "n", "size": True, "mime": "m"},
        {"kind": "file", "name": "n", "size": 1, "mime": "m"},
    ],
    ids=[
        "string",
        "list",
        "null",
        "no-kind",
        "unknown-kind",
        "empty-text",
        "missing-text",
        "text-not-string",
        "cipher-no-alg",
        "cipher-no-ciphertext",
        "file-negative-size",
        "file-bool-size",
        "file-no-key",
    ],
)
async def test_bad_content_is_bad_request(env, content):
    assert_error(await send(env, to="ub", content=content), "bad_request")
    assert env.bus.published == []


async def test_text_over_16_kib_is_too_large(env):
    reply = await send(env, to="ub", content={"kind": "text", "text": "x" * 16385})
    assert_error(reply, "too_large")
    assert env.bus.published == []


async def test_text_limit_counts_utf8_bytes_not_characters(env):
    # 8193 two-byte characters: fewer than 16384 characters, more than 16384 bytes.
    reply = await send(env, to="ub", content={"kind": "text", "text": "é" * 8193})
    assert_error(reply, "too_large")


async def test_text_limit_follows_settings(make_send):
    env = await make_send(max_text_bytes=10)
    assert await send(env, to="ub", content={"kind": "text", "text": "x" * 10}) is None
    assert_error(
        await send(env, to="ub", content={"kind": "text", "text": "x" * 11}, request_id="r1"),
        "too_large",
    )


# -- backend failures and frame errors --------------------------------------------------


async def test_unavailable_bus_is_an_unavailable_error_frame(env):
    env.bus.fail_with = BackendUnavailable("kafka broker 10.1.2.3:9092 down")
    reply = await send(env, to="ub", request_id="req-9")
    assert_error(reply, "unavailable", "req-9")
    assert "10.1.2.3" not in reply["message"] and "kafka" not in reply["message"]


async def test_unexpected_failure_is_internal_without_details(env):
    env.bus.fail_with = RuntimeError("secret-password=hunter2 at line 42")
    reply = await send(env, to="ub", request_id="req-10")
    assert_error(reply, "internal", "req-10")
    assert "hunter2" not in reply["message"] and "Traceback" not in reply["message"]


async def test_error_replies_are_reply_events(env):
    event = await env.fn.handle(frame_event(frame(request_id="abc", to="nobody"), ALICE))
    assert event is not None
    assert event["type"] == catalog.REPLY
    assert event.get_data()["id"] == "abc"


async def test_frame_without_id_is_bad_request_without_id(env):
    reply = await reply_frame(
        env.fn.handle,
        {"type": "msg.send", "to": "ub", "client_msg_id": "c", "content": TEXT},
        ALICE,
    )
    assert reply is not None
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    assert "id" not in reply
    assert env.bus.published == []


async def test_forwarded_frame_without_socket_identity_is_bad_request(env):
    event = new_event(catalog.client_type("msg.send"), "/test", frame(to="ub"))
    reply = await env.fn.handle(event)
    assert reply is not None
    assert_error(reply.get_data(), "bad_request")
    assert env.bus.published == []
