"""What each embodiment tag of a checkpoint expects, read from its JSON metadata alone (no gr00t import).

Inputs are built from this generically, so a new checkpoint or tag needs no code here: state keys and
dims come from ``statistics.json``, cameras and the language key from the processor's per-embodiment
modality configs in ``processor_config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sources.checkpoint import CheckpointError, read_json
from sources.checkpoint_statistics import STATISTICS_FILE, read_statistics, tag_statistics, validate_statistics


class TagSelectionError(ValueError):
    """The user asked for tags the checkpoint cannot serve."""


@dataclass(frozen=True)
class EmbodimentSpec:
    tag: str
    cameras: tuple[str, ...]
    video_steps: int  # frames per camera (len of the video delta_indices)
    state: tuple[tuple[str, int], ...]  # (key, dim) in the processor's concatenation order
    language_key: str
    action_horizon: int
    state_steps: int = 1  # state history length (len of the state delta_indices)

    @property
    def state_dim(self) -> int:
        return sum(dim for _, dim in self.state)


def modality_configs(ckpt: Path) -> dict[str, dict[str, Any]]:
    kwargs = read_json(ckpt / "processor_config.json").get("processor_kwargs", {})
    configs = kwargs.get("modality_configs") if isinstance(kwargs, dict) else None
    if not isinstance(configs, dict):
        raise CheckpointError(f"{ckpt / 'processor_config.json'} has no processor_kwargs.modality_configs")
    return configs


def available_tags(ckpt: Path) -> list[str]:
    """Tags present in BOTH statistics.json and the modality configs, in statistics order."""
    configs = modality_configs(ckpt)
    return [tag for tag in read_statistics(ckpt) if tag in configs]


def tags_without_statistics(ckpt: Path) -> list[str]:
    """Tags the processor configures but statistics.json lacks: never produced, so always named (issue 25)."""
    statistics = read_statistics(ckpt)
    return [tag for tag in modality_configs(ckpt) if tag not in statistics]


def unproduced_tag_notes(ckpt: Path) -> list[str]:
    """One line per configured tag that has no statistics, for the run's output."""
    return [
        f"note: tag {tag} is configured in {ckpt / 'processor_config.json'} but has no entry in "
        f"{ckpt / STATISTICS_FILE}: not produced"
        for tag in tags_without_statistics(ckpt)
    ]


def select_tags(ckpt: Path, requested: list[str] | None) -> list[str]:
    validate_statistics(ckpt)  # before the original loads them all; names the file, tag and key
    available = available_tags(ckpt)
    if not available:
        raise TagSelectionError(f"{ckpt}: no embodiment tag is in both statistics.json and processor_config.json")
    if not requested:
        return available
    unknown = [tag for tag in requested if tag not in available]
    if unknown:
        unconfigured = set(tags_without_statistics(ckpt))
        why = [
            f"{tag} (in processor_config.json, not in {STATISTICS_FILE})" if tag in unconfigured else tag
            for tag in unknown
        ]
        raise TagSelectionError(
            f"unknown embodiment tag(s) {', '.join(why)} for {ckpt}; available: {', '.join(available)}"
        )
    return list(dict.fromkeys(requested))


def embodiment_spec(ckpt: Path, tag: str) -> EmbodimentSpec:
    config = modality_configs(ckpt)[tag]
    stats = tag_statistics(read_statistics(ckpt), tag, ckpt / STATISTICS_FILE)["state"]

    def keys(modality: str) -> list[str]:
        entry = config.get(modality) or {}
        found = entry.get("modality_keys")
        if not isinstance(found, list) or not found:
            raise CheckpointError(f"{tag}: modality config '{modality}' has no modality_keys")
        return [str(k) for k in found]

    state_keys = keys("state")
    missing = [k for k in state_keys if k not in stats]
    if missing:
        raise CheckpointError(f"{tag}: state keys {missing} have no statistics (have: {sorted(stats)})")
    return EmbodimentSpec(
        tag=tag,
        cameras=tuple(keys("video")),
        video_steps=len(config["video"].get("delta_indices") or [0]),
        state=tuple((k, len(stats[k]["min"])) for k in state_keys),
        language_key=keys("language")[0],
        action_horizon=len(config.get("action", {}).get("delta_indices") or []),
        state_steps=len(config["state"].get("delta_indices") or [0]),
    )
