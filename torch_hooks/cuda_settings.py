"""Deterministic fp32 settings on CUDA, applied by both sides: the producer before the original touches the
GPU, the consumer before LeRobot's model does.

WHY both: torch's CUDA defaults run cuDNN convolutions in TF32 (a 10-bit mantissa, about 1e-3 relative
error, the size of the default tolerance); the vision tower's patch embedding is a Conv3d. A producer that
turns TF32 off but a consumer that leaves it on would measure TF32 rounding, not the two implementations,
whenever LeRobot's model runs on a GPU (GROOT_PARITY_DEVICE=cuda). With the same settings on both sides
the only cross-device difference left is the summation order of fp32 kernels.

torch is imported lazily (and is injectable, so the logic is unit-tested without a GPU).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

# cuBLAS is only deterministic with a fixed workspace; it must be set before the first cuBLAS call.
CUBLAS_WORKSPACE = ":4096:8"


def nvidia_driver_version() -> str | None:
    """The NVIDIA driver version (torch does not expose it), from nvidia-smi; None when unavailable."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if lines else None


def cuda_determinism(
    device: str, torch: Any = None, driver_version: Callable[[], str | None] = nvidia_driver_version
) -> dict[str, Any] | None:
    """On CUDA: make the original's numbers as device-independent as torch allows, and record how.

    TF32 (a 10-bit-mantissa matmul/convolution mode, on by default for cuDNN) would put ~1e-3 relative
    error into every fp32 product and make a CUDA artifact incomparable with a CPU replay; cuDNN
    autotuning (``benchmark``) and non-deterministic kernels make two runs on the same GPU differ.
    Returns the settings applied plus GPU name, driver and CUDA versions for the manifest; None on CPU.
    ``torch`` is injectable so the logic is unit-tested without a GPU.
    """
    if not device.startswith("cuda"):
        return None
    if torch is None:
        import torch
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.set_float32_matmul_precision("highest")
    # warn_only: an op without a deterministic kernel warns instead of aborting the run
    torch.use_deterministic_algorithms(True, warn_only=True)
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    major, minor = torch.cuda.get_device_capability(index)
    return {
        "gpu_name": torch.cuda.get_device_name(index),
        "compute_capability": f"{major}.{minor}",
        "driver_version": driver_version(),
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version(),
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def describe(record: dict[str, Any]) -> str:
    """One line for a result's notes: the GPU and the settings in force, read back from the record."""
    tf32 = "on" if record.get("matmul_allow_tf32") or record.get("cudnn_allow_tf32") else "off"
    deterministic = "on" if record.get("deterministic_algorithms") else "off"
    if record.get("deterministic_warn_only"):
        deterministic += " (warn only)"
    get = record.get
    return (
        f"CUDA: {get('gpu_name')} (compute {get('compute_capability')}, CUDA {get('cuda_version')}, "
        f"cuDNN {get('cudnn_version')}, driver {get('driver_version')}); TF32 {tf32} (matmul and cuDNN), "
        f"float32 matmul precision {record.get('float32_matmul_precision')}, cuDNN benchmark "
        f"{'on' if record.get('cudnn_benchmark') else 'off'}, deterministic algorithms {deterministic}, "
        f"CUBLAS_WORKSPACE_CONFIG={record.get('cublas_workspace_config')}"
    )
