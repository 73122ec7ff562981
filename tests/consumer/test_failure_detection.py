"""The parity checks must FAIL, with a message naming what differs, on edited copies of a golden fixture.

Real LeRobot, real checks: each test copies the committed fixture, edits one thing, and replays it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case
from comparison.status import Status
from consumer.noise import FROM_STAGE, INJECTED
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact, read_artifact, write_artifact
from torch_hooks.noise_draw import NOISE_MEMBER

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


def noise_key(a: Artifact) -> str:
    """The member holding the recorded noise: out::initial_noise, else (older files) the step-0 action input."""
    if NOISE_MEMBER in a.outputs:
        return NOISE_MEMBER
    (key,) = [k for k in a.outputs if k.endswith(".step0.action_in")]
    return key


def shift_noise(a: Artifact) -> None:
    key = noise_key(a)
    a.outputs[key] = a.outputs[key] + np.float32(0.1)


def drop_noise(a: Artifact) -> None:
    """What an artifact without recorded noise looks like: no noise member, no stages."""
    a.outputs = {k: v for k, v in a.outputs.items() if k != NOISE_MEMBER and not k.startswith("stage.")}


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


def test_changed_seed_still_passes_with_recorded_noise(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    result = session.run(edited(golden_square, tmp_path / "seed", change_seed), "model")
    assert result.status == "pass", result.message
    assert result.noise_source in (INJECTED, FROM_STAGE)
    assert any(f"noise: {result.noise_source}" in note for note in result.report.notes)
    assert result.to_dict()["noise_source"] == result.noise_source


def test_recorded_noise_shifted_by_0_1_fails_and_names_the_first_divergence(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    artifact = read_artifact(golden_square)
    result = session.run(edited(golden_square, tmp_path / "noise", shift_noise), "model")
    assert result.status == "fail" and "first divergence" in result.message
    # with out::initial_noise the expected step-0 input is untouched: LeRobot's differs by exactly 0.1.
    # Older files: the shifted stage IS the noise, so step 0 matches and the first step that uses it departs.
    expected = "stage.step0.action_in" if NOISE_MEMBER in artifact.outputs else "stage.step0.velocity"
    assert result.stages.first_divergence == expected, result.stages.summary


def test_without_recorded_noise_the_recorded_seed_is_still_needed(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    same = session.run(edited(golden_square, tmp_path / "noiseless", drop_noise), "model")
    assert same.status == "pass" and same.noise_source == "seed 42 (no recorded noise)"
    other = session.run(
        edited(golden_square, tmp_path / "noiseless-seed", lambda a: (drop_noise(a), change_seed(a))), "model"
    )
    assert other.status == "fail" and other.noise_source == "seed 43 (no recorded noise)"
    assert other.report.tensors[0].mismatch_fraction > 0.5  # a different sample: nearly everything moves


def test_injection_guard_fails_when_no_draw_of_the_noise_shape_happens(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    def wrong_shape(a: Artifact) -> None:
        key = noise_key(a)
        a.outputs[key] = np.ascontiguousarray(a.outputs[key][:, :-1])  # one step short of what LeRobot draws

    batch, horizon, dim = read_artifact(golden_square).action_pred.shape
    result = session.run(edited(golden_square, tmp_path / "guard", wrong_shape), "model")
    assert result.status == "fail" and result.report is None  # nothing compared
    short = f"({batch}, {horizon - 1}, {dim})"
    assert result.message.startswith(f"noise guard: expected exactly one torch.randn draw of shape {short}")
    assert "saw 0" in result.message and f"({batch}, {horizon}, {dim})" in result.message


def test_cuda_artifact_with_recorded_noise_replays_on_cpu(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    def on_cuda(a: Artifact) -> None:
        a.provenance["device"] = "cuda:0"

    with_noise = session.run(edited(golden_square, tmp_path / "cuda", on_cuda), "model")
    assert with_noise.status == "pass", with_noise.message
    if not __import__("torch").cuda.is_available():  # the device rule applies to noiseless artifacts only
        without = session.run(
            edited(golden_square, tmp_path / "cuda-noiseless", lambda a: (on_cuda(a), drop_noise(a))), "model"
        )
        assert without.status == "fail" and "artifact produced on cuda, replayed on cpu" in without.message


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
    """A file written the way LeRobot's own producer script writes it (object meta arrays, no raw, no noise):
    it replays its recorded seed, and only that seed."""
    from consumer.settings import settings_from_env

    a = read_artifact(golden_square)

    def write_legacy(folder: str, seed: int) -> Case:
        legacy = tmp_path / folder / golden_square.name
        legacy.parent.mkdir()
        meta = {f"in::{k}": a.input_torch_dtypes[k] for k in a.inputs}
        np.savez(
            legacy,
            action_pred=a.action_pred,
            seed=np.array(seed),
            device=np.array("cpu"),
            embodiment_tag=np.array(a.embodiment_tag),
            meta_keys=np.array(list(meta), dtype=object),
            meta_dtypes=np.array(list(meta.values()), dtype=object),
            **{f"in::{k}": v for k, v in a.inputs.items()},
        )
        return Case(legacy, folder, "libero_sim")

    session = ParitySession(
        settings_from_env({"GROOT_N1_7_LIBERO_CKPT": str(TINY_CKPT), "GROOT_PARITY_REPORT_DIR": str(tmp_path / "r")})
    )
    case = write_legacy("legacy", a.seed)
    model = session.run(case, "model")
    assert model.status == "pass" and model.noise_source == f"seed {a.seed} (no recorded noise)"
    pre = session.run(case, "preprocessor")
    assert pre.status == "skip" and "legacy" in pre.message and "make produce" in pre.message
    other_seed = session.run(write_legacy("legacy-seed", a.seed + 1), "model")
    assert other_seed.status == "fail" and "action_pred" in other_seed.message


def test_the_pytest_suite_itself_fails_on_edited_copies(golden_square: Path, tmp_path: Path) -> None:
    """End to end through `consumer/test_parity.py`, as `make consume` runs it."""
    for name, edit in [("perturbed", perturb_action), ("noise", shift_noise), ("shape", shorter_horizon)]:
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
    for name in ("perturbed", "noise", "shape"):
        assert f"test_parity[{name}-libero_sim-model]" in proc.stdout
    assert "3 failed" in proc.stdout
    assert len(list((tmp_path / "r").glob("parity-*.json"))) == 1


def test_missing_checkpoint_skips_with_what_to_set(golden_square: Path, tmp_path: Path, session: ParitySession) -> None:
    def elsewhere(a: Artifact) -> None:
        a.provenance["checkpoint"] = {"spec": str(tmp_path / "gone"), "path": str(tmp_path / "gone2")}

    result = session.run(edited(golden_square, tmp_path / "nockpt", elsewhere), "model")
    assert result.status == "skip" and "GROOT_N1_7_LIBERO_CKPT" in result.message and "gone" in result.message


# -- honest verdicts (issue 10) --------------------------------------------------------------------
def test_decoder_weight_scaled_by_0_8_fails_at_the_first_velocity(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every velocity is then exactly 20% off: the scale criterion names the first velocity stage."""
    from safetensors.numpy import load_file, save_file

    ckpt = tmp_path / "scaled-ckpt"
    shutil.copytree(TINY_CKPT, ckpt)
    weights = load_file(ckpt / "model.safetensors")
    for name in ("action_head.action_decoder.layer2.W", "action_head.action_decoder.layer2.b"):
        weights[name] = weights[name] * np.float32(0.8)
    save_file(weights, ckpt / "model.safetensors")
    monkeypatch.setenv("GROOT_PARITY_CHECKPOINT_MISMATCH", "warn")  # the replay on purpose (where supported)
    settings = settings_from_env({"GROOT_N1_7_LIBERO_CKPT": str(ckpt), "GROOT_PARITY_REPORT_DIR": str(tmp_path / "r")})
    result = ParitySession(settings).run(Case(golden_square, "golden", "libero_sim"), "model")
    assert result.status == Status.FAIL and result.stages is not None
    assert result.stages.first_divergence == "stage.step0.velocity"
    first = next(t for t in result.stages.report.tensors if t.name == "stage.step0.velocity")
    assert first.scale_failed and first.scale_error == pytest.approx(0.2, rel=1e-3)
    assert all(t.passed for t in result.stages.report.tensors[: result.stages.report.tensors.index(first)])
    assert "first divergence: step 0 velocity (stage.step0.velocity)" in result.message


def test_recorded_velocities_scaled_by_0_8_fail_even_when_action_pred_passes(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    def scale_velocities(a: Artifact) -> None:
        for key in [k for k in a.outputs if k.endswith(".velocity")]:
            a.outputs[key] = a.outputs[key] * np.float32(0.8)

    result = session.run(edited(golden_square, tmp_path / "velocity", scale_velocities), "model")
    assert result.status == Status.FAIL and result.report.tensors[0].passed  # action_pred itself is identical
    assert result.stages.first_divergence == "stage.step0.velocity"
    assert result.message.startswith("action_pred within tolerance, but stage stage.step0.velocity is not")
    assert result.report.format_table().splitlines()[0].startswith(f"{result.report.title}: FAIL (")
    assert result.to_dict()["report"]["passed"] is False


def nan_expected(a: Artifact) -> None:
    a.action_pred = a.action_pred.copy()
    a.action_pred[0, 2, 1] = np.nan


def nan_actual(a: Artifact) -> None:
    a.inputs["inputs.state"] = np.full_like(a.inputs["inputs.state"], np.nan)  # LeRobot then predicts NaN


def nan_both(a: Artifact) -> None:
    nan_actual(a)
    a.action_pred = np.full_like(a.action_pred, np.nan)


def inf_expected(a: Artifact) -> None:
    a.action_pred = a.action_pred.copy()
    a.action_pred[1, 0, 0] = np.inf


@pytest.mark.parametrize("edit", [nan_expected, nan_actual, nan_both, inf_expected], ids=lambda f: f.__name__)
def test_nan_and_inf_fail_and_the_json_report_stays_valid(
    golden_square: Path, tmp_path: Path, session: ParitySession, edit
) -> None:
    from consumer.reports import markdown as report
    from consumer.reports.json_report import write_json_report

    result = session.run(edited(golden_square, tmp_path / edit.__name__, edit), "model")
    assert result.status == Status.FAIL and "action_pred" in result.message
    tensor = result.report.tensors[0]
    assert tensor.max_abs_diff == float("inf") and any("non-finite values" in n for n in tensor.notes)
    path = write_json_report([result], tmp_path / "reports", session.settings)
    data = json.loads(path.read_text(), parse_constant=pytest.fail)  # strict JSON: no NaN/Infinity tokens
    assert data["results"][0]["status"] == "fail"
    assert report.load_results(path).results[0].report.tensors[0].max_abs_diff == float("inf")


def test_tolerance_override_typo_is_reported_and_an_error_in_ci(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from consumer import cli

    edited(golden_square, tmp_path / "one", lambda a: None)
    monkeypatch.setenv("GROOT_PARITY_TOL", "actoin_pred=0:0")
    monkeypatch.setenv("GROOT_PARITY_REPORT_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("CI", "")
    argv = ["--dir", str(tmp_path / "one"), "--check", "model"]
    assert cli.main(argv) == 0
    assert (
        "warning: GROOT_PARITY_TOL entries matched no tensor of this run (typo?): actoin_pred"
        in capsys.readouterr().out
    )
    monkeypatch.setenv("CI", "true")
    assert cli.main(argv) == 1
    assert "error (CI is set): GROOT_PARITY_TOL entries matched no tensor" in capsys.readouterr().out
    reports = sorted((tmp_path / "r").glob("parity-*.json"))
    assert json.loads(reports[-1].read_text())["unmatched_tolerance_overrides"] == ["actoin_pred"]
