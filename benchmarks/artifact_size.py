"""Artifact size benchmark: how compact is write_artifact compared to np.savez / np.savez_compressed?

The synthetic "tiny workload" mimics what the producer records for one embodiment tag with the
shapes of the real collated tensors (values are plausible, not real):

* raw::video.front / raw::video.wrist: uint8 random noise (B=2, T=1, 256, 256, 3); their 786,432
  bytes are the denominator of every ratio below ("raw frames").
* in::inputs.pixel_values: the same frames as Qwen3-VL patches, float32 (4 images * 256, 1536):
  patch 16, temporal_patch_size 2 (each frame duplicated in time), 2x2 merge blocks, row layout
  [channel 3][temporal 2][16][16], value = (u / 255 - 0.5) / 0.5, so at most 256 distinct floats.
* in::inputs.input_ids / attention_mask int64 (2, 300) (text tokens, 2 x 64 image-pad tokens,
  right padding), image_grid_thw int64 (4, 3) = [1, 16, 16], state float32 (2, 1, 29),
  embodiment_id int32 (2,); action_pred float32 (2, 40, 29); raw state and language.

Information floor: the noise frames are incompressible (1.0x), and pixel_values carries the same
786,432 random bytes again in a member that the zip container compresses independently, so no
.npz of this content can be below ~2.0x plus the other members.

Usage:
    python benchmarks/artifact_size.py                 # synthetic tiny workload
    python benchmarks/artifact_size.py --artifact A.npz [B.npz ...]   # ratio of real artifacts
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from parity_format import encoding
from parity_format.artifact import Artifact, RawObservation, read_artifact, write_artifact

T = TypeVar("T")
IMAGE_PAD, VISION_START, VISION_END, PAD = 151655, 151652, 151653, 151643
CODECS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2"}
CODECS[zipfile.ZIP_LZMA] = "lzma"


def qwen3vl_patches(frame: np.ndarray, patch: int = 16, temporal: int = 2, merge: int = 2) -> np.ndarray:
    """One (H, W, C) uint8 frame as Qwen3-VL-style flattened patches, float32 (H*W/patch^2, C*T*p*p)."""
    height, width, channels = frame.shape
    x = (frame.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    x = np.broadcast_to(x.transpose(2, 0, 1)[None], (temporal, channels, height, width))
    gh, gw = height // patch, width // patch
    x = x.reshape(temporal, channels, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.transpose(2, 5, 3, 6, 1, 0, 4, 7)  # merge blocks, then [channel][temporal][py][px] per row
    return np.ascontiguousarray(x.reshape(gh * gw, channels * temporal * patch * patch))


def tiny_workload(
    seed: int = 0, batch: int = 2, size: int = 256, cameras: tuple[str, ...] = ("front", "wrist")
) -> Artifact:
    """The synthetic artifact described in the module docstring (smaller with batch/size/cameras)."""
    rng = np.random.default_rng(seed)
    video = {cam: rng.integers(0, 256, (batch, 1, size, size, 3), dtype=np.uint8) for cam in cameras}
    pixel_values = np.concatenate([qwen3vl_patches(video[cam][b, 0]) for b in range(batch) for cam in cameras])
    image_tokens = (size // 32) ** 2  # 16x16 patches merged 2x2
    text = rng.integers(0, 150_000, 300, dtype=np.int64)
    row = np.concatenate(
        [text[:30], *([VISION_START], [IMAGE_PAD] * image_tokens, [VISION_END]) * len(cameras), text[30:90]]
    )
    length = 300
    input_ids = np.full((batch, length), PAD, dtype=np.int64)
    attention_mask = np.zeros((batch, length), dtype=np.int64)
    for b in range(batch):
        used = min(len(row) - 5 * b, length)
        input_ids[b, :used], attention_mask[b, :used] = row[:used], 1
    state = {"joints": rng.standard_normal((batch, 1, 7)).astype(np.float32)}
    state["gripper"] = rng.standard_normal((batch, 1, 2)).astype(np.float32)
    state["eef"] = np.zeros((batch, 1, 0), dtype=np.float32)
    inputs = {
        "inputs.input_ids": input_ids,
        "inputs.attention_mask": attention_mask,
        "inputs.pixel_values": pixel_values,
        "inputs.image_grid_thw": np.tile(
            np.array([[1, size // 16, size // 16]], dtype=np.int64), (batch * len(cameras), 1)
        ),
        "inputs.state": rng.standard_normal((batch, 1, 29)).astype(np.float32),
        "inputs.embodiment_id": np.full(batch, 3, dtype=np.int32),
    }
    return Artifact(
        embodiment_tag="libero_sim",
        seed=42,
        action_pred=rng.standard_normal((batch, 40, 29)).astype(np.float32),
        inputs=inputs,
        input_torch_dtypes={k: f"torch.{v.dtype.name}" for k, v in inputs.items()},
        raw=RawObservation(
            video=video, state=state, language=["pick up the black bowl and place it on the plate"] * batch
        ),
        provenance={"benchmark": "tiny_workload", "seed": seed},
    )


def _timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def _load_all(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def benchmark(seed: int) -> None:
    art = tiny_workload(seed)
    assert art.raw is not None
    frames = sum(v.nbytes for v in art.raw.video.values())
    shape = art.inputs["inputs.pixel_values"].shape
    print(f"tiny workload: raw frames = {frames:,} bytes; pixel_values {shape}\n")
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "original_n1_7_libero_sim.npz"
        _, write_s = _timed(write_artifact, art, ours)
        members, _ = _timed(_load_all, ours)  # identical content for the np.savez baselines
        rows = []
        for name, saver in (("np.savez", np.savez), ("np.savez_compressed", np.savez_compressed)):
            path = Path(tmp) / f"{name}.npz"
            _, seconds = _timed(lambda p=path, s=saver: s(p, **members))
            _, read_s = _timed(_load_all, path)
            rows.append((name, path.stat().st_size, seconds, read_s, "np.load"))
        _, read_s = _timed(read_artifact, ours)
        rows.append(("write_artifact", ours.stat().st_size, write_s, read_s, "read_artifact (verifies sha256)"))
        _, np_read_s = _timed(_load_all, ours)
        rows.append(("write_artifact", ours.stat().st_size, write_s, np_read_s, "np.load"))
        print(f"{'writer':<20} {'bytes':>11} {'x raw frames':>12} {'write s':>8} {'read s':>7}  read with")
        for name, size, w, r, how in rows:
            print(f"{name:<20} {size:>11,} {size / frames:>12.3f} {w:>8.2f} {r:>7.2f}  {how}")
        print(f"\nper member (write_artifact), file total {ours.stat().st_size:,} bytes:")
        print(f"{'member':<28} {'.npy bytes':>11} {'stored':>10} {'x raw frames':>12}  codec")
        with zipfile.ZipFile(ours) as zf:
            for info in zf.infolist():
                ratio = info.compress_size / frames
                print(
                    f"{info.filename[:-4]:<28} {info.file_size:>11,} {info.compress_size:>10,} {ratio:>12.4f}"
                    f"  {CODECS[info.compress_type]}"
                )


def report_artifacts(paths: list[Path]) -> None:
    """Real artifacts: file bytes over raw-frame bytes, and where the stored bytes go, per member group."""
    groups = ("raw::video.", "in::", "out::stage.", "out::", "")
    names = [str(p) for p in paths]
    width = max(len(n) for n in [*names, "artifact"])
    head = f"{'artifact':<{width}} {'file bytes':>11} {'raw frames':>11} {'ratio':>6}"
    print(head + "   stored bytes: " + " | ".join(g or "other" for g in groups))
    for path, name in zip(paths, names, strict=True):
        with encoding.open_npz(path) as zf:
            headers = encoding.read_headers(path, zf)
            stored = dict.fromkeys(groups, 0)
            for info in zf.infolist():
                member = info.filename.removesuffix(".npy")
                stored[next(g for g in groups if member.startswith(g))] += info.compress_size
        video = sum(math.prod(h.shape) * h.dtype.itemsize for n, h in headers.items() if n.startswith("raw::video."))
        size = path.stat().st_size
        ratio = f"{size / video:6.3f}" if video else "   n/a"
        split = " | ".join(f"{stored[g]:,}" for g in groups)
        print(f"{name:<{width}} {size:>11,} {video:>11,} {ratio}   {split}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", nargs="+", type=Path, metavar="PATH", help="report real artifact files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic workload (default 0)")
    args = parser.parse_args(argv)
    if args.artifact:
        report_artifacts(args.artifact)
    else:
        benchmark(args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
