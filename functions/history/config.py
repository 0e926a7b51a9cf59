"""The history function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """Page sizes, the recall window and the content limit of edits."""

    sync_default_limit: int
    sync_max_limit: int
    history_default_limit: int
    history_max_limit: int
    conv_list_max: int
    recall_window_ms: int
    max_text_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HistoryConfig:
        """Pick this function's values."""
        return cls(
            sync_default_limit=settings.sync_default_limit,
            sync_max_limit=settings.sync_max_limit,
            history_default_limit=settings.history_default_limit,
            history_max_limit=settings.history_max_limit,
            conv_list_max=settings.conv_list_max,
            recall_window_ms=int(settings.recall_window_s * 1000),
            max_text_bytes=settings.max_text_bytes,
        )
