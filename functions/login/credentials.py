"""Rules for usernames, passwords, platforms and refresh tokens (pure)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from imfaas.shared.conversation_id import check_plain_id, new_device_id
from imfaas.shared.errors import BadRequest, Unauthorized

USERNAME_RE = re.compile(r"[a-z0-9_.-]{3,32}")
PLATFORMS = ("ios", "android", "web", "desktop")


def read_username(body: dict[str, Any]) -> str:
    """The username, if it is 3–32 of ``[a-z0-9_.-]``."""
    username = body.get("username")
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise BadRequest("username must be 3-32 characters of a-z 0-9 _ . -")
    return username


def read_password(body: dict[str, Any]) -> str:
    """The password, if it is 8–128 characters."""
    password = body.get("password")
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise BadRequest("password must be 8-128 characters")
    return password


def read_platform(body: dict[str, Any]) -> str:
    """The client platform (default ``web``)."""
    platform = body.get("platform", "web")
    if platform not in PLATFORMS:
        raise BadRequest(f"platform must be one of {', '.join(PLATFORMS)}")
    return str(platform)


def read_device_id(body: dict[str, Any]) -> str:
    """The client's device id, or a new one when absent."""
    device_id = body.get("device_id")
    if device_id is None:
        return new_device_id()
    return check_plain_id(device_id, "device_id")


def new_refresh_token(session_id: str) -> tuple[str, str]:
    """A refresh token ``<session>.<secret>`` and the hash stored for it."""
    secret = secrets.token_urlsafe(32)
    return f"{session_id}.{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    """The stored form of a refresh secret (high entropy, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_refresh_token(token: object) -> tuple[str, str]:
    """The session id and secret of a presented refresh token; ``Unauthorized`` if malformed."""
    if not isinstance(token, str) or len(token) > 256:
        raise Unauthorized("invalid refresh token")
    session_id, sep, secret = token.partition(".")
    if not sep or not session_id or not secret:
        raise Unauthorized("invalid refresh token")
    return session_id, secret
