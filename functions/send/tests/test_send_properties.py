"""Property tests: no msg.send frame, however hostile, gets past validation unnoticed.

Every frame gets a protocol error (never ``internal``, never an exception) and publishes
nothing, unless it is a valid message, which publishes exactly one ``message.submitted``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from imfaas.events import catalog
from imfaas.events.schema_registry import frame_problems
from imfaas.events.schema_strategies import fuzz_settings, mutated_values, valid_values
from imfaas.shared.function_runtime import MAX_REQUEST_ID_LEN
from imfaas.shared.testing import forwarded_event, identity

ALICE = identity("ua", "da1", "conn-a1")
PROTOCOL_ERRORS = {"bad_request", "too_large", "not_found", "forbidden"}
KNOWN = st.sampled_from(["ua", "ub", "uc"])


def with_known_users(frame: dict[str, Any], to: str, conversation: str) -> dict[str, Any]:
    """The frame aimed at users that exist, so that some examples get through."""
    if "to" in frame:
        return {**frame, "to": to}
    return {**frame, "conversation": conversation}


valid_frames = st.one_of(
    valid_values("frames/msg.send.json"),
    st.builds(
        with_known_users,
        valid_values("frames/msg.send.json"),
        KNOWN,
        st.sampled_from(["d:ua:ub", "d:ua:uc", "d:ub:uc", "g:x"]),
    ),
)


async def reply_to(env, data: Any) -> dict[str, Any] | None:
    reply = await env.fn.handle(forwarded_event("msg.send", data, ALICE))
    return None if reply is None else reply.get_data()


def assert_protocol_error(reply: dict[str, Any] | None, data: Any) -> None:
    assert reply is not None, data
    assert reply["type"] == "error"
    assert reply["code"] in PROTOCOL_ERRORS, (reply, data)
    assert isinstance(reply["message"], str) and reply["message"]
    request_id = data.get("id") if isinstance(data, dict) else None
    # Only an id the protocol allows (1-128 characters) is echoed.
    if isinstance(request_id, str) and 0 < len(request_id) <= MAX_REQUEST_ID_LEN:
        assert reply["id"] == request_id
    else:
        assert "id" not in reply


@fuzz_settings(200)
@given(mutated_values("frames/msg.send.json"))
async def test_a_frame_the_schema_refuses_gets_a_protocol_error_and_publishes_nothing(env, data):
    if isinstance(data, dict):
        data = {**data, "type": "msg.send"}  # the gateway routes by type: send sees its own
    if not frame_problems(data):
        return  # the mutation left a valid frame: the next test covers those
    before = len(env.bus.published)

    assert_protocol_error(await reply_to(env, data), data)
    assert len(env.bus.published) == before


@fuzz_settings(150)
@given(valid_frames)
async def test_a_valid_frame_is_either_published_once_or_refused_without_publishing(env, frame):
    before = len(env.bus.published)

    reply = await reply_to(env, frame)

    if reply is None:
        assert len(env.bus.published) == before + 1
        (event, key), *_ = env.bus.published[before:]
        assert key == event.get_data()["conversation"]
        assert event["type"] == catalog.MESSAGE_SUBMITTED
        assert event.get_data()["client_msg_id"] == frame["client_msg_id"]
        assert event.get_data()["content"] == frame["content"]
    else:
        assert_protocol_error(reply, frame)
        assert len(env.bus.published) == before
