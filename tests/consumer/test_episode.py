"""Episode parity on the golden episodes: real LeRobot over 24 steps, and planted state faults that fail
for their own reason (decoding against the first step's state; a queue that re-plans a step early).

``libero_sim``: LeRobot's postprocessor hands its user the LIBERO env convention, so the decoded paths are
compared with the original's env-converted actions; planted faults on either side of that comparison fail
naming the path and the step, and an episode without the env members says how to regenerate it."""

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
from consumer.lerobot_side.decode import LIBERO_REFERENCE, PLAIN_REFERENCE
from consumer.session import ParitySession, discover_episode_cases
from parity_format.artifact import Artifact, read_artifact, write_artifact
from parity_format.episode_members import MODES, QUEUE_MODE, RTC_MODE, decoded_member
from parity_format.stage_failures import LIBERO_ENV_CONVERSION, STAGE_FAILURES

REPO = Path(__file__).resolve().parents[2]
GOLDEN_EPISODE = REPO / "fixtures" / "golden" / "episode" / "episode_n1_7_unitree_g1_sonic.npz"
GOLDEN_ALT_EPISODE = REPO / "fixtures" / "golden-alt" / "episode" / "episode_n1_7_new_embodiment.npz"
GOLDEN_LIBERO_EPISODE = REPO / "fixtures" / "golden" / "episode" / "episode_n1_7_libero_sim.npz"
DECODED_PATHS = {QUEUE_MODE: "chunk_decoded", RTC_MODE: "rtc_decoded"}
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


# --- libero_sim: LeRobot's LIBERO gripper convention on the decoded paths ---


def edited_episode(tmp_path: Path, edit: Any) -> Case:
    """A copy of the golden LIBERO episode with ``edit(artifact)`` applied, as its own episode case."""
    artifact = read_artifact(GOLDEN_LIBERO_EPISODE)
    edit(artifact)
    return episode_case(write_artifact(artifact, tmp_path / "episode" / GOLDEN_LIBERO_EPISODE.name))


def env_gap(mode: str) -> np.ndarray:
    """Per step, how far the original's env-converted actions are from its plain decode (max over dims)."""
    outputs = read_artifact(GOLDEN_LIBERO_EPISODE).outputs
    plain, env = outputs[decoded_member(mode)], outputs[decoded_member(mode, env=True)]
    return np.abs(env.astype(np.float64) - plain).max(axis=1)


@pytest.fixture(scope="module")
def clean_libero(session: ParitySession) -> CheckResult:
    return session.run(episode_case(GOLDEN_LIBERO_EPISODE), "episode")


def test_libero_golden_episode_matches_in_lerobots_convention(clean_libero: CheckResult) -> None:
    assert clean_libero.status == Status.PASS, clean_libero.message
    assert [t.name for t in clean_libero.report.tensors] == [TENSOR + k for k in ORDER]
    for tensor in ORDER:
        errors = errors_per_step(clean_libero, tensor)
        assert errors.shape == (24,) and errors.max() < 1e-5
        assert abs(trend(errors)) < 1e-6
    assert any(LIBERO_REFERENCE in n for n in clean_libero.report.notes)
    # the golden exercises the convention: the plain decode is far from what LeRobot hands its user
    assert all(env_gap(mode).max() > 0.5 for mode in MODES)


def test_a_shifted_env_member_fails_its_path_from_the_shifted_step(tmp_path: Path, session: ParitySession) -> None:
    shift_from, offset = 13, np.float32(0.05)

    def shift(artifact: Artifact) -> None:
        name = decoded_member(RTC_MODE, env=True)
        shifted = artifact.outputs[name].copy()
        shifted[shift_from:] += offset
        artifact.outputs[name] = shifted

    result = session.run(edited_episode(tmp_path, shift), "episode")
    assert result.status == Status.FAIL
    assert {t.name for t in result.report.tensors if not t.passed} == {TENSOR + "rtc_decoded"}
    assert f"{TENSOR}rtc_decoded: first bad step {shift_from}," in result.message
    errors = errors_per_step(result, "rtc_decoded")
    assert errors[:shift_from].max() < 1e-5
    np.testing.assert_allclose(errors[shift_from:], offset, atol=1e-5)


@contextlib.contextmanager
def without_lerobots_gripper_conversion() -> Iterator[list[int]]:
    """Scoped (test only): LeRobot's N1.7 decode step keeps the decoded gripper as decode_action returns it."""
    from lerobot.policies.groot import processor_groot

    real = processor_groot._apply_n1_7_action_decode_transform
    calls: list[int] = []

    def identity(decoded: np.ndarray, **_kwargs: Any) -> np.ndarray:
        calls.append(1)
        return decoded

    processor_groot._apply_n1_7_action_decode_transform = identity
    try:
        yield calls
    finally:
        processor_groot._apply_n1_7_action_decode_transform = real


def test_dropping_lerobots_gripper_conversion_fails_the_decoded_paths_by_the_conventions_gap(
    session: ParitySession,
) -> None:
    with without_lerobots_gripper_conversion() as calls:
        result = session.run(episode_case(GOLDEN_LIBERO_EPISODE), "episode")
    assert calls, "the patch never saw a decode"
    assert result.status == Status.FAIL
    assert {t.name for t in result.report.tensors if not t.passed} == {TENSOR + p for p in DECODED_PATHS.values()}
    for mode, path in DECODED_PATHS.items():
        gap = env_gap(mode)
        errors = errors_per_step(result, path)
        # exactly the gripper convention, step by step (the report prints 3 significant digits)
        np.testing.assert_allclose(errors, gap, rtol=5e-3, atol=1e-5)
        first = int(np.flatnonzero(gap > 1e-2)[0])
        assert f"{TENSOR}{path}: first bad step {first}," in result.message


def test_without_lerobots_libero_step_the_plain_decode_is_the_reference(session: ParitySession) -> None:
    """A user who turns LeRobot's LIBERO transform off gets the plain decode, and is compared with it."""
    from unittest import mock

    from consumer.lerobot_side import model

    real = model.build_processors

    def no_libero_step(ckpt: Path, tag: str) -> tuple[Any, Any, list[str]]:
        preprocessor, postprocessor, notes = real(ckpt, tag)
        for step in postprocessor.steps:
            if hasattr(step, "action_decode_transform"):
                step.action_decode_transform = None  # what GrootConfig(action_decode_transform="none") gives
        return preprocessor, postprocessor, notes

    with mock.patch.object(model, "build_processors", no_libero_step):
        result = session.run(episode_case(GOLDEN_LIBERO_EPISODE), "episode")
    assert result.status == Status.PASS, result.message
    assert any(PLAIN_REFERENCE in n for n in result.report.notes)


def test_an_episode_without_env_members_skips_naming_the_regenerate_command(
    tmp_path: Path, session: ParitySession
) -> None:
    def old(artifact: Artifact) -> None:
        for mode in MODES:
            del artifact.outputs[decoded_member(mode, env=True)]

    result = session.run(edited_episode(tmp_path, old), "episode")
    assert result.status == Status.SKIP
    assert "\n" not in result.message
    assert "make produce CKPT=<checkpoint> TAGS=libero_sim EPISODE=1" in result.message
    assert "out::" + decoded_member(QUEUE_MODE, env=True) in result.message


def test_a_recorded_env_conversion_failure_fails_naming_it(tmp_path: Path, session: ParitySession) -> None:
    def failed(artifact: Artifact) -> None:
        for mode in MODES:
            del artifact.outputs[decoded_member(mode, env=True)]
        artifact.provenance[STAGE_FAILURES] = {LIBERO_ENV_CONVERSION: "KeyError: 'action.x'"}

    result = session.run(edited_episode(tmp_path, failed), "episode")
    assert result.status == Status.FAIL
    assert "recorded producer failure: KeyError: 'action.x'" in result.message
