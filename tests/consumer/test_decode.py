"""Decode parity on the golden fixtures, and planted faults it must catch (real LeRobot, copies of goldens)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case, CheckResult
from consumer.session import ParitySession, discover
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact, write_artifact
from parity_format.decode_members import decoded

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden"
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"
CASES = discover(GOLDEN)
RELATIVE_TAG, ABSOLUTE_TAG = "unitree_g1_sonic", "new_embodiment"


def golden(tag: str) -> Path:
    path = GOLDEN / "256x256" / f"original_n1_7_{tag}.npz"
    assert path.is_file(), f"golden fixture missing: {path} (regenerate with `make fixtures GR00T_SRC=...`)"
    return path


def edited_checkpoint(tmp_path: Path, edit) -> Path:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(TINY_CKPT, ckpt)
    edit(ckpt)
    return ckpt


def edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


def session_on(ckpt: Path, tmp_path: Path) -> ParitySession:
    env = {"GROOT_N1_7_LIBERO_CKPT": str(ckpt), "GROOT_PARITY_REPORT_DIR": str(tmp_path / "reports")}
    return ParitySession(settings_from_env(env))


def failing(result: CheckResult) -> set[str]:
    assert result.report is not None
    return {t.name for t in result.report.tensors if not t.passed} | set(result.report.only_expected)


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_decode_matches_or_is_declared_on_every_golden(case: Case, session: ParitySession) -> None:
    result = session.run(case, "decode")
    assert result.status in ("pass", "xfail"), f"{result.message}\n{result.report and result.report.format_table()}"
    assert result.report is not None
    chunk = [t for t in result.report.tensors if t.name.endswith(("@chunk", "@probe_chunk"))]
    assert chunk and all(t.passed for t in chunk), result.report.format_table()
    if result.status == "xfail":  # the only declared cause: LeRobot refuses per-step decoding here
        assert result.divergences == ["per-step-decode-refused"]
        assert failing(result) == {"per_step_decode", "per_step_decode@probe"}
        assert any("NotImplementedError" in n for n in result.report.notes)


def test_per_step_path_is_compared_when_the_checkpoint_sets_no_relative_action(
    tmp_path: Path,
) -> None:
    """Absolute decoding does not depend on use_relative_action in the original, so the goldens still apply."""
    ckpt = edited_checkpoint(
        tmp_path,
        lambda c: edit_json(
            c / "processor_config.json", lambda d: d["processor_kwargs"].update(use_relative_action=False)
        ),
    )
    session = session_on(ckpt, tmp_path)
    result = session.run(Case(golden("libero_sim"), "256x256", "libero_sim"), "decode")
    assert result.status == "pass", result.report and result.report.format_table()
    names = {t.name for t in result.report.tensors}
    assert {"action.gripper@step", "action.gripper@probe_step", "action.x@chunk"} <= names
    assert any("LIBERO env conversion" in n for n in result.report.notes)
    # the probe's first step decodes the [0, 1] gripper to exactly 0.5, where the binarization is 0
    env_gripper = read_artifact(golden("libero_sim")).outputs[decoded("gripper", probe=True, env=True)]
    assert np.all(env_gripper[:, 0] == 0)


def test_changed_action_statistics_fail_decode_naming_that_key(tmp_path: Path, session: ParitySession) -> None:
    def widen_joints(stats: dict) -> None:
        stats[ABSOLUTE_TAG]["action"]["joints"]["max"] = [
            v + 0.5 for v in stats[ABSOLUTE_TAG]["action"]["joints"]["max"]
        ]

    ckpt = edited_checkpoint(tmp_path, lambda c: edit_json(c / "statistics.json", widen_joints))
    case = Case(golden(ABSOLUTE_TAG), "256x256", ABSOLUTE_TAG)
    result = session_on(ckpt, tmp_path).run(case, "decode")
    assert result.status == "fail" and "joints" in result.message
    assert {n for n in failing(result) if not n.startswith("per_step_decode")} == {
        "action.joints@chunk",
        "action.joints@probe_chunk",
    }
    # the preprocessor reads state statistics only: action statistics leave its verdict as it was
    edited_session = session_on(ckpt, tmp_path)
    assert edited_session.run(case, "preprocessor").status == session.run(case, "preprocessor").status
    # the model check fails only because the checkpoint identity (its statistics) changed; its numbers are untouched
    model = edited_session.run(case, "model")
    assert model.report is not None and all(t.passed for t in model.report.tensors)
    assert model.stages is not None and model.stages.first_divergence is None
    assert "differs from the one that produced the artifact" in model.message and "statistics" in model.message


def shifted_state(src: Path, dst: Path, keys: list[str] | None = None) -> Case:
    artifact = read_artifact(src)
    assert artifact.raw is not None
    for key in keys or list(artifact.raw.state):
        artifact.raw.state[key] = artifact.raw.state[key] + np.float32(0.5)
    return Case(write_artifact(artifact, dst / src.name), dst.name, artifact.embodiment_tag)


@pytest.mark.parametrize(
    ("tag", "state_key", "action_key"),
    [
        (RELATIVE_TAG, "right_arm_q", "right_arm"),  # joints, named through action_configs state_key
        ("oxe_droid_relative_eef_relative_joint", "eef_9d", "eef_9d"),  # end-effector xyz+rot6d, composed
    ],
)
def test_relative_tag_with_shifted_reference_state_fails_decode(
    tag: str, state_key: str, action_key: str, tmp_path: Path, session: ParitySession
) -> None:
    result = session.run(shifted_state(golden(tag), tmp_path / "rel", [state_key]), "decode")
    assert result.status == "fail" and action_key in result.message
    assert {n for n in failing(result) if not n.startswith("per_step_decode")} == {
        f"action.{action_key}@chunk",
        f"action.{action_key}@probe_chunk",
    }


def test_absolute_tag_with_shifted_state_still_decodes_alike(tmp_path: Path, session: ParitySession) -> None:
    unedited = session.run(Case(golden(ABSOLUTE_TAG), "256x256", ABSOLUTE_TAG), "decode")
    result = session.run(shifted_state(golden(ABSOLUTE_TAG), tmp_path / "abs"), "decode")
    assert result.status == unedited.status and result.status in ("pass", "xfail"), result.message


def test_artifact_without_decode_members_skips_saying_how_to_regenerate(tmp_path: Path, session: ParitySession) -> None:
    artifact = read_artifact(golden(ABSOLUTE_TAG))
    artifact.outputs = {k: v for k, v in artifact.outputs.items() if not k.startswith("decode.")}
    path = write_artifact(artifact, tmp_path / "old" / golden(ABSOLUTE_TAG).name)
    result = session.run(Case(path, "old", ABSOLUTE_TAG), "decode")
    assert (
        result.status == "skip" and "records no decoded actions" in result.message and "make produce" in result.message
    )


def test_checkpoint_without_the_tags_statistics_fails_decode_loudly(tmp_path: Path) -> None:
    """LeRobot once returned normalized actions silently here; a failure must name the cause instead."""
    ckpt = edited_checkpoint(tmp_path, lambda c: edit_json(c / "statistics.json", lambda d: d.pop(ABSOLUTE_TAG)))
    result = session_on(ckpt, tmp_path).run(Case(golden(ABSOLUTE_TAG), "256x256", ABSOLUTE_TAG), "decode")
    assert result.status == "fail" and "statistics" in result.message, result.message
