"""UserDirectory contract: unique usernames, stable ids, durable records."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.errors import Conflict
from imfaas.shared.ports.user_directory import UserRecord


def user(
    user_id: str, username: str, password_hash: str = "hash", created_ms: int = 1
) -> UserRecord:
    return UserRecord(user_id, username, password_hash, created_ms)


@pytest.fixture
async def users(open_port):
    return await open_port("users")


async def test_created_user_is_found_by_username(users):
    alice = user("u1", "alice", "argon2$abc", 1_700_000_000_000)
    await users.create_user(alice)

    assert await users.get_by_username("alice") == alice


async def test_unknown_username_is_none(users):
    await users.create_user(user("u1", "alice"))

    assert await users.get_by_username("bob") is None


async def test_taken_username_raises_conflict_and_keeps_the_first_user(users):
    first = user("u1", "alice", "first")
    await users.create_user(first)

    with pytest.raises(Conflict):
        await users.create_user(user("u2", "alice", "second"))

    assert await users.get_by_username("alice") == first
    assert await users.existing_users(["u1", "u2"]) == {"u1"}


async def test_concurrent_creates_of_one_username_let_exactly_one_win(users):
    results = await asyncio.gather(
        *(users.create_user(user(f"u{i}", "alice")) for i in range(10)),
        return_exceptions=True,
    )

    winners = [r for r in results if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)
    assert len(await users.existing_users([f"u{i}" for i in range(10)])) == 1


async def test_distinct_usernames_make_distinct_users(users):
    await users.create_user(user("u1", "alice"))
    await users.create_user(user("u2", "alice_2"))

    assert (await users.get_by_username("alice_2")).user_id == "u2"


async def test_existing_users_is_the_subset_that_exists(users):
    for i in range(3):
        await users.create_user(user(f"u{i}", f"name{i}"))

    assert await users.existing_users(["u0", "u2", "ghost", "u0"]) == {"u0", "u2"}
    assert await users.existing_users(["ghost"]) == set()
    assert await users.existing_users([]) == set()


async def test_users_survive_closing_and_reopening(open_port):
    users = await open_port("users")
    alice = user("u1", "alice", "h", 42)
    await users.create_user(alice)
    await open_port.close()

    reopened = await open_port("users")

    assert await reopened.get_by_username("alice") == alice
    with pytest.raises(Conflict):
        await reopened.create_user(user("u9", "alice"))
