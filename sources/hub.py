"""Artifacts through the Hugging Face Hub: publish a directory to a dataset repo, fetch a pinned revision back.

Artifacts are produced on a CUDA box and replayed elsewhere (CI). The Hub is the transport: ``publish``
uploads a folder of artifacts with ``HfApi.upload_folder`` (one commit), ``fetch`` downloads a revision
into the ordinary Hugging Face cache with ``snapshot_download`` and then reads every artifact with
:func:`parity_format.artifact.read_artifact`, which verifies each member's sha256 against the manifest.
The fetched files are plain cache files: they replay like local ones.

The consumer names a fetched revision as ``hf://datasets/<org>/<name>@<revision>[/<subdir>]``
(:func:`parse_hub_url`). Offline (``HF_HUB_OFFLINE=1``) only the cache is read, and anything missing
names the ``make fetch`` command that brings it.

numpy-only at import (``huggingface_hub`` is imported lazily): this module runs in both environments.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from parity_format.artifact import read_artifact
from parity_format.errors import ArtifactError
from parity_format.naming import artifact_filename
from parity_format.safe_text import safe_lines, safe_text
from sources.checkpoint import hub_offline
from sources.hub_refs import HubReferenceError, check_repo_id, check_revision, check_subdir, checked_folder

SCHEME = "hf://datasets/"
REPO_TYPE = "dataset"
ARTIFACT_PATTERN = "*.npz"  # fnmatch: '*' also crosses '/', so this matches every sub-folder
_COMMIT = re.compile(r"[0-9a-f]{40}")


class HubError(RuntimeError):
    """A publish or fetch that cannot complete; the message says what to run or set."""


@dataclass(frozen=True)
class HubLocation:
    """A folder of artifacts at one revision of a Hub dataset repo."""

    repo_id: str
    revision: str
    subdir: str = ""

    @property
    def url(self) -> str:
        tail = f"/{self.subdir}" if self.subdir else ""
        return f"{SCHEME}{self.repo_id}@{quote(self.revision, safe='')}{tail}"

    def fetch_command(self, tags: list[str] | None = None) -> str:
        """The command that brings this location into the cache, for error messages."""
        parts = [f"make fetch REPO={self.repo_id} REVISION={self.revision}"]
        if tags:
            parts.append(f"TAGS={','.join(tags)}")
        if self.subdir:
            parts.append(f"SUBDIR={self.subdir}")
        return " ".join(parts)


def is_hub_url(text: str) -> bool:
    return text.startswith("hf://")


def parse_hub_url(text: str) -> HubLocation:
    """``hf://datasets/<org>/<name>@<revision>[/<subdir>]``; a revision holding '/' is percent-encoded."""
    shown = safe_text(text)
    if not text.startswith(SCHEME):
        raise HubError(f"{shown!r}: expected hf://datasets/<org>/<name>@<revision>[/<subdir>] (a dataset repo)")
    repo_id, at, rest = text[len(SCHEME) :].partition("@")
    if not at:
        raise HubError(f"{shown!r}: no @<revision>; pin a commit, e.g. {SCHEME}{safe_text(repo_id)}@<40-hex commit>")
    revision, _, subdir = rest.partition("/")
    revision = unquote(revision)
    if not revision:
        raise HubError(f"{shown!r}: expected hf://datasets/<org>/<name>@<revision>[/<subdir>]")
    return hub_location(repo_id, revision, subdir.rstrip("/"), shown)


def hub_location(repo_id: str, revision: str, subdir: str = "", where: str | None = None) -> HubLocation:
    """A HubLocation whose parts are proven to stay inside the snapshot they name (sources.hub_refs)."""
    try:
        return HubLocation(check_repo_id(repo_id), check_revision(revision), check_subdir(subdir))
    except HubReferenceError as exc:
        prefix = f"{where!r}: " if where else ""
        raise HubError(f"{prefix}{exc}; expected hf://datasets/<org>/<name>@<revision>[/<subdir>]") from exc


def _cache_dir() -> str | None:
    """Read at call time: huggingface_hub reads HF_HUB_CACHE once, at its own import."""
    return os.environ.get("HF_HUB_CACHE") or None


def patterns_for(location: HubLocation, tags: list[str] | None) -> list[str]:
    prefix = f"{location.subdir}/" if location.subdir else ""
    if not tags:
        return [f"{prefix}{ARTIFACT_PATTERN}"]
    return [f"{prefix}*{artifact_filename(tag)}" for tag in tags]


def download(location: HubLocation, tags: list[str] | None = None, *, offline: bool | None = None) -> Path:
    """The local folder holding ``location`` (downloading what is missing unless offline); no verification."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = hub_offline() if offline is None else offline
    try:
        snapshot = Path(
            snapshot_download(
                location.repo_id,
                repo_type=REPO_TYPE,
                revision=location.revision,
                allow_patterns=patterns_for(location, tags),
                cache_dir=_cache_dir(),
                local_files_only=offline,
            )
        )
    except LocalEntryNotFoundError as exc:
        where = "offline (HF_HUB_OFFLINE=1): only the local cache was searched" if offline else "download failed"
        raise HubError(
            f"{location.url} is not in the Hugging Face cache ({where}); fetch it with `{location.fetch_command(tags)}`"
        ) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise HubError(safe_text(f"{location.url}: {type(exc).__name__}: {exc}")) from exc
    try:
        folder = checked_folder(snapshot, location.subdir, location.repo_id)
    except HubReferenceError as exc:
        raise HubError(f"{location.url}: {exc}") from exc
    missing = [t for t in tags or [] if not any(folder.rglob(artifact_filename(t)))]
    if not folder.is_dir() or missing or not any(folder.rglob(ARTIFACT_PATTERN)):
        what = f"no artifact for tag(s) {', '.join(missing)}" if missing else "no artifacts"
        hint = f"fetch it with `{location.fetch_command(tags)}`" if offline else "check the repo, revision and subdir"
        raise HubError(f"{location.url}: {what} in {folder} (commit {snapshot.name}); {hint}")
    return folder


def verify_folder(folder: Path) -> list[Path]:
    """Read every artifact below ``folder`` (checksums verified); raise HubError listing every bad one."""
    paths = sorted(folder.rglob(ARTIFACT_PATTERN))
    problems = []
    for path in paths:
        try:
            read_artifact(path)
        except ArtifactError as exc:
            problems.append(str(exc))
    if problems:
        raise HubError(f"{len(problems)} of {len(paths)} artifact(s) failed verification:\n  " + "\n  ".join(problems))
    return paths


def fetch(location: HubLocation, tags: list[str] | None = None, *, offline: bool | None = None) -> Path:
    """Download (or find in the cache) and verify; return the folder the consumer points at."""
    folder = download(location, tags, offline=offline)
    verify_folder(folder)
    return folder


def publish(
    artifacts: Path,
    repo_id: str,
    revision: str | None = None,
    *,
    path_in_repo: str | None = None,
    private: bool = False,
    message: str | None = None,
    api: Any = None,
) -> str:
    """Verify every artifact below ``artifacts``, then upload them in one commit; return the commit id.

    The commit also removes artifacts of an earlier publish that this folder no longer has (under
    ``path_in_repo``), so a revision never mixes two runs. Verifying first means a corrupt file is never
    published. The dataset repo (and the ``revision`` branch) are created if missing. Credentials are
    huggingface_hub's own (``HF_TOKEN`` or ``hf auth login``).
    """
    hub_location(repo_id, revision or "main", path_in_repo or "")  # the same rules as a fetch, before any work
    if not artifacts.is_dir():
        raise HubError(f"{safe_text(artifacts)} is not a directory of artifacts")
    paths = verify_folder(artifacts)
    if not paths:
        raise HubError(f"no artifacts (*.npz) below {safe_text(artifacts)}: run `make produce` first")
    try:
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi()
        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, repo_type=REPO_TYPE, branch=revision, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(artifacts),
            repo_id=repo_id,
            repo_type=REPO_TYPE,
            revision=revision,
            path_in_repo=path_in_repo,
            allow_patterns=[ARTIFACT_PATTERN],
            delete_patterns=[ARTIFACT_PATTERN],  # the revision then holds exactly this folder's artifacts
            commit_message=message or f"groot-parity: {len(paths)} artifact(s) from {artifacts.name}",
        )
    except Exception as exc:  # no network, no credentials, a refused repo id: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise HubError(safe_text(f"publishing to {repo_id} failed: {type(exc).__name__}: {first}")) from exc
    return str(getattr(info, "oid", "") or "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sources.hub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="upload a directory of artifacts to a Hub dataset repo (one commit)")
    pub.add_argument("artifacts", type=Path, help="directory of artifacts (searched recursively for *.npz)")
    pub.add_argument("--repo", required=True, help="dataset repo id, <org>/<name>")
    pub.add_argument("--revision", default=None, help="branch to commit to (created if missing; default main)")
    pub.add_argument("--path-in-repo", default=None, help="folder inside the repo (default: its root)")
    pub.add_argument("--private", action="store_true", help="create the repo private")
    fet = sub.add_parser("fetch", help="download a pinned revision into the HF cache and verify every checksum")
    fet.add_argument("--repo", required=True, help="dataset repo id, <org>/<name>")
    fet.add_argument("--revision", required=True, help="commit id (pinned), or a branch/tag name")
    fet.add_argument("--subdir", default="", help="folder inside the repo (default: its root)")
    fet.add_argument("--tags", default="", help="only these embodiment tags (comma-separated; default: all)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "publish":
            commit = publish(
                args.artifacts, args.repo, args.revision, path_in_repo=args.path_in_repo, private=args.private
            )
            where = HubLocation(args.repo, commit or args.revision or "main", args.path_in_repo or "")
            print(f"published {args.artifacts} to {args.repo} at commit {commit or '?'}")
            print(f"fetch:   {where.fetch_command()}")
            print(f"consume: GROOT_N1_7_PARITY_DIR={where.url}")
            return 0
        location = hub_location(args.repo, args.revision, args.subdir)
        tags = [t.strip() for t in args.tags.split(",") if t.strip()]
        folder = fetch(location, tags or None)
    except HubError as exc:
        print(f"{build_parser().prog}: error: {safe_lines(str(exc))}", file=sys.stderr)
        return 2
    count = len(list(folder.rglob(ARTIFACT_PATTERN)))
    commit = next((p.name for p in (folder, *folder.parents) if p.parent.name == "snapshots"), "?")
    if not _COMMIT.fullmatch(location.revision):
        print(f"note: revision {location.revision!r} is a name, not a commit; it resolved to {commit}")
    print(f"fetched and verified {count} artifact(s) of {location.repo_id}@{commit} into {folder}")
    print(f"consume: GROOT_N1_7_PARITY_DIR={HubLocation(location.repo_id, commit, location.subdir).url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
