"""The training check on edited copies of fixtures/golden-training, with real LeRobot: each planted fault
fails for its own numeric reason, and each training divergence holds exactly under its condition."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case, CheckResult
from consumer.session import ParitySession
from consumer.settings import ENV_CHECKPOINT_MISMATCH, ENV_CKPT, settings_from_env
from parity_format import training_members as tm
from parity_format.artifact import Artifact, read_artifact, write_artifact

REPO = Path(__file__).resolve().parents[2]
GOLDEN_TRAINING = REPO / "fixtures" / "golden-training" / "256x256"
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"


def golden(tag: str) -> Path:
    path = GOLDEN_TRAINING / f"original_n1_7_{tag}.npz"
    assert path.is_file(), f"golden missing: {path} (regenerate with `make fixtures-training GR00T_SRC=...`)"
    return path


def edited(tag: str, tmp_path: Path, edit: Callable[[Artifact], None]) -> Path:
    artifact = read_artifact(golden(tag))
    edit(artifact)
    return write_artifact(artifact, tmp_path / "256x256" / golden(tag).name)


def checkpoint_copy(dst: Path, name: str, edit: Callable[[dict], None]) -> Path:
    """The tiny checkpoint with one JSON file edited (everything else linked)."""
    dst.mkdir(parents=True)
    for item in TINY_CKPT.iterdir():
        if item.name != name:
            (dst / item.name).symlink_to(item.resolve(), target_is_directory=item.is_dir())
    data = json.loads((TINY_CKPT / name).read_text())
    edit(data)
    (dst / name).write_text(json.dumps(data))
    return dst


def run(path: Path, tmp_path: Path, ckpt: Path | None = None) -> CheckResult:
    env = {"GROOT_PARITY_REPORT_DIR": str(tmp_path / "reports")}
    if ckpt is not None:
        env |= {ENV_CKPT: str(ckpt), ENV_CHECKPOINT_MISMATCH: "warn"}  # a different copy on purpose
    return ParitySession(settings_from_env(env)).run(Case(path, path.parent.name, path.stem), "training")


def passed(result: CheckResult) -> dict[str, bool]:
    assert result.report is not None, result.message
    return {t.name: t.passed for t in result.report.tensors}


def test_golden_matches_but_for_the_declared_bf16_load(tmp_path: Path) -> None:
    result = run(golden("libero_sim"), tmp_path)
    assert result.status == "xfail" and result.divergences == ["training-policy-loads-bf16"], result.message
    failing = [name for name, ok in passed(result).items() if not ok]
    assert failing == ["loaded_weights"]
    assert {"loss", "batch:action:x", "grad_norm:dit", "grad:action_head/action_decoder/layer2/b"} <= set(
        passed(result)
    )
    assert not result.report.problems  # every trainable and weight-decay set agrees


def test_timestep_shifted_by_0_01_fails_the_loss(tmp_path: Path) -> None:
    def shift(artifact: Artifact) -> None:
        artifact.outputs[tm.DRAW_BETA] = artifact.outputs[tm.DRAW_BETA] + np.float32(0.01)

    result = run(edited("libero_sim", tmp_path, shift), tmp_path)
    assert result.status == "fail"
    status = passed(result)
    assert not status["loss"], "a shifted timestep must move the loss out of tolerance"
    assert all(ok for name, ok in status.items() if name.startswith("batch:")), "the batch does not depend on it"
    assert "loss" in result.message


def test_one_relative_key_scale_changed_fails_that_key_only(tmp_path: Path) -> None:
    def rescale(statistics: dict) -> None:
        stats = statistics["unitree_g1_sonic"]["relative_action"]["left_arm"]
        stats["max"] = (np.asarray(stats["max"]) * 2.0).tolist()

    ckpt = checkpoint_copy(tmp_path / "ckpt", "statistics.json", rescale)
    result = run(golden("unitree_g1_sonic"), tmp_path, ckpt)
    assert result.status == "fail"
    failing = {name for name, ok in passed(result).items() if not ok and name.startswith("batch:")}
    assert failing == {"batch:action:left_arm"}
    assert passed(result)["batch:action:right_arm"] and passed(result)["batch:action:left_hand"]


def test_a_name_removed_from_the_recorded_trainable_set_is_named(tmp_path: Path) -> None:
    removed = "action_head.position_embedding.weight"

    def drop(artifact: Artifact) -> None:
        combination = artifact.provenance[tm.MANIFEST_KEY]["combinations"][1]
        combination["trainable"].remove(removed)

    result = run(edited("libero_sim", tmp_path, drop), tmp_path)
    assert result.status == "fail"
    assert result.report is not None and len(result.report.problems) == 1
    problem = result.report.problems[0]
    assert problem.startswith("trainable set differs (tune_llm=False, tune_visual=False")
    assert f"only in LeRobot: ['{removed}']" in problem


def test_a_noise_draw_that_never_happens_trips_the_guard(tmp_path: Path) -> None:
    def narrower(artifact: Artifact) -> None:
        artifact.outputs[tm.DRAW_NOISE] = artifact.outputs[tm.DRAW_NOISE][..., :8].copy()

    result = run(edited("libero_sim", tmp_path, narrower), tmp_path)
    assert result.status == "fail" and result.report is None
    assert "expected exactly one torch.randn draw of shape (2, 16, 8)" in result.message
    assert "saw 0" in result.message


@pytest.mark.parametrize("dtype", ["float32"])
def test_bf16_load_divergence_is_exactly_the_missing_dtype(tmp_path: Path, dtype: str) -> None:
    ckpt = checkpoint_copy(tmp_path / "ckpt", "config.json", lambda config: config.update(dtype=dtype))
    result = run(golden("libero_sim"), tmp_path, ckpt)
    assert result.status == "pass", result.message
    assert passed(result)["loaded_weights"]


def test_embodiment_fallback_in_training_is_exactly_the_missing_tag(tmp_path: Path) -> None:
    declared = run(golden("robocasa_panda_omron"), tmp_path)
    assert declared.status == "xfail"
    assert set(declared.divergences) == {"training-policy-loads-bf16", "training-embodiment-id-fallback"}
    assert not passed(declared)["batch:embodiment_id"]
    ckpt = checkpoint_copy(tmp_path / "ckpt", "embodiment_id.json", lambda ids: ids.update(robocasa_panda_omron=10))
    fixed = run(golden("robocasa_panda_omron"), tmp_path, ckpt)
    assert fixed.divergences == ["training-policy-loads-bf16"], fixed.message
    assert passed(fixed)["batch:embodiment_id"]


def test_relative_eef_tag_is_a_declared_refusal_with_the_step_still_compared(tmp_path: Path) -> None:
    result = run(golden("oxe_droid_relative_eef_relative_joint"), tmp_path)
    assert result.status == "xfail"
    assert result.divergences[0] == "training-relative-eef-refused"
    assert "Unsupported relative N1.7 action config for 'eef_9d'" in result.message
    status = passed(result)
    assert status["loss"] and not any(name.startswith("batch:") for name in status)


def test_trainable_sets_built_on_the_meta_device_are_those_of_a_loaded_policy() -> None:
    from consumer.lerobot_side.training import POLICY_PREFIX, _trainable_and_decay, build_policy

    flags = {"tune_llm": False, "tune_visual": True, "tune_projector": True, "tune_diffusion_model": False,
             "tune_vlln": False, "tune_top_llm_layers": 1}  # fmt: skip
    loaded = build_policy(TINY_CKPT.resolve(), "libero_sim", "cpu", flags)
    names = {id(p): n.removeprefix(POLICY_PREFIX) for n, p in loaded.named_parameters()}
    trainable = tuple(n.removeprefix(POLICY_PREFIX) for n, p in loaded.named_parameters() if p.requires_grad)
    decay = tuple(names[id(p)] for g in loaded.get_optim_params() if "weight_decay" not in g for p in g["params"])
    on_meta = _trainable_and_decay(TINY_CKPT.resolve(), tuple(sorted(flags.items())), "libero_sim")
    assert next(loaded.parameters()).device.type == "cpu"
    assert on_meta == (trainable, decay) and trainable and decay
