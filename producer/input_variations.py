"""Inputs that real callers send and the default goldens do not (issue 27): how a job departs from the default.

- ``video_steps``: frames per camera other than the checkpoint's video horizon (callers often send the
  latest frame only). The original's processor uses every frame it is given; its ``Gr00tPolicy`` refuses
  such an observation in strict mode. Both are recorded (``producer.original.OriginalGr00t.policy_verdict``).
- ``camera_order``: ``reversed`` stores the raw cameras in the reverse of the modality config's order, as a
  dataset with its own key order would hand them over; consumers feed them in stored order.
- ``label``: the artifact folder becomes ``<label>-<size>``, so such artifacts sit beside the default ones
  (``fixtures/golden/b1-256x256``) and one consume run replays both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parity_format.artifact import RawObservation

CAMERA_ORDERS = ("config", "reversed")
MAX_VIDEO_STEPS = 16  # frames per camera: enough for any history a real checkpoint declares
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class InputVariation:
    video_steps: int | None = None  # None: the checkpoint's video horizon
    camera_order: str = "config"
    label: str | None = None

    def __post_init__(self) -> None:
        if self.video_steps is not None and not 1 <= self.video_steps <= MAX_VIDEO_STEPS:
            raise ValueError(f"--video-steps {self.video_steps}: expected 1..{MAX_VIDEO_STEPS}")
        if self.camera_order not in CAMERA_ORDERS:
            raise ValueError(f"--camera-order {self.camera_order!r}: expected one of {', '.join(CAMERA_ORDERS)}")
        if self.label is not None and not _LABEL.match(self.label):
            raise ValueError(f"--label {self.label!r}: expected lower-case letters, digits, '_', '-' or '.'")

    def folder(self, size: str, probes: bool) -> str:
        """``<label>-<size>``, else ``probes-<size>`` for probes, else ``<size>``."""
        if self.label:
            return f"{self.label}-{size}"
        return f"probes-{size}" if probes else size

    def provenance(self) -> dict[str, object]:
        """What the artifact records about the departure (nothing for the default inputs)."""
        recorded: dict[str, object] = {}
        if self.video_steps is not None:
            recorded["video_steps"] = self.video_steps
        if self.camera_order != "config":
            recorded["camera_order"] = self.camera_order
        return recorded


def variation_from_args(args: object) -> InputVariation:
    """The job variation of a parsed command line (absent attributes: the defaults, as plan entries have)."""
    return InputVariation(
        video_steps=getattr(args, "video_steps", None),
        camera_order=getattr(args, "camera_order", None) or "config",
        label=getattr(args, "label", None),
    )


def store_cameras_in_order(raw: RawObservation, order: str) -> RawObservation:
    """The observation with its cameras stored in ``order`` (the artifact keeps dict order as stored order)."""
    if order == "config":
        return raw
    cameras = list(reversed(raw.video))
    return RawObservation(video={c: raw.video[c] for c in cameras}, state=raw.state, language=raw.language)
