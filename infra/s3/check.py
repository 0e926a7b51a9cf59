#!/usr/bin/env python3
"""Decisive checks of the test S3 server started by infra/s3.sh (needs boto3).

    python infra/s3/check.py            # all checks; exit 1 if any fails
    python infra/s3/check.py --ready    # only: ListBuckets works (used by `s3.sh wait`)
    python infra/s3/check.py --persist-write | --persist-read   # data kept across a restart

Endpoint, credentials and region come from IMFAAS_S3_PORT, IMFAAS_S3_ACCESS_KEY,
IMFAAS_S3_SECRET_KEY (defaults as in infra/s3.sh). Only 127.0.0.1 is ever contacted.
"""

import io
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PORT = int(os.environ.get("IMFAAS_S3_PORT", "28333"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
ACCESS = os.environ.get("IMFAAS_S3_ACCESS_KEY", "imfaas")
SECRET = os.environ.get("IMFAAS_S3_SECRET_KEY", "imfaas-secret-key")
REGION = "us-east-1"
PERSIST_BUCKET = "imfaas-infra-persist"


def client(access=ACCESS, secret=SECRET):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=3,
            read_timeout=10,
        ),
    )


def http(method, url, data=None):
    """-> (status, body bytes) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tamper_signature(url):
    marker = "X-Amz-Signature="
    i = url.index(marker) + len(marker)
    c = url[i]
    return url[:i] + ("0" if c != "0" else "1") + url[i + 1 :]


results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  [{detail}]" if detail else ""), flush=True)


def code_of(exc):
    return exc.response.get("Error", {}).get("Code"), exc.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode"
    )


def expect_denied(name, fn):
    try:
        fn()
    except ClientError as e:
        code, status = code_of(e)
        check(name, status == 403, f"{status} {code}")
        return
    check(name, False, "request succeeded")


def run_all():
    s3 = client()
    bucket = "imfaas-check-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=bucket)
    check("create bucket", bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]])

    s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello world")
    body = s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read()
    check("put/get object", body == b"hello world", repr(body[:40]))

    expect_denied("wrong secret key -> 403", lambda: client(secret=SECRET + "x").list_buckets())
    expect_denied(
        "wrong secret key on GetObject -> 403",
        lambda: client(secret="not-the-secret").get_object(Bucket=bucket, Key="dir/hello.txt"),
    )
    expect_denied("unknown access key -> 403", lambda: client(access="nobody").list_buckets())
    status, _ = http("GET", f"{ENDPOINT}/{bucket}/dir/hello.txt")
    check("anonymous GET -> 403", status == 403, str(status))
    status, _ = http("PUT", f"{ENDPOINT}/{bucket}/anon.txt", data=b"x")
    check("anonymous PUT -> 403", status == 403, str(status))

    # presigned PUT
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up/presigned.bin"}, ExpiresIn=300
    )
    bad = tamper_signature(url)
    status, _ = http("PUT", bad, data=b"evil")
    check("presigned PUT with one signature char changed -> 403", status == 403, str(status))
    status, body = http("PUT", url, data=b"presigned payload")
    check("presigned PUT -> 200", status == 200, f"{status} {body[:200]!r}")
    try:
        got = s3.get_object(Bucket=bucket, Key="up/presigned.bin")["Body"].read()
    except ClientError as e:
        got = repr(code_of(e)).encode()
    check("object from presigned PUT present", got == b"presigned payload", repr(got[:40]))
    other_key = url.replace("up/presigned.bin", "up/other.bin")
    status, _ = http("PUT", other_key, data=b"evil")
    check("presigned PUT URL reused for another key -> 403", status == 403, str(status))

    # presigned GET
    gurl = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "dir/hello.txt"}, ExpiresIn=300
    )
    status, body = http("GET", gurl)
    check(
        "presigned GET -> 200 with content",
        status == 200 and body == b"hello world",
        f"{status} {body[:40]!r}",
    )
    status, _ = http("GET", tamper_signature(gurl))
    check("presigned GET with one signature char changed -> 403", status == 403, str(status))
    wrong_secret_url = client(secret="not-the-secret").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "dir/hello.txt"}, ExpiresIn=300
    )
    status, _ = http("GET", wrong_secret_url)
    check("presigned GET signed with wrong secret -> 403", status == 403, str(status))

    # expiry
    eput = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up/expired.bin"}, ExpiresIn=1
    )
    eget = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "dir/hello.txt"}, ExpiresIn=1
    )
    time.sleep(3)
    status, body = http("PUT", eput, data=b"too late")
    check(
        "presigned PUT (ExpiresIn=1) used after 3 s -> 403",
        status == 403,
        f"{status} {body[:160]!r}",
    )
    status, body = http("GET", eget)
    check(
        "presigned GET (ExpiresIn=1) used after 3 s -> 403",
        status == 403,
        f"{status} {body[:160]!r}",
    )
    try:
        s3.head_object(Bucket=bucket, Key="up/expired.bin")
        check("expired presigned PUT stored nothing", False, "object exists")
    except ClientError as e:
        check("expired presigned PUT stored nothing", code_of(e)[1] == 404, str(code_of(e)))

    # what our code does through boto3 besides the basics
    s3.put_object(
        Bucket=bucket,
        Key="meta.json",
        Body=b"{}",
        ContentType="application/json",
        Metadata={"owner": "imfaas"},
    )
    head = s3.head_object(Bucket=bucket, Key="meta.json")
    check(
        "content type and user metadata kept",
        head["ContentType"] == "application/json" and head["Metadata"].get("owner") == "imfaas",
        f"{head['ContentType']} {head['Metadata']}",
    )
    big = os.urandom(12 * 1024 * 1024)
    s3.upload_fileobj(
        io.BytesIO(big), bucket, "big/multipart.bin"
    )  # 8 MiB parts -> multipart upload
    got = s3.get_object(Bucket=bucket, Key="big/multipart.bin")["Body"].read()
    check("multipart upload (12 MiB via upload_fileobj)", got == big, f"{len(got)} bytes")
    rng = s3.get_object(Bucket=bucket, Key="big/multipart.bin", Range="bytes=10-19")["Body"].read()
    check("ranged GET", rng == big[10:20])
    s3.copy_object(
        Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "dir/hello.txt"}
    )
    check(
        "copy_object", s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == b"hello world"
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="up/").get("Contents", [])]
    check("list_objects_v2 with prefix", keys == ["up/presigned.bin"], repr(keys))

    def swap_body(request, **_):
        request.body = b"HELLO WORLD"

    tamper = client()
    tamper.meta.events.register("before-send.s3.PutObject", swap_body)
    try:
        tamper.put_object(Bucket=bucket, Key="tampered.txt", Body=b"hello world")
        check("signed PUT whose body was changed after signing -> rejected", False, "accepted")
    except ClientError as e:
        code, status = code_of(e)
        check(
            "signed PUT whose body was changed after signing -> rejected",
            status in (400, 403),
            f"{status} {code}",
        )

    # clean up
    s3.delete_object(Bucket=bucket, Key="copy.txt")
    rest = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": rest})  # batch delete (checksummed body)
    left = s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    check("delete_object and delete_objects", left == 0, f"{left} left")
    s3.delete_bucket(Bucket=bucket)
    check(
        "delete objects and bucket", bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    )


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else ""
    if arg == "--ready":
        client().list_buckets()
        return 0
    if arg == "--persist-write":
        s3 = client()
        try:
            s3.create_bucket(Bucket=PERSIST_BUCKET)
        except ClientError as e:
            if code_of(e)[0] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_object(Bucket=PERSIST_BUCKET, Key="kept.txt", Body=b"kept across restart")
        print(f"wrote s3://{PERSIST_BUCKET}/kept.txt")
        return 0
    if arg == "--persist-read":
        body = client().get_object(Bucket=PERSIST_BUCKET, Key="kept.txt")["Body"].read()
        check("data kept across restart", body == b"kept across restart", repr(body))
        return 0 if all(results) else 1
    run_all()
    failed = results.count(False)
    print(f"s3 check summary: {len(results) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
