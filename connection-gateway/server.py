"""The gateway's asyncio server: HTTP API, the WebSocket endpoint and internal delivery.

This module only moves bytes: protocol decisions come from ``SessionProtocol``, replies from
functions, and delivery batches from fanout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMessage, WSMsgType, web
from cloudevents.http import CloudEvent

from imfaas.events import catalog, trace_context
from imfaas.events.client_frames import SocketIdentity, client_frame_event
from imfaas.events.codec import BadEvent, decode_http, new_event
from imfaas.gateway.client_address import client_ip
from imfaas.gateway.config import GatewayConfig
from imfaas.gateway.connection_caps import ConnectionCaps
from imfaas.gateway.frame_rate_limits import FrameRateLimits
from imfaas.gateway.frame_writer import FrameWriter, text_frame
from imfaas.gateway.function_invoker import FunctionInvoker
from imfaas.gateway.gateway_metrics import CONTENT_TYPE, GatewayMetrics
from imfaas.gateway.presence_announcer import PRESENCE_FUNCTION, PresenceAnnouncer
from imfaas.gateway.session_protocol import (
    CLOSE_RESTART,
    CLOSE_TRY_LATER,
    Action,
    Authenticate,
    CloseSocket,
    Forward,
    SendFrame,
    SessionProtocol,
    State,
    error_frame,
)
from imfaas.gateway.stale_routes import StaleRouteSweeper
from imfaas.shared.access_tokens import AccessClaims, TokenVerifier, revocation_key
from imfaas.shared.delivery_batch import unpack_items
from imfaas.shared.errors import BackendUnavailable, ImfaasError, TooLarge, Unauthorized
from imfaas.shared.function_runtime import client_error
from imfaas.shared.ports.cache import Cache
from imfaas.shared.ports.node_registry import GatewayNode, NodeRegistry
from imfaas.shared.ports.route_table import Route, RouteTable

log = logging.getLogger("imfaas.gateway")

MAX_QUEUED_REQUESTS = 256
# Fanout splits its batches (delivery_http.ITEMS_PER_POST); this bounds what one may hold,
# apart from the much smaller client body limit, since a batch names up to thousands of sockets.
MAX_DELIVERY_BODY_BYTES = 16 * 1024 * 1024
# A socket refused at a cap gets this long to answer the close before it is dropped.
REFUSED_CLOSE_TIMEOUT_S = 2.0
_COMPACT = (",", ":")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=_COMPACT, ensure_ascii=False)


@dataclass(eq=False, slots=True)
class ClientConnection:
    """One accepted socket and what the gateway knows about it."""

    conn_id: str
    ws: web.WebSocketResponse
    writer: FrameWriter
    protocol: SessionProtocol
    claims: AccessClaims | None = None
    route: Route | None = None
    # Requests waiting for the worker, oldest first. Both exist only while requests are in
    # flight: an idle socket holds no queue and no task.
    requests: deque[dict[str, Any]] | None = None
    worker: asyncio.Task[None] | None = None
    # The code the server closed with (None: the client closed, or has not yet).
    close_code: int | None = None
    # Over its send buffer limit and being closed: nothing more is written to it.
    lagging: bool = False


class Gateway:
    """Holds the sockets of one node; everything of value lives elsewhere."""

    def __init__(
        self,
        config: GatewayConfig,
        verifier: TokenVerifier,
        cache: Cache,
        routes: RouteTable,
        invoker: FunctionInvoker,
        nodes: NodeRegistry | None = None,
    ) -> None:
        self.config = config
        self._nodes = nodes
        self._verifier = verifier
        self._cache = cache
        self._routes = routes
        self._invoker = invoker
        self.presence = PresenceAnnouncer(
            invoker, PRESENCE_FUNCTION in config.frame_routes.values()
        )
        self.stale_routes = StaleRouteSweeper(
            config.node_id, routes, nodes, lambda route: self.presence.announce(route, up=False)
        )
        self._connections: dict[str, ClientConnection] = {}
        self.caps = ConnectionCaps(config.max_connections, config.max_connections_per_ip)
        self.frame_limits = FrameRateLimits(config.frame_rates)
        self._background: list[asyncio.Task[None]] = []
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self.public_ws_url = config.public_ws_url
        # Counters shown on /healthz; Prometheus reads ``metrics`` on /metrics.
        self.delivery_batches = 0
        self.frames_delivered = 0
        self.metrics = GatewayMetrics(
            (*config.frame_routes, "auth", "ping"), lambda: len(self._connections)
        )
        # Bound once and shared by every socket's SessionProtocol.
        self._routable = self._is_routable
        self._count_frame_in = self.metrics.frame_in

    # -- lifecycle ---------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application with every route of this node."""
        app = web.Application(client_max_size=self.config.max_http_body_bytes)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/v1/ws", self._websocket)
        app.router.add_post("/v1/register", self._register)
        app.router.add_post("/v1/login", self._login)
        app.router.add_post("/v1/token/refresh", self._refresh)
        app.router.add_post("/v1/logout", self._logout)
        app.router.add_post("/internal/v1/deliver", self._deliver_http)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        # Before the first socket: what this node id routed before a crash is gone.
        await self.stale_routes.clear_own()
        self._background = [
            asyncio.create_task(self._tick_sessions(), name="gateway:ticks"),
            asyncio.create_task(self._refresh_routes(), name="gateway:routes"),
        ]
        if self._nodes is not None:
            self._background.append(
                asyncio.create_task(self._announce_node(), name="gateway:announce")
            )
            self._background.append(
                asyncio.create_task(
                    self.stale_routes.watch(max(0.5, self.config.node_ttl_s / 3)),
                    name="gateway:dead-nodes",
                )
            )

    def node(self) -> GatewayNode:
        """How this node announces itself to logins and to fanout."""
        return GatewayNode(self.config.node_id, self.public_ws_url, self.config.delivery_url or "")

    async def announce(self) -> None:
        """Tell the registry this node is live (once its public URL is known)."""
        if self._nodes is None or not self.public_ws_url:
            return
        try:
            await self._nodes.announce(self.node(), self.config.node_ttl_s)
        except BackendUnavailable as exc:
            log.warning("node announce failed: %s", exc)

    async def _announce_node(self) -> None:
        while True:
            await self.announce()
            await asyncio.sleep(max(0.5, self.config.node_ttl_s / 3))

    async def _on_shutdown(self, app: web.Application) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        # Drain: first leave the registry so logins and fanout stop choosing this node.
        if self._nodes is not None:
            with contextlib.suppress(BackendUnavailable):
                await self._nodes.withdraw(self.config.node_id)
        # 1012 tells clients to reconnect after a short random delay and sync.
        await asyncio.gather(
            *(
                self._close(conn, CLOSE_RESTART, "server restarting")
                for conn in list(self._connections.values())
            ),
            return_exceptions=True,
        )
        await asyncio.gather(*self._closing_tasks, return_exceptions=True)
        await self.presence.drain()

    @property
    def connection_count(self) -> int:
        """Sockets currently open on this node."""
        return len(self._connections)

    # -- WebSocket ---------------------------------------------------------------------

    def _client_ip(self, request: web.Request) -> str:
        """The peer, or the client a trusted proxy names (connection caps, login throttling)."""
        return client_ip(
            request.remote,
            request.headers.getall("X-Forwarded-For", []),
            self.config.trusted_proxies,
        )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ip = self._client_ip(request)
        if self.caps.try_open(ip) is not None:
            return await self._refuse_socket(request)
        try:
            return await self._serve_socket(request)
        finally:
            self.caps.release(ip)

    async def _refuse_socket(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, then close 1013 at once (before auth): browsers only see close codes."""
        ws = web.WebSocketResponse(timeout=REFUSED_CLOSE_TIMEOUT_S, autoping=False)
        await ws.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close(code=CLOSE_TRY_LATER, message=b"try again later")
        self.metrics.closed(CLOSE_TRY_LATER)
        return ws

    async def _serve_socket(self, request: web.Request) -> web.StreamResponse:
        # aiohttp refuses a message of exactly max_msg_size; the protocol allows up to the limit.
        # No permessage-deflate: frames stay the same bytes for every socket (frame_writer),
        # and a zlib context per socket would cost more memory than an idle socket has.
        ws = web.WebSocketResponse(
            max_msg_size=self.config.limits.max_frame_bytes + 1,
            autoping=False,
            heartbeat=None,
            compress=False,
        )
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            return ws
        loop = asyncio.get_running_loop()
        conn = ClientConnection(
            conn_id=secrets.token_hex(8),
            ws=ws,
            writer=FrameWriter(transport, self.config.max_send_buffer_bytes),
            protocol=SessionProtocol(
                self.config.limits,
                self._routable,
                loop.time(),
                self.frame_limits,
                self._count_frame_in,
            ),
        )
        self._connections[conn.conn_id] = conn
        try:
            # Not ``async for``: that is one more coroutine frame per idle socket, and its loop
            # variable would keep the last frame received alive until the next one.
            while await self._receive(conn, await ws.receive()):
                pass
        finally:
            await self._forget(conn)
        return ws

    async def _receive(self, conn: ClientConnection, msg: WSMessage) -> bool:
        """Act on one received message; False once the socket is done."""
        now = asyncio.get_running_loop().time()
        if msg.type is WSMsgType.TEXT:
            actions = conn.protocol.receive_text(msg.data, now)
        elif msg.type is WSMsgType.BINARY:
            actions = conn.protocol.receive_binary(len(msg.data), now)
        elif msg.type is WSMsgType.PING:
            conn.protocol.receive_ping(now)
            await conn.ws.pong(msg.data)
            return True
        elif msg.type is WSMsgType.PONG:
            conn.protocol.receive_ping(now)
            return True
        else:  # CLOSE, CLOSING, CLOSED, ERROR
            return False
        await self._run(conn, actions)
        return conn.protocol.state is not State.CLOSED

    def _is_routable(self, frame_type: str) -> bool:
        return frame_type in self.config.frame_routes

    async def _run(self, conn: ClientConnection, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendFrame):
                await self._send(conn, action.frame)
            elif isinstance(action, Forward):
                await self._enqueue(conn, action.frame)
            elif isinstance(action, Authenticate):
                await self._run(conn, await self._authenticate(conn, action))
            elif isinstance(action, CloseSocket):
                await self._close(conn, action.code, action.reason)

    async def _authenticate(self, conn: ClientConnection, action: Authenticate) -> list[Action]:
        try:
            claims = await self._check_token(action.token)
        except Unauthorized as exc:
            return conn.protocol.auth_failed(action.request_id, exc.message)
        except ImfaasError:
            return conn.protocol.auth_unavailable(action.request_id)
        conn.claims = claims
        conn.route = Route(
            user_id=claims.user_id,
            device_id=claims.device_id,
            node_id=self.config.node_id,
            conn_id=conn.conn_id,
            platform=claims.platform,
        )
        try:
            await self._routes.add(conn.route, self.config.route_ttl_s)
        except BackendUnavailable:
            log.warning("route table unavailable; %s stays unrouted until refresh", conn.conn_id)
        self.presence.announce(conn.route, up=True)
        now = asyncio.get_running_loop().time()
        return conn.protocol.auth_succeeded(
            claims.user_id, claims.device_id, action.request_id, now
        )

    async def _check_token(self, token: object) -> AccessClaims:
        """Signature and expiry locally, then the revocation mark in the cache."""
        claims = self._verifier.verify(token)
        try:
            revoked = await self._cache.get(revocation_key(claims.session_id))
        except BackendUnavailable as exc:
            raise client_error(exc) from exc
        if revoked is not None:
            raise Unauthorized("token revoked")
        return claims

    async def _enqueue(self, conn: ClientConnection, frame: dict[str, Any]) -> None:
        # One worker per socket keeps a client's requests in the order it sent them.
        if conn.requests is None:
            conn.requests = deque()
        elif len(conn.requests) >= MAX_QUEUED_REQUESTS:
            await self._send(
                conn, error_frame("rate_limited", "too many requests in flight", frame["id"])
            )
            return
        conn.requests.append(frame)
        if conn.worker is None:
            conn.worker = asyncio.create_task(self._forward_loop(conn), name=f"conn:{conn.conn_id}")

    async def _forward_loop(self, conn: ClientConnection) -> None:
        # Runs until the queue is empty: between the check and the exit nothing can enqueue.
        requests = conn.requests
        assert requests is not None
        try:
            while requests:
                frame = requests.popleft()
                reply = await self._forward(conn, frame)
                if reply is not None:
                    await self._send(conn, reply)
        finally:
            conn.requests = conn.worker = None

    async def _forward(
        self, conn: ClientConnection, frame: dict[str, Any]
    ) -> dict[str, Any] | None:
        assert conn.claims is not None
        claims = conn.claims
        function = self.config.frame_routes[frame["type"]]
        who = SocketIdentity(
            user_id=claims.user_id,
            device_id=claims.device_id,
            session_id=claims.session_id,
            platform=claims.platform,
            node_id=self.config.node_id,
            conn_id=conn.conn_id,
        )
        event = client_frame_event(frame, who)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            reply = await self._invoker.invoke(function, event)
        except Exception as exc:
            return client_error(exc).to_frame(frame["id"])
        finally:
            self.metrics.forwarded(function, loop.time() - started)
        if reply is None:
            return None
        data = reply.get_data()
        if reply["type"] != catalog.REPLY or not isinstance(data, dict):
            log.error("%s replied with %s", function, reply["type"])
            return error_frame("internal", "internal error", frame["id"])
        return data

    async def _send(self, conn: ClientConnection, frame: dict[str, Any]) -> None:
        if self._write(conn, text_frame(_dumps(frame))):
            self.metrics.frame_out(frame)

    def _write(self, conn: ClientConnection, data: bytes) -> bool:
        """Queue one frame's bytes on the socket without waiting; False if not sent."""
        if conn.ws.closed or conn.lagging:
            return False
        if conn.writer.write(data):
            return True
        if not conn.ws.closed:
            conn.lagging = True
            task = asyncio.create_task(self._drop_lagging(conn), name=f"lagging:{conn.conn_id}")
            self._closing_tasks.add(task)
            task.add_done_callback(self._closing_tasks.discard)
        return False

    async def _drop_lagging(self, conn: ClientConnection) -> None:
        # Its messages are stored; after reconnecting, sync brings them. Waiting for it instead
        # would hold every other socket's delivery behind this one.
        log.warning(
            "closing %s: over %d unsent bytes", conn.conn_id, self.config.max_send_buffer_bytes
        )
        await self._close(conn, CLOSE_TRY_LATER, "too slow: reconnect and sync")
        conn.writer.abort()

    async def _close(self, conn: ClientConnection, code: int, reason: str) -> None:
        conn.protocol.closed()
        if conn.close_code is None and not conn.ws.closed:
            conn.close_code = code
        if not conn.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=code, message=reason.encode("utf-8")[:120])

    async def _forget(self, conn: ClientConnection) -> None:
        conn.protocol.closed()
        if self._connections.pop(conn.conn_id, None) is not None:
            # 1006: the socket went away without a close frame.
            self.metrics.closed(conn.close_code or conn.ws.close_code or 1006)
        if conn.worker is not None:
            conn.worker.cancel()
        if conn.route is not None:
            with contextlib.suppress(BackendUnavailable):
                await self._routes.remove(conn.route)
            self.presence.announce(conn.route, up=False)

    async def _tick_sessions(self) -> None:
        limits = self.config.limits
        period = max(0.05, min(1.0, limits.idle_timeout_s / 4, limits.auth_timeout_s / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            self.frame_limits.prune(now)
            for conn in list(self._connections.values()):
                actions = conn.protocol.tick(now)
                if actions:
                    await self._run(conn, actions)

    async def _refresh_routes(self) -> None:
        period = max(1.0, self.config.route_ttl_s / 3)
        while True:
            await asyncio.sleep(period)
            live = [c.route for c in self._connections.values() if c.route is not None]
            try:
                await self._routes.refresh(live, self.config.route_ttl_s)
            except BackendUnavailable as exc:
                log.warning("route refresh failed: %s", exc)

    # -- delivery from fanout ----------------------------------------------------------

    async def deliver_batch(self, items: list[dict[str, Any]]) -> int:
        """Send each item's frame to its socket (then close it if asked); return frames sent."""
        self.delivery_batches += 1
        self.metrics.delivery_batch(len(items))
        closing: list[tuple[ClientConnection, int]] = []
        # A frame shared by many items (a group message) is framed and counted once for all.
        framed: dict[int, tuple[dict[str, Any], bytes]] = {}
        sockets: Counter[int] = Counter()
        for item in items:
            conn = self._connections.get(str(item.get("conn")))
            if conn is None or conn.protocol.state is not State.OPEN:
                continue
            frame = item.get("frame")
            if isinstance(frame, dict):
                key = id(frame)
                known = framed.get(key)
                if known is None:
                    known = framed[key] = (frame, text_frame(_dumps(frame)))
                if self._write(conn, known[1]):
                    sockets[key] += 1
            if "close" in item:
                closing.append((conn, int(item["close"])))
        for key, count in sockets.items():
            self.metrics.frame_out(framed[key][0], count)
        for conn, code in closing:
            await self._close(conn, code, "closed by server")
        sent = sum(sockets.values())
        self.frames_delivered += sent
        return sent

    async def _deliver_http(self, request: web.Request) -> web.Response:
        token = self.config.internal_token
        # Constant time, on bytes: compare_digest refuses str with non-ASCII characters.
        given = request.headers.get("X-Imfaas-Internal-Token", "").encode("utf-8", "replace")
        if token and not secrets.compare_digest(given, token.encode("utf-8")):
            return _http_error(Unauthorized("internal token required"))
        body = await _read_body(request, MAX_DELIVERY_BODY_BYTES)
        if body is None:
            return _http_error(TooLarge("delivery batch too large"))
        try:
            event = decode_http(dict(request.headers), body)
        except BadEvent as exc:
            return web.json_response(
                {"error": {"code": "bad_request", "message": str(exc)}}, status=400
            )
        data = event.get_data()
        if event["type"] != catalog.GATEWAY_DELIVERY or not isinstance(data, dict):
            return web.json_response(
                {"error": {"code": "bad_request", "message": "expected a delivery batch"}},
                status=400,
            )
        try:
            items = unpack_items(data)
        except ValueError as exc:
            return web.json_response(
                {"error": {"code": "bad_request", "message": str(exc)}}, status=400
            )
        with trace_context.handling(event):
            sent = await self.deliver_batch(items)
        return web.json_response({"sent": sent}, status=202)

    # -- HTTP API ----------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "node": self.config.node_id,
                "connections": self.connection_count,
                "delivery_batches": self.delivery_batches,
                "frames_delivered": self.frames_delivered,
                # Every task on this process's loop: the soak bench watches it for leaks.
                "tasks": len(asyncio.all_tasks()),
            }
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def _register(self, request: web.Request) -> web.Response:
        return await self._forward_http(request, catalog.HTTP_REGISTER, {})

    async def _login(self, request: web.Request) -> web.Response:
        return await self._forward_http(request, catalog.HTTP_LOGIN, {})

    async def _refresh(self, request: web.Request) -> web.Response:
        return await self._forward_http(request, catalog.HTTP_TOKEN_REFRESH, {})

    async def _logout(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise Unauthorized("Authorization: Bearer <access_token> required")
            claims = await self._check_token(token.strip())
        except ImfaasError as exc:
            return _http_error(exc)
        return await self._forward_http(
            request,
            catalog.HTTP_LOGOUT,
            {
                catalog.EXT_USER: claims.user_id,
                catalog.EXT_DEVICE: claims.device_id,
                catalog.EXT_SESSION: claims.session_id,
            },
            body_required=False,
        )

    async def _forward_http(
        self,
        request: web.Request,
        event_type: str,
        extensions: dict[str, str],
        body_required: bool = True,
    ) -> web.Response:
        raw = await _read_body(request, self.config.max_http_body_bytes)
        if raw is None:
            return _http_error(TooLarge("body too large"))
        body: Any = {}
        if raw.strip() or body_required:
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):  # nesting deeper than the stack is garbage too
                return web.json_response(
                    {"error": {"code": "bad_request", "message": "body is not JSON"}}, status=400
                )
        if not isinstance(body, dict):
            return web.json_response(
                {"error": {"code": "bad_request", "message": "body must be a JSON object"}},
                status=400,
            )
        event = new_event(
            event_type,
            f"/imfaas/gateway/{self.config.node_id}",
            body,
            {
                **extensions,
                catalog.EXT_WS_URL: self.public_ws_url or _ws_url_for(request),
                catalog.EXT_CLIENT_IP: self._client_ip(request),
                catalog.EXT_TRACEPARENT: trace_context.new_traceparent(),
            },
        )
        try:
            reply = await self._invoker.invoke("login", event)
        except Exception as exc:
            return _http_error(client_error(exc))
        return _http_reply(reply)


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, however many packets it came in; None once it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _ws_url_for(request: web.Request) -> str:
    forwarded = request.headers.get("X-Forwarded-Proto", request.scheme)
    scheme = "wss" if forwarded == "https" else "ws"
    return f"{scheme}://{request.host}/v1/ws"


def _http_error(error: ImfaasError) -> web.Response:
    return web.json_response(
        error.to_http_body(), status=error.http_status, headers=error.http_headers()
    )


# Headers a function's reply may set on the client's answer; anything else (framing, cookies,
# caching) stays the gateway's.
REPLY_HEADERS = ("Retry-After",)


def _http_reply(reply: CloudEvent | None) -> web.Response:
    data = reply.get_data() if reply is not None else None
    if reply is None or reply["type"] != catalog.HTTP_RESPONSE or not isinstance(data, dict):
        return web.json_response(
            {"error": {"code": "internal", "message": "internal error"}}, status=500
        )
    status = int(data.get("status", 500))
    given = data.get("headers")
    headers = {
        name: str(given[name])
        for name in REPLY_HEADERS
        if isinstance(given, dict) and name in given
    }
    if data.get("body") is None:
        return web.Response(status=status, headers=headers)
    return web.json_response(data["body"], status=status, headers=headers)
