"""Protocol §4 media end to end: presigned upload, a file message, the recipient's download;
outsiders, foreign keys, oversize and refused types are turned away."""

from __future__ import annotations

import aiohttp

from imfaas.shared.conversation_id import direct_conversation

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def http(method: str, url: str, body: bytes | None = None, headers=None):
    """(status, body) of one request to a presigned URL."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers or {}) as response,
    ):
        return response.status, await response.read()


async def uploaded(conn, body: bytes = BODY, mime: str = "image/png") -> dict:
    """Ask for an upload URL and PUT the body as told; return the grant."""
    grant = await conn.request("media.upload_url", name="cat.png", size=len(body), mime=mime)
    assert grant["method"] == "PUT" and grant["url"].startswith("http")
    status, _ = await http(grant["method"], grant["url"], body, grant["headers"])
    assert status == 200
    return grant


def file_content(grant: dict, size: int = len(BODY), mime: str = "image/png") -> dict:
    return {
        "kind": "file",
        "object_key": grant["object_key"],
        "name": "cat.png",
        "size": size,
        "mime": mime,
    }


async def test_a_file_message_lets_the_recipient_download_and_no_one_else(
    new_user, connect
) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    _, _, carol_session = await new_user()
    a, b, c = [await connect(s) for s in (alice_session, bob_session, carol_session)]
    grant = await uploaded(a)
    # Before any message names it, only the uploader may read it.
    assert (await b.request_raw("media.download_url", object_key=grant["object_key"]))[
        "code"
    ] == "not_found"
    mine = await a.request("media.download_url", object_key=grant["object_key"])
    assert await http("GET", mine["url"]) == (200, BODY)

    ack = await a.request("msg.send", to=bob, client_msg_id="f-1", content=file_content(grant))
    event = await b.next_event("msg.new")
    assert event["message"]["content"] == file_content(grant)
    assert ack["conversation"] == direct_conversation(alice, bob)

    answer = await b.request("media.download_url", object_key=grant["object_key"])
    assert await http("GET", answer["url"]) == (200, BODY)
    outsider = await c.request_raw("media.download_url", object_key=grant["object_key"])
    unknown = await c.request_raw("media.download_url", object_key="0" * 32)
    assert (outsider["type"], outsider["code"]) == ("error", "not_found")
    # The outsider cannot tell a key in use from one that never was.
    assert {k: v for k, v in outsider.items() if k != "id"} == {
        k: v for k, v in unknown.items() if k != "id"
    }


async def test_a_file_message_must_name_the_senders_own_upload(new_user, connect) -> None:
    _, alice, alice_session = await new_user()
    _, bob, bob_session = await new_user()
    a, b = await connect(alice_session), await connect(bob_session)
    grant = await uploaded(a)

    foreign = await b.request_raw(
        "msg.send", to=alice, client_msg_id="x1", content=file_content(grant)
    )
    unknown = await a.request_raw(
        "msg.send", to=bob, client_msg_id="x2", content=file_content({"object_key": "1" * 32})
    )
    wrong_size = await a.request_raw(
        "msg.send", to=bob, client_msg_id="x3", content=file_content(grant, size=3)
    )
    wrong_type = await a.request_raw(
        "msg.send", to=bob, client_msg_id="x4", content=file_content(grant, mime="image/gif")
    )

    assert [r["code"] for r in (foreign, unknown, wrong_size, wrong_type)] == [
        "not_found",
        "not_found",
        "forbidden",
        "forbidden",
    ]
    # Nothing was stored, and bob still cannot read alice's object.
    synced = await a.request("sync", cursors={})
    assert synced["messages"] == []
    refused = await b.request_raw("media.download_url", object_key=grant["object_key"])
    assert refused["code"] == "not_found"


async def test_oversize_and_refused_types_get_no_url(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    too_big = await conn.request_raw(
        "media.upload_url", name="a.bin", size=10**13, mime="video/mp4"
    )
    bad_type = await conn.request_raw(
        "media.upload_url", name="a.exe", size=10, mime="application/x-msdownload"
    )
    no_size = await conn.request_raw("media.upload_url", name="a.png", mime="image/png")

    assert (too_big["type"], too_big["code"]) == ("error", "too_large")
    assert (bad_type["type"], bad_type["code"]) == ("error", "bad_request")
    assert (no_size["type"], no_size["code"]) == ("error", "bad_request")


async def test_the_body_must_match_the_grant_and_urls_cannot_be_altered(new_user, connect) -> None:
    _, _, session = await new_user()
    conn = await connect(session)
    grant = await conn.request("media.upload_url", name="a.png", size=len(BODY), mime="image/png")
    longer = {**grant["headers"], "Content-Length": str(len(BODY) + 1)}
    other_type = {**grant["headers"], "Content-Type": "text/plain"}

    assert (await http("PUT", grant["url"], BODY + b"!", longer))[0] in (400, 403)
    assert (await http("PUT", grant["url"], BODY, other_type))[0] == 403
    other_key = grant["url"].replace(grant["object_key"], "f" * 32)
    assert (await http("PUT", other_key, BODY, grant["headers"]))[0] == 403
    # Nothing arrived: the object cannot be downloaded yet.
    missing = await conn.request_raw("media.download_url", object_key=grant["object_key"])
    assert missing["code"] == "not_found"

    assert (await http("PUT", grant["url"], BODY, grant["headers"]))[0] == 200
    url = (await conn.request("media.download_url", object_key=grant["object_key"]))["url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert (await http("GET", tampered))[0] == 403
    assert await http("GET", url) == (200, BODY)
