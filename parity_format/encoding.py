"""The .npz container: compact deterministic writing, pickle-free reading.

WHY a hand-written zip writer: an .npz is a zip of .npy files and every reader (``np.load``,
``zipfile``) transparently decodes DEFLATE, BZIP2 and LZMA members, so compactness can come from
the container while members stay plain .npy. ``zipfile``'s writer, however, cannot set LZMA's
literal-context properties; aligning them with the element size (``lp = pb = log2(itemsize)``)
shrinks float tensors by up to ~10%, and the props travel in the member header, which zipfile's
decoder honours. Timestamps are fixed, so equal content gives byte-identical files.

WHY one codec per member, not the smallest of four: compressing every member with every codec
cost 6 s of a 16 s produce run (LZMA alone 4.3 s), and it grows with the bytes. Measured on the
golden artifacts (``benchmarks/producer_phases.py codecs`` prints the table, README "Size"): LZMA
is the smallest codec for every large numeric member (``pixel_values`` 0.144x vs 0.197x for
deflate and bzip2), random camera frames are incompressible by every codec (1.000x at best), and
below :data:`SMALL_MEMBER` bytes all codecs together take well under a millisecond. So: small
members still try every codec; a large member is probed on a few slices with the cheapest codec
and stored when the probe finds no redundancy, else LZMA-compressed once with a cheaper match
finder (see :func:`_lzma`). Large members are compressed in worker threads (zlib, bz2 and lzma
release the GIL), and identical arrays are compressed once.

WHY headers are read separately: a member's dtype is known from its .npy header alone, so object
(pickle) members are detected without ever decoding their data.
"""

from __future__ import annotations

import bz2
import io
import lzma
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from zipfile import ZIP_BZIP2, ZIP_DEFLATED, ZIP_LZMA, ZIP_STORED

import numpy as np

from .errors import ArtifactError
from .limits import (
    ENV_MAX_ARTIFACT_BYTES,
    ENV_MAX_COMPRESSION_RATIO,
    ENV_MAX_MEMBER_BYTES,
    RATIO_CHECK_MIN_BYTES,
    LimitsConfigError,
    NotARegularFile,
    ResourceLimits,
    limits_from_env,
    open_regular_file,
)
from .member_stream import MemberFormatError, MemberStream, archive_size, declared_directory_size

_ZIP64_LIMIT = 0xFFFFFFFF  # sizes/offsets at or above this need ZIP64 records (tests lower it)
_DOS_DATE = (1 << 5) | 1  # 1980-01-01 00:00, the zip epoch
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<IHHHHIIH")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_VERSION_NEEDED = {ZIP_STORED: 20, ZIP_DEFLATED: 20, ZIP_BZIP2: 46, ZIP_LZMA: 63}
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, RuntimeError)
MAX_DIRECTORY_BYTES = 16 << 20  # a real artifact's zip directory is a few kB (~100 members)


def is_plain_dtype(dtype: np.dtype) -> bool:
    """True for dtypes stored as raw bytes in .npy; False for anything that would need pickle."""
    return not dtype.hasobject and dtype.kind in "biufcmMSUV"


SMALL_MEMBER = 64 << 10  # .npy bytes below which trying every codec costs less than choosing
PROBE_SLICES, PROBE_BYTES = 4, 16 << 10  # the incompressibility probe: 4 spread slices of 16 KiB
INCOMPRESSIBLE = 0.98  # probe ratio (deflate level 1) above which a member is stored as is
PARALLEL_MEMBER = 1 << 20  # members at least this large are compressed in worker threads
LARGE_DICT = 1 << 20  # LZMA dictionary of large members: a larger one gains <0.1% here, costs ~8x its size in RAM


def _lzma(data: memoryview, itemsize: int, *, large: bool = False) -> bytes:
    """Raw LZMA1 with element-aligned props, framed as a zip LZMA member (APPNOTE 5.8.8).

    ``large`` trades ~8% of the bytes for ~3x less CPU: preset 6's bt4 match finder (its
    dictionary capped at :data:`LARGE_DICT`) becomes a hash chain of depth 2. Measured on the
    golden 256x256 ``pixel_values`` (6.3 MB): preset 6 0.1440x in 3.0 CPU-s, bt2 0.1441x in 2.4 s,
    this 0.1554x in 0.9 s, deflate 0.197x in 0.36 s (``benchmarks/producer_phases.py codecs``).
    """
    lp = min(itemsize.bit_length() - 1, 4) if itemsize & (itemsize - 1) == 0 else 0
    lc = min(3, 4 - lp)  # liblzma (zipfile's decoder) rejects lc + lp > 4
    dict_size = min(max(1 << 12, 1 << max(len(data) - 1, 1).bit_length()), LARGE_DICT if large else 1 << 26)
    lzma1: dict[str, int] = {"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": dict_size}
    lzma1 |= {"lc": lc, "lp": lp, "pb": lp}
    if large:
        lzma1 |= {"mode": lzma.MODE_NORMAL, "mf": lzma.MF_HC4, "nice_len": 64, "depth": 2}
    props = struct.pack("<BI", (lp * 5 + lp) * 9 + lc, dict_size)
    header = struct.pack("<BBH", 9, 4, len(props))  # LZMA SDK version 9.4, as zipfile writes it
    return header + props + lzma.compress(data, format=lzma.FORMAT_RAW, filters=[lzma1])


def _deflate(data: memoryview, level: int = 9) -> bytes:
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    return deflate.compress(data) + deflate.flush()


def _probe_ratio(data: memoryview) -> float:
    """Deflate-1 ratio of a few slices spread over ``data``: ~1.0 means no codec will help."""
    step = max(len(data) // PROBE_SLICES, PROBE_BYTES)
    slices = [data[i : i + PROBE_BYTES] for i in range(0, len(data), step)][:PROBE_SLICES]
    return sum(len(_deflate(s, 1)) for s in slices) / sum(len(s) for s in slices)


def _encodings(data: memoryview, itemsize: int) -> Iterator[tuple[int, bytes | memoryview]]:
    """The candidate encodings of one member, per the policy in the module docstring."""
    yield ZIP_STORED, data  # free, and the floor: no member is ever expanded
    if len(data) < SMALL_MEMBER:
        yield ZIP_DEFLATED, _deflate(data)
        yield ZIP_BZIP2, bz2.compress(data, 9)
        yield ZIP_LZMA, _lzma(data, itemsize)
    elif _probe_ratio(data) <= INCOMPRESSIBLE:
        yield ZIP_LZMA, _lzma(data, itemsize, large=True)


Encoded = tuple[int, bytes | memoryview, int, int]  # zip method, payload, crc32, uncompressed size


def encode_member(array: np.ndarray) -> Encoded:
    """(zip method, payload, crc32, uncompressed size) of the chosen encoding of ``array``."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    data = buf.getbuffer()
    method, payload = min(_encodings(data, array.dtype.itemsize), key=lambda e: len(e[1]))
    return method, payload, zlib.crc32(data), len(data)


def _first_of_each_content(members: Sequence[tuple[str, np.ndarray]]) -> list[int]:
    """For each member, the index of the first member with the same dtype, shape and bytes."""
    first: list[int] = []
    seen: dict[tuple[str, tuple[int, ...], int], list[int]] = {}
    raws = [np.ascontiguousarray(a).reshape(-1).view(np.uint8) for _, a in members]
    for i, ((_, array), raw) in enumerate(zip(members, raws, strict=True)):
        twins = seen.setdefault((array.dtype.str, array.shape, zlib.crc32(raw)), [])
        same = next((j for j in twins if np.array_equal(raws[j], raw)), None)
        if same is None:
            twins.append(i)
        first.append(i if same is None else same)
    return first


def _encoded_in_order(members: Sequence[tuple[str, np.ndarray]]) -> Iterator[Encoded]:
    """encode_member of each member, in order; large ones run ahead in worker threads.

    Identical arrays (same dtype, shape and bytes) are encoded once and their payload reused.
    """
    first = _first_of_each_content(members)
    large = [i for i, (_, a) in enumerate(members) if first[i] == i and a.nbytes >= PARALLEL_MEMBER]
    workers = min(len(large), os.cpu_count() or 1, 4)
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        futures = {i: pool.submit(encode_member, members[i][1]) for i in large} if pool else {}
        encoded: dict[int, Encoded] = {}
        for i, (_, array) in enumerate(members):
            if first[i] == i:
                encoded[i] = futures.pop(i).result() if i in futures else encode_member(array)
            yield encoded[first[i]]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def write_npz(out: BinaryIO, members: Sequence[tuple[str, np.ndarray]]) -> None:
    """Write ``members`` (name without .npy, array) as a zip that np.load reads directly."""
    central, offset = [], 0
    for (name, _), (method, payload, crc, size) in zip(members, _encoded_in_order(members), strict=True):
        fname = f"{name}.npy".encode()
        flags = (0x800 if not fname.isascii() else 0) | (0x02 if method == ZIP_LZMA else 0)
        big = max(size, len(payload), offset) >= _ZIP64_LIMIT
        need = max(45, _VERSION_NEEDED[method]) if big else _VERSION_NEEDED[method]
        sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(payload), size)
        extra = struct.pack("<HHQQ", 1, 16, size, len(payload)) if big else b""
        common = (flags, method, 0, _DOS_DATE, crc, *sizes, len(fname))  # shared by local and central records
        out.write(_LOCAL.pack(0x04034B50, need, *common, len(extra)) + fname + extra)
        out.write(payload)
        cextra = struct.pack("<HHQQQ", 1, 24, size, len(payload), offset) if big else b""
        offset_field = 0xFFFFFFFF if big else offset
        record = _CENTRAL.pack(0x02014B50, need, need, *common, len(cextra), 0, 0, 0, 0, offset_field)
        central.append(record + fname + cextra)
        offset += _LOCAL.size + len(fname) + len(extra) + len(payload)
    directory = b"".join(central)
    count, cd_size, cd_offset = len(central), len(directory), offset
    out.write(directory)
    if max(cd_size, cd_offset) >= _ZIP64_LIMIT or count >= 0xFFFF:
        eocd64_offset = cd_offset + cd_size
        out.write(_EOCD64.pack(0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_offset))
        out.write(_LOCATOR64.pack(0x07064B50, 0, eocd64_offset, 1))
        count, cd_size, cd_offset = min(count, 0xFFFF), min(cd_size, 0xFFFFFFFF), min(cd_offset, 0xFFFFFFFF)
    out.write(_EOCD.pack(0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0))


@dataclass(frozen=True)
class MemberHeader:
    """What a member's .npy header declares, read without touching its data."""

    info: zipfile.ZipInfo
    dtype: np.dtype
    shape: tuple[int, ...]


@contextmanager
def _reading(path: Path, member: str | None) -> Iterator[None]:
    try:
        yield
    except _READ_ERRORS as exc:
        what = "not a readable .npz archive (truncated or corrupt?)" if member is None else "corrupt member"
        raise ArtifactError(path, f"{what}: {type(exc).__name__}: {exc}", member) from exc


class _Archive(zipfile.ZipFile):
    """A ZipFile over a file it owns (opened as a regular file), with the caps it was opened under."""

    def __init__(self, file: BinaryIO, limits: ResourceLimits) -> None:
        self.owned_file, self.limits = file, limits
        self.size = archive_size(file)
        super().__init__(file)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.owned_file.close()


def _limits(path: Path) -> ResourceLimits:
    try:
        return limits_from_env()
    except LimitsConfigError as exc:
        raise ArtifactError(path, str(exc)) from exc


def open_npz(path: Path, limits: ResourceLimits | None = None) -> zipfile.ZipFile:
    """Open the archive if it is a regular file within the caps; zip-level failures become ArtifactError."""
    limits = limits or _limits(path)
    try:
        file = open_regular_file(path, limits.max_artifact_bytes)
    except OSError as exc:
        reason = str(exc) if isinstance(exc, NotARegularFile) else f"cannot open: {exc.strerror or exc}"
        raise ArtifactError(path, reason.removeprefix(f"{path}: ")) from exc
    try:
        with _reading(path, None):
            directory = declared_directory_size(file, archive_size(file))
            if directory > MAX_DIRECTORY_BYTES:
                raise ArtifactError(
                    path, f"zip directory declares {directory} bytes, over the {MAX_DIRECTORY_BYTES}-byte cap"
                )
            return _Archive(file, limits)
    except BaseException:
        file.close()
        raise


def _check_declared_sizes(path: Path, zf: zipfile.ZipFile, limits: ResourceLimits) -> None:
    """Refuse before decompressing anything: caps on declared sizes and on compression ratios."""
    size = zf.size if isinstance(zf, _Archive) else archive_size(zf.fp)  # type: ignore[arg-type]
    ratio_knob = f"{ENV_MAX_COMPRESSION_RATIO}={limits.max_compression_ratio:g}"
    total = 0
    for info in zf.infolist():
        declared, packed = info.file_size, info.compress_size
        total += declared
        if declared > limits.max_member_bytes:
            raise ArtifactError(
                path,
                f"declares {declared} bytes uncompressed ({packed} compressed), over the "
                f"{limits.max_member_bytes}-byte per-member cap ({ENV_MAX_MEMBER_BYTES})",
                info.filename,
            )
        if declared >= RATIO_CHECK_MIN_BYTES and declared > limits.max_compression_ratio * max(packed, 1):
            raise ArtifactError(
                path,
                f"declares {declared} bytes uncompressed from {packed} compressed (ratio "
                f"{declared / max(packed, 1):.0f}:1), over the compression-ratio cap ({ratio_knob}): a zip bomb?",
                info.filename,
            )
    if total > limits.max_artifact_bytes:
        raise ArtifactError(
            path,
            f"members declare {total} bytes uncompressed in total ({size}-byte file), over the "
            f"{limits.max_artifact_bytes}-byte cap ({ENV_MAX_ARTIFACT_BYTES})",
        )
    if total >= RATIO_CHECK_MIN_BYTES and total > limits.max_compression_ratio * max(size, 1):
        raise ArtifactError(
            path,
            f"members declare {total} bytes uncompressed in a {size}-byte file (ratio {total / max(size, 1):.0f}:1), "
            f"over the compression-ratio cap ({ratio_knob}): a zip bomb?",
        )


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> MemberStream:
    size = zf.size if isinstance(zf, _Archive) else archive_size(zf.fp)  # type: ignore[arg-type]
    return MemberStream(zf.fp, info, size)  # type: ignore[arg-type]


def _read_npy_header(f: MemberStream) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def read_headers(path: Path, zf: zipfile.ZipFile, limits: ResourceLimits | None = None) -> dict[str, MemberHeader]:
    """Every member's header in file order, keyed by name without ``.npy``; sizes capped before any decoding."""
    limits = limits or (zf.limits if isinstance(zf, _Archive) else _limits(path))
    headers: dict[str, MemberHeader] = {}
    names: set[str] = set()
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in names:
            problem = "not a .npy entry" if name == info.filename else "duplicate entry"
            raise ArtifactError(path, problem, info.filename)
        names.add(name)
    _check_declared_sizes(path, zf, limits)
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        with _reading(path, name):
            f = _stream(zf, info)
            shape, _, dtype = _read_npy_header(f)
            data_size = info.file_size - f.tell()
        if is_plain_dtype(dtype) and math.prod(shape) * dtype.itemsize != data_size:
            raise ArtifactError(path, f"header declares {shape} {dtype} but entry holds {data_size} bytes", name)
        headers[name] = MemberHeader(info, dtype, tuple(shape))
    return headers


def read_member(path: Path, zf: zipfile.ZipFile, name: str, header: MemberHeader) -> np.ndarray:
    """Decode one plain member through a bounded stream (size and CRC checked); never unpickles."""
    if not is_plain_dtype(header.dtype):
        raise ArtifactError(path, f"refusing to load {header.dtype} member (would need pickle)", name)
    with _reading(path, name):
        f = _stream(zf, header.info)
        shape, fortran, dtype = _read_npy_header(f)
        count = math.prod(shape)
        buffer = bytearray(count * dtype.itemsize)  # read_headers checked this against the capped declared size
        if f.readinto(memoryview(buffer)) != len(buffer):
            raise MemberFormatError(f"data ends after {f.tell()} of {header.info.file_size} bytes")
        f.finish()
        if dtype.itemsize == 0 or count == 0:
            return np.zeros(shape, dtype=dtype)
        flat = np.frombuffer(buffer, dtype=dtype, count=count)
        return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
