"""Which flow-matching noise a model-parity replay starts from, and how the result names it.

Order of preference: the producer's own record of the draw (``out::initial_noise``); for artifacts
written before that member existed, the recorded step-0 action-input stage, which IS the initial noise
(the action encoder's first input is the sampled tensor); else (legacy files) only the recorded seed,
which reproduces the noise only on the device type and dtype the producer drew it with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parity_format.artifact import Artifact
from parity_format.stage_keys import stage_items, stage_key
from torch_hooks.noise_draw import NOISE_MEMBER

STEP0_ACTION_IN = stage_key("action_in", 0)
INJECTED = "recorded noise (injected)"
FROM_STAGE = "recorded noise (from stage step0.action_in, pre-noise-member artifact)"


@dataclass(frozen=True)
class NoiseSource:
    noise: np.ndarray | None  # fp32 (batch, horizon, action_dim); None: replay the seed
    label: str  # what every model-parity result and the JSON report say

    @property
    def recorded(self) -> bool:
        return self.noise is not None


def seed_label(seed: int | None) -> str:
    return f"seed {seed} (no recorded noise)"


def noise_source(artifact: Artifact) -> NoiseSource:
    if NOISE_MEMBER in artifact.outputs:
        return NoiseSource(np.asarray(artifact.outputs[NOISE_MEMBER], dtype=np.float32), INJECTED)
    step0 = [v for k, v in stage_items(artifact.outputs).items() if k == STEP0_ACTION_IN]
    if step0:
        return NoiseSource(np.asarray(step0[0], dtype=np.float32), FROM_STAGE)
    return NoiseSource(None, seed_label(artifact.seed))


def device_rule_problem(artifact: Artifact, device: str) -> list[str]:
    """Seed-only replays: torch draws a different noise stream per device type, so the seed alone
    reproduces the producer's noise only on its device type. Recorded noise makes this moot."""
    produced_on = str((artifact.provenance or {}).get("device", "")).split(":")[0]
    if produced_on and produced_on != device.split(":")[0]:
        return [
            f"artifact produced on {produced_on}, replayed on {device}: it records no noise, and torch draws a "
            f"different noise stream per device type, so action_pred is not comparable; replay it on a "
            f"{produced_on} machine (or regenerate it with the current producer, which records the noise)"
        ]
    return []
