"""Conversation ids: d:<a>:<b> sorted by code point, g:<group>; user and device ids."""

from __future__ import annotations

import pytest

from imfaas.shared.conversation_id import (
    MAX_ID_LEN,
    ConversationId,
    check_plain_id,
    direct_conversation,
    new_device_id,
    new_user_id,
    parse_conversation,
)
from imfaas.shared.errors import BadRequest


def test_direct_conversation_sorts_the_two_users():
    assert direct_conversation("bob", "alice") == "d:alice:bob"
    assert direct_conversation("alice", "bob") == "d:alice:bob"


def test_direct_conversation_uses_code_point_order():
    # "B" (0x42) sorts before "a" (0x61); "é" (0xe9) after "z".
    assert direct_conversation("a", "B") == "d:B:a"
    assert direct_conversation("é", "z") == "d:z:é"
    assert direct_conversation("u10", "u9") == "d:u10:u9"


def test_parse_direct_conversation():
    parsed = parse_conversation("d:alice:bob")

    assert parsed == ConversationId("d", ("alice", "bob"))
    assert parsed.text == "d:alice:bob"
    assert parsed.direct_members() == ("alice", "bob")


def test_parse_group_conversation():
    parsed = parse_conversation("g:team-1")

    assert parsed == ConversationId("g", ("team-1",))
    assert parsed.text == "g:team-1"
    with pytest.raises(ValueError):
        parsed.direct_members()


def test_made_direct_ids_parse_back():
    for a, b in [("bob", "alice"), ("a", "B"), ("u1", "u2")]:
        text = direct_conversation(a, b)
        assert parse_conversation(text).text == text
        assert set(parse_conversation(text).direct_members()) == {a, b}


@pytest.mark.parametrize(
    "value",
    [
        "d:bob:alice",  # not sorted
        "d:alice:alice",  # same user twice
        "d:alice",
        "d:alice:bob:carol",
        "d::bob",
        "d:alice:",
        "d: alice:bob",
        "d:alice:bob\x00",
        "g:",
        "g:a:b",
        "g: team",
        "x:alice",
        "alice",
        "",
        "D:alice:bob",
        "d:" + "a" * (MAX_ID_LEN + 1) + ":zz",
        "g:" + "a" * 200,
        None,
        17,
        ["d", "a", "b"],
    ],
)
def test_malformed_conversations_are_bad_request(value):
    with pytest.raises(BadRequest):
        parse_conversation(value)


def test_longest_ids_are_accepted():
    a, b = "a" * MAX_ID_LEN, "b" * MAX_ID_LEN

    assert parse_conversation(f"d:{a}:{b}").direct_members() == (a, b)
    assert parse_conversation(f"g:{a}").parts == (a,)


@pytest.mark.parametrize("value", ["", "a:b", " a", "a ", "a\nb", "x" * (MAX_ID_LEN + 1), None, 3])
def test_check_plain_id_rejects(value):
    with pytest.raises(BadRequest):
        check_plain_id(value, "user id")


def test_check_plain_id_accepts_and_returns_the_value():
    assert check_plain_id("u_1.x-é", "user id") == "u_1.x-é"


def test_new_ids_are_unique_and_usable():
    user_ids = {new_user_id() for _ in range(100)}
    device_ids = {new_device_id() for _ in range(100)}

    assert len(user_ids) == len(device_ids) == 100
    for value in user_ids | device_ids:
        assert check_plain_id(value, "id") == value
