"""First-divergence logic of the stage comparison (numpy only; both environments)."""

from __future__ import annotations

import numpy as np

from parity_format.stages import compare_stages, stage_items, stage_key, stage_label
from parity_format.tolerance import Tolerance, ToleranceConfig

CONFIG = ToleranceConfig(Tolerance(1e-3, 0.0))


def pipeline(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {
        stage_key(0, "backbone_features"): rng.normal(size=(2, 5, 4)).astype(np.float32),
        stage_key(1, "vl_embeds"): rng.normal(size=(2, 5, 4)).astype(np.float32),
        stage_key(2, "state_features"): rng.normal(size=(2, 1, 3)).astype(np.float32),
    }
    for step in range(4):
        out[stage_key(3 + 2 * step, "action_in", step)] = rng.normal(size=(2, 6, 2)).astype(np.float32)
        out[stage_key(4 + 2 * step, "velocity", step)] = rng.normal(size=(2, 6, 2)).astype(np.float32)
    return out


def test_keys_sort_in_pipeline_order_and_read_as_labels() -> None:
    keys = list(stage_items({**pipeline(), "backbone_features": np.zeros(1)}))
    assert keys[0] == "stage.00.backbone_features" and keys[-1] == "stage.10.step3.velocity"
    assert stage_label("stage.08.step2.velocity") == "step 2 velocity"
    assert stage_key(120, "velocity", 59) == "stage.120.step59.velocity"
    assert list(stage_items({"stage.100.x": 1, "stage.99.y": 2})) == ["stage.99.y", "stage.100.x"]


def test_identical_pipelines_have_no_divergence() -> None:
    result = compare_stages(pipeline(), pipeline(), CONFIG, None)
    assert result.first_divergence is None and result.summary.startswith("all 11 stages within tolerance")


def test_first_divergence_is_the_earliest_stage_out_of_tolerance() -> None:
    actual = pipeline()
    for key in ("stage.06.step1.velocity", "stage.09.step3.action_in"):
        actual[key] = actual[key] + np.float32(0.01)
    actual["stage.02.state_features"] = actual["stage.02.state_features"] + np.float32(1e-4)  # within atol
    result = compare_stages(pipeline(), actual, CONFIG, None)
    assert result.first_divergence == "stage.06.step1.velocity"  # the key is stored; the label is for display
    assert result.first_divergence_label == "step 1 velocity"
    assert result.summary.startswith("first divergence: step 1 velocity (stage.06.step1.velocity), max|diff| 1.00e-02")
    assert "; all 6 earlier" in result.summary
    assert "within 1.00e-04" in result.summary


def test_token_stages_ignore_padded_positions() -> None:
    valid = np.ones((2, 5), dtype=bool)
    valid[0, :2] = False  # left padding of sample 0
    actual = pipeline()
    actual["stage.00.backbone_features"] = actual["stage.00.backbone_features"].copy()
    actual["stage.00.backbone_features"][0, :2] += 5.0  # garbage where the mask says "padding"
    assert compare_stages(pipeline(), actual, CONFIG, valid).first_divergence is None
    assert compare_stages(pipeline(), actual, CONFIG, None).first_divergence == "stage.00.backbone_features"


def test_missing_stages_are_listed_not_compared() -> None:
    actual = pipeline()
    del actual["stage.10.step3.velocity"]
    result = compare_stages(pipeline(), actual, CONFIG, None)
    assert result.report.only_expected == ["stage.10.step3.velocity"] and result.first_divergence is None
