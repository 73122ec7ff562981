"""Pipeline stages both implementations share, and how to find the first one where they part.

"max|diff| = 3e-2 on action_pred" is where a user's work starts; this says WHERE. Both sides record
the same stages, in pipeline order, through forward hooks on the module paths declared here (one place,
both sides; see ``stage_capture``), without editing either implementation. Token-level stages are
compared on valid (attention-mask) positions only: padded positions carry garbage on both sides.

A stage is identified by its KEY (``stage.04.step0.velocity``) everywhere it is stored; its label
("step 0 velocity") is derived for display only, so a reader of the JSON can always find the tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity_format.compare import ComparisonReport, compare_tensor
from parity_format.formatting import fmt_num
from parity_format.tolerance import ToleranceConfig

STAGE_PREFIX = "stage."


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
TOKEN_LEVEL = {s.name for s in STAGES if s.token_level}


def stage_key(index: int, name: str, step: int | None = None) -> str:
    """'stage.03.step0.action_in': sortable, and its short name ('action_in') keys tolerance overrides."""
    return f"{STAGE_PREFIX}{index:02d}.{'' if step is None else f'step{step}.'}{name}"


def stage_label(key: str) -> str:
    """'stage.04.step0.velocity' -> 'step 0 velocity' (display only; never stored)."""
    parts = key.split(".")[2:]
    return " ".join(p.replace("step", "step ", 1) if p.startswith("step") else p for p in parts)


def stage_items(outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    keys = sorted((k for k in outputs if k.startswith(STAGE_PREFIX)), key=lambda k: int(k.split(".")[1]))
    return {k: outputs[k] for k in keys}


@dataclass
class StageComparison:
    first_divergence: str | None  # the stage KEY, e.g. "stage.04.step0.velocity"
    summary: str
    report: ComparisonReport

    @property
    def first_divergence_label(self) -> str | None:
        return None if self.first_divergence is None else stage_label(self.first_divergence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_divergence": self.first_divergence,
            "summary": self.summary,
            "report": self.report.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageComparison:
        first = data.get("first_divergence")
        return cls(
            None if first is None else str(first),
            str(data.get("summary") or ""),
            ComparisonReport.from_dict(data["report"]),
        )


def compare_stages(
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    config: ToleranceConfig,
    valid_tokens: np.ndarray | None,
    title: str = "stages",
) -> StageComparison:
    """Compare recorded stages in pipeline order; name the first one out of tolerance."""
    exp, act = stage_items(expected), stage_items(actual)
    report = ComparisonReport(
        title, [], [k for k in exp if k not in act], [k for k in act if k not in exp], [], missing_fails=False
    )
    for key, value in exp.items():
        if key not in act:
            continue
        other = act[key]
        if key.rsplit(".", 1)[-1] in TOKEN_LEVEL and valid_tokens is not None and value.shape == other.shape:
            value, other = value[valid_tokens], other[valid_tokens]  # (n_valid, D)
        tol = config.for_tensor(key)
        report.tensors.append(compare_tensor(key, value, other, tol, exact=False, equal_nan=config.equal_nan))
    first = next((t for t in report.tensors if not t.passed), None)
    if first is None:
        worst = max((t.max_abs_diff or 0.0 for t in report.tensors), default=0.0)
        scale = max((t.scale_error or 0.0 for t in report.tensors), default=0.0)
        figures = f"max|diff| {fmt_num(worst)}, scale err {fmt_num(scale)}"
        summary = f"all {len(report.tensors)} stages within tolerance ({figures})"
        return StageComparison(None, summary, report)
    before = report.tensors[: report.tensors.index(first)]
    earlier = max((t.max_abs_diff or 0.0 for t in before), default=0.0)
    if first.max_abs_diff is None:
        diff = "shape mismatch"
    else:
        diff = f"max|diff| {fmt_num(first.max_abs_diff)}, scale err {fmt_num(first.scale_error)}"
    tail = f"all {len(before)} earlier stages within {fmt_num(earlier)}" if before else "it is the first stage"
    summary = f"first divergence: {stage_label(first.name)} ({first.name}), {diff}; {tail}"
    return StageComparison(first.name, summary, report)
