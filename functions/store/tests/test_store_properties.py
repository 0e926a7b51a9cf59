"""Property tests: ``message.submitted`` data is stored once, or refused with a protocol
error (never any other exception, which the bus would retry as a failure) that stores and
publishes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.schema_strategies import fuzz_settings, mutated_values, valid_values
from imfaas.shared.errors import ImfaasError

SCHEMA = "events/message.submitted.json"
REFUSALS = {"bad_request", "not_found"}


async def stored_in(env, data: Any) -> Any:
    conversation = data.get("conversation") if isinstance(data, dict) else None
    if not isinstance(conversation, str):
        return None
    return await env.ports.messages.read_after(conversation, 0, 10)


async def assert_stored_once_or_refused(env, data: Any) -> None:
    before = await stored_in(env, data)
    published = len(env.bus.published)
    try:
        await env.fn.handle(new_event(catalog.MESSAGE_SUBMITTED, "/test", data))
    except ImfaasError as exc:
        assert exc.code in REFUSALS, (exc, data)
        assert await stored_in(env, data) == before
        assert len(env.bus.published) == published
        return
    assert len(env.bus.published) == published + 1
    (event, key), *_ = env.bus.published[published:]
    stored = event.get_data()["message"]
    assert event["type"] == catalog.MESSAGE_STORED
    assert key == stored["conversation"]
    assert stored["client_msg_id"] == data["client_msg_id"]
    if not event.get_data()["duplicate"]:  # a resend gets the first message back
        assert stored["content"] == data["content"]


@fuzz_settings(200)
@given(data=mutated_values(SCHEMA))
async def test_any_data_is_stored_once_or_refused_with_a_protocol_error(env, data):
    # Store trusts send's validation of content and ids, so some data the schema refuses is
    # still stored; what must hold is that nothing but a protocol error escapes, and that a
    # refusal stores and publishes nothing.
    await assert_stored_once_or_refused(env, data)


@fuzz_settings(100)
@given(data=valid_values(SCHEMA))
async def test_valid_data_is_stored_once_or_refused_with_a_protocol_error(env, data):
    # Valid by the schema is not always storable: an unsorted direct pair, an unknown group.
    await assert_stored_once_or_refused(env, data)
