"""groot-parity bisect (consumer side): name the first block where LeRobot differs from the original.

Reads a bisect artifact (``producer.bisect`` writes it; ``make bisect`` runs both), runs LeRobot chained
and isolated with hooks on every block, judges each block (``comparison.block_comparison``), prints the
per-block table, draws the figure and ends with one line naming the cause. docs/bisect.md says how to
read it. Exit status: 0 no difference beyond rounding, 1 a block (or the code between two) differs, 2 bad
usage or input.

Usage (consumer env): ``python -m consumer.bisect --ckpt DIR --artifact X.bisect.npz [--figure PNG]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from comparison.block_comparison import BlockVerdict, cause_line, first_cause, first_gap, format_table, judge_blocks
from comparison.tolerance import ToleranceConfig, tolerance_from_env
from consumer.lerobot_side.model import LeRobotModel
from parity_format.artifact import Artifact, read_artifact
from parity_format.block_keys import BISECT_KIND, BlockId, blocks_of_modules, recorded_blocks


@dataclass
class BisectReport:
    verdicts: list[BlockVerdict]
    only_original: list[str] = field(default_factory=list)  # blocks the original ran that LeRobot lacks
    only_lerobot: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        cause = first_cause(self.verdicts)
        return {
            "cause": None if cause is None else cause.block.label,
            "blocks": [v.to_dict() for v in self.verdicts],
            "only_original": self.only_original,
            "only_lerobot": self.only_lerobot,
            "notes": self.notes,
        }


def require_bisect_artifact(artifact: Artifact) -> None:
    if artifact.provenance.get("artifact_kind") != BISECT_KIND:
        raise ValueError(
            f"{artifact.path} is not a bisect artifact (make one: make bisect CKPT=... ARTIFACT=<artifact.npz>)"
        )


def bisect(model: LeRobotModel, artifact: Artifact, tolerance: ToleranceConfig) -> BisectReport:
    """LeRobot's blocks against the original's recorded ones, chained and isolated."""
    from consumer.lerobot_side.blocks import run_blocks

    require_bisect_artifact(artifact)
    runs = run_blocks(model, artifact)
    original_blocks = recorded_blocks(artifact.outputs)
    lerobot_blocks = set(blocks_of_modules(runs.lerobot_paths, "lerobot"))
    lerobot_ran = {k.rsplit(".", 1)[0] for k in runs.chained}
    only_original = [b.label for b in original_blocks if b.key not in lerobot_ran]
    recorded_unstepped = {BlockId(b.family, b.index) for b in original_blocks}
    only_lerobot = sorted(b.label for b in lerobot_blocks - recorded_unstepped)
    mask = artifact.inputs.get("inputs.attention_mask")
    token_mask = None if mask is None else mask.astype(bool)
    verdicts = judge_blocks(artifact.outputs, runs.chained, runs.isolated, tolerance, original_blocks, token_mask)
    return BisectReport(verdicts, only_original, only_lerobot, runs.notes)


def print_report(report: BisectReport, figures: list[str]) -> None:
    print(format_table(report.verdicts))
    for label, names in (("only in the original", report.only_original), ("only in LeRobot", report.only_lerobot)):
        if names:
            print(f"blocks {label}: {', '.join(names)}")
    for note in report.notes:
        print(f"note: {note}")
    print(cause_line(report.verdicts, figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consumer.bisect", description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="the checkpoint the bisect artifact was made from")
    parser.add_argument("--artifact", type=Path, required=True, help="a bisect artifact (producer.bisect)")
    parser.add_argument("--figure", type=Path, help="PNG to draw (default: reports/bisect-<artifact stem>.png)")
    parser.add_argument("--json", type=Path, help="also write the per-block verdicts as JSON here")
    parser.add_argument("--device", default="cpu", help="torch device for LeRobot (default cpu)")
    args = parser.parse_args(argv)
    try:
        artifact = read_artifact(args.artifact)
        require_bisect_artifact(artifact)
        tolerance = tolerance_from_env()
    except (ValueError, OSError) as exc:
        print(f"consumer.bisect: {exc}", file=sys.stderr)
        return 2
    model = LeRobotModel(args.ckpt.resolve(), args.device)
    report = bisect(model, artifact, tolerance)
    stem = args.artifact.name.removesuffix(".npz")
    figure = args.figure or Path("reports") / f"bisect-{stem}.png"
    from consumer.reports.bisect_figure import draw

    draw(report.verdicts, figure, f"{stem}: scale error per block ({tolerance.describe()})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=1, default=str) + "\n", encoding="utf-8")
    print_report(report, [str(figure)])
    return 1 if first_cause(report.verdicts) or first_gap(report.verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
