"""bf16 envelope: per pipeline stage, how far LeRobot in bfloat16 lands from the fp32 original.

Replays every artifact in a directory through LeRobot in bf16, starting from the artifact's recorded
flow-matching noise (so the sample is the same one the original drew, only cast to bf16), and prints
per stage the max and mean |diff| over all artifacts (token-level stages on valid tokens only), and
which stage first leaves the fp32 tolerance. Numbers are printed, never asserted. Consumer env:

    envs/consumer/.venv/bin/python benchmarks/bf16_envelope.py [--dir fixtures/golden] [--dtype bfloat16]

Every consumer knob applies (GROOT_PARITY_DEVICE=cuda replays on the GPU; --dtype overrides
GROOT_PARITY_DTYPE); the header line names the device each artifact ran on.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumer.noise import noise_source  # noqa: E402
from consumer.session import ParitySession, discover  # noqa: E402
from consumer.settings import Settings, settings_from_env  # noqa: E402
from parity_format.artifact import Artifact, read_artifact  # noqa: E402
from parity_format.stage_keys import STAGE_PREFIX, TOKEN_LEVEL, stage_items, stage_label, stage_name  # noqa: E402
from torch_hooks.cuda_settings import describe as describe_cuda_settings  # noqa: E402


def envelope_settings(dtype: str, environ: Mapping[str, str] = os.environ) -> Settings:
    """The environment's consumer settings with ``dtype`` for GROOT_PARITY_DTYPE (the device knob included)."""
    return settings_from_env({**environ, "GROOT_PARITY_DTYPE": dtype})


def artifact_diffs(artifact: Artifact, actual: Mapping[str, np.ndarray]) -> dict[str, tuple[str, np.ndarray]]:
    """Per recorded stage and ``action_pred``: (display label, |original - LeRobot| flattened, in float64).

    Keyed by the stage key without its prefix ('backbone_features', 'step0.velocity'; what tolerance
    overrides match); token-level stages on the valid tokens only.
    """
    valid = artifact.inputs["inputs.attention_mask"].astype(bool)
    expected = {**stage_items(artifact.outputs), "action_pred": artifact.action_pred}
    diffs: dict[str, tuple[str, np.ndarray]] = {}
    for key, value in expected.items():
        other = actual[key]
        if stage_name(key) in TOKEN_LEVEL:
            value, other = value[valid], other[valid]
        label = key if key == "action_pred" else stage_label(key)
        diffs[key.removeprefix(STAGE_PREFIX)] = (label, np.abs(value.astype(np.float64) - other).ravel())
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=REPO / "fixtures/golden", help="artifact directory")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"), help="LeRobot's dtype")
    args = parser.parse_args()
    session = ParitySession(envelope_settings(args.dtype))
    diffs: dict[str, list[np.ndarray]] = {}
    labels: dict[str, str] = {}
    devices: set[str] = set()
    cases = discover(args.dir)
    for case in cases:
        artifact = read_artifact(case.path)
        noise = noise_source(artifact)
        device = session.device_for(artifact)
        devices.add(device)
        model = session.model(session.checkpoint_for(artifact), device)
        out = model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed, noise.noise)
        for name, (label, diff) in artifact_diffs(artifact, out.values).items():
            labels[name] = label
            diffs.setdefault(name, []).append(diff)
        print(f"{case.case_id}: {noise.label}", file=sys.stderr)
    tol = session.settings.tolerances
    on = ", ".join(sorted(devices))
    print(f"LeRobot {args.dtype} on {on} vs fp32 original, {len(cases)} artifacts in {args.dir}, same recorded noise")
    if session.cuda_settings is not None:
        print(describe_cuda_settings(session.cuda_settings))
    print()
    print("| stage | max abs diff | mean abs diff | max <= default atol? |")
    print("| --- | --- | --- | --- |")
    for name, parts in diffs.items():
        d = np.concatenate(parts)
        within = "yes" if d.max() <= tol.for_tensor(name).atol else "no"
        print(f"| {labels[name]} | {d.max():.2e} | {d.mean():.2e} | {within} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
