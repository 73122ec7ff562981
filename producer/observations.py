"""Seeded raw observations that exercise the preprocessing, built from an EmbodimentSpec.

What is exercised and why:
- frames are uniform uint8 noise: any resampling or colour-order difference shows up everywhere;
- each batch element gets a different instruction, in mixed case with punctuation, so tokenizer
  lower-casing/punctuation stripping and left padding (different lengths) are both on the path;
- state values spread 25% beyond the statistics' [min, max], and one is pushed far out, so the
  outlier clipping of both normalizers is compared, not just the linear part.
"""

from __future__ import annotations

import zlib

import numpy as np

from parity_format.artifact import RawObservation
from producer.embodiments import EmbodimentSpec

INSTRUCTIONS = (
    "Pick up the BLACK bowl, then place it on the plate!",
    "Open the top drawer... and put the Cream-Cheese inside?",
    "turn ON the stove; move the moka pot onto it.",
)


def build_observation(
    spec: EmbodimentSpec,
    statistics: dict[str, dict[str, list[float]]],
    *,
    batch_size: int,
    image_hw: tuple[int, int],
    seed: int,
) -> RawObservation:
    height, width = image_hw
    rng = np.random.default_rng([seed, zlib.crc32(spec.tag.encode()), height, width])
    video = {
        camera: rng.integers(0, 256, (batch_size, spec.video_steps, height, width, 3), dtype=np.uint8)
        for camera in spec.cameras
    }
    state: dict[str, np.ndarray] = {}
    for key, dim in spec.state:
        low = np.asarray(statistics[key]["min"], dtype=np.float64)
        high = np.asarray(statistics[key]["max"], dtype=np.float64)
        span = np.maximum(high - low, 1e-3)
        values = rng.uniform(low - 0.25 * span, high + 0.25 * span, (batch_size, 1, dim))
        if dim:
            values[-1, 0, 0] = high[0] + 3.0 * span[0]  # far outside: clipping must agree
        state[key] = values.astype(np.float32)
    language = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(batch_size)]
    return RawObservation(video=video, state=state, language=language)


def parse_image_size(text: str) -> tuple[int, int]:
    """'240x320' -> (240, 320): height x width, as cameras report them."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"image size {text!r} must be HxW with positive integers, e.g. 256x256 or 240x320")
    return int(parts[0]), int(parts[1])
