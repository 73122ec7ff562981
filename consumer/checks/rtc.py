"""Real-time chunking parity: the original's RTC cases (``parity_format.rtc_members``) replayed through LeRobot.

* model cases: the recorded prefix and options -> LeRobot's ``GR00TN17.get_action(inputs, options)``,
  from the recorded noise -> the same ``action_pred`` and stages (tensor ``rtc@<case>``);
* conversion cases: the recorded ``prev_chunk_left_over`` and ``inference_delay`` -> LeRobot's
  ``GrootPolicy.predict_action_chunk`` (which turns them into options itself) -> the original's
  ``action_pred`` for the options its own semantics give (tensor ``rtc_user@<case>``), on the policy's
  horizon and action dims.

Where a case differs, the message says which steps: the overlap region (frozen, then ramp steps) or the
free steps after it. Artifacts written before RTC cases existed SKIP with the regenerate hint.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from comparison.compare import compare_mappings
from comparison.formatting import fmt_num
from comparison.results import Case, CheckResult
from comparison.stage_comparison import StageComparison, compare_stages
from comparison.status import Status
from consumer.checkpoint_identity import checkpoint_identity
from consumer.checks.base import REGENERATE_HINT, Skip, verdict
from consumer.known_divergences import divergences_for
from consumer.noise import noise_source
from parity_format.artifact import OUT, Artifact
from parity_format.errors import ArtifactError
from parity_format.rtc_members import (
    ACTION_PRED,
    LEFTOVER,
    PREFIX,
    RtcOptions,
    conversion_member,
    model_member,
    read_rtc_provenance,
    rtc_not_recorded,
)
from torch_hooks.forward_memo import remembered_forward

if TYPE_CHECKING:
    from consumer.checks.base import Session

CHECK = "rtc"
MODEL_TENSOR = "rtc@"
CONVERSION_TENSOR = "rtc_user@"


def member(artifact: Artifact, name: str) -> np.ndarray:
    if name not in artifact.outputs:  # the manifest records the case: a file without its member is broken
        raise ArtifactError(artifact.path or Path("?"), "RTC case recorded in the provenance has no member", OUT + name)
    return artifact.outputs[name]


def steps_text(start: int, stop: int) -> str:
    return f"step {start}" if stop - start == 1 else f"steps {start}-{stop - 1}"


def locate(expected: np.ndarray, actual: np.ndarray, options: RtcOptions) -> str:
    """Where two (B, H, D) chunks differ most, by region of the new chunk: frozen, ramp, free steps."""
    per_step = np.abs(expected.astype(np.float64) - actual).max(axis=(0, 2))
    horizon = per_step.shape[0]
    if not per_step.any():
        return "identical at every step"
    worst = int(np.argmax(per_step))
    parts = []
    for label, (start, stop) in options.regions().items():
        stop = horizon if stop < 0 else min(stop, horizon)
        if stop > start:
            parts.append(f"{label} {steps_text(start, stop)} max|diff| {fmt_num(float(per_step[start:stop].max()))}")
    where = "in the overlap region" if worst < options.overlap else "after the overlap region"
    return f"worst at step {worst}, {where} ({'; '.join(parts)})"


def as_callers_pass(leftover: np.ndarray) -> np.ndarray:
    """One robot's leftover as ``(T, A)``, the shape lerobot-rollout's RTC loop passes
    (``lerobot/rollout/inference/rtc.py``), which GrootPolicy unsqueezes; a batch's as ``(B, T, A)``."""
    return leftover[0] if leftover.shape[0] == 1 else leftover


def rtc_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    recorded = read_rtc_provenance(artifact.provenance or {})
    why_not = rtc_not_recorded(artifact.provenance or {})
    if why_not is not None:
        raise Skip(f"{case.path.name} records no real-time-chunking cases: {why_not}")
    if recorded is None:
        raise Skip(f"{case.path.name} records no real-time-chunking cases (written before them); {REGENERATE_HINT}")
    model_cases, conversion_cases = recorded
    for name in [model_member(c.name, m) for c in model_cases for m in (PREFIX, ACTION_PRED)] + [
        conversion_member(c.name, m) for c in conversion_cases for m in (LEFTOVER, ACTION_PRED)
    ]:
        member(artifact, name)  # every recorded case's members, before anything runs
    noise = noise_source(artifact)
    if noise.noise is None:
        raise Skip(f"{case.path.name} records no flow-matching noise to replay its RTC cases from; {REGENERATE_HINT}")
    settings = session.settings
    ckpt = session.checkpoint_for(artifact)
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, settings.checkpoint_mismatch)
    device = session.device_for(artifact)
    model = session.model(ckpt, device)

    # every case feeds the backbone the artifact's inputs: it runs once (torch_hooks/forward_memo.py)
    with remembered_forward(model.model.backbone) as memo:
        expected: dict[str, np.ndarray] = {}
        actual: dict[str, np.ndarray] = {}
        regions: dict[str, RtcOptions] = {}
        stage_results: list[tuple[str, StageComparison]] = []
        mask = artifact.inputs.get("inputs.attention_mask")
        for mc in model_cases:
            name = MODEL_TENSOR + mc.name
            prefix = member(artifact, model_member(mc.name, PREFIX))
            out = model.get_action(
                artifact.inputs,
                artifact.input_torch_dtypes,
                artifact.seed,
                noise.noise,
                action=prefix,
                options=mc.options.to_gr00t(),
            )
            expected[name], actual[name] = member(artifact, model_member(mc.name, ACTION_PRED)), out.values[ACTION_PRED]
            regions[name] = mc.options
            stage_prefix = model_member(mc.name, "")
            recorded_stages = {
                k[len(stage_prefix) :]: v for k, v in artifact.outputs.items() if k.startswith(stage_prefix)
            }
            if any(k.startswith("stage.") for k in recorded_stages):
                stages = compare_stages(
                    recorded_stages,
                    out.values,
                    settings.tolerances,
                    None if mask is None else mask.astype(bool),
                    f"{case.case_id} / rtc {mc.name} stages",
                )
                stage_results.append((mc.name, stages))

        notes = list(identity.notes)
        if conversion_cases:
            from consumer.lerobot_side.rtc_policy import policy_batch, predict_chunk

            batch = policy_batch(artifact.inputs, device)
            for cc in conversion_cases:
                name = CONVERSION_TENSOR + cc.name
                leftover = member(artifact, conversion_member(cc.name, LEFTOVER))
                policy, built = session.policy(artifact, ckpt, device, int(leftover.shape[-1]))
                notes += [n for n in built if n not in notes]
                got = predict_chunk(
                    policy,
                    batch,
                    noise.noise,
                    inference_delay=cc.inference_delay,
                    prev_chunk_left_over=as_callers_pass(leftover),
                    execution_horizon=cc.execution_horizon,
                )
                want = member(artifact, conversion_member(cc.name, ACTION_PRED))[:, : got.shape[1], : got.shape[2]]
                expected[name], actual[name] = want, got
                regions[name] = cc.original_options

    report = compare_mappings(f"{case.case_id} / rtc", expected, actual, settings.tolerances)
    report.problems += list(identity.problems)
    report.notes += notes
    report.notes.append(f"LeRobot on {device}, {settings.dtype}, noise: {noise.label}; backbone {memo.summary}")
    for name in expected:
        if expected[name].shape == actual[name].shape:
            report.notes.append(f"{name}: {locate(expected[name], actual[name], regions[name])}")
    known = divergences_for(CHECK, artifact, ckpt)
    result = verdict(case, CHECK, report, known)
    result.noise_source = noise.label
    failing = [t.name for t in report.tensors if not t.passed]
    if failing:
        where = "; ".join(
            f"{n}: {locate(expected[n], actual[n], regions[n])}"
            for n in failing
            if expected[n].shape == actual[n].shape
        )
        result.message = "; ".join(p for p in (result.message, where) if p)
    diverged = [(n, s) for n, s in stage_results if s.first_divergence is not None]
    for n, s in stage_results:
        report.notes.append(f"rtc {n} stages: {s.summary}")
    if stage_results:
        result.stages = diverged[0][1] if diverged else stage_results[0][1]
    if diverged and result.status == Status.PASS:
        problem = f"rtc {diverged[0][0]}: action_pred within tolerance, but {diverged[0][1].summary}"
        report.problems.append(problem)
        result.status, result.message = Status.FAIL, problem
    return result
