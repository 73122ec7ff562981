"""bf16 envelope: per pipeline stage, how far LeRobot in bfloat16 lands from the fp32 original.

Replays every artifact in a directory through LeRobot in bf16, starting from the artifact's recorded
flow-matching noise (so the sample is the same one the original drew, only cast to bf16), and prints
per stage the max and mean |diff| over all artifacts (token-level stages on valid tokens only), and
which stage first leaves the fp32 tolerance. Numbers are printed, never asserted. Consumer env:

    envs/consumer/.venv/bin/python benchmarks/bf16_envelope.py [--dir fixtures/golden] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumer.noise import noise_source  # noqa: E402
from consumer.session import ParitySession, discover  # noqa: E402
from consumer.settings import settings_from_env  # noqa: E402
from parity_format.artifact import read_artifact  # noqa: E402
from parity_format.stage_keys import TOKEN_LEVEL, stage_items, stage_label  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=REPO / "fixtures/golden", help="artifact directory")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"), help="LeRobot's dtype")
    args = parser.parse_args()
    session = ParitySession(settings_from_env({"GROOT_PARITY_DTYPE": args.dtype}))
    diffs: dict[str, list[np.ndarray]] = {}
    labels: dict[str, str] = {}
    cases = discover(args.dir)
    for case in cases:
        artifact = read_artifact(case.path)
        noise = noise_source(artifact)
        model = session.model(session.checkpoint_for(artifact), session.device_for(artifact))
        out = model.get_action(artifact.inputs, artifact.input_torch_dtypes, artifact.seed, noise.noise)
        valid = artifact.inputs["inputs.attention_mask"].astype(bool)
        expected = {**stage_items(artifact.outputs), "action_pred": artifact.action_pred}
        for key, value in expected.items():
            name = key if key == "action_pred" else key.split(".", 2)[2]
            labels[name] = "action_pred" if key == "action_pred" else stage_label(key)
            other = out.values[key]
            if key.rsplit(".", 1)[-1] in TOKEN_LEVEL:
                value, other = value[valid], other[valid]
            diffs.setdefault(name, []).append(np.abs(value.astype(np.float64) - other).ravel())
        print(f"{case.case_id}: {noise.label}", file=sys.stderr)
    tol = session.settings.tolerances
    print(f"LeRobot {args.dtype} vs fp32 original, {len(cases)} artifacts in {args.dir}, same recorded noise\n")
    print("| stage | max abs diff | mean abs diff | max <= default atol? |")
    print("| --- | --- | --- | --- |")
    for name, parts in diffs.items():
        d = np.concatenate(parts)
        within = "yes" if d.max() <= tol.for_tensor(name).atol else "no"
        print(f"| {labels[name]} | {d.max():.2e} | {d.mean():.2e} | {within} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
