"""Embedded data dirs made by an earlier build keep working after an upgrade.

Migrations are versioned per component: a shipped step never changes, new columns arrive as
new steps. Each test writes a database exactly as the first release (commit 96ba9a7) left it,
then opens it with today's adapters.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from imfaas.shared.adapter_factory import open_ports
from imfaas.shared.message import MessageDraft
from imfaas.shared.testing import make_settings

WEEK_MS = 7 * 24 * 3600 * 1000
T0 = 1_700_000_000_000
CONV = "d:alice:bob"

# The "messages" component's migration 1 as released in 96ba9a7.
MESSAGES_V1 = """
CREATE TABLE messages (
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    msg_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_device TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    content TEXT,
    recalled INTEGER NOT NULL DEFAULT 0,
    edited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;
CREATE TABLE conversation_heads (
    conversation TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE message_dedup (
    sender TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (sender, client_msg_id)
) WITHOUT ROWID;
"""


def write_first_release_database(path: Path) -> None:
    """A data dir holding one message (alice's "c1" at seq 1) stored by the first release."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(
            "CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,"
            " PRIMARY KEY (component, version));"
            + MESSAGES_V1
            + "INSERT INTO schema_migrations VALUES ('messages', 1);"
            "INSERT INTO messages VALUES ('d:alice:bob', 1, 'd:alice:bob#1', 'alice', 'd1', 'c1',"
            f' {T0}, \'{{"kind":"text","text":"old"}}\', 0, 0);'
            "INSERT INTO conversation_heads VALUES ('d:alice:bob', 1);"
            f"INSERT INTO message_dedup VALUES ('alice', 'c1', 'd:alice:bob', 1, {T0 + WEEK_MS});"
        )
        conn.commit()
    finally:
        conn.close()


def draft(client_msg_id: str) -> MessageDraft:
    return MessageDraft(CONV, "alice", "d1", client_msg_id, {"kind": "text", "text": "new"}, T0 + 1)


async def test_message_log_keeps_working_on_a_first_release_database(tmp_path):
    settings = make_settings(tmp_path)
    write_first_release_database(settings.data_dir / "imfaas.sqlite3")

    ports = await open_ports(settings, ["messages"])
    try:
        old = await ports.messages.read_after(CONV, 0, 10)
        resend = await ports.messages.append(draft("c1"), WEEK_MS)
        fresh = await ports.messages.append(draft("c2"), WEEK_MS)
    finally:
        await ports.close()

    assert [(m.seq, m.content) for m in old] == [(1, {"kind": "text", "text": "old"})]
    assert resend.duplicate is True and resend.message.seq == 1
    assert fresh.duplicate is False and fresh.message.seq == 2
