"""A remembered hash is reused for the very same files only, and a broken cache costs only the recomputation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sources import remembered_hashes
from sources.checkpoint import checkpoint_fingerprint, content_fingerprint
from sources.remembered_hashes import remembered


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(remembered_hashes.ENV_CACHE, str(root))
    return root


def counting(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        return value

    return calls, compute


def test_the_same_files_reuse_the_value(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    calls, compute = counting({"h": "1"})
    assert remembered("k", [path], compute) == {"h": "1"}
    assert remembered("k", [path], compute) == {"h": "1"}
    assert len(calls) == 1
    assert remembered("other kind", [path], compute) == {"h": "1"} and len(calls) == 2


def test_a_rewritten_or_replaced_file_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    calls, compute = counting("v")
    remembered("k", [path], compute)
    stat = path.stat()
    path.write_bytes(b"abd")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # modification time set back: the change time moved
    remembered("k", [path], compute)
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"abd")
    os.replace(replacement, path)  # another inode
    remembered("k", [path], compute)
    assert len(calls) == 3


def test_an_unreadable_cache_entry_is_recomputed_and_rewritten(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    calls, compute = counting([1, 2])
    remembered("k", [path], compute)
    (entry,) = (cache / "hashes").glob("*.json")
    entry.write_text("{not json")
    assert remembered("k", [path], compute) == [1, 2]
    assert remembered("k", [path], compute) == [1, 2]
    assert len(calls) == 2
    assert not list((cache / "hashes").glob("*.tmp"))


def test_an_unwritable_cache_still_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv(remembered_hashes.ENV_CACHE, str(blocker))
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    calls, compute = counting("v")
    assert remembered("k", [path], compute) == remembered("k", [path], compute) == "v"
    assert len(calls) == 2


def safetensors_file(path: Path, payload: bytes) -> None:
    header = b'{"t":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}' % (len(payload), len(payload))
    path.write_bytes(len(header).to_bytes(8, "little") + header + payload)


def test_fingerprints_are_the_same_remembered_or_not_and_follow_an_edit(tmp_path: Path, cache: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"a": 1}')
    safetensors_file(ckpt / "model.safetensors", b"\x01\x02")
    first = (checkpoint_fingerprint(ckpt), content_fingerprint(ckpt)["digest"])
    assert list((cache / "hashes").glob("*.json"))
    assert (checkpoint_fingerprint(ckpt), content_fingerprint(ckpt)["digest"]) == first
    safetensors_file(ckpt / "model.safetensors", b"\x01\x03")
    edited = (checkpoint_fingerprint(ckpt), content_fingerprint(ckpt)["digest"])
    assert edited[0] != first[0] and edited[1] != first[1]
