"""Model parity judges the replay checkpoint by content: a relocated copy passes, a changed tensor is named.

Real LeRobot on copies of the tiny checkpoint; the golden artifact's copy records the content fingerprint
of the committed checkpoint (as the current producer does).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from comparison.results import Case
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact, write_artifact
from sources.checkpoint import content_fingerprint

REPO = Path(__file__).resolve().parents[2]
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"
TENSOR = "action_head.action_decoder.layer1.W"


@pytest.fixture(scope="module")
def case(golden_square: Path, tmp_path_factory: pytest.TempPathFactory) -> Case:
    artifact = read_artifact(golden_square)
    artifact.provenance["checkpoint"] = {
        **artifact.provenance["checkpoint"],
        "content_fingerprint": content_fingerprint(TINY_CKPT),
    }
    path = write_artifact(artifact, tmp_path_factory.mktemp("identity") / golden_square.name)
    return Case(path, "identity", artifact.embodiment_tag)


def session_on(ckpt: Path, tmp_path: Path, **env: str) -> ParitySession:
    return ParitySession(
        settings_from_env({"GROOT_N1_7_LIBERO_CKPT": str(ckpt), "GROOT_PARITY_REPORT_DIR": str(tmp_path), **env})
    )


def test_relocated_copy_with_an_absolute_backbone_path_passes(case: Case, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(TINY_CKPT, tmp_path / "moved" / "ckpt"))
    config = json.loads((copy / "config.json").read_text())
    config["model_name"] = str(copy / config["model_name"])  # what a converted copy typically holds
    (copy / "config.json").write_text(json.dumps(config, indent=2))
    result = session_on(copy, tmp_path / "r").run(case, "model")
    assert result.status == "pass", result.message
    assert not any("differs from the one that produced" in note for note in result.report.notes)


@pytest.fixture(scope="module")
def one_tensor_changed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy whose decoder weight differs by one ulp in one element: the bytes change, the numbers barely."""
    copy = Path(shutil.copytree(TINY_CKPT, tmp_path_factory.mktemp("changed") / "ckpt"))
    raw = bytearray((copy / "model.safetensors").read_bytes())
    size = int.from_bytes(raw[:8], "little")
    begin = 8 + size + json.loads(raw[8 : 8 + size])[TENSOR]["data_offsets"][0]
    first = np.frombuffer(bytes(raw[begin : begin + 4]), np.float32)
    raw[begin : begin + 4] = np.nextafter(first, np.float32(np.inf)).astype(np.float32).tobytes()
    (copy / "model.safetensors").write_bytes(bytes(raw))
    return copy


def test_one_changed_tensor_fails_and_is_named(case: Case, one_tensor_changed: Path, tmp_path: Path) -> None:
    result = session_on(one_tensor_changed, tmp_path).run(case, "model")
    assert result.status == "fail"
    assert f"tensors differ: {TENSOR} (bytes)" in result.message
    assert "GROOT_PARITY_CHECKPOINT_MISMATCH=warn" in result.message


def test_under_warn_the_changed_tensor_is_a_note(case: Case, one_tensor_changed: Path, tmp_path: Path) -> None:
    result = session_on(one_tensor_changed, tmp_path, GROOT_PARITY_CHECKPOINT_MISMATCH="warn").run(case, "model")
    assert result.status == "pass", result.message
    (note,) = [n for n in result.report.notes if "differs from the one that produced" in n]
    assert f"tensors differ: {TENSOR} (bytes)" in note and "noted, not failed" in note


def test_older_whole_file_fingerprint_is_still_compared(golden_square: Path, tmp_path: Path) -> None:
    artifact = read_artifact(golden_square)
    artifact.provenance["checkpoint"] = {
        k: v for k, v in artifact.provenance["checkpoint"].items() if k != "content_fingerprint"
    }
    artifact.provenance["checkpoint"]["fingerprint"] = "0" * 64
    path = write_artifact(artifact, tmp_path / "old" / golden_square.name)
    result = session_on(TINY_CKPT, tmp_path).run(Case(path, "old", artifact.embodiment_tag), "model")
    assert result.status == "fail" and "whole-file fingerprint" in result.message
