"""Bisect on the committed bisect golden (the real original, block by block) against the real LeRobot model.

Planted faults are scoped weight edits in one LeRobot block; each must be named at exactly that block in
isolation, with the blocks after it only inheriting the difference in chained mode. A block that computes
in float64 (so differs from the original's float32 by rounding only) must be reported as rounding.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comparison.block_comparison import DIFFERS, INHERITED, MATCH, ROUNDING, cause_line, first_cause, first_gap
from comparison.tolerance import Tolerance, ToleranceConfig
from consumer.bisect import BisectReport, bisect, main
from consumer.lerobot_side.model import LeRobotModel
from parity_format.artifact import Artifact, read_artifact

REPO = Path(__file__).resolve().parents[2]
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"
BISECT_GOLDEN = REPO / "fixtures" / "golden-bisect" / "256x256" / "original_n1_7_new_embodiment.bisect.npz"
DEFAULT = ToleranceConfig()


@pytest.fixture(scope="module")
def model() -> LeRobotModel:
    return LeRobotModel(TINY_CKPT, "cpu")


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    assert BISECT_GOLDEN.is_file(), f"bisect golden missing: {BISECT_GOLDEN} (make fixtures-bisect GR00T_SRC=...)"
    return read_artifact(BISECT_GOLDEN)


@contextlib.contextmanager
def scaled_weight(model: LeRobotModel, name: str, factor: float) -> Iterator[None]:
    """One parameter of LeRobot's model multiplied by ``factor`` inside the context, restored after."""
    import torch

    parameter = dict(model.model.named_parameters())[name]
    saved = parameter.detach().clone()
    with torch.no_grad():
        parameter.mul_(factor)
    try:
        yield
    finally:
        with torch.no_grad():
            parameter.copy_(saved)


def statuses(report: BisectReport, mode: str) -> dict[str, str]:
    return {v.block.label: getattr(v, f"{mode}_status") for v in report.verdicts}


def test_unedited_lerobot_matches_every_block(model: LeRobotModel, artifact: Artifact) -> None:
    report = bisect(model, artifact, DEFAULT)
    assert len(report.verdicts) == 15  # 2 vision blocks, 1 DeepStack merger, merger, 2 LLM, 1 VL, 2 DiT x 4 steps
    assert set(statuses(report, "isolated").values()) == {MATCH}
    assert set(statuses(report, "chained").values()) == {MATCH}
    assert (report.only_original, report.only_lerobot) == ([], [])
    assert first_cause(report.verdicts) is None
    assert cause_line(report.verdicts).startswith("cause: none: no block of 15 differs")


FAULTS = [
    ("backbone.model.model.language_model.layers.0.mlp.down_proj.weight", "llm_layer.0", "llm_layer.1"),
    ("backbone.model.model.visual.blocks.1.mlp.linear_fc2.weight", "vision_block.1", "vision_merger.0"),
    ("action_head.model.transformer_blocks.1.ff.net.2.weight", "step0.dit_block.1", "step1.dit_block.0"),
]


@pytest.mark.parametrize(("parameter", "cause", "downstream"), FAULTS, ids=[f[1] for f in FAULTS])
def test_a_planted_fault_is_named_at_its_block_and_later_blocks_inherit(
    model: LeRobotModel, artifact: Artifact, parameter: str, cause: str, downstream: str
) -> None:
    with scaled_weight(model, parameter, 1.5):
        report = bisect(model, artifact, DEFAULT)
    found = first_cause(report.verdicts)
    assert found is not None and found.block.label == cause
    module = parameter.rsplit(".", 3)[0] if "dit" not in cause else "action_head.model.transformer_blocks.1"
    assert module.startswith(found.original_path) and found.lerobot_path == found.original_path
    assert found.isolated is not None and found.isolated.scale_error > 1e-2  # the edit's own size, not rounding
    assert found.fp64_diff is not None and found.fp64_diff > 0.1 * found.isolated.max_abs_diff  # survives float64
    isolated = statuses(report, "isolated")
    family = cause.rsplit(".", 2)[-2]
    index = cause.rsplit(".", 1)[-1]
    # only the edited block (at every denoising step, for a DiT block) differs in isolation
    assert {b for b, s in isolated.items() if s != MATCH} == {
        b for b in isolated if b.endswith(f"{family}.{index}") and (family == "dit_block" or b == cause)
    }
    chained = statuses(report, "chained")
    assert chained[cause] == DIFFERS
    assert chained[downstream] == INHERITED
    assert all(chained[b] in (MATCH, INHERITED) for b, s in isolated.items() if s == MATCH)
    line = cause_line(report.verdicts)
    assert line.startswith(f"cause: {cause} ({found.original_path}) differs in isolation")


def test_a_block_that_differs_only_by_rounding_is_not_the_cause(model: LeRobotModel, artifact: Artifact) -> None:
    """LeRobot's VL block computing in float64: its float32 output moves by rounding only."""
    import torch

    block = model.model.get_submodule("action_head.vl_self_attention.transformer_blocks.0")
    twin = copy.deepcopy(block).to(torch.float64)

    def in_float64(*args: Any, **kwargs: Any) -> Any:
        def up(v: Any) -> Any:
            return v.to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v

        return twin(*map(up, args), **{k: up(v) for k, v in kwargs.items()}).to(torch.float32)

    block.forward = in_float64
    exact = ToleranceConfig(default=Tolerance(0.0, 0.0, 0.0))  # so that rounding is out of tolerance
    try:
        report = bisect(model, artifact, exact)
    finally:
        del block.forward
    isolated = statuses(report, "isolated")
    assert isolated["vl_block.0"] == ROUNDING
    assert DIFFERS not in isolated.values()
    assert first_cause(report.verdicts) is None
    vl = next(v for v in report.verdicts if v.block.label == "vl_block.0")
    assert vl.isolated is not None and vl.isolated.max_abs_diff > 0 and vl.fp64_diff is not None
    assert vl.fp64_diff <= 1e-3 * vl.isolated.max_abs_diff
    assert statuses(report, "chained")["step0.dit_block.0"] in (INHERITED, ROUNDING)


def test_cli_prints_the_table_the_cause_and_draws_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figure = tmp_path / "bisect.png"
    code = main(["--ckpt", str(TINY_CKPT), "--artifact", str(BISECT_GOLDEN), "--figure", str(figure)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines[0].split()[:2] == ["block", "chained"] and any(ln.startswith("llm_layer.1 ") for ln in lines)
    assert lines[-1].startswith("cause: none") and str(figure) in lines[-1]
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_an_ordinary_artifact(capsys: pytest.CaptureFixture[str]) -> None:
    golden = REPO / "fixtures" / "golden" / "256x256" / "original_n1_7_new_embodiment.npz"
    assert main(["--ckpt", str(TINY_CKPT), "--artifact", str(golden)]) == 2
    assert "is not a bisect artifact" in capsys.readouterr().err


DEEPSTACK_CKPT = REPO / "fixtures" / "tiny-groot-n1.7-deepstack"
DEEPSTACK_BISECT = REPO / "fixtures" / "golden-bisect" / "deepstack" / "256x256" / "original_n1_7_libero_sim.bisect.npz"


def test_the_deepstack_case_is_named_as_the_gap_after_the_last_kept_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/divergences.md deepstack-last-layer: every block matches alone; the backbone output differs."""
    report = bisect(LeRobotModel(DEEPSTACK_CKPT, "cpu"), read_artifact(DEEPSTACK_BISECT), DEFAULT)
    assert set(statuses(report, "isolated").values()) == {MATCH}
    assert first_cause(report.verdicts) is None
    gap = first_gap(report.verdicts)
    assert gap is not None and gap[0] is not None
    assert (gap[0].block.label, gap[1].block.label) == ("llm_layer.1", "vl_block.0")
    assert statuses(report, "chained")["vl_block.0"] == INHERITED
    assert "after llm_layer.1 (backbone.model.model.language_model.layers.1) and before vl_block.0" in cause_line(
        report.verdicts
    )
