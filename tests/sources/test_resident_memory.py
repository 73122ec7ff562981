"""Paging out mapped weight pages: the resident set shrinks, the bytes stay, written or anonymous memory stays."""

from __future__ import annotations

import hashlib
import mmap
import sys
from pathlib import Path

import pytest

from sources.resident_memory import SMAPS, drop_mapped_weight_pages, released_weight_pages, weight_mappings

SMAPS_TEXT = """\
7f0000000000-7f0000100000 r--p 00000000 fe:00 11 /ckpt/model-00001-of-00002.safetensors
Rss:                1024 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 rw-p 00000000 fe:00 12 /ckpt/model.safetensors
Rss:                1024 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 fe:00 13 /ckpt/written.safetensors
Rss:                1024 kB
Anonymous:             4 kB
7f0000300000-7f0000400000 rw-s 00000000 fe:00 14 /ckpt/shared.safetensors
Anonymous:             0 kB
7f0000380000-7f0000390000 r--s 00000000 fe:00 16 /ckpt/model-00002-of-00002.safetensors
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 fe:00 15 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000500000-7f0000600000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
"""

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise and /proc/self/smaps: Linux")


def test_weight_mappings_are_paged_out_but_shared_writable_ones_and_other_files() -> None:
    assert weight_mappings(SMAPS_TEXT) == [
        (0x7F0000000000, 0x7F0000100000),
        (0x7F0000100000, 0x7F0000200000),
        (0x7F0000200000, 0x7F0000300000),
        (0x7F0000380000, 0x7F0000390000),
    ]


def mapping_rss_kb(start: int) -> int:
    blocks = SMAPS.read_text().split("\n")
    for i, line in enumerate(blocks):
        if line.startswith(f"{start:x}-"):
            for detail in blocks[i + 1 :]:
                if detail.startswith("Rss:"):
                    return int(detail.split()[1])
    raise AssertionError(f"no mapping at {start:x}")


def mapped_at(path: Path) -> int:
    """Start address of this process's (last) mapping of ``path``."""
    starts = [line.split("-")[0] for line in SMAPS.read_text().splitlines() if line.endswith(str(path))]
    assert starts, f"{path} is not mapped"
    return int(starts[-1], 16)


@linux_only
def test_dropping_shrinks_the_resident_set_and_keeps_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    data = bytes(range(256)) * (16 * 2**20 // 256)
    path.write_bytes(data)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as view:
        digest = hashlib.sha256(view[:]).hexdigest()  # touches every page
        start = mapped_at(path)
        before = mapping_rss_kb(start)
        assert before > 8 * 1024, f"the test needs the mapping resident first ({before} kB)"
        assert drop_mapped_weight_pages() >= len(data)
        assert mapping_rss_kb(start) < before // 4
        assert hashlib.sha256(view[:]).hexdigest() == digest == hashlib.sha256(data).hexdigest()


@linux_only
def test_a_written_private_page_is_never_lost(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\0" * 2**20)
    with path.open("r+b") as f, mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE) as view:
        assert any(start == mapped_at(path) for start, _ in weight_mappings(SMAPS.read_text()))  # it is advised
        view[0:5] = b"wrote"
        with released_weight_pages(interval=0.01):
            pass
        assert view[0:5] == b"wrote"


@linux_only
def test_anonymous_memory_in_an_advised_range_keeps_its_bytes() -> None:
    # the race that corrupted a full-size load under MADV_DONTNEED: a range read from smaps, unmapped, then
    # reused by a fresh allocation before the advice; PAGEOUT must leave such memory as it is
    import ctypes

    import numpy as np

    from sources import resident_memory

    assert resident_memory._MADVISE is not None
    fresh = np.arange(4 * 2**20 // 8, dtype=np.float64)
    start = fresh.ctypes.data - fresh.ctypes.data % mmap.PAGESIZE
    end = fresh.ctypes.data + fresh.nbytes
    end += -end % mmap.PAGESIZE
    assert resident_memory._MADVISE(ctypes.c_void_p(start), end - start, resident_memory.MADV_PAGEOUT) == 0
    assert np.array_equal(fresh, np.arange(fresh.size, dtype=np.float64))


@linux_only
def test_freed_heap_is_handed_back() -> None:
    import numpy as np

    from sources import resident_memory

    if resident_memory._MALLOC_TRIM is None:
        pytest.skip("not glibc: malloc_trim is unavailable")
    big = np.ones(20 * 2**20 // 8)  # raises glibc's dynamic mmap threshold: the next blocks come from the heap
    del big
    chunks = [np.ones(2**20 // 8) for _ in range(64)]
    live = [np.ones(16) for _ in range(64)]  # small live blocks between them
    del chunks
    assert resident_memory.return_free_heap() is True
    assert len(live) == 64


FRAGMENTED_FREE = """
import sys

import numpy as np

from sources.resident_memory import map_large_allocations

fixed = map_large_allocations() if sys.argv[1] == "fixed" else False


def anonymous() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon:"))


big = np.ones(20 * 2**20 // 8)
del big  # glibc raises its threshold past this block's size: 1 MiB blocks now come from the heap
blocks = [np.ones(2**20 // 8) for _ in range(128)]
before = anonymous()
del blocks[::2]  # 64 MiB, each freed block held in place by a live one after it
print(fixed, before - anonymous())
"""


def _freed_after_fragmenting(mode: str, **environment: str) -> tuple[bool, int]:
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    env.update(PYTHONPATH=str(repo), **environment)
    run = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_FREE, mode], env=env, capture_output=True, text=True, check=True
    )
    fixed, freed = run.stdout.split()
    return fixed == "True", int(freed)


@linux_only
def test_large_blocks_freed_inside_a_phase_leave_the_process() -> None:
    from sources import resident_memory

    if resident_memory._MALLOPT is None:
        pytest.skip("not glibc: mallopt is unavailable")
    fixed, freed = _freed_after_fragmenting("fixed")
    assert fixed and freed >= 60 * 2**20, f"{freed / 2**20:.1f} MiB of 64 MiB freed left with the threshold fixed"
    fixed, freed = _freed_after_fragmenting("default")  # the control: glibc as it comes keeps them
    assert not fixed and freed < 16 * 2**20, f"{freed / 2**20:.1f} MiB left without it: the test proves nothing"


@linux_only
def test_a_threshold_the_user_set_stands() -> None:
    fixed, _ = _freed_after_fragmenting("fixed", MALLOC_MMAP_THRESHOLD_="33554432")
    assert not fixed
