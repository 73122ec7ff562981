"""groot-parity-inspect: what an artifact holds, where it came from, and whether it is intact.

Prints the manifest (format, tag, seed, provenance) and one row per member: dtype, shape, checksum
against the manifest ("n/a" for legacy files, which have none) and min/max/mean of numeric members
(NaN/inf excluded and counted). Object (pickle) members are listed from their header, never loaded.
Exit status: 0 every file is intact, 2 a file is unreadable or corrupt (the reader's error names the
file and member).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from artifact_tools import EXIT_OK, error, parse_args, table
from parity_format import encoding
from parity_format.artifact import ALIAS, MANIFEST, array_checksum, read_artifact
from parity_format.errors import ArtifactError
from parity_format.safe_text import safe_text

PROG = "groot-parity-inspect"
_STATS_CHUNK = 1 << 20
Number = int | float


@dataclass
class Member:
    """One .npy member as stored; ``checksum`` is ok | MISMATCH | unlisted | unreadable | n/a."""

    name: str
    dtype: str
    shape: list[int]
    checksum: str
    sha256: str | None = None
    min: Number | None = None
    max: Number | None = None
    mean: float | None = None
    nan: int = 0
    inf: int = 0


@dataclass
class Inspection:
    """Everything printed for one file; ``error`` is set when the file cannot be trusted."""

    path: str
    format: str | None = None
    format_version: int | None = None
    embodiment_tag: str | None = None
    seed: int | None = None
    legacy: bool | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    members: list[Member] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def _stats(member: Member, array: np.ndarray) -> None:
    """min/max/mean over the finite values of a bool/int/float array; strings and empties keep None.

    WHY chunked: a temporary float64 copy of a 512 MiB member would double memory, and a plain mean of
    values near the float64 maximum overflows to inf; chunk means of ``values / n`` cannot overflow.
    """
    if array.dtype.kind not in "biuf" or array.size == 0:
        return
    if array.dtype.kind != "f":
        member.min, member.max = int(array.min()), int(array.max())
        member.mean = float(array.mean(dtype=np.float64))
        return
    flat, low, high, mean, seen = array.reshape(-1), math.inf, -math.inf, 0.0, 0
    for start in range(0, flat.size, _STATS_CHUNK):
        chunk = flat[start : start + _STATS_CHUNK]
        finite = np.isfinite(chunk)
        nan = int(np.isnan(chunk).sum())
        member.nan += nan
        member.inf += int(chunk.size - finite.sum()) - nan
        values = chunk[finite].astype(np.float64)
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
            chunk_mean = float(np.sum(values / values.size))
            mean = mean * (seen / (seen + values.size)) + chunk_mean * (values.size / (seen + values.size))
            seen += values.size
    if seen:
        member.min, member.max, member.mean = low, high, mean


def _scan(path: Path) -> tuple[dict[str, Any] | None, list[Member]]:
    """Read every plain member once and check it against the manifest; never decodes object members.

    WHY not just read_artifact: it stops at the first problem and its Artifact no longer knows member
    names, file order or checksums. Per-member problems become rows here; the reader judges the file.
    """
    with encoding.open_npz(path) as zf:
        headers = encoding.read_headers(path, zf)
        manifest: dict[str, Any] | None = None
        if MANIFEST in headers:
            with_text = encoding.read_member(path, zf, MANIFEST, headers[MANIFEST])
            try:
                loaded = json.loads(str(with_text)) if with_text.dtype.kind == "U" else None
            except ValueError:
                loaded = None  # read_artifact reports why
            manifest = loaded if isinstance(loaded, dict) else None
        listed = manifest.get("members") if manifest else None
        listed = listed if isinstance(listed, dict) else {}
        members = []
        for name, header in headers.items():
            if name == MANIFEST:
                continue
            member = Member(name, header.dtype.str, list(header.shape), "n/a")
            members.append(member)
            if not encoding.is_plain_dtype(header.dtype):
                member.dtype = "object"
                continue
            try:
                array = encoding.read_member(path, zf, name, header)
            except ArtifactError:
                member.checksum = "unreadable"
                continue
            member.sha256 = array_checksum(array)
            _stats(member, array)
            if MANIFEST in headers:
                expected = listed.get(name)
                if not isinstance(expected, dict):
                    member.checksum = "unlisted"
                else:
                    same = [member.dtype, member.shape, member.sha256] == [
                        expected.get("dtype"),
                        expected.get("shape"),
                        expected.get("sha256"),
                    ]
                    member.checksum = "ok" if same else "MISMATCH"
        members += _alias_rows(listed, members)
    return manifest, members


def _alias_rows(listed: dict[str, Any], stored: list[Member]) -> list[Member]:
    """Rows for members stored once under another name (format v2 ``alias_of``), checked like the rest."""
    by_name = {m.name: m for m in stored}
    rows = []
    for name, entry in listed.items():
        target = by_name.get(entry.get(ALIAS)) if isinstance(entry, dict) and name not in by_name else None
        if target is None:
            continue
        row = Member(**{**asdict(target), "name": name})
        same = [row.dtype, row.shape, row.sha256] == [entry.get("dtype"), entry.get("shape"), entry.get("sha256")]
        row.checksum = ("ok" if same else "MISMATCH") if target.checksum == "ok" else target.checksum
        rows.append(row)
    return rows


def inspect(path: Path) -> Inspection:
    """Inspect one file; problems end up in ``.error`` (and bad rows), never as an exception."""
    result = Inspection(str(path))
    manifest, artifact = None, None
    try:
        read = read_artifact(path)  # only its verdict and metadata are kept: _scan reads members one at a time
        artifact = replace(read, action_pred=read.action_pred[:0], inputs={}, raw=None, outputs={})
        del read
    except ArtifactError as exc:
        result.error = str(exc)
    try:  # best effort after a failed read: show what can still be shown
        manifest, result.members = _scan(path)
        result.legacy = manifest is None
    except ArtifactError as exc:
        result.error = result.error or str(exc)
    if manifest is not None:
        result.format, result.format_version = manifest.get("format"), manifest.get("format_version")
        result.embodiment_tag, result.seed = manifest.get("embodiment_tag"), manifest.get("seed")
        provenance = manifest.get("provenance")
        result.provenance = provenance if isinstance(provenance, dict) else {}
    if artifact is not None:
        result.embodiment_tag, result.seed, result.legacy = (
            artifact.embodiment_tag,
            artifact.seed,
            artifact.legacy,
        )
        result.provenance, result.notes = artifact.provenance, list(artifact.notes)
    objects = [m.name for m in result.members if m.dtype == "object"]
    if objects and artifact is None:
        result.notes.append(f"object members not loaded (would need pickle): {', '.join(objects)}")
    return result


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "-" if value is None else json.dumps(_json_safe(value))


def _json_safe(value: Any) -> Any:
    """Strict-JSON-able copy: non-finite floats (stats, or NaN in a manifest) become "nan"/"inf"/"-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def provenance_lines(provenance: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs: the fields that decide comparability first, anything else after, verbatim."""
    rest = dict(provenance)
    out: list[tuple[str, str]] = []
    gr00t = rest.pop("gr00t", None)
    if isinstance(gr00t, dict):
        where = "origin" if "origin" in gr00t else "source"  # v2 manifests: commit + origin URL
        out.append(("gr00t commit", f"{gr00t.get('commit') or 'unknown'} ({where} {_text(gr00t.get(where))})"))
    elif gr00t is not None:
        out.append(("gr00t", _text(gr00t)))
    versions = rest.pop("versions", None)
    if isinstance(versions, dict):
        out.append(("versions", ", ".join(f"{k} {_text(v)}" for k, v in versions.items())))
    elif versions is not None:
        out.append(("versions", _text(versions)))
    if "device" in rest or "device_name" in rest:
        device, name = rest.pop("device", None), rest.pop("device_name", None)
        out.append(("device", _text(device) + (f" ({_text(name)})" if name is not None else "")))
    for key in ("dtype", "attention"):
        if key in rest:
            out.append((key, _text(rest.pop(key))))
    checkpoint = rest.pop("checkpoint", None)
    if isinstance(checkpoint, dict):
        ckpt = dict(checkpoint)
        fingerprint = ckpt.pop("fingerprint", None)
        parts = [f"{k} {_text(v)}" for k, v in ckpt.items()]
        parts.append(f"fingerprint {fingerprint[:12]}…" if isinstance(fingerprint, str) else "no fingerprint")
        out.append(("checkpoint", ", ".join(parts)))
    elif checkpoint is not None:
        out.append(("checkpoint", _text(checkpoint)))
    if "created_utc" in rest:
        out.append(("created", _text(rest.pop("created_utc"))))
    command = rest.pop("command", None)
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        out.append(("command", shlex.join(command)))
    elif command is not None:
        out.append(("command", _text(command)))
    return out + [(key, _text(value)) for key, value in rest.items()]


def _num(value: Number | None) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.5g}"


def render(result: Inspection) -> list[str]:
    """Human-readable lines for one file."""
    lines = [safe_text(result.path)]
    if result.legacy is None:
        return [*lines, "  unreadable (see the error)"]
    if result.legacy:
        fmt = "legacy (no manifest: LeRobot-producer layout, read best-effort)"
    else:
        fmt = f"{_text(result.format)} v{_text(result.format_version)}"
    header = [
        ("format", fmt),
        ("embodiment tag", _text(result.embodiment_tag)),
        ("seed", "not recorded" if result.seed is None else str(result.seed)),
        ("legacy", "-" if result.legacy is None else "yes" if result.legacy else "no"),
    ]
    lines += table([(f"{k}:", v) for k, v in header], "  ")
    prov = provenance_lines(result.provenance)
    lines.append("  provenance:" + ("" if prov else " none recorded"))
    lines += table([(f"{k}:", v) for k, v in prov], "    ") if prov else []
    rows = [("member", "dtype", "shape", "checksum", "sha256", "min", "max", "mean")]
    for m in result.members:
        shape = "x".join(map(str, m.shape)) if m.shape else "scalar"
        sha = "-" if m.sha256 is None else m.sha256[:12]
        rows.append((m.name, m.dtype, shape, m.checksum, sha, _num(m.min), _num(m.max), _num(m.mean)))
    lines.append(f"  members ({len(result.members)}, manifest excluded):")
    lines += table(rows, "    ") if result.members else []
    lines += [
        f"  note: {safe_text(m.name)} has {m.nan} NaN, {m.inf} inf (excluded from min/max/mean)"
        for m in result.members
        if m.nan or m.inf
    ]
    lines += [f"  note: {safe_text(n)}" for n in result.notes]
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="artifact .npz file(s)")
    parser.add_argument("--json", action="store_true", help="print a JSON list (one object per file) instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if isinstance(args, int):
        return args
    status, results = EXIT_OK, []
    for index, path in enumerate(args.files):
        result = inspect(path)
        results.append(result)
        if not args.json:
            print(("\n" if index else "") + "\n".join(render(result)), flush=True)
        if result.error is not None:
            status = error(PROG, result.error)
    if args.json:
        print(json.dumps(_json_safe([asdict(r) for r in results]), indent=2, allow_nan=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
