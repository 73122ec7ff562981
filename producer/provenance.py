"""Producer provenance for the manifest: which gr00t, which libraries, which machine settings.

The gr00t commit matters most: the harness pins one upstream commit, and an artifact made from any
other says so in its manifest and in the producer's summary instead of passing silently.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

SOURCE_RECORD = "gr00t-source.json"  # written into the producer venv by `make producer-env`


def gr00t_source() -> dict[str, Any]:
    """Where the installed gr00t came from: the install record, else pip's direct_url.json."""
    record = Path(sys.prefix) / SOURCE_RECORD
    if record.is_file():
        return json.loads(record.read_text())
    try:
        direct = metadata.distribution("gr00t").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return {"source": None, "commit": None}
    data = json.loads(direct or "{}")
    return {"source": data.get("url"), "commit": (data.get("vcs_info") or {}).get("commit_id")}


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


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


def provenance(
    *,
    device: str,
    attention: str,
    checkpoint: dict[str, Any],
    argv: list[str],
    cuda: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's provenance; ``cuda`` is what :func:`cuda_determinism` applied (None on CPU)."""
    return {
        "producer": "groot-parity producer",
        "implementation": "gr00t (NVIDIA Isaac-GR00T, original)",
        "gr00t": gr00t_source(),
        "versions": {
            "python": platform.python_version(),
            **{p: version_of(p) for p in ("gr00t", "transformers", "torch", "numpy")},
        },
        "device": device,
        "device_name": device_name(device),
        "dtype": "float32",
        "attention": attention,
        "cuda": cuda,
        "noise": "recorded: out::initial_noise (fp32, the original's exact flow-matching draw)",
        "checkpoint": checkpoint,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": argv,
    }
