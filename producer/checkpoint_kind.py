"""Refuse what is not a GR00T N1.7 checkpoint up front, with one sentence instead of a stack trace.

GR00T N1.5 checkpoints (Eagle backbone, ``experiment_cfg/metadata.json`` instead of the N1.7 processor
files) are the usual mistake: both implementations would fail deep inside model construction.
"""

from __future__ import annotations

import json
from pathlib import Path

from sources.checkpoint import read_json

N1_7_MODEL_TYPE = "Gr00tN1d7"


class NotN17Checkpoint(ValueError):
    """The checkpoint is not a GR00T N1.7 checkpoint."""


def check_n1_7(ckpt: Path) -> None:
    config = read_json(ckpt / "config.json")
    model_type = str(config.get("model_type", ""))
    architectures = " ".join(str(a) for a in config.get("architectures") or [])
    text = json.dumps(config).lower()
    n1_5 = (
        "n1_5" in model_type.lower()
        or "n1.5" in model_type.lower()
        or "n1_5" in architectures.lower()
        or "eagle" in text
        or ((ckpt / "experiment_cfg" / "metadata.json").is_file() and not (ckpt / "processor_config.json").exists())
    )
    if n1_5:
        raise NotN17Checkpoint(
            f"{ckpt} is a GR00T N1.5 checkpoint (model_type={model_type!r}, Eagle backbone or N1.5 processor "
            "files); groot-parity compares GR00T N1.7 only. Use an N1.7 checkpoint such as "
            "nvidia/GR00T-N1.7-LIBERO (subfolder libero_10)."
        )
    if model_type != N1_7_MODEL_TYPE:
        raise NotN17Checkpoint(
            f"{ckpt} is not a GR00T N1.7 checkpoint: config.json model_type is {model_type!r}, "
            f"expected {N1_7_MODEL_TYPE!r}"
        )
    for name in ("processor_config.json", "statistics.json"):
        if not (ckpt / name).is_file():
            raise NotN17Checkpoint(f"{ckpt} lacks {name}, which every GR00T N1.7 checkpoint carries")
