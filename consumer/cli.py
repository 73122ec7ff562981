"""groot-parity-consume: run every parity check on every artifact and print one table.

The same checks as the pytest suite (`make consume`), for a person: one row per (artifact, check) with
the worst tensor, its max |diff| and scale error, known divergences marked as such, and the full
per-tensor table of anything that failed. Exit status 1 if any check failed (xfail and skip do not
count), if the JSON report could not be written, in CI if every check skipped, or, with CI set, if a
GROOT_PARITY_TOL entry matched no tensor; 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from typing import Any

from comparison.formatting import fmt_num
from comparison.results import CheckResult
from comparison.status import Status
from comparison.tables import align_columns
from comparison.tier_tables import tier_summary
from comparison.tolerance_blindness import blind_spots
from consumer.checks import CHECKS, EPISODE_CHECKS, REGISTRY
from consumer.ci_env import running_in_ci
from consumer.exit_policy import exit_code, run_problems
from consumer.preflight import check_environment
from consumer.reports.json_report import write_json_report
from consumer.reports.report_file import ReportDirError
from consumer.session import ParitySession, discover, discover_episode_cases
from consumer.settings import KNOBS, SettingsError, artifact_dir_from, settings_from_env
from parity_format.safe_text import safe_lines, safe_text


def build_parser() -> argparse.ArgumentParser:
    checks = "checks:\n" + "\n".join(f"  {c.name}: {c.summary}" for c in REGISTRY.values())
    epilog = checks + "\n\nenvironment knobs:\n" + "\n".join(f"  {k}\n      {v}" for k, v in KNOBS.items())
    parser = argparse.ArgumentParser(
        prog="groot-parity-consume",
        description=__doc__,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="artifact directory or hf://datasets/<org>/<name>@<rev>[/<subdir>] (default: GROOT_N1_7_PARITY_DIR)",
    )
    parser.add_argument("--tags", default="", help="only these embodiment tags (comma-separated)")
    parser.add_argument("--check", choices=tuple(REGISTRY), action="append", help="only this check (repeatable)")
    return parser


def worst(result: CheckResult) -> tuple[str, str, str]:
    """(name, max |diff|, scale error) of the tensor the result is judged by (``ComparisonReport.worst``)."""
    top = result.report.worst() if result.report else None
    return (top.name, fmt_num(top.max_abs_diff), fmt_num(top.scale_error)) if top else ("-", "-", "-")


def figures(results: list[CheckResult]) -> list[str]:
    """Per (check, float tensor), the worst figures over all artifacts: what a tolerance is chosen from."""
    worst_of: dict[tuple[str, str], list[Any]] = {}
    for r in results:
        for rep in (r.report, r.stages.report if r.stages else None):
            for t in rep.tensors if rep is not None else []:
                if t.exact or t.max_abs_diff is None:
                    continue
                row = worst_of.setdefault((r.check, t.name), [0, 0.0, 0.0, 0.0, 0.0, 1.0])
                row[0] += 1
                row[1] = max(row[1], t.max_abs_diff)
                row[2] = max(row[2], t.p99_abs_diff or 0.0)
                row[3] = max(row[3], t.max_rel_diff or 0.0)
                row[4] = max(row[4], t.scale_error or 0.0)
                row[5] = min(row[5], 1.0 if t.cosine is None else t.cosine)
    rows = [("check", "tensor", "artifacts", "max|diff|", "p99|diff|", "max rel", "scale err", "min cosine")]
    for (check, name), (n, *values) in worst_of.items():
        rows.append((check, name, str(n), *(fmt_num(v) for v in values[:4]), f"{values[4]:.7f}"))
    return align_columns(rows)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_env()
        check_environment(settings)
        directory = artifact_dir_from(args.dir) if args.dir else settings.artifact_dir
    except SettingsError as exc:
        print(f"groot-parity-consume: error: {exc}", file=sys.stderr)
        return 2
    cases = discover(directory)
    wanted = {t.strip() for t in args.tags.split(",") if t.strip()}
    cases = [c for c in cases if not wanted or c.tag in wanted]
    episodes = [c for c in discover_episode_cases(directory) if not wanted or c.tag in wanted]
    if not cases and not episodes:
        print(f"groot-parity-consume: error: no artifacts in {directory}/ (run `make produce`)", file=sys.stderr)
        return 2
    session = ParitySession(settings)
    blind = blind_spots(settings.tolerances)  # said before the run and again in the summary (issue 25)
    for line in blind:
        print(f"WARNING: {line}", flush=True)
    checks = [k for k in args.check or CHECKS if k in CHECKS]
    # run check by check, so every artifact's check reuses the model the check needs (consumer/model_store.py);
    # the table and report still list artifact by artifact
    listed = [(c, k) for c in cases for k in checks]
    listed += [(c, k) for c in episodes for k in args.check or EPISODE_CHECKS if k in EPISODE_CHECKS]
    pairs = sorted(listed, key=lambda pair: (checks + list(EPISODE_CHECKS)).index(pair[1]))
    total = len(pairs)
    for index, (case, check) in enumerate(pairs, start=1):
        print(f"[{index}/{total}] {safe_text(case.case_id)} {check} ...", end=" ", flush=True)
        result = session.run(case, check)
        print(f"{result.status.text} ({result.seconds:.1f}s)", flush=True)
    position = {(case.path, check): i for i, (case, check) in enumerate(listed)}
    session.results.sort(key=lambda r: position.get((r.case.path, r.check), len(position)))
    print(session.models.summary(), flush=True)
    # written first, so nothing printed below can cost the report
    unmatched = session.unmatched_tolerance_overrides()
    try:
        json_path = write_json_report(
            session.results, settings.report_dir, replace(settings, artifact_dir=directory), unmatched
        )
        report_line, report_error = f"\nJSON report: {json_path} (make report: Markdown + figures)", ""
    except ReportDirError as exc:  # e.g. the disk filled during the run: the table and summary still print
        report_line, report_error = "", f"groot-parity-consume: error: {exc}"

    rows = [
        ("size", "tag", "check", "result", "worst tensor", "max|diff|", "scale err", "stages (model) / tiers (policy)")
    ]
    for r in session.results:
        stages = r.stages.summary if r.stages else tier_summary(r) if r.tiers else "-"
        rows.append((r.case.group, r.case.tag, r.check, r.status.text, *worst(r), stages))
    rows = [tuple(safe_text(cell) for cell in row) for row in rows]
    print()
    print("\n".join(align_columns(rows)))
    print(f"\ntolerances: {settings.tolerances.describe()}")
    sources = Counter(r.noise_source for r in session.results if r.noise_source)
    if sources:
        print("noise (model check): " + ", ".join(f"{label} x{n}" for label, n in sources.items()))
    for r in session.results:
        if r.check in EPISODE_CHECKS and r.notes:
            print(f"episode {safe_text(r.case.tag)} ({r.status.text}): " + safe_text("; ".join(r.notes)))
    print("\nworst per tensor over all artifacts (float tensors; scale err = max|diff| / max|expected|):")
    print("\n".join(figures(session.results)))
    warnings = [
        f"warning: {r.case.case_id} {r.check} {t.name}: {w}"
        for r in session.results
        for rep in (r.report, r.stages.report if r.stages else None)
        for t in (rep.tensors if rep is not None else [])
        for w in t.warnings
    ]
    if warnings:
        print("\n" + "\n".join(warnings))
    for r in session.results:
        if r.status != Status.PASS:
            print(f"\n{safe_lines(r.headline()) if settings.debug else safe_text(r.headline())}")
            if r.status == Status.FAIL and r.report is not None:
                print(safe_lines(r.report.format_table()))
    if blind:
        print("\n" + "\n".join(f"WARNING: {line}; its PASS proves nothing" for line in blind))
    if report_line:
        print(report_line)
    problems = run_problems(session.results, unmatched, running_in_ci())
    for problem in problems:
        print(f"\n{problem.message}")
    counts = {s: sum(r.status == s for r in session.results) for s in Status}
    print(", ".join(f"{n} {s.text.lower()}" for s, n in counts.items()))
    if report_error:
        print(report_error, file=sys.stderr)
        return 1
    return exit_code(session.results, problems)


if __name__ == "__main__":
    raise SystemExit(main())
