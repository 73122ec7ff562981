"""Training parity (issue 23): the same raw sample and draws give LeRobot the same training batch, loss,
gradients, trainable parameters and weight-decay split as the original.

Three comparisons, one verdict:

1. the raw observation + raw action chunk -> LeRobot's preprocessor in training mode -> the original's
   collated training batch (integers exactly; ``action`` per action key, after normalization and
   relative conversion, plus its padding, so a wrong key is named);
2. the original's batch -> ``GrootPolicy.forward`` with the recorded draws injected -> the loss, the
   gradient L2 norm of each model part and the full gradient of the recorded named tensors (max |diff|,
   cosine, relative norm difference);
3. per recorded ``tune_*`` combination, the trainable parameter names and the weight-decay names: any
   name on one side only is a problem that names it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from comparison.compare import ComparisonReport, compare_mappings
from comparison.formatting import fmt_float
from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer.checkpoint_identity import checkpoint_identity
from consumer.checks.base import REGENERATE_HINT, Skip, refusal_verdict, verdict
from consumer.known_divergences import divergences_for
from consumer.memory_cap import load_allowance, weights_allowance
from consumer.model_store import float32_bytes
from parity_format import training_members as tm
from parity_format.artifact import Artifact
from torch_hooks.training_draws import DrawInjectionError

if TYPE_CHECKING:
    from consumer.checks.base import Session

TRAINING_HINT = f"{REGENERATE_HINT.replace('make produce', 'make produce TRAINING=1')} (docs/training.md)"
EXACT_BATCH_KEYS = ("input_ids", "attention_mask", "image_grid_thw", "embodiment_id", "action_mask")
BATCH, GRAD, GRAD_NORM = "batch:", "grad:", "grad_norm:"


def param_label(name: str) -> str:
    """A parameter's tensor name in the report: dots become '/' so the whole name is the short name."""
    return GRAD + name.replace(".", "/")


def batch_by_key(batch: dict[str, np.ndarray], action_keys: dict[str, int]) -> dict[str, np.ndarray]:
    """The batch with ``action`` split per action key along its last axis (and its zero padding)."""
    named: dict[str, np.ndarray] = {}
    for key, value in batch.items():
        if key != "action" or value.ndim != 3:
            named[BATCH + key] = value
            continue
        start = 0
        for action_key, dim in action_keys.items():
            named[f"{BATCH}action:{action_key}"] = value[..., start : start + dim]
            start += dim
        named[f"{BATCH}action:padding"] = value[..., start:]
    return named


def set_differences(kind: str, flags: dict[str, Any], original: list[str], lerobot: tuple[str, ...]) -> list[str]:
    only_original = sorted(set(original) - set(lerobot))
    only_lerobot = sorted(set(lerobot) - set(original))
    if not only_original and not only_lerobot:
        return []
    where = ", ".join(f"{k}={v}" for k, v in flags.items())
    parts = [f"only in the original: {only_original}"] if only_original else []
    parts += [f"only in LeRobot: {only_lerobot}"] if only_lerobot else []
    return [f"{kind} set differs ({where}): {'; '.join(parts)}"]


def relative_norm_difference(expected: np.ndarray, actual: np.ndarray) -> float:
    e = float(np.linalg.norm(expected.astype(np.float64)))
    a = float(np.linalg.norm(actual.astype(np.float64)))
    return abs(a - e) / e if e else (0.0 if a == 0 else float("inf"))


def part_summary(report: ComparisonReport, norms: dict[str, tuple[float, float]]) -> list[str]:
    """Per model part: the worst cosine of its named gradient tensors and its gradient-norm difference."""
    lines = []
    for part, (expected, actual) in norms.items():
        cosines = [
            t.cosine
            for t in report.tensors
            if t.name.startswith(GRAD)
            and tm.part_of(t.name[len(GRAD) :].replace("/", ".")) == part
            and t.cosine is not None
        ]
        rel = abs(actual - expected) / expected if expected else float("inf")
        worst = f"{min(cosines):.12f}" if cosines else "-"  # 1e+00 would hide a 1e-7 departure
        lines.append(
            f"{part}: grad norm {fmt_float(expected)} vs {fmt_float(actual)} (rel diff {fmt_float(rel)}), "
            f"worst cosine {worst}"
        )
    return lines


def training_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    from consumer.lerobot_side.training import trainable_and_decay, training_preprocess, training_step

    outputs, section = artifact.outputs, (artifact.provenance or {}).get(tm.MANIFEST_KEY)
    if not tm.has_training_record(outputs) or not isinstance(section, dict):
        raise Skip(f"{case.path.name} records no training step; {TRAINING_HINT}")
    if artifact.raw is None:
        raise Skip(f"{case.path.name} has no raw observations; {TRAINING_HINT}")
    ckpt = session.checkpoint_for(artifact)
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, session.settings.checkpoint_mismatch)
    known = divergences_for("training", artifact, ckpt)
    action_keys = {str(k): int(v) for k, v in section["action_keys"].items()}
    raw_actions = {k: outputs[tm.RAW_ACTION + k] for k in action_keys}
    original_batch = {k[len(tm.BATCH) :]: v for k, v in outputs.items() if k.startswith(tm.BATCH)}
    refused: CheckResult | None = None
    try:
        lerobot_batch, notes = training_preprocess(ckpt, artifact.embodiment_tag, artifact.raw, raw_actions)
    except Exception as exc:  # LeRobot refused the training sample: declared (the rest still runs) or a failure
        refused = refusal_verdict(case, "training", "LeRobot's training preprocessor", exc, known)
        if refused.status != Status.XFAIL:
            return refused
        lerobot_batch, notes = {}, [f"training batch not compared: {refused.message}"]

    named = [str(n) for n in section["gradient_tensors"]]
    draws = {"noise": outputs[tm.DRAW_NOISE], "beta": outputs[tm.DRAW_BETA]}
    prob = float(section["action_head_state_dropout_prob"])
    if prob > 0:
        draws["state_dropout"] = outputs[tm.DRAW_STATE_DROPOUT]
    session.models.reserve(float32_bytes(ckpt))  # the step's policy is built outside the store
    try:
        with load_allowance(weights_allowance(ckpt)):  # a model the check loads, as every model load (issue 25)
            step = training_step(
                ckpt, artifact.embodiment_tag, session.device_for(artifact), original_batch, draws, prob,
                dict(section["step_flags"]), named,
            )  # fmt: skip
    except DrawInjectionError as exc:  # never compare two different training steps
        return CheckResult(case, "training", Status.FAIL, str(exc))
    expected = batch_by_key(original_batch, action_keys) if refused is None else {}
    actual = batch_by_key(lerobot_batch, action_keys)
    expected["loaded_weights"], actual["loaded_weights"] = step.checkpoint_weights, step.loaded_weights
    expected["loss"], actual["loss"] = outputs[tm.LOSS], np.array(step.loss, dtype=np.float32)
    norms: dict[str, tuple[float, float]] = {}
    for key, value in outputs.items():
        if key.startswith(tm.GRAD_NORM):
            part = key[len(tm.GRAD_NORM) :]
            expected[GRAD_NORM + part] = value
            if part in step.grad_norms:
                actual[GRAD_NORM + part] = np.array(step.grad_norms[part], dtype=np.float64)
                norms[part] = (float(value), step.grad_norms[part])
    for name in named:
        expected[param_label(name)] = outputs[tm.GRAD + name]
        if name in step.grads:
            actual[param_label(name)] = step.grads[name]
    only_lerobot_parts = sorted(
        set(step.grad_norms) - {k[len(GRAD_NORM) :] for k in expected if k.startswith(GRAD_NORM)}
    )
    for part in only_lerobot_parts:
        actual[GRAD_NORM + part] = np.array(step.grad_norms[part], dtype=np.float64)

    report = compare_mappings(
        f"{case.case_id} / training parity",
        expected,
        actual,
        session.settings.tolerances,
        exact_keys=[BATCH + k for k in EXACT_BATCH_KEYS],
    )
    for combination in section["combinations"]:
        flags = dict(combination["flags"])
        make_room = partial(session.models.reserve, float32_bytes(ckpt))
        with load_allowance(weights_allowance(ckpt)):
            trainable, decay = trainable_and_decay(ckpt, artifact.embodiment_tag, tuple(flags.items()), make_room)
        report.problems += set_differences("trainable", flags, list(combination["trainable"]), trainable)
        report.problems += set_differences("weight-decay", flags, list(combination["decay"]), decay)
    report.problems += identity.problems
    loss_diff = abs(float(outputs[tm.LOSS]) - step.loss)
    report.notes += notes + step.notes + identity.notes
    report.notes.append(f"loss {float(outputs[tm.LOSS]):.7g} vs {step.loss:.7g}: |diff| {fmt_float(loss_diff)}")
    for t in report.tensors:
        if t.name.startswith(GRAD) and t.name in actual and t.cosine is not None:
            rel = relative_norm_difference(expected[t.name], actual[t.name])
            report.notes.append(f"{t.name}: cosine {t.cosine:.12f}, relative norm difference {fmt_float(rel)}")
    report.notes += part_summary(report, norms)
    report.notes.append(f"trainable/decay sets compared for {len(section['combinations'])} tune_* combinations")
    declared_refusals = [d for d in known if d.refusal is not None]
    if refused is None and declared_refusals:
        names = [d.name for d in declared_refusals]
        report.problems.append(
            f"declared refusal(s) {names} did not reproduce: LeRobot built the training batch. "
            "Remove them from consumer/known_divergences.py."
        )
    result = verdict(case, "training", report, [d for d in known if d.refusal is None])
    if refused is not None:
        result.divergences = refused.divergences + result.divergences
        result.message = "; ".join(m for m in (refused.message, result.message) if m)
        if result.status == Status.PASS:
            result.status = Status.XFAIL
    return result
