"""Property tests: malformed ``message.stored`` or ``session.revoked`` data is refused with
``bad_request`` (never any other exception, which the bus retries as a failure) and
delivers and publishes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.schema_registry import data_problems
from imfaas.events.schema_strategies import fuzz_settings, hostile_values, mutated_values
from imfaas.shared.errors import BadRequest

SCHEMAS = {
    catalog.MESSAGE_STORED: "events/message.stored.json",
    catalog.SESSION_REVOKED: "events/session.revoked.json",
}
MALFORMED_OBJECTS = {
    event_type: mutated_values(name).filter(
        lambda d, n=name: isinstance(d, dict) and data_problems(n, d)
    )
    for event_type, name in SCHEMAS.items()
}


@pytest.fixture
async def online(env):
    """Sockets whose users a random event might name."""
    for user in ("ua", "ub"):
        await env.online(user, "d1", "gw-1", f"c-{user}")
    return env


@fuzz_settings(100)
@given(body=hostile_values().filter(lambda d: not isinstance(d, dict)))
@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
async def test_data_that_is_not_an_object_is_bad_request_and_delivers_nothing(
    online, event_type, body
):
    with pytest.raises(BadRequest):
        await online.fn.handle(new_event(event_type, "/test", body))

    assert online.delivery.batches == []
    assert online.bus.published == []


@fuzz_settings(100)
@given(data=st.data())
@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
async def test_a_malformed_object_is_bad_request_and_delivers_nothing(online, event_type, data):
    body = data.draw(MALFORMED_OBJECTS[event_type])

    with pytest.raises(BadRequest):
        await online.fn.handle(new_event(event_type, "/test", body))

    assert online.delivery.batches == []
    assert online.bus.published == []
