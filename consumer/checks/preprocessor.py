"""Preprocessor parity: the recorded raw observations -> LeRobot's own preprocessor -> the same
collated tensors the original's processor made (integer tensors exactly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from consumer.checks.base import REGENERATE_HINT, Skip, refusal_verdict, verdict
from consumer.divergence_scope import compare_uncovered
from consumer.known_divergences import divergences_for
from consumer.lerobot_side.model import EXACT_KEYS, PREPROCESSOR_KEYS
from parity_format.artifact import Artifact

if TYPE_CHECKING:
    from consumer.checks.base import Session


def preprocessor_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    from consumer.lerobot_side.model import preprocess

    if artifact.raw is None:
        raise Skip(f"{case.path.name} has no raw observations (legacy layout); {REGENERATE_HINT}")
    ckpt = session.checkpoint_for(artifact)
    known = divergences_for("preprocessor", artifact, ckpt)
    try:
        out = preprocess(ckpt, artifact.embodiment_tag, artifact.raw)
    except Exception as exc:  # LeRobot refused the input: a declared refusal (xfail) or a failure naming the error
        return refusal_verdict(case, "preprocessor", "LeRobot's preprocessor", exc, known)
    original = {k.split(".")[-1]: v for k, v in artifact.inputs.items()}
    expected = {k: original[k] for k in PREPROCESSOR_KEYS if k in original}
    report = compare_mappings(
        f"{case.case_id} / preprocessor parity",
        expected,
        out.values,
        session.settings.tolerances,
        exact_keys=EXACT_KEYS,
    )
    report.tensors += compare_uncovered(
        known, artifact, expected, out.values, session.settings.tolerances, EXACT_KEYS
    )  # what each divergence's condition does not reach, still compared
    extra = [k for k in original if k not in PREPROCESSOR_KEYS]
    if extra:
        report.notes.append(f"only in the original, not compared (training-only): {', '.join(extra)}")
    report.notes += out.notes
    return verdict(case, "preprocessor", report, known)
