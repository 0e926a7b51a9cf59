"""CPU and bytes of one delivery batch for a group message, per-item frames vs shared frames.

Counts what fanout and one gateway spend on a batch for ``--members`` sockets of one node:
encode the gateway.delivery event, decode it, and encode each socket's frame text.

    python bench/delivery_batch.py --members 1000 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from imfaas.events import catalog
from imfaas.events.codec import decode_http, encode_http, new_event
from imfaas.shared.delivery_batch import pack_batch, unpack_items


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def per_item(items: list[dict[str, Any]]) -> int:
    """The old wire form: every item carries its frame; every frame encoded per socket."""
    headers, body = encode_http(new_event(catalog.GATEWAY_DELIVERY, "/bench", {"items": items}))
    for item in decode_http(headers, body).get_data()["items"]:
        _dumps(item["frame"])
    return len(body)


def shared(items: list[dict[str, Any]]) -> int:
    """Shared frames: listed once, referenced, encoded once per batch."""
    headers, body = encode_http(new_event(catalog.GATEWAY_DELIVERY, "/bench", pack_batch(items)))
    encoded: dict[int, str] = {}
    for item in unpack_items(decode_http(headers, body).get_data()):
        frame = item["frame"]
        if id(frame) not in encoded:
            encoded[id(frame)] = _dumps(frame)
    return len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    message = {
        "conversation": "g:g0123456789abcdef",
        "seq": 123,
        "msg_id": "01HZX3ABCDEFGHJKMNPQRSTVWX",
        "sender": "u0123456789abcdef",
        "sender_device": "dev-1",
        "client_msg_id": "c-123456",
        "ts": 1764230000000,
        "content": {"kind": "text", "text": "see you at the climbing wall at eight " * 3},
    }
    frame = {"type": "msg.new", "message": message}
    items = [{"conn": f"c{i:06d}", "frame": frame} for i in range(args.members)]
    for form in (per_item, shared, per_item, shared, per_item, shared):
        started = time.process_time()
        for _ in range(args.rounds):
            size = form(items)
        cpu_ms = (time.process_time() - started) / args.rounds * 1000
        print(f"{form.__name__:9} {cpu_ms:6.2f} ms CPU per batch, body {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
