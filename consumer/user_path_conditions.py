"""Exact conditions of the user-path divergences, read from the checkpoint's files (no torch, no lerobot)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from consumer.sharded_checkpoint import has_single_weights_file
from parity_format.artifact import Artifact
from sources.checkpoint import read_json

WIDE_FLOATS = ("F32", "F64")  # safetensors dtypes that bfloat16 rounds


def weight_dtypes(ckpt: Path) -> set[str]:
    """The safetensors dtypes of every tensor in the checkpoint's ``model*.safetensors`` (headers only)."""
    dtypes: set[str] = set()
    for path in sorted(ckpt.glob("model*.safetensors")):
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        dtypes |= {str(v["dtype"]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    return dtypes


def lerobot_loads_in_bf16(_artifact: Artifact, ckpt: Path) -> bool:
    """Weights stored wider than bf16 AND config.json names no other load dtype (LeRobot's default: bfloat16).

    ``GR00TN17Config`` defaults ``dtype`` to bfloat16 and transformers 5 loads in the config's dtype; the
    checkpoint's ``model_dtype`` field is not read for loading.
    """
    config = read_json(ckpt / "config.json")
    named = config.get("dtype", config.get("torch_dtype"))
    return named in (None, "bfloat16") and bool(weight_dtypes(ckpt) & set(WIDE_FLOATS))


def raw_single_file_checkpoint(_artifact: Artifact, ckpt: Path) -> bool:
    """A raw N1.7 checkpoint (config.json without LeRobot's ``type``) whose weights are one model.safetensors."""
    return has_single_weights_file(ckpt) and "type" not in read_json(ckpt / "config.json")
