"""The compact zip container: codec choice, LZMA properties, ZIP64 records, compactness."""

import bz2
import importlib.util
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from parity_format import Artifact, codecs, encoding, read_artifact, write_artifact

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "artifact_size.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("artifact_size_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _infos(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename[: -len(".npy")]: i for i in zf.infolist()}


def test_smallest_codec_is_chosen_per_member(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    art.outputs = {
        "zeros": np.zeros((64, 64), np.float32),
        "noise": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8),
    }
    infos = _infos(write_artifact(art, tmp_path / "x.npz"))
    noise = infos["out::noise"]  # incompressible: at most the .npy header shrinks, never expanded
    assert noise.file_size - 128 <= noise.compress_size <= noise.file_size
    assert infos["out::zeros"].compress_size < 200
    for info in infos.values():
        assert info.compress_size <= info.file_size


def test_float_members_use_element_aligned_lzma_props(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "f4": rng.standard_normal(20_000).astype(np.float32),
        "i8": np.cumsum(rng.integers(0, 9, 20_000)),
    }
    for name, array in arrays.items():
        method, payload, _, _ = codecs.encode_member(array)
        assert method == zipfile.ZIP_LZMA, name
        _, _, size, props, dict_size = struct.unpack("<BBHBI", bytes(payload[:9]))
        lc, lp, pb = props % 9, props // 9 % 5, props // 45
        expected_lp = {"f4": 2, "i8": 3}[name]
        assert (size, lp, pb, lc + lp <= 4) == (5, expected_lp, expected_lp, True)
        assert dict_size >= 4096


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_codec_is_readable_by_plain_np_load(
    tmp_path: Path, make_artifact: Callable[..., Artifact], monkeypatch: pytest.MonkeyPatch, method: int
) -> None:
    def only(data: memoryview, dtype: np.dtype, compression: str) -> Iterator[tuple[int, bytes | memoryview]]:
        encode = {
            zipfile.ZIP_STORED: lambda: data,
            zipfile.ZIP_DEFLATED: lambda: codecs.deflate_member(data),
            zipfile.ZIP_BZIP2: lambda: bz2.compress(data),
            zipfile.ZIP_LZMA: lambda: codecs.lzma_member(data, dtype.itemsize, large=compression),
        }[method]
        yield method, encode()

    monkeypatch.setattr(codecs, "candidates", only)
    art = make_artifact()
    path = write_artifact(art, tmp_path / "x.npz")
    assert {i.compress_type for i in _infos(path).values()} == {method}
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
    with np.load(path) as data:
        assert data["in::inputs.pixel_values"].tobytes() == art.inputs["inputs.pixel_values"].tobytes()
    assert read_artifact(path).action_pred.tobytes() == art.action_pred.tobytes()


def test_zip64_records_are_readable(
    tmp_path: Path, make_artifact: Callable[..., Artifact], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoding, "_ZIP64_LIMIT", 0)  # pretend every size/offset is past 4 GiB
    art = make_artifact()
    path = write_artifact(art, tmp_path / "x.npz")
    data = path.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end record + locator
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert all(i.header_offset < len(data) for i in zf.infolist())
    with np.load(path) as loaded:
        assert loaded["action_pred"].tobytes() == art.action_pred.tobytes()
    assert read_artifact(path).seed == 42


def test_non_ascii_member_names(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    art.outputs["größe"] = np.arange(3, dtype=np.int8)
    path = write_artifact(art, tmp_path / "x.npz")
    with np.load(path) as data:
        assert data["out::größe"].tolist() == [0, 1, 2]
    assert list(read_artifact(path).outputs)[-1] == "größe"


@pytest.mark.parametrize(("compression", "vs_savez_compressed"), [("fast", 0.9), ("small", 0.85)])
def test_compactness_beats_savez_compressed(
    tmp_path: Path, bench: ModuleType, compression: str, vs_savez_compressed: float
) -> None:
    art = bench.tiny_workload(seed=1, batch=1, size=64)
    assert art.inputs["inputs.pixel_values"].shape == (2 * 16, 1536)
    with codecs.MemberEncoder(compression) as encoder:
        ours = write_artifact(art, tmp_path / "ours.npz", encoder)
    with np.load(ours) as data:
        members = {k: data[k] for k in data.files}
    np.savez_compressed(tmp_path / "baseline.npz", **members)
    frames = sum(v.nbytes for v in art.raw.video.values())
    ours_size, baseline = ours.stat().st_size, (tmp_path / "baseline.npz").stat().st_size
    assert ours_size < vs_savez_compressed * baseline
    assert ours_size < 3 * frames
    assert _infos(ours)["in::inputs.pixel_values"].compress_type == zipfile.ZIP_LZMA


def test_small_is_smaller_than_fast_on_quantized_floats() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 128, 256, 3), dtype=np.uint8)
    pixels = ((frames.astype(np.float32) / 255 - 0.5) / 0.5).repeat(2, axis=1)  # pixel_values-like, 1.5 MB
    sizes = {level: len(codecs.encode_member(pixels, level)[1]) for level in codecs.COMPRESSION_LEVELS}
    assert sizes["small"] < 0.95 * sizes["fast"] < 0.95 * pixels.nbytes


def test_unknown_compression_level_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="compression 'tiny': expected one of fast, small"):
        codecs.MemberEncoder("tiny")


def test_benchmark_cli(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    help_text = subprocess.run(
        [sys.executable, str(BENCHMARK), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--artifact" in help_text
    path = write_artifact(make_artifact(), tmp_path / "original_n1_7_x.npz")
    out = subprocess.run(
        [sys.executable, str(BENCHMARK), "--artifact", str(path)], capture_output=True, text=True, check=True
    ).stdout
    size, video = path.stat().st_size, 2 * 2 * 4 * 5 * 3
    assert f"{size:,}" in out and f"{video:,}" in out and f"{size / video:.3f}" in out
