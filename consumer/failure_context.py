"""What the harness knows about a replay checkpoint that LeRobot could not use, said before LeRobot's error.

WHY (issue 25): a checkpoint copy with one config field changed reached the user as LeRobot's raw
exception (``TypeError`` from ``randn``, ``Expected cond to be True``, a size-mismatch report, ``couldn't
connect to huggingface.co`` for a backbone folder that is missing), while the content-identity check that
names the changed field never got to speak. A case that fails without a comparison now leads with the
identity differences and with a missing backbone, then gives LeRobot's error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumer.checkpoint_identity import checkpoint_identity
from parity_format.safe_text import safe_text
from sources.checkpoint import CheckpointError, read_json

if TYPE_CHECKING:
    from pathlib import Path

    from consumer.checks.base import Session
    from parity_format.artifact import Artifact


def backbone_problem(ckpt: Path) -> str | None:
    """The backbone the checkpoint names, when it is neither a folder of the checkpoint nor in the Hub cache."""
    try:
        name = str(read_json(ckpt / "processor_config.json").get("processor_kwargs", {}).get("model_name") or "")
    except (CheckpointError, AttributeError):
        return None
    if not name or (ckpt / name).is_dir() or name.startswith("/"):
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a repo id either
        cached = None
    if isinstance(cached, str):
        return None
    return (
        f"the backbone {name!r} named in {ckpt / 'processor_config.json'} is neither a folder of the checkpoint "
        f"({ckpt / name}) nor in the Hugging Face cache"
    )


def checkpoint_context(session: Session, artifact: Artifact) -> list[str]:
    """Identity differences and a missing backbone of the artifact's replay checkpoint (empty if none known)."""
    from consumer.checks.base import Skip

    try:
        ckpt = session.checkpoint_for(artifact)
        identity = checkpoint_identity(artifact, ckpt, session.fingerprints, "fail")
    except (Skip, CheckpointError, OSError, ValueError):
        return []
    missing = backbone_problem(ckpt)  # the most specific cause first
    return [missing, *identity.problems] if missing else list(identity.problems)


def explained(session: Session, artifact: Artifact, message: str) -> str:
    """``message`` led by what the harness knows about the checkpoint, so the cause is read first."""
    context = checkpoint_context(session, artifact)
    if not context:
        return message
    return safe_text("; ".join(context) + f". LeRobot then failed: {message}")
