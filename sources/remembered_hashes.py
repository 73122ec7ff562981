"""Checkpoint hashes remembered by file identity: each process of a round stops re-reading the weights (issue 26).

WHY: the producer, the episode producer and the consumer each fingerprint the checkpoint they run
(``sources.checkpoint``: a sha256 over every file, and one per safetensors tensor), two full reads of the
weights per process: at full size 7.45 GB twice, 8-35 s each on this machine. A hash is remembered next to
the full-size checkpoint cache (``GROOT_PARITY_CACHE``, default ``~/.cache/groot-parity/hashes/``) under the
identity of the files it covers: device, inode, size, modification and change times (nanoseconds), as git's
index and make trust them. Writing a file changes its times, replacing it changes its inode, and the change
time cannot be set back by a user, so a remembered hash is only reused for the very bytes it was computed
from. A hash whose files changed while it was computed is not remembered. An unreadable or unwritable cache
costs nothing but the recomputation.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ENV_CACHE = "GROOT_PARITY_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "groot-parity"
SCHEME = 1  # bump when what a kind computes changes

T = TypeVar("T")


def cache_root() -> Path:
    """Where the harness caches what it builds or computes (the full-size checkpoint, these hashes)."""
    return Path(os.environ.get(ENV_CACHE) or DEFAULT_CACHE).expanduser()


def file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def identities(paths: Sequence[Path]) -> list[list[str]]:
    return [[str(p.resolve()), file_identity(p)] for p in paths]


def _entry(kind: str, paths: Sequence[Path]) -> Path:
    name = hashlib.sha256(f"{SCHEME}\0{kind}\0".encode() + "\0".join(str(p.resolve()) for p in paths).encode())
    return cache_root() / "hashes" / f"{name.hexdigest()[:40]}.json"


def remembered(kind: str, paths: Sequence[Path], compute: Callable[[], T]) -> T:
    """``compute()``, a JSON value that depends only on the bytes of ``paths``, or the value it returned
    before for these very files."""
    entry = _entry(kind, paths)
    try:
        before = identities(paths)
    except OSError:
        return compute()  # a file that cannot be stat'ed: compute() raises the error its caller expects
    try:
        stored: dict[str, Any] = json.loads(entry.read_text())
        if stored.get("kind") == kind and stored.get("files") == before:
            return stored["value"]  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    try:
        if identities(paths) == before:  # unchanged while it was read
            entry.parent.mkdir(parents=True, exist_ok=True)
            _write(entry, {"kind": kind, "files": before, "value": value})
    except OSError:
        pass
    return value


def _write(entry: Path, record: dict[str, Any]) -> None:
    """Whole or not at all: concurrent processes each write a temporary file, the last rename wins."""
    descriptor, name = tempfile.mkstemp(dir=entry.parent, prefix=entry.stem, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(record, handle)
        os.replace(name, entry)
    finally:
        Path(name).unlink(missing_ok=True)
