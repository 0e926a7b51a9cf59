"""The wire form of a delivery batch: a frame that goes to many sockets travels once.

A group message for 1,000 members on one node is one ``msg.new`` frame and 1,000 socket ids,
not 1,000 copies of the message: items name a shared frame by its index in ``frames``
(``{"conn", "ref"}``) instead of carrying it (``{"conn", "frame"}``). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any


def pack_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``gateway.delivery`` data for ``items``: frames used by more than one item (the same
    object) are listed once in ``frames`` and referenced."""
    uses: dict[int, int] = {}
    for item in items:
        frame = item.get("frame")
        if frame is not None:
            uses[id(frame)] = uses.get(id(frame), 0) + 1
    if all(count == 1 for count in uses.values()):
        return {"items": items}
    frames: list[dict[str, Any]] = []
    index: dict[int, int] = {}
    packed = []
    for item in items:
        frame = item.get("frame")
        if frame is None or uses[id(frame)] == 1:
            packed.append(item)
            continue
        ref = index.get(id(frame))
        if ref is None:
            ref = index[id(frame)] = len(frames)
            frames.append(frame)
        out = {k: v for k, v in item.items() if k != "frame"}
        out["ref"] = ref
        packed.append(out)
    return {"frames": frames, "items": packed}


def unpack_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a ``gateway.delivery`` with every ``ref`` replaced by its frame (the same
    object for every item that shares it); ``ValueError`` for a reference to no frame."""
    items = data.get("items")
    if not isinstance(items, list):
        raise ValueError("items must be a list")
    frames = data.get("frames", [])
    if not isinstance(frames, list):
        raise ValueError("frames must be a list")
    unpacked = []
    for item in items:
        if isinstance(item, dict) and "ref" in item:
            ref = item["ref"]
            if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < len(frames):
                raise ValueError(f"ref {ref!r} names no frame")
            item = {k: v for k, v in item.items() if k != "ref"}
            item["frame"] = frames[ref]
        unpacked.append(item)
    return unpacked
