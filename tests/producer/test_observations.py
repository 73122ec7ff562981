from __future__ import annotations

import numpy as np
import pytest

from producer.embodiments import EmbodimentSpec
from producer.observations import (
    LONG_INSTRUCTION_CHARS,
    build_observation,
    camera_sizes,
    parse_camera_sizes,
    parse_image_size,
    size_label,
)

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


HISTORY = EmbodimentSpec("h", ("front", "wrist"), 2, (("arm", 3),), "task", 4, state_steps=2)


def test_history_gives_every_camera_and_state_key_its_steps_and_clips_the_latest() -> None:
    obs = build_observation(HISTORY, STATS, batch_size=2, image_hw=(16, 16), seed=0)
    assert obs.state["arm"].shape == (2, 2, 3) and obs.video["front"].shape == (2, 2, 16, 16, 3)
    assert obs.state["arm"][-1, -1, 0] >= 1.0 + 3 * 2  # the outlier sits in the latest step
    assert not np.array_equal(obs.state["arm"][:, 0], obs.state["arm"][:, 1])


def test_per_camera_sizes_in_camera_order_and_uniform_size_keeps_its_inputs() -> None:
    obs = build_observation(SPEC, STATS, batch_size=1, image_hw=[(24, 32), (16, 16)], seed=0)
    assert obs.video["front"].shape[2:4] == (24, 32) and obs.video["wrist"].shape[2:4] == (16, 16)
    assert camera_sizes(("a", "b", "c"), [(1, 2)]) == {"a": (1, 2), "b": (1, 2), "c": (1, 2)}
    one = build_observation(SPEC, STATS, batch_size=1, image_hw=(8, 8), seed=3)
    same = build_observation(SPEC, STATS, batch_size=1, image_hw=[(8, 8)], seed=3)
    assert np.array_equal(one.video["front"], same.video["front"])


def test_probes_cover_each_edge_case_generically() -> None:
    obs = build_observation(SPEC, STATS, batch_size=3, image_hw=(16, 16), seed=0, probes=True)
    unicode_text, long_text, empty = obs.language
    assert any(ord(ch) > 0x2000 for ch in unicode_text) and any(ch.isupper() for ch in unicode_text)
    assert len(long_text) == LONG_INSTRUCTION_CHARS and empty == ""
    arm = obs.state["arm"]
    assert np.array_equal(arm[0, 0], [-1, -1, -1]) and np.array_equal(arm[1, 0], [1, 1, 1])  # exactly at bounds
    assert arm[2, 0, 0] < -1 - 10 and arm[2, 0, 1] > 1 + 10  # beyond both bounds
    assert np.array_equal(obs.video["front"][:2], obs.video["wrist"][:2])  # identical frames across cameras
    assert not np.array_equal(obs.video["front"][2], obs.video["wrist"][2])
    plain = build_observation(SPEC, STATS, batch_size=3, image_hw=(16, 16), seed=0)
    assert not np.array_equal(plain.video["front"], obs.video["front"])  # probes draw their own frames


def test_camera_size_specs() -> None:
    assert parse_camera_sizes("480x640+256x256") == [(480, 640), (256, 256)]
    assert size_label(parse_camera_sizes("480x640+256x256")) == "480x640+256x256"
    assert size_label([(256, 256)]) == "256x256"
    with pytest.raises(ValueError, match="HxW"):
        parse_camera_sizes("480x640+")
