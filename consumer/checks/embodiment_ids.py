"""Embodiment-id parity: the original's built-in tag->id table against LeRobot's, for every tag the original defines.

The producer records the original's tables in each artifact (``provenance.embodiment_ids``, read from
gr00t's own EmbodimentTag enum and EMBODIMENT_TAG_TO_PROJECTOR_INDEX at run time). This check compares,
for every tag value listed there, the original's built-in id with the id LeRobot's built-in table
(``N1_7_EMBODIMENT_MAPPING``) gives it; a tag LeRobot lacks gets 0, exactly what its pack step uses.
A tag without an id on the original side is recorded as -1 (the original would raise for it).

Why once per artifact and not once per checkpoint: it is a dict comparison (microseconds), and the table
is the producer's, not the checkpoint's, so each artifact proves what its own producer (gr00t commit)
defined; artifacts of one checkpoint made by different producers are each checked against their own.
Tags that differ are failures unless a ``check="embodiment_ids"`` entry in known_divergences.py
declares them; the report lists every one with both ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from comparison.compare import compare_mappings
from consumer.checks.base import REGENERATE_HINT, Skip, verdict
from consumer.known_divergences import divergences_for

if TYPE_CHECKING:
    from comparison.results import Case, CheckResult
    from consumer.checks.base import Session
    from parity_format.artifact import Artifact

CHECK = "embodiment_ids"
MISSING = -1  # no id on that side


def lerobot_fallback_table() -> dict[str, int]:
    from lerobot.policies.groot.processor_groot import N1_7_EMBODIMENT_MAPPING

    return {str(k): int(v) for k, v in N1_7_EMBODIMENT_MAPPING.items()}


def compare_tables(
    original: dict[str, int | None], lerobot: dict[str, int], label: str, tolerances: Any
) -> tuple[Any, list[str]]:
    """(ComparisonReport over every original tag, one line per tag that LeRobot maps differently)."""
    expected = {tag: np.array([MISSING if tag_id is None else tag_id], np.int64) for tag, tag_id in original.items()}
    actual = {tag: np.array([lerobot.get(tag, 0)], np.int64) for tag in original}
    report = compare_mappings(label, expected, actual, tolerances, exact_keys=tuple(original))
    differing = [
        f"{tag}: original {'none' if original[tag] is None else original[tag]}, LeRobot "
        f"{lerobot.get(tag, 'absent (uses 0)')}"
        for tag in original
        if int(expected[tag][0]) != int(actual[tag][0])
    ]
    return report, differing


def embodiment_id_parity(session: Session, case: Case, artifact: Artifact) -> CheckResult:
    recorded = (artifact.provenance or {}).get("embodiment_ids") or {}
    fallback = recorded.get("fallback")
    if not isinstance(fallback, dict) or not fallback:
        raise Skip(f"{case.path.name} does not record the original's embodiment-id table; {REGENERATE_HINT}")
    original = {str(tag): (None if tag_id is None else int(tag_id)) for tag, tag_id in fallback.items()}
    report, differing = compare_tables(
        original, lerobot_fallback_table(), f"{case.case_id} / embodiment ids", session.settings.tolerances
    )
    report.notes.append(
        f"{len(original)} tags the original defines ({recorded.get('source', 'gr00t')}); "
        f"{len(differing)} mapped differently by LeRobot's N1_7_EMBODIMENT_MAPPING"
    )
    report.notes += differing
    ckpt = session.checkpoint_for(artifact)
    return verdict(case, CHECK, report, divergences_for(CHECK, artifact, ckpt))
