"""Decode parity: the actions a robot executes, not the normalized prediction.

The ORIGINAL's recorded normalized actions (``action_pred`` and the producer's probe, so the model is out
of the picture) and the recorded raw state go through LeRobot's real postprocessor for the checkpoint and
tag, and the result is compared, key by key in the checkpoint's action-key order over the horizon the
original keeps, with what the original's ``decode_action`` made of the same arrays. Both ways LeRobot
users receive actions are compared: the whole chunk and the per-step ``(B, D)`` path. When LeRobot applies
its LIBERO gripper convention, the reference is the original's decode followed by its LIBERO env
conversion; the report says which.

Tensor names: ``action.<key>@<path>`` with path ``chunk`` / ``step`` (``action_pred``) and
``probe_chunk`` / ``probe_step`` (the probe). A path LeRobot refuses outright is one missing tensor,
``per_step_decode`` or ``per_step_decode@probe`` (``chunk_decode`` ...), with LeRobot's error in the notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer.checks.base import REGENERATE_HINT, Skip, refusal_verdict, verdict
from consumer.known_divergences import divergences_for
from parity_format.artifact import Artifact
from parity_format.decode_members import PROBE, decoded
from parity_format.stage_failures import LIBERO_ENV_CONVERSION, recorded_failure
from sources.checkpoint import read_json

if TYPE_CHECKING:
    from consumer.checks.base import Session

SOURCES = {"action_pred": "", "probe": "probe_"}  # recorded array -> path prefix in tensor names
PATHS = {"chunk": "chunk", "per_step": "step"}  # LeRobot path -> path suffix in tensor names


def tensor_name(key: str, source: str, path: str) -> str:
    return f"action.{key}@{SOURCES[source]}{PATHS[path]}"


def refused_name(source: str, path: str) -> str:
    return f"{path}_decode{'' if source == 'action_pred' else '@probe'}"


def action_keys(ckpt_processor_config: dict, tag: str) -> list[str] | None:
    """The checkpoint's action keys for ``tag`` in concatenation order; None when it has no such config."""
    configs = ckpt_processor_config.get("processor_kwargs", {}).get("modality_configs", {})
    keys = ((configs.get(tag) or {}).get("action") or {}).get("modality_keys")
    return [str(k) for k in keys] if isinstance(keys, list) and keys else None


def decode_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    from consumer.checkpoint_identity import checkpoint_identity
    from consumer.lerobot_side.decode import LIBERO_REFERENCE, PLAIN_REFERENCE, decode

    if artifact.raw is None:
        raise Skip(f"{case.path.name} has no raw observations (legacy layout); {REGENERATE_HINT}")
    if PROBE not in artifact.outputs:
        raise Skip(f"{case.path.name} records no decoded actions (older file); {REGENERATE_HINT}")
    ckpt = session.checkpoint_for(artifact)
    keys = action_keys(read_json(ckpt / "processor_config.json"), artifact.embodiment_tag)
    if keys is None:
        message = f"checkpoint {ckpt} has no action modality config for tag {artifact.embodiment_tag!r}"
        return CheckResult(case, "decode", Status.FAIL, message)
    missing = [decoded(k) for k in keys if decoded(k) not in artifact.outputs]
    if missing:
        raise Skip(f"{case.path.name} lacks decode members for the checkpoint's action keys {missing}")
    recorded = {"action_pred": artifact.action_pred, "probe": artifact.outputs[PROBE]}
    horizon = artifact.outputs[decoded(keys[0])].shape[1]  # the horizon the original keeps
    try:
        out = decode(ckpt, artifact.embodiment_tag, artifact.raw, recorded, horizon)
    except Exception as exc:  # a user building LeRobot's processors for this checkpoint gets the same error
        known = divergences_for("decode", artifact, ckpt)
        return refusal_verdict(case, "decode", "LeRobot's processors (preprocess, then decode)", exc, known)

    env = out.libero_transform
    producer_failure = recorded_failure(artifact.provenance, LIBERO_ENV_CONVERSION)
    if env and producer_failure is not None:  # never a silent skip (issue 25)
        message = (
            f"LeRobot applies its LIBERO gripper convention, but the producer could not run the original's LIBERO "
            f"env conversion for this tag (recorded producer failure: {producer_failure}); no reference to compare"
        )
        return CheckResult(case, "decode", Status.FAIL, message)
    if env and decoded(keys[0], env=True) not in artifact.outputs:
        raise Skip(
            f"LeRobot applies its LIBERO gripper convention but {case.path.name} lacks the original's "
            f"LIBERO env conversion members; {REGENERATE_HINT}"
        )
    reference = LIBERO_REFERENCE if env else PLAIN_REFERENCE
    expected: dict[str, np.ndarray] = {}
    actual: dict[str, np.ndarray] = {}
    # A different replay checkpoint shows up in decode's own numbers (its statistics decode the actions), so
    # its identity is reported as a note here; the model check is the one that fails on it.
    identity = checkpoint_identity(artifact, ckpt, session.fingerprints, session.settings.checkpoint_mismatch)
    notes = [f"compared with {reference}", *out.notes, *identity.problems, *identity.notes]
    if producer_failure is not None:
        notes.append(f"the producer's LIBERO env conversion failed (recorded): {producer_failure}")
    for source in SOURCES:
        original = {k: artifact.outputs[decoded(k, probe=source == "probe", env=env)] for k in keys}
        widths = [original[k].shape[-1] for k in keys]
        lerobot = out.paths[source]
        for path in PATHS:
            got = lerobot.chunk if path == "chunk" else lerobot.per_step
            if got is None:
                expected[refused_name(source, path)] = np.concatenate([original[k] for k in keys], axis=-1)
                notes.append(f"{source} {path}: LeRobot raised {lerobot.errors[path]}")
                continue
            if got.shape[-1] != sum(widths):
                name = f"action@{SOURCES[source]}{PATHS[path]}"
                expected[name] = np.concatenate([original[k] for k in keys], axis=-1)
                actual[name] = got
                notes.append(f"{source} {path}: LeRobot returned {got.shape[-1]} action dims, keys {sum(widths)}")
                continue
            start = 0
            for key, width in zip(keys, widths, strict=True):
                expected[tensor_name(key, source, path)] = original[key]
                actual[tensor_name(key, source, path)] = got[..., start : start + width]
                start += width
    report = compare_mappings(f"{case.case_id} / decode parity", expected, actual, session.settings.tolerances)
    report.notes += notes
    return verdict(case, "decode", report, divergences_for("decode", artifact, ckpt))
