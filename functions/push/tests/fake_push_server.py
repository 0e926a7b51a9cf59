"""What the fake providers share: a clock, throwaway keys and TLS, scripted answers, a server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import math
import secrets
import ssl
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config
from hypercorn.utils import wrap_app
from starlette.applications import Starlette


class FakeClock:
    """A settable wall clock shared by a client and its fake, so token lifetimes can pass."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


# --- throwaway keys and certificates -----------------------------------------------------


def rsa_private_pem() -> str:
    """A new RSA-2048 private key in PKCS#8 PEM, as in a service-account key file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pkcs8(key)


def ec_private_pem() -> str:
    """A new EC P-256 private key in PKCS#8 PEM, as in an APNs .p8 file."""
    return _pkcs8(ec.generate_private_key(ec.SECP256R1()))


def public_pem(private_pem: str) -> str:
    """The public half of a PEM private key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A server certificate for 127.0.0.1/localhost, signed by a CA only the tests trust."""

    cert_path: Path
    key_path: Path
    ca_pem: str

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA (and nothing else)."""
        return ssl.create_default_context(cadata=self.ca_pem)


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate a CA and a server certificate signed by it, written under ``directory``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imfaas push test CA")])
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    server_cert = (
        _certificate(server_name, ca_name, server_key.public_key(), now)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_text(_pkcs8(server_key))
    return TlsFiles(cert_path, key_path, ca_cert.public_bytes(serialization.Encoding.PEM).decode())


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


# --- scripted answers ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """One scripted answer to a send; each fake says it in its provider's words."""

    kind: str
    retry_after: str | None = None
    delay_s: float = 0.0


OK = Answer("ok")
INVALID_TOKEN = Answer("invalid_token")
UNREGISTERED = Answer("unregistered")
SERVER_ERROR = Answer("server_error")
UNAVAILABLE = Answer("unavailable")
# The provider no longer accepts the access (or provider) token the client presented.
AUTH_EXPIRED = Answer("auth_expired")


def too_many(retry_after: str | None = "7") -> Answer:
    """Rate limited, with this Retry-After header (None: without one)."""
    return Answer("too_many", retry_after=retry_after)


def slow(delay_s: float = 5.0) -> Answer:
    """Succeed only after ``delay_s`` (or not at all if the fake stops first)."""
    return Answer("ok", delay_s=delay_s)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A notification a fake accepted: its device token, request headers and JSON body."""

    token: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(kw_only=True)
class ScriptedFake:
    """The scripting, recording and serving every fake provider shares.

    Answers come from ``script_next`` (per call, first) or ``script`` (per device token);
    with neither, a valid request succeeds. Subclasses build the ASGI app.
    """

    clock: FakeClock
    url: str = ""
    accepted: list[Accepted] = field(default_factory=list)
    # Requests that reached the send endpoint, whatever their answer.
    send_calls: int = 0
    # Every distinct access token (FCM, HMS: issued here) or provider token (APNs: presented).
    access_tokens: list[str] = field(default_factory=list)
    _expiry: dict[str, float] = field(default_factory=dict)
    _per_call: deque[Answer] = field(default_factory=deque)
    _per_token: defaultdict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, token: str, *answers: Answer) -> None:
        """Answer the next sends to ``token`` with ``answers``, in order."""
        self._per_token[token].extend(answers)

    def script_next(self, *answers: Answer) -> None:
        """Answer the next sends, whatever their token, with ``answers``, in order."""
        self._per_call.extend(answers)

    def next_answer(self, token: str) -> Answer:
        """The scripted answer for this send (OK when none is left)."""
        if self._per_call:
            return self._per_call.popleft()
        queue = self._per_token.get(token)
        return queue.popleft() if queue else OK

    def issue_access_token(self, ttl_s: float) -> str:
        """A new random access token, valid for ``ttl_s`` on the fake's clock."""
        token = secrets.token_urlsafe(24)
        self._expiry[token] = self.clock() + ttl_s
        self.access_tokens.append(token)
        return token

    def access_token_live(self, token: str | None) -> bool:
        """Whether ``token`` was issued here, is not revoked and has not expired."""
        return token is not None and self._expiry.get(token, -math.inf) > self.clock()

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (the provider expired it early)."""
        self._expiry[token] = -math.inf

    def accept(self, token: str, headers: Mapping[str, str], body: dict[str, Any]) -> None:
        """Record a notification as delivered."""
        self.accepted.append(Accepted(token, dict(headers), body))

    async def hold(self, answer: Answer) -> bool:
        """Wait out a slow answer; False if the fake stopped first (answer nothing useful)."""
        if answer.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), answer.delay_s)
        return not self._stopping.is_set()

    def app(self) -> Starlette:
        """The provider's HTTP API."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def running(self, tls: TlsFiles | None = None) -> AsyncIterator[Self]:
        """Serve on 127.0.0.1 (HTTPS with HTTP/2 and HTTP/1.1 when ``tls``); ``url`` is set."""
        async with serve_asgi(self.app(), tls) as (url, stop):
            self.url = url
            try:
                yield self
            finally:
                # Releases slow answers before the server waits for its open requests.
                self._stopping.set()
                stop.set()


@contextlib.asynccontextmanager
async def serve_asgi(
    app: Starlette, tls: TlsFiles | None
) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """Run ``app`` under Hypercorn on a free loopback port; yields its URL and the stop event."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    # A stream left open by a client that timed out must not hold up the teardown.
    config.graceful_timeout = 0.2
    config.errorlog = None
    if tls is not None:
        config.certfile, config.keyfile = str(tls.cert_path), str(tls.key_path)
    sockets = config.create_sockets()
    listening = (sockets.secure_sockets or sockets.insecure_sockets)[0]
    # Listening before the server task starts: early connections wait in the backlog.
    listening.listen()
    port = listening.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(
        worker_serve(
            wrap_app(app, config.wsgi_max_body_size, "asgi"),
            config,
            sockets=sockets,
            shutdown_trigger=stop.wait,
        )
    )
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", stop
    finally:
        stop.set()
        await server
