"""ObjectStore on local files (embedded default), with presigned URLs like S3's.

URLs carry an expiry, the exact size and content type of an upload, and an HMAC-SHA256
signature over all of it, so a tampered or expired URL is refused with 403 just as MinIO
refuses one. ``object_routes`` serves them; ``imfaas dev`` mounts it on the gateway.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import web

_SAFE_KEY = re.compile(r"[A-Za-z0-9._\-/]{1,512}")
_SAFE_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,62}")
ROUTE = "/v1/objects/{bucket}/{key:.+}"
CHUNK = 1 << 16


class LocalFileObjectStore:
    """Objects under ``root/<bucket>/<key>``; URLs under ``base_url``."""

    def __init__(self, root: Path, base_url: str, secret: bytes) -> None:
        self._root = root
        self.base_url = base_url.rstrip("/")
        self._secret = secret

    @classmethod
    def in_data_dir(cls, data_dir: Path, base_url: str) -> LocalFileObjectStore:
        """The store of an ``imfaas dev`` data dir (its signing secret kept beside it)."""
        secret_file = data_dir / "keys" / "objects.secret"
        if not secret_file.exists():
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_bytes(secrets.token_bytes(32))
            secret_file.chmod(0o600)
        return cls(data_dir / "objects", base_url, secret_file.read_bytes())

    def path_of(self, bucket: str, key: str) -> Path:
        """Where an object lives; refuses names that could leave the store."""
        if not _SAFE_BUCKET.fullmatch(bucket) or not _SAFE_KEY.fullmatch(key):
            raise ValueError("bad bucket or key")
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError("bad key")
        return self._root / bucket / key

    async def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket folder."""
        self.path_of(bucket, "x").parent.mkdir(parents=True, exist_ok=True)

    def _sign(self, method: str, bucket: str, key: str, params: dict[str, str]) -> str:
        canonical = "\n".join([method, bucket, key, *(f"{k}={params[k]}" for k in sorted(params))])
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    def _url(self, method: str, bucket: str, key: str, params: dict[str, str]) -> str:
        self.path_of(bucket, key)
        query = {**params, "sig": self._sign(method, bucket, key, params)}
        return f"{self.base_url}/v1/objects/{bucket}/{quote(key)}?{urlencode(query)}"

    def presign_put(self, bucket: str, key: str, size: int, mime: str, ttl_s: int) -> str:
        """A URL for one PUT of exactly ``size`` bytes of ``mime`` before the expiry."""
        params = {"exp": str(int(time.time()) + ttl_s), "size": str(size), "mime": mime}
        return self._url("PUT", bucket, key, params)

    def presign_get(self, bucket: str, key: str, ttl_s: int) -> str:
        """A URL for GETs before the expiry."""
        return self._url("GET", bucket, key, {"exp": str(int(time.time()) + ttl_s)})

    def check(self, method: str, bucket: str, key: str, query: dict[str, str]) -> bool:
        """True when the query is a valid, unexpired signature for this request."""
        params = {k: v for k, v in query.items() if k != "sig"}
        expected = self._sign(method, bucket, key, params)
        try:
            unexpired = int(params.get("exp", "0")) >= time.time()
        except ValueError:
            return False
        return unexpired and hmac.compare_digest(expected, query.get("sig", ""))

    async def object_size(self, bucket: str, key: str) -> int | None:
        """The object's size, or None."""
        path = self.path_of(bucket, key)
        return path.stat().st_size if path.is_file() else None

    async def ping(self) -> bool:
        """True when the folder is usable."""
        return await asyncio.to_thread(lambda: self._root.parent.exists())


def object_routes(store: LocalFileObjectStore) -> list[web.RouteDef]:
    """PUT and GET for presigned URLs (bytes stream to and from disk in chunks)."""

    async def put(request: web.Request) -> web.StreamResponse:
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        if not _allowed(store, "PUT", bucket, key, request):
            return _denied()
        size, mime = int(request.query["size"]), request.query["mime"]
        if request.content_length != size or request.content_type != mime:
            return _denied("size or content type differ from the signed ones")
        path = store.path_of(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        written = 0
        with partial.open("wb") as out:
            async for chunk in request.content.iter_chunked(CHUNK):
                written += len(chunk)
                if written > size:
                    break
                out.write(chunk)
        if written != size:
            partial.unlink(missing_ok=True)
            return _denied("body does not match the signed size")
        partial.replace(path)
        return web.Response(status=200)

    async def get(request: web.Request) -> web.StreamResponse:
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        if not _allowed(store, "GET", bucket, key, request):
            return _denied()
        path = store.path_of(bucket, key)
        if not path.is_file():
            return web.Response(status=404, text="no such object")
        return web.FileResponse(path)

    return [web.put(ROUTE, put), web.get(ROUTE, get)]


def _allowed(store: LocalFileObjectStore, method: str, bucket: str, key: str, request) -> bool:
    try:
        store.path_of(bucket, key)
    except ValueError:
        return False
    return store.check(method, bucket, key, dict(request.query))


def _denied(reason: str = "signature missing, wrong or expired") -> web.Response:
    return web.Response(status=403, text=reason)
