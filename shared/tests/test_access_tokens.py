"""Access tokens: EdDSA JWTs chosen by kid; anything not signed by a known key is Unauthorized."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imfaas.shared.access_tokens import (
    LEEWAY_S,
    AccessClaims,
    TokenIssuer,
    TokenVerifier,
    ensure_key_pair,
    revocation_key,
)
from imfaas.shared.errors import Unauthorized

ISSUER = "imfaas"
AUDIENCE = "imfaas"


def keys(tmp_path: Path, kid: str, folder: str = "keys") -> tuple[bytes, bytes]:
    private_path, public_path = ensure_key_pair(tmp_path / folder, kid)
    return private_path.read_bytes(), public_path.read_bytes()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes) -> dict[str, object]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "dev": "d1",
        "sid": "s1",
        "plt": "ios",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    values.update(changes)
    return values


def unsigned_token(header: dict[str, object], payload: dict[str, object]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


@pytest.fixture
def k1(tmp_path):
    return keys(tmp_path, "k1")


@pytest.fixture
def verifier(k1):
    return TokenVerifier({"k1": k1[1]}, ISSUER)


def test_issued_token_verifies_to_its_claims(k1, verifier):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900).issue("u1", "d1", "s1", "android")
    before = int(time.time())

    got = verifier.verify(token)

    assert isinstance(got, AccessClaims)
    assert (got.user_id, got.device_id) == ("u1", "d1")
    assert (got.session_id, got.platform) == ("s1", "android")
    assert before + 890 <= got.expires_at <= before + 901
    assert got.token_id


def test_every_token_has_its_own_id(k1, verifier):
    issuer = TokenIssuer(k1[0], "k1", ISSUER, 900)

    ids = {verifier.verify(issuer.issue("u1", "d1", "s1", "web")).token_id for _ in range(5)}

    assert len(ids) == 5


def test_token_header_names_the_kid_and_eddsa(k1):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900).issue("u1", "d1", "s1", "web")

    header = jwt.get_unverified_header(token)

    assert header["kid"] == "k1"
    assert header["alg"] == "EdDSA"


def test_expired_token_is_unauthorized_token_expired(k1, verifier):
    token = TokenIssuer(k1[0], "k1", ISSUER, -100).issue("u1", "d1", "s1", "web")

    with pytest.raises(Unauthorized) as info:
        verifier.verify(token)

    assert info.value.message == "token expired"
    assert info.value.code == "unauthorized"


def test_token_expired_within_the_clock_skew_leeway_still_verifies(k1, verifier):
    token = TokenIssuer(k1[0], "k1", ISSUER, -(LEEWAY_S - 3)).issue("u1", "d1", "s1", "web")

    assert verifier.verify(token).user_id == "u1"


def test_token_signed_by_another_key_with_the_same_kid_is_unauthorized(tmp_path, verifier):
    other_private, _ = keys(tmp_path, "k1", folder="other-keys")
    token = TokenIssuer(other_private, "k1", ISSUER, 900).issue("u1", "d1", "s1", "web")

    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_token_with_an_unknown_kid_is_unauthorized(tmp_path, verifier):
    private, _ = keys(tmp_path, "k9")
    token = TokenIssuer(private, "k9", ISSUER, 900).issue("u1", "d1", "s1", "web")

    with pytest.raises(Unauthorized, match="unknown signing key"):
        verifier.verify(token)


def test_token_without_a_kid_is_unauthorized(k1, verifier):
    private = serialization.load_pem_private_key(k1[0], password=None)
    token = jwt.encode(claims(), private, algorithm="EdDSA")

    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_alg_none_token_is_unauthorized(verifier):
    token = unsigned_token({"alg": "none", "typ": "JWT", "kid": "k1"}, claims()) + "."

    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_hs256_token_forged_with_the_public_key_as_secret_is_unauthorized(k1, verifier):
    signing_input = unsigned_token({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims())
    signature = hmac.new(k1[1], signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"

    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_tampered_payload_is_unauthorized(k1, verifier):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900).issue("u1", "d1", "s1", "web")
    header, _, signature = token.split(".")
    forged = f"{header}.{b64(json.dumps(claims(sub='admin')).encode())}.{signature}"

    with pytest.raises(Unauthorized):
        verifier.verify(forged)


def signed(k1, **changes) -> str:
    """A token signed by k1 with the given claims changed (None removes a claim)."""
    private = serialization.load_pem_private_key(k1[0], password=None)
    payload = {k: v for k, v in claims(**changes).items() if v is not None}
    return jwt.encode(payload, private, algorithm="EdDSA", headers={"kid": "k1"})


def test_issued_token_names_the_audience_and_is_valid_from_now(k1):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900, audience="chat-api").issue(
        "u1", "d1", "s1", "web"
    )

    payload = jwt.decode(token, options={"verify_signature": False})

    assert payload["aud"] == "chat-api"
    assert payload["nbf"] == payload["iat"]


def test_token_for_another_audience_is_unauthorized(k1, verifier):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900, audience="admin-api").issue(
        "u1", "d1", "s1", "web"
    )

    with pytest.raises(Unauthorized, match="invalid token"):
        verifier.verify(token)


def test_verifier_for_another_audience_refuses_default_tokens(k1):
    token = TokenIssuer(k1[0], "k1", ISSUER, 900).issue("u1", "d1", "s1", "web")
    other = TokenVerifier({"k1": k1[1]}, ISSUER, audience="admin-api")

    with pytest.raises(Unauthorized):
        other.verify(token)
    assert TokenVerifier({"k1": k1[1]}, ISSUER).verify(token).user_id == "u1"


def test_token_without_an_audience_is_unauthorized(k1, verifier):
    with pytest.raises(Unauthorized):
        verifier.verify(signed(k1, aud=None))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_valid_only_in_the_future_is_unauthorized_not_yet_valid(k1, verifier, claim):
    later = int(time.time()) + LEEWAY_S + 60

    with pytest.raises(Unauthorized) as info:
        verifier.verify(signed(k1, **{claim: later}))

    assert info.value.message == "token not yet valid"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_valid_from_within_the_clock_skew_leeway_verifies(k1, verifier, claim):
    soon = int(time.time()) + LEEWAY_S - 3

    assert verifier.verify(signed(k1, **{claim: soon})).user_id == "u1"


def test_token_of_another_issuer_is_unauthorized(k1, verifier):
    token = TokenIssuer(k1[0], "k1", "someone-else", 900).issue("u1", "d1", "s1", "web")

    with pytest.raises(Unauthorized):
        verifier.verify(token)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "iss", "aud", "dev", "sid"])
def test_signed_token_missing_a_claim_is_unauthorized(k1, verifier, missing):
    private = serialization.load_pem_private_key(k1[0], password=None)
    payload = {k: v for k, v in claims().items() if k != missing}
    token = jwt.encode(payload, private, algorithm="EdDSA", headers={"kid": "k1"})

    with pytest.raises(Unauthorized):
        verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "....", "x" * 5000, None, 42, b"bytes.token.here", {"t": 1}],
)
def test_garbage_is_unauthorized(verifier, token):
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_two_keys_by_kid_both_verify(tmp_path):
    private1, public1 = keys(tmp_path, "k1")
    private2, public2 = keys(tmp_path, "k2")
    verifier = TokenVerifier({"k1": public1, "k2": public2}, ISSUER)

    old = TokenIssuer(private1, "k1", ISSUER, 900).issue("u1", "d1", "s1", "web")
    new = TokenIssuer(private2, "k2", ISSUER, 900).issue("u2", "d2", "s2", "web")

    assert verifier.verify(old).user_id == "u1"
    assert verifier.verify(new).user_id == "u2"


def test_key_of_one_kid_does_not_verify_a_token_claiming_the_other(tmp_path):
    private1, public1 = keys(tmp_path, "k1")
    _, public2 = keys(tmp_path, "k2")
    verifier = TokenVerifier({"k1": public1, "k2": public2}, ISSUER)
    token = TokenIssuer(private1, "k2", ISSUER, 900).issue("u1", "d1", "s1", "web")

    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_verifier_from_dir_loads_every_public_key(tmp_path):
    private1, _ = keys(tmp_path, "k1")
    private2, _ = keys(tmp_path, "k2")
    verifier = TokenVerifier.from_dir(tmp_path / "keys", ISSUER)

    for private, kid in ((private1, "k1"), (private2, "k2")):
        token = TokenIssuer(private, kid, ISSUER, 900).issue("u1", "d1", "s1", "web")
        assert verifier.verify(token).user_id == "u1"


def test_verifier_from_an_empty_dir_fails(tmp_path):
    with pytest.raises(ValueError):
        TokenVerifier.from_dir(tmp_path, ISSUER)


def test_ensure_key_pair_keeps_existing_keys(tmp_path):
    first = keys(tmp_path, "k1")

    assert keys(tmp_path, "k1") == first
    assert (tmp_path / "keys" / "k1.private.pem").stat().st_mode & 0o077 == 0


def test_non_ed25519_keys_are_refused():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(ValueError):
        TokenIssuer(private_pem, "k1", ISSUER, 900)
    with pytest.raises(ValueError):
        TokenVerifier({"k1": public_pem}, ISSUER)


def test_revocation_keys_differ_per_session():
    assert revocation_key("s1") != revocation_key("s2")
    assert "s1" in revocation_key("s1")
