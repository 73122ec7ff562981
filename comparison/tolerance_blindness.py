"""Tolerance settings that make a check blind: legal knobs under which no plausible port bug can fail.

WHY (issue 25): ``GROOT_PARITY_ATOL=1e300`` with the scale criterion off is a finite, well-formed value,
and it turned a failing bf16 replay into PASS with per-tensor warnings only. Such a setting is allowed
(someone may want to see the figures of a run without a verdict), but it is said loudly: in the
consumer's summary, in pytest's terminal summary and in the JSON report (``tolerance_warnings``).

The thresholds are the ranges the compared tensors live in: normalized actions and pixel values are
O(1), so an absolute tolerance of 1 passes a sign flip; a relative or scale tolerance of 1 passes an
all-zero output.
"""

from __future__ import annotations

from comparison.formatting import fmt_float
from comparison.tolerance import ENV_ATOL, ENV_RTOL, ENV_SCALE, ENV_TOL, Tolerance, ToleranceConfig

BLIND_ATOL = 1.0  # normalized actions and pixel values are O(1): |diff| <= 1 passes a sign flip
BLIND_RELATIVE = 1.0  # |diff| <= 1 x |expected| passes an all-zero output


def _blind(tol: Tolerance) -> str | None:
    if tol.scale is not None and tol.scale >= BLIND_RELATIVE:
        return f"scale={fmt_float(tol.scale)} >= {BLIND_RELATIVE:g} passes an all-zero output"
    if tol.scale is None and tol.atol >= BLIND_ATOL:
        return f"atol={fmt_float(tol.atol)} with the scale criterion off passes any difference up to that size"
    if tol.scale is None and tol.rtol >= BLIND_RELATIVE:
        return f"rtol={fmt_float(tol.rtol)} with the scale criterion off passes an all-zero output"
    return None


def blind_spots(config: ToleranceConfig) -> list[str]:
    """One line per default or override that makes its comparisons blind (empty: every check can fail)."""
    lines = []
    why = _blind(config.default)
    if why:
        lines.append(f"{ENV_ATOL}/{ENV_RTOL}/{ENV_SCALE}: {why}: every check using the default is blind")
    for name, tol in config.overrides.items():
        why = _blind(tol)
        if why:
            lines.append(f"{ENV_TOL} entry {name}: {why}: the check is blind for {name}")
    return lines
