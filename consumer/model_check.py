"""Model parity: the original's collated inputs, byte-identical, plus the recorded seed -> LeRobot's
``get_action`` -> the same ``action_pred``, and the same pipeline stages on the way (first divergence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from consumer.checks import REGENERATE_HINT, Skip
from consumer.verdict import verdict
from parity_format.artifact import Artifact
from parity_format.compare import compare_mappings
from parity_format.results import Case, CheckResult
from parity_format.stages import compare_stages, stage_items
from parity_format.status import Status

if TYPE_CHECKING:
    from consumer.checks import ParitySession


def model_parity(session: ParitySession, case: Case, artifact: Artifact) -> CheckResult:
    settings = session.settings
    ckpt = session.checkpoint_for(artifact)
    if artifact.seed is None:
        raise Skip(f"{case.path.name} records no flow-matching seed; {REGENERATE_HINT}")
    problems = session.fingerprint_notes(artifact, ckpt)  # each one makes the comparison meaningless
    device = session.device_for(artifact)
    produced_on = str((artifact.provenance or {}).get("device", "")).split(":")[0]
    if produced_on and produced_on != device.split(":")[0]:
        problems.append(
            f"artifact produced on {produced_on}, replayed on {device}: torch draws a different noise "
            f"stream per device type, so action_pred is not comparable; replay it on a {produced_on} machine"
        )
    model = session.model(ckpt, device)
    out = model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed)
    expected, actual = artifact.action_pred, out.values["action_pred"]
    report = compare_mappings(
        f"{case.case_id} / model parity",
        {"action_pred": expected},
        {"action_pred": actual},
        settings.tolerances,
    )
    report.problems += problems
    report.notes += out.notes
    report.notes.append(f"LeRobot on {device}, {settings.dtype}, attention {model.attention}, seed {artifact.seed}")
    result = verdict(case, "model", report)
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
        result.message = "; ".join(p for p in (result.message, result.stages.summary) if p)
    return result
