"""Real-time chunking parity on the golden fixture: real LeRobot, real cases, planted faults that fail
for their own reason (a shifted prefix names the overlap region; frozen steps counted off by one)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comparison.results import Case
from comparison.status import Status
from consumer.checks.rtc import CONVERSION_TENSOR, MODEL_TENSOR
from consumer.session import ParitySession
from parity_format.artifact import Artifact, read_artifact, write_artifact
from parity_format.rtc_members import PREFIX, RTC_PROVENANCE, model_member, read_rtc_provenance


def edited(src: Path, dst_dir: Path, edit: Any) -> Case:
    """A copy of the golden fixture with one edit, as a case to run."""
    artifact = read_artifact(src)
    edit(artifact)
    return Case(write_artifact(artifact, dst_dir / src.name), dst_dir.name, artifact.embodiment_tag)


SHIFTED_CASE = "frozen_eq_overlap"  # every overlap step frozen: the prefix IS those steps of the new chunk


def recorded_cases(path: Path) -> tuple[list, list]:
    recorded = read_rtc_provenance(read_artifact(path).provenance)
    assert recorded is not None, f"{path} records no RTC cases: regenerate the goldens (make fixtures)"
    return recorded


def test_golden_rtc_cases_match_and_the_leftover_tail_divergence_is_declared(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    model_cases, _ = recorded_cases(golden_square)
    assert {c.name for c in model_cases} >= {
        "frozen0",
        "frozen_eq_overlap",
        "full_horizon",
        "ramp_rate",
        "short_prefix",
        "zero_padded",
    }
    result = session.run(edited(golden_square, tmp_path / "copy", lambda a: None), "rtc")
    assert result.status == Status.XFAIL, result.message
    assert result.divergences == ["rtc-leftover-tail"]
    by_name = {t.name: t for t in result.report.tensors}
    for case in model_cases:
        assert by_name[MODEL_TENSOR + case.name].passed, by_name[MODEL_TENSOR + case.name].summary()
    assert by_name[CONVERSION_TENSOR + "leftover"].passed
    assert by_name[CONVERSION_TENSOR + "padded_leftover"].passed  # LeRobot strips the zero rows
    tail = by_name[CONVERSION_TENSOR + "beyond_execution_horizon"]
    assert not tail.passed
    assert any(n.startswith(f"{tail.name}: worst at step") and "frozen steps 0-1" in n for n in result.report.notes)
    assert result.stages is not None and result.stages.first_divergence is None


def shift_prefix(artifact: Artifact) -> None:
    """The recorded prefix of one case moved one step earlier (row i holds what row i+1 held)."""
    key = model_member(SHIFTED_CASE, PREFIX)
    prefix = artifact.outputs[key]
    artifact.outputs[key] = np.ascontiguousarray(np.concatenate([prefix[:, 1:], prefix[:, -1:]], axis=1))


def test_prefix_shifted_by_one_step_fails_and_names_the_overlap_region(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    result = session.run(edited(golden_square, tmp_path / "shifted", shift_prefix), "rtc")
    assert result.status == Status.FAIL
    failing = {t.name for t in result.report.tensors if not t.passed}
    assert MODEL_TENSOR + SHIFTED_CASE in failing
    assert not {n for n in failing if n.startswith(MODEL_TENSOR)} - {MODEL_TENSOR + SHIFTED_CASE}
    located = f"{MODEL_TENSOR}{SHIFTED_CASE}: worst at step"
    assert located in result.message and "in the overlap region (frozen steps 0-" in result.message


@contextlib.contextmanager
def frozen_steps_off_by_one() -> Iterator[list[int]]:
    """Scoped (test only): LeRobot's action head sees one more frozen step than it is given."""
    from lerobot.policies.groot.groot_n1_7 import GR00TN17ActionHead

    real = GR00TN17ActionHead.get_action_with_features
    seen: list[int] = []

    def off_by_one(self: Any, *args: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if options is not None and options["rtc_frozen_steps"] < options["rtc_overlap_steps"]:
            options = {**options, "rtc_frozen_steps": options["rtc_frozen_steps"] + 1}
            seen.append(options["rtc_frozen_steps"])
        return real(self, *args, options=options, **kwargs)

    GR00TN17ActionHead.get_action_with_features = off_by_one
    try:
        yield seen
    finally:
        GR00TN17ActionHead.get_action_with_features = real


def test_frozen_steps_counted_off_by_one_fails_in_the_overlap_region(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    model_cases, _ = recorded_cases(golden_square)
    case = edited(golden_square, tmp_path / "off-by-one", lambda a: None)
    with frozen_steps_off_by_one() as seen:
        result = session.run(case, "rtc")
    assert seen, "the patch never saw an RTC call"
    assert result.status == Status.FAIL
    failing = {t.name for t in result.report.tensors if not t.passed}
    moved = {MODEL_TENSOR + c.name for c in model_cases if c.options.frozen < c.options.overlap}
    assert moved and moved <= failing
    assert MODEL_TENSOR + "frozen_eq_overlap" not in failing  # nothing left to freeze there: unchanged
    assert f"{MODEL_TENSOR}frozen0: worst at step 0, in the overlap region" in result.message


def test_artifact_without_rtc_cases_skips_with_the_regenerate_hint(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    def drop_rtc(artifact: Artifact) -> None:
        artifact.provenance = {k: v for k, v in artifact.provenance.items() if k != RTC_PROVENANCE}
        artifact.outputs = {k: v for k, v in artifact.outputs.items() if not k.startswith(("rtc.", "rtc_user."))}

    result = session.run(edited(golden_square, tmp_path / "old", drop_rtc), "rtc")
    assert result.status == Status.SKIP and "make produce" in result.message


@pytest.mark.parametrize("member", ["rtc.frozen0.prefix", "rtc_user.leftover.prev_chunk_left_over"])
def test_missing_case_member_fails_naming_it(
    golden_square: Path, tmp_path: Path, session: ParitySession, member: str
) -> None:
    def drop(artifact: Artifact) -> None:
        del artifact.outputs[member]

    result = session.run(edited(golden_square, tmp_path / member, drop), "rtc")
    assert result.status == Status.FAIL and f"out::{member}" in result.message


def test_leftover_tail_applies_exactly_when_the_leftover_outgrows_the_overlap(golden_square: Path) -> None:
    from consumer.known_divergences import divergences_for

    ckpt = golden_square.parents[2] / "tiny-groot-n1.7"
    artifact = read_artifact(golden_square)
    assert [d.name for d in divergences_for("rtc", artifact, ckpt)] == ["rtc-leftover-tail"]
    for case in artifact.provenance[RTC_PROVENANCE]["conversion_cases"]:
        case["real_rows"] = case["original_options"]["rtc_overlap_steps"]  # a leftover no longer than the overlap
    assert divergences_for("rtc", artifact, ckpt) == []


def test_an_artifact_written_without_cases_skips_naming_why(golden_square: Path, session: ParitySession) -> None:
    other_size = golden_square.parents[1] / "240x320" / golden_square.name  # cases are recorded at the first size
    result = session.run(Case(other_size, "240x320", "libero_sim"), "rtc")
    assert result.status == Status.SKIP and "first --image-size" in result.message


@contextlib.contextmanager
def one_robots_leftover_reversed() -> Iterator[list[int]]:
    """Scoped (test only): GrootPolicy reads a (T, A) leftover back to front; a (B, T, A) one as it is."""
    from lerobot.policies.groot.modeling_groot import GrootPolicy

    real = GrootPolicy._prepare_n1_7_rtc_inputs
    seen: list[int] = []

    def reversed_rows(self: Any, inputs: Any, *, inference_delay: Any, prev_chunk_left_over: Any) -> Any:
        seen.append(prev_chunk_left_over.ndim)
        if prev_chunk_left_over.ndim == 2:
            prev_chunk_left_over = prev_chunk_left_over.flip(0)
        return real(self, inputs, inference_delay=inference_delay, prev_chunk_left_over=prev_chunk_left_over)

    GrootPolicy._prepare_n1_7_rtc_inputs = reversed_rows
    try:
        yield seen
    finally:
        GrootPolicy._prepare_n1_7_rtc_inputs = real


def test_one_robots_leftover_goes_in_as_lerobot_rollout_passes_it(tmp_path: Path, session: ParitySession) -> None:
    """B = 1: (T, A), the shape of lerobot-rollout's RTC loop; a fault on that path fails the conversion cases."""
    golden_b1 = (
        Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "b1-256x256" / "original_n1_7_libero_sim.npz"
    )
    case = edited(golden_b1, tmp_path / "b1", lambda a: None)
    clean = session.run(case, "rtc")
    assert clean.status == Status.XFAIL and clean.divergences == ["rtc-leftover-tail"], clean.message
    assert {t.name for t in clean.report.tensors if not t.passed} == {CONVERSION_TENSOR + "beyond_execution_horizon"}
    with one_robots_leftover_reversed() as seen:
        planted = session.run(case, "rtc")
    assert seen and set(seen) == {2}  # every conversion case took the (T, A) path
    assert planted.status == Status.FAIL, planted.message
    failing = {t.name for t in planted.report.tensors if not t.passed}
    assert {CONVERSION_TENSOR + "leftover", CONVERSION_TENSOR + "padded_leftover"} <= failing
    assert not {n for n in failing if n.startswith(MODEL_TENSOR)}  # the original's own RTC path is untouched
