"""The seeded episode generator: smooth frames and a smooth state inside the checkpoint's statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from producer.embodiments import embodiment_spec
from producer.episode import EPISODE_IMAGE_HW, EPISODE_STEPS, episode_observation, step_observation
from sources.checkpoint import read_json

REPO = Path(__file__).resolve().parents[2]


def test_episode_moves_smoothly_within_the_statistics() -> None:
    ckpt = REPO / "fixtures" / "tiny-groot-n1.7-alt"  # state and video history: the hardest layout
    spec = embodiment_spec(ckpt, "new_embodiment")
    stats = read_json(ckpt / "statistics.json")["new_embodiment"]["state"]
    raw = episode_observation(spec, stats, seed=42)
    assert EPISODE_STEPS >= 24 and len(set(raw.language)) == 1 and len(raw.language) == EPISODE_STEPS
    for camera, frames in raw.video.items():
        assert frames.shape == (EPISODE_STEPS, spec.video_steps, *EPISODE_IMAGE_HW, 3), camera
        step_change = np.abs(np.diff(frames[:, -1].astype(np.int16), axis=0)).mean()
        assert 0 < step_change < 40  # it moves, a little every step
    for key, values in raw.state.items():
        low, high = np.asarray(stats[key]["min"]), np.asarray(stats[key]["max"])
        assert values.shape[:2] == (EPISODE_STEPS, spec.state_steps)
        assert (values >= low - 1e-3).all() and (values <= high + 1e-3).all(), key
        span = np.maximum(high - low, 1e-3)
        assert (np.abs(np.diff(values[:, -1], axis=0)) <= 0.35 * span).all()  # no jumps
        np.testing.assert_array_equal(values[1:, 0], values[:-1, -1])  # history: the previous step
    one = step_observation(raw, 5)
    assert len(one.language) == 1 and all(v.shape[0] == 1 for v in one.state.values())
    np.testing.assert_array_equal(
        episode_observation(spec, stats, seed=42).video[spec.cameras[0]], raw.video[spec.cameras[0]]
    )
