"""Resource caps for reading untrusted files: checked against what a file DECLARES, before decompressing.

WHY these defaults: a real full-size artifact of the 3B N1.7 (two 256x256 cameras at B=2, backbone and
action-head stages of shape (B, ~300, 2048) in fp32, ~5 MB each) holds a few hundred MB in all. The
caps are a few times that (1 GiB per file, 512 MiB per member), and low enough that everything a reader
holds at once, the whole artifact decoded, stays under 2 GB of memory whatever a file claims.
WHY a ratio cap: real tensors compress by at most a few times (fp32 activations ~1.1x, images a few x);
zeros compress ~1000x (deflate) to millions x (bzip2), which is how a 3 MB file claims gigabytes.
Small members (mostly-zero masks) may compress far better, so the ratio is checked only from
``RATIO_CHECK_MIN_BYTES`` on, per member and for the whole file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ENV_MAX_ARTIFACT_BYTES = "GROOT_PARITY_MAX_ARTIFACT_BYTES"
ENV_MAX_MEMBER_BYTES = "GROOT_PARITY_MAX_MEMBER_BYTES"
ENV_MAX_COMPRESSION_RATIO = "GROOT_PARITY_MAX_COMPRESSION_RATIO"
DEFAULT_MAX_ARTIFACT_BYTES = 1 << 30  # 1 GiB
DEFAULT_MAX_MEMBER_BYTES = 1 << 29  # 512 MiB
DEFAULT_MAX_COMPRESSION_RATIO = 100.0
RATIO_CHECK_MIN_BYTES = 64 << 20  # 64 MiB: below this, any ratio is allowed

KNOBS: dict[str, str] = {
    ENV_MAX_ARTIFACT_BYTES: (
        f"Largest artifact (or JSON report) a reader accepts, in bytes: the file's size and the sum of its members' "
        f"declared uncompressed sizes, checked before decompressing (default {DEFAULT_MAX_ARTIFACT_BYTES}, 1 GiB, "
        "a few times a real 3B artifact)."
    ),
    ENV_MAX_MEMBER_BYTES: (
        f"Largest declared uncompressed size of one artifact member, in bytes (default {DEFAULT_MAX_MEMBER_BYTES}, "
        "512 MiB)."
    ),
    ENV_MAX_COMPRESSION_RATIO: (
        f"Largest uncompressed/compressed ratio accepted for a member, and for a whole artifact, once it declares "
        f"more than {RATIO_CHECK_MIN_BYTES >> 20} MiB (default {DEFAULT_MAX_COMPRESSION_RATIO:g}; zip bombs "
        "reach 1000 and more)."
    ),
}


class LimitsConfigError(ValueError):
    """A limit knob is malformed."""


@dataclass(frozen=True)
class ResourceLimits:
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO


def limits_from_env(environ: Mapping[str, str] | None = None) -> ResourceLimits:
    """The caps from the environment; a malformed value raises LimitsConfigError naming the knob."""
    env = os.environ if environ is None else environ

    def number(name: str, default: float, kind: type) -> float:
        text = env.get(name, "").strip()
        if not text:
            return default
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or value == float("inf"):
            raise LimitsConfigError(f"{name}={text!r}: expected a positive {'integer' if kind is int else 'number'}")
        return value

    return ResourceLimits(
        int(number(ENV_MAX_ARTIFACT_BYTES, DEFAULT_MAX_ARTIFACT_BYTES, int)),
        int(number(ENV_MAX_MEMBER_BYTES, DEFAULT_MAX_MEMBER_BYTES, int)),
        float(number(ENV_MAX_COMPRESSION_RATIO, DEFAULT_MAX_COMPRESSION_RATIO, float)),
    )


class NotARegularFile(OSError):
    """The path names a FIFO, device, directory or socket (possibly through a symlink)."""


def open_regular_file(path: Path, max_bytes: int) -> BinaryIO:
    """Open ``path`` for binary reading only if it is a regular file of at most ``max_bytes``.

    WHY open-then-fstat: checking first and opening after races with a swapped file; O_NONBLOCK keeps
    open() on a FIFO from blocking until a writer appears. Raises OSError (NotARegularFile, or with
    errno set) with a one-line reason.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"{path}: not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise NotARegularFile(
                f"{path}: file is {info.st_size} bytes, over the {max_bytes}-byte cap ({ENV_MAX_ARTIFACT_BYTES})"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` (read at most ``max_bytes + 1``)."""
    with open_regular_file(path, max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after fstat
        raise NotARegularFile(f"{path}: file grew over the {max_bytes}-byte cap ({ENV_MAX_ARTIFACT_BYTES})")
    return data


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"
