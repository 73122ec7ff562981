"""Artifacts through the Hub: fetch from a Hugging Face cache laid out by hand (offline), verify, publish."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_format.artifact import Artifact, read_artifact, write_artifact
from parity_format.naming import artifact_filename
from sources.hub import HubError, HubLocation, fetch, main, parse_hub_url, publish

REPO_ID = "acme/groot-parity-artifacts"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(cache: Path, files: dict[str, Path], *, ref: str = "v1", commit: str = COMMIT) -> Path:
    """The layout huggingface_hub keeps: datasets--<org>--<name>/{refs/<ref>, snapshots/<commit>/...}."""
    storage = cache / f"datasets--{REPO_ID.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / ref).write_text(commit)
    snapshot = storage / "snapshots" / commit
    for relative, source in files.items():
        (snapshot / relative).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / relative).write_bytes(source.read_bytes())
    return snapshot


def tamper(path: Path, member: str = "action_pred.npy") -> None:
    """Change one member's bytes, keep the manifest: what a corrupted transfer looks like."""
    with zipfile.ZipFile(path) as zf:
        contents = {info.filename: zf.read(info) for info in zf.infolist()}
    array = np.load(io.BytesIO(contents[member])).copy()
    array.reshape(-1).view(np.uint8)[-1] ^= 1  # one bit of the last element
    buffer = io.BytesIO()
    np.save(buffer, array)
    contents[member] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in contents.items():
            zf.writestr(name, data)


@pytest.fixture
def artifacts(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> Path:
    folder = tmp_path / "produced"
    for size in ("64x64", "48x80"):
        for tag in ("libero_sim", "new_embodiment"):
            write_artifact(make_artifact(tag=tag), folder / size / artifact_filename(tag))
    return folder


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def published(artifacts: Path) -> dict[str, Path]:
    return {p.relative_to(artifacts).as_posix(): p for p in sorted(artifacts.rglob("*.npz"))}


def test_fetch_from_the_cache_verifies_and_the_files_replay_like_local_ones(
    artifacts: Path, offline_cache: Path
) -> None:
    snapshot = hub_cache(offline_cache, published(artifacts))
    for revision in ("v1", COMMIT):
        folder = fetch(parse_hub_url(f"hf://datasets/{REPO_ID}@{revision}"))
        assert folder == snapshot
        for relative, source in published(artifacts).items():
            fetched, local = read_artifact(folder / relative), read_artifact(source)
            assert fetched.embodiment_tag == local.embodiment_tag
            assert np.array_equal(fetched.action_pred, local.action_pred, equal_nan=True)
    sub = fetch(parse_hub_url(f"hf://datasets/{REPO_ID}@v1/48x80"), ["new_embodiment"])
    assert sub == snapshot / "48x80"


def test_fetch_cli_prints_the_pinned_consumer_spelling(
    artifacts: Path, offline_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_cache(offline_cache, published(artifacts))
    assert main(["fetch", "--repo", REPO_ID, "--revision", "v1", "--tags", "libero_sim"]) == 0
    out = capsys.readouterr().out
    assert "fetched and verified 4 artifact(s)" in out  # the snapshot holds 4; all are verified
    assert f"is a name, not a commit; it resolved to {COMMIT}" in out
    assert f"GROOT_N1_7_PARITY_DIR=hf://datasets/{REPO_ID}@{COMMIT}" in out


def test_a_member_changed_in_transit_fails_verification(artifacts: Path, offline_cache: Path) -> None:
    snapshot = hub_cache(offline_cache, published(artifacts))
    tamper(snapshot / "64x64" / artifact_filename("libero_sim"))
    with pytest.raises(HubError) as info:
        fetch(parse_hub_url(f"hf://datasets/{REPO_ID}@v1"))
    message = str(info.value)
    assert "1 of 4 artifact(s) failed verification" in message
    assert "checksum mismatch" in message and "action_pred" in message and "64x64" in message


def test_offline_missing_revision_or_tag_names_the_fetch_command(artifacts: Path, offline_cache: Path) -> None:
    hub_cache(offline_cache, published(artifacts))
    with pytest.raises(HubError) as info:
        fetch(parse_hub_url(f"hf://datasets/{REPO_ID}@v2"))
    assert "HF_HUB_OFFLINE=1" in str(info.value)
    assert f"make fetch REPO={REPO_ID} REVISION=v2" in str(info.value)
    with pytest.raises(HubError) as info:
        fetch(parse_hub_url(f"hf://datasets/{REPO_ID}@v1"), ["robocasa_panda_omron"])
    assert "no artifact for tag(s) robocasa_panda_omron" in str(info.value)
    assert f"make fetch REPO={REPO_ID} REVISION=v1 TAGS=robocasa_panda_omron" in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"hf://datasets/{REPO_ID}@{COMMIT}", HubLocation(REPO_ID, COMMIT)),
        (f"hf://datasets/{REPO_ID}@v1/libero_10/256x256", HubLocation(REPO_ID, "v1", "libero_10/256x256")),
        (f"hf://datasets/{REPO_ID}@refs%2Fpr%2F3/", HubLocation(REPO_ID, "refs/pr/3")),
    ],
)
def test_parse_hub_url(url: str, expected: HubLocation) -> None:
    assert parse_hub_url(url) == expected
    assert parse_hub_url(expected.url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        (f"hf://datasets/{REPO_ID}", "no @<revision>"),
        (f"hf://models/{REPO_ID}@v1", "a dataset repo"),
        ("hf://datasets/no-org@v1", "expected hf://datasets/"),
        (f"hf://datasets/{REPO_ID}@/sub", "expected hf://datasets/"),
    ],
)
def test_malformed_hub_url_is_one_clear_error(url: str, complaint: str) -> None:
    with pytest.raises(HubError, match=re.escape(complaint)):
        parse_hub_url(url)


class RecordingApi:
    """Stands in for HfApi (no Hub is reachable here): records the calls publish makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> None:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def create_branch(self, repo_id: str, **kwargs: Any) -> None:
        self.calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs: Any) -> Any:
        self.calls.append(("upload_folder", kwargs))
        return type("CommitInfo", (), {"oid": COMMIT})()


def test_publish_uploads_verified_artifacts_to_a_dataset_repo(artifacts: Path) -> None:
    api = RecordingApi()
    assert publish(artifacts, REPO_ID, "parity-v1", api=api) == COMMIT
    names = [name for name, _ in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    upload = api.calls[-1][1]
    assert upload["repo_type"] == "dataset" and upload["revision"] == "parity-v1"
    assert upload["folder_path"] == str(artifacts) and upload["allow_patterns"] == ["*.npz"]
    assert upload["delete_patterns"] == ["*.npz"]  # a re-publish never leaves artifacts of an older run


def test_publish_refuses_a_corrupt_or_empty_folder_before_uploading(artifacts: Path, tmp_path: Path) -> None:
    tamper(artifacts / "48x80" / artifact_filename("new_embodiment"))
    api = RecordingApi()
    with pytest.raises(HubError, match="checksum mismatch"):
        publish(artifacts, REPO_ID, api=api)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HubError, match=r"no artifacts \(\*\.npz\)"):
        publish(tmp_path / "empty", REPO_ID, api=api)
    assert api.calls == []
