"""LeRobot's real postprocessor on recorded normalized actions, both ways a LeRobot user receives actions.

The postprocessor comes from ``make_groot_pre_post_processors`` (via ``lerobot_side.build_processors``),
and the preprocessor of the same pair first runs on the raw observation: that is how LeRobot's decode step
gets the raw state it turns relative actions absolute against (``GrootN17PackInputsStep`` caches it).

* chunk: the whole ``(B, horizon, max_action_dim)`` array at once, as after ``predict_action_chunk``
  (RTC, async inference);
* per step: ``(B, max_action_dim)`` for each chunk step, as ``select_action`` pops them from its queue
  and a LeRobot rollout postprocesses them one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from consumer.lerobot_side.model import build_processors, observation_batch
from parity_format.artifact import RawObservation


@dataclass
class DecodedPaths:
    chunk: np.ndarray | None = None  # (B, H, D) or None when LeRobot raised
    per_step: np.ndarray | None = None  # (B, H, D) stacked from H per-step calls, or None when LeRobot raised
    errors: dict[str, str] = field(default_factory=dict)  # path -> "ExceptionType: message"


@dataclass
class LeRobotDecode:
    paths: dict[str, DecodedPaths]  # one per recorded action array (e.g. "action_pred", "probe")
    libero_transform: bool  # LeRobot applied its LIBERO gripper convention
    notes: list[str] = field(default_factory=list)


def _decode_step(postprocessor: Any) -> Any:
    from lerobot.policies.groot.processor_groot import GrootActionUnpackUnnormalizeStep, GrootN17ActionDecodeStep

    steps = [
        s for s in postprocessor.steps if isinstance(s, GrootN17ActionDecodeStep | GrootActionUnpackUnnormalizeStep)
    ]
    if len(steps) != 1:
        raise RuntimeError(f"expected one GR00T action decode step in LeRobot's postprocessor, found {len(steps)}")
    return steps[0]


# Which of the original's arrays a LeRobot-decoded action is compared with (the decode, policy and episode checks).
LIBERO_REFERENCE = (
    "the original's decode_action followed by its LIBERO env conversion (LiberoEnv.step: "
    "normalize_gripper_action(binarize=True), invert_gripper_action), because LeRobot applies its LIBERO "
    "gripper convention for this tag"
)
PLAIN_REFERENCE = "the original's decode_action (LeRobot applies no env conversion for this tag)"


def _applies_libero(step: Any) -> bool:
    from lerobot.policies.groot.configuration_groot import GROOT_ACTION_DECODE_TRANSFORM_LIBERO

    return getattr(step, "action_decode_transform", None) == GROOT_ACTION_DECODE_TRANSFORM_LIBERO or bool(
        getattr(step, "libero_gripper_action", False)
    )


def _call(postprocessor: Any, action: np.ndarray) -> np.ndarray:
    import torch

    out = postprocessor(torch.from_numpy(np.ascontiguousarray(action)))
    return out.detach().cpu().float().numpy()


def decode(ckpt: Path, tag: str, raw: RawObservation, actions: dict[str, np.ndarray], horizon: int) -> LeRobotDecode:
    """Postprocess each normalized (B, H, D) array whole and step by step (``horizon`` steps)."""
    preprocessor, postprocessor, notes = build_processors(ckpt, tag)
    preprocessor(observation_batch(raw))  # caches the raw state, as a user's observation pass does
    step = _decode_step(postprocessor)
    notes.append(
        f"LeRobot decode step {type(step).__name__}; preprocessor run on the raw observation first "
        "(its pack step caches the raw state relative actions are decoded against)"
    )
    paths: dict[str, DecodedPaths] = {}
    for name, action in actions.items():
        result = DecodedPaths()
        try:
            result.chunk = _call(postprocessor, action)
        except Exception as exc:  # reported as the comparison's finding, never swallowed
            result.errors["chunk"] = f"{type(exc).__name__}: {exc}"
        try:
            result.per_step = np.stack([_call(postprocessor, action[:, t, :]) for t in range(horizon)], axis=1)
        except Exception as exc:
            result.errors["per_step"] = f"{type(exc).__name__}: {exc}"
        paths[name] = result
    return LeRobotDecode(paths, _applies_libero(step), notes)
