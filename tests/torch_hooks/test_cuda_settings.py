"""CUDA determinism settings (both sides) and their record, on a fake torch-cuda facade (no GPU in CI)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from torch_hooks.cuda_settings import CUBLAS_WORKSPACE, cuda_determinism, describe


class FakeTorch:
    """Just the torch surface cuda_determinism touches, with torch's CUDA defaults (TF32 on for cuDNN)."""

    def __init__(self) -> None:
        self.backends = SimpleNamespace(
            cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=True)),
            cudnn=SimpleNamespace(allow_tf32=True, benchmark=True, deterministic=False, version=lambda: 90100),
        )
        self.version = SimpleNamespace(cuda="12.6")
        self.cuda = SimpleNamespace(
            current_device=lambda: 0,
            get_device_name=lambda index: f"NVIDIA H100 #{index}",
            get_device_capability=lambda index: (9, 0),
        )
        self._precision, self._deterministic, self._warn_only = "high", False, False

    def device(self, spec: str) -> Any:
        _, _, index = spec.partition(":")
        return SimpleNamespace(index=int(index) if index else None)

    def set_float32_matmul_precision(self, value: str) -> None:
        self._precision = value

    def get_float32_matmul_precision(self) -> str:
        return self._precision

    def use_deterministic_algorithms(self, mode: bool, *, warn_only: bool = False) -> None:
        self._deterministic, self._warn_only = mode, warn_only

    def are_deterministic_algorithms_enabled(self) -> bool:
        return self._deterministic

    def is_deterministic_algorithms_warn_only_enabled(self) -> bool:
        return self._warn_only


def test_cpu_changes_nothing_and_records_none() -> None:
    fake = FakeTorch()
    assert cuda_determinism("cpu", fake) is None
    assert fake.backends.cudnn.allow_tf32 and fake.backends.cudnn.benchmark


def test_cuda_turns_tf32_and_autotuning_off_and_records_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    fake = FakeTorch()
    record = cuda_determinism("cuda:1", fake, driver_version=lambda: "550.54.15")
    assert record is not None
    assert not fake.backends.cuda.matmul.allow_tf32 and not fake.backends.cudnn.allow_tf32
    assert not fake.backends.cudnn.benchmark and fake.backends.cudnn.deterministic
    assert fake.are_deterministic_algorithms_enabled() and fake.get_float32_matmul_precision() == "highest"
    assert record == {
        "gpu_name": "NVIDIA H100 #1",
        "compute_capability": "9.0",
        "driver_version": "550.54.15",
        "cuda_version": "12.6",
        "cudnn_version": 90100,
        "matmul_allow_tf32": False,
        "cudnn_allow_tf32": False,
        "cudnn_benchmark": False,
        "cudnn_deterministic": True,
        "float32_matmul_precision": "highest",
        "deterministic_algorithms": True,
        "deterministic_warn_only": True,
        "cublas_workspace_config": CUBLAS_WORKSPACE,
    }


def test_plain_cuda_uses_the_current_device_and_a_missing_driver_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    record = cuda_determinism("cuda", FakeTorch(), driver_version=lambda: None)
    assert record is not None and record["gpu_name"] == "NVIDIA H100 #0" and record["driver_version"] is None


def test_the_note_reads_the_settings_back_from_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    record = cuda_determinism("cuda:0", FakeTorch(), driver_version=lambda: "580.159.04")
    assert record is not None
    line = describe(record)
    assert line.startswith("CUDA: NVIDIA H100 #0 (compute 9.0, CUDA 12.6, cuDNN 90100, driver 580.159.04)")
    assert "TF32 off (matmul and cuDNN)" in line and "precision highest" in line and "benchmark off" in line
    assert "deterministic algorithms on (warn only)" in line and f"CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE}" in line
    assert "TF32 on" in describe({**record, "cudnn_allow_tf32": True})  # what torch's defaults would say
