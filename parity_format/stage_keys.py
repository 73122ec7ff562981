"""Stage identity: which pipeline stages both implementations record, and the key each one is stored under.

A stage is a module both GR00T N1.7 implementations have (declared once here, per side), read through a
forward hook (``torch_hooks.stage_capture``). Its key is derived from what was captured, never from a
position: ``stage.<name>`` for a stage recorded once, ``stage.step<k>.<name>`` for one recorded at
denoising step ``k``, where ``<name>`` is the declared stage of one module path. If one side misses a
stage, no other key moves. Artifacts written before this identity used numbered keys
(``stage.03.step0.action_in``): :func:`canonical_stage_key` reads them as the same stage.

Pipeline order (for display, and for naming the FIRST divergence) comes from :data:`STAGES` and the step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

STAGE_PREFIX = "stage."
_LEGACY_INDEX = re.compile(r"^stage\.\d+\.")  # stage.03.step0.action_in -> stage.step0.action_in
_STEP = re.compile(r"^step(\d+)$")

V = TypeVar("V")


@dataclass(frozen=True)
class StageSpec:
    name: str
    original_module: str  # module path inside gr00t's Gr00tN1d7
    lerobot_module: str  # module path inside LeRobot's GR00TN17
    take: str  # "output", "output:<key>", "input0" (first positional input), "velocity" (decoder tail)
    per_step: bool = False  # recorded once per denoising step
    token_level: bool = False  # (B, seq, D): compare valid positions only


# Pipeline order. The two sides happen to use the same module paths; they are still declared per side.
STAGES: tuple[StageSpec, ...] = (
    StageSpec("backbone_features", "backbone", "backbone", "output:backbone_features", token_level=True),
    StageSpec(
        "vl_embeds",
        "action_head.vl_self_attention",
        "action_head.vl_self_attention",
        "output",
        token_level=True,
    ),
    StageSpec("state_features", "action_head.state_encoder", "action_head.state_encoder", "output"),
    StageSpec("action_in", "action_head.action_encoder", "action_head.action_encoder", "input0", per_step=True),
    StageSpec("velocity", "action_head.action_decoder", "action_head.action_decoder", "velocity", per_step=True),
)
TOKEN_LEVEL = frozenset(s.name for s in STAGES if s.token_level)
_ORDER = {s.name: i for i, s in enumerate(STAGES)}


def stage_key(name: str, step: int | None = None) -> str:
    """'stage.step0.action_in' (per denoising step) or 'stage.backbone_features'; the last part keys tolerances."""
    return f"{STAGE_PREFIX}{'' if step is None else f'step{step}.'}{name}"


def canonical_stage_key(key: str) -> str:
    """The key of a stage, whichever writer stored it: numbered legacy keys lose their position."""
    return _LEGACY_INDEX.sub(STAGE_PREFIX, key, count=1)


def stage_name(key: str) -> str:
    """'stage.step0.velocity' -> 'velocity' (what tolerance overrides and token-level rules key on)."""
    return key.rsplit(".", 1)[-1]


def stage_step(key: str) -> int | None:
    parts = canonical_stage_key(key).split(".")
    match = _STEP.match(parts[1]) if len(parts) > 2 else None
    return int(match.group(1)) if match else None


def stage_label(key: str) -> str:
    """'stage.step0.velocity' -> 'step 0 velocity' (display only; never stored)."""
    step = stage_step(key)
    return stage_name(key) if step is None else f"step {step} {stage_name(key)}"


def pipeline_position(key: str) -> tuple[int, int, int, str]:
    """Sort key: stages recorded once, then each denoising step; within one, the declared order."""
    step = stage_step(key)
    name = stage_name(key)
    return (0 if step is None else 1, -1 if step is None else step, _ORDER.get(name, len(_ORDER)), name)


def stage_items(outputs: Mapping[str, V]) -> dict[str, V]:
    """The stage members of ``outputs`` under their canonical keys, in pipeline order."""
    found = {canonical_stage_key(k): v for k, v in outputs.items() if k.startswith(STAGE_PREFIX)}
    return {k: found[k] for k in sorted(found, key=pipeline_position)}
