"""The producer's departures from the default inputs (issue 27): frame counts, stored camera order, labels."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from producer.embodiments import EmbodimentSpec
from producer.input_variations import InputVariation, store_cameras_in_order, variation_from_args
from producer.observations import build_observation

SPEC = EmbodimentSpec("t", ("front", "wrist"), 2, (("arm", 3),), "task", 4)
STATS = {"arm": {"min": [-1, -1, -1], "max": [1, 1, 1]}}


def test_video_steps_replace_the_horizon_and_change_the_seed_material() -> None:
    default = build_observation(SPEC, STATS, batch_size=2, image_hw=(32, 32), seed=1)
    short = build_observation(SPEC, STATS, batch_size=2, image_hw=(32, 32), seed=1, video_steps=1)
    long = build_observation(SPEC, STATS, batch_size=2, image_hw=(32, 32), seed=1, video_steps=3)
    assert {v.shape[1] for v in default.video.values()} == {2}
    assert {v.shape[1] for v in short.video.values()} == {1}
    assert {v.shape[1] for v in long.video.values()} == {3}
    assert not np.array_equal(default.video["front"][:, :1], short.video["front"])


def test_reversed_order_keeps_every_frame_and_only_reorders() -> None:
    raw = build_observation(SPEC, STATS, batch_size=1, image_hw=(16, 16), seed=0)
    reordered = store_cameras_in_order(raw, "reversed")
    assert list(reordered.video) == ["wrist", "front"]
    assert all(reordered.video[c] is raw.video[c] for c in raw.video)
    assert store_cameras_in_order(raw, "config") is raw


def test_folders_and_provenance() -> None:
    assert InputVariation().folder("256x256", probes=False) == "256x256"
    assert InputVariation().folder("256x256", probes=True) == "probes-256x256"
    assert InputVariation(label="b1").folder("256x256", probes=False) == "b1-256x256"
    assert InputVariation().provenance() == {}
    assert InputVariation(video_steps=1, camera_order="reversed").provenance() == {
        "video_steps": 1,
        "camera_order": "reversed",
    }


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"video_steps": 0}, "--video-steps 0"),
        ({"camera_order": "sorted"}, "--camera-order 'sorted'"),
        ({"label": "Bad/label"}, "--label 'Bad/label'"),
    ],
)
def test_bad_variations_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InputVariation(**kwargs)


def test_a_plan_namespace_without_the_options_gets_the_defaults() -> None:
    assert variation_from_args(argparse.Namespace(probes=False)) == InputVariation()
