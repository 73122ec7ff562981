"""Accuracy parity: is a lower-precision result as close to the exact answer as the reference's own?

Two implementations run at reduced precision (bf16) cannot agree with each other to fp32 tolerances, and
their difference alone cannot say whether a gap is rounding or a bug. Judged against an exact answer
(the original in float64) they can: the candidate (LeRobot as shipped) passes when its error is within
a small factor of the reference implementation's own error at its shipped precision, plus a floor for
the case where that error is zero (the idea of ``torch._dynamo.utils.same`` with ``fp64_ref``):

    RMSE(candidate, exact) <= k * RMSE(reference, exact) + floor,   floor = floor_fraction * RMS(exact)

Where no exact answer exists (the producer could not fit the float64 model), the best available answer
(the original in float32) stands in, and the bound is a declared fixed envelope instead of the
reference's error: ``RMSE(candidate, best) <= envelope * RMS(best)``; the result says so (``mode``).

Numpy-only, like the rest of the format: the report tool rebuilds these objects from JSON anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from comparison.formatting import float_from_json, fmt_num, json_float

#: k: measured LeRobot-as-shipped / original-as-shipped error ratios on the golden fixtures are 0.5-1.4
#: (docs/user-path.md); 2 is torch._dynamo's default multiplier and leaves room for other hardware while a
#: bug that doubles the error of a bf16 run still fails.
DEFAULT_K = 2.0
#: floor as a fraction of the exact answer's RMS: far below any bf16 error (~1e-2 relative) and above
#: float32 rounding (~1e-7), so it only decides when the reference's own error is exactly zero.
DEFAULT_FLOOR_FRACTION = 1e-4
#: the fixed envelope without a float64 reference: relative RMSE to the float32 original. The original's
#: own bf16 error measures up to 1.1e-2 of the RMS on the goldens (docs/user-path.md); 5e-2 is ~5x that.
DEFAULT_ENVELOPE = 5e-2
FP64 = "fp64"
ENVELOPE = "envelope"
_FLOATS = ("candidate_rmse", "reference_rmse", "k", "floor", "bound", "ratio", "max_abs_diff", "scale")


def rmse(actual: np.ndarray, exact: np.ndarray) -> float:
    """Root-mean-square of ``actual - exact`` in float64; inf when either holds NaN/Inf."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return math.inf
    return float(np.sqrt(np.mean((a - e) ** 2)))


def rms(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.sqrt(np.mean(v**2))) if v.size and np.isfinite(v).all() else 0.0


@dataclass
class AccuracyComparison:
    """One tensor's accuracy verdict and every figure behind it."""

    name: str
    passed: bool
    mode: str  # FP64 (against the float64 reference) or ENVELOPE (declared fixed envelope, no float64)
    candidate_rmse: float | None = None  # LeRobot as shipped vs the exact (or best) answer
    reference_rmse: float | None = None  # the original as shipped vs the same answer
    k: float | None = None
    floor: float | None = None  # absolute: floor_fraction * RMS(exact)
    bound: float | None = None  # what candidate_rmse had to stay under
    ratio: float | None = None  # candidate_rmse / reference_rmse (inf when only the reference is exact)
    max_abs_diff: float | None = None  # max |candidate - reference|: the gap a plain comparison would see
    scale: float | None = None  # RMS of the exact (or best) answer
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        if self.mode == ENVELOPE:
            rule = f"<= envelope {fmt_num(self.bound)} (declared fixed envelope: no float64 reference)"
        else:
            rule = f"<= {fmt_num(self.k)} x {fmt_num(self.reference_rmse)} + floor {fmt_num(self.floor)}"
        return (
            f"{verdict} {self.name}: RMSE to {self.mode} LeRobot {fmt_num(self.candidate_rmse)} {rule}; original "
            f"{fmt_num(self.reference_rmse)}, ratio {fmt_num(self.ratio)}, max|LeRobot - original| "
            f"{fmt_num(self.max_abs_diff)}" + "".join(f"; {n}" for n in self.notes)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _FLOATS:
            out[key] = json_float(out[key])
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccuracyComparison:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in _FLOATS:
            if key in values:
                values[key] = float_from_json(values[key])
        values["notes"] = [str(n) for n in data.get("notes") or []]
        values["passed"] = bool(values["passed"])
        return cls(**values)


def _shape_problem(name: str, mode: str, **arrays: np.ndarray) -> AccuracyComparison | None:
    shapes = {label: tuple(np.shape(a)) for label, a in arrays.items()}
    if len(set(shapes.values())) == 1:
        return None
    text = ", ".join(f"{label} {shape}" for label, shape in shapes.items())
    return AccuracyComparison(name, False, mode, notes=[f"shapes differ ({text}); nothing compared"])


def _ratio(candidate: float, reference: float) -> float:
    if reference > 0:
        return candidate / reference
    return 0.0 if candidate == 0 else math.inf


def pooled(
    per_key: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidate, reference, exact) of several action keys as one sample, each key scaled by RMS(its exact).

    WHY: an RMSE ratio over one key of a small batch (a single observation's gripper: 8-16 values) is a
    noisy statistic, and bf16 rounding errors of one time step are correlated across a key's values: on the
    B=1 golden one key's ratio reached 2.7 while the whole action's stayed near 1. A precision bug (a step
    computed in bf16 that should not be) moves every key, so the verdict pools the keys of one path; scaling
    each key by its own RMS keeps a large-valued key from hiding the others. Per-key figures stay reported.
    """
    scaled = []
    for candidate, reference, exact in per_key.values():
        scale = rms(exact) or 1.0
        scaled.append(tuple(np.asarray(a, np.float64).ravel() / scale for a in (candidate, reference, exact)))
    return tuple(np.concatenate([s[i] for s in scaled]) for i in range(3))  # type: ignore[return-value]


def accuracy_parity(
    name: str,
    candidate: np.ndarray,
    reference: np.ndarray,
    exact: np.ndarray,
    *,
    k: float = DEFAULT_K,
    floor_fraction: float = DEFAULT_FLOOR_FRACTION,
) -> AccuracyComparison:
    """``RMSE(candidate, exact) <= k * RMSE(reference, exact) + floor_fraction * RMS(exact)``."""
    problem = _shape_problem(name, FP64, candidate=candidate, reference=reference, exact=exact)
    if problem is not None:
        return problem
    cand, ref = rmse(candidate, exact), rmse(reference, exact)
    scale = rms(exact)
    floor = floor_fraction * scale
    bound = k * ref + floor
    result = AccuracyComparison(
        name,
        bool(cand <= bound),
        FP64,
        cand,
        ref,
        k,
        floor,
        bound,
        _ratio(cand, ref),
        float(np.max(np.abs(np.asarray(candidate, np.float64) - reference))) if np.size(candidate) else 0.0,
        scale,
    )
    if ref == 0:
        result.notes.append("the original's own error is zero here: the floor alone is the bound")
    return result


def envelope_parity(
    name: str,
    candidate: np.ndarray,
    reference: np.ndarray,
    best: np.ndarray,
    *,
    envelope: float = DEFAULT_ENVELOPE,
) -> AccuracyComparison:
    """No float64 reference: ``RMSE(candidate, best) <= envelope * RMS(best)``; the reference's error is reported."""
    problem = _shape_problem(name, ENVELOPE, candidate=candidate, reference=reference, best=best)
    if problem is not None:
        return problem
    cand, ref = rmse(candidate, best), rmse(reference, best)
    scale = rms(best)
    bound = envelope * scale
    result = AccuracyComparison(
        name,
        bool(cand <= bound),
        ENVELOPE,
        cand,
        ref,
        None,
        None,
        bound,
        _ratio(cand, ref),
        float(np.max(np.abs(np.asarray(candidate, np.float64) - reference))) if np.size(candidate) else 0.0,
        scale,
    )
    result.notes.append(f"declared fixed envelope {envelope:g} x RMS of the float32 original (no float64 reference)")
    return result
