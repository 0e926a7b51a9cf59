"""Property tests: sync, msg.history and conv.list answer any frame with their result or a
protocol error (never ``internal``, never an exception), and a read changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imfaas.events.schema_registry import frame_problems
from imfaas.events.schema_strategies import fuzz_settings, mutated_values, valid_values
from imfaas.shared.function_runtime import MAX_REQUEST_ID_LEN
from imfaas.shared.testing import forwarded_event, identity

PROTOCOL_ERRORS = {"bad_request", "forbidden", "not_found"}
RESULTS = {
    "sync": "sync.result",
    "msg.history": "msg.history.result",
    "conv.list": "conv.list.result",
}
KNOWN_CONVERSATIONS = st.sampled_from(["d:ua:ub", "d:ua:uc", "d:ub:uc", "g:x"])


@pytest.fixture
async def seeded(env):
    """Two conversations with messages, so that reads have something to return."""
    for conversation, sender in [("d:ua:ub", "ua"), ("d:ua:ub", "ub"), ("d:ua:uc", "uc")]:
        await env.post(conversation, sender)
    return env


async def snapshot(env) -> list[Any]:
    """Everything a read could change: the conversation index and the message log."""
    state: list[Any] = []
    for user in ("ua", "ub", "uc"):
        state.append(await env.ports.conversations.list_for_user(user, None))
    for conversation in ("d:ua:ub", "d:ua:uc", "d:ub:uc"):
        state.append(await env.ports.messages.read_after(conversation, 0, 100))
    return state


async def ask(env, frame_type: str, data: Any) -> dict[str, Any]:
    reply = await env.fn.handle(forwarded_event(frame_type, data, identity("ua")))
    assert reply is not None
    return reply.get_data()


def assert_answered(reply: dict[str, Any], frame_type: str, data: Any) -> None:
    """The request's result, or a protocol error; with the request's id when it has one."""
    request_id = data.get("id") if isinstance(data, dict) else None
    if reply["type"] == "error":
        assert reply["code"] in PROTOCOL_ERRORS, (reply, data)
        assert isinstance(reply["message"], str) and reply["message"]
    else:
        assert reply["type"] == RESULTS[frame_type]
        assert not frame_problems(reply), frame_problems(reply)
    # Only an id the protocol allows (1-128 characters) is echoed.
    if isinstance(request_id, str) and 0 < len(request_id) <= MAX_REQUEST_ID_LEN:
        assert reply["id"] == request_id
    else:
        assert "id" not in reply


def aimed_at_known(frame: dict[str, Any], conversation: str, seq: int) -> dict[str, Any]:
    """The frame about a conversation that exists, so that some reads find messages."""
    if "cursors" in frame:
        return {**frame, "cursors": {conversation: seq}}
    if "conversation" in frame:
        return {**frame, "conversation": conversation}
    return frame


def served_beyond_the_schema(frame_type: str, frame: Any) -> bool:
    """Frames the schema refuses but the function serves on purpose: conv.list takes no
    fields (an object with any extra ones is still a valid request), and a sync without
    cursors means every cursor at 0."""
    if not isinstance(frame, dict) or not isinstance(frame.get("id"), str):
        return False
    others = {k: v for k, v in frame.items() if k != "cursors"}
    return frame_type == "conv.list" or (
        frame_type == "sync"
        and "cursors" not in frame
        and not frame_problems({**others, "cursors": {}})
    )


def hostile(frame_type: str) -> st.SearchStrategy[Any]:
    """Frames of this type that its schema refuses (``type`` kept: the gateway routes by it)."""
    return mutated_values(f"frames/{frame_type}.json").map(
        lambda data: {**data, "type": frame_type} if isinstance(data, dict) else data
    )


def valid(frame_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid frames of this type, half of them about conversations that exist."""
    frames = valid_values(f"frames/{frame_type}.json")
    return st.one_of(
        frames, st.builds(aimed_at_known, frames, KNOWN_CONVERSATIONS, st.integers(0, 3))
    )


HOSTILE = {frame_type: hostile(frame_type) for frame_type in RESULTS}
VALID = {frame_type: valid(frame_type) for frame_type in RESULTS}


@fuzz_settings(100)
@given(data=st.data())
@pytest.mark.parametrize("frame_type", sorted(RESULTS))
async def test_a_frame_the_schema_refuses_gets_a_protocol_error_and_changes_nothing(
    seeded, frame_type, data
):
    frame = data.draw(HOSTILE[frame_type])
    assume(frame_problems(frame) and not served_beyond_the_schema(frame_type, frame))
    before = await snapshot(seeded)

    reply = await ask(seeded, frame_type, frame)

    assert reply["type"] == "error", (reply, frame)
    assert_answered(reply, frame_type, frame)
    assert await snapshot(seeded) == before


@fuzz_settings(100)
@given(data=st.data())
@pytest.mark.parametrize("frame_type", sorted(RESULTS))
async def test_a_valid_frame_gets_its_result_or_a_protocol_error_and_changes_nothing(
    seeded, frame_type, data
):
    frame = data.draw(VALID[frame_type])
    before = await snapshot(seeded)

    assert_answered(await ask(seeded, frame_type, frame), frame_type, frame)
    assert await snapshot(seeded) == before
