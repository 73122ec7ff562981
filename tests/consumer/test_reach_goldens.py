"""Each path issue 27 names has a golden made by the real original, and LeRobot's real behaviour on it is what
the harness declares: B = 1 fed as a robot's single observation, cameras stored out of modality order, video
history shorter and longer than the horizon (the original's policy refuses, recorded), a checkpoint with its
own image geometry, and one without any optional processor key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comparison.results import Case, CheckResult
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def run(path: Path, check: str, tmp_path: Path) -> CheckResult:
    settings = settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path / "reports")})
    return ParitySession(settings).run(Case(path, path.parent.name, path.stem), check)


def failing(result: CheckResult) -> set[str]:
    return {t.name for t in result.report.tensors if not t.passed} if result.report else set()


def modality_cameras(ckpt: str, tag: str) -> list[str]:
    config = json.loads((FIXTURES / ckpt / "processor_config.json").read_text())
    return config["processor_kwargs"]["modality_configs"][tag]["video"]["modality_keys"]


@pytest.mark.parametrize(
    "path", [FIXTURES / "golden/b1-256x256/original_n1_7_libero_sim.npz"], ids=lambda p: p.parent.name
)
def test_batch_of_one_goes_in_as_a_single_robot_observation_and_matches(path: Path, tmp_path: Path) -> None:
    assert len(read_artifact(path).raw.language) == 1
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "pass", result.message
    assert any("prepare_observation_for_inference" in note for note in result.report.notes)
    assert run(path, "model", tmp_path).status == "pass"


def test_batch_of_one_with_video_history_stays_batched(tmp_path: Path) -> None:
    path = FIXTURES / "golden-alt/b1-256x256/original_n1_7_simpler_env_widowx.npz"
    result = run(path, "preprocessor", tmp_path)
    assert sorted(result.divergences) == ["image-geometry", "state-history"]
    assert not any("prepare_observation_for_inference" in note for note in result.report.notes)
    assert run(path, "model", tmp_path).status == "pass"


def test_cameras_stored_out_of_modality_order_are_fed_in_stored_order_and_match(tmp_path: Path) -> None:
    path = FIXTURES / "golden/cameras-reversed-256x256/original_n1_7_libero_sim.npz"
    artifact = read_artifact(path)
    assert list(artifact.raw.video) == list(reversed(modality_cameras("tiny-groot-n1.7", "libero_sim")))
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "pass", result.message


@pytest.mark.parametrize("steps", [1, 3])
def test_video_history_off_the_horizon_is_the_declared_divergence_and_the_policy_refusal_is_recorded(
    steps: int, tmp_path: Path
) -> None:
    path = FIXTURES / f"golden-alt/history{steps}-256x256/original_n1_7_simpler_env_widowx.npz"
    artifact = read_artifact(path)
    assert {v.shape[1] for v in artifact.raw.video.values()} == {steps}  # the horizon is 2
    policy = artifact.provenance["original_policy"]
    assert policy["outcome"] == "refused"
    assert f"horizon must be 2. Got {steps}" in policy["error"]
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "xfail"
    assert sorted(result.divergences) == ["image-geometry", "state-history", "video-horizon"]
    assert {"input_ids", "attention_mask", "image_grid_thw"} <= failing(result)
    assert run(path, "model", tmp_path).status == "pass"  # the original's inputs with that many frames
    policy = run(path, "policy", tmp_path)  # the producer recorded the original policy's refusal
    assert policy.status == "xfail" and policy.divergences == ["video-horizon-policy"], policy.message


def test_own_image_geometry_matches(tmp_path: Path) -> None:
    kwargs = json.loads((FIXTURES / "tiny-groot-n1.7-sized/processor_config.json").read_text())["processor_kwargs"]
    assert (kwargs["image_target_size"], kwargs["image_crop_size"]) == ([224, 224], [196, 196])
    path = FIXTURES / "golden-variants/sized-256x256/original_n1_7_libero_sim.npz"
    for check in ("preprocessor", "model"):
        result = run(path, check, tmp_path)
        assert result.status == "pass", result.message


def test_no_optional_processor_key_differs_only_in_the_declared_image_transform(tmp_path: Path) -> None:
    from fixtures.checkpoint_spec import REQUIRED_PROCESSOR_KEYS

    kwargs = json.loads((FIXTURES / "tiny-groot-n1.7-minimal/processor_config.json").read_text())["processor_kwargs"]
    assert set(kwargs) == set(REQUIRED_PROCESSOR_KEYS)
    path = FIXTURES / "golden-variants/minimal-256x256/original_n1_7_libero_sim.npz"
    result = run(path, "preprocessor", tmp_path)
    assert result.status == "xfail" and result.divergences == ["torchvision-transforms"]
    assert failing(result) == {"pixel_values"}
    assert run(path, "model", tmp_path).status == "pass"
