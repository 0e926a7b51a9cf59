"""Fixtures: a real ``imfaas dev`` subprocess on a free port, and protocol clients for it."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from imfaas.client import Connection, ImfaasClient, LoginSession
from imfaas.events.schema_registry import frame_problems
from imfaas.local_cluster import process_tree
from imfaas.local_ports import free_port_range
from imfaas.shared.testing import drop_real_namespace

REAL = "real" in os.environ.get("IMFAAS_BACKENDS", "")


class DevServer:
    """``imfaas dev`` (embedded adapters), or with ``IMFAAS_BACKENDS=real`` the local cluster
    ``imfaas up`` (two gateways, one process per function, on the real backends): the same
    tests run unchanged on both. Restartable on the same data."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port_range()
        namespace = "e" + uuid.uuid4().hex[:12]
        self.env = {
            **os.environ,
            "IMFAAS_ARGON2_TIME_COST": "1",
            "IMFAAS_ARGON2_MEMORY_KIB": "1024",
            # Each server gets its own namespace on the shared real servers.
            "IMFAAS_POSTGRES_SCHEMA": namespace,
            "IMFAAS_CASSANDRA_KEYSPACE": namespace,
            "IMFAAS_REDIS_PREFIX": f"{namespace}:",
            "IMFAAS_KAFKA_TOPIC_PREFIX": f"{namespace}.",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until it serves (the cluster: until every process is ready)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + (150 if REAL else 30)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            if self._serving(offset):
                return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in time: {self.log_path.read_text()[-3000:]}")

    def _command(self) -> list[str]:
        mode = ["up", "--gateways", "2"] if REAL else ["dev"]
        return [
            sys.executable,
            "-m",
            "imfaas",
            *mode,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            self.env.get("IMFAAS_LOG_LEVEL", "WARNING"),
        ]

    def _serving(self, offset: int) -> bool:
        if REAL:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return b"imfaas up: gateways" in log.read()
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> int:
        """SIGTERM (an orderly stop) and wait; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def drop_namespace(self) -> None:
        """Delete this server's Kafka topics and Cassandra keyspace once it is done for good:
        the suite starts a few dozen servers, and their partitions and tables would pile up
        in the brokers' heaps (both ran out of memory once)."""
        if not REAL:
            return
        for problem in drop_real_namespace(
            keyspace=self.env["IMFAAS_CASSANDRA_KEYSPACE"],
            cassandra_port=int(self.env.get("IMFAAS_CASSANDRA_PORT", "29042")),
            topic_prefix=self.env["IMFAAS_KAFKA_TOPIC_PREFIX"],
            kafka_bootstrap=self.env.get("IMFAAS_KAFKA_BOOTSTRAP", "127.0.0.1:29092"),
        ):
            print(f"not cleaned: {problem}")

    def kill(self) -> None:
        """SIGKILL to every process of the server: a crash, no cleanup."""
        assert self.process is not None
        # The cluster's children run in process groups of their own: take the whole tree.
        tree = process_tree(self.process.pid)
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


PASSWORD = "correct-horse-battery"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def dev_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., DevServer]]:
    """Factory: start an ``imfaas dev`` with extra environment; all stop after the module."""
    started: list[DevServer] = []

    def make(env: dict[str, str] | None = None) -> DevServer:
        srv = DevServer(tmp_path_factory.mktemp("dev") / "data", env)
        started.append(srv)
        srv.start()
        return srv

    yield make
    for srv in started:
        if srv.process is not None and srv.process.poll() is None:
            srv.stop()
        srv.drop_namespace()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """One ``imfaas dev`` per test module, default protocol timeouts."""
    srv = DevServer(tmp_path_factory.mktemp("dev") / "data")
    srv.start()
    yield srv
    srv.stop()
    srv.drop_namespace()


@contextlib.asynccontextmanager
async def checked_client(url: str) -> AsyncIterator[ImfaasClient]:
    """An HTTP + WebSocket client for a server; every frame it receives must conform to its
    type's JSON Schema in ``events/schemas`` (checked when the client closes)."""
    problems: list[str] = []

    def check(frame: dict) -> None:
        problems.extend(f"{frame.get('type')}: {p}" for p in frame_problems(frame))

    async with ImfaasClient(url, on_frame=check) as c:
        yield c
    assert not problems, problems


@pytest.fixture
async def client(server: DevServer) -> AsyncIterator[ImfaasClient]:
    """A schema-checking client (``checked_client``) for the module's server."""
    async with checked_client(server.url) as c:
        yield c


User = tuple[str, str, LoginSession]  # (username, user_id, first login)


@pytest.fixture
def new_user(client: ImfaasClient) -> Callable[..., Awaitable[User]]:
    """Factory: register a fresh user and log one device in."""

    async def make(platform: str = "web", device_id: str | None = None) -> User:
        username = f"user{os.getpid()}x{next(_names)}"
        user_id = await client.register(username, PASSWORD)
        session = await client.login(username, PASSWORD, device_id=device_id, platform=platform)
        return username, user_id, session

    return make


@pytest.fixture
def connect(client: ImfaasClient) -> Iterator[Callable[[LoginSession], Awaitable[Connection]]]:
    """Factory: an authenticated socket; every socket is closed after the test."""
    opened: list[Connection] = []

    async def make(session: LoginSession) -> Connection:
        conn = await client.connect(session)
        opened.append(conn)
        return conn

    yield make
    # Sockets close with the client's HTTP session at fixture teardown.


@pytest.fixture
def password() -> str:
    """The password every test user gets."""
    return PASSWORD
