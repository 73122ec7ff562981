"""Producer provenance for the manifest: which gr00t, which libraries, which machine settings.

The gr00t commit matters most: the harness pins one upstream commit, and an artifact made from any
other says so in its manifest and in the producer's summary instead of passing silently.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
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


def provenance(*, device: str, attention: str, checkpoint: dict[str, Any], argv: list[str]) -> dict[str, Any]:
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
        "checkpoint": checkpoint,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": argv,
    }
