"""DeviceRegistry contract: device upsert, refresh rotation as an atomic compare-and-set,
seats that concurrent logins leave with one holder each, push tokens per device."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.device_registry import (
    DeviceRecord,
    Displaced,
    PushToken,
    RefreshFamily,
    RotateOutcome,
    Seat,
)

NOW = 1_700_000_000_000
DAY = 24 * 3600 * 1000


def family(
    session_id: str = "s1",
    user_id: str = "u1",
    device_id: str = "d1",
    token_hash: str = "h0",
    expires_ms: int = NOW + DAY,
) -> RefreshFamily:
    return RefreshFamily(
        session_id=session_id,
        user_id=user_id,
        device_id=device_id,
        platform="ios",
        token_hash=token_hash,
        generation=0,
        expires_ms=expires_ms,
        revoked=False,
    )


@pytest.fixture
async def devices(open_port):
    return await open_port("devices")


async def test_upsert_device_creates_then_updates_without_error(devices):
    await devices.upsert_device(DeviceRecord("u1", "d1", "ios", NOW))
    await devices.upsert_device(DeviceRecord("u1", "d1", "android", NOW + 1))
    await devices.upsert_device(DeviceRecord("u2", "d1", "web", NOW))


async def test_upsert_device_leaves_the_device_sessions_alone(devices):
    await devices.upsert_device(DeviceRecord("u1", "d1", "ios", NOW))
    await devices.create_family(family())

    await devices.upsert_device(DeviceRecord("u1", "d1", "ios", NOW + 5))

    assert await devices.is_session_live("s1", NOW)


async def test_new_family_is_live_and_unknown_one_is_not(devices):
    await devices.create_family(family())

    assert await devices.is_session_live("s1", NOW)
    assert not await devices.is_session_live("nope", NOW)


async def test_rotate_with_the_current_hash_rotates(devices):
    await devices.create_family(family(token_hash="h0"))

    outcome, fam = await devices.rotate("s1", "h0", "h1", NOW)

    assert outcome is RotateOutcome.ROTATED
    assert fam is not None
    assert (fam.session_id, fam.user_id, fam.device_id) == ("s1", "u1", "d1")
    assert await devices.is_session_live("s1", NOW)


async def test_rotation_chains_through_each_new_hash(devices):
    await devices.create_family(family(token_hash="h0"))

    for n in range(5):
        outcome, _ = await devices.rotate("s1", f"h{n}", f"h{n + 1}", NOW)
        assert outcome is RotateOutcome.ROTATED


async def test_rotate_with_an_old_hash_is_reuse_and_revokes_the_family(devices):
    await devices.create_family(family(token_hash="h0"))
    await devices.rotate("s1", "h0", "h1", NOW)

    outcome, fam = await devices.rotate("s1", "h0", "attacker", NOW)

    assert outcome is RotateOutcome.REUSED
    assert fam is not None and fam.session_id == "s1"
    # The whole family is dead: even the legitimate current token no longer works.
    assert (await devices.rotate("s1", "h1", "h2", NOW))[0] is RotateOutcome.INVALID
    assert (await devices.rotate("s1", "attacker", "h3", NOW))[0] is RotateOutcome.INVALID
    assert not await devices.is_session_live("s1", NOW)


async def test_reuse_revokes_only_that_family(devices):
    await devices.create_family(family("s1", token_hash="a0"))
    await devices.create_family(family("s2", token_hash="b0"))

    await devices.rotate("s1", "wrong", "x", NOW)

    assert await devices.is_session_live("s2", NOW)
    assert (await devices.rotate("s2", "b0", "b1", NOW))[0] is RotateOutcome.ROTATED


async def test_rotate_an_expired_family_is_invalid(devices):
    await devices.create_family(family(token_hash="h0", expires_ms=NOW + 1000))

    outcome, _ = await devices.rotate("s1", "h0", "h1", NOW + 2000)

    assert outcome is RotateOutcome.INVALID
    assert not await devices.is_session_live("s1", NOW + 2000)
    # Before its expiry the same family was live.
    assert await devices.is_session_live("s1", NOW)


async def test_rotate_an_unknown_family_is_invalid(devices):
    outcome, fam = await devices.rotate("ghost", "h0", "h1", NOW)

    assert outcome is RotateOutcome.INVALID
    assert fam is None


async def test_two_concurrent_rotations_of_one_token_never_both_succeed(devices):
    await devices.create_family(family(token_hash="h0"))

    results = await asyncio.gather(
        devices.rotate("s1", "h0", "new-a", NOW), devices.rotate("s1", "h0", "new-b", NOW)
    )

    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count(RotateOutcome.ROTATED) == 1


async def test_many_concurrent_rotations_of_one_token_rotate_once(devices):
    await devices.create_family(family(token_hash="h0"))

    results = await asyncio.gather(
        *(devices.rotate("s1", "h0", f"new-{i}", NOW) for i in range(20))
    )

    assert [outcome for outcome, _ in results].count(RotateOutcome.ROTATED) == 1


async def test_revoke_device_returns_its_live_sessions_and_kills_them(devices):
    await devices.create_family(family("s1", "u1", "d1"))
    await devices.create_family(family("s2", "u1", "d1"))
    await devices.create_family(family("s3", "u1", "d2"))
    await devices.create_family(family("s4", "u2", "d1"))

    revoked = await devices.revoke_device("u1", "d1")

    assert sorted(revoked) == ["s1", "s2"]
    assert not await devices.is_session_live("s1", NOW)
    assert not await devices.is_session_live("s2", NOW)
    assert await devices.is_session_live("s3", NOW)
    assert await devices.is_session_live("s4", NOW)
    assert (await devices.rotate("s1", "h0", "h1", NOW))[0] is RotateOutcome.INVALID


async def test_revoke_device_skips_families_already_revoked(devices):
    await devices.create_family(family("s1"))
    await devices.create_family(family("s2"))
    await devices.rotate("s1", "reused", "x", NOW)  # s1 is revoked by reuse

    assert await devices.revoke_device("u1", "d1") == ["s2"]
    assert await devices.revoke_device("u1", "d1") == []


async def test_revoke_device_without_sessions_is_empty(devices):
    assert await devices.revoke_device("u1", "nothing") == []


async def test_families_survive_closing_and_reopening(open_port):
    devices = await open_port("devices")
    await devices.create_family(family(token_hash="h0"))
    await devices.rotate("s1", "h0", "h1", NOW)
    await open_port.close()

    reopened = await open_port("devices")

    assert await reopened.is_session_live("s1", NOW)
    assert (await reopened.rotate("s1", "h0", "x", NOW))[0] is RotateOutcome.REUSED


# -- seats ------------------------------------------------------------------------------

MOBILE = Seat("mobile", 1)


def seated(session_id: str, device_id: str, user_id: str = "u1") -> RefreshFamily:
    return family(session_id, user_id, device_id)


async def live_sessions(devices, *session_ids: str) -> set[str]:
    return {s for s in session_ids if await devices.is_session_live(s, NOW)}


async def test_first_login_in_a_seat_displaces_nobody(devices):
    assert await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW) is None
    assert await devices.is_session_live("s1", NOW)


async def test_another_device_in_a_full_seat_displaces_the_holder(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)
    await devices.create_family(seated("s1b", "d1"))  # a second session of the same device

    displaced = await devices.create_seated_family(seated("s2", "d2"), MOBILE, NOW + 1)

    assert displaced == Displaced("d1", tuple(sorted(displaced.sessions)))
    assert sorted(displaced.sessions) == ["s1", "s1b"]
    assert await live_sessions(devices, "s1", "s1b", "s2") == {"s2"}
    assert (await devices.rotate("s1", "h0", "h1", NOW))[0] is RotateOutcome.INVALID


async def test_a_relogin_of_the_holder_keeps_its_seat(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)

    assert await devices.create_seated_family(seated("s2", "d1"), MOBILE, NOW + 1) is None

    assert await live_sessions(devices, "s1", "s2") == {"s1", "s2"}
    # Still the holder: the next device displaces it, with both its sessions.
    displaced = await devices.create_seated_family(seated("s3", "d2"), MOBILE, NOW + 2)
    assert displaced is not None and displaced.device_id == "d1"
    assert sorted(displaced.sessions) == ["s1", "s2"]


async def test_seat_classes_and_users_are_independent(devices):
    await devices.create_seated_family(seated("s1", "phone"), MOBILE, NOW)

    assert await devices.create_seated_family(seated("s2", "pc"), Seat("desktop", 1), NOW) is None
    assert await devices.create_seated_family(seated("s3", "phone", "u2"), MOBILE, NOW) is None
    assert await live_sessions(devices, "s1", "s2", "s3") == {"s1", "s2", "s3"}


async def test_with_two_seats_the_seat_taken_longest_ago_changes_hands(devices):
    two = Seat("mobile", 2)
    assert await devices.create_seated_family(seated("s1", "d1"), two, NOW) is None
    assert await devices.create_seated_family(seated("s2", "d2"), two, NOW + 1) is None
    # d1 logs in again: its seat is now the more recent one.
    assert await devices.create_seated_family(seated("s3", "d1"), two, NOW + 2) is None

    displaced = await devices.create_seated_family(seated("s4", "d3"), two, NOW + 3)

    assert displaced == Displaced("d2", ("s2",))
    assert await live_sessions(devices, "s1", "s2", "s3", "s4") == {"s1", "s3", "s4"}


async def test_revoke_device_frees_its_seat(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)
    await devices.revoke_device("u1", "d1")

    assert await devices.create_seated_family(seated("s2", "d2"), MOBILE, NOW + 1) is None
    assert await devices.is_session_live("s2", NOW)


async def test_a_displaced_device_that_logs_in_again_displaces_the_new_holder(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)
    await devices.create_seated_family(seated("s2", "d2"), MOBILE, NOW + 1)

    displaced = await devices.create_seated_family(seated("s3", "d1"), MOBILE, NOW + 2)

    assert displaced == Displaced("d2", ("s2",))
    assert await live_sessions(devices, "s1", "s2", "s3") == {"s3"}


@pytest.mark.parametrize("limit", [1, 2])
async def test_concurrent_logins_leave_each_seat_exactly_one_holder(devices, limit):
    seat = Seat("mobile", limit)
    n = 12

    results = await asyncio.gather(
        *(devices.create_seated_family(seated(f"s{i}", f"d{i}"), seat, NOW) for i in range(n))
    )

    displaced = [r for r in results if r is not None]
    live = await live_sessions(devices, *(f"s{i}" for i in range(n)))
    assert len(live) == limit
    # Every other device was displaced exactly once, and a holder never was.
    assert sorted(d.device_id for d in displaced) == sorted(
        f"d{i}" for i in range(n) if f"s{i}" not in live
    )
    assert all(len(d.sessions) == 1 for d in displaced)


async def test_a_relogin_racing_a_new_device_leaves_one_device_with_live_sessions(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)

    await asyncio.gather(
        devices.create_seated_family(seated("s2", "d1"), MOBILE, NOW + 1),
        devices.create_seated_family(seated("s3", "d2"), MOBILE, NOW + 1),
    )

    live = await live_sessions(devices, "s1", "s2", "s3")
    assert live in ({"s2"}, {"s3"}, {"s1", "s2"}) and live != {"s1", "s2", "s3"}
    holder_devices = {"d1" if s in ("s1", "s2") else "d2" for s in live}
    assert len(holder_devices) == 1


async def test_seats_survive_closing_and_reopening(open_port):
    devices = await open_port("devices")
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)
    await open_port.close()

    reopened = await open_port("devices")

    assert await reopened.create_seated_family(seated("s2", "d2"), MOBILE, NOW) == Displaced(
        "d1", ("s1",)
    )


# -- push tokens ------------------------------------------------------------------------


def push(device_id: str = "d1", token: str = "tok-1", user_id: str = "u1", provider: str = "fcm"):
    return PushToken(user_id, device_id, provider, token, NOW)


async def test_a_push_token_is_stored_and_replaced_per_device(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d2"))

    assert await devices.set_push_token(push("d1", "old"), "s1")
    assert await devices.set_push_token(push("d2", "other", provider="apns"), "s2")
    assert await devices.set_push_token(push("d1", "new", provider="hms"), "s1")

    assert await devices.push_tokens("u1") == [
        PushToken("u1", "d1", "hms", "new", NOW),
        PushToken("u1", "d2", "apns", "other", NOW),
    ]
    assert await devices.push_tokens("u2") == []


async def test_a_push_token_needs_a_live_session_of_that_device(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(family("old", "u1", "d1", expires_ms=NOW - 1))
    await devices.create_family(seated("s2", "d2"))
    await devices.create_family(seated("revoked", "d3"))
    await devices.revoke_device("u1", "d3")

    assert not await devices.set_push_token(push("d1"), "nope")
    assert not await devices.set_push_token(push("d1"), "s2")  # another device's session
    assert not await devices.set_push_token(push("d1", user_id="u2"), "s1")
    assert not await devices.set_push_token(push("d1"), "old")  # expired
    assert not await devices.set_push_token(push("d3"), "revoked")
    assert await devices.push_tokens("u1") == []
    assert await devices.push_tokens("u2") == []


async def test_a_push_token_moves_to_the_device_that_registers_it_last(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d9", "u2"))
    await devices.set_push_token(push("d1", "shared"), "s1")

    assert await devices.set_push_token(push("d9", "shared", "u2"), "s2")

    assert await devices.push_tokens("u1") == []
    assert [t.device_id for t in await devices.push_tokens("u2")] == ["d9"]
    # The same text from another provider is another token.
    assert await devices.set_push_token(push("d1", "shared", provider="apns"), "s1")
    assert len(await devices.push_tokens("u2")) == 1


async def test_logout_and_displacement_drop_the_push_token(devices):
    await devices.create_seated_family(seated("s1", "d1"), MOBILE, NOW)
    await devices.create_family(seated("s2", "web"))
    await devices.set_push_token(push("d1", "phone-token"), "s1")
    await devices.set_push_token(push("web", "web-token"), "s2")

    await devices.create_seated_family(seated("s3", "d2"), MOBILE, NOW + 1)
    assert [t.token for t in await devices.push_tokens("u1")] == ["web-token"]

    await devices.revoke_device("u1", "web")
    assert await devices.push_tokens("u1") == []


async def test_a_push_token_racing_a_revocation_never_survives_it(devices):
    for i in range(5):
        await devices.create_family(seated(f"s{i}", f"d{i}"))

    await asyncio.gather(
        *(devices.set_push_token(push(f"d{i}", f"t{i}"), f"s{i}") for i in range(5)),
        *(devices.revoke_device("u1", f"d{i}") for i in range(5)),
    )

    assert await devices.push_tokens("u1") == []


async def test_push_tokens_survive_closing_and_reopening(open_port):
    devices = await open_port("devices")
    await devices.create_family(seated("s1", "d1"))
    await devices.set_push_token(push("d1", "kept", provider="apns"), "s1")
    await open_port.close()

    reopened = await open_port("devices")

    assert await reopened.push_tokens("u1") == [PushToken("u1", "d1", "apns", "kept", NOW)]


# -- dropping an invalid push token ------------------------------------------------------


async def test_drop_push_token_removes_the_current_token_of_that_device_only(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d2"))
    await devices.set_push_token(push("d1", "bad"), "s1")
    await devices.set_push_token(push("d2", "good"), "s2")

    assert await devices.drop_push_token("u1", "d1", "bad")

    assert [t.token for t in await devices.push_tokens("u1")] == ["good"]
    assert not await devices.drop_push_token("u1", "d1", "bad")  # already gone


async def test_drop_push_token_keeps_a_newer_registration(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.set_push_token(push("d1", "old"), "s1")
    await devices.set_push_token(push("d1", "new"), "s1")

    assert not await devices.drop_push_token("u1", "d1", "old")

    assert [t.token for t in await devices.push_tokens("u1")] == ["new"]


async def test_drop_push_token_of_a_device_without_one_is_false(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.set_push_token(push("d1", "tok"), "s1")

    assert not await devices.drop_push_token("u1", "d2", "tok")
    assert not await devices.drop_push_token("u2", "d1", "tok")
    assert [t.token for t in await devices.push_tokens("u1")] == ["tok"]


async def test_drop_push_token_leaves_the_device_that_took_the_token_over(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d9", "u2"))
    await devices.set_push_token(push("d1", "shared"), "s1")
    await devices.set_push_token(push("d9", "shared", "u2"), "s2")

    assert not await devices.drop_push_token("u1", "d1", "shared")

    assert [t.device_id for t in await devices.push_tokens("u2")] == ["d9"]


async def test_a_device_registers_again_after_its_token_was_dropped(devices):
    await devices.create_family(seated("s1", "d1"))
    await devices.set_push_token(push("d1", "bad"), "s1")
    await devices.drop_push_token("u1", "d1", "bad")

    assert await devices.set_push_token(push("d1", "fresh"), "s1")

    assert [t.token for t in await devices.push_tokens("u1")] == ["fresh"]


async def test_a_drop_racing_a_new_registration_never_loses_the_new_token(devices):
    for i in range(5):
        await devices.create_family(seated(f"s{i}", f"d{i}"))
        await devices.set_push_token(push(f"d{i}", f"old{i}"), f"s{i}")

    await asyncio.gather(
        *(devices.drop_push_token("u1", f"d{i}", f"old{i}") for i in range(5)),
        *(devices.set_push_token(push(f"d{i}", f"new{i}"), f"s{i}") for i in range(5)),
    )

    assert [t.token for t in await devices.push_tokens("u1")] == [f"new{i}" for i in range(5)]


async def test_a_dropped_push_token_stays_dropped_after_reopening(open_port):
    devices = await open_port("devices")
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d2"))
    await devices.set_push_token(push("d1", "bad"), "s1")
    await devices.set_push_token(push("d2", "good"), "s2")
    await devices.drop_push_token("u1", "d1", "bad")
    await open_port.close()

    reopened = await open_port("devices")

    assert [t.token for t in await reopened.push_tokens("u1")] == ["good"]


async def test_push_tokens_carry_the_platform_the_device_last_logged_in_with(devices):
    await devices.upsert_device(DeviceRecord("u1", "d1", "ios", NOW))
    await devices.create_family(seated("s1", "d1"))
    await devices.create_family(seated("s2", "d2"))
    await devices.set_push_token(push("d1", "apple", provider="apns"), "s1")
    await devices.set_push_token(push("d2", "other"), "s2")

    tokens = await devices.push_tokens("u1")

    assert [(t.device_id, t.platform) for t in tokens] == [("d1", "ios"), ("d2", "")]
    await devices.upsert_device(DeviceRecord("u1", "d1", "web", NOW + 1))
    assert (await devices.push_tokens("u1"))[0].platform == "web"
