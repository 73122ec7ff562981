"""Artifact file names: ``original_n1_7_<embodiment_tag>.npz``.

WHY this exact pattern: LeRobot's own parity consumer globs ``original_n1_7_*.npz`` and takes the
tag from the file name, so files we write are discovered by it unchanged.
"""

from __future__ import annotations

from pathlib import Path

ARTIFACT_PREFIX = "original_n1_7_"
ARTIFACT_SUFFIX = ".npz"


def artifact_filename(tag: str) -> str:
    """File name for one embodiment tag; refuses tags that would escape the directory."""
    if not tag or any(ch in tag for ch in "/\\\0") or tag in (".", ".."):
        raise ValueError(f"invalid embodiment tag for a file name: {tag!r}")
    return f"{ARTIFACT_PREFIX}{tag}{ARTIFACT_SUFFIX}"


def tag_from_filename(name: str | Path) -> str | None:
    """The embodiment tag encoded in a file name, or None if the name is not an artifact's."""
    base = Path(name).name
    if not (base.startswith(ARTIFACT_PREFIX) and base.endswith(ARTIFACT_SUFFIX)):
        return None
    tag = base[len(ARTIFACT_PREFIX) : -len(ARTIFACT_SUFFIX)]
    return tag or None


def discover_artifacts(directory: Path) -> list[Path]:
    """Artifact files directly inside ``directory``, sorted; a missing directory yields []."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and tag_from_filename(p.name))
