"""Bisect the full-size action-head divergence: tiny backbone, one action-head setting moved at a time.

On the full-size random-weight checkpoint the two implementations agree up to the DiT and differ from the
step-0 velocity on; on the tiny checkpoint everything is bitwise equal. This script keeps the tiny backbone
(so the DiT's inputs stay exact) and builds small checkpoints whose action head moves one setting toward the
full value, produces one artifact with the real original (B=1, one tag, one image size), replays it with
LeRobot and prints the per-stage max|diff| table. Run from the repo root with the system python:

    python3 benchmarks/dit_bisect.py --work-dir /tmp/bisect [--variants base,dit16,...]

Variants are named head overrides on a base head (``tiny`` or ``scaled``: the full head widths, 2 DiT layers);
a name ending in ``+fanin`` builds AdaLayerNorm's modulation Linear N(0, 1/fan_in). Findings and numbers:
``docs/dit-divergence-investigation.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.checkpoint_spec import LIBERO, SCALED, TINY, CheckpointSpec  # noqa: E402

PRODUCER = ROOT / "envs/producer/.venv/bin/python"
CONSUMER = ROOT / "envs/consumer/.venv/bin/python"

# name -> (base head, overrides). "scaled" is the full action head with 2 DiT layers / 1 VL layer. The VL
# self-attention width (heads x head dim) must equal the backbone's (64), the DiT's its input_embedding_dim.
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "base": ("tiny", {}),
    "bf16dtype": ("tiny", {"model_dtype": "bfloat16"}),
    "dropout": ("tiny", {"dropout": 0.2}),
    "dit3": ("tiny", {"dit_layers": 3}),
    "dit4": ("tiny", {"dit_layers": 4}),
    "dit16": ("tiny", {"dit_layers": 16}),
    "heads32x48": ("tiny", {"dit_heads": 32, "dit_head_dim": 48, "input_embedding_dim": 1536}),
    "horizon40": ("tiny", {"action_horizon": 40}),
    "dims132": ("tiny", {"max_state_dim": 132, "max_action_dim": 132}),
    "vl4": ("tiny", {"vl_layers": 4}),
    "widths": ("tiny", {"hidden_size": 1024, "dit_output_dim": 1024}),
    "seq1024": ("tiny", {"max_seq_len": 1024}),
    "wide16": ("tiny", {"dit_heads": 32, "dit_head_dim": 48, "input_embedding_dim": 1536, "dit_layers": 16}),
    "head": ("scaled", {}),
    "head-fp32dtype": ("scaled", {"model_dtype": "float32", "dropout": 0.0}),
}


# A variant name ending in FAN_IN builds with AdaLayerNorm's 2-D modulation Linear drawn N(0, 1/fan_in)
# instead of unit_gain's "norm weight" rule (1 + 0.1 z), which makes (1 + scale) ~ tens at width 1536.
FAN_IN = "+fanin"


def modulation_fan_in_gain(name: str, shape: tuple[int, ...], normal: Any) -> Any:
    from fixtures.random_init import unit_gain

    if name.endswith("norm1.linear.weight") and len(shape) == 2:
        return normal / shape[-1] ** 0.5
    return unit_gain(name, shape, normal)


def variant_spec(name: str) -> CheckpointSpec:
    base, overrides = VARIANTS[name.removesuffix(FAN_IN)]
    scaled = replace(SCALED.head, vl_heads=TINY.head.vl_heads, vl_head_dim=TINY.head.vl_head_dim)
    head = replace(scaled if base == "scaled" else TINY.head, **overrides)
    # keep the tiny backbone (select_layer of the tiny text tower) and one LIBERO tag
    head = replace(head, select_layer=TINY.head.select_layer)
    label = name.replace(FAN_IN, "-fanin")
    return replace(TINY, name=f"bisect-{label}", head=head, embodiments=(LIBERO,), embodiment_ids={"libero_sim": 2})


def build(name: str, cache: Path) -> Path:
    """Build in a subprocess (consumer env: the builder reads shapes from LeRobot's model)."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, '.');"
        "from benchmarks.dit_bisect import variant_spec;"
        "import fixtures.build_full_size_checkpoint as b; from fixtures.build_full_size_checkpoint import build;"
        + ("from benchmarks.dit_bisect import modulation_fan_in_gain as g; b.unit_gain = g;" if FAN_IN in name else "")
        + f"print(build(variant_spec({name!r}), 0, Path({str(cache)!r})))"
    )
    out = subprocess.run([str(CONSUMER), "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def stages(ckpt: Path, out: Path, image: str) -> dict[str, float]:
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    produce = [str(PRODUCER), "-m", "producer.cli", "--ckpt", str(ckpt), "--out-dir", str(out), "--device", "cpu"]
    produce += ["--tags", "libero_sim", "--batch-size", "1", "--image-size", image]
    done = subprocess.run(produce, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"producer failed on {ckpt}: {done.stdout[-400:]}")
    before = set((ROOT / "reports").glob("parity-*.json"))
    consume = [str(CONSUMER), "-m", "consumer.cli", "--dir", str(out / image), "--check", "model"]
    subprocess.run(consume, cwd=ROOT, env=env, capture_output=True)  # exits 1 on FAIL: read the report
    report = max(set((ROOT / "reports").glob("parity-*.json")) - before, key=lambda p: p.stat().st_mtime)
    result = json.loads(report.read_text())["results"][0]
    figures = {t["name"]: t["max_abs_diff"] for t in result["stages"]["report"]["tensors"]}
    figures.update({t["name"]: t["max_abs_diff"] for t in result["report"]["tensors"]})
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, required=True, help="checkpoints and artifacts go here")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated names, each optionally +{FAN_IN[1:]} (all)"
    )
    parser.add_argument("--image-size", default="64x64", help="camera frame size HxW (64x64)")
    args = parser.parse_args(argv)
    for name in args.variants.split(","):
        ckpt = build(name, args.work_dir / "cache")
        figures = stages(ckpt, args.work_dir / "out" / name, args.image_size)
        keep = ("vl_embeds", "step0.velocity", "step3.velocity", "action_pred")
        shown = "  ".join(f"{k.split('.', 2)[-1]}={v:.2e}" for k, v in figures.items() if k.endswith(keep))
        print(f"{name:16s} {VARIANTS[name.removesuffix(FAN_IN)]}  {shown}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
