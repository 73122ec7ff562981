"""MemberEncoder: compressing large members ahead of the write, found again by content."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from parity_format import Artifact, codecs, read_artifact, write_artifact


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of every array encode_member compressed."""
    calls: list[int] = []
    real = codecs.encode_member

    def counting(array: np.ndarray, compression: str) -> codecs.Encoded:
        calls.append(array.nbytes)
        return real(array, compression)

    monkeypatch.setattr(codecs, "encode_member", counting)
    return calls


@pytest.fixture
def big_artifact(make_artifact: Callable[..., Artifact]) -> Iterator[Artifact]:
    art = make_artifact()
    frames = np.random.default_rng(3).integers(0, 256, (2, 128, 256, 3), dtype=np.uint8)
    art.inputs["inputs.pixel_values"] = ((frames.astype(np.float32) / 255 - 0.5) / 0.5).repeat(2, axis=1)
    yield art


def test_prefetched_member_is_compressed_once_and_the_file_is_unchanged(
    tmp_path: Path, big_artifact: Artifact, counted: list[int]
) -> None:
    plain = write_artifact(big_artifact, tmp_path / "plain.npz")
    pixels = big_artifact.inputs["inputs.pixel_values"]
    assert counted.count(pixels.nbytes) == 1
    counted.clear()
    with codecs.MemberEncoder() as encoder:
        encoder.prefetch([pixels.copy()])  # another object with the same content
        assert counted.count(pixels.nbytes) <= 1  # a worker may already be on it
        ahead = write_artifact(big_artifact, tmp_path / "ahead.npz", encoder)
        assert encoder.prefetched == 0  # the write took it
    assert counted.count(pixels.nbytes) == 1
    assert ahead.read_bytes() == plain.read_bytes()  # same codec choice, byte for byte


def test_prefetch_skips_small_arrays_and_dedups_equal_ones(big_artifact: Artifact, counted: list[int]) -> None:
    pixels = big_artifact.inputs["inputs.pixel_values"]
    with codecs.MemberEncoder() as encoder:
        encoder.prefetch([pixels, pixels.copy(), np.zeros(10, np.float32)])
        assert encoder.prefetched == 1
    assert counted in ([], [pixels.nbytes])  # close() may cancel a job not yet started


def test_discarded_prefetch_is_not_used(tmp_path: Path, big_artifact: Artifact, counted: list[int]) -> None:
    pixels = big_artifact.inputs["inputs.pixel_values"]
    with codecs.MemberEncoder() as encoder:
        encoder.prefetch([pixels])
        assert encoder.prefetched == 1
        encoder.discard([pixels.copy()])
        assert encoder.prefetched == 0
        path = write_artifact(big_artifact, tmp_path / "x.npz", encoder)
    assert counted.count(pixels.nbytes) in (1, 2)  # compressed for the write (and maybe before the discard)
    assert read_artifact(path).inputs["inputs.pixel_values"].tobytes() == pixels.tobytes()


def test_one_encoder_serves_several_artifacts_at_its_level(tmp_path: Path, big_artifact: Artifact) -> None:
    sizes = {}
    for level in codecs.COMPRESSION_LEVELS:
        with codecs.MemberEncoder(level) as encoder:
            paths = [write_artifact(big_artifact, tmp_path / f"{level}{i}.npz", encoder) for i in range(2)]
        assert paths[0].read_bytes() == paths[1].read_bytes()
        sizes[level] = paths[0].stat().st_size
        back = read_artifact(paths[0]).inputs["inputs.pixel_values"]
        assert back.tobytes() == big_artifact.inputs["inputs.pixel_values"].tobytes()
    assert sizes["small"] < sizes["fast"]


def test_producer_benchmark_size_and_codec_tables(tmp_path: Path, big_artifact: Artifact) -> None:
    """The numbers behind the codec policy come from this benchmark (gr00t is needed only for timing)."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "producer_phases.py"
    path = write_artifact(big_artifact, tmp_path / "original_n1_7_libero_sim.npz")
    sizes = subprocess.run([sys.executable, str(script), "sizes", str(path)], capture_output=True, text=True)
    assert sizes.returncode == 0, sizes.stderr
    row = sizes.stdout.splitlines()[-1]
    assert row.startswith(f"| `{path}` | 0.") and f"({path.stat().st_size:,} B)" in row
    table = subprocess.run([sys.executable, str(script), "codecs", str(path)], capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "lzma-fast" in table.stdout and "lzma-small" in table.stdout
    assert "in::inputs.pixel_values" in table.stdout and "lzma 0." in table.stdout  # the codec it chose
