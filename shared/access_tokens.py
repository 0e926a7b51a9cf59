"""Access tokens: EdDSA-signed JWTs with a ``kid``; login signs, the gateway verifies locally."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from imfaas.shared.errors import Unauthorized

ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "imfaas"
# Clock skew tolerated between the login function and gateways.
LEEWAY_S = 5


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    device_id: str
    session_id: str
    platform: str
    expires_at: int
    token_id: str


def revocation_key(session_id: str) -> str:
    """The cache key that marks a login session (refresh family) as revoked."""
    return f"revoked-session:{session_id}"


def ensure_key_pair(key_dir: Path, kid: str) -> tuple[Path, Path]:
    """Create ``<kid>.private.pem`` / ``<kid>.public.pem`` in ``key_dir`` unless they exist."""
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path = key_dir / f"{kid}.private.pem"
    public_path = key_dir / f"{kid}.public.pem"
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path, public_path


class TokenIssuer:
    """Signs access tokens with one private key."""

    def __init__(
        self,
        private_key_pem: bytes,
        kid: str,
        issuer: str,
        ttl_s: int,
        audience: str = DEFAULT_AUDIENCE,
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the JWT signing key must be Ed25519")
        self._key = key
        self._kid = kid
        self._issuer = issuer
        self._audience = audience
        self.ttl_s = ttl_s

    def issue(self, user_id: str, device_id: str, session_id: str, platform: str) -> str:
        """A signed access token for one device's login session."""
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "dev": device_id,
            "sid": session_id,
            "plt": platform,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})


class TokenVerifier:
    """Verifies access tokens against public keys chosen by ``kid`` (several during rotation)."""

    def __init__(
        self, public_keys: dict[str, bytes], issuer: str, audience: str = DEFAULT_AUDIENCE
    ) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for kid, pem in public_keys.items():
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"public key {kid} is not Ed25519")
            self._keys[kid] = key
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def from_dir(
        cls, key_dir: Path, issuer: str, audience: str = DEFAULT_AUDIENCE
    ) -> TokenVerifier:
        """Load every ``<kid>.public.pem`` in a folder."""
        keys = {
            path.name.removesuffix(".public.pem"): path.read_bytes()
            for path in sorted(key_dir.glob("*.public.pem"))
        }
        if not keys:
            raise ValueError(f"no *.public.pem in {key_dir}")
        return cls(keys, issuer, audience)

    def verify(self, token: object) -> AccessClaims:
        """Check signature, ``kid``, issuer, audience and the time window (``nbf``/``iat`` not
        in the future, ``exp`` not past, each within ``LEEWAY_S``); raise ``Unauthorized``."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("missing or malformed token")
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid")))
            if key is None:
                raise Unauthorized("unknown signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_S,
                # PyJWT refuses an ``nbf`` or ``iat`` later than now + leeway by itself.
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return AccessClaims(
                user_id=str(claims["sub"]),
                device_id=str(claims["dev"]),
                session_id=str(claims["sid"]),
                platform=str(claims.get("plt", "web")),
                expires_at=int(claims["exp"]),
                token_id=str(claims.get("jti", "")),
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("token not yet valid") from exc
        except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
            raise Unauthorized("invalid token") from exc
