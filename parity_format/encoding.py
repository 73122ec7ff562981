"""The .npz container: compact deterministic writing, pickle-free reading.

WHY a hand-written zip writer: an .npz is a zip of .npy files and every reader (``np.load``,
``zipfile``) transparently decodes DEFLATE, BZIP2 and LZMA members, so compactness can come from
the container while members stay plain .npy. ``zipfile``'s writer, however, cannot set LZMA's
literal-context properties; aligning them with the element size (``lp = pb = log2(itemsize)``)
shrinks float tensors by up to ~10%, and the props travel in the member header, which zipfile's
decoder honours. Timestamps are fixed, so equal content gives byte-identical files.

WHICH codec each member gets, and compressing members ahead of the write, is
:mod:`parity_format.codecs`.

WHY headers are read separately: a member's dtype is known from its .npy header alone, so object
(pickle) members are detected without ever decoding their data.
"""

from __future__ import annotations

import contextlib
import lzma
import math
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from zipfile import ZIP_BZIP2, ZIP_DEFLATED, ZIP_LZMA, ZIP_STORED

import numpy as np

from . import codecs
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


def write_npz(
    out: BinaryIO, members: Sequence[tuple[str, np.ndarray]], encoder: codecs.MemberEncoder | None = None
) -> None:
    """Write ``members`` (name without .npy, array) as a zip that np.load reads directly.

    ``encoder`` chooses and compresses each member (:mod:`parity_format.codecs`); pass a shared one
    to pick up payloads it prefetched. Without one, a private encoder at the default level is used.
    """
    with contextlib.ExitStack() as stack:
        if encoder is None:
            encoder = stack.enter_context(codecs.MemberEncoder())
        _write_zip(out, members, encoder.encode_all([array for _, array in members]))


def _write_zip(out: BinaryIO, members: Sequence[tuple[str, np.ndarray]], encoded: Iterator[codecs.Encoded]) -> None:
    central, offset = [], 0
    for (name, _), (method, payload, crc, size) in zip(members, encoded, strict=True):
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
