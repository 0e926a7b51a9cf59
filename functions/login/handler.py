"""The login function: HTTP API of protocol §1 (register, login, refresh, logout), device
seats (§4 session control) and ``device.push_token``."""

from __future__ import annotations

import secrets
import time
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.login import credentials
from imfaas.functions.login.config import LoginConfig
from imfaas.functions.login.login_throttle import LoginThrottle
from imfaas.functions.login.password_hashing import PasswordHashing
from imfaas.functions.login.push_token_request import read_push_token
from imfaas.shared.access_tokens import LEEWAY_S, TokenIssuer, revocation_key
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import new_user_id
from imfaas.shared.errors import BackendUnavailable, Unauthorized
from imfaas.shared.function_runtime import FrameContext, FrameRouter, HttpRouter
from imfaas.shared.node_choice import choose_node
from imfaas.shared.ports.device_registry import (
    DeviceRecord,
    PushToken,
    RefreshFamily,
    RotateOutcome,
)
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/login"
NEEDS = ("users", "devices", "cache", "bus", "nodes")
CLOSE_KICKED = 4409
CLOSE_UNAUTHORIZED = 4401
DISPLACED_REASON = "signed in on another device"


def _now_ms() -> int:
    return int(time.time() * 1000)


class LoginFunction:
    """Owns users, credentials, devices, their seats and push tokens, and login sessions."""

    name = "login"

    def __init__(self, config: LoginConfig, ports: Ports) -> None:
        self._config = config
        self._ports = ports
        self._issuer: TokenIssuer | None = None
        self._passwords = PasswordHashing(config.argon2_time_cost, config.argon2_memory_kib)
        self._throttle = LoginThrottle(
            ports.cache, config.per_user_throttle, config.per_ip_throttle
        )
        self._router = HttpRouter(SOURCE)
        self._router.add(catalog.HTTP_REGISTER, self.register)
        self._router.add(catalog.HTTP_LOGIN, self.login)
        self._router.add(catalog.HTTP_TOKEN_REFRESH, self.refresh)
        self._router.add(catalog.HTTP_LOGOUT, self.logout)
        # The push token lives with the device's sessions, so the logout or displacement
        # that revokes them drops it in the same transaction.
        self._frames = FrameRouter(SOURCE)
        self._frames.add("device.push_token", self.push_token)

    async def start(self) -> None:
        """Load the signing key."""
        self._issuer = TokenIssuer(
            self._config.private_key_file.read_bytes(),
            self._config.kid,
            self._config.issuer,
            self._config.access_ttl_s,
            self._config.audience,
        )

    async def stop(self) -> None:
        """Nothing to close: the ports belong to whoever opened them."""

    async def ready(self) -> bool:
        """Ready once the key is loaded."""
        return self._issuer is not None

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve one forwarded HTTP request or client frame."""
        if self._frames.owns(event["type"]):
            return await self._frames.dispatch(event)
        return await self._router.dispatch(event)

    async def register(self, event: CloudEvent, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /v1/register``: create a user with an argon2id password hash."""
        username = credentials.read_username(body)
        password = credentials.read_password(body)
        user = UserRecord(
            user_id=new_user_id(),
            username=username,
            password_hash=await self._passwords.hash(password),
            created_ms=_now_ms(),
        )
        await self._ports.users.create_user(user)
        return 201, {"user_id": user.user_id}

    async def login(self, event: CloudEvent, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /v1/login``: check the password, register the device, open a session in a
        seat of its platform class, displacing (4409) the device that held it.

        Throttled per username and client IP before argon2 runs (429 with Retry-After)."""
        username = credentials.read_username(body)
        password = credentials.read_password(body)
        device_id = credentials.read_device_id(body)
        platform = credentials.read_platform(body)
        client_ip = str(event.get(catalog.EXT_CLIENT_IP) or "")
        await self._throttle.admit(username, client_ip)
        user = await self._ports.users.get_by_username(username)
        if not await self._passwords.verify(user.password_hash if user else None, password):
            await self._throttle.record_failure(client_ip)
            raise Unauthorized("wrong username or password")
        assert user is not None
        await self._throttle.record_success(username)
        now = _now_ms()
        await self._ports.devices.upsert_device(
            DeviceRecord(user.user_id, device_id, platform, now)
        )
        session_id = secrets.token_hex(16)
        refresh_token, token_hash = credentials.new_refresh_token(session_id)
        family = RefreshFamily(
            session_id=session_id,
            user_id=user.user_id,
            device_id=device_id,
            platform=platform,
            token_hash=token_hash,
            generation=1,
            expires_ms=now + self._config.refresh_ttl_s * 1000,
            revoked=False,
        )
        seat = self._config.seats.seat_of(platform)
        if seat is None:
            await self._ports.devices.create_family(family)
        else:
            displaced = await self._ports.devices.create_seated_family(family, seat, now)
            if displaced is not None:
                await self._revoke_sessions(
                    user.user_id,
                    displaced.device_id,
                    list(displaced.sessions),
                    DISPLACED_REASON,
                    CLOSE_KICKED,
                )
        return 200, await self._session_body(
            event, user.user_id, device_id, session_id, platform, refresh_token
        )

    async def refresh(self, event: CloudEvent, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /v1/token/refresh``: rotate; a reused token revokes the whole session."""
        session_id, secret = credentials.split_refresh_token(body.get("refresh_token"))
        new_token, new_hash = credentials.new_refresh_token(session_id)
        outcome, family = await self._ports.devices.rotate(
            session_id, credentials.hash_secret(secret), new_hash, _now_ms()
        )
        if outcome is RotateOutcome.REUSED and family is not None:
            await self._revoke_sessions(
                family.user_id, family.device_id, [session_id], "token reuse"
            )
        if outcome is not RotateOutcome.ROTATED or family is None:
            raise Unauthorized("invalid refresh token")
        return 200, await self._session_body(
            event, family.user_id, family.device_id, session_id, family.platform, new_token
        )

    async def logout(self, event: CloudEvent, body: dict[str, Any]) -> tuple[int, Any]:
        """``POST /v1/logout``: revoke the device's sessions and close its sockets."""
        user_id = event.get(catalog.EXT_USER)
        device_id = event.get(catalog.EXT_DEVICE)
        if not user_id or not device_id:
            raise Unauthorized("logout needs a verified access token")
        sessions = await self._ports.devices.revoke_device(user_id, device_id)
        current = event.get(catalog.EXT_SESSION)
        if current and current not in sessions:
            sessions.append(current)
        await self._revoke_sessions(user_id, device_id, sessions, "logout")
        return 204, None

    async def push_token(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """``device.push_token``: this device's token, replacing its previous one."""
        provider, token = read_push_token(frame)
        stored = await self._ports.devices.set_push_token(
            PushToken(ctx.user_id, ctx.device_id, provider, token, _now_ms()), ctx.session_id
        )
        if not stored:
            # The session was revoked after the socket authenticated; its close is on the way.
            raise Unauthorized("session ended")
        return {"type": "device.push_token.ok"}

    async def _revoke_sessions(
        self,
        user_id: str,
        device_id: str,
        sessions: list[str],
        reason: str,
        close_code: int = CLOSE_UNAUTHORIZED,
    ) -> None:
        # Access tokens live at most their TTL: the revocation mark needs to outlive them.
        ttl = self._config.access_ttl_s + LEEWAY_S + 60
        for session_id in sessions:
            await self._ports.cache.set(revocation_key(session_id), reason, ttl)
        for session_id in sessions:
            await self._ports.bus.publish(
                new_event(
                    catalog.SESSION_REVOKED,
                    SOURCE,
                    {
                        "user": user_id,
                        "device": device_id,
                        "session": session_id,
                        "close_code": close_code,
                        "reason": reason,
                    },
                ),
                key=user_id,
            )

    async def _ws_url(self, event: CloudEvent, user_id: str) -> str:
        """The configured URL, else the live gateway node this user hashes to, else the
        node that forwarded the request."""
        if self._config.public_ws_url:
            return self._config.public_ws_url
        try:
            node = choose_node(await self._ports.nodes.live_nodes(), user_id)
        except BackendUnavailable:
            node = None
        return node.ws_url if node is not None else (event.get(catalog.EXT_WS_URL) or "")

    async def _session_body(
        self,
        event: CloudEvent,
        user_id: str,
        device_id: str,
        session_id: str,
        platform: str,
        refresh_token: str,
    ) -> dict[str, Any]:
        assert self._issuer is not None
        return {
            "access_token": self._issuer.issue(user_id, device_id, session_id, platform),
            "refresh_token": refresh_token,
            "expires_in": self._config.access_ttl_s,
            "user_id": user_id,
            "device_id": device_id,
            "ws_url": await self._ws_url(event, user_id),
        }


def create_function(settings: Settings, ports: Ports) -> LoginFunction:
    """Build the login function on already opened ports."""
    return LoginFunction(LoginConfig.from_settings(settings), ports)
