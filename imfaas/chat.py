"""``imfaas chat``: a small terminal client on top of ``imfaas.client``.

Type a line to send it to the current peer. Commands: ``/to <user_id>``, ``/list``,
``/history``, ``/whoami``, ``/quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from imfaas.client import ClientError, Connection, ImfaasClient
from imfaas.shared.conversation_id import direct_conversation

HELP = "commands: /to <user_id>  /list  /history  /whoami  /quit   (anything else is sent)"


def _line(message: dict[str, Any], me: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(message["ts"] / 1000))
    who = "me" if message["sender"] == me else message["sender"]
    content = message.get("content") or {}
    body = content.get("text") if content.get("kind") == "text" else f"[{content.get('kind')}]"
    return f"[{stamp}] #{message['seq']} {who}: {body}"


async def _print_events(conn: Connection, me: str) -> None:
    while True:
        event = await conn.events.get()
        if event.get("type") == "msg.new":
            print(_line(event["message"], me), flush=True)
        else:
            print(f"* {event}", flush=True)


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run_chat(args: argparse.Namespace) -> int:
    """Log in (registering first if asked), connect, then chat until /quit or end of input."""
    async with ImfaasClient(args.url) as client:
        try:
            if args.register:
                await client.register(args.username, args.password)
            session = await client.login(args.username, args.password, device_id=args.device_id)
            conn = await client.connect(session)
        except (ClientError, OSError) as exc:
            print(f"imfaas chat: {exc}", file=sys.stderr)
            return 1
        me, peer = session.user_id, args.peer
        print(f"logged in as {args.username} (user id {me}); {HELP}", flush=True)
        printer = asyncio.create_task(_print_events(conn, me))
        reader = await _stdin_lines()
        try:
            while raw := await reader.readline():
                line = raw.decode().strip()
                if not line:
                    continue
                if line == "/quit":
                    break
                try:
                    peer = await _command(conn, me, peer, line)
                except ClientError as exc:
                    print(f"! {exc.code}: {exc.message}", flush=True)
        finally:
            printer.cancel()
            await conn.close()
    return 0


async def _command(conn: Connection, me: str, peer: str | None, line: str) -> str | None:
    if line.startswith("/to "):
        peer = line.split(maxsplit=1)[1].strip()
        print(f"talking to {peer}", flush=True)
    elif line == "/whoami":
        print(me, flush=True)
    elif line == "/list":
        for entry in (await conn.request("conv.list"))["conversations"]:
            print(f"{entry['conversation']}  last #{entry['last_seq']}  unread {entry['unread']}")
    elif line == "/history":
        if peer is None:
            print("pick a peer first: /to <user_id>", flush=True)
            return peer
        reply = await conn.request(
            "msg.history", conversation=direct_conversation(me, peer), limit=20
        )
        for message in reversed(reply["messages"]):
            print(_line(message, me))
    elif line.startswith("/"):
        print(HELP, flush=True)
    elif peer is None:
        print("pick a peer first: /to <user_id>", flush=True)
    else:
        ack = await conn.request(
            "msg.send",
            to=peer,
            client_msg_id=uuid.uuid4().hex,
            content={"kind": "text", "text": line},
        )
        print(f"  ✓ #{ack['seq']}", flush=True)
    return peer
