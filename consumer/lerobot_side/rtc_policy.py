"""LeRobot's ``GrootPolicy`` for one checkpoint and tag: the wrapper users call (``predict_action_chunk``,
``select_action`` and its queue), around the harness's already loaded LeRobot model.

Adaptations, each returned as a note:
- the policy is built from the real ``GrootConfig`` and ``GrootPolicy`` constructor, but the GR00T model
  it wraps is the session's ``LeRobotModel`` (LeRobot's own ``GR00TN17``, loaded once in the harness's
  dtype with SDPA): loading it a second time through the policy would only change its dtype;
- ``use_bf16`` is off (LeRobot's autocast would move every number by ~1e-2 against the fp32 original);
- ``chunk_size`` and ``n_action_steps`` are the model's action horizon, so a prediction is the whole chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.artifact import Artifact
from sources.checkpoint import read_json
from torch_hooks.noise_draw import intercept_noise_draw

INPUT_PREFIX = "inputs."
PLACEHOLDER_CAMERA = "camera"  # artifacts without raw frames: the config needs a visual feature, the model none


def build_policy(
    model: Any,
    ckpt: Path,
    tag: str,
    action_dim: int,
    camera_shapes: dict[str, tuple[int, int, int]],
    n_action_steps: int | None = None,
) -> tuple[Any, list[str]]:
    """A ``GrootPolicy`` wrapping ``model`` (a LeRobotModel's GR00TN17) for ``tag`` with ``action_dim`` actions.

    ``n_action_steps``: actions ``select_action`` pops per chunk (default and at most: the whole chunk).
    """
    from unittest import mock

    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.groot.configuration_groot import GrootConfig
    from lerobot.policies.groot.modeling_groot import GrootPolicy
    from lerobot.utils.constants import ACTION, OBS_IMAGES

    model_config = read_json(ckpt / "config.json")
    horizon = int(model.action_head.action_horizon)
    dims = {k: int(model_config[k]) for k in ("max_state_dim", "max_action_dim") if k in model_config}
    config = GrootConfig(
        base_model_path=str(ckpt.resolve()),
        embodiment_tag=tag,
        device=str(next(model.parameters()).device),
        chunk_size=horizon,
        n_action_steps=min(n_action_steps or horizon, horizon),
        use_bf16=False,
        input_features={
            f"{OBS_IMAGES}.{camera}": PolicyFeature(type=FeatureType.VISUAL, shape=shape)
            for camera, shape in camera_shapes.items()
        },
        output_features={ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(action_dim,))},
        **dims,
    )
    # scoped to the constructor: the one place GrootPolicy loads weights
    with mock.patch.object(GrootPolicy, "_create_groot_model", lambda _self: model):
        policy = GrootPolicy(config)
    notes = [
        f"GrootPolicy({tag}, action dim {action_dim}, chunk {horizon}, use_bf16 off) around the harness's "
        "LeRobot GR00TN17 (one load)"
    ]
    return policy.eval(), notes


def camera_shapes(artifact: Artifact) -> dict[str, tuple[int, int, int]]:
    """(C, H, W) per camera of the artifact's raw frames: the visual features GrootConfig requires."""
    if artifact.raw is None or not artifact.raw.video:
        return {PLACEHOLDER_CAMERA: (3, 256, 256)}
    return {camera: (int(v.shape[4]), int(v.shape[2]), int(v.shape[3])) for camera, v in artifact.raw.video.items()}


def policy_batch(inputs: dict[str, np.ndarray], device: str) -> dict[str, Any]:
    """The original's collated inputs as the preprocessed batch ``predict_action_chunk`` takes."""
    import torch

    return {
        key.removeprefix(INPUT_PREFIX): torch.from_numpy(np.ascontiguousarray(value)).to(device)
        for key, value in inputs.items()
    }


@contextlib.contextmanager
def recorded_noise(noise: np.ndarray) -> Iterator[Any]:
    """Inject ``noise`` into the one draw of a policy call; raises NoiseInjectionError unless it took once."""
    with intercept_noise_draw(noise.shape, noise) as draws:
        yield draws
    draws.require_one("replaced")


def predict_chunk(
    policy: Any,
    batch: dict[str, Any],
    noise: np.ndarray,
    *,
    inference_delay: int | None = None,
    prev_chunk_left_over: np.ndarray | None = None,
    execution_horizon: int | None = None,
) -> np.ndarray:
    """``policy.predict_action_chunk`` from ``noise``, with the RTC arguments a LeRobot user passes.

    ``execution_horizon``: an RTC config on the policy, as ``lerobot-rollout --inference.type=rtc`` sets
    it (``policy.config.rtc_config``); None: no RTC config.
    """
    import torch

    kwargs: dict[str, Any] = {}
    if prev_chunk_left_over is not None:
        kwargs["prev_chunk_left_over"] = torch.from_numpy(np.ascontiguousarray(prev_chunk_left_over))
        kwargs["inference_delay"] = inference_delay
    previous = getattr(policy.config, "rtc_config", None)
    if execution_horizon is not None:
        from lerobot.policies.rtc.configuration_rtc import RTCConfig

        policy.config.rtc_config = RTCConfig(execution_horizon=execution_horizon)
    try:
        with recorded_noise(noise), torch.inference_mode():
            actions = policy.predict_action_chunk(batch, **kwargs)
    finally:
        policy.config.rtc_config = previous
    return actions.detach().float().cpu().numpy()
