"""Hostile hf:// references (issue 25): every part resolves strictly inside the snapshot it names.

Each case used to read a folder or file outside the Hub cache's snapshot and PASS (or print "fetched and
verified"), attributed to the revision; now each is one line naming the part and the rule, before any read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from parity_format.artifact import Artifact, write_artifact
from parity_format.naming import artifact_filename
from sources.hub import HubError, download, main, parse_hub_url, publish
from sources.hub_refs import HubReferenceError, checked_folder

REPO_ID = "acme/arts"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache_and_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_artifact: Callable[..., Artifact]) -> Path:
    """An offline cache holding one good snapshot, and a valid artifact folder OUTSIDE the cache."""
    cache = tmp_path / "cache"
    storage = cache / "datasets--acme--arts"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    write_artifact(make_artifact(), storage / "snapshots" / COMMIT / artifact_filename("libero_sim"))
    write_artifact(make_artifact(), tmp_path / "outside" / artifact_filename("libero_sim"))
    (tmp_path / "evilref").write_text("../../../../outside")  # what a traversing revision would read as a ref
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return storage


@pytest.mark.parametrize(
    ("url", "part"),
    [
        (f"hf://datasets/{REPO_ID}@main/../../../../outside", "subdir"),
        (f"hf://datasets/{REPO_ID}@main/sub/../../../outside", "subdir"),
        (f"hf://datasets/{REPO_ID}@main/./x", "subdir"),
        (f"hf://datasets/{REPO_ID}@main/a//b", "subdir"),
        (f"hf://datasets/{REPO_ID}@..%2F..%2F..%2Fevilref", "revision"),
        (f"hf://datasets/{REPO_ID}@%2Fetc%2Fpasswd", "revision"),
        (f"hf://datasets/{REPO_ID}@main%5C..%5Cx", "revision"),
        (f"hf://datasets/{REPO_ID}@%2E%2E", "revision"),
        (f"hf://datasets/{REPO_ID}@ma\x1b[2Kin", "revision"),
        ("hf://datasets/acme/../arts@main", "repo id"),
    ],
)
def test_a_reference_that_leaves_the_snapshot_is_refused_before_any_read(
    cache_and_outside: Path, url: str, part: str
) -> None:
    with pytest.raises(HubError) as info:
        download(parse_hub_url(url))
    message = str(info.value)
    assert part in message and "\n" not in message and "\x1b" not in message, message


@pytest.mark.parametrize(
    "argv",
    [
        ["--revision", "../../../evilref"],
        ["--revision", "main", "--subdir", "../../../../outside"],
        ["--revision", "main", "--subdir", "/etc"],
        ["--revision", "main\n", "--subdir", ""],
    ],
)
def test_fetch_command_never_reports_files_outside_the_snapshot_as_verified(
    cache_and_outside: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "--repo", REPO_ID, *argv]) == 2
    out, err = capsys.readouterr()
    assert "fetched and verified" not in out and err.count("\n") == 1, err
    assert "expected" in err and ("revision" in err or "subdir" in err)


def test_a_tampered_ref_or_symlinked_subdir_in_the_cache_is_refused(cache_and_outside: Path, tmp_path: Path) -> None:
    snapshot = cache_and_outside / "snapshots" / COMMIT
    (snapshot / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(HubError, match="resolves outside the snapshot"):
        download(parse_hub_url(f"hf://datasets/{REPO_ID}@main/sub"))
    with pytest.raises(HubReferenceError, match="is not a snapshot of acme/arts"):  # what a forged ref would name
        checked_folder(tmp_path / "outside", "", REPO_ID)
    assert download(parse_hub_url(f"hf://datasets/{REPO_ID}@{COMMIT}")) == snapshot  # the good one still reads


class RefusingApi:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def create_repo(self, *args: object, **kwargs: object) -> None:
        raise self.exc


def test_publish_errors_are_one_line(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    write_artifact(make_artifact(), tmp_path / "arts" / artifact_filename("libero_sim"))
    with pytest.raises(HubError, match="repo id 'not a repo'"):
        publish(tmp_path / "arts", "not a repo", api=RefusingApi(AssertionError("must not be called")))
    with pytest.raises(HubError) as info:
        publish(tmp_path / "arts", REPO_ID, api=RefusingApi(ConnectionError("Max retries exceeded\nwith url: /x")))
    assert str(info.value) == f"publishing to {REPO_ID} failed: ConnectionError: Max retries exceeded"


def test_publish_without_network_is_one_line_from_the_command(
    tmp_path: Path, make_artifact: Callable[..., Artifact]
) -> None:
    write_artifact(make_artifact(), tmp_path / "arts" / artifact_filename("libero_sim"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "HF_TOKEN": "hf_invalid"}
    for repo in (REPO_ID, "bad/re\x1bpo"):
        proc = subprocess.run(
            [sys.executable, "-m", "sources.hub", "publish", str(tmp_path / "arts"), "--repo", repo],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.stderr.count("\n") == 1 and "\x1b" not in proc.stderr, proc.stderr
