"""ObjectStore contract: presigned uploads of an exact size and type, downloads, and refusal of
tampered or expired URLs. Embedded (local files served over HTTP) always; the S3 server with
``IMFAAS_BACKENDS=real``."""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from imfaas.shared.adapters.object_store_files import LocalFileObjectStore, object_routes
from imfaas.shared.schema_setup import open_object_store
from imfaas.shared.settings import Settings

BACKENDS = ["embedded"] + (["real"] if "real" in os.environ.get("IMFAAS_BACKENDS", "") else [])


def http(method: str, url: str, body: bytes | None = None, mime: str | None = None) -> int:
    headers = {"Content-Type": mime} if mime else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def call(method: str, url: str, body: bytes | None = None, mime: str | None = None) -> int:
    return await asyncio.to_thread(http, method, url, body, mime)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[Any, str]]:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    if request.param == "real":
        real = open_object_store(Settings.from_env({}, object_backend="s3"))
        await real.ensure_bucket(bucket)
        yield real, bucket
        return
    files = LocalFileObjectStore(tmp_path / "objects", "http://unset", b"k" * 32)
    app = web.Application()
    app.router.add_routes(object_routes(files))
    server = TestServer(app)
    await server.start_server()
    files.base_url = str(server.make_url("")).rstrip("/")
    await files.ensure_bucket(bucket)
    try:
        yield files, bucket
    finally:
        await server.close()


async def test_presigned_put_then_get(store) -> None:
    objects, bucket = store
    await objects.ensure_bucket(bucket)  # idempotent
    body = b"x" * 1000
    url = objects.presign_put(bucket, "a/b.bin", len(body), "application/octet-stream", 60)
    assert await call("PUT", url, body, "application/octet-stream") == 200
    assert await objects.object_size(bucket, "a/b.bin") == 1000
    assert await call("GET", objects.presign_get(bucket, "a/b.bin", 60)) == 200
    assert await objects.object_size(bucket, "missing") is None


async def test_tampered_urls_and_other_types_or_sizes_are_refused(store) -> None:
    objects, bucket = store
    url = objects.presign_put(bucket, "c.png", 4, "image/png", 60)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert await call("PUT", tampered, b"abcd", "image/png") == 403
    assert await call("PUT", url, b"abcd", "text/plain") == 403
    assert await call("PUT", url, b"abcde", "image/png") in (400, 403)
    assert await objects.object_size(bucket, "c.png") is None
    other_key = url.replace("c.png", "d.png")
    assert await call("PUT", other_key, b"abcd", "image/png") == 403


async def test_expired_urls_are_refused(store) -> None:
    objects, bucket = store
    put = objects.presign_put(bucket, "late.bin", 3, "application/octet-stream", 1)
    await asyncio.sleep(2.2)
    assert await call("PUT", put, b"abc", "application/octet-stream") == 403
    assert await objects.object_size(bucket, "late.bin") is None


def test_s3_urls_name_the_public_endpoint_and_calls_the_private_one() -> None:
    from imfaas.shared.adapters.object_store_s3 import S3ObjectStore

    objects = S3ObjectStore(
        "http://minio.internal:9000", "us-east-1", "k", "s", 1.0, "https://media.example.com"
    )
    put = urllib.parse.urlsplit(objects.presign_put("b", "k1", 3, "image/png", 60))
    get = urllib.parse.urlsplit(objects.presign_get("b", "k1", 60))
    assert (put.scheme, put.netloc, put.path) == ("https", "media.example.com", "/b/k1")
    assert (get.scheme, get.netloc) == ("https", "media.example.com")
    assert objects._client.meta.endpoint_url == "http://minio.internal:9000"


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "real"])
async def test_real_server_accepts_urls_signed_for_its_public_name(backend, tmp_path) -> None:
    settings = Settings.from_env({}, object_backend="s3")
    # Another name of the same server stands in for the ingress clients reach it through.
    public = settings.s3_endpoint.replace("127.0.0.1", "localhost")
    assert public != settings.s3_endpoint
    objects = open_object_store(settings.with_changes(s3_public_endpoint=public))
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    await objects.ensure_bucket(bucket)
    url = objects.presign_put(bucket, "p.bin", 3, "application/octet-stream", 60)
    assert url.startswith(public)
    assert await call("PUT", url, b"abc", "application/octet-stream") == 200
    assert await objects.object_size(bucket, "p.bin") == 3
    assert await call("GET", objects.presign_get(bucket, "p.bin", 60)) == 200
