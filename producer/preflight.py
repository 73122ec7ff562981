"""What is checked before the original loads: the checkpoint, its tags and the device.

One place for the command line and the plan runner, so a checkpoint is accepted or refused the same way
whichever way it was named.
"""

from __future__ import annotations

from pathlib import Path

from producer.checkpoint_kind import NotN17Checkpoint, check_n1_7
from producer.embodiments import TagSelectionError, select_tags, unproduced_tag_notes
from sources.checkpoint import CheckpointError, CheckpointRef, resolve_checkpoint


class PreflightError(ValueError):
    """The run cannot start as asked; the message is one line naming the input."""


def resolve_target(ref: CheckpointRef, allow_patterns: list[str] | None, tags: list[str]) -> tuple[Path, list[str]]:
    """The local checkpoint directory (downloaded if needed) and the tags to produce, or one PreflightError."""
    try:
        ckpt = resolve_checkpoint(ref, allow_patterns=allow_patterns)
        check_n1_7(ckpt)
        selected = select_tags(ckpt, tags)  # validates statistics.json before the original reads it (issue 25)
        print(*unproduced_tag_notes(ckpt), sep="\n", flush=True)  # configured tags without statistics, named
        return ckpt, selected
    except (ValueError, CheckpointError, NotN17Checkpoint, TagSelectionError) as exc:
        raise PreflightError(str(exc)) from exc


def require_device(device: str | None) -> None:
    """A CUDA device that torch cannot see is refused before anything loads."""
    if device and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PreflightError(f"--device {device}, but torch sees no CUDA device here (use --device cpu)")
