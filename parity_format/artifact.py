"""One embodiment's recorded run of the original GR00T N1.7 policy, as a pickle-free .npz.

Members (every one a plain .npy that ``np.load(path)`` reads without ``allow_pickle``):

* ``action_pred`` float32 (B, horizon, action_dim); ``seed`` int64 0-d; ``embodiment_tag`` 0-d str
* ``in::<dotted.path>`` collated model inputs, dtype preserved; ``meta_keys`` / ``meta_dtypes``
  1-d str arrays of those member names and their torch dtype strings (LeRobot's consumer reads them)
* ``raw::video.<camera>`` uint8 (B, T, H, W, C), ``raw::state.<key>`` float32 (B, T, D),
  ``raw::language`` 1-d str (B,); ``raw_video_keys`` / ``raw_state_keys`` give the key order
* ``out::<name>`` extra producer outputs
* ``manifest`` 0-d str holding JSON: format name and version, tag, seed, provenance and, for every
  other member, its dtype, shape and :func:`array_checksum`.

Format v2 stores identical arrays once: a later member whose dtype, shape and bytes equal an earlier
one's is listed in the manifest with ``"alias_of": "<earlier member>"`` and has no zip entry (so
plain ``np.load`` does not see it; :func:`read_artifact` restores it). Only members that LeRobot's own
consumer never reads (``raw::*``, ``out::*``) become aliases; v1 files (no aliases) still read.

Files without a manifest are LeRobot-producer ("legacy") files: read best-effort, object members
skipped (never unpickled), ``seed`` None when not recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import codecs, encoding
from .errors import ArtifactError
from .naming import tag_from_filename
from .temp_files import make_temp_file, remove_stale_temp_files

FORMAT_NAME = "groot-parity-artifact"
FORMAT_VERSION = 2  # v2: identical arrays stored once (manifest "alias_of"); v1 files still read
ALIAS = "alias_of"
IN, RAW, OUT = "in::", "raw::", "out::"
MANIFEST = "manifest"
_REQUIRED = ("action_pred", "seed", "embodiment_tag", "meta_keys", "meta_dtypes")
Fail = Callable[..., ArtifactError]  # ArtifactError with the path bound: fail(message, member)


@dataclass(eq=False)
class RawObservation:
    """The observation fed to the original processor; dict order is the stored camera/state order (the
    modality-key order unless the producer was asked for another camera order)."""

    video: dict[str, np.ndarray]  # camera -> uint8 (B, T, H, W, C)
    state: dict[str, np.ndarray]  # key -> float32 (B, T, D)
    language: list[str]  # one instruction per batch element


@dataclass(eq=False)
class Artifact:
    """In-memory artifact. ``seed`` is None only for legacy files that did not record one."""

    embodiment_tag: str
    seed: int | None
    action_pred: np.ndarray
    inputs: dict[str, np.ndarray]  # key without "in::", e.g. "inputs.input_ids"
    input_torch_dtypes: dict[str, str]  # same keys -> "torch.int64" etc.
    raw: RawObservation | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # key without "out::"
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    legacy: bool = False
    notes: list[str] = field(default_factory=list)


def array_checksum(array: np.ndarray) -> str:
    """sha256 hex of ``f"{dtype.str}|{comma-joined shape}|"`` followed by the C-order bytes."""
    digest = hashlib.sha256(f"{array.dtype.str}|{','.join(map(str, array.shape))}|".encode())
    digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def write_artifact(artifact: Artifact, path: Path, encoder: codecs.MemberEncoder | None = None) -> Path:
    """Validate and atomically write ``artifact`` to ``path`` (temp file, fsync, os.replace).

    ``encoder``: a shared :class:`~parity_format.codecs.MemberEncoder` (its compression level, and
    payloads it prefetched); None compresses here at the default level.
    """
    path = Path(path)
    members = _members(artifact, path)
    listed, members = _store_each_array_once(members)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "embodiment_tag": artifact.embodiment_tag,
        "seed": int(members[1][1]),
        "provenance": artifact.provenance,
        "members": listed,
    }
    try:
        members.append((MANIFEST, np.array(json.dumps(manifest))))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(path, f"provenance is not JSON-serializable: {exc}", MANIFEST) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    fd, tmp = make_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as out:
            encoding.write_npz(out, members, encoder)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def aliasable(name: str) -> bool:
    """Whether a duplicate member may be left out of the zip: only those LeRobot's consumer never reads."""
    return name.startswith((RAW, OUT))


def _store_each_array_once(
    members: list[tuple[str, np.ndarray]],
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, np.ndarray]]]:
    """Manifest entries for every member, and the members that get a zip entry.

    The checksum covers dtype, shape and bytes, so equal checksums mean identical arrays.
    """
    listed: dict[str, dict[str, Any]] = {}
    stored: list[tuple[str, np.ndarray]] = []
    first_by_checksum: dict[str, str] = {}
    for name, array in members:
        checksum = array_checksum(array)
        listed[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "sha256": checksum}
        first = first_by_checksum.setdefault(checksum, name)
        if first != name and aliasable(name):
            listed[name][ALIAS] = first
        else:
            stored.append((name, array))
    return listed, stored


def _texts(fail: Fail, member: str, values: Any) -> np.ndarray:
    values = list(values)
    if not all(isinstance(v, str) and "\0" not in v for v in values):
        raise fail("expected strings without NUL characters", member)
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def _members(a: Artifact, path: Path) -> list[tuple[str, np.ndarray]]:
    fail: Fail = partial(ArtifactError, path)

    def check(name: str, array: Any, dtype: Any = None, ndim: int = -1, batch: int = -1) -> tuple[str, np.ndarray]:
        if not isinstance(array, np.ndarray) or not encoding.is_plain_dtype(array.dtype):
            raise fail(f"must be a plain (non-object) numpy array, got {getattr(array, 'dtype', type(array))}", name)
        if (dtype is not None and array.dtype != dtype) or ndim not in (-1, array.ndim):
            raise fail(f"must be {np.dtype(dtype)} with {ndim} dims, got {array.dtype} {array.shape}", name)
        if batch >= 0 and array.shape[0] != batch:
            raise fail(f"batch size {array.shape[0]} != {batch} language entries", name)
        return name, array

    raw = a.raw or RawObservation({}, {}, [])
    for key in [*a.inputs, *a.outputs, *raw.video, *raw.state]:
        if not isinstance(key, str) or not key or "\0" in key:
            raise fail(f"invalid key {key!r}")
    if not isinstance(a.seed, (int, np.integer)) or isinstance(a.seed, bool):
        raise fail(f"seed must be an int, got {a.seed!r}", "seed")
    if not isinstance(a.embodiment_tag, str) or not a.embodiment_tag:
        raise fail(f"embodiment_tag must be a non-empty str, got {a.embodiment_tag!r}", "embodiment_tag")
    if list(a.input_torch_dtypes) != list(a.inputs):
        raise fail("input_torch_dtypes must have the same keys, in order, as inputs", "meta_dtypes")
    members = [
        check("action_pred", a.action_pred, np.float32, 3),
        ("seed", np.array(int(a.seed), dtype=np.int64)),
        ("embodiment_tag", _texts(fail, "embodiment_tag", [a.embodiment_tag]).reshape(())),
        ("meta_keys", _texts(fail, "meta_keys", (IN + k for k in a.inputs))),
        ("meta_dtypes", _texts(fail, "meta_dtypes", a.input_torch_dtypes.values())),
        *(check(IN + k, v) for k, v in a.inputs.items()),
    ]
    if a.raw is not None:
        n = len(raw.language)
        members += [
            ("raw_video_keys", _texts(fail, "raw_video_keys", raw.video)),
            ("raw_state_keys", _texts(fail, "raw_state_keys", raw.state)),
            *(check(f"{RAW}video.{k}", v, np.uint8, 5, n) for k, v in raw.video.items()),
            *(check(f"{RAW}state.{k}", v, np.float32, 3, n) for k, v in raw.state.items()),
            (f"{RAW}language", _texts(fail, f"{RAW}language", raw.language)),
        ]
    return members + [check(OUT + k, v) for k, v in a.outputs.items()]


def read_artifact(path: Path) -> Artifact:
    """Read and verify an artifact (current format) or best-effort load a legacy one."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(path, "file not found")
    with encoding.open_npz(path) as zf:  # regular files only, within the size caps (parity_format.limits)
        headers = encoding.read_headers(path, zf)
        if MANIFEST not in headers:
            return _read_legacy(path, zf, headers)
        return _read_current(path, zf, headers)


def _read_legacy(path: Path, zf: zipfile.ZipFile, headers: dict[str, encoding.MemberHeader]) -> Artifact:
    arrays, notes = {}, []
    for name, header in headers.items():
        if encoding.is_plain_dtype(header.dtype):
            arrays[name] = encoding.read_member(path, zf, name, header)
        else:
            notes.append(f"skipped object member {name} (legacy, not unpickled)")
    device = arrays.get("device")
    is_text = device is not None and device.dtype.kind == "U" and device.ndim == 0
    provenance = {"device": str(arrays.pop("device"))} if is_text else {}
    return _assemble(path, arrays, legacy=True, provenance=provenance, notes=notes)


def _read_current(path: Path, zf: zipfile.ZipFile, headers: dict[str, encoding.MemberHeader]) -> Artifact:
    fail: Fail = partial(ArtifactError, path)
    manifest = _manifest(fail, encoding.read_member(path, zf, MANIFEST, headers[MANIFEST]))
    listed: dict[str, dict[str, Any]] = manifest["members"]
    for name, header in headers.items():
        if not encoding.is_plain_dtype(header.dtype):
            raise fail(f"{header.dtype} member refused: artifacts never hold pickles", name)
        if name not in listed and name != MANIFEST:
            raise fail("present in the file but not listed in the manifest", name)
    aliases = _aliases(fail, manifest, headers)
    missing = [name for name in listed if name not in headers and name not in aliases]
    if missing:
        raise fail("listed in the manifest but missing from the file", missing[0])
    arrays = {}
    for name, header in headers.items():
        if name == MANIFEST:
            continue
        arrays[name] = array = encoding.read_member(path, zf, name, header)
        _verify_checksum(fail, name, listed[name], array)
    for name, target in aliases.items():  # an alias carries its own checksum: verify it against the target
        _verify_checksum(fail, name, listed[name], arrays[target])
        arrays[name] = arrays[target].copy()  # a copy: editing one member must not change its twin
    arrays = {name: arrays[name] for name in listed}  # manifest order (aliases have no zip position)
    artifact = _assemble(path, arrays, legacy=False, provenance=manifest["provenance"], notes=[])
    if [artifact.embodiment_tag, artifact.seed] != [manifest["embodiment_tag"], manifest["seed"]]:
        raise fail("embodiment_tag/seed members disagree with the manifest", MANIFEST)
    return artifact


def _verify_checksum(fail: Fail, name: str, expected: dict[str, Any], array: np.ndarray) -> None:
    actual = array_checksum(array)  # the checksum covers dtype and shape too
    if actual != expected.get("sha256"):
        want = f"{str(expected.get('sha256'))[:16]}… ({expected.get('dtype')} {expected.get('shape')})"
        got = f"{actual[:16]}… ({array.dtype.str} {list(array.shape)})"
        raise fail(f"checksum mismatch: expected {want}, got {got}", name)


def _aliases(fail: Fail, manifest: dict[str, Any], headers: dict[str, encoding.MemberHeader]) -> dict[str, str]:
    """alias -> stored member, each checked: v2+, aliasable name, no zip entry, target stored."""
    aliases: dict[str, str] = {}
    for name, entry in manifest["members"].items():
        if ALIAS not in entry:
            continue
        target = entry[ALIAS]
        if manifest["format_version"] < 2:
            raise fail(f"'{ALIAS}' needs format v2, the manifest says v{manifest['format_version']}", name)
        if name in headers:
            raise fail(f"listed as an alias of {target!r} but also stored in the file", name)
        if not aliasable(name):
            raise fail("must be stored in the file (LeRobot's consumer reads it), not an alias", name)
        if not isinstance(target, str) or target not in headers or target == MANIFEST:
            raise fail(f"alias of {target!r}, which is not a member stored in the file", name)
        aliases[name] = target
    return aliases


def _manifest(fail: Fail, array: np.ndarray) -> dict[str, Any]:
    try:
        manifest = json.loads(_text(fail, MANIFEST, array))
    except ValueError as exc:
        raise fail(f"manifest is not valid JSON: {exc}", MANIFEST) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else manifest
        raise fail(f"not a {FORMAT_NAME} file (format {found!r})", MANIFEST)
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise fail(f"invalid format_version {version!r}", MANIFEST)
    if version > FORMAT_VERSION:
        upgrade = f"this reader supports v{FORMAT_VERSION}; upgrade groot-parity"
        raise fail(f"written by format v{version}; {upgrade}", MANIFEST)
    members, provenance = manifest.get("members"), manifest.get("provenance")
    if not isinstance(members, dict) or not all(isinstance(m, dict) for m in members.values()):
        raise fail("manifest 'members' must map member names to objects", MANIFEST)
    if not isinstance(provenance, dict) or not {"embodiment_tag", "seed"} <= manifest.keys():
        raise fail("manifest lacks provenance/embodiment_tag/seed", MANIFEST)
    return manifest


def _text(fail: Fail, name: str, array: np.ndarray) -> str:
    if array.dtype.kind != "U" or array.ndim != 0:
        raise fail(f"expected a 0-d unicode string, got {array.dtype} {array.shape}", name)
    return str(array)


def _text_list(fail: Fail, name: str, array: np.ndarray) -> list[str]:
    if array.dtype.kind != "U" or array.ndim != 1:
        raise fail(f"expected a 1-d unicode array, got {array.dtype} {array.shape}", name)
    return [str(v) for v in array.tolist()]


def _assemble(
    path: Path, arrays: dict[str, np.ndarray], *, legacy: bool, provenance: dict[str, Any], notes: list[str]
) -> Artifact:
    """Build the Artifact from loaded members; consumes ``arrays`` and notes what it ignored."""
    fail: Fail = partial(ArtifactError, path)

    def pop(name: str, why: str = "") -> np.ndarray:
        if name not in arrays:
            raise fail(f"missing required member{why}", name)
        return arrays.pop(name)

    for name in ("action_pred",) if legacy else _REQUIRED:
        if name not in arrays:
            raise fail("missing required member", name)
    action_pred = pop("action_pred")
    file_tag = tag_from_filename(path.name)
    if "embodiment_tag" in arrays or file_tag is None:  # legacy files may rely on the file name
        tag = _text(fail, "embodiment_tag", pop("embodiment_tag", " (and no tag in the file name)"))
    else:
        tag = file_tag
    seed = None
    if "seed" in arrays:
        seed_array = arrays.pop("seed")
        if seed_array.ndim != 0 or seed_array.dtype.kind not in "iu":
            raise fail(f"expected a 0-d integer, got {seed_array.dtype} {seed_array.shape}", "seed")
        seed = int(seed_array)
    else:
        notes.append("no seed recorded (legacy file); seed is None")
    inputs = {name[len(IN) :]: arrays.pop(name) for name in list(arrays) if name.startswith(IN)}
    declared: dict[str, str] = {}
    if "meta_keys" in arrays and "meta_dtypes" in arrays:
        keys = _text_list(fail, "meta_keys", arrays.pop("meta_keys"))
        dtypes = _text_list(fail, "meta_dtypes", arrays.pop("meta_dtypes"))
        if len(keys) != len(dtypes) or (not legacy and keys != [IN + k for k in inputs]):
            raise fail("meta_keys/meta_dtypes do not match the in:: members", "meta_keys")
        declared = dict(zip(keys, dtypes, strict=True))
    raw = None
    if {"raw_video_keys", "raw_state_keys", f"{RAW}language"} <= arrays.keys():
        video_keys = _text_list(fail, "raw_video_keys", arrays.pop("raw_video_keys"))
        state_keys = _text_list(fail, "raw_state_keys", arrays.pop("raw_state_keys"))
        raw = RawObservation(
            video={k: pop(f"{RAW}video.{k}", " (named in raw_video_keys)") for k in video_keys},
            state={k: pop(f"{RAW}state.{k}", " (named in raw_state_keys)") for k in state_keys},
            language=_text_list(fail, f"{RAW}language", arrays.pop(f"{RAW}language")),
        )
    outputs = {name[len(OUT) :]: arrays.pop(name) for name in list(arrays) if name.startswith(OUT)}
    notes.extend(f"ignored unrecognised member {name}" for name in arrays)
    if file_tag not in (None, tag):
        notes.append(f"file name says tag {file_tag!r} but the artifact holds {tag!r}")
    torch_dtypes = {k: declared.get(IN + k, f"torch.{v.dtype.name}") for k, v in inputs.items()}
    return Artifact(tag, seed, action_pred, inputs, torch_dtypes, raw, outputs, provenance, path, legacy, notes)
