"""Crafting hostile .npz files cheaply, and running a reader in a measured, time-limited subprocess.

WHY hand-made zips: a bomb must be a real one (valid deflate, matching CRC) so that an unguarded reader
really decompresses it, yet making it must not cost gigabytes. Deflate segments ended by a full flush
are self-contained, so one ~1 kB segment for 1 MiB of zeros, repeated, is a valid multi-GiB stream.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MiB = 1 << 20
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # fixed-Huffman block, BFINAL set, only the end-of-block code


@dataclass
class Entry:
    """One zip entry as written: the DECLARED sizes and CRC may lie about the payload."""

    name: str
    payload: bytes
    method: int
    declared_size: int
    crc: int


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def plain_entry(name: str, array: np.ndarray) -> Entry:
    """An honest stored entry."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    data = buf.getvalue()
    return Entry(f"{name}.npy", data, 0, len(data), zlib.crc32(data))


def zeros_bomb_entry(name: str, zero_bytes: int) -> Entry:
    """A real deflate member: a uint8 .npy of ``zero_bytes`` zeros (multiple of 1 MiB), ~1000x smaller."""
    assert zero_bytes % MiB == 0
    header = npy_header("|u1", (zero_bytes,))
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = head.compress(header) + head.flush(zlib.Z_FULL_FLUSH)
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = body.compress(bytes(MiB)) + body.flush(zlib.Z_FULL_FLUSH)
    payload = first + segment * (zero_bytes // MiB) + _FINAL_EMPTY_BLOCK
    crc = zlib.crc32(header)
    chunk = bytes(MiB)
    for _ in range(zero_bytes // MiB):
        crc = zlib.crc32(chunk, crc)
    return Entry(f"{name}.npy", payload, 8, len(header) + zero_bytes, crc)


def zeros_checksum(zero_bytes: int) -> str:
    """What parity_format.artifact.array_checksum gives a uint8 array of ``zero_bytes`` zeros, streamed."""
    import hashlib

    digest = hashlib.sha256(f"|u1|{zero_bytes}|".encode())
    chunk = bytes(MiB)
    for _ in range(zero_bytes // MiB):
        digest.update(chunk)
    return digest.hexdigest()


def with_listed_bomb(good: Path, out: Path, member: str, zero_bytes: int) -> Path:
    """``good`` (a valid artifact) plus a zeros bomb member that its manifest lists with the right checksum.

    Such a file is entirely valid: an unguarded reader accepts it after decompressing every byte.
    """
    import json
    import zipfile

    entries = []
    with zipfile.ZipFile(good) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename == "manifest.npy":
                manifest = json.loads(str(np.load(io.BytesIO(data))))
                listed = {"dtype": "|u1", "shape": [zero_bytes], "sha256": zeros_checksum(zero_bytes)}
                manifest["members"][member] = listed
                entries.append(plain_entry("manifest", np.array(json.dumps(manifest))))
            else:
                entries.append(Entry(info.filename, data, 0, len(data), zlib.crc32(data)))
    return write_zip(out, [*entries, zeros_bomb_entry(member, zero_bytes)])


def write_zip(path: Path, entries: list[Entry], *, zip64_sizes: bool = False) -> Path:
    """A zip whose directory states each entry's declared size (ZIP64 records when asked or needed)."""
    out, central, offset = io.BytesIO(), [], 0
    for e in entries:
        name = e.name.encode()
        big = zip64_sizes or e.declared_size >= 0xFFFFFFFF
        sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(e.payload), e.declared_size)
        extra = struct.pack("<HHQQ", 1, 16, e.declared_size, len(e.payload)) if big else b""
        version = 45 if big else 20
        common = (0, e.method, 0, 33, e.crc, *sizes, len(name))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, version, *common, len(extra)) + name + extra + e.payload)
        record = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, *common, len(extra), 0, 0, 0, 0, offset
        )
        central.append(record + name + extra)
        offset += 30 + len(name) + len(extra) + len(e.payload)
    directory = b"".join(central)
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))
    path.write_bytes(out.getvalue())
    return path


def legacy_members(batch: int = 1) -> list[Entry]:
    """What a manifest-less (LeRobot-producer) file minimally holds."""
    return [plain_entry("action_pred", np.zeros((batch, 2, 2), np.float32))]


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int


_WRAPPER = """
import resource, subprocess, sys
try:
    proc = subprocess.run(sys.argv[2:], timeout=float(sys.argv[1]), capture_output=True, text=True)
    code, out, err = proc.returncode, proc.stdout, proc.stderr
except subprocess.TimeoutExpired as exc:
    code, out, err = 124, "", f"TIMEOUT after {exc.timeout}s"
sys.stdout.write(out)
sys.stderr.write(err + "\\n@@peak_kib=%d@@%d" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code))
"""


def measured(code: str, *, timeout: float = 120.0) -> Measured:
    """Run ``python -c code`` (repo on sys.path) in a subprocess; its peak RSS via RUSAGE_CHILDREN.

    The wrapper process waits for exactly one child, so RUSAGE_CHILDREN is that child's peak alone; a
    hang becomes returncode 124 after ``timeout`` instead of a hung test run.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(timeout), sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    err, _, tail = proc.stderr.rpartition("\n@@peak_kib=")
    peak_kib, _, returncode = tail.partition("@@")
    return Measured(int(returncode), proc.stdout, err, int(peak_kib) * 1024)
