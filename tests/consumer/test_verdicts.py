"""Harness logic only (no LeRobot): how a comparison plus declared known divergences becomes a status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from comparison.compare import compare_mappings
from comparison.results import Case, CheckResult
from comparison.status import Status
from comparison.tolerance import ToleranceConfig
from consumer.checks import CHECKS, REGISTRY, Check, check_named
from consumer.checks.base import verdict
from consumer.ci_env import running_in_ci
from consumer.known_divergences import KNOWN_DIVERGENCES, KnownDivergence, divergences_for
from consumer.session import ParitySession, discover
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact, RawObservation

CASE = Case(Path("x.npz"), ".", "t")
LETTERBOX = next(d for d in KNOWN_DIVERGENCES if d.name == "letterbox")
ONLY_IDS = KnownDivergence("ids", "preprocessor", ("embodiment_id",), "because", lambda a, c: True)


def report(**actual_changes: np.ndarray):
    expected = {
        "pixel_values": np.zeros((4, 3), np.float32),
        "state": np.ones(3, np.float32),
        "embodiment_id": np.array([2, 2]),
    }
    return compare_mappings("t", expected, {**expected, **actual_changes}, ToleranceConfig())


def test_pass_without_divergence() -> None:
    assert verdict(CASE, "preprocessor", report(), []).status == "pass"


def test_failure_explained_by_a_declared_divergence_is_xfail_naming_it() -> None:
    result = verdict(CASE, "preprocessor", report(pixel_values=np.ones((4, 3), np.float32)), [LETTERBOX])
    assert result.status == "xfail" and "letterbox" in result.message and "gr00t@626af89" in result.message
    assert "lerobot 0.6.1" in result.message


def test_divergence_never_explains_other_tensors() -> None:
    changed = report(pixel_values=np.ones((4, 3), np.float32), state=np.zeros(3, np.float32))
    result = verdict(CASE, "preprocessor", changed, [LETTERBOX])
    assert result.status == "fail" and result.message == "out of tolerance: state"


def test_declared_divergence_that_no_longer_reproduces_fails_strictly() -> None:
    result = verdict(CASE, "preprocessor", report(), [ONLY_IDS])
    assert result.status == "fail" and "did not reproduce" in result.message and "ids" in result.message


def write_processor_config(ckpt: Path, **kwargs: object) -> Path:
    ckpt.mkdir(parents=True, exist_ok=True)
    base = {
        "image_target_size": [256, 256],
        "image_crop_size": [230, 230],
        "letter_box_transform": False,
        "use_albumentations": True,  # as the fixtures: false or absent is the torchvision-transforms divergence
    }
    (ckpt / "processor_config.json").write_text(json.dumps({"processor_kwargs": {**base, **kwargs}}))
    return ckpt


def fake_artifact(tag: str = "libero_sim", sizes=((8, 8),), steps: int = 1, language=("x",), table=None) -> Artifact:
    batch = len(language)
    video = {f"cam{i}": np.zeros((batch, 1, h, w, 3), np.uint8) for i, (h, w) in enumerate(sizes)}
    raw = RawObservation(video, {"arm": np.zeros((batch, steps, 2), np.float32)}, list(language))
    provenance = {"embodiment_ids": {"fallback": table}} if table else {}
    return Artifact(tag, 0, np.zeros((batch, 1, 1), np.float32), {}, {}, raw=raw, provenance=provenance)


def names(artifact: Artifact, ckpt: Path, check: str = "preprocessor") -> list[str]:
    return [d.name for d in divergences_for(check, artifact, ckpt)]


def test_divergence_predicates(tmp_path: Path) -> None:
    ckpt = write_processor_config(tmp_path)
    (tmp_path / "embodiment_id.json").write_text('{"libero_sim": 2}')
    assert names(fake_artifact(), ckpt) == []
    assert names(fake_artifact(sizes=((8, 10),)), ckpt) == ["letterbox"]
    assert names(fake_artifact("robocasa_panda_omron"), ckpt) == ["embodiment-id-fallback"]
    assert divergences_for("model", fake_artifact("robocasa_panda_omron", ((8, 10),)), ckpt) == []
    assert names(fake_artifact(steps=2), ckpt) == ["state-history"]
    assert names(fake_artifact(sizes=((8, 8), (4, 4))), ckpt) == ["mixed-resolutions"]
    assert names(fake_artifact(language=("a", "")), ckpt) == ["empty-instruction"]


def test_letterbox_applies_only_when_the_flag_is_false(tmp_path: Path) -> None:
    non_square = fake_artifact(sizes=((8, 10),))
    assert names(non_square, write_processor_config(tmp_path / "false")) == ["letterbox"]
    assert names(non_square, write_processor_config(tmp_path / "true", letter_box_transform=True)) == []


def test_geometry_applies_only_without_a_target_size_and_with_other_values(tmp_path: Path) -> None:
    other = {"image_target_size": None, "image_crop_size": None, "shortest_image_edge": 256, "crop_fraction": 0.95}
    assert names(fake_artifact(), write_processor_config(tmp_path / "a", **other)) == ["image-geometry"]
    with_target = {**other, "image_target_size": [256, 256]}
    assert names(fake_artifact(), write_processor_config(tmp_path / "b", **with_target)) == []
    lerobot_defaults = {**other, "crop_fraction": 230 / 256}  # what LeRobot falls back to: no divergence
    assert names(fake_artifact(), write_processor_config(tmp_path / "c", **lerobot_defaults)) == []


def test_embodiment_fallback_needs_a_non_empty_table_without_the_tag_and_a_non_zero_original_id(
    tmp_path: Path,
) -> None:
    ckpt = write_processor_config(tmp_path)
    (tmp_path / "embodiment_id.json").write_text('{"libero_sim": 2}')
    assert names(fake_artifact("simpler_env_google", table={"simpler_env_google": 0}), ckpt) == []
    assert names(fake_artifact("robocasa_panda_omron", table={"robocasa_panda_omron": 10}), ckpt) == [
        "embodiment-id-fallback"
    ]
    (tmp_path / "embodiment_id.json").unlink()
    assert names(fake_artifact("robocasa_panda_omron"), ckpt) == []


def test_each_declared_entry_must_reproduce_itself() -> None:
    state_only = KnownDivergence("state-only", "preprocessor", ("state",), "because", lambda a, c: True)
    changed = report(pixel_values=np.ones((4, 3), np.float32))
    result = verdict(CASE, "preprocessor", changed, [LETTERBOX, state_only])
    assert result.status == "fail" and "['state-only'] did not reproduce" in result.message


def test_refusal_matches_only_its_own_error() -> None:
    mixed = next(d for d in KNOWN_DIVERGENCES if d.name == "mixed-resolutions")
    assert mixed.explains_refusal(ValueError("all input arrays must have the same shape"))
    assert not mixed.explains_refusal(ValueError("something else"))
    assert not LETTERBOX.explains_refusal(ValueError("all input arrays must have the same shape"))


def test_discover_reads_flat_and_per_size_directories(tmp_path: Path) -> None:
    for rel in (
        "original_n1_7_a.npz",
        "256x256/original_n1_7_b.npz",
        "240x320/original_n1_7_b.npz",
        "x/other.npz",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    cases = discover(tmp_path)
    assert [c.case_id for c in cases] == ["a", "240x320-b", "256x256-b"]
    assert discover(tmp_path / "missing") == []


def test_non_tensor_problem_fails_first_and_every_surface_agrees() -> None:
    """A fingerprint/device problem with tensors in tolerance: table, message, status and JSON all say FAIL."""
    rep = report()
    rep.problems.append("checkpoint differs from the one that produced the artifact")
    result = verdict(CASE, "model", rep, [])
    assert (
        result.status == Status.FAIL and result.message == "checkpoint differs from the one that produced the artifact"
    )
    assert (
        rep.format_table().splitlines()[0]
        == "t: FAIL (checkpoint differs from the one that produced the artifact; 3/3 tensors passed)"
    )
    data = result.to_dict()
    assert data["status"] == "fail" and data["report"]["passed"] is False and data["problems"] == rep.problems
    changed = report(state=np.zeros(3, np.float32))
    changed.problems.append("device differs")
    both = verdict(CASE, "preprocessor", changed, [ONLY_IDS])
    assert both.status == Status.FAIL and both.message == "device differs; out of tolerance: state"
    explained = report(embodiment_id=np.array([2, 3]))
    explained.problems.append("device differs")
    assert verdict(CASE, "preprocessor", explained, [ONLY_IDS]).status == Status.FAIL  # never xfail


def test_a_check_is_one_registry_entry(golden_square: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert CHECKS == ("model", "preprocessor", "decode", "rtc", "embodiment_ids", "policy", "training")
    assert all(REGISTRY[name].name == name for name in CHECKS)
    with pytest.raises(ValueError, match="unknown check 'decod'"):
        check_named("decod")
    seen = []

    def run(session: ParitySession, case: Case, artifact: Artifact) -> CheckResult:
        seen.append(artifact.embodiment_tag)
        return CheckResult(case, "decode", Status.PASS, "ran")

    monkeypatch.setitem(REGISTRY, "decode", Check("decode", run, "test"))
    session = ParitySession(settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path)}))
    result = session.run(Case(golden_square, "g", "libero_sim"), "decode")
    assert (result.status, result.message, seen) == (Status.PASS, "ran", ["libero_sim"]) and session.results == [result]


def test_tolerance_override_matching_nothing_is_named(tmp_path: Path) -> None:
    env = {"GROOT_PARITY_TOL": "actoin_pred=0:0,state=1e-6:0", "GROOT_PARITY_REPORT_DIR": str(tmp_path)}
    session = ParitySession(settings_from_env(env))
    session.results.append(verdict(CASE, "preprocessor", report(), []))
    assert session.unmatched_tolerance_overrides() == ["actoin_pred"]


@pytest.mark.parametrize(("value", "ci"), [("", False), ("0", False), ("false", False), ("true", True), ("1", True)])
def test_ci_detection(value: str, ci: bool) -> None:
    assert running_in_ci({"CI": value}) is ci
