"""The original's own action decoding, recorded so the consumer can check LeRobot's postprocessor against it.

What a robot executes is not ``action_pred`` but its decode: per action key unnormalized with the
checkpoint statistics, clipped, relative keys turned absolute against the raw state. This module calls the
original's real functions and never re-implements them:

* ``Gr00tN1d7Processor.decode_action`` (-> ``StateActionProcessor.unapply_action``) with the batch's raw
  state as ``(B, T, D)`` per key, exactly as ``Gr00tPolicy._get_action`` calls it, cast to float32 as the
  policy does;
* for ``libero_sim``, ``LiberoEnv.step`` of ``gr00t/eval/sim/LIBERO/libero_env.py`` up to the moment it
  would step the simulator: it concatenates the keys in the env's order and applies
  ``normalize_gripper_action(binarize=True)`` and ``invert_gripper_action``. That module imports the
  LIBERO simulator (and gymnasium) at the top; the packages that are not installed are replaced by empty
  stand-ins for the duration of that one import and removed afterwards.

Besides ``action_pred`` a seeded probe of the same shape is decoded (see ``parity_format.decode_members``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import types
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from parity_format.decode_members import LIBERO_TAG, PROBE, decoded
from parity_format.stage_failures import LIBERO_ENV_CONVERSION

LIBERO_ENV_MODULE = "gr00t.eval.sim.LIBERO.libero_env"
# What libero_env.py imports at the top that a parity producer has no reason to install.
SIMULATOR_MODULES = {
    "gymnasium": {"Env": object},
    "gymnasium.spaces": {"Box": None, "Dict": None, "Text": None},
    "gymnasium.envs": {},
    "gymnasium.envs.registration": {"register": None},
    "libero": {},
    "libero.libero": {"benchmark": None},
    "libero.libero.envs": {"OffScreenRenderEnv": None},
    "libero.libero.utils": {"get_libero_path": None},
}
PROBE_EDGES = (0.0, 1.0, -1.0, 1.5, -1.5)  # midpoint, the clip limits, beyond them


def probe_actions(shape: tuple[int, ...], tag: str, seed: int) -> np.ndarray:
    """Seeded normalized actions whose first chunk steps sit exactly on the decode's edges, then uniform noise.

    Step i < len(PROBE_EDGES) is PROBE_EDGES[i] in every dim; the rest is uniform in [-1.6, 1.6].
    """
    rng = np.random.default_rng([seed, zlib.crc32(tag.encode()), 9])
    probe = rng.uniform(-1.6, 1.6, shape).astype(np.float32)
    for step, value in enumerate(PROBE_EDGES[: shape[1]]):
        probe[:, step, :] = value
    return probe


def decode_with_original(processor: Any, tag: str, action: np.ndarray, raw_state: dict[str, np.ndarray]) -> dict:
    """``processor.decode_action`` as ``Gr00tPolicy`` calls it: raw state (B, T, D) per key, float32 out."""
    from gr00t.data.embodiment_tags import EmbodimentTag

    out = processor.decode_action(action.copy(), EmbodimentTag(tag), {k: v.copy() for k, v in raw_state.items()})
    return {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in out.items()}


@contextlib.contextmanager
def _simulator_stand_ins() -> Iterator[None]:
    """Empty modules for the simulator packages that are not installed, for one import only."""
    added: list[str] = []
    saved_env = {k: os.environ.get(k) for k in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    try:
        for name, attributes in SIMULATOR_MODULES.items():
            root = name.split(".")[0]
            if root not in added and importlib.util.find_spec(root) is not None:
                continue  # the real package is there: use it
            module = types.ModuleType(name)
            module.__path__ = []  # a package, so sub-modules resolve
            for attribute, value in attributes.items():
                setattr(module, attribute, value)
            sys.modules[name] = module
            added.append(name)
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)
        for key, value in saved_env.items():  # libero_env.py setdefaults rendering variables
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def libero_env_class() -> type:
    """``LiberoEnv`` from the original, imported with the simulator stubbed; the module is not left cached."""
    with _simulator_stand_ins():
        sys.modules.pop(LIBERO_ENV_MODULE, None)
        try:
            module = importlib.import_module(LIBERO_ENV_MODULE)
        finally:
            sys.modules.pop(LIBERO_ENV_MODULE, None)  # it holds references to the stand-ins
    return module.LiberoEnv


class _SimulatorReached(Exception):
    def __init__(self, action_vector: np.ndarray) -> None:
        super().__init__("simulator step reached")
        self.action_vector = action_vector


class _CapturingSimulator:
    """Stands in for LIBERO's OffScreenRenderEnv: stops LiberoEnv.step at the simulator call."""

    def step(self, action_vector: np.ndarray) -> Any:
        raise _SimulatorReached(np.array(action_vector, copy=True))


def libero_env_actions(
    decoded_actions: dict[str, np.ndarray], keys: list[str], dtype: type = np.float32
) -> dict[str, np.ndarray]:
    """What the original's ``LiberoEnv.step`` hands the simulator for every (sample, step), split per key."""
    env_class = libero_env_class()
    env = env_class.__new__(env_class)  # no simulator: __init__ would build one
    env._env = _CapturingSimulator()
    batch, horizon = next(iter(decoded_actions.values())).shape[:2]
    vectors = np.zeros((batch, horizon, sum(decoded_actions[k].shape[-1] for k in keys)), dtype=dtype)
    for b in range(batch):
        for t in range(horizon):
            step_action = {f"action.{k}": decoded_actions[k][b, t].copy() for k in keys}
            try:
                env.step(step_action)
            except _SimulatorReached as reached:
                vectors[b, t] = reached.action_vector
            else:
                raise RuntimeError(f"{LIBERO_ENV_MODULE}.LiberoEnv.step returned without stepping the simulator")
    out, start = {}, 0
    for key in keys:  # LiberoEnv.step concatenates in the checkpoint's key order for LIBERO
        dim = decoded_actions[key].shape[-1]
        out[key] = np.ascontiguousarray(vectors[..., start : start + dim])
        start += dim
    return out


def decode_outputs(
    processor: Any,
    tag: str,
    action_pred: np.ndarray,
    raw_state: dict[str, np.ndarray],
    seed: int,
    failures: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Every decode member of one artifact (names without ``out::``).

    The LIBERO env conversion is optional: when it fails its error goes into ``failures`` (recorded in the
    artifact, ``parity_format.stage_failures``) and the artifact is written without its members.
    """
    probe = probe_actions(action_pred.shape, tag, seed)
    outputs: dict[str, np.ndarray] = {PROBE: probe}
    keys = list(processor.modality_configs[tag]["action"].modality_keys)
    decodes = {
        is_probe: decode_with_original(processor, tag, action, raw_state)
        for is_probe, action in ((False, action_pred), (True, probe))
    }
    for is_probe, dec in decodes.items():
        outputs.update({decoded(k, probe=is_probe): dec[k] for k in keys})
    if tag == LIBERO_TAG:
        for is_probe, per_key in libero_env_or_failure(decodes, keys, failures).items():
            outputs.update({decoded(k, probe=is_probe, env=True): per_key[k] for k in keys})
    return outputs


def libero_env_or_failure(
    decodes: dict[Any, dict[str, np.ndarray]], keys: list[str], failures: dict[str, str] | None
) -> dict[Any, dict[str, np.ndarray]]:
    """Each decode through the original's ``LiberoEnv.step`` conversion, all or none.

    The conversion is an optional reference: with ``failures`` given, its error is recorded there in one line
    (the artifact says so, ``parity_format.stage_failures``) and nothing is returned; without, it raises.
    """
    try:
        return {name: libero_env_actions(per_key, keys) for name, per_key in decodes.items()}
    except Exception as exc:  # never costs the tag or the episode (issue 25)
        if failures is None:
            raise
        failures[LIBERO_ENV_CONVERSION] = one_line_error(exc, keys)
        return {}


def one_line_error(exc: Exception, keys: list[str]) -> str:
    cause = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return f"{LIBERO_ENV_MODULE}.LiberoEnv.step on action keys {keys}: {cause}"
