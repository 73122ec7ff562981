"""coverage.py JSON -> the Markdown report of what the golden replays never execute.

Per module: statements, executed, the executed share; and the share of the *inference path*, which leaves
out the never-executed statements of functions classified out of scope (executed statements always count).
Then, grouped by function, every statement never executed: functions never entered (each classified, or
listed loudly as UNCLASSIFIED) and functions entered but not fully executed (their dark lines).

    python -m path_coverage.report --port port.json [--original original.json] --out reports/coverage.md

Exit status 1 when a dark function of the port is unclassified or a classification entry matches nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from path_coverage.classification import DEFAULT_FILE, Entry, classify, load_classification
from path_coverage.scope import module_name


@dataclass
class FunctionLines:
    name: str
    executed: int
    missing: list[int]

    @property
    def dark(self) -> bool:
        """Never entered: none of its statements ran."""
        return self.executed == 0 and bool(self.missing)


@dataclass
class ModuleCoverage:
    module: str
    statements: int
    executed: int
    functions: list[FunctionLines] = field(default_factory=list)
    out_of_scope_missing: int = 0  # never-executed statements of out-of-scope functions

    @property
    def share(self) -> float:
        return 100.0 * self.executed / self.statements if self.statements else 100.0

    @property
    def inference_statements(self) -> int:
        return self.statements - self.out_of_scope_missing

    @property
    def inference_share(self) -> float:
        total = self.inference_statements
        return 100.0 * self.executed / total if total else 100.0


def read_coverage(path: Path) -> list[ModuleCoverage]:
    """Modules of a ``coverage json`` file, sorted by name; functions as coverage.py's regions give them."""
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    modules = []
    for filename, data in files.items():
        summary = data["summary"]
        functions = [
            FunctionLines(name or "<module>", len(f["executed_lines"]), list(f["missing_lines"]))
            for name, f in data.get("functions", {}).items()
        ]
        modules.append(
            ModuleCoverage(module_name(filename), summary["num_statements"], summary["covered_lines"], functions)
        )
    return sorted(modules, key=lambda m: m.module)


def line_ranges(lines: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    ranges: list[str] = []
    start = prev = None
    for line in sorted(lines):
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            ranges.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = line
    if start is not None:
        ranges.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(ranges)


@dataclass
class Classified:
    modules: list[ModuleCoverage]
    by_function: dict[tuple[str, str], Entry | None]  # every dark function of the port -> its entry
    unused_entries: list[tuple[Entry, str]]  # (entry, pattern) naming no function it could classify
    partial: dict[tuple[str, str], Entry] = field(default_factory=dict)  # classified, entered, not fully run


def apply_classification(modules: list[ModuleCoverage], entries: list[Entry]) -> Classified:
    by_function: dict[tuple[str, str], Entry | None] = {}
    partial: dict[tuple[str, str], Entry] = {}
    used: set[tuple[int, str]] = set()
    for module in modules:
        for function in module.functions:
            entry = classify(entries, module.module, function.name)
            # a gap names functions never entered; out of scope may also name the dark lines of entered ones
            if entry is not None and (function.dark or (entry.scope == "out" and function.missing)):
                used.update((id(entry), p) for p in entry.matching_patterns(module.module, function.name))
            if entry is not None and entry.scope == "out":
                module.out_of_scope_missing += len(function.missing)
            if function.dark:
                by_function[module.module, function.name] = entry
            elif entry is not None and function.missing:
                partial[module.module, function.name] = entry
    unused = [(e, p) for e in entries for p in e.functions if (id(e), p) not in used]
    return Classified(modules, by_function, unused, partial)


def totals_row(modules: list[ModuleCoverage]) -> str:
    statements = sum(m.statements for m in modules)
    executed = sum(m.executed for m in modules)
    inference = sum(m.inference_statements for m in modules)
    share = 100.0 * executed / statements if statements else 100.0
    inference_share = 100.0 * executed / inference if inference else 100.0
    return f"| **total** | {statements} | {executed} | {share:.0f}% | {inference} | {inference_share:.0f}% |"


def port_section(result: Classified) -> list[str]:
    lines = [
        "## LeRobot's port (consumer side)",
        "",
        "| module | statements | executed | share | inference-path statements | inference-path share |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in result.modules:
        lines.append(
            f"| `{m.module}` | {m.statements} | {m.executed} | {m.share:.0f}% | {m.inference_statements} | "
            f"{m.inference_share:.0f}% |"
        )
    lines += [totals_row(result.modules), ""]
    unclassified = [key for key, entry in result.by_function.items() if entry is None]
    if unclassified:
        lines += [
            f"### UNCLASSIFIED DARK FUNCTIONS: {len(unclassified)}",
            "",
            "Classify each in `path_coverage/port_classification.toml` (out of scope with its reason, or a gap):",
            "",
            *[f"- **UNCLASSIFIED** `{module}` `{function}`" for module, function in unclassified],
            "",
        ]
    if result.unused_entries:
        lines += [
            f"### STALE CLASSIFICATION ENTRIES: {len(result.unused_entries)}",
            "",
            "These names match no function they could classify any more (the goldens execute it now, or it was "
            "renamed):",
            "",
            *[f"- `{e.module}` `{pattern}` ({e.scope}/{e.kind})" for e, pattern in result.unused_entries],
            "",
        ]
    for m in result.modules:
        dark = [f for f in m.functions if f.dark]
        partial = [f for f in m.functions if not f.dark and f.missing]
        if not dark and not partial:
            continue
        lines += [f"### `{m.module}`: {m.share:.0f}% executed, inference path {m.inference_share:.0f}%", ""]
        gaps = [f for f in dark if (e := result.by_function[m.module, f.name]) is not None and e.scope == "gap"]
        if gaps:
            lines += ["Gaps (inference code no golden reaches):", ""]
            lines += [
                f"- `{f.name}` (lines {line_ranges(f.missing)}): {result.by_function[m.module, f.name].reason}"  # type: ignore[union-attr]
                for f in gaps
            ]
            lines.append("")
        out = [f for f in dark if (e := result.by_function[m.module, f.name]) is not None and e.scope == "out"]
        if out:
            lines += ["Never entered, out of scope:", ""]
            for f in out:
                entry = result.by_function[m.module, f.name]
                assert entry is not None
                lines.append(f"- `{f.name}` ({len(f.missing)} statements) [{entry.kind}]: {entry.reason}")
            lines.append("")
        loud = [f for f in dark if result.by_function[m.module, f.name] is None]
        if loud:
            lines += ["Never entered, **UNCLASSIFIED**:", ""]
            lines += [f"- **UNCLASSIFIED** `{f.name}` (lines {line_ranges(f.missing)})" for f in loud]
            lines.append("")
        if partial:
            lines += ["Entered, with statements never executed:", ""]
            for f in partial:
                entry = result.partial.get((m.module, f.name))
                note = f" [{entry.scope}/{entry.kind}: {entry.reason}]" if entry else ""
                lines.append(f"- `{f.name}`: lines {line_ranges(f.missing)}{note}")
            lines.append("")
    return lines


def original_section(modules: list[ModuleCoverage]) -> list[str]:
    lines = [
        "## The original, gr00t (producer side, producing the goldens)",
        "",
        "For reference: the original's code that the golden inputs never reach (not classified).",
        "",
        "| module | statements | executed | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| `{m.module}` | {m.statements} | {m.executed} | {m.share:.0f}% |" for m in modules]
    statements = sum(m.statements for m in modules)
    executed = sum(m.executed for m in modules)
    lines += [f"| **total** | {statements} | {executed} | {100.0 * executed / max(statements, 1):.0f}% |", ""]
    for m in modules:
        dark = [f for f in m.functions if f.missing]
        if not dark:
            continue
        lines += [f"### `{m.module}`: {m.share:.0f}% executed", ""]
        for f in dark:
            state = "never entered" if f.dark else "entered"
            lines.append(f"- `{f.name}` ({state}): lines {line_ranges(f.missing)}")
        lines.append("")
    return lines


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def build_report(port: Path, original: Path | None, classification: Path) -> tuple[str, Classified]:
    entries = load_classification(classification)
    result = apply_classification(read_coverage(port), entries)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Path coverage of the golden replays",
        "",
        f"{now}, commit {git_commit()}. Written by `make coverage` (path_coverage/report.py); "
        "docs/coverage.md explains the figures.",
        "",
        *port_section(result),
    ]
    if original is not None:
        lines += original_section(read_coverage(original))
    else:
        lines += ["## The original, gr00t", "", "Not measured: gr00t is not installed in the producer env.", ""]
    return "\n".join(lines), result


def summary_lines(result: Classified) -> list[str]:
    rows = [f"{m.module:<52} {m.share:5.0f}%  inference path {m.inference_share:5.0f}%" for m in result.modules]
    unclassified = sum(entry is None for entry in result.by_function.values())
    rows.append(f"unclassified dark functions: {unclassified}; stale entries: {len(result.unused_entries)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m path_coverage.report", description=__doc__)
    parser.add_argument("--port", type=Path, required=True, help="coverage json of the consumer replays")
    parser.add_argument("--original", type=Path, default=None, help="coverage json of the producer runs")
    parser.add_argument("--classification", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write")
    args = parser.parse_args(argv)
    text, result = build_report(args.port, args.original, args.classification)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print("\n".join(summary_lines(result)))
    print(f"report: {args.out}")
    unclassified = any(entry is None for entry in result.by_function.values())
    if unclassified or result.unused_entries:
        print("path coverage: UNCLASSIFIED dark functions or stale entries (see the report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
