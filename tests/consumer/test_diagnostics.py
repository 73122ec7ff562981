"""Diagnostics name WHERE the implementations part: planted stage perturbations and a bf16 replay.

Real LeRobot on edited copies of a golden fixture; the report tool then reads the run's real JSON.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case
from consumer.reports import markdown as report
from consumer.reports.json_report import write_json_report
from consumer.reports.markdown import main as report_main
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact, write_artifact
from parity_format.stage_keys import canonical_stage_key


def planted(src: Path, dst: Path, stage: str) -> Case:
    """A copy with the stage ``stage`` shifted by 0.05, whichever key (numbered or not) the file stores it under."""
    artifact = read_artifact(src)
    stored = [k for k in artifact.outputs if canonical_stage_key(k) == stage]
    assert len(stored) == 1, sorted(artifact.outputs)
    artifact.outputs[stored[0]] = artifact.outputs[stored[0]] + np.float32(0.05)
    path = write_artifact(artifact, dst / src.name)
    return Case(path, dst.name, artifact.embodiment_tag)


@pytest.mark.parametrize(
    "stage,label",
    [
        ("stage.backbone_features", "backbone_features"),
        ("stage.state_features", "state_features"),
        ("stage.step1.velocity", "step 1 velocity"),
    ],
)
def test_planted_stage_perturbation_is_named_exactly(
    golden_square: Path, tmp_path: Path, session: ParitySession, stage: str, label: str
) -> None:
    result = session.run(planted(golden_square, tmp_path / "planted", stage), "model")
    assert result.status == "fail"
    assert result.stages is not None and result.stages.first_divergence == stage  # the key, not the label
    assert result.stages.first_divergence_label == label
    failing = [t.name for t in result.stages.report.tensors if not t.passed]
    assert failing == [stage]  # only the planted stage: everything else LeRobot recomputes identically
    assert f"first divergence: {label} ({stage}), max|diff| 5" in result.message
    assert result.report is not None and not result.report.passed  # the table says FAIL like the status


def orange_pixels(png: Path) -> int:
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    pixels = imread(png)[..., :3]
    return int(np.all(np.abs(pixels - np.array(to_rgb(report.COLORS[2]))) < 0.02, axis=-1).sum())


def test_report_tool_draws_the_planted_per_step_stage_orange(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    """Real consumer output: a per-step stage diverges, the JSON stores its key, the chart highlights it."""
    result = session.run(planted(golden_square, tmp_path / "planted", "stage.step2.velocity"), "model")
    json_path = write_json_report([result], tmp_path / "reports", session.settings)
    assert report_main([str(json_path), "--out", str(tmp_path / "md")]) == 1  # a failed check is reported
    markdown = (tmp_path / "md" / "report.md").read_text()
    assert "first divergent stage `stage.step2.velocity` highlighted" in markdown
    (tmp_path / "again").mkdir()
    output = report.render(report.load_results(json_path), json_path, tmp_path / "again")
    assert list(output.highlighted.values()) == ["stage.step2.velocity"]
    [chart] = output.highlighted
    highlighted = orange_pixels(tmp_path / "again" / chart)
    copy = write_artifact(read_artifact(golden_square), tmp_path / "clean" / golden_square.name)
    passing = session.run(Case(copy, "clean", "libero_sim"), "model")
    clean_json = write_json_report([passing], tmp_path / "clean-reports", session.settings)
    (tmp_path / "clean-md").mkdir()
    clean = report.render(report.load_results(clean_json), clean_json, tmp_path / "clean-md")
    assert passing.status == "pass" and clean.highlighted == {}
    [clean_chart] = [p for p in clean.figures if p.name.endswith("-stages.png")]
    legend_only = orange_pixels(clean_chart)  # the legend's "first divergence" swatch
    assert highlighted > legend_only + 500  # plus an orange bar
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (tmp_path / "md").glob("*.png"))
    assert len(list((tmp_path / "md").glob("*.png"))) == 2  # action heatmap + stage chart


def test_bf16_replay_of_fp32_fixture_diverges_at_the_backbone(golden_square: Path, tmp_path: Path) -> None:
    settings = settings_from_env({"GROOT_PARITY_DTYPE": "bfloat16", "GROOT_PARITY_REPORT_DIR": str(tmp_path)})
    result = ParitySession(settings).run(Case(golden_square, "golden", "libero_sim"), "model")
    assert result.status == "fail"
    assert result.stages is not None and result.stages.first_divergence == "stage.backbone_features"
    assert "it is the first stage" in result.stages.summary
    assert "bfloat16" in " ".join(result.report.notes)


def test_artifact_without_stages_still_gets_end_to_end_checks(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    artifact = read_artifact(golden_square)
    artifact.outputs = {k: v for k, v in artifact.outputs.items() if not k.startswith("stage.")}
    path = write_artifact(artifact, tmp_path / "nostages" / golden_square.name)
    result = session.run(Case(path, "nostages", "libero_sim"), "model")
    assert result.status == "pass" and result.stages is None
    assert any("no pipeline stages" in n for n in result.report.notes)
