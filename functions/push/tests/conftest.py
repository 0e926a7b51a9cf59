"""Fixtures for the push providers: each fake running on a loopback port, with client factories."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from imfaas.functions.push.providers.apns_client import ApnsClient, ApnsSettings
from imfaas.functions.push.providers.fcm_client import FcmClient, FcmSettings, ServiceAccount
from imfaas.functions.push.providers.hms_client import HmsClient, HmsSettings
from imfaas.functions.push.providers.push_payload import PushNotification
from imfaas.functions.push.providers.push_provider import PushProvider
from imfaas.functions.push.tests.fake_providers import FakeApns, FakeFcm, FakeHms
from imfaas.functions.push.tests.fake_push_server import (
    FakeClock,
    ScriptedFake,
    TlsFiles,
    ec_private_pem,
    make_tls_files,
    public_pem,
    rsa_private_pem,
)

# Short enough that a "slow" answer costs a test a quarter of a second.
CLIENT_TIMEOUT_S = 0.25
APNS_KEY_ID = "ABC123DEFG"
APNS_TEAM_ID = "TEAM123456"
APNS_BUNDLE_ID = "io.imfaas.app"


@dataclass(frozen=True)
class TestKeys:
    """Throwaway signing keys (generated once per session: RSA generation is slow)."""

    __test__ = False

    fcm_rsa_pem: str
    apns_ec_pem: str
    other_rsa_pem: str
    other_ec_pem: str


@dataclass
class ProviderBench:
    """A fake provider running on a loopback port and a factory of clients pointed at it.

    ``client(**settings_overrides)`` builds a client (closed when the test ends);
    ``notification(**overrides)`` a notification for ``device_token``.
    """

    name: str
    fake: ScriptedFake
    device_token: str
    client: Callable[..., PushProvider]

    def notification(self, **overrides: Any) -> PushNotification:
        """A notification to this bench's device token; fields overridable."""
        fields: dict[str, Any] = {
            "device_token": self.device_token,
            "provider": self.name,
            "title": "Alice",
            "body": "see you at 8",
            "conversation": "d:alice:bob",
            "seq": 42,
            "idempotency_key": "msg-0001",
            "badge": 3,
            "collapse_key": "d:alice:bob",
        }
        return PushNotification(**{**fields, **overrides})


@pytest.fixture(scope="session")
def keys() -> TestKeys:
    """An FCM service-account RSA key, an APNs EC key, and one of each that no fake knows."""
    return TestKeys(rsa_private_pem(), ec_private_pem(), rsa_private_pem(), ec_private_pem())


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A loopback server certificate and the CA that signed it."""
    return make_tls_files(Path(tmp_path_factory.mktemp("push-tls")))


@pytest.fixture
def clock() -> FakeClock:
    """The wall clock shared by the clients and the fakes of one test."""
    return FakeClock()


@contextlib.asynccontextmanager
async def _closing_clients() -> AsyncIterator[list[PushProvider]]:
    clients: list[PushProvider] = []
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
async def fcm_bench(clock: FakeClock, keys: TestKeys) -> AsyncIterator[ProviderBench]:
    """FakeFcm over HTTP/1.1; clients sign grants with the service account's key."""
    fake = FakeFcm(
        clock=clock,
        project_id="imfaas-test",
        client_email="push@imfaas-test.iam.gserviceaccount.com",
        public_key_pem=public_pem(keys.fcm_rsa_pem),
    )
    async with fake.running(), _closing_clients() as clients:

        def client(private_key: str = keys.fcm_rsa_pem, **overrides: Any) -> FcmClient:
            account = ServiceAccount.from_mapping(fake.service_account(private_key))
            settings = FcmSettings(account, base_url=fake.url, timeout_s=CLIENT_TIMEOUT_S)
            clients.append(made := FcmClient(replace(settings, **overrides), clock=clock))
            return made

        yield ProviderBench("fcm", fake, "fcm-registration-token-1", client)


@pytest.fixture
async def apns_bench(
    clock: FakeClock, keys: TestKeys, tls_files: TlsFiles
) -> AsyncIterator[ProviderBench]:
    """FakeApns over TLS (ALPN h2); clients trust the test CA and sign with the team's key."""
    fake = FakeApns(
        clock=clock,
        team_id=APNS_TEAM_ID,
        bundle_id=APNS_BUNDLE_ID,
        signing_keys={APNS_KEY_ID: public_pem(keys.apns_ec_pem)},
    )
    async with fake.running(tls_files), _closing_clients() as clients:
        settings = ApnsSettings(
            team_id=APNS_TEAM_ID,
            key_id=APNS_KEY_ID,
            private_key=keys.apns_ec_pem,
            bundle_id=APNS_BUNDLE_ID,
            base_url=fake.url,
            timeout_s=CLIENT_TIMEOUT_S,
        )

        def client(**overrides: Any) -> ApnsClient:
            made = ApnsClient(
                replace(settings, **overrides), clock=clock, verify=tls_files.client_context()
            )
            clients.append(made)
            return made

        yield ProviderBench("apns", fake, "a1" * 32, client)


@pytest.fixture
async def hms_bench(clock: FakeClock) -> AsyncIterator[ProviderBench]:
    """FakeHms over HTTP/1.1; clients hold the app's client secret."""
    fake = FakeHms(clock=clock, app_id="104567890", client_secret="hms-secret")
    async with fake.running(), _closing_clients() as clients:

        def client(**overrides: Any) -> HmsClient:
            settings = HmsSettings(
                app_id=fake.app_id,
                client_secret=fake.client_secret,
                base_url=fake.url,
                token_url=fake.token_url,
                timeout_s=CLIENT_TIMEOUT_S,
            )
            clients.append(made := HmsClient(replace(settings, **overrides), clock=clock))
            return made

        yield ProviderBench("hms", fake, "hms-token-AAAA", client)


@pytest.fixture(params=["fcm", "apns", "hms"])
def bench(request: pytest.FixtureRequest) -> ProviderBench:
    """Each provider's bench in turn, for the tests every provider must pass."""
    return request.getfixturevalue(f"{request.param}_bench")
