"""Parity suite: one case per (artifact, check); the embodiment tag is in the id (`-k libero_sim`).

`make consume` runs it on GROOT_N1_7_PARITY_DIR (default artifacts/); `make test` on fixtures/golden and
fixtures/golden-alt (one run each).
"""

from __future__ import annotations

import pytest

from comparison.results import Case
from comparison.status import Status
from consumer.checks import CHECKS, EPISODE_CHECKS
from consumer.conftest import parity_session
from consumer.session import ParitySession, discover, discover_episode_cases
from consumer.settings import ENV_DIR
from parity_format.safe_text import safe_lines, safe_text

CASES = discover(parity_session().settings.artifact_dir)
EPISODES = discover_episode_cases(parity_session().settings.artifact_dir)
PAIRS = [(c, k) for c in CASES for k in CHECKS] + [(c, k) for c in EPISODES for k in EPISODE_CHECKS]


if PAIRS:

    @pytest.mark.parametrize(("case", "check"), PAIRS, ids=[f"{c.case_id}-{k}" for c, k in PAIRS])
    def test_parity(case: Case, check: str, parity_session: ParitySession) -> None:
        result = parity_session.run(case, check)
        table = safe_lines(result.report.format_table()) if result.report else ""  # names come from files
        if result.status == Status.SKIP:
            pytest.skip(result.message)
        if result.status == Status.XFAIL:
            pytest.xfail(f"{result.message}\n{table}")
        if result.status == Status.FAIL:
            pytest.fail(f"{safe_text(case.path)}: {check} parity FAILED: {result.message}\n{table}", pytrace=False)
        print(table)

else:

    def test_artifacts_present() -> None:
        directory = parity_session().settings.artifact_dir
        pytest.skip(
            f"no artifacts (original_n1_7_<tag>.npz) in {directory}/ or its sub-directories: run `make produce "
            f"CKPT=<checkpoint>` in the producer env, or point {ENV_DIR} at a directory of artifacts"
        )
