"""The policy check on the real user paths: its verdicts on a golden, and planted faults it alone must catch.

Real LeRobot (GrootPolicy, its processors), the committed golden (the original's Gr00tPolicy recorded by the
producer). Edited copies plant one fault each; the message must name the key or path that differs, and every
other check must reach the same verdict as on the unedited copy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from comparison.accuracy import ENVELOPE, FP64
from comparison.results import Case, CheckResult
from comparison.status import Status
from comparison.tier_results import FP32_TIER, SHIPPED_TIER, TierResult
from consumer.checks import CHECKS
from consumer.reports.json_report import json_safe
from consumer.session import ParitySession
from parity_format.artifact import Artifact, read_artifact, write_artifact
from parity_format.user_path_members import FULL, PROVENANCE_KEY, REFERENCE, SHIPPED, USER_PATH, user_path_action

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden" / "256x256" / "original_n1_7_new_embodiment.npz"
DECLARED = {"select-action-per-step-refused", "from-pretrained-single-file", "bf16-weights-at-load"}


def edited(dst_dir: Path, edit) -> Case:
    artifact = read_artifact(GOLDEN)
    edit(artifact)
    path = write_artifact(artifact, dst_dir / GOLDEN.name)
    return Case(path, dst_dir.name, artifact.embodiment_tag)


@pytest.fixture(scope="module")
def baseline(session: ParitySession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckResult]:
    """Every check on an unedited copy: what each planted fault must leave unchanged outside ``policy``."""
    case = edited(tmp_path_factory.mktemp("unedited"), lambda a: None)
    return {check: session.run(case, check) for check in CHECKS}


def assert_only_policy_changed(session: ParitySession, case: Case, baseline: dict[str, CheckResult]) -> None:
    for check in CHECKS:
        if check != "policy":
            assert session.run(case, check).status == baseline[check].status, check


def test_golden_runs_both_tiers_and_declares_what_the_user_path_reveals(baseline: dict[str, CheckResult]) -> None:
    result = baseline["policy"]
    fp32, shipped = result.tiers
    assert (fp32.name, shipped.name) == (FP32_TIER, SHIPPED_TIER)
    assert result.status == Status.XFAIL and fp32.status == Status.XFAIL and shipped.status == Status.PASS
    assert set(result.divergences) == DECLARED
    assert result.report is not None
    assert sorted(result.report.only_expected) == ["from_pretrained_single_file", "select_action_decode"]
    actions = [t for t in result.report.tensors if t.name.startswith("action.")]
    paths = {t.name.split("@")[1] for t in actions}
    assert paths == {"chunk", "select_action_queue", "from_pretrained"}
    assert all(t.passed and (t.max_abs_diff or 0.0) < 1e-5 for t in actions), fp32.report.format_table()
    (probe,) = [t for t in result.report.tensors if t.name == "fp32_config"]
    assert not probe.passed and (probe.max_abs_diff or 0.0) > 1e-3  # bf16-rounded weights, visible in actions
    assert {a.mode for a in shipped.accuracy} == {FP64}
    assert all(a.passed and a.ratio is not None and a.ratio < 2 for a in shipped.accuracy)
    assert {a.name.split("@")[1] for a in shipped.accuracy} == {"chunk", "select_action_queue", "from_pretrained"}
    assert "fp32 KNOWN DIVERGENCE" in result.message and "as shipped PASS" in result.message


def test_tiers_round_trip_through_json_as_the_same_classes(baseline: dict[str, CheckResult]) -> None:
    result = baseline["policy"]
    again = CheckResult.from_dict(json.loads(json.dumps(json_safe(result.to_dict()), allow_nan=False)))
    assert all(isinstance(t, TierResult) for t in again.tiers)
    assert again.to_dict() == result.to_dict()
    assert again.tiers[1].accuracy == result.tiers[1].accuracy


def test_original_user_path_key_shifted_fails_policy_naming_that_key(
    session: ParitySession, tmp_path: Path, baseline: dict[str, CheckResult]
) -> None:
    def shift_gripper(a: Artifact) -> None:
        for precision in (SHIPPED, FULL):
            name = user_path_action("gripper", precision)
            a.outputs[name] = a.outputs[name] + np.float32(0.05)

    case = edited(tmp_path / "shifted", shift_gripper)
    result = session.run(case, "policy")
    assert result.status == Status.FAIL and result.tiers[0].status == Status.FAIL
    failing = {t.name for t in result.report.tensors if not t.passed} - {"fp32_config"}
    assert failing == {f"action.gripper@{p}" for p in ("chunk", "select_action_queue", "from_pretrained")}
    assert "gripper@chunk" in result.message and "joints@" not in result.message.split("out of tolerance")[1]
    gripper = next(t for t in result.report.tensors if t.name == "action.gripper@chunk")
    assert gripper.max_abs_diff == pytest.approx(0.05, rel=1e-2)
    assert_only_policy_changed(session, case, baseline)


def test_select_action_dropping_the_first_action_of_each_chunk_fails_policy_only(
    session: ParitySession, tmp_path: Path, baseline: dict[str, CheckResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lerobot.policies.groot.modeling_groot import GrootPolicy

    real = GrootPolicy.select_action

    def drops_first(self: GrootPolicy, batch: dict) -> object:  # planted fault: the chunk's first action is lost
        if len(self._action_queue) == 0:
            real(self, batch)  # fills the queue and pops the first action, which is then thrown away
        return self._action_queue.popleft()

    monkeypatch.setattr(GrootPolicy, "select_action", drops_first)
    case = edited(tmp_path / "dropped", lambda a: None)
    result = session.run(case, "policy")
    assert result.status == Status.FAIL
    failing = {t.name for t in result.report.tensors if not t.passed} - {"fp32_config"}
    assert failing == {"action.joints@select_action_queue", "action.gripper@select_action_queue"}
    assert "select_action_queue" in result.message and "@chunk" not in result.message
    assert_only_policy_changed(session, case, baseline)


def test_artifact_without_user_path_skips_with_the_regenerate_hint(session: ParitySession, tmp_path: Path) -> None:
    def older(a: Artifact) -> None:
        a.outputs = {k: v for k, v in a.outputs.items() if not k.startswith(USER_PATH)}
        a.provenance.pop(PROVENANCE_KEY)

    result = session.run(edited(tmp_path / "older", older), "policy")
    assert result.status == Status.SKIP and "make produce" in result.message and not result.tiers


def test_without_fp64_the_shipped_tier_uses_the_declared_envelope(session: ParitySession, tmp_path: Path) -> None:
    def no_fp64(a: Artifact) -> None:
        a.outputs = {k: v for k, v in a.outputs.items() if not k.startswith(f"{USER_PATH}{REFERENCE}.")}
        a.provenance[PROVENANCE_KEY]["fp64_reference"] = {"recorded": False, "reason": "test: no room for float64"}

    result = session.run(edited(tmp_path / "no-fp64", no_fp64), "policy")
    shipped = result.tiers[1]
    assert shipped.status == Status.PASS and {a.mode for a in shipped.accuracy} == {ENVELOPE}
    assert any("test: no room for float64" in n for n in shipped.notes)
    assert "declared fixed envelope" in shipped.accuracy[0].summary()

    def lost_fp64(a: Artifact) -> None:  # the manifest says recorded, the members are gone: never a pass
        a.outputs = {k: v for k, v in a.outputs.items() if not k.startswith(f"{USER_PATH}{REFERENCE}.")}

    broken = session.run(edited(tmp_path / "lost-fp64", lost_fp64), "policy")
    assert broken.status == Status.FAIL and "float64 reference was recorded" in broken.message
