"""Strict parts of an ``hf://`` reference: a repo id, revision and subdir that can only name a snapshot's inside.

WHY (issue 25): huggingface_hub joins a revision onto ``refs/`` and a subdir onto the snapshot folder as
plain paths. ``@main/../../../outside`` then reads a local folder outside the cache, and a revision
``..%2F..%2Fevilref`` makes it read an arbitrary file as a ref; both replayed and PASSed, attributed to the
revision. So every part is checked before huggingface_hub sees it, and the folder it returns is checked
again after: it must resolve inside ``<cache>/datasets--<org>--<name>/snapshots/<40-hex commit>``.

numpy-free, stdlib only: used by both environments.
"""

from __future__ import annotations

import re
from pathlib import Path

from parity_format.safe_text import safe_text

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
COMMIT = re.compile(r"[0-9a-f]{40}")
# git ref names as the Hub allows them (refs/pr/3, feature/x, v1.2): letters, digits, '.', '_', '-', '/'.
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+=@-]*")  # one folder name of a subdir


class HubReferenceError(ValueError):
    """A repo id, revision or subdir that could name something outside the snapshot it claims."""


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise HubReferenceError(
            f"repo id {safe_text(repo_id)!r}: expected <org>/<name> (letters, digits, '.', '_', '-')"
        )
    return repo_id


def check_revision(revision: str) -> str:
    """A commit, branch or tag name; never a path: no '..', '.', empty or hidden segment, no '%' or '\\'."""
    parts = revision.split("/")
    if not _REF.fullmatch(revision) or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts):
        raise HubReferenceError(
            f"revision {safe_text(revision)!r}: expected a commit id or a branch/tag name (letters, digits, '.', "
            "'_', '-', '/' between names; no '..', no leading '/', no encoded characters)"
        )
    return revision


def check_subdir(subdir: str) -> str:
    """A relative folder inside the snapshot ('' for its root): plain names joined by '/', never '..' or absolute."""
    if not subdir:
        return ""
    parts = subdir.split("/")
    if subdir.startswith("/") or not all(_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise HubReferenceError(
            f"subdir {safe_text(subdir)!r}: expected a relative folder inside the snapshot (names of letters, "
            "digits, '.', '_', '-' joined by '/'; no '..', no absolute path)"
        )
    return subdir


def checked_folder(snapshot: Path, subdir: str, repo_id: str) -> Path:
    """``snapshot/subdir``, after proving both lie where huggingface_hub keeps this repo's snapshots."""
    resolved = snapshot.resolve()
    expected_parent = f"datasets--{repo_id.replace('/', '--')}"
    if not (
        COMMIT.fullmatch(resolved.name)
        and resolved.parent.name == "snapshots"
        and resolved.parent.parent.name == expected_parent
    ):
        raise HubReferenceError(
            f"{safe_text(snapshot)} is not a snapshot of {repo_id} in the Hugging Face cache "
            f"(expected .../{expected_parent}/snapshots/<commit>); refusing to read it"
        )
    folder = (resolved / subdir) if subdir else resolved
    if folder.resolve() != resolved and resolved not in folder.resolve().parents:
        raise HubReferenceError(f"{safe_text(folder)} resolves outside the snapshot {resolved}; refusing to read it")
    return folder
