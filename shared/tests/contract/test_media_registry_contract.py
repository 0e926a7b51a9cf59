"""MediaRegistry contract: one record per object key, durable, and idempotent references."""

from __future__ import annotations

import asyncio

import pytest

from imfaas.shared.errors import Conflict
from imfaas.shared.ports.media_registry import MediaUpload


def upload(key: str = "k1", uploader: str = "u1", size: int = 10, mime: str = "image/png"):
    return MediaUpload(key, uploader, "photo.png", size, mime, 1_700_000_000_000)


@pytest.fixture
async def media(open_port):
    return await open_port("media")


async def test_recorded_upload_is_found_by_key(media) -> None:
    big = upload("k-big", size=5 * 1024**3)  # past 32 bits
    await media.record_upload(upload())
    await media.record_upload(big)

    assert await media.get_upload("k1") == upload()
    assert await media.get_upload("k-big") == big
    assert await media.get_upload("missing") is None


async def test_a_recorded_key_is_never_taken_again(media) -> None:
    await media.record_upload(upload(uploader="u1"))

    with pytest.raises(Conflict):
        await media.record_upload(upload(uploader="u2", size=99))

    assert await media.get_upload("k1") == upload(uploader="u1")


async def test_concurrent_records_of_one_key_let_exactly_one_win(media) -> None:
    results = await asyncio.gather(
        *(media.record_upload(upload(uploader=f"u{i}")) for i in range(8)),
        return_exceptions=True,
    )

    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)


async def test_references_are_idempotent_and_listed_sorted(media) -> None:
    assert await media.conversations_referencing("k1") == []
    for conversation in ("d:b:c", "d:a:b", "d:b:c", "d:B:c"):
        await media.add_reference("k1", conversation)
    await media.add_reference("k2", "d:x:y")

    assert await media.conversations_referencing("k1") == ["d:B:c", "d:a:b", "d:b:c"]
    assert await media.conversations_referencing("k2") == ["d:x:y"]


async def test_records_survive_reopening(open_port) -> None:
    media = await open_port("media")
    await media.record_upload(upload())
    await media.add_reference("k1", "d:a:b")
    await open_port.close()

    reopened = await open_port("media")
    assert await reopened.get_upload("k1") == upload()
    assert await reopened.conversations_referencing("k1") == ["d:a:b"]
