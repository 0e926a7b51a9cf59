"""PushNotification's display text: clipped to fit, a placeholder without preview."""

from __future__ import annotations

from dataclasses import replace

from imfaas.functions.push.providers.push_payload import (
    MAX_BODY_BYTES,
    MAX_TITLE_BYTES,
    PREVIEW_OFF_BODY,
    PushNotification,
    clip_utf8,
)

NOTE = PushNotification(
    device_token="t",
    provider="fcm",
    title="Alice",
    body="hello",
    conversation="d:alice:bob",
    seq=7,
    idempotency_key="m1",
)


def test_short_text_is_shown_as_is() -> None:
    assert (NOTE.display_title(), NOTE.display_body()) == ("Alice", "hello")


def test_previews_off_shows_the_placeholder() -> None:
    assert replace(NOTE, body=None).display_body() == PREVIEW_OFF_BODY


def test_long_text_is_clipped_in_utf8_bytes_with_an_ellipsis() -> None:
    long = replace(NOTE, title="é" * 1000, body="語" * 5000)
    title, body = long.display_title(), long.display_body()
    assert len(title.encode()) <= MAX_TITLE_BYTES and title.endswith("…")
    assert len(body.encode()) <= MAX_BODY_BYTES and body.endswith("…")
    assert set(body[:-1]) == {"語"}


def test_clipping_never_splits_a_character() -> None:
    for limit in range(4, 20):
        clipped = clip_utf8("😀" * 10, limit)
        assert len(clipped.encode()) <= limit
        assert set(clipped[:-1]) <= {"😀"}
    assert clip_utf8("exactly", 7) == "exactly"
