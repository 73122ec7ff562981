"""The policy check's two tiers as table rows (plain strings): one row per compared tensor of each tier.

Used by the Markdown report (``consumer.reports.markdown``) and the demo table; formatting only, so
the figures are exactly the ones the JSON carries.
"""

from __future__ import annotations

from comparison.formatting import fmt_num
from comparison.results import CheckResult

TIER_HEADER = (
    "tier",
    "tensor",
    "status",
    "max \\|diff\\| (fp32) / max \\|LeRobot - original\\|",
    "RMSE LeRobot",
    "RMSE original",
    "ratio",
    "k",
    "bound",
    "against",
)


def tier_rows(result: CheckResult) -> list[tuple[str, ...]]:
    """fp32 tier: every tensor comparison; as-shipped tier: every accuracy verdict with its figures."""
    rows: list[tuple[str, ...]] = []
    for tier in result.tiers:
        if tier.report is not None:
            for t in tier.report.tensors:
                verdict = "PASS" if t.passed else "FAIL"
                rows.append(
                    (tier.name, t.name, verdict, fmt_num(t.max_abs_diff), "-", "-", "-", "-", "-", "original fp32")
                )
            for name in tier.report.only_expected:
                rows.append((tier.name, name, "missing", "-", "-", "-", "-", "-", "-", "LeRobot raised (see notes)"))
        for a in tier.accuracy:
            rows.append(
                (
                    tier.name,
                    a.name,
                    "PASS" if a.passed else "FAIL",
                    fmt_num(a.max_abs_diff),
                    fmt_num(a.candidate_rmse),
                    fmt_num(a.reference_rmse),
                    fmt_num(a.ratio),
                    "-" if a.k is None else f"{a.k:g}",
                    fmt_num(a.bound),
                    "float64 reference" if a.mode == "fp64" else "declared envelope (no float64)",
                )
            )
    return rows


def tier_summary(result: CheckResult) -> str:
    """One cell: each tier's status and headline figures."""
    return "; ".join(tier.line() for tier in result.tiers)
