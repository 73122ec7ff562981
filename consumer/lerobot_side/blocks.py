"""LeRobot's side of a bisect: the same hooks on every block, run chained and isolated.

Both runs start from the bisect artifact's inputs and recorded noise. Chained records each block's output
and inputs as LeRobot computes them end to end; isolated feeds each block the original's recorded inputs (a forward
pre-hook replaces them) and reruns it in float64 on those inputs (its inputs are the original's: not kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from consumer.lerobot_side.model import LeRobotModel
from parity_format.artifact import Artifact
from parity_format.block_keys import IN, BlockId, recorded_inputs
from torch_hooks.block_capture import BlockRun, capture_blocks
from torch_hooks.noise_draw import NOISE_MEMBER


@dataclass
class BlockRuns:
    chained: dict[str, np.ndarray] = field(default_factory=dict)
    isolated: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lerobot_paths: list[str] = field(default_factory=list)  # every module path of LeRobot's model


def run_blocks(model: LeRobotModel, artifact: Artifact) -> BlockRuns:
    """LeRobot's block outputs for ``artifact`` (a bisect artifact): chained, then isolated with float64."""
    noise = artifact.outputs.get(NOISE_MEMBER)
    if noise is None:
        raise ValueError(f"the bisect artifact records no {NOISE_MEMBER}")
    runs = BlockRuns(lerobot_paths=[name for name, _ in model.model.named_modules()])
    with capture_blocks(model.model, "lerobot", runs.chained.__setitem__, inputs=True) as chained:
        model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed, noise)
    recorded = artifact.outputs

    def feed(block: BlockId) -> dict[str, np.ndarray]:
        return {name: recorded[member] for name, member in recorded_inputs(recorded, block).items()}

    record = runs.isolated.__setitem__
    with capture_blocks(model.model, "lerobot", record, inputs=False, float64=True, feed=feed) as iso:
        model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed, noise)
    runs.notes = [*(f"chained: {n}" for n in chained.notes), *(f"isolated: {n}" for n in iso.notes)]
    runs.notes += _unfed(iso, recorded)
    return runs


def _unfed(run: BlockRun, recorded: dict[str, np.ndarray]) -> list[str]:
    """Blocks the original recorded inputs for that the isolated run never fed (they did not run here)."""
    prefix_blocks = {k.split(f".{IN}.", 1)[0] for k in recorded if f".{IN}." in k}
    fed = {b.key for b in run.fed}
    return [f"isolated: {key} has recorded inputs but did not run in LeRobot" for key in sorted(prefix_blocks - fed)]
