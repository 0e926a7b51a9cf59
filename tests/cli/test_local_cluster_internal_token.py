"""``imfaas up`` runs its gateways and fanout with one internal token, fresh for each run."""

from __future__ import annotations

from pathlib import Path

import pytest

from imfaas.local_cluster import plan_cluster


def tokens(tmp_path: Path) -> dict[str, str]:
    return {
        child.name: child.env.get("IMFAAS_INTERNAL_TOKEN", "")
        for child in plan_cluster("127.0.0.1", 18000, 2, tmp_path)
    }


def test_every_process_gets_the_same_generated_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMFAAS_INTERNAL_TOKEN", raising=False)
    run = tokens(tmp_path)

    assert {"gateway-1", "gateway-2", "fanout"} <= set(run)
    assert len(set(run.values())) == 1
    token = run["fanout"]
    assert len(token) >= 32
    assert set(tokens(tmp_path).values()) != {token}  # the next run gets another


def test_a_token_chosen_by_the_caller_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMFAAS_INTERNAL_TOKEN", "chosen-token")

    assert set(tokens(tmp_path).values()) == {"chosen-token"}
