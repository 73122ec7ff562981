"""The fp32 rounding envelope of one recorded training step: the original's step in fp32 against fp64.

Runs in the producer env (the original gr00t). For each golden-training artifact, the original model
runs the SAME step twice, on the recorded batch with the recorded draws injected: once in fp32 (as
recorded) and once with the model and the batch in fp64. The figures (loss |diff|, per part the gradient
norm's relative difference and the worst cosine of the recorded tensors, the worst scale error
max|diff|/max|fp64| over the recorded gradients) are what fp32 alone costs; a LeRobot-vs-original
difference of that size is rounding, far above it is a finding. docs/training.md quotes them.

Usage: PYTHONPATH=. envs/producer/.venv/bin/python benchmarks/training_fp64.py [artifact.npz ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from parity_format import training_members as tm
from parity_format.artifact import read_artifact

GOLDEN = Path("fixtures/golden-training")


def step(model: Any, batch: dict[str, np.ndarray], draws: dict[str, np.ndarray], dtype: Any) -> tuple[float, dict]:
    import torch

    from torch_hooks.training_draws import intercept_training_draws

    model.to(dtype)
    for p in model.parameters():
        p.grad = None
    inputs = {}
    for key, value in batch.items():
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        inputs[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    shape = tuple(batch["action"].shape)
    with intercept_training_draws(shape[0], shape, state_dropout=True, recorded=draws) as injected:
        out = model.forward(dict(inputs))
    injected.require_each("replaced")
    out["loss"].backward()
    grads = {n: p.grad.detach().double().numpy() for n, p in model.named_parameters() if p.grad is not None}
    return float(out["loss"].item()), grads


def main() -> None:
    import torch

    from producer.original import OriginalGr00t
    from producer.training import STATE_DROPOUT_PROB, STEP_FLAGS, set_tune_flags

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("artifacts", nargs="*", type=Path)
    paths = parser.parse_args().artifacts or sorted(GOLDEN.glob("*/*.npz"))
    original = None
    for path in paths:
        artifact = read_artifact(path)
        ckpt = Path(artifact.provenance["checkpoint"]["spec"]).resolve()  # run from the repository root
        if original is None:
            original = OriginalGr00t(ckpt, "cpu")
        model = original.model
        set_tune_flags(model, STEP_FLAGS)
        model.train()
        model.action_head.state_dropout_prob = STATE_DROPOUT_PROB
        out = artifact.outputs
        batch = {k[len(tm.BATCH) :]: v for k, v in out.items() if k.startswith(tm.BATCH)}
        draws = {"noise": out[tm.DRAW_NOISE], "beta": out[tm.DRAW_BETA], "state_dropout": out[tm.DRAW_STATE_DROPOUT]}
        loss32, grads32 = step(model, batch, draws, torch.float32)
        loss64, grads64 = step(model, batch, draws, torch.float64)
        model.to(torch.float32)
        recorded = float(out[tm.LOSS])
        print(
            f"{artifact.embodiment_tag}: loss fp32 {loss32:.9g} (recorded {recorded:.9g}) fp64 {loss64:.12g} "
            f"|fp32-fp64| {abs(loss32 - loss64):.3e}"
        )
        parts: dict[str, list[str]] = {}
        for name in grads64:
            parts.setdefault(tm.part_of(name), []).append(name)
        named = set(artifact.provenance[tm.MANIFEST_KEY]["gradient_tensors"])
        worst_scale = 0.0
        for part, names in parts.items():
            n32 = np.sqrt(sum(float((grads32[n] ** 2).sum()) for n in names))
            n64 = np.sqrt(sum(float((grads64[n] ** 2).sum()) for n in names))
            cosines, vanishing = [], 0
            for n in names:
                a, e = grads32[n].ravel(), grads64[n].ravel()
                if np.linalg.norm(e) < 1e-9 * n64:  # mathematically zero (e.g. a bias before a norm): noise only
                    vanishing += 1
                    continue
                if n in named:  # the tensors the check compares in full
                    cosines.append(float(a @ e / (np.linalg.norm(a) * np.linalg.norm(e))))
                worst_scale = max(worst_scale, float(np.abs(a - e).max() / np.abs(e).max()))
            cosine = f"{min(cosines):.9f}" if cosines else "-"
            print(
                f"  {part:15s} grad norm rel diff {abs(n32 - n64) / n64:.3e}  worst cosine (recorded tensors) "
                f"{cosine}  tensors with a vanishing gradient: {vanishing}"
            )
        print(f"  worst gradient scale error over the other tensors: {worst_scale:.3e}")


if __name__ == "__main__":
    main()
