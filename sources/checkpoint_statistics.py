"""A checkpoint's ``statistics.json``, validated when read: every problem names the file, the tag and the key.

WHY (issue 25): a state key whose statistics were ``[]`` became a 0-wide state member, and the round
trip PASSed with exit 0; a statistic of another length than its siblings, or a non-number, surfaced (if
at all) as a raw exception deep inside the original. The original's processor reads EVERY tag's
statistics when it loads, so one malformed tag makes the whole checkpoint unusable there: the producer
validates the whole file before loading (:func:`validate_statistics`, from tag selection) and refuses
the checkpoint in one line listing every problem (in a plan, the other checkpoints go on).

numpy-free: used by both environments.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from parity_format.safe_text import safe_text
from sources.checkpoint import CheckpointError, read_json

STATISTICS_FILE = "statistics.json"
VALIDATED_MODALITIES = ("state", "action")  # what inputs and decoding are built from
REQUIRED_STATISTICS = ("min", "max")


def read_statistics(ckpt: Path) -> dict[str, Any]:
    """The whole file: a JSON object of tag -> object (each tag is validated when it is used)."""
    path = ckpt / STATISTICS_FILE
    data = read_json(path)
    bad = [safe_text(tag) for tag, value in data.items() if not isinstance(value, dict)]
    if bad:
        raise CheckpointError(f"{path}: tag(s) {', '.join(bad)} must map to an object of modalities")
    return data


def validate_statistics(ckpt: Path) -> dict[str, Any]:
    """Every tag of the file validated; one CheckpointError listing every problem found."""
    statistics = read_statistics(ckpt)
    problems = []
    for tag in statistics:
        try:
            tag_statistics(statistics, tag, ckpt / STATISTICS_FILE)
        except CheckpointError as exc:
            problems.append(str(exc))
    if problems:
        raise CheckpointError("; ".join(problems) + " (the original reads every tag's statistics when it loads)")
    return statistics


def tag_statistics(statistics: dict[str, Any], tag: str, path: Path) -> dict[str, dict[str, dict[str, list[float]]]]:
    """``statistics[tag]`` with its state and action tables proven usable; CheckpointError names the key."""
    if tag not in statistics:
        raise CheckpointError(f"{path}: no statistics for tag {safe_text(tag)!r} (has: {', '.join(statistics)})")
    table = statistics[tag]
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for modality in VALIDATED_MODALITIES:
        keys = table.get(modality, {})
        where = f"{path}: {safe_text(tag)}.{modality}"
        if not isinstance(keys, dict):
            raise CheckpointError(f"{where} must be an object of key -> statistics, not {type(keys).__name__}")
        out[modality] = {str(key): _key_statistics(value, f"{where}.{safe_text(key)}") for key, value in keys.items()}
    return out


def _key_statistics(value: Any, where: str) -> dict[str, list[float]]:
    if not isinstance(value, dict):
        raise CheckpointError(f"{where} must be an object of min/max/... lists, not {safe_text(value)[:40]!r}")
    missing = [name for name in REQUIRED_STATISTICS if name not in value]
    if missing:
        raise CheckpointError(f"{where} lacks {', '.join(missing)}")
    widths = {}
    for name, numbers in value.items():
        if not isinstance(numbers, list) or not numbers:
            raise CheckpointError(f"{where}.{safe_text(name)} must be a non-empty list of numbers (one per dimension)")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
            raise CheckpointError(f"{where}.{safe_text(name)} holds a value that is not a finite number")
        widths[name] = len(numbers)
    if len(set(widths.values())) > 1:
        raise CheckpointError(f"{where}: statistics of different widths {widths}")
    if any(lo > hi for lo, hi in zip(value["min"], value["max"], strict=True)):
        raise CheckpointError(f"{where}: min is above max")
    return value
