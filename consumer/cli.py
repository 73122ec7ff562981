"""groot-parity-consume: run every parity check (model, preprocessor, decode) on every artifact and print one table.

The same checks as the pytest suite (`make consume`), for a person: one row per (artifact, check) with
the worst tensor and its max |diff|, known divergences marked as such, and the full per-tensor table of
anything that failed. Exit status 1 if any check failed (xfail and skip do not count), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from consumer.checks import CHECKS, CheckResult, ParitySession, discover, write_json_report
from consumer.settings import KNOBS, SettingsError, settings_from_env

STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "xfail": "KNOWN DIVERGENCE", "skip": "SKIP"}


def build_parser() -> argparse.ArgumentParser:
    epilog = "environment knobs:\n" + "\n".join(f"  {k}\n      {v}" for k, v in KNOBS.items())
    parser = argparse.ArgumentParser(
        prog="groot-parity-consume",
        description=__doc__,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, default=None, help="artifact directory (default: GROOT_N1_7_PARITY_DIR)")
    parser.add_argument("--tags", default="", help="only these embodiment tags (comma-separated)")
    parser.add_argument("--check", choices=CHECKS, action="append", help="only this check (repeatable)")
    return parser


def worst(result: CheckResult) -> tuple[str, str]:
    if result.report is None or not result.report.tensors:
        return "-", "-"
    ranked = sorted(result.report.tensors, key=lambda t: (t.passed, -(t.max_abs_diff or 0.0)))
    top = ranked[0]
    return top.name, "-" if top.max_abs_diff is None else f"{top.max_abs_diff:.2e}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_env()
    except SettingsError as exc:
        print(f"groot-parity-consume: error: {exc}", file=sys.stderr)
        return 2
    directory = args.dir or settings.artifact_dir
    cases = discover(directory)
    wanted = {t.strip() for t in args.tags.split(",") if t.strip()}
    cases = [c for c in cases if not wanted or c.tag in wanted]
    if not cases:
        print(f"groot-parity-consume: error: no artifacts in {directory}/ (run `make produce`)", file=sys.stderr)
        return 2
    session = ParitySession(settings)
    checks = args.check or list(CHECKS)
    total = len(cases) * len(checks)
    for index, (case, check) in enumerate(((c, k) for c in cases for k in checks), start=1):
        print(f"[{index}/{total}] {case.case_id} {check} ...", end=" ", flush=True)
        result = session.run(case, check)
        print(f"{STATUS_TEXT[result.status]} ({result.seconds:.1f}s)", flush=True)

    rows = [("size", "tag", "check", "result", "worst tensor", "max|diff|", "stages (model check)")]
    for r in session.results:
        stages = r.stages.summary if r.stages else "-"
        rows.append((r.case.group, r.case.tag, r.check, STATUS_TEXT[r.status], *worst(r), stages))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\ntolerances: {settings.tolerances.describe()}")
    for r in session.results:
        if r.status in ("fail", "xfail", "skip"):
            print(f"\n{STATUS_TEXT[r.status]}: {r.case.case_id} {r.check}: {r.message}")
            if r.status == "fail" and r.report is not None:
                print(r.report.format_table())
    json_path = write_json_report(session.results, settings.report_dir, replace(settings, artifact_dir=directory))
    print(f"\nJSON report: {json_path} (make report: Markdown + figures)")
    counts = {s: sum(r.status == s for r in session.results) for s in STATUS_TEXT}
    print(", ".join(f"{n} {STATUS_TEXT[s].lower()}" for s, n in counts.items()))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
