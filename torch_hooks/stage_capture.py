"""Record the declared pipeline stages of a GR00T N1.7 model with forward hooks (either implementation).

torch is imported by the caller's environment, never at module import: this file stays importable
where only numpy is. Hooks are removed when the context exits, even on error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from parity_format.stage_keys import STAGES, StageSpec, stage_key


def _to_numpy(value: Any) -> np.ndarray:
    return value.detach().float().cpu().numpy()


@contextlib.contextmanager
def capture_stages(model: Any, side: str, action_horizon: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield a dict that fills with 'stage.[stepK.]name' -> array while ``model.get_action`` runs.

    ``side`` is "original" or "lerobot" and picks the module paths declared in ``stage_keys.STAGES``; the
    keys follow ``stage_keys.stage_key`` (name and denoising step, never a position).
    """
    records: dict[str, list[np.ndarray]] = {spec.name: [] for spec in STAGES}
    handles = []

    def hook_for(spec: StageSpec):
        def hook(_module: Any, args: tuple, output: Any) -> None:
            if spec.take == "input0":
                value = args[0]
            elif spec.take == "velocity":
                value = output[:, -action_horizon:]
            elif spec.take.startswith("output:"):
                value = output[spec.take.split(":", 1)[1]]
            else:
                value = output
            records[spec.name].append(_to_numpy(value))

        return hook

    for spec in STAGES:
        path = spec.original_module if side == "original" else spec.lerobot_module
        handles.append(model.get_submodule(path).register_forward_hook(hook_for(spec)))
    captured: dict[str, np.ndarray] = {}
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
    for spec in STAGES:
        if not spec.per_step:
            for value in records[spec.name][:1]:
                captured[stage_key(spec.name)] = value
    per_step = [s for s in STAGES if s.per_step]
    steps = max((len(records[s.name]) for s in per_step), default=0)
    for step in range(steps):
        for spec in per_step:
            if step < len(records[spec.name]):
                captured[stage_key(spec.name, step)] = records[spec.name][step]
