"""The LIBERO episode's env members are the original's LiberoEnv conversion of its decoded actions (gr00t needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity_format.artifact import read_artifact
from parity_format.episode_members import MODES, decoded_member
from parity_format.stage_failures import LIBERO_ENV_CONVERSION
from producer.episode import libero_env_members

pytest.importorskip("gr00t", reason="the original gr00t is not installed in this environment")

REPO = Path(__file__).resolve().parents[2]
GOLDEN_LIBERO_EPISODE = REPO / "fixtures" / "golden" / "episode" / "episode_n1_7_libero_sim.npz"
LIBERO_KEYS = ["x", "y", "z", "roll", "pitch", "yaw", "gripper"]


def per_key(flat: np.ndarray) -> dict[str, np.ndarray]:
    """(steps, 7) decoded actions as decode_action returns them: (1, steps, 1) per key."""
    return {key: flat[None, :, i : i + 1] for i, key in enumerate(LIBERO_KEYS)}


def test_golden_episode_env_members_are_the_originals_conversion_of_its_decoded_actions() -> None:
    outputs = read_artifact(GOLDEN_LIBERO_EPISODE).outputs
    env = libero_env_members({mode: per_key(outputs[decoded_member(mode)]) for mode in MODES}, LIBERO_KEYS, None)
    assert sorted(env) == sorted(decoded_member(mode, env=True) for mode in MODES)
    for mode in MODES:
        recorded, plain = outputs[decoded_member(mode, env=True)], outputs[decoded_member(mode)]
        np.testing.assert_array_equal(recorded, env[decoded_member(mode, env=True)])
        np.testing.assert_array_equal(recorded[:, :-1], plain[:, :-1])  # only the gripper changes
        assert set(np.unique(recorded[:, -1])) <= {-1.0, 0.0, 1.0}


def test_a_failing_env_conversion_is_recorded_and_writes_no_member() -> None:
    failures: dict[str, str] = {}
    executed = {mode: {"a": np.zeros((1, 3, 1), np.float32)} for mode in MODES}
    assert libero_env_members(executed, ["a"], failures) == {}
    assert "LiberoEnv.step on action keys ['a']" in failures[LIBERO_ENV_CONVERSION]
    with pytest.raises(KeyError, match=r"action\.x"):  # without a failures dict the original's error propagates
        libero_env_members(executed, ["a"], None)
