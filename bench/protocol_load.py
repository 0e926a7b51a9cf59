"""Protocol-level helpers for the load generator: accounts, sockets, frames (aiohttp)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from dataclasses import dataclass

import aiohttp

PASSWORD = "bench-password-1"
_names = itertools.count()


@dataclass
class Account:
    """A registered, logged-in user."""

    user_id: str
    username: str
    token: str
    ws_url: str


async def make_accounts(http: aiohttp.ClientSession, base: str, n: int) -> list[Account]:
    """Register and log in ``n`` users, 32 at a time."""
    gate = asyncio.Semaphore(32)
    run = f"{os.getpid()}x{next(_names)}"

    async def one(i: int) -> Account:
        name = f"b{run}n{i}"
        async with gate:
            async with http.post(
                f"{base}/v1/register", json={"username": name, "password": PASSWORD}
            ) as r:
                user_id = (await r.json())["user_id"]
            return await login(http, base, name, user_id)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def login(http: aiohttp.ClientSession, base: str, name: str, user_id: str = "") -> Account:
    """One ``POST /v1/login``."""
    body = {"username": name, "password": PASSWORD, "device_id": "bench"}
    async with http.post(f"{base}/v1/login", json=body) as response:
        data = await response.json()
    return Account(data["user_id"], name, data["access_token"], data["ws_url"])


async def open_socket(
    http: aiohttp.ClientSession, account: Account
) -> aiohttp.ClientWebSocketResponse:
    """A socket that has received ``auth.ok``."""
    ws = await http.ws_connect(account.ws_url, max_msg_size=0)
    await ws.send_str(json.dumps({"type": "auth", "id": "a", "token": account.token}))
    reply = json.loads((await ws.receive()).data)
    if reply.get("type") != "auth.ok":
        raise RuntimeError(f"auth failed: {reply}")
    return ws
