"""Preprocessor parity: the recorded raw observations -> LeRobot's own preprocessor -> the same
collated tensors the original's processor made (integer tensors exactly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumer.checks import REGENERATE_HINT, Skip
from consumer.known_divergences import divergences_for
from consumer.lerobot_side import EXACT_KEYS, PREPROCESSOR_KEYS
from consumer.verdict import refusal_verdict, verdict
from parity_format.artifact import Artifact
from parity_format.compare import compare_mappings
from parity_format.results import Case, CheckResult

if TYPE_CHECKING:
    from consumer.checks import ParitySession


def preprocessor_parity(session: ParitySession, case: Case, artifact: Artifact) -> CheckResult:
    from consumer.lerobot_side import preprocess

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
    extra = [k for k in original if k not in PREPROCESSOR_KEYS]
    if extra:
        report.notes.append(f"only in the original, not compared (training-only): {', '.join(extra)}")
    report.notes += out.notes
    return verdict(case, "preprocessor", report, known)
