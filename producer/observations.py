"""Seeded raw observations that exercise the preprocessing, built from an EmbodimentSpec.

What is exercised and why:
- frames are uniform uint8 noise: any resampling or colour-order difference shows up everywhere;
  each camera can have its own size (real robots mix resolutions), and every camera and the state
  get as many steps as the checkpoint's ``delta_indices`` ask for (history);
- each batch element gets a different instruction, in mixed case with punctuation, so tokenizer
  lower-casing/punctuation stripping and left padding (different lengths) are both on the path;
- state values spread 25% beyond the statistics' [min, max], and one is pushed far out, so the
  outlier clipping of both normalizers is compared, not just the linear part.

``probes=True`` swaps in edge cases instead (one per batch element, cycling through PROBES), the same
for every tag: Unicode, a long and an empty instruction; state exactly at the statistics' min, at
their max and far beyond both; frames identical across same-sized cameras.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from parity_format.artifact import RawObservation
from producer.embodiments import EmbodimentSpec

INSTRUCTIONS = (
    "Pick up the BLACK bowl, then place it on the plate!",
    "Open the top drawer... and put the Cream-Cheese inside?",
    "turn ON the stove; move the moka pot onto it.",
)
# The original's simulation environments declare instructions as gym Text(max_length=512).
LONG_INSTRUCTION_CHARS = 512
UNICODE_INSTRUCTION = "Stelle die Tasse ÜBER das Regal — 把杯子放进柜子里, café naïve İstanbul ß ½ ✓!"
PROBES = ("unicode+state_at_min+same_frames", "long+state_at_max+same_frames", "empty+state_beyond_bounds")

ImageSize = tuple[int, int]


def camera_sizes(cameras: Sequence[str], sizes: Sequence[ImageSize]) -> dict[str, ImageSize]:
    """Per-camera (H, W) in camera order; a camera past the end of ``sizes`` gets the last one."""
    if not sizes:
        raise ValueError("at least one image size is needed")
    return {camera: tuple(sizes[min(i, len(sizes) - 1)]) for i, camera in enumerate(cameras)}  # type: ignore[misc]


def build_observation(
    spec: EmbodimentSpec,
    statistics: dict[str, dict[str, list[float]]],
    *,
    batch_size: int,
    image_hw: ImageSize | Sequence[ImageSize],
    seed: int,
    probes: bool = False,
    video_steps: int | None = None,
) -> RawObservation:
    """``video_steps``: frames per camera instead of the checkpoint's horizon (``spec.video_steps``)."""
    sizes: list[ImageSize] = [image_hw] if isinstance(image_hw[0], int) else list(image_hw)  # type: ignore[list-item]
    per_camera = camera_sizes(spec.cameras, sizes)
    # one uniform size keeps the seed material (and so the golden inputs) of earlier artifacts
    dims = [d for hw in sizes for d in hw] if len(sizes) > 1 else list(sizes[0])
    # other frame counts are other seed material; the default keeps that of earlier artifacts
    steps = [] if video_steps is None else [2, video_steps]
    rng = np.random.default_rng([seed, zlib.crc32(spec.tag.encode()), *dims, *([1] if probes else []), *steps])
    frames = spec.video_steps if video_steps is None else video_steps
    video = {
        camera: rng.integers(0, 256, (batch_size, frames, h, w, 3), dtype=np.uint8)
        for camera, (h, w) in per_camera.items()
    }
    state: dict[str, np.ndarray] = {}
    for key, dim in spec.state:
        low = np.asarray(statistics[key]["min"], dtype=np.float64)
        high = np.asarray(statistics[key]["max"], dtype=np.float64)
        span = np.maximum(high - low, 1e-3)
        values = rng.uniform(low - 0.25 * span, high + 0.25 * span, (batch_size, spec.state_steps, dim))
        if dim:
            values[-1, -1, 0] = high[0] + 3.0 * span[0]  # far outside: clipping must agree
        state[key] = values.astype(np.float32)
    language = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(batch_size)]
    raw = RawObservation(video=video, state=state, language=language)
    if probes:
        apply_probes(raw, statistics)
    return raw


def apply_probes(raw: RawObservation, statistics: dict[str, dict[str, list[float]]]) -> None:
    """Batch element i becomes probe PROBES[i % len(PROBES)], in place; nothing depends on the tag."""
    batch = len(raw.language)
    cameras = list(raw.video)
    for i in range(batch):
        kind = PROBES[i % len(PROBES)]
        if kind.startswith("unicode"):
            raw.language[i] = UNICODE_INSTRUCTION
        elif kind.startswith("long"):
            words = " ".join(INSTRUCTIONS)
            raw.language[i] = (words + " ") * (LONG_INSTRUCTION_CHARS // len(words) + 1)
            raw.language[i] = raw.language[i][:LONG_INSTRUCTION_CHARS]
        elif kind.startswith("empty"):
            raw.language[i] = ""
        for key, values in raw.state.items():
            low = np.asarray(statistics[key]["min"], dtype=np.float32)
            high = np.asarray(statistics[key]["max"], dtype=np.float32)
            if "state_at_min" in kind:
                values[i] = low
            elif "state_at_max" in kind:
                values[i] = high
            elif "beyond" in kind:
                span = np.maximum(high - low, np.float32(1e-3))
                beyond = np.where(np.arange(values.shape[-1]) % 2 == 0, low - 10 * span, high + 10 * span)
                values[i] = beyond.astype(np.float32)
        if "same_frames" in kind:
            first = raw.video[cameras[0]]
            for camera in cameras[1:]:
                if raw.video[camera].shape == first.shape:
                    raw.video[camera][i] = first[i]


def parse_image_size(text: str) -> tuple[int, int]:
    """'240x320' -> (240, 320): height x width, as cameras report them."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"image size {text!r} must be HxW with positive integers, e.g. 256x256 or 240x320")
    return int(parts[0]), int(parts[1])


def parse_camera_sizes(text: str) -> list[tuple[int, int]]:
    """'480x640+256x256' -> per-camera sizes in camera order; '256x256' -> one size for every camera."""
    return [parse_image_size(part) for part in text.split("+")]


def size_label(sizes: Sequence[ImageSize]) -> str:
    """The artifact sub-directory for a size spec: '256x256', or '480x640+256x256' when cameras differ."""
    return "+".join(f"{h}x{w}" for h, w in sizes)
