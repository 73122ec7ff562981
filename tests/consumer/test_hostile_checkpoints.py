"""Replay checkpoints LeRobot cannot load, and optional producer stages that failed (issue 25).

Edited copies of the tiny fixture, one field at a time, replayed with real LeRobot: the failure leads with
what the harness knows (the changed field, the missing backbone folder), then LeRobot's own error, in one line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from comparison.results import Case
from comparison.status import Status
from consumer.session import ParitySession
from parity_format.artifact import read_artifact, write_artifact
from parity_format.stage_failures import LIBERO_ENV_CONVERSION, STAGE_FAILURES

TINY_CKPT = Path(__file__).resolve().parents[2] / "fixtures" / "tiny-groot-n1.7"


def _config(**fields: object) -> Callable[[Path], None]:
    def edit(ckpt: Path) -> None:
        config = json.loads((ckpt / "config.json").read_text())
        config.update(fields)
        (ckpt / "config.json").write_text(json.dumps(config))

    return edit


def _replay_with(golden: Path, tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    """The golden artifact pointing at an edited copy of the checkpoint that produced it."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(TINY_CKPT, ckpt)
    edit(ckpt)
    artifact = read_artifact(golden)
    artifact.provenance["checkpoint"] = {**artifact.provenance["checkpoint"], "spec": str(ckpt), "path": str(ckpt)}
    return write_artifact(artifact, tmp_path / "arts" / golden.name)


@pytest.mark.parametrize(
    ("edit", "check", "cause", "lerobot_error"),
    [
        (_config(action_horizon="16"), "model", "config fields differ: config.json:action_horizon", "TypeError"),
        (_config(max_state_dim=8), "model", "config fields differ: config.json:max_state_dim", "RuntimeError"),
        (
            lambda ckpt: shutil.rmtree(ckpt / "nvidia"),
            "preprocessor",
            "the backbone 'nvidia/Cosmos-Reason2-tiny' named in",
            "huggingface.co",
        ),
    ],
    ids=["horizon-as-text", "state-dim-changed", "backbone-folder-missing"],
)
def test_a_checkpoint_lerobot_cannot_load_names_the_changed_field_first(
    golden_square: Path,
    tmp_path: Path,
    session: ParitySession,
    edit: Callable[[Path], None],
    check: str,
    cause: str,
    lerobot_error: str,
) -> None:
    path = _replay_with(golden_square, tmp_path, edit)
    result = session.run(Case(path, "edited", "libero_sim"), check)
    assert result.status == Status.FAIL and "\n" not in result.message, result.message
    assert cause in result.message and lerobot_error in result.message, result.message
    assert result.message.index(cause) < result.message.index(lerobot_error)  # the harness speaks first


def test_a_recorded_producer_stage_failure_fails_decode_instead_of_skipping(
    golden_square: Path, tmp_path: Path, session: ParitySession
) -> None:
    artifact = read_artifact(golden_square)
    artifact.outputs = {k: v for k, v in artifact.outputs.items() if ".env." not in k}
    error = "gr00t.eval.sim.LIBERO.libero_env.LiberoEnv.step on action keys ['eef', 'gripper']: KeyError: 'action.x'"
    artifact.provenance[STAGE_FAILURES] = {LIBERO_ENV_CONVERSION: error}
    path = write_artifact(artifact, tmp_path / "recorded" / golden_square.name)
    result = session.run(Case(path, "recorded", "libero_sim"), "decode")
    assert result.status == Status.FAIL, result.message
    assert f"recorded producer failure: {error}" in result.message
    del artifact.provenance[STAGE_FAILURES]  # an older file without the members and without a record: a skip
    path = write_artifact(artifact, tmp_path / "older" / golden_square.name)
    assert session.run(Case(path, "older", "libero_sim"), "decode").status == Status.SKIP
