"""Property tests: register, login and token refresh answer any body with success or a
protocol error (never ``internal``, never an exception), and a refused body creates no user
and publishes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imfaas.events import catalog
from imfaas.events.schema_registry import data_problems
from imfaas.events.schema_strategies import (
    fuzz_settings,
    hostile_values,
    mutated_values,
    valid_values,
)

SCHEMAS = {
    catalog.HTTP_REGISTER: "http/register.request.json",
    catalog.HTTP_LOGIN: "http/login.request.json",
    catalog.HTTP_TOKEN_REFRESH: "http/token_refresh.request.json",
}
REFUSALS = {
    catalog.HTTP_REGISTER: {(400, "bad_request")},
    catalog.HTTP_LOGIN: {(400, "bad_request"), (401, "unauthorized"), (429, "rate_limited")},
    catalog.HTTP_TOKEN_REFRESH: {(400, "bad_request"), (401, "unauthorized")},
}
HOSTILE = {event_type: mutated_values(name) for event_type, name in SCHEMAS.items()}
# A refresh token shaped like the real ones (<session>.<secret>), but forged.
FORGED_REFRESH = st.builds(
    lambda session, secret, junk: {"refresh_token": f"{session}.{secret}", **junk},
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=60),
    st.dictionaries(st.text(max_size=5), hostile_values(3), max_size=2),
)


@pytest.fixture
async def known(env):
    """One registered user, so that some logins name a real account."""
    await env.register("alice", "correct-horse")
    return env


async def users_named(env, body: Any) -> Any:
    username = body.get("username") if isinstance(body, dict) else None
    if not isinstance(username, str):
        return None
    return await env.ports.users.get_by_username(username)


@fuzz_settings(120)
@given(data=st.data())
@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
async def test_a_body_the_schema_refuses_gets_a_protocol_error_and_changes_nothing(
    known, event_type, data
):
    body = data.draw(HOSTILE[event_type])
    assume(data_problems(SCHEMAS[event_type], body))
    user_before = await users_named(known, body)
    published_before = len(known.bus.published)

    status, reply = await known.call(event_type, body)

    assert (status, reply["error"]["code"]) in REFUSALS[event_type], (status, reply, body)
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    assert await users_named(known, body) == user_before
    assert len(known.bus.published) == published_before


@fuzz_settings(60)
@given(body=valid_values("http/register.request.json"))
async def test_a_valid_registration_creates_exactly_that_user_or_conflicts(known, body):
    before = await users_named(known, body)

    status, reply = await known.call(catalog.HTTP_REGISTER, body)

    after = await users_named(known, body)
    if before is None:
        assert status == 201, reply
        assert after is not None and after.user_id == reply["user_id"]
    else:
        assert (status, reply["error"]["code"]) == (409, "conflict")
        assert after == before
    assert known.bus.published == []


@fuzz_settings(60)
@given(body=st.one_of(valid_values("http/token_refresh.request.json"), FORGED_REFRESH))
async def test_a_forged_refresh_token_is_unauthorized_and_publishes_nothing(known, body):
    status, reply = await known.call(catalog.HTTP_TOKEN_REFRESH, body)

    assert (status, reply["error"]["code"]) == (401, "unauthorized")
    assert known.bus.published == []
