"""No password, token or message text ever reaches the logs, even at DEBUG.

One server of its own logs at DEBUG into its log file while two users go through every
operation that handles a secret: register, login, a failed login, refresh, auth, messages,
logout. Then the whole log is searched for each secret and for each part of each token.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from imfaas.client import ClientError, Connection, ImfaasClient, LoginSession

pytestmark = pytest.mark.skipif(
    "real" in os.environ.get("IMFAAS_BACKENDS", ""),
    reason="reads one imfaas dev log; the cluster's processes log elsewhere",
)

TEXTS = ("zebra-quartz-whisper-1171", "ünïcødé-marmalade-3090")


def token_parts(session: LoginSession) -> list[str]:
    """Each token whole, the JWT's claims and signature, and the refresh secret."""
    _, claims, signature = session.access_token.split(".")
    _, _, refresh_secret = session.refresh_token.partition(".")
    return [session.access_token, claims, signature, session.refresh_token, refresh_secret]


async def probe_error_paths(
    client: ImfaasClient, conn: Connection, spent: LoginSession, own: LoginSession
) -> None:
    """Requests that fail with a secret where an id, a number or a token belongs: an error
    path that echoes its input into a log (or a traceback) would leak it."""
    secret = TEXTS[0]
    for frame_type, fields in [
        ("msg.send", {"to": spent.user_id, "client_msg_id": secret, "content": secret}),
        (
            "msg.send",
            {"to": secret, "client_msg_id": "c", "content": {"kind": "text", "text": secret}},
        ),
        ("msg.send", {"conversation": secret, "client_msg_id": "c", "content": {"kind": secret}}),
        ("sync", {"cursors": {secret: secret}, "limit": secret}),
        ("msg.history", {"conversation": secret, "before_seq": secret}),
        ("msg.read", {"conversation": secret, "seq": secret}),
        ("msg.recall", {"conversation": secret, "seq": secret}),
        (
            "msg.edit",
            {"conversation": secret, "seq": 1, "content": {"kind": "text", "text": secret}},
        ),
        (secret, {"text": secret}),
    ]:
        reply = await conn.request_raw(frame_type, **fields)
        assert reply["type"] == "error", reply
    await conn.send_text('{"type": "msg.send", "text": "' + secret + '"')
    # A spent refresh token (reuse revokes the family), a forged access token, a bad body.
    with pytest.raises(ClientError):
        await client.refresh(spent.refresh_token)
    forged = own.access_token[:-4] + "AAAA"
    status, _ = await client.call("/v1/logout", token=forged)
    assert status == 401
    status, _ = await client.call("/v1/login", raw=f'{{"password": "{secret}"'.encode())
    assert status == 400
    socket = await client.open_socket()
    reply = await socket.request_raw("auth", token=forged)
    assert reply["code"] == "unauthorized"


async def test_secrets_and_message_text_stay_out_of_the_debug_log(dev_server_factory) -> None:
    server = dev_server_factory(env={"IMFAAS_LOG_LEVEL": "DEBUG"})
    passwords = {"hyg-alice": "alice-Pa55word-7781", "hyg-bob": "bob-Pa55word-9462"}
    wrong_password = "not-bobs-Pa55word-5521"
    secrets: list[str] = [*passwords.values(), wrong_password, *TEXTS]

    async with ImfaasClient(server.url) as client:
        for name, password in passwords.items():
            await client.register(name, password)
        alice = await client.login("hyg-alice", passwords["hyg-alice"])
        bob = await client.login("hyg-bob", passwords["hyg-bob"])
        with pytest.raises(ClientError):
            await client.login("hyg-bob", wrong_password)
        refreshed = await client.refresh(alice.refresh_token)
        for session in (alice, bob, refreshed):
            secrets += token_parts(session)

        sender = await client.connect(refreshed)
        receiver = await client.connect(bob)
        for n, text in enumerate(TEXTS):
            await sender.request(
                "msg.send",
                to=bob.user_id,
                client_msg_id=f"hyg-{n}",
                content={"kind": "text", "text": text},
            )
            event = await receiver.next_event("msg.new")
            assert event["message"]["content"]["text"] == text
        history = await receiver.request("sync", cursors={})
        assert len(history["messages"]) == len(TEXTS)
        await client.logout(refreshed.access_token)
        await probe_error_paths(client, receiver, alice, bob)
        await client.logout(bob.access_token)

    assert await asyncio.to_thread(server.stop) == 0
    log = await asyncio.to_thread(server.log_path.read_text, "utf-8", errors="replace")
    assert '"POST /v1/token/refresh' in log, "the server's log is not in the log file"
    leaked = [secret for secret in secrets if secret in log]
    assert not leaked, f"{len(leaked)} secrets in the log, e.g. {leaked[0][:12]}..."
