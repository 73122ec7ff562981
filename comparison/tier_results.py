"""One precision tier of the ``policy`` check: its own verdict, comparisons and notes.

The policy check runs each user path twice: in fp32 on both sides (a tight tensor comparison, like model
parity) and as each project ships it (accuracy parity against the float64 reference, see
``comparison.accuracy``). Each tier keeps its own status so a report can show both; the check's
status is the stricter of the two (:func:`combined_status`). Numpy-only and JSON round-trippable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from comparison.accuracy import AccuracyComparison
from comparison.compare import ComparisonReport
from comparison.formatting import fmt_num
from comparison.status import Status

FP32_TIER = "fp32"
SHIPPED_TIER = "as shipped"
_SEVERITY = (Status.FAIL, Status.SKIP, Status.XFAIL, Status.PASS)  # stricter first


@dataclass
class TierResult:
    name: str  # FP32_TIER or SHIPPED_TIER
    status: Status
    message: str = ""
    report: ComparisonReport | None = None  # fp32 tier: tensor comparisons
    accuracy: list[AccuracyComparison] = field(default_factory=list)  # as-shipped tier: accuracy verdicts
    notes: list[str] = field(default_factory=list)
    divergences: list[str] = field(default_factory=list)  # declared divergences this tier's verdict used

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status) if not isinstance(self.status, Status) else self.status

    def figures(self) -> str:
        """The tier's headline figures in one line (the demo table's cell)."""
        if self.accuracy:
            worst = max(self.accuracy, key=lambda a: (not a.passed, a.ratio if a.ratio is not None else 0.0))
            cand, ref = worst.candidate_rmse, worst.reference_rmse
            text = f"RMSE LeRobot {fmt_num(cand)} vs original {fmt_num(ref)} ratio {fmt_num(worst.ratio)}"
            return text + (f" k {worst.k:g}" if worst.k is not None else f" ({worst.mode})")
        if self.report is not None and self.report.tensors:
            passing = [t for t in self.report.tensors if t.passed]
            diffs = [t.max_abs_diff for t in passing if t.max_abs_diff is not None]
            failed = len(self.report.tensors) - len(passing) + len(self.report.only_expected)
            return (
                f"max|diff| {fmt_num(max(diffs) if diffs else None)} over {len(passing)} passing tensors, {failed} out"
            )
        if self.divergences:  # LeRobot refused this tier: name the declared refusal, the message has the rest
            return f"refused ({', '.join(self.divergences)})"
        return self.message[:160] or "-"

    def line(self) -> str:
        return f"{self.name} {self.status.text}: {self.figures()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "message": self.message,
            "report": self.report.to_dict() if self.report else None,
            "accuracy": [a.to_dict() for a in self.accuracy],
            "notes": list(self.notes),
            "divergences": list(self.divergences),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TierResult:
        return cls(
            name=str(data["name"]),
            status=Status.parse(str(data["status"])),
            message=str(data.get("message") or ""),
            report=None if data.get("report") is None else ComparisonReport.from_dict(data["report"]),
            accuracy=[AccuracyComparison.from_dict(a) for a in data.get("accuracy") or []],
            notes=[str(n) for n in data.get("notes") or []],
            divergences=[str(d) for d in data.get("divergences") or []],
        )


def combined_status(tiers: Sequence[TierResult]) -> Status:
    """The stricter tier decides: FAIL, then SKIP, then XFAIL, then PASS."""
    statuses = {t.status for t in tiers}
    return next((s for s in _SEVERITY if s in statuses), Status.SKIP)
