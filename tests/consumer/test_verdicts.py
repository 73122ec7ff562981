"""Harness logic only (no LeRobot): how a comparison plus declared known divergences becomes a status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consumer.check_registry import CHECKS, REGISTRY, Check, check_named
from consumer.checks import Case, CheckResult, ParitySession, discover
from consumer.ci_env import running_in_ci
from consumer.known_divergences import KNOWN_DIVERGENCES, KnownDivergence, divergences_for
from consumer.settings import settings_from_env
from parity_format.artifact import Artifact, RawObservation
from parity_format.compare import compare_mappings
from parity_format.status import Status
from parity_format.tolerance import ToleranceConfig

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
    assert ParitySession._verdict(CASE, "preprocessor", report(), []).status == "pass"


def test_failure_explained_by_a_declared_divergence_is_xfail_naming_it() -> None:
    result = ParitySession._verdict(CASE, "preprocessor", report(pixel_values=np.ones((4, 3), np.float32)), [LETTERBOX])
    assert result.status == "xfail" and "letterbox" in result.message and "gr00t@626af89" in result.message
    assert "lerobot 0.6.1" in result.message


def test_divergence_never_explains_other_tensors() -> None:
    changed = report(pixel_values=np.ones((4, 3), np.float32), state=np.zeros(3, np.float32))
    result = ParitySession._verdict(CASE, "preprocessor", changed, [LETTERBOX])
    assert result.status == "fail" and result.message == "out of tolerance: state"


def test_declared_divergence_that_no_longer_reproduces_fails_strictly() -> None:
    result = ParitySession._verdict(CASE, "preprocessor", report(), [ONLY_IDS])
    assert result.status == "fail" and "did not reproduce" in result.message and "ids" in result.message


def test_divergence_predicates(tmp_path: Path) -> None:
    (tmp_path / "embodiment_id.json").write_text('{"libero_sim": 2}')

    def artifact(tag: str, h: int, w: int) -> Artifact:
        raw = RawObservation({"cam": np.zeros((1, 1, h, w, 3), np.uint8)}, {}, ["x"])
        return Artifact(tag, 0, np.zeros((1, 1, 1), np.float32), {}, {}, raw=raw)

    names = lambda a: [d.name for d in divergences_for("preprocessor", a, tmp_path)]  # noqa: E731
    assert names(artifact("libero_sim", 8, 8)) == []
    assert names(artifact("libero_sim", 8, 10)) == ["letterbox"]
    assert names(artifact("robocasa_panda_omron", 8, 8)) == ["embodiment-id-fallback"]
    assert divergences_for("model", artifact("robocasa_panda_omron", 8, 10), tmp_path) == []


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
    result = ParitySession._verdict(CASE, "model", rep, [])
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
    both = ParitySession._verdict(CASE, "preprocessor", changed, [ONLY_IDS])
    assert both.status == Status.FAIL and both.message == "device differs; out of tolerance: state"
    explained = report(embodiment_id=np.array([2, 3]))
    explained.problems.append("device differs")
    assert ParitySession._verdict(CASE, "preprocessor", explained, [ONLY_IDS]).status == Status.FAIL  # never xfail


def test_a_check_is_one_registry_entry(golden_square: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert CHECKS == ("model", "preprocessor") and all(REGISTRY[name].name == name for name in CHECKS)
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
    session.results.append(ParitySession._verdict(CASE, "preprocessor", report(), []))
    assert session.unmatched_tolerance_overrides() == ["actoin_pred"]


@pytest.mark.parametrize(("value", "ci"), [("", False), ("0", False), ("false", False), ("true", True), ("1", True)])
def test_ci_detection(value: str, ci: bool) -> None:
    assert running_in_ci({"CI": value}) is ci
