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
    with working_directory(ckpt):
        yield


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """``contextlib.chdir`` for Python 3.10: the producer env has no 3.11 stdlib."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def checkpoint_fingerprint(ckpt: Path) -> str:
    """sha256 over the checkpoint's files (names + bytes), so an artifact names exactly what produced it."""
    import hashlib

    from sources.remembered_hashes import remembered

    # ".cache" relative to the checkpoint (huggingface_hub's download metadata): a checkpoint that itself
    # lives under ~/.cache (the Hub cache, the full-size benchmark's) must still hash its files.
    files = sorted(p for p in ckpt.rglob("*") if p.is_file() and ".cache" not in p.relative_to(ckpt).parts)

    def compute() -> str:
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(ckpt).as_posix().encode() + b"\0")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()

    # the same files under another checkpoint root hash other names: the root is part of the kind
    return remembered(f"checkpoint_fingerprint {ckpt.resolve()}", files, compute)


# -- checkpoint identity by content -------------------------------------------------------------
CONTENT_SCHEME = "groot-parity-content-fingerprint/1"
# Configuration files whose fields determine the numbers (model, processor, the backbone's own configs).
CONFIG_FILES = (
    "config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "generation_config.json",
)
STATISTICS_FILE = "statistics.json"
EMBODIMENT_IDS_FILE = "embodiment_id.json"
WEIGHT_FILES = (".bin", ".pt", ".pth", ".ckpt")  # weights this module cannot parse: hashed as whole files
LOCAL_PATH = "<local path>"
_FIELD_DEPTH = 3  # deeper JSON subtrees (a tokenizer's vocabulary) are fingerprinted as one field


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _checkpoint_files(ckpt: Path) -> list[Path]:
    return sorted(p for p in ckpt.rglob("*") if p.is_file() and ".cache" not in p.relative_to(ckpt).parts)


def _prefix(ckpt: Path, path: Path) -> str:
    """Tensors are named per directory, not per file: a re-sharded copy keeps the same names."""
    parent = path.parent.relative_to(ckpt).as_posix()
    return "" if parent == "." else f"{parent}/"


def safetensors_tensors(path: Path) -> dict[str, str]:
    """Tensor name -> 'dtype shape sha256' of one .safetensors file, read without torch.

    The format is an 8-byte little-endian header length, a JSON header mapping each tensor to its
    dtype, shape and byte range in the data section, then the raw bytes.
    """
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) != 8:
            raise CheckpointError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        size = int.from_bytes(head, "little")
        try:
            header = json.loads(handle.read(size))
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path}: unreadable safetensors header: {exc}") from exc
        if not isinstance(header, dict):
            raise CheckpointError(f"{path}: safetensors header must be a JSON object")
        start = 8 + size
        tensors = {}
        for name, spec in sorted(header.items()):
            if name == "__metadata__":
                continue
            try:
                begin, end = (int(n) for n in spec["data_offsets"])
                dtype, shape = str(spec["dtype"]), [int(n) for n in spec["shape"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(f"{path}: malformed safetensors entry {name!r}: {exc}") from exc
            handle.seek(start + begin)
            data = handle.read(end - begin)
            if len(data) != end - begin:
                raise CheckpointError(f"{path}: tensor {name!r} runs past the end of the file")
            tensors[name] = f"{dtype} {shape} {_sha(data)[:32]}"
    return tensors


def _without_local_paths(value: Any, ckpt: Path) -> Any:
    """Paths say where a copy lives, not what it computes. A path into the checkpoint (absolute, or
    relative to it like a shipped backbone) becomes '<checkpoint>/<relative>'; any other absolute path
    becomes the marker LOCAL_PATH."""
    if isinstance(value, dict):
        return {k: _without_local_paths(v, ckpt) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_local_paths(v, ckpt) for v in value]
    if not isinstance(value, str) or not value:
        return value
    absolute = value.startswith(("/", "~")) or value[1:3] in (":\\", ":/")
    looks_like_path = "/" in value and "\n" not in value and len(value) < 1024
    if not looks_like_path or (not absolute and not (ckpt / value).is_dir()):
        return value
    try:
        inside = (Path(value).expanduser() if absolute else ckpt / value).resolve().relative_to(ckpt.resolve())
    except (ValueError, OSError):
        return LOCAL_PATH
    return "<checkpoint>" if inside == Path(".") else f"<checkpoint>/{inside.as_posix()}"


def _fields(prefix: str, value: Any, depth: int, into: dict[str, str]) -> None:
    if isinstance(value, dict) and value and depth < _FIELD_DEPTH:
        for key, item in value.items():
            _fields(f"{prefix}.{key}" if depth else f"{prefix}:{key}", item, depth + 1, into)
    else:
        into[prefix] = _sha(_canonical(value))[:16]


def content_fingerprint(ckpt: Path) -> dict[str, Any]:
    """What determines a checkpoint's numbers, independent of where it lives and how it was saved.

    * ``tensors``: every safetensors tensor's dtype, shape and bytes (sha256), by name;
    * ``fields``: model/processor/backbone configuration fields (up to 3 levels deep), local paths removed;
    * ``statistics``: one hash per embodiment tag; ``embodiment_ids``: the tag -> id map itself.
    ``digest`` hashes all of it; :func:`fingerprint_differences` names what differs between two.
    """
    from sources.remembered_hashes import remembered

    ckpt = Path(ckpt)
    tensors: dict[str, str] = {}
    fields: dict[str, str] = {}
    statistics: dict[str, str] = {}
    embodiment_ids: dict[str, Any] = {}
    for path in _checkpoint_files(ckpt):
        relative = path.relative_to(ckpt).as_posix()
        if path.suffix == ".safetensors":
            hashed = remembered("safetensors_tensors", [path], lambda path=path: safetensors_tensors(path))
            tensors.update({_prefix(ckpt, path) + k: v for k, v in hashed.items()})
        elif path.suffix in WEIGHT_FILES:
            tensors[f"{relative} (whole file)"] = _sha(path.read_bytes())
        elif path.name in CONFIG_FILES:
            _fields(relative, _without_local_paths(read_json(path), ckpt), 0, fields)
        elif relative == STATISTICS_FILE:
            statistics = {tag: _sha(_canonical(stats)) for tag, stats in sorted(read_json(path).items())}
        elif relative == EMBODIMENT_IDS_FILE:
            embodiment_ids = dict(sorted(read_json(path).items()))
    body = {
        "scheme": CONTENT_SCHEME,
        "tensors": tensors,
        "fields": dict(sorted(fields.items())),
        "statistics": statistics,
        "embodiment_ids": embodiment_ids,
    }
    return {**body, "digest": _sha(_canonical(body))}


def fingerprint_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per kind of difference, naming every tensor / field / tag that differs (empty: same content)."""
    if recorded.get("scheme") != current.get("scheme"):
        return [f"fingerprint scheme {recorded.get('scheme')!r} vs {current.get('scheme')!r}: not comparable"]
    lines = []
    for section, what in (
        ("tensors", "tensors"),
        ("fields", "config fields"),
        ("statistics", "statistics of tags"),
        ("embodiment_ids", "embodiment ids of tags"),
    ):
        old, new = recorded.get(section) or {}, current.get(section) or {}
        changed = [
            f"{k} ({_what_differs(old[k], new[k])})" if section == "tensors" else k
            for k in sorted(old.keys() & new.keys())
            if old[k] != new[k]
        ]
        only_old, only_new = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("differ:", changed), ("only recorded:", only_old), ("only here:", only_new))
            if names
        ]
        if parts:
            lines.append(f"{what} {'; '.join(parts)}")
    if not lines and recorded.get("digest") != current.get("digest"):
        lines.append(f"digest {str(recorded.get('digest'))[:12]} vs {str(current.get('digest'))[:12]}")
    return lines


def _what_differs(old: str, new: str) -> str:
    """Two 'F32 [4, 2] <sha>' entries -> which of dtype / shape / bytes differ."""
    (a_dtype, _, a_rest), (b_dtype, _, b_rest) = old.partition(" "), new.partition(" ")
    a_shape, b_shape = a_rest.rpartition(" ")[0], b_rest.rpartition(" ")[0]
    parts = [n for n, x, y in (("dtype", a_dtype, b_dtype), ("shape", a_shape, b_shape)) if x != y]
    return ", ".join(parts) if parts else "bytes"
