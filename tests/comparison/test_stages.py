"""First-divergence logic of the stage comparison (numpy only; both environments)."""

from __future__ import annotations

import numpy as np

from comparison.stage_comparison import compare_stages
from comparison.tolerance import Tolerance, ToleranceConfig
from parity_format.stage_keys import stage_key

CONFIG = ToleranceConfig(Tolerance(1e-3, 0.0))


def pipeline(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {
        stage_key("backbone_features"): rng.normal(size=(2, 5, 4)).astype(np.float32),
        stage_key("vl_embeds"): rng.normal(size=(2, 5, 4)).astype(np.float32),
        stage_key("state_features"): rng.normal(size=(2, 1, 3)).astype(np.float32),
    }
    for step in range(4):
        out[stage_key("action_in", step)] = rng.normal(size=(2, 6, 2)).astype(np.float32)
        out[stage_key("velocity", step)] = rng.normal(size=(2, 6, 2)).astype(np.float32)
    return out


def legacy(stages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same stages under the numbered keys artifacts written before stage identity used."""
    return {f"stage.{i:02d}.{k[len('stage.') :]}": v for i, (k, v) in enumerate(stages.items())}


def test_numbered_legacy_keys_compare_as_the_same_stages() -> None:
    assert "stage.04.step0.velocity" in legacy(pipeline())
    result = compare_stages(legacy(pipeline()), pipeline(), CONFIG, None)
    assert result.first_divergence is None and not result.report.only_expected and not result.report.only_actual


def test_a_stage_missing_on_one_side_shifts_no_other_key() -> None:
    actual = pipeline()
    del actual["stage.state_features"]
    actual["stage.step1.velocity"] = actual["stage.step1.velocity"] + np.float32(0.01)
    result = compare_stages(legacy(pipeline()), actual, CONFIG, None)
    assert result.report.only_expected == ["stage.state_features"]
    assert result.first_divergence == "stage.step1.velocity"  # not the stage after the missing one


def test_identical_pipelines_have_no_divergence() -> None:
    result = compare_stages(pipeline(), pipeline(), CONFIG, None)
    assert result.first_divergence is None and result.summary.startswith("all 11 stages within tolerance")


def test_first_divergence_is_the_earliest_stage_out_of_tolerance() -> None:
    actual = pipeline()
    for key in ("stage.step1.velocity", "stage.step3.action_in"):
        actual[key] = actual[key] + np.float32(0.01)
    actual["stage.state_features"] = actual["stage.state_features"] + np.float32(1e-4)  # within atol
    result = compare_stages(pipeline(), actual, CONFIG, None)
    assert result.first_divergence == "stage.step1.velocity"  # the key is stored; the label is for display
    assert result.first_divergence_label == "step 1 velocity"
    assert result.summary.startswith("first divergence: step 1 velocity (stage.step1.velocity), max|diff| 1.00e-02")
    assert "; all 6 earlier" in result.summary
    assert "within 1.00e-04" in result.summary


def test_token_stages_ignore_padded_positions() -> None:
    valid = np.ones((2, 5), dtype=bool)
    valid[0, :2] = False  # left padding of sample 0
    actual = pipeline()
    actual["stage.backbone_features"] = actual["stage.backbone_features"].copy()
    actual["stage.backbone_features"][0, :2] += 5.0  # garbage where the mask says "padding"
    assert compare_stages(pipeline(), actual, CONFIG, valid).first_divergence is None
    assert compare_stages(pipeline(), actual, CONFIG, None).first_divergence == "stage.backbone_features"


def test_missing_stages_are_listed_not_compared() -> None:
    actual = pipeline()
    del actual["stage.step3.velocity"]
    result = compare_stages(pipeline(), actual, CONFIG, None)
    assert result.report.only_expected == ["stage.step3.velocity"] and result.first_divergence is None
