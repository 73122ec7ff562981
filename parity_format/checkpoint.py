"""Where a checkpoint lives, for both sides: a local directory or a Hugging Face Hub repo (+ subfolder).

Both environments must resolve the same reference to the same files, so the rules live here, once:
- an existing directory is used as is (made absolute: LeRobot's ``from_pretrained`` treats a relative
  path as a Hub repo id);
- anything else is a Hub repo id, resolved with ``huggingface_hub.snapshot_download``; offline
  (``HF_HUB_OFFLINE=1`` or ``offline=True``) it reads the local cache only and says so when files are missing.

``huggingface_hub`` is imported lazily: it ships with transformers in both environments, but this
module must stay importable where it is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CheckpointError(RuntimeError):
    """A checkpoint reference that cannot be resolved to a usable directory."""


@dataclass(frozen=True)
class CheckpointRef:
    """What the user asked for; recorded in every artifact's manifest so the consumer can find it again."""

    spec: str  # a local directory or a Hub repo id
    revision: str | None = None
    subfolder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "revision": self.revision, "subfolder": self.subfolder}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointRef:
        return cls(str(data["spec"]), data.get("revision"), data.get("subfolder"))


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_checkpoint(
    ref: CheckpointRef, *, allow_patterns: list[str] | None = None, offline: bool | None = None
) -> Path:
    """Return the absolute directory holding ``config.json`` for ``ref``; raise CheckpointError otherwise."""
    local = Path(ref.spec).expanduser()
    if local.is_dir():
        root = local.resolve()
    else:
        root = _download(ref, allow_patterns, hub_offline() if offline is None else offline)
    ckpt = root / ref.subfolder if ref.subfolder else root
    if not (ckpt / "config.json").is_file():
        raise CheckpointError(f"{ckpt} has no config.json: not a GR00T checkpoint directory ({ref.spec!r})")
    return ckpt


def _download(ref: CheckpointRef, allow_patterns: list[str] | None, offline: bool) -> Path:
    if ref.spec.startswith((".", "/", "~")) or ref.spec.count("/") > 1:
        raise CheckpointError(f"checkpoint {ref.spec!r}: no such directory (and not a Hub repo id)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - both envs ship it
        raise CheckpointError(f"checkpoint {ref.spec!r} is not a directory and huggingface_hub is missing") from exc
    patterns = allow_patterns or ([f"{ref.subfolder}/*", "*.json"] if ref.subfolder else None)
    try:
        path = snapshot_download(ref.spec, revision=ref.revision, allow_patterns=patterns, local_files_only=offline)
    except LocalEntryNotFoundError as exc:
        where = "offline (HF_HUB_OFFLINE=1): only the local cache was searched" if offline else "download failed"
        raise CheckpointError(
            f"checkpoint {ref.spec!r} (revision {ref.revision or 'main'}) is not available: {where}. "
            f"Cache: {os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}. "
            f"Fetch it with `hf download {ref.spec}` on a connected machine, or pass a local directory."
        ) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {ref.spec!r}: {type(exc).__name__}: {exc}") from exc
    return Path(path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data


@contextlib.contextmanager
def backbone_workdir(ckpt: Path) -> Iterator[None]:
    """Run a load with ``ckpt`` as working directory when its backbone ``model_name`` is relative to it.

    Both implementations hand ``model_name`` straight to ``from_pretrained``, which resolves a relative
    path against the working directory. A checkpoint that ships its own backbone (the tiny CI fixture)
    names it relative to itself; Hub names such as ``nvidia/Cosmos-Reason2-2B`` are left untouched.
    """
    model_name = str(read_json(ckpt / "config.json").get("model_name", ""))
    if not model_name or Path(model_name).is_absolute() or not (ckpt / model_name).is_dir():
        yield
        return
    previous = os.getcwd()
    os.chdir(ckpt)
    try:
        yield
    finally:
        os.chdir(previous)


def checkpoint_fingerprint(ckpt: Path) -> str:
    """sha256 over the checkpoint's files (names + bytes), so an artifact names exactly what produced it."""
    import hashlib

    digest = hashlib.sha256()
    # ".cache" relative to the checkpoint (huggingface_hub's download metadata): a checkpoint that itself
    # lives under ~/.cache (the Hub cache, the full-size benchmark's) must still hash its files.
    files = (p for p in ckpt.rglob("*") if p.is_file() and ".cache" not in p.relative_to(ckpt).parts)
    for path in sorted(files):
        digest.update(path.relative_to(ckpt).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
