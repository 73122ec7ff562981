"""One producer per output folder: a lock file that a second producer on the same --out-dir finds and refuses.

WHY (issue 25): two producers writing the same --out-dir both reported success; every file was valid
(writes are atomic), but one run's work was silently replaced by the other's. The lock is an advisory
``flock`` on ``<out-dir>/.groot-parity-produce.lock``: the kernel releases it when its process ends, however
it ends, so a crashed run never leaves a stale lock. The file records who holds it, for the refusal.
Linux and macOS (``fcntl``); the producer env is Linux.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".groot-parity-produce.lock"


class OutDirBusy(RuntimeError):
    """Another producer holds the output folder; the message names it."""


@contextlib.contextmanager
def out_dir_lock(out_dir: Path) -> Iterator[Path]:
    """Hold ``out_dir``'s producer lock for the block; raise OutDirBusy at once if another process holds it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutDirBusy(
                f"--out-dir {out_dir}: another groot-parity-produce is writing there ({_holder(path)}); "
                "wait for it to finish or choose another --out-dir"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_utc": time.strftime("%FT%TZ", time.gmtime()),
        }
        holder["argv"] = " ".join(sys.argv)[:300]
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock; the file stays (removing it would race with a waiting producer)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {info.get('started_utc', '?')}"
