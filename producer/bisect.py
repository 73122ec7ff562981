"""Bisect capture: re-run an artifact's inputs through the original with hooks on every block.

Writes a bisect artifact (``parity_format.block_keys``: provenance ``artifact_kind`` "bisect", read by
the same ``read_artifact``): the source artifact's inputs, raw observation and recorded noise, the
original's stages and action, and for every block its float inputs, output and float64 rerun. Opt-in
only (``make bisect``); default artifacts are unchanged.

WHY it streams: each array goes to a spill file the moment its hook fires and is read back memory-mapped
when the archive is written, so the peak is the model plus one block's arrays, not every block's.

Usage (producer env): ``python -m producer.bisect --ckpt DIR --artifact SRC.npz --out BISECT.npz``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from parity_format.block_keys import BISECT_KIND
from parity_format.codecs import COMPRESSION_LEVELS, DEFAULT_COMPRESSION

DEFAULT_SUFFIX = ".bisect.npz"


class SpillRecorder:
    """``record(name, array)`` to one .npy per member in a folder; ``arrays()`` maps them back read-only."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: dict[str, Path] = {}
        self.bytes = 0

    def __call__(self, name: str, array: np.ndarray) -> None:
        if name in self.paths:
            raise ValueError(f"bisect capture recorded {name} twice")
        path = self.folder / f"{len(self.paths):06d}.npy"
        np.save(path, array, allow_pickle=False)
        self.paths[name] = path
        self.bytes += array.nbytes

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.load(path, mmap_mode="r", allow_pickle=False) for name, path in self.paths.items()}


def nested_inputs(tensors: dict[str, Any]) -> dict[str, Any]:
    """{'inputs.input_ids': t} -> {'inputs': {'input_ids': t}}: what ``get_action`` takes as keywords."""
    nested: dict[str, Any] = {}
    for dotted, tensor in tensors.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tensor
    return nested


def capture(ckpt: Path, source: Path, out: Path, device: str = "cpu", compression: str = DEFAULT_COMPRESSION) -> Path:
    """Run the original on ``source``'s inputs with every block hooked; write the bisect artifact to ``out``."""
    import torch

    from parity_format.artifact import Artifact, read_artifact, write_artifact
    from parity_format.codecs import MemberEncoder
    from producer.original import OriginalGr00t
    from torch_hooks.block_capture import capture_blocks
    from torch_hooks.noise_draw import NOISE_MEMBER, intercept_noise_draw
    from torch_hooks.stage_capture import capture_stages

    artifact = read_artifact(source)
    if artifact.provenance.get("artifact_kind") == BISECT_KIND:
        raise ValueError(f"{source} is already a bisect artifact; pass the artifact it was made from")
    noise = artifact.outputs.get(NOISE_MEMBER)
    if noise is None:
        raise ValueError(f"{source} records no {NOISE_MEMBER}: regenerate it with the current producer")
    original = OriginalGr00t(ckpt.resolve(), device)
    model = original.model
    tensors = {
        k: torch.from_numpy(np.ascontiguousarray(v)).to(getattr(torch, artifact.input_torch_dtypes[k].split(".")[-1]))
        for k, v in artifact.inputs.items()
    }
    horizon = int(model.action_head.action_horizon)
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bisect-spill-", dir=out.parent) as spill:  # beside the output: same disk
        recorder = SpillRecorder(Path(spill))
        with (
            intercept_noise_draw(tuple(noise.shape), noise) as draws,
            capture_stages(model, "original", horizon) as stages,
            capture_blocks(model, "original", recorder, inputs=True, float64=True) as run,
            torch.inference_mode(),
        ):
            result = model.get_action(**{k: _to(v, device) for k, v in nested_inputs(tensors).items()})
        draws.require_one("replaced")
        action_pred = result["action_pred"].detach().float().cpu().numpy()
        seconds = time.perf_counter() - started
        bisect = Artifact(
            embodiment_tag=artifact.embodiment_tag,
            seed=int(artifact.seed if artifact.seed is not None else 0),
            action_pred=action_pred,
            inputs=artifact.inputs,
            input_torch_dtypes=artifact.input_torch_dtypes,
            raw=artifact.raw,
            outputs={NOISE_MEMBER: noise, **stages, **recorder.arrays()},
            provenance={
                **artifact.provenance,
                "artifact_kind": BISECT_KIND,
                "bisect": {
                    "source": source.name,
                    "device": device,
                    "blocks_in_order": [b.label for b in run.order],
                    "notes": run.notes,
                    "captured_bytes": recorder.bytes,  # no timing here: a regenerated golden stays byte-identical
                },
            },
        )
        with MemberEncoder(compression) as encoder:
            write_artifact(bisect, out, encoder)
    print(f"bisect capture: {len(run.order)} block calls, {recorder.bytes / 1e6:.1f} MB in {seconds:.1f}s -> {out}")
    for note in run.notes:
        print(f"note: {note}")
    return out


def _to(value: Any, device: str) -> Any:
    return {k: _to(v, device) for k, v in value.items()} if isinstance(value, dict) else value.to(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="producer.bisect", description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="checkpoint directory the artifact was made from")
    parser.add_argument("--artifact", type=Path, required=True, help="a (non-bisect) artifact: its inputs and noise")
    parser.add_argument("--out", type=Path, help=f"bisect artifact to write (default: ARTIFACT with {DEFAULT_SUFFIX})")
    parser.add_argument("--device", default="cpu", help="torch device for the original (default cpu)")
    parser.add_argument("--compression", choices=COMPRESSION_LEVELS, default=DEFAULT_COMPRESSION, help="LZMA effort")
    args = parser.parse_args(argv)
    out = args.out or args.artifact.with_name(args.artifact.name.removesuffix(".npz") + DEFAULT_SUFFIX)
    try:
        capture(args.ckpt, args.artifact, out, args.device, args.compression)
    except (ValueError, OSError) as exc:
        print(f"producer.bisect: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
