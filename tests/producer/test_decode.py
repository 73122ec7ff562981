"""The producer's decode recording runs the ORIGINAL's functions (gr00t in the producer env)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from producer.decode import PROBE_EDGES, SIMULATOR_MODULES, libero_env_actions, probe_actions

pytest.importorskip("gr00t", reason="the original gr00t is not installed in this environment")


def test_probe_puts_its_first_steps_on_the_decode_edges_and_is_seeded() -> None:
    probe = probe_actions((2, 16, 8), "libero_sim", 42)
    for step, value in enumerate(PROBE_EDGES):
        assert np.all(probe[:, step] == np.float32(value))
    assert np.abs(probe).max() > 1.0  # beyond the clip limits
    assert np.array_equal(probe, probe_actions((2, 16, 8), "libero_sim", 42))
    assert not np.array_equal(probe, probe_actions((2, 16, 8), "new_embodiment", 42))


def test_libero_env_conversion_is_the_originals_and_leaves_no_stand_ins() -> None:
    installed = {m.split(".")[0] for m in SIMULATOR_MODULES if importlib.util.find_spec(m.split(".")[0])}
    keys = ["x", "y", "z", "roll", "pitch", "yaw", "gripper"]
    decoded = {k: np.full((1, 3, 1), 0.25, np.float32) for k in keys[:-1]}
    decoded["gripper"] = np.array([[[0.5], [0.7], [0.2]]], np.float32)
    env = libero_env_actions(decoded, keys)
    # [0, 1] -> [-1, 1], sign (0 stays 0 at exactly 0.5), then inverted: LIBERO's -1 = open convention
    assert env["gripper"][0, :, 0].tolist() == [0.0, -1.0, 1.0]
    assert all(np.array_equal(env[k], decoded[k]) for k in keys[:-1])
    assert [m for m in SIMULATOR_MODULES if m in sys.modules and m.split(".")[0] not in installed] == []
    assert "gr00t.eval.sim.LIBERO.libero_env" not in sys.modules
