"""media.upload_url and media.download_url: limits, records, presigned URLs, who may read."""

from __future__ import annotations

import pytest

from imfaas.functions.media.tests.conftest import call
from imfaas.shared.adapters import object_store_files
from imfaas.shared.conversation_id import direct_conversation

PNG = {"type": "media.upload_url", "name": "cat.png", "size": 5, "mime": "image/png"}


async def upload(env, user: str = "ua", body: bytes = b"hello", mime: str = "image/png"):
    """Ask for an upload URL, PUT the body with the headers given; return the reply."""
    reply = await env.ask(user, {**PNG, "size": len(body), "mime": mime})
    assert reply["type"] == "media.upload_url.ok", reply
    status, _ = await call(reply["method"], reply["url"], body, reply["headers"])
    assert status == 200
    return reply


async def download(env, user: str, key: str):
    return await env.ask(user, {"type": "media.download_url", "object_key": key})


async def test_upload_url_records_the_upload_and_accepts_exactly_that_body(env) -> None:
    reply = await env.ask("ua", {**PNG, "mime": "Image/PNG"})

    assert reply["type"] == "media.upload_url.ok" and reply["id"] == "q1"
    assert reply["method"] == "PUT"
    assert reply["headers"] == {"Content-Type": "image/png", "Content-Length": "5"}
    assert reply["url"].startswith("http://")
    record = await env.ports.media.get_upload(reply["object_key"])
    assert (record.uploader, record.name, record.size, record.mime) == (
        "ua",
        "cat.png",
        5,
        "image/png",
    )
    bucket = env.settings.s3_media_bucket
    # The signed size and type hold: other bodies are refused and store nothing.
    assert (await call("PUT", reply["url"], b"hello!", reply["headers"] | {"Content-Length": "6"}))[
        0
    ] == 403
    assert (await call("PUT", reply["url"], b"hello", {"Content-Type": "text/plain"}))[0] == 403
    assert await env.ports.objects.object_size(bucket, reply["object_key"]) is None
    assert (await call("PUT", reply["url"], b"hello", reply["headers"]))[0] == 200
    assert await env.ports.objects.object_size(bucket, reply["object_key"]) == 5


async def test_each_upload_gets_its_own_key(env) -> None:
    keys = {(await env.ask("ua", PNG))["object_key"] for _ in range(5)}
    assert len(keys) == 5


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"size": 1001}, "too_large"),
        ({"mime": "application/x-msdownload"}, "bad_request"),
        ({"mime": "text/html"}, "bad_request"),
        ({"mime": "image/png; charset=x"}, "bad_request"),
        ({"mime": "png"}, "bad_request"),
        ({"mime": 7}, "bad_request"),
        ({"size": -1}, "bad_request"),
        ({"size": "5"}, "bad_request"),
        ({"size": True}, "bad_request"),
        ({"size": 1.5}, "bad_request"),
        ({"name": ""}, "bad_request"),
        ({"name": "x" * 256}, "bad_request"),
        ({"name": None}, "bad_request"),
    ],
)
async def test_refused_uploads_record_nothing(make_media, fields, code) -> None:
    env = await make_media(media_max_bytes=1000, media_mime_types=("image/*", "text/plain"))
    reply = await env.ask("ua", {**PNG, **fields})

    assert (reply["type"], reply["code"], reply["id"]) == ("error", code, "q1")
    rows = await env.ports.media._db.query("SELECT COUNT(*) AS n FROM media_uploads")
    assert rows[0]["n"] == 0


async def test_size_limit_is_inclusive_and_mime_wildcards_allow_a_major_type(make_media) -> None:
    env = await make_media(media_max_bytes=1000, media_mime_types=("image/*", "text/plain"))
    assert (await env.ask("ua", {**PNG, "size": 1000}))["type"] == "media.upload_url.ok"
    assert (await env.ask("ua", {**PNG, "mime": "image/webp"}))["type"] == "media.upload_url.ok"
    assert (await env.ask("ua", {**PNG, "mime": "text/plain"}))["type"] == "media.upload_url.ok"


async def test_uploader_downloads_the_bytes(env) -> None:
    reply = await upload(env, body=b"\x89PNG-bytes")

    answer = await download(env, "ua", reply["object_key"])

    assert answer["type"] == "media.download_url.ok" and answer["id"] == "q1"
    assert await call("GET", answer["url"]) == (200, b"\x89PNG-bytes")


async def test_members_of_a_referencing_conversation_may_download_and_no_one_else(env) -> None:
    key = (await upload(env))["object_key"]
    # Before any message references it, only the uploader may read it.
    assert (await download(env, "ub", key))["code"] == "not_found"

    await env.ports.media.add_reference(key, direct_conversation("ua", "ub"))

    answer = await download(env, "ub", key)
    assert answer["type"] == "media.download_url.ok"
    assert (await call("GET", answer["url"]))[1] == b"hello"
    outsider = await download(env, "uc", key)
    assert (outsider["type"], outsider["code"]) == ("error", "not_found")


async def test_an_outsider_cannot_tell_a_used_key_from_an_unknown_one(env) -> None:
    key = (await upload(env))["object_key"]
    used = await download(env, "uc", key)
    unknown = await download(env, "uc", "0" * 32)
    malformed = await download(env, "uc", "../../etc/passwd")

    assert used == unknown == malformed
    assert (used["code"], used["message"]) == ("not_found", "no such object")


async def test_a_key_granted_but_never_uploaded_is_not_found(env) -> None:
    reply = await env.ask("ua", PNG)
    answer = await download(env, "ua", reply["object_key"])
    assert (answer["type"], answer["code"]) == ("error", "not_found")


@pytest.mark.parametrize("key", [None, 5, "", ["k"]])
async def test_download_needs_a_string_key(env, key) -> None:
    reply = await env.ask("ua", {"type": "media.download_url", "object_key": key})
    assert (reply["type"], reply["code"]) == ("error", "bad_request")


async def test_a_tampered_or_expired_download_url_is_refused(make_media, monkeypatch) -> None:
    env = await make_media(media_url_ttl_s=60)
    key = (await upload(env))["object_key"]
    url = (await download(env, "ua", key))["url"]
    tampered = url.replace(key, "f" * 32)

    assert (await call("GET", tampered))[0] == 403
    assert (await call("GET", url + "0"))[0] == 403
    assert (await call("GET", url))[0] == 200
    real_time = object_store_files.time.time
    monkeypatch.setattr(object_store_files.time, "time", lambda: real_time() + 61)
    assert (await call("GET", url))[0] == 403
