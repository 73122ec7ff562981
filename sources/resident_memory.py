"""What a process that loads and runs models keeps resident beyond its tensors, and how it gives it back (issue 26).

Two residues, each returned where it appears:

* Mapped weight files, dropped while a model loads (:func:`released_weight_pages`). WHY: safetensors maps
  each weights file and the loaders copy every tensor out of the mapping (and cast it to float32). The pages
  they read stay in the process's resident set until the file is unmapped, at the end of the load: a 4.8 GB
  bf16 file adds up to 4.8 GB to the peak RSS of a load that already holds the float32 copy (measured: 14.9
  GB peak for an 11.1 GB model). A read-only file page can leave a process at any time
  (``madvise(MADV_DONTNEED)``): a later access faults it back in from the page cache, unchanged. So while a
  load runs, a background thread drops the resident pages of every mapping of a ``*.safetensors`` file
  every ``interval`` seconds, and once more when the block ends. Only read-only mappings: transformers 5
  maps the files private and writable (``rw-p``), and dropping those, even only while smaps showed no
  written page, raced with a write and corrupted a full-size load (the LLM embedding came back 0.12 off,
  issue 26); a written private page dropped is a write lost. So transformers 5's loads get no benefit.
* Freed heap, returned after a phase (:func:`return_free_heap`). WHY: glibc serves allocations below its
  mmap threshold (which grows up to 32 MB after large frees) from its arenas and keeps what is freed there;
  after a full-size forward and backward pass about 6 GB of freed activations stayed resident in the
  producer, on top of the weights, into its next phase. ``malloc_trim(0)`` hands free arena pages back.

Linux (glibc) only; elsewhere both do nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

MADV_DONTNEED = 4  # Linux
WEIGHT_SUFFIX = ".safetensors"
SMAPS = Path("/proc/self/smaps")


def weight_mappings(smaps_text: str, suffix: str = WEIGHT_SUFFIX) -> list[tuple[int, int]]:
    """(start, end) of each read-only mapping of a ``suffix`` file, from /proc/<pid>/smaps (or maps) text."""
    ranges = []
    for line in smaps_text.splitlines():
        head = line.split(maxsplit=5)
        is_mapping = len(head) == 6 and "-" in head[0] and all(c in "0123456789abcdef-" for c in head[0])
        if is_mapping and head[5].endswith(suffix) and "w" not in head[1]:
            start, _, end = head[0].partition("-")
            ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _madvise() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function = libc.madvise
    function.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    function.restype = ctypes.c_int
    return function


_MADVISE = _madvise()


def drop_mapped_weight_pages(suffix: str = WEIGHT_SUFFIX) -> int:
    """Drop the resident pages of this process's read-only ``suffix`` mappings; bytes of mappings advised."""
    if _MADVISE is None:
        return 0
    try:
        ranges = weight_mappings(SMAPS.read_text(), suffix)
    except OSError:
        return 0
    advised = 0
    for start, end in ranges:
        # a mapping unmapped since the read fails with EINVAL/ENOMEM: nothing left to drop
        if _MADVISE(start, end - start, MADV_DONTNEED) == 0:
            advised += end - start
    return advised


@contextlib.contextmanager
def released_weight_pages(interval: float = 0.5, suffix: str = WEIGHT_SUFFIX) -> Iterator[None]:
    """Keep the pages of mapped weight files out of the resident set while the block (a model load) runs."""
    if _MADVISE is None:
        yield
        return
    done = threading.Event()

    def drop_until_done() -> None:
        while not done.wait(interval):
            drop_mapped_weight_pages(suffix)

    thread = threading.Thread(target=drop_until_done, name="drop-weight-pages", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        drop_mapped_weight_pages(suffix)


def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = (ctypes.c_size_t,)
    function.restype = ctypes.c_int
    return function


_MALLOC_TRIM = _malloc_trim()


def return_free_heap() -> bool:
    """Give the heap's free pages back to the system (glibc ``malloc_trim(0)``); whether any was returned."""
    return bool(_MALLOC_TRIM(0)) if _MALLOC_TRIM is not None else False
