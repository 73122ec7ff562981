"""When a parity run fails as a whole, beyond its failed checks: one policy for the CLI and the pytest suite.

A run fails when a check failed; with CI set it also fails when nothing was compared (no artifact, or
every check skipped: a green CI that compared nothing would hide a broken setup) and when a
GROOT_PARITY_TOL entry matched no tensor (most likely a typo that silently loosens nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from comparison.results import CheckResult
from comparison.status import Status
from comparison.tolerance import ENV_TOL


@dataclass(frozen=True)
class RunProblem:
    message: str  # one line for the end of the run
    fails_run: bool


def run_problems(results: Sequence[CheckResult], unmatched: Sequence[str], ci: bool) -> list[RunProblem]:
    """What the end of a run must say beyond the per-check results, and whether each fails the run."""
    problems = []
    if unmatched:
        level = "error (CI is set)" if ci else "warning"
        problems.append(
            RunProblem(f"{level}: {ENV_TOL} entries matched no tensor of this run (typo?): {', '.join(unmatched)}", ci)
        )
    if ci and all(r.status == Status.SKIP for r in results):
        problems.append(
            RunProblem(
                "CI: nothing was compared (no artifacts, or every parity check skipped); the suite must compare "
                "something",
                True,
            )
        )
    return problems


def exit_code(results: Sequence[CheckResult], problems: Sequence[RunProblem]) -> int:
    """0 when every check passed, was a declared divergence or skipped, and no problem fails the run; else 1."""
    failed = any(r.status == Status.FAIL for r in results) or any(p.fails_run for p in problems)
    return 1 if failed else 0
