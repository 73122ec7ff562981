"""The typed result of one parity check: what the consumer writes as JSON and the report reads back.

Lives in the shared format (numpy-only) so the report tool can rebuild the same classes in either
environment: ``CheckResult.from_dict(result.to_dict())`` returns an equal object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comparison.compare import ComparisonReport
from comparison.formatting import float_from_json, json_float
from comparison.stage_comparison import StageComparison
from comparison.status import Status
from comparison.tier_results import TierResult


@dataclass(frozen=True)
class Case:
    """One artifact to check."""

    path: Path
    group: str  # artifact sub-directory, e.g. "256x256"; "." for a flat directory
    tag: str

    @property
    def case_id(self) -> str:
        return self.tag if self.group == "." else f"{self.group}-{self.tag}"


@dataclass
class CheckResult:
    """One (artifact, check) verdict with everything that justifies it.

    ``problems`` are failures that are not a tensor's (checkpoint fingerprint, device): the report
    carries them too, so its table, this status and the message can never disagree.
    """

    case: Case
    check: str
    status: Status
    message: str = ""
    report: ComparisonReport | None = None
    divergences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stages: StageComparison | None = None  # model check: where the two pipelines part
    action_abs_diff: list[list[float]] | None = None  # model check: (horizon x action_dim), max over batch
    notes: list[str] = field(default_factory=list)  # run facts worth a line
    noise_source: str | None = None  # model check: which flow-matching noise the replay started from
    tiers: list[TierResult] = field(default_factory=list)  # policy check: fp32 and as-shipped verdicts

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status) if not isinstance(self.status, Status) else self.status

    @property
    def problems(self) -> list[str]:
        return list(self.report.problems) if self.report is not None else []

    def headline(self) -> str:
        """The one-line verdict every surface prints: status, then the message (problems first)."""
        return f"{self.status.text}: {self.case.case_id} {self.check}" + (f": {self.message}" if self.message else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": str(self.case.path),
            "group": self.case.group,
            "tag": self.case.tag,
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "problems": self.problems,
            "notes": list(self.notes),
            "known_divergences": list(self.divergences),
            "seconds": round(self.seconds, 3),
            "report": self.report.to_dict() if self.report else None,
            "stages": self.stages.to_dict() if self.stages else None,
            "action_abs_diff": None
            if self.action_abs_diff is None
            else [[json_float(x) for x in row] for row in self.action_abs_diff],
            "noise_source": self.noise_source,
            "tiers": [t.to_dict() for t in self.tiers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild from :meth:`to_dict`; raises KeyError/ValueError/TypeError on a malformed dict."""
        grid = data.get("action_abs_diff")
        return cls(
            case=Case(Path(str(data["artifact"])), str(data["group"]), str(data["tag"])),
            check=str(data["check"]),
            status=Status.parse(str(data["status"])),
            message=str(data.get("message") or ""),
            report=None if data.get("report") is None else ComparisonReport.from_dict(data["report"]),
            divergences=[str(d) for d in data.get("known_divergences") or []],
            seconds=float(data.get("seconds") or 0.0),
            stages=None if data.get("stages") is None else StageComparison.from_dict(data["stages"]),
            action_abs_diff=None if grid is None else [[float_from_json(x) for x in row] for row in grid],  # type: ignore[misc]
            notes=[str(n) for n in data.get("notes") or []],
            noise_source=None if data.get("noise_source") is None else str(data["noise_source"]),
            tiers=[TierResult.from_dict(t) for t in data.get("tiers") or []],
        )
