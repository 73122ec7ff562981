"""The real producer on the tiny checkpoint: runs only where the original gr00t is importable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from parity_format.artifact import read_artifact
from parity_format.user_path_members import PRECISIONS
from producer.cli import main
from producer.original import PINNED_GR00T_COMMIT
from sources.checkpoint import content_fingerprint
from torch_hooks.noise_draw import NOISE_MEMBER

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gr00t") is None,
    reason="gr00t (the original) is not installed in the producer env: run "
    "`make gr00t GR00T_SRC=<Isaac-GR00T checkout at 626af89>` to enable the end-to-end producer test",
)


def test_produce_writes_one_valid_artifact_per_tag_and_size(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--ckpt",
            str(tiny_ckpt),
            "--out-dir",
            str(tmp_path),
            "--device",
            "cpu",
            "--tags",
            "libero_sim,new_embodiment",
            "--image-size",
            "64x64",
            "48x80",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 written, 0 failed" in out
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.npz"))
    assert files == [
        "48x80/original_n1_7_libero_sim.npz",
        "48x80/original_n1_7_new_embodiment.npz",
        "64x64/original_n1_7_libero_sim.npz",
        "64x64/original_n1_7_new_embodiment.npz",
    ]
    artifact = read_artifact(tmp_path / "48x80" / "original_n1_7_libero_sim.npz")
    assert artifact.embodiment_tag == "libero_sim" and artifact.seed == 42 and not artifact.legacy
    assert artifact.action_pred.shape == (2, 16, 16) and np.isfinite(artifact.action_pred).all()
    assert artifact.raw is not None and artifact.raw.video["image"].shape == (2, 1, 48, 80, 3)
    assert artifact.inputs["inputs.embodiment_id"].tolist() == [2, 2]
    assert {"backbone_features", "state_features"} <= set(artifact.outputs)
    prov = artifact.provenance
    assert prov["dtype"] == "float32" and prov["attention"] == "sdpa" and prov["device"] == "cpu"
    assert prov["versions"]["transformers"] == "4.57.3"
    assert prov["gr00t"]["commit"] == PINNED_GR00T_COMMIT, "install gr00t with `make gr00t GR00T_SRC=...`"
    assert len(prov["checkpoint"]["fingerprint"]) == 64
    assert prov["checkpoint"]["content_fingerprint"]["digest"] == content_fingerprint(tiny_ckpt)["digest"]
    assert prov["cuda"] is None  # CPU run: no CUDA determinism record
    noise = artifact.outputs[NOISE_MEMBER]  # the exact draw: the step-0 action input the stages recorded
    assert noise.dtype == np.float32 and noise.shape == (2, 16, 16)
    assert np.array_equal(noise, artifact.outputs["stage.step0.action_in"])
    user = prov["user_path"]  # the original's Gr00tPolicy from the same noise, and the float64 reference
    assert user["policy"] == "gr00t.policy.gr00t_policy.Gr00tPolicy" and user["fp64_reference"]["recorded"]
    for key in ("x", "gripper"):
        shipped, full, exact = (artifact.outputs[f"userpath.{p}.env.action.{key}"] for p in PRECISIONS)
        assert shipped.shape == full.shape == exact.shape == (2, 16, 1) and exact.dtype == np.float64
        assert np.abs(full - exact).max() < 1e-4  # fp32 is ~1e-7 from the reference; bf16 much further
    full, exact = artifact.outputs["userpath.float32.action.x"], artifact.outputs["userpath.float64.action.x"]
    assert np.array_equal(full, artifact.outputs["decode.action.x"])  # the policy in fp32 = the harness decode
    assert np.sqrt(np.mean((artifact.outputs["userpath.bfloat16.action.x"] - exact) ** 2)) > 1e-4  # bf16: far


def test_same_seed_gives_identical_artifact_content(tiny_ckpt: Path, tmp_path: Path) -> None:
    args = ["--ckpt", str(tiny_ckpt), "--device", "cpu", "--tags", "new_embodiment", "--image-size", "32x32"]
    assert main([*args, "--out-dir", str(tmp_path / "a")]) == 0
    assert main([*args, "--out-dir", str(tmp_path / "b")]) == 0
    a = read_artifact(tmp_path / "a" / "32x32" / "original_n1_7_new_embodiment.npz")
    b = read_artifact(tmp_path / "b" / "32x32" / "original_n1_7_new_embodiment.npz")
    assert np.array_equal(a.action_pred, b.action_pred)
    assert all(np.array_equal(a.inputs[k], b.inputs[k]) for k in a.inputs)


def test_history_tag_records_two_state_steps_mixed_cameras_and_the_original_id_table(
    tiny_ckpt: Path, tmp_path: Path
) -> None:
    """The alt fixture's history tag: state and video with delta_indices [-1, 0], cameras of two sizes."""
    alt = tiny_ckpt.parent / "tiny-groot-n1.7-alt"
    args = ["--ckpt", str(alt), "--device", "cpu", "--tags", "simpler_env_widowx", "--image-size", "48x64+32x32"]
    assert main([*args, "--out-dir", str(tmp_path)]) == 0
    artifact = read_artifact(tmp_path / "48x64+32x32" / "original_n1_7_simpler_env_widowx.npz")
    assert {k: v.shape for k, v in artifact.raw.state.items()} == {"eef": (2, 2, 7), "gripper": (2, 2, 1)}
    assert artifact.raw.video["image"].shape == (2, 2, 48, 64, 3) and artifact.raw.video["side"].shape[2:4] == (32, 32)
    assert artifact.inputs["inputs.state"].shape == (2, 2, 16)  # the full history, normalized
    assert artifact.inputs["inputs.image_grid_thw"].shape == (2 * 2 * 2, 3)  # B x T x cameras images
    table = artifact.provenance["embodiment_ids"]
    assert {"unitree_g1_sonic": 11, "robocasa_panda_omron": 10, "robocasa_gr1_tabletop": 10}.items() <= table[
        "fallback"
    ].items()
    assert set(table["tags"]) >= {"libero_sim", "new_embodiment", "simpler_env_widowx"}
