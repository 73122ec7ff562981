"""Divergences between gr00t@626af89 and lerobot 0.6.1 that are real, understood and declared.

A declared divergence turns the matching failure into an expected failure (xfail) that names its cause
and both versions. It is strict: if the check passes where the divergence applies, the case FAILS and
asks for the entry to be removed, so a fix on either side gets noticed. It only ever explains the
tensors it lists: any other tensor out of tolerance is still a plain failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parity_format.artifact import Artifact
from parity_format.checkpoint import read_json

ORIGINAL = "gr00t@626af89"
REIMPLEMENTATION = "lerobot 0.6.1"


@dataclass(frozen=True)
class KnownDivergence:
    name: str
    check: str  # "model" | "preprocessor" | "decode"
    tensors: tuple[str, ...]  # the only tensors this divergence may explain
    reason: str
    applies: Callable[[Artifact, Path], bool]


def _non_square_frames(artifact: Artifact, _ckpt: Path) -> bool:
    if artifact.raw is None:
        return False
    return any(frames.shape[2] != frames.shape[3] for frames in artifact.raw.video.values())


def _tag_missing_from_embodiment_ids(artifact: Artifact, ckpt: Path) -> bool:
    path = ckpt / "embodiment_id.json"
    return path.is_file() and artifact.embodiment_tag not in read_json(path)


def _checkpoint_uses_relative_action(_artifact: Artifact, ckpt: Path) -> bool:
    kwargs = read_json(ckpt / "processor_config.json").get("processor_kwargs", {})
    return isinstance(kwargs, dict) and kwargs.get("use_relative_action") is True


KNOWN_DIVERGENCES: tuple[KnownDivergence, ...] = (
    KnownDivergence(
        name="letterbox",
        check="preprocessor",
        tensors=("pixel_values", "image_grid_thw", "input_ids", "attention_mask"),
        reason=(
            f"non-square frames: {ORIGINAL} letterboxes every frame to a square (LetterBoxPad in its eval "
            f"transform) before resizing; {REIMPLEMENTATION} follows a newer upstream that resizes without "
            "letterboxing, so the images the VLM sees differ"
        ),
        applies=_non_square_frames,
    ),
    KnownDivergence(
        name="embodiment-id-fallback",
        check="preprocessor",
        tensors=("embodiment_id",),
        reason=(
            f"tag missing from the checkpoint's embodiment_id.json: {ORIGINAL} falls back to its built-in "
            f"tag->projector table, {REIMPLEMENTATION} silently uses id 0 (a different action-head projector)"
        ),
        applies=_tag_missing_from_embodiment_ids,
    ),
    KnownDivergence(
        name="per-step-decode-refused",
        check="decode",
        tensors=("per_step_decode", "per_step_decode@probe"),
        reason=(
            f"checkpoint sets use_relative_action: {REIMPLEMENTATION}'s GrootN17ActionDecodeStep raises "
            "NotImplementedError for every (B, D) action select_action delivers, for all tags of such a "
            "checkpoint, even tags whose actions are all absolute; "
            f"{ORIGINAL} decodes whole chunks (Gr00tPolicy.get_action) against the prediction-time state, "
            "so there is no per-step result to match"
        ),
        applies=_checkpoint_uses_relative_action,
    ),
)


def divergences_for(check: str, artifact: Artifact, ckpt: Path) -> list[KnownDivergence]:
    return [d for d in KNOWN_DIVERGENCES if d.check == check and d.applies(artifact, ckpt)]
