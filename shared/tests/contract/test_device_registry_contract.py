"""DeviceRegistry contract: device upsert, refresh rotation as an atomic compare-and-set."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.ports.device_registry import DeviceRecord, RefreshFamily, RotateOutcome

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
