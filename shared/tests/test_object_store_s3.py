"""S3ObjectStore against the real S3 server (S3Proxy in CI, MinIO in production).

The embedded object store arrives with media (local files, signed URLs); until then this
suite runs only with ``IMFAAS_BACKENDS=real``.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid

import pytest

from imfaas.shared.schema_setup import open_object_store
from imfaas.shared.settings import Settings

pytestmark = pytest.mark.skipif(
    "real" not in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="needs the S3 server: runs with IMFAAS_BACKENDS=real",
)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
async def store_and_bucket():
    store = open_object_store(Settings.from_env({}))
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    await store.ensure_bucket(bucket)
    await store.ensure_bucket(bucket)  # idempotent
    return store, bucket


async def test_presigned_put_then_get(store_and_bucket) -> None:
    store, bucket = store_and_bucket
    body = b"x" * 1000
    url = store.presign_put(bucket, "a/b.bin", len(body), "application/octet-stream", 60)
    status = http("PUT", url, body, {"Content-Type": "application/octet-stream"})
    assert status == 200
    assert await store.object_size(bucket, "a/b.bin") == 1000
    assert http("GET", store.presign_get(bucket, "a/b.bin", 60)) == 200
    assert await store.object_size(bucket, "missing") is None


async def test_presigned_put_refuses_tampering_and_other_content_types(store_and_bucket) -> None:
    store, bucket = store_and_bucket
    url = store.presign_put(bucket, "c.png", 4, "image/png", 60)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert http("PUT", tampered, b"abcd", {"Content-Type": "image/png"}) == 403
    assert http("PUT", url, b"abcd", {"Content-Type": "text/plain"}) == 403
    assert await store.object_size(bucket, "c.png") is None
