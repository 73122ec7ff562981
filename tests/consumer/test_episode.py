"""Episode parity on the golden episodes: real LeRobot over 24 steps, and planted state faults that fail
for their own reason (decoding against the first step's state; a queue that re-plans a step early)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer.checks.episode import ORDER, TENSOR, trend
from consumer.session import ParitySession, discover_episode_cases

REPO = Path(__file__).resolve().parents[2]
GOLDEN_EPISODE = REPO / "fixtures" / "golden" / "episode" / "episode_n1_7_unitree_g1_sonic.npz"
GOLDEN_ALT_EPISODE = REPO / "fixtures" / "golden-alt" / "episode" / "episode_n1_7_new_embodiment.npz"
N_ACTION_STEPS = 8  # the golden episode's re-plan period (half of unitree_g1_sonic's 16-step horizon)


def episode_case(path: Path) -> Case:
    assert path.is_file(), f"golden episode missing: {path} (regenerate with `make fixtures GR00T_SRC=...`)"
    (case,) = [c for c in discover_episode_cases(path.parents[1]) if c.path == path]
    return case


def errors_per_step(result: CheckResult, tensor: str) -> np.ndarray:
    prefix = f"{TENSOR}{tensor}: error per step "
    (line,) = [n for n in result.report.notes if n.startswith(prefix)]
    return np.array([float(x) for x in line[len(prefix) :].split()])


@pytest.fixture(scope="module")
def clean(session: ParitySession) -> CheckResult:
    return session.run(episode_case(GOLDEN_EPISODE), "episode")


def test_golden_episode_matches_on_every_path_with_a_flat_error(clean: CheckResult) -> None:
    assert clean.status == Status.PASS, clean.message
    assert [t.name for t in clean.report.tensors] == [TENSOR + k for k in ORDER]
    assert all(t.passed for t in clean.report.tensors)
    for tensor in ORDER:
        errors = errors_per_step(clean, tensor)
        assert errors.shape == (24,) and errors.max() < 1e-5
        assert abs(trend(errors)) < 1e-6  # rounding does not grow over the episode
    assert any(n.startswith(f"{TENSOR}rtc_decoded: worst step") for n in clean.notes)


@contextlib.contextmanager
def decode_against_first_state() -> Iterator[list[int]]:
    """Scoped (test only): every LeRobot pack step hands its decode the raw state of the first step it saw."""
    from lerobot.policies.groot.processor_groot import GrootN17PackInputsStep

    real = GrootN17PackInputsStep.get_cached_raw_state
    first: dict[int, Any] = {}
    calls: list[int] = []

    def stale(self: Any) -> Any:
        calls.append(1)
        return first.setdefault(id(self), real(self))

    GrootN17PackInputsStep.get_cached_raw_state = stale
    try:
        yield calls
    finally:
        GrootN17PackInputsStep.get_cached_raw_state = real


def test_decoding_against_the_first_state_grows_the_error_and_names_the_first_bad_step(
    clean: CheckResult, session: ParitySession
) -> None:
    with decode_against_first_state() as calls:
        result = session.run(episode_case(GOLDEN_EPISODE), "episode")
    assert calls, "the patch never saw a decode"
    assert result.status == Status.FAIL
    failing = {t.name for t in result.report.tensors if not t.passed}
    assert failing == {TENSOR + "chunk_decoded", TENSOR + "rtc_decoded"}  # normalized actions are untouched
    assert f"{TENSOR}chunk_decoded: first bad step {N_ACTION_STEPS}," in result.message  # the first re-plan
    for tensor in ("chunk_decoded", "rtc_decoded"):
        stale, fresh = errors_per_step(result, tensor), errors_per_step(clean, tensor)
        assert stale[:N_ACTION_STEPS].max() < 1e-5  # the first chunk IS decoded against the first state
        assert trend(stale) > 100 * max(abs(trend(fresh)), 1e-9)


def test_a_queue_that_re_plans_early_is_named(session: ParitySession) -> None:
    from lerobot.policies.groot.modeling_groot import GrootPolicy

    real = GrootPolicy._resolve_action_queue_steps
    GrootPolicy._resolve_action_queue_steps = lambda self: real(self) - 1  # scoped: test only
    try:
        result = session.run(episode_case(GOLDEN_EPISODE), "episode")
    finally:
        GrootPolicy._resolve_action_queue_steps = real
    assert result.status == Status.FAIL
    early = N_ACTION_STEPS - 1
    assert f"queue: select_action at step {early} drew the noise 1 time(s)" in result.message
    assert f"{TENSOR}queue: first bad step {early}," in result.message


def test_state_history_episode_is_the_declared_refusal(session: ParitySession) -> None:
    result = session.run(episode_case(GOLDEN_ALT_EPISODE), "episode")
    assert result.status == Status.XFAIL, result.message
    assert result.divergences == ["episode-state-history-refused"]


def test_a_regular_artifact_is_not_an_episode(golden_square: Path, session: ParitySession) -> None:
    result = session.run(Case(golden_square, "256x256", "libero_sim"), "episode")
    assert result.status == Status.SKIP and "--episode" in result.message
