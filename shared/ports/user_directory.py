"""Users and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A registered user."""

    user_id: str
    username: str
    password_hash: str
    created_ms: int


class UserDirectory(Protocol):
    """Durable users. Usernames are unique; user ids never change."""

    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; raise ``Conflict`` if the username is taken. Atomic."""

    async def get_by_username(self, username: str) -> UserRecord | None:
        """The user with this username, or None."""

    async def existing_users(self, user_ids: list[str]) -> set[str]:
        """The subset of ``user_ids`` that exist."""
