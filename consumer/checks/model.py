"""Model parity: the original's collated inputs, byte-identical, plus the recorded noise -> LeRobot's
``get_action`` -> the same ``action_pred``, and the same pipeline stages on the way (first divergence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.stage_comparison import compare_stages
from comparison.status import Status
from consumer.checkpoint_identity import checkpoint_identity
from consumer.checks.base import REGENERATE_HINT, Skip, verdict
from consumer.known_divergences import divergences_for
from consumer.noise import device_rule_problem, noise_source
from parity_format.artifact import Artifact
from parity_format.stage_keys import stage_items, stage_name
from torch_hooks.noise_draw import NoiseInjectionError

if TYPE_CHECKING:
    from consumer.checks.base import Session


def model_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    settings = session.settings
    ckpt = session.checkpoint_for(artifact)
    # Replay anywhere (issue 8): start from the recorded noise when there is one, else the seed.
    noise = noise_source(artifact)
    if not noise.recorded and artifact.seed is None:
        raise Skip(f"{case.path.name} records neither the flow-matching noise nor its seed; {REGENERATE_HINT}")
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, settings.checkpoint_mismatch)
    problems = list(identity.problems)  # each one makes the comparison meaningless
    device = session.device_for(artifact)
    if not noise.recorded:
        problems += device_rule_problem(artifact, device)
    model = session.model(ckpt, device)
    try:
        out = model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed, noise.noise)
    except NoiseInjectionError as exc:  # never compare two different samples
        return CheckResult(case, "model", Status.FAIL, str(exc), noise_source=noise.label)
    expected, actual = artifact.action_pred, out.values["action_pred"]
    report = compare_mappings(
        f"{case.case_id} / model parity",
        {"action_pred": expected},
        {"action_pred": actual},
        settings.tolerances,
    )
    report.problems += problems
    report.notes += out.notes + identity.notes
    report.notes.append(f"LeRobot on {device}, {settings.dtype}, attention {model.attention}, noise: {noise.label}")
    known = divergences_for("model", artifact, ckpt)
    result = verdict(case, "model", report, known)
    result.noise_source = noise.label
    if expected.shape == actual.shape and expected.ndim == 3:
        with np.errstate(invalid="ignore", over="ignore"):
            grid = np.abs(expected.astype(np.float64) - actual)
        result.action_abs_diff = np.where(np.isnan(grid), np.inf, grid).max(axis=0).tolist()
    if not stage_items(artifact.outputs):
        report.notes.append("artifact records no pipeline stages (older or legacy file): end-to-end check only")
        return result
    mask = artifact.inputs.get("inputs.attention_mask")
    result.stages = compare_stages(
        artifact.outputs,
        out.values,
        settings.tolerances,
        None if mask is None else mask.astype(bool),
        f"{case.case_id} / stages",
    )
    report.notes.append(result.stages.summary)
    if result.stages.first_divergence is not None:
        if result.status == Status.PASS:
            problem = f"action_pred within tolerance, but stage {result.stages.first_divergence} is not"
            report.problems.append(problem)
            result.status, result.message = Status.FAIL, problem
        elif result.status == Status.XFAIL:  # a declared divergence explains only the stages it lists
            explained = {name for d in known for name in d.tensors}
            others = [
                s.name for s in result.stages.report.tensors if not s.passed and stage_name(s.name) not in explained
            ]
            if others:
                problem = f"stage(s) {', '.join(others)} out of tolerance, not explained by {result.divergences}"
                report.problems.append(problem)
                result.status, result.message = Status.FAIL, problem
        result.message = "; ".join(p for p in (result.message, result.stages.summary) if p)
    return result
