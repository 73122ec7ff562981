"""Which artifacts a run checks: those directly in the artifact directory and one level below.

WHY its own module (issue 25): one sub-folder that cannot be listed (mode 000, a stale mount) used to
end the whole run: ``discover`` raised, the CLI printed a traceback and no report, pytest failed at
collection, and no other artifact was checked. Now such a folder becomes a case of its own, which every
check reports as FAIL naming the folder and the cause, and every other artifact is checked as usual.
"""

from __future__ import annotations

import os
from pathlib import Path

from comparison.results import Case
from parity_format.naming import discover_artifacts, tag_from_filename
from parity_format.safe_text import safe_text

UNREADABLE_TAG = "unlisted-folder"  # the tag of the case standing for a folder that could not be listed


def discover(directory: Path) -> list[Case]:
    """Artifacts directly in ``directory`` and one level below (the producer's per-size folders)."""
    if not directory.is_dir():
        return []
    cases: list[Case] = []
    for folder in [directory, *_subfolders(directory, cases)]:
        group = str(folder.relative_to(directory))
        try:
            paths = discover_artifacts(folder)
        except OSError:
            cases.append(Case(folder, group, UNREADABLE_TAG))
            continue
        cases += [Case(p, group, tag_from_filename(p.name) or p.stem) for p in paths]
    return cases


def _subfolders(directory: Path, cases: list[Case]) -> list[Path]:
    try:
        return sorted(d for d in directory.iterdir() if d.is_dir())
    except OSError:
        return []  # the directory itself is unlisted: reported once, by the loop over [directory, ...]


def unlisted_folder_problem(case: Case) -> str | None:
    """The one-line failure of a case that stands for a folder that could not be listed, else None."""
    if not case.path.is_dir():
        return None
    try:
        os.listdir(case.path)
        cause = "it could not be listed when the run started"
    except OSError as exc:
        cause = f"{type(exc).__name__}: {exc.strerror or exc}"
    return safe_text(f"cannot list folder {case.path} ({cause}); the artifacts in it were not checked")
