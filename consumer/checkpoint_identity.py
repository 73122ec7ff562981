"""Is the replay checkpoint the one that produced the artifact? Decided by content, not by location.

Current artifacts record a content fingerprint (tensors, config fields minus local paths, statistics,
embodiment ids; see ``sources.checkpoint.content_fingerprint``): a relocated or re-saved copy
matches, and a mismatch names which tensors / fields / tags differ. Older artifacts only record a hash
of the checkpoint's files; that one is still compared, and says it cannot name what differs.
A mismatch fails model parity unless GROOT_PARITY_CHECKPOINT_MISMATCH=warn makes it a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumer.settings import ENV_CHECKPOINT_MISMATCH
from parity_format.artifact import Artifact
from sources.checkpoint import checkpoint_fingerprint, content_fingerprint, fingerprint_differences


@dataclass
class Identity:
    problems: list[str] = field(default_factory=list)  # each one fails the check
    notes: list[str] = field(default_factory=list)


class FingerprintCache:
    """Fingerprints of replay checkpoints, computed once per run (hashing a real checkpoint takes seconds)."""

    def __init__(self) -> None:
        self._content: dict[Path, dict[str, Any]] = {}
        self._files: dict[Path, str] = {}

    def content(self, ckpt: Path) -> dict[str, Any]:
        if ckpt not in self._content:
            self._content[ckpt] = content_fingerprint(ckpt)
        return self._content[ckpt]

    def files(self, ckpt: Path) -> str:
        if ckpt not in self._files:
            self._files[ckpt] = checkpoint_fingerprint(ckpt)
        return self._files[ckpt]


def checkpoint_identity(artifact: Artifact, ckpt: Path, cache: FingerprintCache, mode: str) -> Identity:
    recorded = (artifact.provenance or {}).get("checkpoint") or {}
    content, files = recorded.get("content_fingerprint"), recorded.get("fingerprint")
    if isinstance(content, dict):
        differences = fingerprint_differences(content, cache.content(ckpt))
        what = "; ".join(differences)
    elif isinstance(files, str) and files:
        differences = [] if cache.files(ckpt) == files else ["file hash"]
        what = (
            f"whole-file fingerprint {cache.files(ckpt)[:12]} vs recorded {files[:12]} (artifact from an older "
            "producer: it cannot name what differs, and a relocated copy with an absolute path differs too)"
        )
    else:
        return Identity(notes=["artifact records no checkpoint fingerprint: checkpoint identity not checked"])
    if not differences:
        return Identity()
    message = f"checkpoint {ckpt} differs from the one that produced the artifact: {what}"
    if mode == "warn":
        return Identity(notes=[f"{message} ({ENV_CHECKPOINT_MISMATCH}=warn: noted, not failed)"])
    return Identity(problems=[f"{message}. Set {ENV_CHECKPOINT_MISMATCH}=warn to replay a different copy on purpose"])
