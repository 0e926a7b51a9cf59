"""The group function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Member limit, name size and page sizes."""

    member_limit: int
    name_max_bytes: int
    members_default_limit: int
    members_max_limit: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GroupConfig:
        """Pick this function's values."""
        return cls(
            member_limit=settings.group_member_limit,
            name_max_bytes=settings.group_name_max_bytes,
            members_default_limit=settings.group_members_default_limit,
            members_max_limit=settings.group_members_max_limit,
        )
