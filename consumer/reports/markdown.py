"""groot-parity-report: the consumer's JSON results as a Markdown page with figures.

Reads the JSON back into the consumer's own result classes (``CheckResult.from_dict``; non-finite
figures are the strings "nan"/"inf"/"-inf"). Writes DIR/report.md (default DIR: report-<stem> next to
RESULTS.json): per embodiment tag a table of checks, the first divergent pipeline stage, per-tensor rows
for failures, and PNG figures linked with relative paths: an |action diff| heatmap (step x dim) and a
per-stage max |diff| bar chart.
Figures need matplotlib, which only the consumer env has: run it there. Exit status: 0 report
written and no check failed, 1 report written and a check failed, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artifact_tools import EXIT_DIFFERENT, EXIT_OK, error, parse_args
from comparison.compare import ComparisonReport
from comparison.formatting import fmt_float, fmt_num, fmt_sci
from comparison.results import CheckResult
from comparison.stage_comparison import StageComparison
from comparison.status import Status
from comparison.tier_tables import TIER_HEADER, tier_rows, tier_summary
from parity_format.limits import LimitsConfigError, NotARegularFile, limits_from_env, read_regular_file
from parity_format.safe_text import safe_text
from parity_format.stage_keys import canonical_stage_key, pipeline_position, stage_label

PROG = "groot-parity-report"
COLORS = ("tab:blue", "tab:red", "tab:orange")  # within tolerance, out of tolerance, first divergence
FLOOR = 1e-12  # log-scale bars cannot show 0: exact stages are drawn here and labelled "0 (exact)"


class ReportError(Exception):
    """Input or environment problem; the message becomes the one ``prog: error:`` line."""


@dataclass
class ReportOutput:
    """What was written; ``highlighted`` maps a stage-chart file name to its first divergent stage."""

    markdown: Path
    figures: list[Path] = field(default_factory=list)
    highlighted: dict[str, str] = field(default_factory=dict)
    failed: int = 0


# -- input -----------------------------------------------------------------------------------------
@dataclass
class Results:
    """A parsed consumer JSON: run facts plus the typed results (``CheckResult.from_dict``)."""

    meta: dict[str, Any]
    results: list[CheckResult]


def load_results(path: Path) -> Results:
    """Parse the consumer JSON back into the consumer's own classes; a malformed entry is one clear error."""
    try:  # a regular file within the artifact cap: never a FIFO (hangs) or /dev/zero (endless)
        limits = limits_from_env()
        data = json.loads(read_regular_file(path, limits.max_artifact_bytes).decode("utf-8"))
    except LimitsConfigError as exc:
        raise ReportError(str(exc)) from exc
    except NotARegularFile as exc:
        raise ReportError(f"cannot read {exc}") from exc
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ReportError(f"{path} is not a groot-parity results file (no 'results' list)")
    results = []
    for index, entry in enumerate(data["results"]):
        try:
            if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("tag", "status")):
                raise ValueError("lacks a string 'tag' and 'status'")
            results.append(CheckResult.from_dict(entry))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"{path}: results[{index}] is not a check result: {exc}") from exc
    return Results({k: v for k, v in data.items() if k != "results"}, results)


def worst(result: CheckResult) -> tuple[str, str]:
    """(name, max |diff|) of the tensor the result is judged by (``ComparisonReport.worst``)."""
    top = result.report.worst() if result.report else None
    return (top.name, fmt_sci(top.max_abs_diff)) if top else ("-", "-")


# -- markdown --------------------------------------------------------------------------------------
def md(text: Any) -> str:
    """Escape for a Markdown table cell: HTML outside `code spans`, pipes everywhere, newlines as <br>."""
    parts = str(text).replace("\r", "").split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: no code spans at all
        parts = [html.escape(str(text), quote=False).replace("`", "\\`")]
    out = [p.replace("\n", " ") if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts)]
    return "`".join(out).replace("|", "\\|").replace("\n", "<br>")


def _code(value: Any) -> str:
    return md(f"`{value}`")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]


def tensor_rows(report: ComparisonReport) -> list[str]:
    """The per-tensor table of one ComparisonReport, then problems, key-set differences and notes."""
    rows = []
    for t in report.tensors:
        fraction = t.mismatch_fraction
        worst_at = "-" if t.worst_action_step is None else f"{t.worst_action_step}/{t.worst_action_dim}"
        rows.append(
            (
                t.name,
                "PASS" if t.passed else "**FAIL**",
                t.shape_text(),
                t.dtype_text(),
                t.tol_text(),
                fmt_sci(t.max_abs_diff),
                fmt_sci(t.max_rel_diff),
                fmt_num(t.scale_error),
                "-" if t.cosine is None else f"{t.cosine:.6f}",
                "-" if fraction is None else f"{100 * fraction:.3g}%",
                worst_at,
                "; ".join([*t.notes, *t.warnings]),
            )
        )
    header = (
        "tensor",
        "result",
        "shape",
        "dtype",
        "tol",
        "max \\|diff\\|",
        "max rel",
        "scale err",
        "cosine",
        "% out",
        "step/dim",
        "notes",
    )
    lines = md_table(header, rows)
    if report.problems:
        lines.append(f"\nFailed besides the tensors: {md('; '.join(report.problems))}")
    for side, keys in (("the original (expected)", report.only_expected), ("LeRobot (actual)", report.only_actual)):
        if keys:
            lines.append(f"\nOnly in {side}: {md(', '.join(keys))}")
    stats = [f"- `{md(t.name)}`: {md(t.stats_text())}" for t in report.tensors if not t.passed]
    notes = [f"- {md(n)}" for n in report.notes]
    lines += ["", *stats, *notes] if stats or notes else []
    return lines


# -- figures ---------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    """A Figure on the Agg canvas (headless, no pyplot global state); matplotlib imported only here."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ReportError(
            "matplotlib is not installed in this environment; run the report in the consumer env: "
            "envs/consumer/.venv/bin/python -m consumer.reports.markdown RESULTS.json"
        ) from exc
    figure = Figure(figsize=(min(width, 14.0), min(height, 30.0)), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def action_matrix(value: Any) -> np.ndarray | None:
    """``action_abs_diff`` as a float (horizon, action_dim) array, or None if it is not one."""
    if not isinstance(value, list) or not value or not all(isinstance(r, list) and r for r in value):
        return None
    cells = [[c if isinstance(c, float) else None for c in row] for row in value]
    if len({len(r) for r in cells}) != 1 or any(c is None for r in cells for c in r):
        return None
    return np.array(cells, dtype=np.float64)


def heatmap(path: Path, diff: np.ndarray, title: str) -> None:
    """|diff| per (action step, action dim); non-finite cells masked; the worst cell outlined."""
    fig = _figure(2.5 + 0.45 * diff.shape[1], 1.5 + 0.3 * diff.shape[0])
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(diff), aspect="auto", interpolation="nearest", cmap="viridis")
    fig.colorbar(image, ax=ax, label="|diff|")
    ax.set(xlabel="action dim", ylabel="action step", title=title)
    finite = np.where(np.isfinite(diff), diff, -np.inf)
    if np.isfinite(finite).any():
        step, dim = np.unravel_index(int(np.argmax(finite)), diff.shape)
        ax.plot(dim, step, marker="s", markersize=12, markerfacecolor="none", markeredgecolor="red")
    fig.savefig(path, dpi=100)


@dataclass
class Stage:
    name: str
    diff: float | None  # None: not computed (e.g. shape differs)
    passed: bool
    atol: float | None  # None: compared exactly


def stages_in_order(stages: StageComparison) -> list[Stage]:
    """Stage tensors in pipeline order (``parity_format.stage_keys``; numbered keys of older reports too)."""
    out = []
    for t in stages.report.tensors:
        atol = t.tolerance.atol if t.tolerance is not None and not t.exact else None
        out.append(Stage(t.name, t.max_abs_diff, t.passed, atol))
    return sorted(out, key=lambda stage: pipeline_position(stage.name))


def find_stage(first: str | None, stages: list[Stage]) -> int | None:
    """Index of the stage whose KEY is ``first_divergence`` (also accepts a numbered key, a short name, or
    the display label older reports stored)."""
    if not first:
        return None
    names = [s.name for s in stages]
    if first in names:
        return names.index(first)
    if canonical_stage_key(first) in names:  # a numbered key from an older report
        return names.index(canonical_stage_key(first))
    for i, name in enumerate(names):
        if name.startswith(first + ".") or name.endswith("." + first) or stage_label(name) == first:
            return i
    return None


def _bar(diff: float | None, top: float) -> tuple[float, str]:
    """Bar length and label: zeros at FLOOR ("0 (exact)"), inf/nan at the right edge, None as n/a."""
    if diff is None:
        return FLOOR / 10, "n/a (not compared)"  # zero-length bar
    if not math.isfinite(diff):
        return top, str(diff)
    return max(diff, FLOOR), "0 (exact)" if diff == 0 else fmt_sci(diff)


def stage_chart(path: Path, stages: list[Stage], first: int | None, title: str) -> float | None:
    """Horizontal log-scale bars of max |diff| per stage; returns the atol line drawn (if any)."""
    fig = _figure(9.0, 1.8 + 0.35 * len(stages))
    from matplotlib.patches import Patch  # importable: _figure succeeded

    ax = fig.add_subplot()
    finite = [s.diff for s in stages if s.diff is not None and math.isfinite(s.diff) and s.diff > 0]
    top = max([*finite, FLOOR]) * 10
    values, labels = zip(*(_bar(s.diff, top) for s in stages), strict=True)
    colors = [COLORS[2] if i == first else COLORS[0] if s.passed else COLORS[1] for i, s in enumerate(stages)]
    base = FLOOR / 10
    y = np.arange(len(stages))
    ax.barh(
        y,
        [v - base for v in values],
        left=base,
        color=colors,
        edgecolor=["black" if i == first else "none" for i in y],
    )
    ax.set_xscale("log")
    ax.set_xlim(base, top * 1e4)  # room for the labels right of the bars
    ax.set_yticks(y, [s.name for s in stages])
    ax.invert_yaxis()  # pipeline order, top to bottom
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        text = f"{label}  ← first divergence" if i == first else label
        ax.text(
            max(value, FLOOR) * 1.5,
            i,
            text,
            va="center",
            fontsize=8,
            fontweight="bold" if i == first else "normal",
        )
    if first is not None:
        ax.get_yticklabels()[first].set_fontweight("bold")
    atols = Counter(s.atol for s in stages if s.atol is not None and s.atol > 0)
    atol = atols.most_common(1)[0][0] if atols else None
    kinds = ("within tolerance", "out of tolerance", "first divergence")
    handles = [Patch(color=c, label=k) for c, k in zip(COLORS, kinds, strict=True)]
    if atol is not None:
        handles.append(ax.axvline(atol, color="black", linestyle="--", linewidth=1, label=f"atol {fmt_float(atol)}"))
        for i, s in enumerate(stages):
            if s.atol is not None and s.atol > 0 and s.atol != atol:  # per-tensor override: its own tick
                ax.plot(s.atol, i, marker="|", color="black", markersize=14)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    ax.set(xlabel="max |diff| (log scale)", title=title)
    fig.savefig(path, dpi=100)
    return atol


def safe_name(text: str) -> str:
    """File-name-safe: only [A-Za-z0-9._-], never empty, never hidden."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".") or "_"


# -- assembly --------------------------------------------------------------------------------------
def _stage_block(stages: StageComparison, stem: str, label: str, out_dir: Path, output: ReportOutput) -> list[str]:
    """The first-divergence line and, when there are stage tensors, the bar chart with its caption."""
    first = stages.first_divergence
    where = f"first divergence at `{first}`" if first else "no stage diverges"
    blocks = [f"**Stages:** {md(where)}. {md(stages.summary)}".rstrip()]
    ordered = stages_in_order(stages)
    if not ordered:
        return blocks
    index = find_stage(first, ordered)
    path = out_dir / f"{stem}-stages.png"
    atol = stage_chart(path, ordered, index, f"{label}: max |diff| per stage")
    output.figures.append(path)
    caption = "Max \\|diff\\| per stage, log scale" + (f"; dashed line: atol {fmt_float(atol)}" if atol else "")
    if index is not None:
        output.highlighted[path.name] = ordered[index].name
        caption += f"; first divergent stage `{ordered[index].name}` highlighted"
    elif first:
        caption += f"; first divergence `{md(first)}` is not among the stage tensors"
    return [*blocks, f"![stages {md(label)}]({path.name})", f"*{caption}.*"]


def _action_block(value: Any, stem: str, label: str, out_dir: Path, output: ReportOutput) -> list[str]:
    """The |action diff| heatmap and its caption, or why it was skipped."""
    diff = action_matrix(value)
    if diff is None:
        return ["*action_abs_diff is not a rectangular table of numbers: heatmap skipped.*"]
    peak = float(np.max(np.where(np.isnan(diff), np.inf, diff)))
    path = out_dir / f"{stem}-actions.png"
    heatmap(path, diff, f"{label}: action |diff|, max {peak:.3e}")
    output.figures.append(path)
    return [
        f"![action diff {md(label)}]({path.name})",
        f"*\\|diff\\| per action step x dim, max {peak:.3e}.*",
    ]


def _result_section(result: CheckResult, number: int, out_dir: Path, output: ReportOutput) -> list[str]:
    """Stage line, figures and (for failures) per-tensor rows of one result; [] when nothing to add."""
    tag, group, check = result.case.tag, result.case.group, result.check
    stem = f"fig-{number:02d}-{safe_name(tag)}-{safe_name(group)}-{safe_name(check)}"
    label = f"{tag} ({group})"
    blocks: list[str] = []
    if result.stages is not None:
        blocks += _stage_block(result.stages, stem, label, out_dir, output)
    if result.action_abs_diff is not None:
        blocks += _action_block(result.action_abs_diff, stem, label, out_dir, output)
    if result.tiers:
        blocks += [f"**Tiers:** {md(tier_summary(result))}", "\n".join(md_table(TIER_HEADER, tier_rows(result)))]
    if result.status == Status.FAIL:
        stage_report = result.stages.report if result.stages else None
        for report, what in ((result.report, "per-tensor results"), (stage_report, "per-stage results")):
            if report is not None and (report.tensors or report.problems):
                blocks += [f"FAIL {md(group)} {md(check)}, {what}:", "\n".join(tensor_rows(report))]
    if not blocks:
        return []
    return ["", f"### {md(group)} · {md(check)}", *(line for b in blocks for line in ("", b))]


def render(data: Results, source: Path, out_dir: Path) -> ReportOutput:
    """Write the figures, then report.md; returns what was written."""
    output = ReportOutput(out_dir / "report.md")
    results = data.results
    counts = Counter(r.status for r in results)
    output.failed = counts[Status.FAIL]
    summary = ", ".join(f"{counts[s]} {s.text.lower()}" for s in Status if counts[s])
    lines = [
        "# groot-parity report",
        "",
        f"- results: `{source.name}`, created {md(data.meta.get('created_utc', '?'))}",
        f"- artifacts: {_code(data.meta.get('artifact_dir', '?'))}",
        f"- tolerances: {_code(data.meta.get('tolerances', '?'))}",
        f"- **{len(results)} checks: {summary or 'none'}**",
    ]
    unmatched = data.meta.get("unmatched_tolerance_overrides")
    if unmatched:
        lines.append(f"- **GROOT_PARITY_TOL entries that matched no tensor:** {md(', '.join(map(str, unmatched)))}")
    number = 0
    for tag in dict.fromkeys(r.case.tag for r in results):
        mine = [r for r in results if r.case.tag == tag]
        rows = [(r.case.group, r.check, r.status.text, *worst(r), r.message) for r in mine]
        lines += ["", f"## {md(tag)}", ""]
        lines += md_table(("artifact group", "check", "status", "worst tensor", "max \\|diff\\|", "message"), rows)
        for result in mine:
            number += 1
            lines += _result_section(result, number, out_dir, output)
    output.markdown.write_text("\n".join(lines) + "\n")
    return output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="the consumer's JSON report")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output directory (default: report-<stem> beside the JSON)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if isinstance(args, int):
        return args
    out_dir = args.out or args.results.parent / f"report-{safe_name(args.results.stem)}"
    try:
        data = load_results(args.results)
        out_dir.mkdir(parents=True, exist_ok=True)
        output = render(data, args.results, out_dir)
    except ReportError as exc:
        return error(PROG, str(exc))
    except OSError as exc:
        return error(PROG, f"cannot write the report in {out_dir}: {exc}")
    print(f"wrote {safe_text(output.markdown)} ({len(output.figures)} figures); {output.failed} failed check(s)")
    return EXIT_DIFFERENT if output.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
