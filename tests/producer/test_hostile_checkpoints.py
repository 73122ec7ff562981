"""Malformed checkpoint tables (issue 25): validated when read, the file and key named, one tag failing alone."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from parity_format.artifact import read_artifact
from producer.cli import main
from producer.embodiments import TagSelectionError, select_tags
from sources.checkpoint import CheckpointError
from sources.checkpoint_statistics import read_statistics, tag_statistics

HAS_GR00T = importlib.util.find_spec("gr00t") is not None
GOOD = {"min": [0.0, 1.0], "max": [1.0, 2.0], "mean": [0.5, 1.5]}


@pytest.mark.parametrize(
    ("state", "complaint"),
    [
        ({"x": []}, "t.state.x must be an object of min/max/... lists"),
        ({"x": {"min": [], "max": []}}, "t.state.x.min must be a non-empty list of numbers"),
        ({"x": {**GOOD, "mean": [0.5]}}, "t.state.x: statistics of different widths"),
        ({"x": {**GOOD, "max": [1.0, float("nan")]}}, "t.state.x.max holds a value that is not a finite number"),
        ({"x": {**GOOD, "min": ["0", 1.0]}}, "t.state.x.min holds a value that is not a finite number"),
        ({"x": {"min": [0.0]}}, "t.state.x lacks max"),
        ({"x": {"min": [2.0], "max": [1.0]}}, "t.state.x: min is above max"),
        ([1, 2], "t.state must be an object of key -> statistics, not list"),
    ],
)
def test_malformed_statistics_name_the_file_tag_and_key(tmp_path: Path, state: Any, complaint: str) -> None:
    (tmp_path / "statistics.json").write_text(json.dumps({"t": {"state": state, "action": {}}, "u": {}}))
    statistics = read_statistics(tmp_path)
    with pytest.raises(CheckpointError) as info:
        tag_statistics(statistics, "t", tmp_path / "statistics.json")
    assert str(info.value).startswith(f"{tmp_path / 'statistics.json'}: ") and complaint in str(info.value)
    assert tag_statistics(statistics, "u", tmp_path / "statistics.json") == {"state": {}, "action": {}}


def test_a_tag_that_is_not_an_object_fails_the_file(tmp_path: Path) -> None:
    (tmp_path / "statistics.json").write_text(json.dumps({"t": [], "u": {}}))
    with pytest.raises(CheckpointError, match=r"statistics.json: tag\(s\) t must map to an object"):
        read_statistics(tmp_path)


def _copy(tiny_ckpt: Path, tmp_path: Path, *, malformed: bool) -> Path:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    statistics = json.loads((ckpt / "statistics.json").read_text())
    if malformed:
        statistics["libero_sim"]["state"]["x"] = []  # a 0-wide state member, once
    del statistics["unitree_g1_sonic"]  # configured in processor_config.json, dropped once without a word
    (ckpt / "statistics.json").write_text(json.dumps(statistics))
    return ckpt


def test_a_tag_missing_from_statistics_is_named_when_asked_for(tiny_ckpt: Path, tmp_path: Path) -> None:
    ckpt = _copy(tiny_ckpt, tmp_path, malformed=False)
    with pytest.raises(TagSelectionError, match=r"unitree_g1_sonic \(in processor_config.json, not in statistics"):
        select_tags(ckpt, ["unitree_g1_sonic"])


@pytest.mark.skipif(not HAS_GR00T, reason="gr00t (the original) is not installed in the producer env")
def test_malformed_statistics_refuse_the_checkpoint_in_one_line_before_the_original_loads(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The original's processor reads every tag's statistics at load (a raw TypeError there, once): one line."""
    ckpt = _copy(tiny_ckpt, tmp_path, malformed=True)
    argv = ["--ckpt", str(ckpt), "--out-dir", str(tmp_path / "out"), "--image-size", "32x32", "--batch-size", "1"]
    assert main([*argv, "--device", "cpu", "--tags", "new_embodiment"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{ckpt / 'statistics.json'}: libero_sim.state.x must be an object of min/max/... lists" in err
    assert not (tmp_path / "out").exists()


def _non_libero_action_keys(tiny_ckpt: Path, tmp_path: Path) -> Path:
    """libero_sim with action keys ['eef', 'gripper'] (6 + 1 dims): not the keys LIBERO's env reads.

    Also drops unitree_g1_sonic from statistics.json (still configured): one producer run holds both inputs.
    """
    ckpt = tmp_path / "ckpt-eef"
    shutil.copytree(tiny_ckpt, ckpt)
    config = json.loads((ckpt / "processor_config.json").read_text())
    action = config["processor_kwargs"]["modality_configs"]["libero_sim"]["action"]
    action["modality_keys"] = ["eef", "gripper"]
    action["action_configs"] = action["action_configs"][:2]
    (ckpt / "processor_config.json").write_text(json.dumps(config))
    statistics = json.loads((ckpt / "statistics.json").read_text())
    table = statistics["libero_sim"]["action"]
    arm = ["x", "y", "z", "roll", "pitch", "yaw"]
    table["eef"] = {name: [v for k in arm for v in table[k][name]] for name in table["x"]}
    for key in arm:
        del table[key]
    del statistics["unitree_g1_sonic"]
    (ckpt / "statistics.json").write_text(json.dumps(statistics))
    return ckpt


@pytest.mark.skipif(not HAS_GR00T, reason="gr00t (the original) is not installed in the producer env")
def test_a_failing_optional_stage_is_recorded_and_a_dropped_tag_is_named(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from parity_format.decode_members import decoded
    from parity_format.stage_failures import LIBERO_ENV_CONVERSION, recorded_failure

    ckpt = _non_libero_action_keys(tiny_ckpt, tmp_path)
    out = tmp_path / "out"
    argv = ["--ckpt", str(ckpt), "--out-dir", str(out), "--image-size", "32x32", "--batch-size", "1"]
    assert main([*argv, "--device", "cpu", "--tags", "libero_sim"]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    artifact = read_artifact(out / "32x32" / "original_n1_7_libero_sim.npz")
    failure = recorded_failure(artifact.provenance, LIBERO_ENV_CONVERSION)
    assert failure is not None and "KeyError: 'action.x'" in failure and "['eef', 'gripper']" in failure
    assert decoded("eef") in artifact.outputs and decoded("eef", env=True) not in artifact.outputs
    assert "optional stage libero_env_conversion failed (recorded in the artifact)" in printed
    assert f"note: tag unitree_g1_sonic is configured in {ckpt / 'processor_config.json'} but has no entry" in printed
