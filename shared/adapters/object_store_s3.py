"""ObjectStore on S3 (boto3, SigV4, path-style): MinIO in production, S3Proxy in CI."""

from __future__ import annotations

import asyncio

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from imfaas.shared.errors import BackendUnavailable


class S3ObjectStore:
    """One boto3 client; its blocking calls run in worker threads, presigning is local.

    Presigned URLs name ``public_endpoint`` when given: clients reach the server there (an
    ingress), while functions call ``endpoint`` (a cluster address). SigV4 signs the host, so
    URLs are signed for the public one by a second client that never opens a connection.
    """

    def __init__(
        self,
        endpoint: str,
        region: str,
        access_key: str,
        secret_key: str,
        timeout_s: float,
        public_endpoint: str = "",
    ) -> None:
        self._client = self._make_client(endpoint, region, access_key, secret_key, timeout_s)
        self._presigner = (
            self._make_client(public_endpoint, region, access_key, secret_key, timeout_s)
            if public_endpoint and public_endpoint != endpoint
            else self._client
        )

    @staticmethod
    def _make_client(
        endpoint: str, region: str, access_key: str, secret_key: str, timeout_s: float
    ):
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 2},
                # Plain S3 only: newer boto3 adds CRC checksum headers some servers reject.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    async def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists."""

        def create() -> None:
            try:
                self._client.head_bucket(Bucket=bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                    raise
                self._client.create_bucket(Bucket=bucket)

        await self._call(create)

    def presign_put(self, bucket: str, key: str, size: int, mime: str, ttl_s: int) -> str:
        """A presigned PUT bound to the length and content type."""
        return self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentLength": size, "ContentType": mime},
            ExpiresIn=ttl_s,
        )

    def presign_get(self, bucket: str, key: str, ttl_s: int) -> str:
        """A presigned GET."""
        return self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s
        )

    async def object_size(self, bucket: str, key: str) -> int | None:
        """HEAD the object."""

        def head() -> int | None:
            try:
                return int(self._client.head_object(Bucket=bucket, Key=key)["ContentLength"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

        return await self._call(head)

    async def ping(self) -> bool:
        """True when the server answers ListBuckets."""
        try:
            await self._call(self._client.list_buckets)
            return True
        except BackendUnavailable:
            return False

    async def _call(self, fn):
        try:
            return await asyncio.to_thread(fn)
        except (EndpointConnectionError, BotoCoreError, ClientError) as exc:
            raise BackendUnavailable(f"s3: {exc!r}") from exc
