"""What a process that loads and runs models keeps resident beyond its tensors, and how it gives it back (issue 26).

Three residues, each returned where it appears:

* Mapped weight files, paged out while a model loads (:func:`released_weight_pages`). WHY: safetensors maps
  each weights file and the loaders copy every tensor out of the mapping (and cast it to float32). The pages
  they read stay in the process's resident set until the file is unmapped, at the end of the load: a 5 GB
  bf16 file adds up to 5 GB to the peak RSS of a load that already holds the float32 copy (measured: 14.9
  GB peak for a 9.6 GB model). So while a load runs, a background thread pages out every mapping of a
  ``*.safetensors`` file every ``interval`` seconds, and once more when the block ends, with
  ``madvise(MADV_PAGEOUT)``: a clean file page leaves the process (a later access reads it back, unchanged),
  and nothing else is touched, because PAGEOUT never discards data: a private page the process wrote, or
  anonymous memory, stays (or goes to swap). WHY not ``MADV_DONTNEED``, used until issue 26's full-size
  runs: it discards whatever the range holds. A private page written by the loader would be lost, and so
  would fresh anonymous memory (the float32 weights being loaded) in a range unmapped and reused between
  the read of smaps and the advice. A full-size load came back with its LLM embedding 0.12 off. PAGEOUT
  loses neither, so private writable mappings (transformers 5 maps the files ``rw-p``) are paged out too;
  shared writable ones (``rw-s``) are left alone. Linux >= 5.4; an older kernel refuses the advice and
  nothing is dropped.
* Freed heap, returned after a phase (:func:`return_free_heap`). WHY: glibc serves allocations below its
  mmap threshold (which grows up to 32 MB after large frees) from its arenas and keeps what is freed there;
  after a full-size forward and backward pass about 6 GB of freed activations stayed resident in the
  producer, on top of the weights, into its next phase. ``malloc_trim(0)`` hands free arena pages back.
* Freed heap within a phase, kept from forming (:func:`map_large_allocations`). WHY: a trim comes after the
  phase; inside a full-size training step or policy check, large blocks freed into the arenas (once the
  threshold has grown) are split and held by small live ones, and the next large block extends the heap
  instead. With the threshold fixed at glibc's default, 128 KiB, every larger block is its own mapping,
  returned when freed. The same full-size round (2026-12-04, bench-full-size with ``MALLOC_MMAP_THRESHOLD_``):
  producer peak 13.40 -> 11.70 GB, episode producer 11.38 -> 10.58 GB, consumer 13.44 -> 12.29 GB, every
  figure of every check unchanged, walls within 4%.

Linux (glibc) only; elsewhere they do nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

MADV_PAGEOUT = 21  # Linux >= 5.4: reclaim the range's clean pages; never discards data
WEIGHT_SUFFIX = ".safetensors"
SMAPS = Path("/proc/self/smaps")


def _glibc(name: str, argtypes: tuple[type, ...], use_errno: bool = False) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """The C library's ``name`` returning an int, or None off Linux or where the C library lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(None, use_errno=use_errno), name)
    except (OSError, AttributeError):  # not glibc
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def weight_mappings(smaps_text: str, suffix: str = WEIGHT_SUFFIX) -> list[tuple[int, int]]:
    """(start, end) of each mapping of a ``suffix`` file but the shared writable ones, from smaps (or maps) text."""
    ranges = []
    for line in smaps_text.splitlines():
        head = line.split(maxsplit=5)
        is_mapping = len(head) == 6 and "-" in head[0] and all(c in "0123456789abcdef-" for c in head[0])
        if is_mapping and head[5].endswith(suffix) and (head[1].endswith("p") or "w" not in head[1]):
            start, _, end = head[0].partition("-")
            ranges.append((int(start, 16), int(end, 16)))
    return ranges


_MADVISE = _glibc("madvise", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int), use_errno=True)


def drop_mapped_weight_pages(suffix: str = WEIGHT_SUFFIX) -> int:
    """Page out this process's ``suffix`` mappings (not shared writable ones); bytes of mappings advised."""
    if _MADVISE is None:
        return 0
    try:
        ranges = weight_mappings(SMAPS.read_text(), suffix)
    except OSError:
        return 0
    advised = 0
    for start, end in ranges:
        # a range unmapped since the read fails (ENOMEM), or was reused by anonymous memory: PAGEOUT keeps that
        if _MADVISE(start, end - start, MADV_PAGEOUT) == 0:
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


_MALLOC_TRIM = _glibc("malloc_trim", (ctypes.c_size_t,))


def return_free_heap() -> bool:
    """Give the heap's free pages back to the system (glibc ``malloc_trim(0)``); whether any was returned."""
    return bool(_MALLOC_TRIM(0)) if _MALLOC_TRIM is not None else False


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter; setting it also stops glibc from raising the threshold
LARGE_ALLOCATION = 128 * 1024  # glibc's default mmap threshold, kept where it starts
USER_THRESHOLD = "MALLOC_MMAP_THRESHOLD_"  # glibc's own knob: where it is set, it stands


_MALLOPT = _glibc("mallopt", (ctypes.c_int, ctypes.c_int))


def map_large_allocations(threshold: int = LARGE_ALLOCATION) -> bool:
    """From now on, serve each allocation above ``threshold`` bytes from its own mapping, returned when freed.

    Called first thing by the producer's and the consumer's runs. Leaves a ``MALLOC_MMAP_THRESHOLD_`` the
    user set alone; whether the threshold was set here.
    """
    if _MALLOPT is None or USER_THRESHOLD in os.environ:
        return False
    return _MALLOPT(M_MMAP_THRESHOLD, threshold) == 1
