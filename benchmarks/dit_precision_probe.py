"""Run one checkpoint's DiT alone, in fp32 and fp64, in either implementation, on the same inputs.

Separates "the two DiTs compute different functions" from "fp32 rounding, amplified by wide random layers":
if the original and LeRobot agree in fp64 to ~1e-12 while each one's fp32 result is as far from its own fp64
result as the two fp32 results are from each other, the fp32 gap is rounding. Both environments build their
own ``AlternateVLDiT`` from the checkpoint's ``diffusion_model_cfg`` (as each action head does), load the
``action_head.model.*`` weights, and read the VL tokens and masks from a producer artifact; the DiT's other
input (state + action tokens) is a seeded standard-normal draw. Writes per-block hidden states and the output.

    envs/producer/.venv/bin/python benchmarks/dit_precision_probe.py --impl original --ckpt C --artifact A --out o.npz
    envs/consumer/.venv/bin/python benchmarks/dit_precision_probe.py --impl lerobot  --ckpt C --artifact A --out l.npz
    python3 benchmarks/dit_precision_probe.py --compare o.npz l.npz   # any python with numpy
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PREFIX = "action_head.model."


def dit_class(impl: str) -> type:
    if impl == "original":
        from gr00t.model.modules.dit import AlternateVLDiT
    else:
        from lerobot.policies.groot.action_head.cross_attention_dit import AlternateVLDiT
    return AlternateVLDiT


def redraw_modulation(weights: dict, fan_in_rule: bool) -> None:
    """Optionally undo ``random_init.unit_gain``'s norm rule on AdaLayerNorm's 2-D modulation Linear.

    The rule draws every ``*norm*weight`` as 1 + 0.1 z; for ``norm1.linear.weight`` (inner x 2 inner) that
    makes (1 + scale) ~ 1 + sum(silu(temb)), i.e. tens at width 1536. Recover z and use z / sqrt(fan_in).
    """
    if not fan_in_rule:
        return
    for name, w in weights.items():
        if name.endswith("norm1.linear.weight") and w.ndim == 2:
            weights[name] = ((w.double() - 1.0) / 0.1 / w.shape[-1] ** 0.5).to(w.dtype)


def run(impl: str, ckpt: Path, artifact: Path, out: Path, seed: int, fan_in_rule: bool = False) -> None:
    import torch
    from safetensors import safe_open

    torch.set_num_threads(2)
    cfg = json.loads((ckpt / "config.json").read_text())
    image_token_id = json.loads((ckpt / cfg["model_name"] / "config.json").read_text())["image_token_id"]
    model = dit_class(impl)(
        **cfg["diffusion_model_cfg"],
        cross_attention_dim=cfg["backbone_embedding_dim"],
        attend_text_every_n_blocks=cfg["attend_text_every_n_blocks"],
    ).eval()
    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:
        weights = {k.removeprefix(PREFIX): f.get_tensor(k) for k in f.keys() if k.startswith(PREFIX)}  # noqa: SIM118
    redraw_modulation(weights, fan_in_rule)
    missing, unexpected = model.load_state_dict(weights, strict=True)
    assert not missing and not unexpected, (missing, unexpected)
    del weights  # the full-size DiT is 0.5e9 values: keep one copy
    art = np.load(artifact)
    vl = art["out::stage.01.vl_embeds"]
    ids = art["in::inputs.input_ids"]
    inner = cfg["diffusion_model_cfg"]["num_attention_heads"] * cfg["diffusion_model_cfg"]["attention_head_dim"]
    tokens = 1 + cfg["action_horizon"]
    sa = np.random.default_rng(seed).standard_normal((vl.shape[0], tokens, inner))
    results: dict[str, np.ndarray] = {}
    for dtype in (torch.float32, torch.float64):
        model.to(dtype)
        with torch.no_grad():
            output, hidden = model(
                hidden_states=torch.from_numpy(sa).to(dtype),
                encoder_hidden_states=torch.from_numpy(vl).to(dtype),
                timestep=torch.zeros(vl.shape[0], dtype=torch.long),
                image_mask=torch.from_numpy(ids == image_token_id),
                backbone_attention_mask=torch.from_numpy(art["in::inputs.attention_mask"] == 1),
                return_all_hidden_states=True,
            )
        name = str(dtype).removeprefix("torch.")
        results[f"{name}.output"] = output.double().numpy()
        for i, h in enumerate(hidden[1:]):
            results[f"{name}.block{i:02d}"] = h.double().numpy()
    np.savez(out, **results, torch_version=np.array(torch.__version__))
    print(f"{impl}: torch {torch.__version__}, {len(hidden) - 1} blocks, width {inner} -> {out}")


def compare(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path), np.load(b_path)
    print(f"A={a_path.name} (torch {a['torch_version']}), B={b_path.name} (torch {b['torch_version']})")
    print(f"{'tensor':10s} {'max|v|':>9s} {'A32-B32':>9s} {'A64-B64':>9s} {'A32-A64':>9s} {'B32-B64':>9s}")
    for key in sorted(k.removeprefix("float64.") for k in a.files if k.startswith("float64.")):
        a32, b32, a64, b64 = a[f"float32.{key}"], b[f"float32.{key}"], a[f"float64.{key}"], b[f"float64.{key}"]

        def d(x: np.ndarray, y: np.ndarray) -> str:
            return f"{np.abs(x - y).max():9.2e}"

        print(f"{key:10s} {np.abs(a64).max():9.2e} {d(a32, b32)} {d(a64, b64)} {d(a32, a64)} {d(b32, b64)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=("original", "lerobot"), help="whose AlternateVLDiT to run")
    parser.add_argument("--ckpt", type=Path, help="checkpoint directory")
    parser.add_argument("--artifact", type=Path, help="producer .npz of that checkpoint (VL tokens and masks)")
    parser.add_argument("--out", type=Path, help="where to write the hidden states (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the state/action token draw (0)")
    parser.add_argument(
        "--modulation-fan-in", action="store_true", help="redraw norm1.linear.weight as N(0, 1/fan_in) (off)"
    )
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two --out files")
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
    elif None in (args.impl, args.ckpt, args.artifact, args.out):
        parser.error("--impl, --ckpt, --artifact and --out are required unless --compare")
    else:
        run(args.impl, args.ckpt, args.artifact, args.out, args.seed, args.modulation_fan_in)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
