"""The real producer on the tiny checkpoint: runs only where the original gr00t is importable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from parity_format.artifact import read_artifact
from producer.cli import main
from producer.original import PINNED_GR00T_COMMIT

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


def test_same_seed_gives_identical_artifact_content(tiny_ckpt: Path, tmp_path: Path) -> None:
    args = ["--ckpt", str(tiny_ckpt), "--device", "cpu", "--tags", "new_embodiment", "--image-size", "32x32"]
    assert main([*args, "--out-dir", str(tmp_path / "a")]) == 0
    assert main([*args, "--out-dir", str(tmp_path / "b")]) == 0
    a = read_artifact(tmp_path / "a" / "32x32" / "original_n1_7_new_embodiment.npz")
    b = read_artifact(tmp_path / "b" / "32x32" / "original_n1_7_new_embodiment.npz")
    assert np.array_equal(a.action_pred, b.action_pred)
    assert all(np.array_equal(a.inputs[k], b.inputs[k]) for k in a.inputs)
