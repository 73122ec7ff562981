"""Producer provenance for the manifest: which gr00t, which libraries, which machine settings.

The gr00t commit matters most: the harness pins one upstream commit, and an artifact made from any
other says so in its manifest and in the producer's summary instead of passing silently.

Manifests are published (Hub datasets, committed fixtures), so nothing in them may be a private
absolute path: local paths are recorded relative to a declared root (the producer's ``--path-root``,
default its working directory), a path outside that root keeps only its last component, the
checkpoint is named by Hub repo id + revision (+ resolved commit) + subfolder, and gr00t by commit +
origin URL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
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


OUTSIDE_ROOT = "<outside root>"  # prefix of a local path that is not under the declared root
_SNAPSHOT_COMMIT = re.compile(r"/snapshots/([0-9a-f]{40})(?:/|$)")  # huggingface_hub cache layout
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/]|[\w.-]+@[\w.-]+:)", re.IGNORECASE)  # https://h, git@h:


# an absolute POSIX path (at the start, or after whitespace, "=" or a quote), a home path, a Windows drive, a file URL
_PRIVATE_PATH = re.compile(r"(?:^|[\s='\"])(?:/[^/\s]|~/)|^[A-Za-z]:[\\/]|file:", re.IGNORECASE)


def absolute_paths(value: Any) -> list[str]:
    """Every string in a JSON value (keys included) that holds a local absolute path: must be empty."""
    if isinstance(value, str):
        return [value] if _PRIVATE_PATH.search(value) else []
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*absolute_paths(key), *absolute_paths(item))]
    if isinstance(value, list):
        return [s for item in value for s in absolute_paths(item)]
    return []


def publishable_path(value: str | os.PathLike[str], root: Path) -> str:
    """A local path as a manifest may show it: relative to ``root``, else only its last component."""
    path = Path(os.path.abspath(Path(value).expanduser()))
    root = Path(os.path.abspath(root))
    if path == root or root in path.parents:
        return path.relative_to(root).as_posix() or "."
    return f"{OUTSIDE_ROOT}/{path.name}"


def publishable_argv(argv: list[str], root: Path) -> list[str]:
    """The command line with every absolute path argument (also ``--opt=/path``) made publishable."""

    def one(arg: str) -> str:
        option, eq, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
        if os.path.isabs(os.path.expanduser(value)):
            return f"{option}{eq}{publishable_path(value, root)}"
        return arg

    return [one(arg) for arg in argv]


def publishable_url(url: str | None) -> str | None:
    """A remote URL as is (credentials stripped); a local path or file:// URL is private: None."""
    if not url or not _URL.match(url) or url.lower().startswith("file:"):
        return None
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^@/]*@", r"\1", url, flags=re.IGNORECASE)


def _git_origin(source: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", source, "remote", "get-url", "origin"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def publishable_gr00t_source(source: dict[str, Any]) -> dict[str, Any]:
    """gr00t as commit + origin URL: a ``git+<url>@<commit>`` spec, the recorded origin, or the checkout's."""
    spec = str(source.get("source") or "")
    origin = source.get("origin")
    if origin is None and spec.startswith("git+"):
        origin = spec[len("git+") :].rsplit("@", 1)[0]
    elif origin is None and spec and Path(spec).is_dir():
        origin = _git_origin(spec)
    return {"commit": source.get("commit"), "origin": publishable_url(origin)}


def publishable_checkpoint(ref: dict[str, Any], ckpt: Path, fingerprint: str, root: Path) -> dict[str, Any]:
    """How a user names the checkpoint: Hub repo id + revision (+ the commit it resolved to) + subfolder,
    or a local directory relative to ``root``; never the resolved absolute path."""
    spec = str(ref["spec"])
    local = Path(spec).expanduser()
    record: dict[str, Any] = {"spec": spec, "revision": ref.get("revision"), "subfolder": ref.get("subfolder")}
    if local.is_dir():
        record["spec"] = publishable_path(local, root)
        record["relative_to"] = "the producer's --path-root (its working directory unless set)"
    else:
        found = _SNAPSHOT_COMMIT.search(ckpt.as_posix())
        record["hub_commit"] = found.group(1) if found else None
    record["fingerprint"] = fingerprint
    return record


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


def provenance(
    *,
    device: str,
    attention: str,
    checkpoint: dict[str, Any],
    argv: list[str],
    cuda: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's provenance; ``cuda``: what torch_hooks.cuda_settings.cuda_determinism applied (None on CPU)."""
    return {
        "producer": "groot-parity producer",
        "implementation": "gr00t (NVIDIA Isaac-GR00T, original)",
        "gr00t": publishable_gr00t_source(gr00t_source()),
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
