"""The push function's three stages on embedded ports, sending through the fake FCM, APNs
and HMS servers: exactly one notification per device, silence when muted or in
do-not-disturb, previews off, retries, dead letters, invalid tokens, replays."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.push.config import PushConfig
from imfaas.functions.push.handler import PushFunction
from imfaas.functions.push.providers.retry_policy import RetryPolicy
from imfaas.functions.push.tests.fake_push_server import SERVER_ERROR, UNREGISTERED, too_many
from imfaas.shared.ports.device_registry import DeviceRecord, PushToken, RefreshFamily
from imfaas.shared.ports.push_registry import PushPreferences
from imfaas.shared.testing import RecordingEventBus, identity, port_sets, reply_frame

NOW = int(time.time() * 1000)
CONV = "d:alice:bob"


def message(seq: int = 1, content: dict | None = None, conversation: str = CONV) -> dict:
    return {
        "conversation": conversation,
        "seq": seq,
        "msg_id": f"m{seq}-{conversation}",
        "sender": "alice",
        "sender_device": "a1",
        "client_msg_id": f"c{seq}",
        "ts": NOW,
        "content": content or {"kind": "text", "text": f"hello {seq}"},
    }


@dataclass
class PushEnv:
    fn: PushFunction
    ports: Any
    bus: RecordingEventBus
    fcm: Any
    apns: Any
    hms: Any

    async def pump(self, first: CloudEvent) -> None:
        """Handle ``first`` and every push event it leads to, as the bus would, in order."""
        queue = [first]
        seen = 0
        while queue:
            event = queue.pop(0)
            await self.fn.handle(event)
            fresh = self.bus.published[seen:]
            seen = len(self.bus.published)
            queue.extend(e for e, _ in fresh if e["type"] in (catalog.PUSH_TASK, catalog.PUSH_JOB))

    async def requested(self, users: list[str], msg: dict | None = None) -> None:
        data = {"message": msg or message(), "users": users}
        await self.pump(new_event(catalog.PUSH_REQUESTED, "/test", data))

    def of_type(self, event_type: str) -> list[dict]:
        return [e.get_data() for e in self.bus.of_type(event_type)]

    async def register(
        self, user: str, device: str, provider: str, token: str, platform: str = "ios"
    ) -> None:
        session = f"s-{user}-{device}"
        await self.ports.devices.upsert_device(DeviceRecord(user, device, platform, NOW))
        family = RefreshFamily(session, user, device, platform, "h", 0, NOW + 3_600_000, False)
        await self.ports.devices.create_family(family)
        assert await self.ports.devices.set_push_token(
            PushToken(user, device, provider, token, NOW), session
        )


@pytest.fixture
async def make_env(tmp_path, fcm_bench, apns_bench, hms_bench) -> AsyncIterator[Any]:
    async with port_sets(tmp_path) as new_ports:

        async def make(**config: Any) -> PushEnv:
            env = await new_ports()
            base = PushConfig.from_settings(env.settings)
            retry = RetryPolicy(base_delay_s=0.0, max_delay_s=0.0, max_attempts=4)
            cfg = dataclasses.replace(base, retry=retry, **config)
            providers = {
                "fcm": fcm_bench.client(),
                "apns": apns_bench.client(),
                "hms": hms_bench.client(),
            }
            fn = PushFunction(cfg, env.ports, providers)
            await fn.start()
            return PushEnv(fn, env.ports, env.bus, fcm_bench.fake, apns_bench.fake, hms_bench.fake)

        yield make


@pytest.fixture
async def env(make_env) -> PushEnv:
    made = await make_env()
    await made.register("bob", "phone", "apns", "b0" * 32)
    await made.register("bob", "tablet", "fcm", "bob-fcm-token", "android")
    await made.register("carol", "p", "hms", "carol-hms-token", "android")
    return made


async def test_an_offline_member_gets_exactly_one_notification_per_device(env):
    await env.requested(["bob", "carol"])

    assert [a.token for a in env.apns.accepted] == ["b0" * 32]
    assert [a.token for a in env.fcm.accepted] == ["bob-fcm-token"]
    assert [a.token for a in env.hms.accepted] == ["carol-hms-token"]
    alert = env.apns.accepted[0].body["aps"]["alert"]
    assert alert["body"] == "hello 1"
    records = await env.ports.pushes.records_for_user("bob")
    assert sorted((r.device_id, r.status, r.attempts) for r in records) == [
        ("phone", "delivered", 1),
        ("tablet", "delivered", 1),
    ]


async def test_a_replayed_job_or_task_never_notifies_twice(env):
    await env.requested(["bob"])
    jobs = env.bus.of_type(catalog.PUSH_JOB)
    tasks = env.bus.of_type(catalog.PUSH_TASK)

    for event in (*jobs, *tasks):
        await env.pump(event)  # Kafka redelivers after a crash
    await env.requested(["bob"])  # fanout's event redelivered too

    assert len(env.apns.accepted) == 1 and len(env.fcm.accepted) == 1


async def test_a_muted_conversation_gets_nothing_and_others_still_do(env):
    await env.ports.pushes.set_conversation_mute("bob", CONV, NOW + 3_600_000)

    await env.requested(["bob"])
    await env.requested(["bob"], message(1, conversation="d:bob:dave"))

    assert {a.body.get("conversation") for a in env.apns.accepted} == {"d:bob:dave"}
    assert len(env.fcm.accepted) == 1


async def test_an_expired_mute_lets_pushes_through(env):
    await env.ports.pushes.set_conversation_mute("bob", CONV, NOW - 1)

    await env.requested(["bob"])

    assert len(env.apns.accepted) == 1


async def test_do_not_disturb_silences_every_device(env):
    minute = (NOW // 60_000) % 1440
    await env.ports.pushes.set_preferences(
        PushPreferences("bob", True, (minute - 5) % 1440, (minute + 5) % 1440, 0)
    )

    await env.requested(["bob", "carol"])

    assert env.apns.accepted == [] and env.fcm.accepted == []
    assert len(env.hms.accepted) == 1  # carol has no do-not-disturb


async def test_previews_off_and_cipher_messages_hide_the_text(env):
    await env.ports.pushes.set_preferences(PushPreferences("bob", preview=False))
    await env.requested(["bob"])
    cipher = {"kind": "cipher", "alg": "x", "ciphertext": "c2VjcmV0"}
    await env.requested(["carol"], message(2, cipher))

    assert env.apns.accepted[0].body["aps"]["alert"]["body"] == "New message"
    assert "hello" not in str(env.fcm.accepted[0].body)
    assert "c2VjcmV0" not in str(env.hms.accepted[0].body)
    assert "hello" not in str(env.hms.accepted[0].body)


async def test_a_server_error_then_success_delivers_once(env):
    env.apns.script("b0" * 32, SERVER_ERROR)

    await env.requested(["bob"])

    assert len(env.apns.accepted) == 1
    record = next(
        r for r in await env.ports.pushes.records_for_user("bob") if r.device_id == "phone"
    )
    assert (record.status, record.attempts) == ("delivered", 2)
    retried = [j for j in env.of_type(catalog.PUSH_JOB) if j["device"] == "phone"]
    assert [j["attempt"] for j in retried] == [0, 1]


async def test_retry_after_is_honoured(make_env):
    env = await make_env()
    await env.register("bob", "tablet", "fcm", "bob-fcm-token")
    env.fcm.script("bob-fcm-token", too_many("7"))
    before = int(time.time() * 1000)

    await env.fn.handle(
        new_event(catalog.PUSH_REQUESTED, "/t", {"message": message(), "users": ["bob"]})
    )
    await env.fn.handle(env.bus.of_type(catalog.PUSH_TASK)[0])
    await env.fn.handle(env.bus.of_type(catalog.PUSH_JOB)[0])

    later = env.of_type(catalog.PUSH_JOB)[-1]
    assert later["attempt"] == 1
    assert later["not_before"] >= before + 7000
    assert env.fcm.accepted == []


async def test_an_unregistered_token_is_removed(env):
    env.fcm.script("bob-fcm-token", UNREGISTERED)

    await env.requested(["bob"])

    tokens = await env.ports.devices.push_tokens("bob")
    assert [t.device_id for t in tokens] == ["phone"]
    record = next(
        r for r in await env.ports.pushes.records_for_user("bob") if r.device_id == "tablet"
    )
    assert record.status == "invalid_token"
    await env.requested(["bob"], message(2))
    assert len(env.fcm.accepted) == 0 and len(env.apns.accepted) == 2


async def test_the_retry_budget_ends_in_the_dead_letter_topic(env):
    env.hms.script("carol-hms-token", *[SERVER_ERROR] * 10)

    await env.requested(["carol"])

    assert env.hms.accepted == []
    assert env.hms.send_calls == 4
    [dead] = env.of_type(catalog.PUSH_DEAD)
    assert (dead["device"], dead["attempt"]) == ("p", 4)
    [record] = await env.ports.pushes.records_for_user("carol")
    assert (record.status, record.attempts) == ("dead", 4)


async def test_the_per_user_rate_limit_drops_the_excess(make_env):
    env = await make_env(user_per_minute=2)
    await env.register("bob", "phone", "apns", "b0" * 32)

    for seq in range(1, 5):
        await env.requested(["bob"], message(seq))

    assert len(env.apns.accepted) == 2


async def test_web_and_desktop_devices_get_no_mobile_push(make_env):
    env = await make_env()
    await env.register("dave", "browser", "fcm", "dave-web-token", "web")
    await env.register("dave", "laptop", "fcm", "dave-desktop-token", "desktop")
    await env.register("dave", "phone", "fcm", "dave-android-token", "android")

    await env.requested(["dave"])

    assert [a.token for a in env.fcm.accepted] == ["dave-android-token"]


async def test_a_user_without_tokens_gets_nothing_and_nothing_fails(env):
    await env.requested(["nobody"])

    assert env.of_type(catalog.PUSH_JOB) == []


async def test_a_group_notification_is_titled_with_the_group_name(env):
    await env.ports.groups.create_group("g1", "Climbers", "alice", ["bob"], NOW)

    await env.requested(["bob"], message(1, conversation="g:g1"))

    assert env.apns.accepted[0].body["aps"]["alert"]["title"] == "Climbers"


@pytest.mark.parametrize(
    "data",
    [
        {"message": message(), "users": []},
        {"users": ["bob"]},
        {"message": {"seq": 1}, "users": ["bob"]},
    ],
)
async def test_malformed_events_are_refused(env, data):
    from imfaas.shared.errors import BadRequest

    with pytest.raises(BadRequest):
        await env.fn.handle(new_event(catalog.PUSH_REQUESTED, "/t", data))
    assert env.bus.published == []


# -- frames ------------------------------------------------------------------------------


async def ask(env, user: str, frame: dict) -> dict:
    reply = await reply_frame(env.fn.handle, {"id": "q1", **frame}, identity(user))
    assert reply is not None
    return reply


async def test_push_settings_read_change_and_clear(env):
    assert await ask(env, "bob", {"type": "push.settings"}) == {
        "type": "push.settings.ok",
        "id": "q1",
        "preview": True,
        "dnd": None,
    }
    dnd = {"start": 1320, "end": 420, "utc_offset": 60}
    changed = await ask(env, "bob", {"type": "push.settings", "preview": False, "dnd": dnd})
    assert (changed["preview"], changed["dnd"]) == (False, dnd)
    assert await env.ports.pushes.preferences("bob") == PushPreferences("bob", False, 1320, 420, 60)

    cleared = await ask(env, "bob", {"type": "push.settings", "dnd": None})
    assert (cleared["preview"], cleared["dnd"]) == (False, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"preview": "no"},
        {"dnd": {"start": 1440, "end": 1}},
        {"dnd": {"start": 1, "end": -1}},
        {"dnd": {"start": 1, "end": 2, "utc_offset": 900}},
        {"dnd": "night"},
    ],
)
async def test_bad_push_settings_change_nothing(env, fields):
    reply = await ask(env, "bob", {"type": "push.settings", **fields})

    assert (reply["type"], reply["code"]) == ("error", "bad_request")
    assert await env.ports.pushes.preferences("bob") == PushPreferences("bob")


async def test_push_mute_is_for_members_only(env):
    ok = await ask(env, "bob", {"type": "push.mute", "conversation": CONV, "until": NOW + 1000})
    assert ok == {"type": "push.mute.ok", "id": "q1"}
    assert await env.ports.pushes.conversation_mutes("bob", [CONV]) == {CONV: NOW + 1000}

    refused = await ask(env, "carol", {"type": "push.mute", "conversation": CONV, "until": 1})
    assert (refused["type"], refused["code"]) == ("error", "forbidden")
    bad = await ask(env, "bob", {"type": "push.mute", "conversation": CONV, "until": -1})
    assert bad["code"] == "bad_request"
    unknown = await ask(env, "bob", {"type": "push.mute", "conversation": "g:nope", "until": 1})
    assert unknown["code"] == "not_found"
    assert await env.ports.pushes.conversation_mutes("carol", [CONV]) == {}
