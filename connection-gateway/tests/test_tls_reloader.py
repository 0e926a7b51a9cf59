"""The gateway's own TLS: served, and a new certificate picked up without a restart."""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imfaas.gateway.standalone import gateway_tls
from imfaas.gateway.tls_reloader import ReloadingTLS
from imfaas.shared.settings import Settings, SettingsError


def write_pair(directory: Path, common_name: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def served_common_name(port: int) -> str:
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def bump_mtime(*paths: Path) -> None:
    for path in paths:
        stat = path.stat()
        os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))


@pytest.fixture
async def tls_server(tmp_path: Path):
    cert_file, key_file = write_pair(tmp_path, "first")
    tls = ReloadingTLS(cert_file, key_file)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.context)
    await site.start()
    port = runner.addresses[0][1]
    yield tls, port, tmp_path
    await runner.cleanup()


async def test_a_new_certificate_is_served_after_a_check_without_a_restart(tls_server) -> None:
    tls, port, directory = tls_server
    assert await served_common_name(port) == "first"
    assert tls.check() is False  # nothing changed
    cert_file, key_file = write_pair(directory, "second")
    bump_mtime(cert_file, key_file)
    assert tls.check() is True
    assert await served_common_name(port) == "second"
    assert tls.reloads == 1


async def test_a_half_written_pair_keeps_the_old_certificate(tls_server) -> None:
    tls, port, directory = tls_server
    (directory / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\ntruncated")
    bump_mtime(directory / "tls.crt")
    assert tls.check() is False
    assert await served_common_name(port) == "first"
    # Once the writer finishes, the next check takes it.
    cert_file, key_file = write_pair(directory, "third")
    bump_mtime(cert_file, key_file)
    assert tls.check() is True
    assert await served_common_name(port) == "third"


async def test_watch_reloads_on_its_own(tls_server) -> None:
    tls, port, directory = tls_server
    watcher = asyncio.create_task(tls.watch(0.05))
    try:
        cert_file, key_file = write_pair(directory, "watched")
        bump_mtime(cert_file, key_file)
        async with asyncio.timeout(10):
            while tls.reloads == 0:  # noqa: ASYNC110 (the watcher has no event to await)
                await asyncio.sleep(0.02)
        assert await served_common_name(port) == "watched"
    finally:
        watcher.cancel()


def test_tls_needs_both_files_or_neither(tmp_path: Path) -> None:
    assert gateway_tls(Settings.from_env({})) is None
    with pytest.raises(SettingsError):
        gateway_tls(Settings.from_env({"IMFAAS_TLS_CERT_FILE": str(tmp_path / "tls.crt")}))
    cert_file, key_file = write_pair(tmp_path, "pair")
    tls = gateway_tls(
        Settings.from_env(
            {"IMFAAS_TLS_CERT_FILE": str(cert_file), "IMFAAS_TLS_KEY_FILE": str(key_file)}
        )
    )
    assert tls is not None and tls.context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_bad_pair_at_start_is_refused(tmp_path: Path) -> None:
    cert_file, _ = write_pair(tmp_path, "one")
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = write_pair(other, "two")
    with pytest.raises(ssl.SSLError):
        ReloadingTLS(cert_file, other_key)
