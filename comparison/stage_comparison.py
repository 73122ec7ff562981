"""How to find the first pipeline stage where the two implementations part.

"max|diff| = 3e-2 on action_pred" is where a user's work starts; this says WHERE. Both sides record
the same stages (declared once, with their keys, in ``parity_format.stage_keys``) through forward
hooks (``torch_hooks.stage_capture``), without editing either implementation. Stages are matched by
key, never by position, and compared in pipeline order. Token-level stages are compared on valid
(attention-mask) positions only: padded positions carry garbage on both sides.

A stage is identified by its KEY (``stage.step0.velocity``) everywhere it is stored; its label
("step 0 velocity") is derived for display only, so a reader of the JSON can always find the tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from comparison.compare import ComparisonReport, compare_tensor
from comparison.formatting import fmt_num
from comparison.tolerance import ToleranceConfig
from parity_format.stage_keys import TOKEN_LEVEL, stage_items, stage_label, stage_name


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
        if stage_name(key) in TOKEN_LEVEL and valid_tokens is not None and value.shape == other.shape:
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
