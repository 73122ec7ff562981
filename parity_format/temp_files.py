"""Temporary files of atomic writes: named after the writer's process, removed once that process is gone.

WHY the pid in the name: ``kill -9`` during a write leaves ``.<name>.<pid>-<random>.tmp`` behind (the
target file stays valid: it is only ever replaced by a complete file). The next write to the same
folder removes such leftovers whose writer no longer runs, and never touches a live writer's file.
Readers never see them: artifact discovery only matches ``original_n1_7_<tag>.npz``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")


def make_temp_file(target: Path) -> tuple[int, str]:
    """(fd, path) of a new hidden temp file beside ``target``, named after this process."""
    return tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # exists but belongs to someone else (or an absurd pid: treat as not ours to judge)
    return True


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove leftovers of killed writers in ``folder``; returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP_NAME.match(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match["pid"])
            if pid == os.getpid() or _process_alive(pid):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed
