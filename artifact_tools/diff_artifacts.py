"""groot-parity-diff: compare two artifacts of the same embodiment tag, A (reference) against B.

Typical use: the same checkpoint run on two machines, or through two gr00t commits. Compares
action_pred, every in:: input, every raw:: observation and every out:: output with the consumer's
tolerance engine (integer and bool tensors exactly; knobs below). A is the reference: relative
tolerance scales with |A|. Provenance differences (gr00t commit, versions, device, checkpoint, seed)
are listed as notes; they explain differences but never fail the diff by themselves.
Exit status: 0 all within tolerance, 1 a tensor out of tolerance or the member sets differ,
2 bad usage, unreadable artifact, malformed tolerance knob, or different tags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artifact_tools import EXIT_DIFFERENT, EXIT_OK, error, parse_args
from comparison.compare import ComparisonReport, TensorComparison, compare_mappings
from comparison.tolerance import ToleranceConfig, ToleranceConfigError, knobs_help, tolerance_from_env
from parity_format.artifact import IN, OUT, RAW, Artifact, read_artifact
from parity_format.errors import ArtifactError
from parity_format.safe_text import safe_lines, safe_text

PROG = "groot-parity-diff"
LANGUAGE = f"{RAW}language"
#: Provenance that differs on every run by design; a difference there explains nothing.
IGNORED_PROVENANCE = ("created_utc", "command")


def tensors(artifact: Artifact) -> dict[str, np.ndarray]:
    """Every numeric array under its member name (safe_text), in file order (language is compared separately)."""
    out = {"action_pred": artifact.action_pred}
    out.update({IN + k: v for k, v in artifact.inputs.items()})
    if artifact.raw is not None:
        out.update({f"{RAW}video.{k}": v for k, v in artifact.raw.video.items()})
        out.update({f"{RAW}state.{k}": v for k, v in artifact.raw.state.items()})
    out.update({OUT + k: v for k, v in artifact.outputs.items()})
    return {safe_text(name): array for name, array in out.items()}


def _compare_language(report: ComparisonReport, a: Artifact, b: Artifact) -> None:
    """Instructions are strings, which compare_tensor cannot handle: equal or not, as one more row."""
    if a.raw is None or b.raw is None:
        if a.raw is not None:
            report.only_expected.append(LANGUAGE)
        elif b.raw is not None:
            report.only_actual.append(LANGUAGE)
        return
    ea, eb = a.raw.language, b.raw.language
    row = TensorComparison(LANGUAGE, ea == eb, True, (len(ea),), (len(eb),), "str", "str", None)
    differing = [i for i, (x, y) in enumerate(zip(ea, eb, strict=False)) if x != y]
    if len(ea) != len(eb):
        row.notes.append(f"{len(ea)} vs {len(eb)} instructions")
    elif differing:
        row.mismatch_count, row.mismatch_fraction = len(differing), len(differing) / len(ea)
        i = differing[0]
        row.notes.append(f"instruction {i} differs: {ea[i]!r} vs {eb[i]!r}")
    else:
        row.mismatch_count, row.mismatch_fraction = 0, 0.0
    first_out = next((i for i, t in enumerate(report.tensors) if t.name.startswith(OUT)), len(report.tensors))
    report.tensors.insert(first_out, row)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


def provenance_differences(a: Artifact, b: Artifact) -> list[dict[str, Any]]:
    """Dotted provenance keys (plus seed and legacy) whose values differ, as {"key", "a", "b"}."""
    pa = {**_flatten(a.provenance), "seed": a.seed, "legacy": a.legacy}
    pb = {**_flatten(b.provenance), "seed": b.seed, "legacy": b.legacy}
    keys = [*pa, *(k for k in pb if k not in pa)]
    return [
        {"key": k, "a": pa.get(k), "b": pb.get(k)}
        for k in keys
        if k.split(".")[0] not in IGNORED_PROVENANCE and pa.get(k) != pb.get(k)
    ]


def _short(value: Any, key: str) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"{text[:12]}…" if key.endswith("fingerprint") and isinstance(value, str) else text


def diff(a: Artifact, b: Artifact, config: ToleranceConfig) -> tuple[ComparisonReport, list[dict[str, Any]]]:
    """The comparison report of B against A, with provenance differences appended as notes."""
    with np.errstate(invalid="ignore"):  # NaN payloads warn when widened to float64; they compare fine
        report = compare_mappings(f"{a.embodiment_tag}: B vs A (reference)", tensors(a), tensors(b), config)
    _compare_language(report, a, b)
    if a.embodiment_tag != b.embodiment_tag:
        report.notes.append(f"different tags compared: {a.embodiment_tag!r} vs {b.embodiment_tag!r}")
    for key, torch_dtype in a.input_torch_dtypes.items():
        other = b.input_torch_dtypes.get(key, torch_dtype)
        if other != torch_dtype:
            report.notes.append(f"torch dtype of {IN}{key} differs: {torch_dtype} vs {other}")
    differences = provenance_differences(a, b)
    for d in differences:
        report.notes.append(f"provenance differs: {d['key']}: {_short(d['a'], d['key'])} vs {_short(d['b'], d['key'])}")
    return report, differences


def verdict(report: ComparisonReport) -> str:
    """One line for scripts and people: PASS/FAIL, counts, the failing names."""
    bad = [t.name for t in report.tensors if not t.passed]
    text = f"{len(report.tensors) - len(bad)}/{len(report.tensors)} tensors within tolerance"
    if bad:
        text += f"; out of tolerance: {', '.join(bad)}"
    if report.only_expected or report.only_actual:
        only_a, only_b = ", ".join(report.only_expected) or "-", ", ".join(report.only_actual) or "-"
        text += f"; only in A: {only_a}; only in B: {only_b}"
    return f"{'PASS' if report.passed else 'FAIL'}: {text}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog="tolerance knobs (environment):\n" + knobs_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", type=Path, metavar="A", help="reference artifact (.npz)")
    parser.add_argument("b", type=Path, metavar="B", help="artifact compared against A (.npz)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report (+ provenance diffs) here")
    parser.add_argument("--allow-different-tags", action="store_true", help="compare even if the tags differ")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        config = tolerance_from_env()
        a, b = read_artifact(args.a), read_artifact(args.b)
    except (ToleranceConfigError, ArtifactError) as exc:
        return error(PROG, str(exc))
    if a.embodiment_tag != b.embodiment_tag and not args.allow_different_tags:
        return error(
            PROG,
            f"different embodiment tags: A is {a.embodiment_tag!r}, B is {b.embodiment_tag!r}; "
            "diff compares two runs of one tag (--allow-different-tags to compare anyway)",
        )
    report, differences = diff(a, b, config)
    line = verdict(report)
    print(f"A: {safe_text(args.a)}\nB: {safe_text(args.b)}\n")
    print(safe_lines(report.format_table()))
    print(f"\n{safe_text(line)}")
    if args.json is not None:
        payload = {**report.to_dict(), "a": str(args.a), "b": str(args.b), "verdict": line}
        payload["provenance_differences"] = differences
        try:
            args.json.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        except (OSError, ValueError) as exc:
            return error(PROG, f"cannot write {args.json}: {exc}")
    return EXIT_OK if report.passed else EXIT_DIFFERENT


if __name__ == "__main__":
    sys.exit(main())
