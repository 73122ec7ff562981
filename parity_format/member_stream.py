"""Bounded reading of one zip member: never more output than asked for, never more than declared.

WHY not ``zipfile.ZipFile.open``: for BZIP2 and LZMA members it decompresses each chunk it reads
without an output limit, so a few kB of a bzip2 bomb become gigabytes in one call, before any caller
can stop it. Here every decoder call gets ``max_length``, output beyond the member's declared size is
corruption, and the CRC is checked at the end, so memory is bounded by what the caller requests.
"""

from __future__ import annotations

import bz2
import lzma
import os
import struct
import zipfile
import zlib
from typing import Any, BinaryIO

_INPUT_CHUNK = 1 << 16
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIGNATURE = 0x04034B50
_EOCD_SIGNATURE = b"PK\x05\x06"
_LOCATOR64_SIGNATURE = b"PK\x06\x07"
_EOCD64_SIGNATURE = b"PK\x06\x06"


class MemberFormatError(ValueError):
    """The member's bytes contradict its directory entry (size, CRC, method, truncation)."""


def archive_size(fp: BinaryIO) -> int:
    """Size in bytes of the open archive file."""
    try:
        return os.fstat(fp.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        position = fp.tell()
        size = fp.seek(0, os.SEEK_END)
        fp.seek(position)
        return size


def declared_directory_size(fp: BinaryIO, size: int) -> int:
    """Central-directory size the end records declare (the larger of the classic and ZIP64 records), else 0.

    WHY: zipfile builds one ZipInfo per entry of the directory, ~10x its bytes in memory; checking its
    declared size first keeps a file of millions of tiny entries from being parsed at all.
    """
    tail_len = min(size, 22 + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or at + 22 > len(tail):
        return 0  # not a zip: zipfile says so
    declared = struct.unpack_from("<I", tail, at + 12)[0]
    if at >= 20 and tail[at - 20 : at - 16] == _LOCATOR64_SIGNATURE:
        eocd64_offset = struct.unpack_from("<Q", tail, at - 20 + 8)[0]
        if eocd64_offset + 56 <= size:
            fp.seek(eocd64_offset)
            record = fp.read(56)
            if record[:4] == _EOCD64_SIGNATURE:
                declared = max(declared, struct.unpack_from("<Q", record, 40)[0])
    return declared


class MemberStream:
    """File-like ``read(n)`` over one member's decompressed bytes, bounded by ``n`` and the declared size."""

    def __init__(self, fp: BinaryIO, info: zipfile.ZipInfo, size_of_archive: int) -> None:
        if info.flag_bits & 0x1:
            raise MemberFormatError("encrypted member")
        fp.seek(info.header_offset)
        local = fp.read(_LOCAL_HEADER.size)
        if len(local) < _LOCAL_HEADER.size or _LOCAL_HEADER.unpack(local)[0] != _LOCAL_SIGNATURE:
            raise MemberFormatError("bad local header (truncated or corrupt archive)")
        name_len, extra_len = _LOCAL_HEADER.unpack(local)[-2:]
        self._fp, self._info = fp, info
        self._pos = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if self._pos + info.compress_size > size_of_archive:
            raise MemberFormatError(
                f"declares {info.compress_size} compressed bytes, more than the archive holds (truncated?)"
            )
        self._compressed_left = info.compress_size
        self._produced, self._crc = 0, 0
        self._method = info.compress_type
        self._decoder: Any = None
        if self._method == zipfile.ZIP_DEFLATED:
            self._decoder = zlib.decompressobj(-15)
        elif self._method == zipfile.ZIP_BZIP2:
            self._decoder = bz2.BZ2Decompressor()
        elif self._method == zipfile.ZIP_LZMA:
            self._decoder = self._lzma_decoder()
        elif self._method != zipfile.ZIP_STORED:
            raise MemberFormatError(f"unsupported compression method {self._method}")

    def _raw(self, limit: int) -> bytes:
        count = min(limit, self._compressed_left)
        if count <= 0:
            return b""
        self._fp.seek(self._pos)
        data = self._fp.read(count)
        if len(data) != count:
            raise MemberFormatError("compressed data ends early (truncated archive)")
        self._pos += count
        self._compressed_left -= count
        return data

    def _lzma_decoder(self) -> lzma.LZMADecompressor:
        head = self._raw(4)
        if len(head) < 4:
            raise MemberFormatError("LZMA member without its properties header")
        props_size = struct.unpack("<H", head[2:4])[0]
        props = self._raw(props_size)
        if props_size != 5 or len(props) != 5:
            raise MemberFormatError(f"LZMA properties of {props_size} bytes (expected 5)")
        packed, dict_size = props[0], struct.unpack("<I", props[1:5])[0]
        if packed >= 9 * 5 * 5:
            raise MemberFormatError("invalid LZMA properties")
        lc, rest = packed % 9, packed // 9
        lzma1 = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": rest % 5, "pb": rest // 5, "dict_size": dict_size}
        return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])

    def _decode(self, limit: int) -> bytes:
        """Up to ``limit`` more output bytes; b"" once nothing more can come."""
        decoder: Any = self._decoder
        if decoder is None:
            return self._raw(limit)
        if self._method == zipfile.ZIP_DEFLATED:
            while not decoder.eof:
                data = decoder.unconsumed_tail or self._raw(_INPUT_CHUNK)
                if not data:
                    return b""
                out = decoder.decompress(data, limit)
                if out:
                    return out
            return b""
        while not decoder.eof:
            data = self._raw(_INPUT_CHUNK) if decoder.needs_input else b""
            if decoder.needs_input and not data:
                return b""
            out = decoder.decompress(data, max_length=limit)
            if out:
                return out
        return b""

    def read(self, n: int = -1) -> bytes:
        """At most ``n`` bytes (the rest of the declared size when n < 0); never past the declared size."""
        left = self._info.file_size - self._produced
        n = left if n is None or n < 0 else min(n, left)
        chunks, got = [], 0
        while got < n:
            piece = self._decode(n - got)
            if not piece:
                break
            chunks.append(piece)
            got += len(piece)
        data = b"".join(chunks)
        self._produced += len(data)
        self._crc = zlib.crc32(data, self._crc)
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` (bounded chunks); returns the count written."""
        filled = 0
        while filled < len(buffer):
            data = self.read(min(len(buffer) - filled, 1 << 20))
            if not data:
                break
            buffer[filled : filled + len(data)] = data
            filled += len(data)
        return filled

    def tell(self) -> int:
        return self._produced

    def finish(self) -> None:
        """After reading everything: the member must end exactly at its declared size with a matching CRC."""
        if self._produced != self._info.file_size:
            raise MemberFormatError(
                f"decompresses to {self._produced} bytes, less than its declared {self._info.file_size}"
            )
        if self._decode(1):
            raise MemberFormatError(f"decompresses to more than its declared {self._info.file_size} bytes")
        if self._crc != self._info.CRC:
            raise MemberFormatError(f"CRC mismatch (stored {self._info.CRC:08x}, computed {self._crc:08x})")
