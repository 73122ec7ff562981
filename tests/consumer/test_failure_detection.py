"""The parity checks must FAIL, with a message naming what differs, on edited copies of a golden fixture.

Real LeRobot, real checks: each test copies the committed fixture, edits one thing, and replays it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from consumer.checks import Case, ParitySession
from parity_format.artifact import Artifact, read_artifact, write_artifact

REPO = Path(__file__).resolve().parents[2]
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"


def edited(src: Path, dst_dir: Path, edit) -> Case:
    artifact = read_artifact(src)
    edit(artifact)
    path = write_artifact(artifact, dst_dir / src.name)
    return Case(path, dst_dir.name, artifact.embodiment_tag)


def perturb_action(a: Artifact) -> None:
    a.action_pred = a.action_pred.copy()
    a.action_pred[1, 3, 2] += 1e-2


def change_seed(a: Artifact) -> None:
    a.seed = a.seed + 1


def alter_state(a: Artifact) -> None:
    a.inputs["inputs.state"] = a.inputs["inputs.state"] + np.float32(0.25)


def shorter_horizon(a: Artifact) -> None:
    a.action_pred = np.ascontiguousarray(a.action_pred[:, :-1, :])


def test_unedited_copy_passes(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    case = edited(golden_square, tmp_path / "copy", lambda a: None)
    assert session.run(case, "model").status == "pass"
    assert session.run(case, "preprocessor").status == "pass"


def test_action_pred_perturbed_by_1e_2_fails_at_that_step_and_dim(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    result = session.run(edited(golden_square, tmp_path / "perturbed", perturb_action), "model")
    assert result.status == "fail" and "action_pred" in result.message
    (tensor,) = result.report.tensors
    assert tensor.max_abs_index == (1, 3, 2) and (tensor.worst_action_step, tensor.worst_action_dim) == (3, 2)
    assert tensor.max_abs_diff == pytest.approx(1e-2, rel=1e-3)
    assert "worst action step 3, dim 2" in result.report.format_table()


def test_changed_seed_fails(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    result = session.run(edited(golden_square, tmp_path / "seed", change_seed), "model")
    assert result.status == "fail"
    assert result.report.tensors[0].mismatch_fraction > 0.5  # different noise: nearly everything moves


def test_altered_collated_tensor_fails_both_checks(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    case = edited(golden_square, tmp_path / "state", alter_state)
    model = session.run(case, "model")
    pre = session.run(case, "preprocessor")
    assert model.status == "fail" and "action_pred" in model.message
    assert pre.status == "fail" and pre.message == "out of tolerance: state"


def test_shape_mismatch_fails_without_truncating(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    result = session.run(edited(golden_square, tmp_path / "shape", shorter_horizon), "model")
    assert result.status == "fail"
    (tensor,) = result.report.tensors
    assert tensor.expected_shape == (2, 15, 16) and tensor.actual_shape == (2, 16, 16)
    assert tensor.max_abs_diff is None  # nothing compared element-wise
    assert "shape" in " ".join(tensor.notes)


def test_corrupt_artifact_fails_its_own_case_only(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    bad = tmp_path / "corrupt" / golden_square.name
    bad.parent.mkdir()
    bad.write_bytes(golden_square.read_bytes()[: golden_square.stat().st_size // 2])
    result = session.run(Case(bad, "corrupt", "libero_sim"), "model")
    assert result.status == "fail" and "unreadable artifact" in result.message and str(bad) in result.message


def test_legacy_lerobot_layout_is_consumed(golden_square: Path, tmp_path: Path) -> None:
    """A file written the way LeRobot's own producer script writes it (object meta arrays, no raw)."""
    from consumer.settings import settings_from_env

    a = read_artifact(golden_square)
    legacy = tmp_path / "legacy" / golden_square.name
    legacy.parent.mkdir()
    meta = {f"in::{k}": a.input_torch_dtypes[k] for k in a.inputs}
    np.savez(
        legacy,
        action_pred=a.action_pred,
        seed=np.array(a.seed),
        device=np.array("cpu"),
        embodiment_tag=np.array(a.embodiment_tag),
        meta_keys=np.array(list(meta), dtype=object),
        meta_dtypes=np.array(list(meta.values()), dtype=object),
        **{f"in::{k}": v for k, v in a.inputs.items()},
    )
    session = ParitySession(
        settings_from_env({"GROOT_N1_7_LIBERO_CKPT": str(TINY_CKPT), "GROOT_PARITY_REPORT_DIR": str(tmp_path / "r")})
    )
    case = Case(legacy, "legacy", "libero_sim")
    assert session.run(case, "model").status == "pass"
    pre = session.run(case, "preprocessor")
    assert pre.status == "skip" and "legacy" in pre.message and "make produce" in pre.message


def test_the_pytest_suite_itself_fails_on_edited_copies(golden_square: Path, tmp_path: Path) -> None:
    """End to end through `consumer/test_parity.py`, as `make consume` runs it."""
    for name, edit in [("perturbed", perturb_action), ("seed", change_seed), ("shape", shorter_horizon)]:
        edited(golden_square, tmp_path / "dir" / name, edit)
    env = {
        "GROOT_N1_7_PARITY_DIR": str(tmp_path / "dir"),
        "GROOT_PARITY_REPORT_DIR": str(tmp_path / "r"),
        "HF_HUB_OFFLINE": "1",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "consumer/test_parity.py",
            "-k",
            "model",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    for name in ("perturbed", "seed", "shape"):
        assert f"test_parity[{name}-libero_sim-model]" in proc.stdout
    assert "3 failed" in proc.stdout
    assert len(list((tmp_path / "r").glob("parity-*.json"))) == 1


def test_missing_checkpoint_skips_with_what_to_set(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    def elsewhere(a: Artifact) -> None:
        a.provenance["checkpoint"] = {"spec": str(tmp_path / "gone"), "path": str(tmp_path / "gone2")}

    result = session.run(edited(golden_square, tmp_path / "nockpt", elsewhere), "model")
    assert result.status == "skip" and "GROOT_N1_7_LIBERO_CKPT" in result.message and "gone" in result.message
