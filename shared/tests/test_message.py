"""Message content and client message id validation, and the wire form of messages."""

from __future__ import annotations

import pytest

from imfaas.shared.errors import BadRequest, TooLarge
from imfaas.shared.message import (
    Message,
    make_msg_id,
    validate_client_msg_id,
    validate_content,
)

LIMIT = 16 * 1024
FILE = {"kind": "file", "object_key": "obj/1", "name": "cat.png", "size": 10, "mime": "image/png"}


def test_text_is_accepted_and_normalized():
    assert validate_content({"kind": "text", "text": "hi", "extra": 1}, LIMIT) == {
        "kind": "text",
        "text": "hi",
    }


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "text"},
        {"kind": "text", "text": ""},
        {"kind": "text", "text": 5},
        {"kind": "text", "text": None},
        {"kind": "text", "text": ["a"]},
    ],
)
def test_bad_text_is_bad_request(content):
    with pytest.raises(BadRequest):
        validate_content(content, LIMIT)


def test_text_exactly_at_the_limit_is_accepted():
    assert validate_content({"kind": "text", "text": "a" * LIMIT}, LIMIT)["text"] == "a" * LIMIT


def test_text_one_byte_over_the_limit_is_too_large():
    with pytest.raises(TooLarge):
        validate_content({"kind": "text", "text": "a" * (LIMIT + 1)}, LIMIT)


def test_two_byte_chars_up_to_the_byte_limit_are_accepted():
    text = "é" * (LIMIT // 2)  # 16384 bytes in UTF-8

    assert validate_content({"kind": "text", "text": text}, LIMIT)["text"] == text


@pytest.mark.parametrize(
    ("char", "count"),
    [
        ("é", LIMIT // 2 + 1),  # 8193 chars, 16386 bytes
        ("€", LIMIT // 3 + 1),  # 5462 chars, 16386 bytes
        ("😀", LIMIT // 4 + 1),  # 4097 chars, 16388 bytes
    ],
)
def test_limit_counts_utf8_bytes_not_characters(char, count):
    text = char * count
    assert len(text) < LIMIT

    with pytest.raises(TooLarge):
        validate_content({"kind": "text", "text": text}, LIMIT)


def test_too_large_is_its_own_code():
    with pytest.raises(TooLarge) as info:
        validate_content({"kind": "text", "text": "😀" * LIMIT}, LIMIT)

    assert info.value.code == "too_large"
    assert not isinstance(info.value, BadRequest)


def test_file_is_accepted_with_only_its_fields():
    assert validate_content({**FILE, "url": "http://evil"}, LIMIT) == FILE


def test_file_of_size_zero_is_accepted():
    assert validate_content({**FILE, "size": 0}, LIMIT)["size"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"size": -1},
        {"size": True},
        {"size": "10"},
        {"size": 1.5},
        {"size": None},
        {"object_key": ""},
        {"object_key": None},
        {"name": 3},
        {"mime": ""},
    ],
)
def test_bad_file_is_bad_request(change):
    with pytest.raises(BadRequest):
        validate_content({**FILE, **change}, LIMIT)


@pytest.mark.parametrize("missing", ["object_key", "name", "size", "mime"])
def test_file_missing_a_field_is_bad_request(missing):
    content = {k: v for k, v in FILE.items() if k != missing}

    with pytest.raises(BadRequest):
        validate_content(content, LIMIT)


@pytest.mark.parametrize("change", [{"name": "n" * 256}, {"mime": "m" * 256}])
def test_file_with_overlong_fields_is_too_large(change):
    with pytest.raises(TooLarge):
        validate_content({**FILE, **change}, LIMIT)


def test_cipher_keeps_every_field():
    content = {"kind": "cipher", "alg": "olm.v1", "ciphertext": "AAAA", "sender_key": "k", "n": 3}

    assert validate_content(content, LIMIT) == content


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "cipher", "ciphertext": "AAAA"},
        {"kind": "cipher", "alg": "x"},
        {"kind": "cipher", "alg": "", "ciphertext": "AAAA"},
        {"kind": "cipher", "alg": "x", "ciphertext": ""},
        {"kind": "cipher", "alg": "x", "ciphertext": 7},
    ],
)
def test_bad_cipher_is_bad_request(content):
    with pytest.raises(BadRequest):
        validate_content(content, LIMIT)


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "cipher", "alg": "a" * 65, "ciphertext": "AAAA"},
        {"kind": "cipher", "alg": "x", "ciphertext": "A" * (2 * LIMIT + 1)},
    ],
)
def test_oversized_cipher_is_too_large(content):
    with pytest.raises(TooLarge):
        validate_content(content, LIMIT)


@pytest.mark.parametrize(
    "content",
    [None, "text", ["kind", "text"], 3, {}, {"kind": "image"}, {"kind": None, "text": "x"}],
)
def test_content_that_is_not_a_known_object_is_bad_request(content):
    with pytest.raises(BadRequest):
        validate_content(content, LIMIT)


def test_client_msg_id_is_accepted_up_to_its_limit():
    assert validate_client_msg_id("c-1", 128) == "c-1"
    assert validate_client_msg_id("x" * 128, 128) == "x" * 128


@pytest.mark.parametrize("value", ["", "x" * 129, None, 12, ["c1"], {"id": "c1"}])
def test_bad_client_msg_id_is_bad_request(value):
    with pytest.raises(BadRequest):
        validate_client_msg_id(value, 128)


def message(**changes) -> Message:
    values = {
        "conversation": "d:a:b",
        "seq": 3,
        "msg_id": make_msg_id("d:a:b", 3),
        "sender": "a",
        "sender_device": "d1",
        "client_msg_id": "c1",
        "ts": 1000,
        "content": {"kind": "text", "text": "hi"},
    }
    values.update(changes)
    return Message(**values)


def test_wire_form_has_the_protocol_fields_and_round_trips():
    wire = message().to_wire()

    assert wire == {
        "conversation": "d:a:b",
        "seq": 3,
        "msg_id": make_msg_id("d:a:b", 3),
        "sender": "a",
        "sender_device": "d1",
        "client_msg_id": "c1",
        "ts": 1000,
        "content": {"kind": "text", "text": "hi"},
    }
    assert Message.from_wire(wire) == message()


def test_recalled_message_has_no_content_on_the_wire():
    wire = message(recalled=True).to_wire()

    assert wire["recalled"] is True
    assert "content" not in wire


def test_edited_message_is_marked_on_the_wire():
    wire = message(edited=True, content={"kind": "text", "text": "new"}).to_wire()

    assert wire["edited"] is True
    assert wire["content"] == {"kind": "text", "text": "new"}
    assert Message.from_wire(wire).edited is True


def test_msg_ids_differ_by_conversation_and_seq():
    ids = {make_msg_id(c, s) for c in ("d:a:b", "g:x") for s in (1, 2)}

    assert len(ids) == 4
