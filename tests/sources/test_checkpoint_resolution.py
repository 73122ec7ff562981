"""Checkpoint references resolve the same way in both environments, including through a Hub cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sources.checkpoint import (
    CheckpointError,
    CheckpointRef,
    backbone_workdir,
    checkpoint_fingerprint,
    resolve_checkpoint,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(root: Path, repo: str = "nvidia/GR00T-N1.7-LIBERO") -> Path:
    """The on-disk layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/...}."""
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / REVISION / "libero_10"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "Gr00tN1d7"}))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(REVISION)
    return snapshot


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_local_directory_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    resolved = resolve_checkpoint(CheckpointRef("ck"))
    assert resolved.is_absolute() and resolved == (tmp_path / "ck").resolve()


def test_hub_repo_with_subfolder_resolves_from_local_cache(offline_cache: Path) -> None:
    expected = hub_cache(offline_cache)
    ref = CheckpointRef("nvidia/GR00T-N1.7-LIBERO", subfolder="libero_10")
    assert resolve_checkpoint(ref, offline=True) == expected


def test_hub_repo_missing_from_cache_says_offline_and_how_to_fetch(offline_cache: Path) -> None:
    with pytest.raises(CheckpointError, match=r"offline \(HF_HUB_OFFLINE=1\).*hf download nvidia/other"):
        resolve_checkpoint(CheckpointRef("nvidia/other", subfolder="x"), offline=True)


def test_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        resolve_checkpoint(CheckpointRef(str(tmp_path)))


def test_backbone_workdir_only_for_a_backbone_shipped_inside(tmp_path: Path) -> None:
    ckpt = tmp_path / "ck"
    (ckpt / "nvidia" / "Cosmos-Reason2-tiny").mkdir(parents=True)
    (ckpt / "config.json").write_text(json.dumps({"model_name": "nvidia/Cosmos-Reason2-tiny"}))
    before = os.getcwd()
    with backbone_workdir(ckpt):
        assert Path.cwd() == ckpt.resolve()
    assert os.getcwd() == before
    (ckpt / "config.json").write_text(json.dumps({"model_name": "nvidia/Cosmos-Reason2-2B"}))
    with backbone_workdir(ckpt):
        assert os.getcwd() == before


def test_fingerprint_changes_with_any_byte(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    first = checkpoint_fingerprint(tmp_path)
    assert first == checkpoint_fingerprint(tmp_path) and len(first) == 64
    (tmp_path / "a.json").write_text("{ }")
    assert checkpoint_fingerprint(tmp_path) != first


def test_fingerprint_of_a_checkpoint_under_a_cache_folder_hashes_its_files(tmp_path: Path) -> None:
    """~/.cache/... checkpoints (the Hub cache) were once hashed as if empty; only a .cache INSIDE is skipped."""
    ckpt = tmp_path / ".cache" / "ckpt"
    ckpt.mkdir(parents=True)
    (ckpt / "a.json").write_text("{}")
    first = checkpoint_fingerprint(ckpt)
    (ckpt / "a.json").write_text("{ }")
    assert checkpoint_fingerprint(ckpt) != first
    before = checkpoint_fingerprint(ckpt)
    (ckpt / ".cache").mkdir()
    (ckpt / ".cache" / "download.lock").write_text("x")
    assert checkpoint_fingerprint(ckpt) == before
