"""Which zip codec each member gets, and compressing members ahead of the write.

WHY a policy instead of the smallest of four codecs: compressing every member with stored, deflate,
bzip2 and LZMA cost 6 s of a 16 s produce run (LZMA alone 4.3 s), and that grows with the bytes.
Measured on real artifacts (``benchmarks/producer_phases.py codecs`` prints the table;
docs/artifact-format.md, "Size"):

- ``pixel_values`` (6.3 MB of float32 at 256x256, B=2) is the one big compressible member. LZMA
  beats deflate and bzip2 on it at every effort: 0.164x in 0.17 s (``fast``) and 0.144x in 0.86 s
  (``small``) against 0.197x for deflate-9 and bzip2-9 in 0.34 s (deflate-1: 0.216x in 0.04 s).
- Random camera frames are incompressible by every codec (1.000x at best): a cheap probe finds that
  and they are stored.
- Large text members (the JSON manifest, UTF-32 in .npy) compress best and fastest with bzip2:
  0.050x in 12 ms, against 0.052x in 32 ms for LZMA and 0.070x in 57 ms for deflate.
- Below :data:`SMALL_MEMBER` bytes all codecs together take well under a millisecond: those members
  still try every codec and keep the smallest.

WHY ahead of the write: the producer knows ``pixel_values`` right after the original's collator,
before ``get_action`` runs. :meth:`MemberEncoder.prefetch` starts compressing it then, in a worker
thread (zlib, bz2 and lzma release the GIL), so by the time the artifact is written the payload is
usually done. Payloads are found again by content (dtype, shape and bytes), so identical arrays are
compressed once, under any name.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from zipfile import ZIP_BZIP2, ZIP_DEFLATED, ZIP_LZMA, ZIP_STORED

import numpy as np

SMALL_MEMBER = 64 << 10  # .npy bytes below which trying every codec costs less than choosing
PROBE_SLICES, PROBE_BYTES = 4, 16 << 10  # the incompressibility probe: 4 spread slices of 16 KiB
INCOMPRESSIBLE = 0.98  # probe ratio (deflate level 1) above which a member is stored as is
PARALLEL_MEMBER = 1 << 20  # members at least this large are compressed in worker threads
LARGE_DICT = 1 << 20  # LZMA dictionary of large members: a larger one gains <0.3% here, costs ~8x its size in RAM

# LZMA match finding for large numeric members, per compression level. Measured on the 256x256
# pixel_values (6.3 MB; ``benchmarks/producer_phases.py codecs``): fast 0.1637x in 0.17 s (hash chain
# of 3, fast mode); small 0.1444x in 0.86 s (binary tree of 2, nice_len 16: preset 6's 0.1444x in
# 1.1-1.4 s). In between nothing pays: hc4 normal mode 0.1555x in 0.40 s, bt4 fast mode 0.1487x in 0.79 s.
LARGE_LZMA: dict[str, dict[str, int]] = {
    "fast": {"mode": lzma.MODE_FAST, "mf": lzma.MF_HC3, "nice_len": 32, "depth": 4},
    "small": {"mode": lzma.MODE_NORMAL, "mf": lzma.MF_BT2, "nice_len": 16, "depth": 0},
}
DEFAULT_COMPRESSION = "fast"
COMPRESSION_LEVELS = tuple(LARGE_LZMA)

Encoded = tuple[int, bytes | memoryview, int, int]  # zip method, payload, crc32 of the .npy bytes, their length
_ContentKey = tuple[str, tuple[int, ...], int]


def check_compression(level: str) -> str:
    if level not in LARGE_LZMA:
        raise ValueError(f"compression {level!r}: expected one of {', '.join(COMPRESSION_LEVELS)}")
    return level


def lzma_member(data: memoryview, itemsize: int, *, large: str | None = None) -> bytes:
    """Raw LZMA1 with element-aligned props (``lp = pb = log2(itemsize)``), framed as a zip LZMA member.

    ``large`` names a :data:`LARGE_LZMA` level (dictionary capped at :data:`LARGE_DICT`); None is
    preset 6 with a dictionary sized to the data, for small members. Why by hand: see
    :mod:`parity_format.encoding`.
    """
    lp = min(itemsize.bit_length() - 1, 4) if itemsize & (itemsize - 1) == 0 else 0
    lc = min(3, 4 - lp)  # liblzma (zipfile's decoder) rejects lc + lp > 4
    dict_size = min(max(1 << 12, 1 << max(len(data) - 1, 1).bit_length()), LARGE_DICT if large else 1 << 26)
    lzma1: dict[str, int] = {"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": dict_size}
    lzma1 |= {"lc": lc, "lp": lp, "pb": lp} | (LARGE_LZMA[large] if large else {})
    props = struct.pack("<BI", (lp * 5 + lp) * 9 + lc, dict_size)
    header = struct.pack("<BBH", 9, 4, len(props))  # LZMA SDK version 9.4, as zipfile writes it
    return header + props + lzma.compress(data, format=lzma.FORMAT_RAW, filters=[lzma1])


def deflate_member(data: memoryview, level: int = 9) -> bytes:
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    return deflate.compress(data) + deflate.flush()


def _probe_ratio(data: memoryview) -> float:
    """Deflate-1 ratio of a few slices spread over ``data``: ~1.0 means no codec will help."""
    step = max(len(data) // PROBE_SLICES, PROBE_BYTES)
    slices = [data[i : i + PROBE_BYTES] for i in range(0, len(data), step)][:PROBE_SLICES]
    return sum(len(deflate_member(s, 1)) for s in slices) / sum(len(s) for s in slices)


def candidates(data: memoryview, dtype: np.dtype, compression: str) -> Iterator[tuple[int, bytes | memoryview]]:
    """The encodings of one member worth producing, per the policy in the module docstring."""
    yield ZIP_STORED, data  # free, and the floor: no member is ever expanded
    if len(data) < SMALL_MEMBER:
        yield ZIP_DEFLATED, deflate_member(data)
        yield ZIP_BZIP2, bz2.compress(data, 9)
        yield ZIP_LZMA, lzma_member(data, dtype.itemsize)
    elif dtype.kind in "SU":
        yield ZIP_BZIP2, bz2.compress(data, 9)
    elif _probe_ratio(data) <= INCOMPRESSIBLE:
        yield ZIP_LZMA, lzma_member(data, dtype.itemsize, large=compression)


def encode_member(array: np.ndarray, compression: str = DEFAULT_COMPRESSION) -> Encoded:
    """(zip method, payload, crc32, uncompressed size) of the chosen encoding of ``array``."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    data = buf.getbuffer()
    method, payload = min(candidates(data, array.dtype, compression), key=lambda e: len(e[1]))
    return method, payload, zlib.crc32(data), len(data)


def _flat_bytes(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _content_key(array: np.ndarray) -> _ContentKey:
    return array.dtype.str, array.shape, zlib.crc32(_flat_bytes(array))


def _same_content(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (a.dtype == b.dtype and a.shape == b.shape and np.array_equal(_flat_bytes(a), _flat_bytes(b)))


def first_of_each_content(arrays: Sequence[np.ndarray]) -> list[int]:
    """For each array, the index of the first array with the same dtype, shape and bytes."""
    first: list[int] = []
    seen: dict[_ContentKey, list[int]] = {}
    for i, array in enumerate(arrays):
        twins = seen.setdefault(_content_key(array), [])
        same = next((j for j in twins if _same_content(arrays[j], array)), None)
        if same is None:
            twins.append(i)
        first.append(i if same is None else same)
    return first


def _yield_cpu() -> None:
    """Lower this worker thread's scheduling priority: inference running beside it keeps its cores."""
    with contextlib.suppress(AttributeError, OSError):  # Linux: nice applies to the calling thread only
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class MemberEncoder:
    """Encodes the members of one or many artifacts; large ones in worker threads, possibly ahead of time.

    Thread-safe: the producer prefetches from its main thread while a writer thread encodes.
    """

    def __init__(self, compression: str = DEFAULT_COMPRESSION, workers: int | None = None) -> None:
        self.compression = check_compression(compression)
        self._workers = workers or max(1, min(os.cpu_count() or 1, 4))
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[_ContentKey, list[tuple[np.ndarray, Future[Encoded]]]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> MemberEncoder:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Drop what was prefetched and never written, and stop the workers."""
        with self._lock:
            for entries in self._ahead.values():
                for _, future in entries:
                    future.cancel()
            self._ahead.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, array: np.ndarray) -> Future[Encoded]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="npz-encode", initializer=_yield_cpu)
        return self._pool.submit(encode_member, array, self.compression)

    def prefetch(self, arrays: Iterable[np.ndarray]) -> None:
        """Start compressing the large ``arrays`` now; a later write of the same content takes the result."""
        for array in arrays:
            if array.nbytes < PARALLEL_MEMBER:
                continue
            key = _content_key(array)
            with self._lock:
                entries = self._ahead.setdefault(key, [])
                if not any(_same_content(known, array) for known, _ in entries):
                    entries.append((array, self._submit(array)))

    def discard(self, arrays: Iterable[np.ndarray]) -> None:
        """Forget what was prefetched for ``arrays`` (their artifact will not be written)."""
        for array in arrays:
            with self._lock:
                entries = self._ahead.get(_content_key(array), [])
                for entry in [e for e in entries if _same_content(e[0], array)]:
                    entry[1].cancel()
                    entries.remove(entry)

    @property
    def prefetched(self) -> int:
        """How many prefetched payloads no write has taken yet."""
        with self._lock:
            return sum(len(entries) for entries in self._ahead.values())

    def _large(self, array: np.ndarray) -> Future[Encoded]:
        """The prefetched encoding of ``array`` (claimed: it is not handed out twice), else a new one."""
        with self._lock:
            entries = self._ahead.get(_content_key(array), [])
            for entry in entries:
                if _same_content(entry[0], array):
                    entries.remove(entry)
                    return entry[1]
            return self._submit(array)

    def encode_all(self, arrays: Sequence[np.ndarray]) -> Iterator[Encoded]:
        """The encoding of each array, in order; identical arrays are encoded once and the payload reused."""
        first = first_of_each_content(arrays)
        futures = {i: self._large(a) for i, a in enumerate(arrays) if first[i] == i and a.nbytes >= PARALLEL_MEMBER}
        encoded: dict[int, Encoded] = {}
        try:
            for i, array in enumerate(arrays):
                if first[i] == i:
                    encoded[i] = futures.pop(i).result() if i in futures else encode_member(array, self.compression)
                yield encoded[first[i]]
        finally:
            for future in futures.values():
                future.cancel()
