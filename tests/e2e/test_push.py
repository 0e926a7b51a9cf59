"""Offline push end to end: the server (``imfaas dev``, or the local cluster on real Kafka and
PostgreSQL) sends through local fake FCM, APNs (HTTP/2 over TLS) and HMS servers that check
what the real services check. An offline member of a direct or group conversation gets
exactly one notification per registered device; mutes, do-not-disturb and previews hold;
a 500 is retried to one delivery; an unregistered token is dropped."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imfaas.functions.push.tests.fake_providers import FakeApns, FakeFcm, FakeHms
from imfaas.functions.push.tests.fake_push_server import (
    SERVER_ERROR,
    UNREGISTERED,
    ec_private_pem,
    make_tls_files,
    public_pem,
    rsa_private_pem,
)

APNS_KEY_ID, APNS_TEAM_ID, APNS_BUNDLE = "KEY1234567", "TEAM123456", "io.imfaas.e2e"
# How long "nothing more arrives" is watched for once the expected notifications are in.
QUIET_S = 1.5


class Fakes:
    """The three fake providers, served from a thread of their own for the whole module."""

    def __init__(self, directory: Path) -> None:
        self.tls = make_tls_files(directory)
        self.rsa_pem, self.ec_pem = rsa_private_pem(), ec_private_pem()
        self.fcm = FakeFcm(
            clock=time.time,
            project_id="imfaas-e2e",
            client_email="push@imfaas-e2e.iam.gserviceaccount.com",
            public_key_pem=public_pem(self.rsa_pem),
        )
        self.apns = FakeApns(
            clock=time.time,
            team_id=APNS_TEAM_ID,
            bundle_id=APNS_BUNDLE,
            signing_keys={APNS_KEY_ID: public_pem(self.ec_pem)},
        )
        self.hms = FakeHms(clock=time.time, app_id="104567890", client_secret="hms-secret")
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "fake providers did not start"
        (directory / "fcm.json").write_text(json.dumps(self.fcm.service_account(self.rsa_pem)))
        (directory / "apns.p8").write_text(self.ec_pem)
        (directory / "ca.pem").write_text(self.tls.ca_pem)
        self.env = {
            "IMFAAS_PUSH_FCM_SERVICE_ACCOUNT_FILE": str(directory / "fcm.json"),
            "IMFAAS_PUSH_FCM_BASE_URL": self.fcm.url,
            "IMFAAS_PUSH_APNS_KEY_FILE": str(directory / "apns.p8"),
            "IMFAAS_PUSH_APNS_KEY_ID": APNS_KEY_ID,
            "IMFAAS_PUSH_APNS_TEAM_ID": APNS_TEAM_ID,
            "IMFAAS_PUSH_APNS_BUNDLE_ID": APNS_BUNDLE,
            "IMFAAS_PUSH_APNS_BASE_URL": self.apns.url,
            "IMFAAS_PUSH_HMS_APP_ID": self.hms.app_id,
            "IMFAAS_PUSH_HMS_CLIENT_SECRET": self.hms.client_secret,
            "IMFAAS_PUSH_HMS_BASE_URL": self.hms.url,
            "IMFAAS_PUSH_HMS_TOKEN_URL": self.hms.token_url,
            "IMFAAS_PUSH_CA_FILE": str(directory / "ca.pem"),
            "IMFAAS_PUSH_RETRY_BASE_S": "0.05",
            "IMFAAS_PUSH_RETRY_MAX_S": "0.2",
            # An iPhone and an Android phone of one user: two mobile seats.
            "IMFAAS_DEVICE_SEATS": "mobile=2,desktop=1,web=0",
        }

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.fcm.running(), self.apns.running(self.tls), self.hms.running():
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if not self._thread.is_alive():
            self._loop.close()


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    made = Fakes(tmp_path_factory.mktemp("push-fakes"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def server(dev_server_factory, fakes: Fakes):
    """This module's server sends pushes to the fakes; it stops before they do (its open
    connections would hold up their shutdown)."""
    srv = dev_server_factory(env=fakes.env)
    yield srv
    srv.stop()
    srv.drop_namespace()


async def arrived(fake: Any, token: str, count: int, timeout_s: float = 20.0) -> list[Any]:
    """Wait until ``fake`` accepted ``count`` notifications for ``token``, then watch a little
    longer: exactly ``count`` must stay there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len([a for a in fake.accepted if a.token == token]) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(QUIET_S)
    got = [a for a in fake.accepted if a.token == token]
    assert len(got) == count, f"{len(got)} notifications for {token}, expected {count}"
    return got


async def offline_user_with(new_user, connect, client, password, *devices: tuple[str, str, str]):
    """A user whose devices (platform, provider, token) registered push tokens, then went
    offline; returns the user id and the sessions."""
    username, user_id, session = await new_user(platform=devices[0][0], device_id="dev-0")
    sessions = [session]
    for n, (platform, _, _) in enumerate(devices[1:], start=1):
        sessions.append(
            await client.login(username, password, device_id=f"dev-{n}", platform=platform)
        )
    for session, (_, provider, token) in zip(sessions, devices, strict=True):
        conn = await connect(session)
        await conn.request("device.push_token", provider=provider, token=token)
        await conn.close()
    await asyncio.sleep(0.3)  # the gateway unroutes closed sockets right after the close
    return user_id, sessions


def hex_token(n: int) -> str:
    return f"{n:064x}"


async def test_an_offline_user_gets_one_notification_per_device(
    new_user, connect, client, password, fakes
) -> None:
    apns_token, fcm_token = hex_token(1), "fcm-e2e-token-1"
    bob, _ = await offline_user_with(
        new_user,
        connect,
        client,
        password,
        ("ios", "apns", apns_token),
        ("android", "fcm", fcm_token),
    )
    _, _, alice_session = await new_user()
    a = await connect(alice_session)

    await a.request(
        "msg.send", to=bob, client_msg_id="p1", content={"kind": "text", "text": "hi bob"}
    )

    [apns] = await arrived(fakes.apns, apns_token, 1)
    [fcm] = await arrived(fakes.fcm, fcm_token, 1)
    assert apns.body["aps"]["alert"]["body"] == "hi bob"
    assert apns.headers["apns-topic"] == APNS_BUNDLE
    assert fcm.body["message"]["token"] == fcm_token
    assert "hi bob" in json.dumps(fcm.body)


async def test_a_group_message_reaches_an_offline_member_titled_with_the_group(
    new_user, connect, client, password, fakes
) -> None:
    token = "hms-e2e-token-1"
    carol, _ = await offline_user_with(
        new_user, connect, client, password, ("android", "hms", token)
    )
    _, _, alice_session = await new_user()
    a = await connect(alice_session)
    created = await a.request("group.create", name="Climbers", members=[carol])

    await a.request(
        "msg.send",
        conversation=created["conversation"],
        client_msg_id="g1",
        content={"kind": "text", "text": "rope at 6"},
    )

    [note] = await arrived(fakes.hms, token, 1)
    text = json.dumps(note.body)
    assert "Climbers" in text and "rope at 6" in text


async def test_mutes_and_previews_hold(new_user, connect, client, password, fakes) -> None:
    token = hex_token(2)
    bob, (bob_session,) = await offline_user_with(
        new_user, connect, client, password, ("ios", "apns", token)
    )
    _, _, alice_session = await new_user()
    a = await connect(alice_session)
    b = await connect(bob_session)
    await b.request("push.settings", preview=False)
    ack = await a.request(
        "msg.send", to=bob, client_msg_id="m0", content={"kind": "text", "text": "x"}
    )
    conversation = ack["conversation"]
    await b.request("push.mute", conversation=conversation, until=int(time.time() * 1000) + 60_000)
    await b.close()
    await asyncio.sleep(0.3)

    await a.request(
        "msg.send", to=bob, client_msg_id="m1", content={"kind": "text", "text": "muted"}
    )
    await arrived(fakes.apns, token, 0, timeout_s=1.0)

    b = await connect(bob_session)
    await b.request("push.mute", conversation=conversation, until=0)
    await b.close()
    await asyncio.sleep(0.3)
    await a.request(
        "msg.send", to=bob, client_msg_id="m2", content={"kind": "text", "text": "secret"}
    )
    [note] = await arrived(fakes.apns, token, 1)
    assert note.body["aps"]["alert"]["body"] == "New message"
    assert "secret" not in json.dumps(note.body)


async def test_a_server_error_is_retried_to_one_delivery(
    new_user, connect, client, password, fakes
) -> None:
    token = hex_token(3)
    fakes.apns.script(token, SERVER_ERROR, SERVER_ERROR)
    bob, _ = await offline_user_with(new_user, connect, client, password, ("ios", "apns", token))
    _, _, alice_session = await new_user()
    a = await connect(alice_session)

    await a.request(
        "msg.send", to=bob, client_msg_id="r1", content={"kind": "text", "text": "again"}
    )

    await arrived(fakes.apns, token, 1)


async def test_a_desktop_device_gets_no_mobile_push(
    new_user, connect, client, password, fakes
) -> None:
    desktop, phone = "fcm-e2e-desktop", "fcm-e2e-phone"
    bob, _ = await offline_user_with(
        new_user, connect, client, password, ("desktop", "fcm", desktop), ("android", "fcm", phone)
    )
    _, _, alice_session = await new_user()
    a = await connect(alice_session)

    await a.request("msg.send", to=bob, client_msg_id="w1", content={"kind": "text", "text": "x"})

    # Both devices' jobs would come from the same task: once the phone has its notification,
    # the desktop would have had one too.
    await arrived(fakes.fcm, phone, 1)
    await arrived(fakes.fcm, desktop, 0, timeout_s=0.1)


async def test_an_unregistered_token_is_dropped(new_user, connect, client, password, fakes) -> None:
    token = "fcm-e2e-gone"
    fakes.fcm.script(token, UNREGISTERED)
    bob, _ = await offline_user_with(new_user, connect, client, password, ("android", "fcm", token))
    _, _, alice_session = await new_user()
    a = await connect(alice_session)
    calls = fakes.fcm.send_calls

    await a.request("msg.send", to=bob, client_msg_id="u1", content={"kind": "text", "text": "1"})
    for _ in range(400):  # the fake is polled: it runs in another thread
        if fakes.fcm.send_calls > calls:
            break
        await asyncio.sleep(0.05)
    assert fakes.fcm.send_calls == calls + 1
    await a.request("msg.send", to=bob, client_msg_id="u2", content={"kind": "text", "text": "2"})
    await asyncio.sleep(QUIET_S + 1)

    assert fakes.fcm.send_calls == calls + 1  # the token is gone: nothing more was tried
    await arrived(fakes.fcm, token, 0, timeout_s=0.1)
