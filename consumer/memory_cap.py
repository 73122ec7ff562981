"""A memory cap per check: a case that would exhaust the machine fails alone, with a line, instead of the run.

WHY (issue 25): a fault in the port that inflates memory (a wrong stacking axis in image packing) drove one
consume run past 20 GB on a 24 GB machine before it was stopped; the kernel would have killed it with no
report. Each check now runs under a temporary ``RLIMIT_AS`` (Linux): the address space the process uses
when the check starts plus the cap. An allocation beyond it fails at once (numpy ``MemoryError``, torch
"can't allocate memory"), before any page is touched, and the session reports that case as FAIL naming the
cap; the limit is lifted after the check, so the next case runs as usual. Heavy modules are imported
before the first capped check, and a model loads with an allowance sized from its weight files
(:func:`load_allowance`): what a run holds once is not charged to one case.

WHY address space and not resident memory: an RSS watchdog can only act between Python bytecodes, and a
runaway tensor is one C call that allocates and fills 20 GB. Address space is more than memory in use
(thread stacks, malloc arenas, mapped files); docs/hostile-inputs.md gives the measured growth per check.
Not applied when the check runs on CUDA: the CUDA driver reserves terabytes of address space, and GPU
memory has its own, catchable, out-of-memory error.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import resource
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ENV_MEMORY_CAP = "GROOT_PARITY_MEMORY_CAP_GB"
OFF = "off"
GB = 1 << 30
_NUMBER = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_OUT_OF_MEMORY = (
    "memoryerror",
    "can't allocate memory",
    "cannot allocate memory",
    "not enough memory",
    "bad_alloc",
    "out of memory",
)


class MemoryCapError(ValueError):
    """The memory cap knob is malformed."""


def machine_memory() -> int:
    """Physical memory in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_cap() -> int | None:
    """Half the machine's memory (12 GB on a 24 GB machine); None (no cap) where it cannot be known."""
    total = machine_memory()
    return total // 2 if total else None


def memory_cap_from_env(environ: Mapping[str, str]) -> int | None:
    """The cap in bytes, or None when ``off``; malformed values raise MemoryCapError naming the knob."""
    text = environ.get(ENV_MEMORY_CAP, "").strip()
    if not text:
        return default_cap()
    if text.lower() == OFF:
        return None
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not (math.isfinite(value) and value > 0):
        raise MemoryCapError(
            f"{ENV_MEMORY_CAP}={text!r}: expected a number of GB > 0 in ASCII digits (e.g. 8 or 0.5), or {OFF}"
        )
    return int(value * GB)


def address_space_in_use() -> int:
    """The process's virtual memory size (VmSize), in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


_ACTIVE: list[tuple[int, int, int]] = []  # (cap, soft, hard) of the memory_cap blocks in force, innermost last
# Imported once before the first capped check: a shared library mapped under the cap (libtorch_cpu.so alone
# maps GBs of address space) would fail half-way and leave the module unusable for every later case.
HEAVY_MODULES = (
    "torch",
    "lerobot.policies.groot.configuration_groot",
    "lerobot.policies.groot.processor_groot",
    "lerobot.policies.groot.groot_n1_7",
)


def import_heavy_modules() -> None:
    """Import what the checks import lazily, outside any cap (idempotent)."""
    import importlib

    for name in HEAVY_MODULES:
        importlib.import_module(name)


def _limit(cap: int, soft: int, hard: int) -> int:
    limit = address_space_in_use() + cap
    for bound in (soft, hard):  # never loosen a limit someone else set
        if bound != resource.RLIM_INFINITY:
            limit = min(limit, bound)
    return limit


@contextlib.contextmanager
def memory_cap(cap: int | None, *, enabled: bool = True) -> Iterator[bool]:
    """Limit the address space to what is in use now plus ``cap`` for the block; yields whether it applied."""
    if cap is None or not enabled or not sys.platform.startswith("linux"):
        yield False
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_limit(cap, soft, hard), hard))
    _ACTIVE.append((cap, soft, hard))
    try:
        yield True
    finally:
        _ACTIVE.pop()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def load_allowance(extra: int) -> Iterator[None]:
    """Widen the cap in force by ``extra`` bytes for a block that loads what the run holds once (a model),
    then re-apply the plain cap on top of what it loaded.

    WHY: the cap bounds what one case adds; a full-size model (~10 GB, plus its mapped checkpoint) is
    loaded once per run by whichever case comes first and must not count against that case. The
    allowance is sized from the checkpoint's files, so a config that inflates the model far beyond its
    weights (a changed hidden size) still fails that case rather than the machine.
    """
    if not _ACTIVE:
        yield
        return
    cap, soft, hard = _ACTIVE[-1]
    resource.setrlimit(resource.RLIMIT_AS, (_limit(cap + extra, soft, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (_limit(cap, soft, hard), hard))


def weights_allowance(ckpt: Path) -> int:
    """What loading ``ckpt`` may take beyond the cap: 3x its weight files (mapped once, cast up to float32)."""
    files = [*ckpt.rglob("*.safetensors"), *ckpt.rglob("*.bin")]
    return 3 * sum(f.stat().st_size for f in files if f.is_file())


def mentions_out_of_memory(message: str) -> bool:
    """Whether a failure message reports an allocation that failed (what the cap turns a runaway into)."""
    text = message.lower()
    return any(marker in text for marker in _OUT_OF_MEMORY)


def cap_exceeded(cap: int | None) -> str:
    """The line a case that hit the cap starts with."""
    size = OFF if cap is None else f"{cap / GB:.3g}"
    return f"exceeded the per-check memory cap ({ENV_MEMORY_CAP}={size}: address space beyond what the run held)"
