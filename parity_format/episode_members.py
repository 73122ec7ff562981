"""Episode artifacts: their file names, members and modes (numpy-only).

An episode is its own artifact kind (manifest provenance ``"kind": "episode"``), written only on request
(``--episode``) as ``episode_n1_7_<tag>.npz`` in the output directory's ``episode/`` folder, and read by
the same reader as every artifact. The raw observation holds one episode step per batch row;
``action_pred`` holds the queue mode's chunks. Members (``out::``):

* ``episode.noise``: float32 (chunks, H, D), the flow-matching noise of each chunk (both modes start
  each chunk from the same draw);
* per mode (``queue``, ``rtc``): ``episode.<mode>.chunks`` (chunks, H, D) normalized,
  ``episode.<mode>.actions`` (steps, D) the executed normalized actions, ``episode.<mode>.decoded``
  (steps, A) the executed actions as the original decodes them (action keys concatenated in checkpoint
  order), ``episode.<mode>.rtc_options`` int64 (chunks, 3): overlap, frozen, 1 if that chunk continued
  a leftover;
* for ``libero_sim`` also ``episode.<mode>.env_decoded`` (steps, A): the decoded actions after the
  original's LIBERO env conversion (what its ``LiberoEnv.step`` hands the simulator), the reference when
  LeRobot's postprocessor applies its LIBERO gripper convention (as ``parity_format.decode_members``'
  env members are for the decode check). Episodes written before it existed lack it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EPISODE_KIND = "episode"
EPISODE_FOLDER = "episode"
EPISODE_PREFIX = "episode_n1_7_"
EPISODE_SUFFIX = ".npz"
QUEUE_MODE, RTC_MODE = "queue", "rtc"
MODES = (QUEUE_MODE, RTC_MODE)
NOISE = "episode.noise"


def episode_member(mode: str, what: str) -> str:
    return f"episode.{mode}.{what}"


def decoded_member(mode: str, *, env: bool = False) -> str:
    """The executed decoded actions of ``mode``: as ``decode_action`` returns them, or after LIBERO's env step."""
    return episode_member(mode, "env_decoded" if env else "decoded")


def episode_filename(tag: str) -> str:
    if not tag or any(ch in tag for ch in "/\\\0") or tag in (".", ".."):
        raise ValueError(f"invalid embodiment tag for a file name: {tag!r}")
    return f"{EPISODE_PREFIX}{tag}{EPISODE_SUFFIX}"


def episode_tag(name: str | Path) -> str | None:
    base = Path(name).name
    if not (base.startswith(EPISODE_PREFIX) and base.endswith(EPISODE_SUFFIX)):
        return None
    return base[len(EPISODE_PREFIX) : -len(EPISODE_SUFFIX)] or None


def discover_episodes(directory: Path) -> list[Path]:
    """Episode files directly in ``directory`` and one level below, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    folders = [directory, *sorted(d for d in directory.iterdir() if d.is_dir())]
    return [p for d in folders for p in sorted(d.iterdir()) if p.is_file() and episode_tag(p.name)]


def is_episode(provenance: dict[str, Any]) -> bool:
    return provenance.get("kind") == EPISODE_KIND
