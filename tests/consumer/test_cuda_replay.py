"""A replay on CUDA (GROOT_PARITY_DEVICE=cuda), checked without a GPU: the knob reaches the bf16/fp32 envelope
benchmark (which reads the stage keys the artifacts store), and the consumer applies the producer's
deterministic CUDA settings (TF32 off) once, before LeRobot's model runs, noting them on every result that
asked for the device."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import torch_hooks.cuda_settings
from comparison.results import Case, CheckResult
from comparison.status import Status
from consumer import session as session_module
from consumer.session import ParitySession, discover
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact
from parity_format.stage_keys import stage_items

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden"
ENVELOPE = REPO / "benchmarks" / "bf16_envelope.py"


@pytest.fixture(scope="module")
def envelope(load_module: Callable[[Path, str], ModuleType]) -> ModuleType:
    return load_module(ENVELOPE, "bf16_envelope_benchmark")


RECORD = {
    "gpu_name": "NVIDIA H200",
    "compute_capability": "9.0",
    "cuda_version": "13.0",
    "cudnn_version": 91900,
    "driver_version": "580.159.04",
    "matmul_allow_tf32": False,
    "cudnn_allow_tf32": False,
    "cudnn_benchmark": False,
    "float32_matmul_precision": "highest",
    "deterministic_algorithms": True,
    "deterministic_warn_only": True,
    "cublas_workspace_config": ":4096:8",
}


def test_the_envelope_benchmark_honours_the_device_knob(envelope: ModuleType) -> None:
    """It used to build its settings from {GROOT_PARITY_DTYPE} alone: GROOT_PARITY_DEVICE=cuda ran on the CPU."""
    settings = envelope.envelope_settings("float32", {"GROOT_PARITY_DEVICE": "cuda", "GROOT_PARITY_DTYPE": "bfloat16"})
    assert settings.device == "cuda" and settings.dtype == "float32"  # --dtype wins over the knob
    assert envelope.envelope_settings("bfloat16", {}).device is None


def test_the_envelope_benchmark_reads_the_stage_keys_the_artifacts_store(envelope: ModuleType) -> None:
    """Written for the numbered keys (stage.03.step0.action_in): on stage.backbone_features it raised IndexError."""
    artifact = read_artifact(GOLDEN / "256x256" / "original_n1_7_libero_sim.npz")
    same = {**stage_items(artifact.outputs), "action_pred": artifact.action_pred}
    diffs = envelope.artifact_diffs(artifact, same)
    assert {"backbone_features", "vl_embeds", "state_features", "step0.velocity", "action_pred"} <= set(diffs)
    assert diffs["step0.velocity"][0] == "step 0 velocity" and diffs["backbone_features"][0] == "backbone_features"
    assert all(diff.max() == 0 for _, diff in diffs.values())
    valid = int(artifact.inputs["inputs.attention_mask"].sum())
    width = same["stage.backbone_features"].shape[-1]
    assert diffs["backbone_features"][1].size == valid * width  # token-level: valid tokens only
    shifted = {**same, "stage.step0.velocity": same["stage.step0.velocity"] + 0.25}
    assert envelope.artifact_diffs(artifact, shifted)["step0.velocity"][1].max() == pytest.approx(0.25)


class DeviceCheck:
    """Stands in for a check: asks the session for the device (as model/rtc/policy/episode do) or not."""

    def __init__(self, asks: bool) -> None:
        self.asks = asks

    def run(self, session: ParitySession, case: Case, artifact: Any) -> CheckResult:
        if self.asks:
            session.device_for(artifact)
        return CheckResult(case, "model" if self.asks else "decode", Status.PASS, "ok")


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A machine that claims a GPU; cuda_determinism recorded instead of run."""
    import torch

    calls: list[str] = []

    def fake(device: str) -> dict[str, Any]:
        calls.append(device)
        return dict(RECORD)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch_hooks.cuda_settings, "cuda_determinism", fake)
    monkeypatch.setattr(session_module, "check_named", lambda name: DeviceCheck(asks=name != "decode"))
    return calls


def _session(device: str) -> ParitySession:
    return ParitySession(settings_from_env({"GROOT_PARITY_DEVICE": device, "GROOT_PARITY_MEMORY_CAP_GB": "off"}))


def test_a_cuda_replay_turns_tf32_off_once_and_notes_it_where_the_device_was_used(applied: list[str]) -> None:
    session = _session("cuda")
    case = discover(GOLDEN)[0]
    first, again, decode = session.run(case, "model"), session.run(case, "rtc"), session.run(case, "decode")
    assert applied == ["cuda"]  # once per run, before the first model
    assert session.cuda_settings == RECORD
    note = torch_hooks.cuda_settings.describe(RECORD)
    assert note in first.notes and note in again.notes and "TF32 off" in note
    assert note not in decode.notes  # a check that never asked for the device ran nothing on it


def test_a_cpu_replay_touches_no_cuda_setting(applied: list[str]) -> None:
    session = _session("cpu")
    result = session.run(discover(GOLDEN)[0], "model")
    assert applied == [] and session.cuda_settings is None
    assert not any(n.startswith("CUDA:") for n in result.notes)
