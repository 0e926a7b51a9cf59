"""Delivery batches: a frame for many sockets travels once, and comes back shared."""

from __future__ import annotations

import pytest

from imfaas.shared.delivery_batch import pack_batch, unpack_items


def test_a_batch_without_shared_frames_is_sent_as_it_is():
    items = [{"conn": "c1", "frame": {"type": "a"}}, {"conn": "c2", "frame": {"type": "a"}}]

    assert pack_batch(items) == {"items": items}  # equal frames, but not the same object


def test_a_shared_frame_is_listed_once_and_referenced():
    new, ack = {"type": "msg.new", "message": {"seq": 1}}, {"type": "msg.ack"}
    items = [
        {"conn": "c0", "frame": ack},
        *({"conn": f"c{i}", "frame": new} for i in range(1, 4)),
        {"conn": "c9", "close": 4409},
    ]

    packed = pack_batch(items)

    assert packed == {
        "frames": [new],
        "items": [
            {"conn": "c0", "frame": ack},
            {"conn": "c1", "ref": 0},
            {"conn": "c2", "ref": 0},
            {"conn": "c3", "ref": 0},
            {"conn": "c9", "close": 4409},
        ],
    }
    unpacked = unpack_items(packed)
    assert unpacked == items
    assert unpacked[1]["frame"] is unpacked[3]["frame"]  # shared again: encoded once


def test_a_close_keeps_its_shared_frame():
    kicked = {"type": "kicked", "reason": "x"}
    items = [{"conn": "a", "frame": kicked, "close": 4409}, {"conn": "b", "frame": kicked}]

    assert unpack_items(pack_batch(items)) == items


@pytest.mark.parametrize(
    "data",
    [
        {"frames": [], "items": [{"conn": "c", "ref": 0}]},
        {"frames": [{"type": "a"}], "items": [{"conn": "c", "ref": -1}]},
        {"frames": [{"type": "a"}], "items": [{"conn": "c", "ref": True}]},
        {"frames": [{"type": "a"}], "items": [{"conn": "c", "ref": "0"}]},
        {"frames": "x", "items": []},
        {"items": "x"},
    ],
)
def test_bad_batches_are_refused(data):
    with pytest.raises(ValueError):
        unpack_items(data)
