from __future__ import annotations

import numpy as np
import pytest

from producer.embodiments import EmbodimentSpec
from producer.observations import build_observation, parse_image_size

SPEC = EmbodimentSpec("t", ("front", "wrist"), 1, (("arm", 3), ("grip", 1), ("empty", 0)), "task", 4)
STATS = {
    "arm": {"min": [-1, -1, -1], "max": [1, 1, 1]},
    "grip": {"min": [0], "max": [1]},
    "empty": {"min": [], "max": []},
}


def test_shapes_dtypes_and_layout() -> None:
    obs = build_observation(SPEC, STATS, batch_size=3, image_hw=(240, 320), seed=1)
    assert list(obs.video) == ["front", "wrist"]
    assert all(v.shape == (3, 1, 240, 320, 3) and v.dtype == np.uint8 for v in obs.video.values())
    assert [(k, v.shape, v.dtype) for k, v in obs.state.items()] == [
        ("arm", (3, 1, 3), np.float32),
        ("grip", (3, 1, 1), np.float32),
        ("empty", (3, 1, 0), np.float32),
    ]
    assert len(obs.language) == 3 and len(set(obs.language)) == 3


def test_seeded_and_distinct_per_size_and_seed() -> None:
    a = build_observation(SPEC, STATS, batch_size=2, image_hw=(64, 64), seed=7)
    b = build_observation(SPEC, STATS, batch_size=2, image_hw=(64, 64), seed=7)
    c = build_observation(SPEC, STATS, batch_size=2, image_hw=(64, 64), seed=8)
    assert np.array_equal(a.video["front"], b.video["front"]) and np.array_equal(a.state["arm"], b.state["arm"])
    assert not np.array_equal(a.video["front"], c.video["front"])


def test_state_exercises_clipping_and_language_exercises_formalization() -> None:
    obs = build_observation(SPEC, STATS, batch_size=2, image_hw=(32, 32), seed=0)
    arm = obs.state["arm"]
    assert arm.max() > 1.0 and arm[-1, 0, 0] >= 1.0 + 3 * 2  # far outside [min, max]
    assert any(ch in text for text in obs.language for ch in "!?,;")
    assert any(text != text.lower() for text in obs.language)


@pytest.mark.parametrize("text,hw", [("256x256", (256, 256)), ("240X320", (240, 320))])
def test_parse_image_size(text: str, hw: tuple[int, int]) -> None:
    assert parse_image_size(text) == hw


@pytest.mark.parametrize("text", ["256", "0x10", "axb", "1x2x3", "-1x4"])
def test_parse_image_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="HxW"):
        parse_image_size(text)
