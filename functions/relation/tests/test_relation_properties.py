"""Property tests: every relation request answers any frame with its ``.ok`` or a protocol
error (never ``internal``), and a frame its schema refuses changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imfaas.events.schema_registry import frame_problems
from imfaas.events.schema_strategies import fuzz_settings, mutated_values, valid_values
from imfaas.shared.function_catalog import spec_of
from imfaas.shared.function_runtime import MAX_REQUEST_ID_LEN
from imfaas.shared.testing import forwarded_event, identity

FRAME_TYPES = spec_of("relation").frames
PROTOCOL_ERRORS = {"bad_request", "forbidden", "not_found", "too_large"}
KNOWN_USERS = st.sampled_from(["ua", "ub", "uc", "ghost"])


@pytest.fixture
async def seeded(env):
    """ua asked ub; uc blocks ua."""
    await env.ports.relations.request_friend("ua", "ub", "")
    await env.ports.relations.block("uc", "ua")
    return env


async def snapshot(env) -> list[Any]:
    return [await env.ports.relations.relations_of(user) for user in ("ua", "ub", "uc")]


async def ask(env, frame_type: str, data: Any) -> dict[str, Any]:
    reply = await env.fn.handle(forwarded_event(frame_type, data, identity("ua")))
    assert reply is not None
    return reply.get_data()


def assert_answered(reply: dict[str, Any], frame_type: str, data: Any) -> None:
    if reply["type"] == "error":
        assert reply["code"] in PROTOCOL_ERRORS, (reply, data)
        assert isinstance(reply["message"], str) and reply["message"]
    else:
        assert reply["type"] == f"{frame_type}.ok"
        assert not frame_problems(reply), frame_problems(reply)
    request_id = data.get("id") if isinstance(data, dict) else None
    # Only an id the protocol allows (1-128 characters) is echoed.
    if isinstance(request_id, str) and 0 < len(request_id) <= MAX_REQUEST_ID_LEN:
        assert reply["id"] == request_id
    else:
        assert "id" not in reply


def served_beyond_the_schema(frame_type: str, frame: Any) -> bool:
    """friend.list takes no fields: any object with a string id is still a valid request."""
    return (
        frame_type == "friend.list" and isinstance(frame, dict) and isinstance(frame.get("id"), str)
    )


def hostile(frame_type: str) -> st.SearchStrategy[Any]:
    return mutated_values(f"frames/{frame_type}.json").map(
        lambda data: {**data, "type": frame_type} if isinstance(data, dict) else data
    )


def valid(frame_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid frames, half of them naming users that exist (or the caller)."""
    frames = valid_values(f"frames/{frame_type}.json")
    named = st.builds(lambda f, u: {**f, "user": u} if "user" in f else f, frames, KNOWN_USERS)
    return st.one_of(frames, named)


HOSTILE = {t: hostile(t) for t in FRAME_TYPES}
VALID = {t: valid(t) for t in FRAME_TYPES}


@fuzz_settings(100)
@given(data=st.data())
@pytest.mark.parametrize("frame_type", FRAME_TYPES)
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
@pytest.mark.parametrize("frame_type", FRAME_TYPES)
async def test_a_valid_frame_gets_its_ok_or_a_protocol_error(seeded, frame_type, data):
    frame = data.draw(VALID[frame_type])
    assert_answered(await ask(seeded, frame_type, frame), frame_type, frame)
