"""A two-shard copy of a single-file checkpoint, so ``GrootPolicy.from_pretrained`` takes its base-model branch.

LeRobot's ``GrootPolicy.from_pretrained`` decides "fine-tuned LeRobot checkpoint" from the mere presence of
``model.safetensors`` (declared divergence ``from-pretrained-single-file``): the raw fixture checkpoints hold
one such file, the released 3B checkpoints are sharded. To still exercise the base-model branch users of
the 3B checkpoints take, the ``policy`` check builds this copy: every other entry of the checkpoint is
symlinked, the weights are split into two shards with a ``model.safetensors.index.json`` (the weights are
copied once per run: 3.8 MB for a tiny fixture). Only torch-free helpers here besides the split itself.
"""

from __future__ import annotations

import json
from pathlib import Path

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def has_single_weights_file(ckpt: Path) -> bool:
    """The checkpoint stores its weights in one ``model.safetensors`` (no shard index)."""
    return (ckpt / SINGLE_FILE).is_file() and not (ckpt / INDEX_FILE).is_file()


def sharded_copy(ckpt: Path, into: Path) -> Path:
    """``into/<ckpt name>``: the checkpoint with its single weights file split into two shards + index."""
    from safetensors.torch import load_file, save_file

    out = into / ckpt.name
    out.mkdir(parents=True)
    for entry in sorted(ckpt.iterdir()):
        if entry.name != SINGLE_FILE:
            (out / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    tensors = load_file(str(ckpt / SINGLE_FILE))
    names = sorted(tensors)
    half = max(1, len(names) // 2)
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map: dict[str, str] = {}
    total = 0
    for shard, members in shards.items():
        save_file({n: tensors[n].contiguous() for n in members}, str(out / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(members, shard))
        total += sum(tensors[n].numel() * tensors[n].element_size() for n in members)
    (out / INDEX_FILE).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    return out
