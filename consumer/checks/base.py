"""What every check shares: the Skip signal, the regenerate hint, the session protocol and the one verdict path.

A check module (``consumer/checks/<name>.py``) exposes ``run(session, case, artifact) -> CheckResult``
and depends on this module, never on the session implementation (``consumer/session.py``), so the
registry, the checks and the session form no import cycle. One verdict function for every check, so
"pass / fail / xfail" means the same thing whichever check reached it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from comparison.compare import ComparisonReport
from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer.known_divergences import KnownDivergence

if TYPE_CHECKING:
    from consumer.checkpoint_identity import FingerprintCache
    from consumer.model_store import ModelStore
    from consumer.settings import Settings
    from parity_format.artifact import Artifact

REGENERATE_HINT = "regenerate it with `make produce CKPT=<checkpoint>` (producer env, original gr00t)"


class Skip(Exception):
    """The check cannot run here; the message says what to set or run."""


class Session(Protocol):
    """What a check may ask of the run it is part of (implemented by ``consumer.session.ParitySession``)."""

    settings: Settings
    fingerprints: FingerprintCache
    models: ModelStore  # every model of the run, within the memory budget
    cache: dict[str, Any]  # per-check state kept for the run (the policy check's sharded copies)

    def checkpoint_for(self, artifact: Artifact) -> Path: ...

    def device_for(self, artifact: Artifact) -> str: ...

    def model(self, ckpt: Path, device: str) -> Any: ...

    def policy(self, artifact: Artifact, ckpt: Path, device: str, action_dim: int) -> tuple[Any, list[str]]: ...


def verdict(case: Case, check: str, report: ComparisonReport, known: Sequence[KnownDivergence] = ()) -> CheckResult:
    """Status and message of one check; ``report.problems`` (non-tensor failures) fail it and come first."""
    names = [d.name for d in known]
    problems = list(report.problems)
    if report.passed:
        if known:
            message = (
                f"declared known divergence(s) {names} did not reproduce: the check passes now. "
                "Remove them from consumer/known_divergences.py."
            )
            return CheckResult(case, check, Status.FAIL, message, report, names)
        return CheckResult(case, check, Status.PASS, "", report)
    failing = {t.name.split(".")[-1] for t in report.tensors if not t.passed}
    failing |= set(report.only_expected) | set(report.only_actual) if report.missing_fails else set()
    explained = {name for d in known for name in d.tensors}
    stale = [d.name for d in known if not failing & set(d.tensors)]  # each entry must reproduce on its own
    if known and not problems and failing and failing <= explained and stale:
        message = (
            f"declared known divergence(s) {stale} did not reproduce here. Remove or narrow them in "
            "consumer/known_divergences.py."
        )
        return CheckResult(case, check, Status.FAIL, message, report, names)
    if known and not problems and failing and failing <= explained:
        reasons = "; ".join(f"[{d.name}] {d.reason}" for d in known)
        return CheckResult(case, check, Status.XFAIL, f"known divergence: {reasons}", report, names)
    unexplained = sorted(failing - explained) if known else sorted(failing)
    parts = [*problems]
    if unexplained or not report.tensors_passed:
        parts.append(f"out of tolerance: {', '.join(unexplained) or 'see notes'}")
    return CheckResult(case, check, Status.FAIL, "; ".join(parts), report, names)


def refusal_verdict(case: Case, check: str, what: str, exc: Exception, known: Sequence[KnownDivergence]) -> CheckResult:
    """LeRobot raised instead of producing tensors: a declared refusal (xfail) or a failure naming the error."""
    refused = [d for d in known if d.explains_refusal(exc)]
    text = f"{what} raised {type(exc).__name__}: {exc}"
    if not refused:
        return CheckResult(case, check, Status.FAIL, text, None, [d.name for d in known])
    reasons = "; ".join(f"[{d.name}] {d.reason}" for d in refused)
    return CheckResult(
        case, check, Status.XFAIL, f"known divergence: {reasons} ({text})", None, [d.name for d in refused]
    )
