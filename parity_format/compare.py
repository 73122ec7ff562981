"""Numpy-only comparison engine shared by the consumer's tests and the ``diff`` command.

``expected`` is always the original gr00t value and ``actual`` LeRobot's, because relative tolerance
is scaled by ``|expected|`` (``numpy.isclose`` semantics) and the reference must be the original.
Nothing is broadcast, truncated or padded: a shape difference is a failure, not something to fix up.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from parity_format.tolerance import Tolerance, ToleranceConfig

_NUMERIC_KINDS = "biuf"
_EXACT_KINDS = "biu"
_TINY = float(np.finfo(np.float64).tiny)


def _json_float(x: float | None) -> float | str | None:
    """Strict JSON has no inf/nan, so those become strings rather than breaking ``json.dumps``."""
    return x if x is None or math.isfinite(x) else str(x)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _pair(expected: str, actual: str) -> str:
    return expected if expected == actual else f"{expected} vs {actual}"


@dataclass
class TensorComparison:
    """Outcome of one tensor comparison; statistics are None when they could not be computed."""

    name: str
    passed: bool
    exact: bool
    expected_shape: tuple[int, ...]
    actual_shape: tuple[int, ...]
    expected_dtype: str
    actual_dtype: str
    tolerance: Tolerance | None
    max_abs_diff: float | None = None
    max_abs_index: tuple[int, ...] | None = None
    max_rel_diff: float | None = None
    mismatch_fraction: float | None = None
    mismatch_count: int | None = None
    worst_action_step: int | None = None
    worst_action_dim: int | None = None
    notes: list[str] = field(default_factory=list)

    def tol_text(self) -> str:
        return "exact" if self.exact or self.tolerance is None else self.tolerance.describe()

    def shape_text(self) -> str:
        return _pair(_shape(self.expected_shape), _shape(self.actual_shape))

    def dtype_text(self) -> str:
        return _pair(self.expected_dtype, self.actual_dtype)

    def summary(self) -> str:
        parts = [
            f"{'PASS' if self.passed else 'FAIL'} {self.name} {self.shape_text()} {self.dtype_text()}",
            f"tol {self.tol_text()}",
        ]
        if self.max_abs_diff is not None:
            where = f" @ {self.max_abs_index}" if self.max_abs_index is not None else ""
            if self.worst_action_step is not None:
                where += f" (step {self.worst_action_step}, dim {self.worst_action_dim})"
            parts.append(f"max|diff|={self.max_abs_diff:.3e}{where}")
            parts.append(f"max rel={self.max_rel_diff:.3e}")
        if self.mismatch_fraction is not None:
            parts.append(f"{self.mismatch_count} out of tol ({100 * self.mismatch_fraction:.3g}%)")
        return ", ".join(parts) + "".join(f"; {n}" for n in self.notes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("expected_shape", "actual_shape", "max_abs_index", "notes"):
            out[key] = None if out[key] is None else list(out[key])
        for key in ("max_abs_diff", "max_rel_diff"):
            out[key] = _json_float(out[key])
        out["tolerance"] = None if self.tolerance is None else asdict(self.tolerance)
        return out


def compare_tensor(
    name: str,
    expected: np.ndarray,
    actual: np.ndarray,
    tol: Tolerance | None,
    *,
    exact: bool | None = None,
    action_layout: bool | None = None,
) -> TensorComparison:
    """Compare one tensor pair.

    ``exact`` defaults to True when both sides are integer/bool. ``action_layout`` (default: ndim 3
    and "action" in the short name) reports the worst (step, dim) of a (B, horizon, action_dim) tensor.
    """
    e, a = np.asarray(expected), np.asarray(actual)
    ek, ak = e.dtype.kind, a.dtype.kind
    if exact is None:
        exact = ek in _EXACT_KINDS and ak in _EXACT_KINDS
    if not exact and tol is None:
        raise ValueError(f"{name}: a Tolerance is required for a non-exact comparison")
    result = TensorComparison(
        name, False, exact, tuple(e.shape), tuple(a.shape), str(e.dtype), str(a.dtype), None if exact else tol
    )
    notes = result.notes
    if e.shape != a.shape:
        notes.append(f"shape differs: expected {e.shape} vs actual {a.shape}; values not compared")
        return result
    if ek not in _NUMERIC_KINDS or ak not in _NUMERIC_KINDS:
        notes.append(f"unsupported dtype ({e.dtype} vs {a.dtype}); only bool/int/float can be compared")
        return result

    e64, a64 = e.astype(np.float64), a.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        both_nan = np.isnan(e64) & np.isnan(a64)
        same_special = both_nan | (np.isinf(e64) & (e64 == a64))
        diff = np.array(np.abs(a64 - e64), dtype=np.float64)  # 0-d ufunc results are scalars
    diff[same_special] = 0.0
    diff[np.isnan(diff)] = np.inf  # NaN vs number: infinitely wrong, never silently "close"
    if exact:
        bad = (e != a) & ~both_nan if ek in _EXACT_KINDS and ak in _EXACT_KINDS else diff != 0
    else:
        assert tol is not None
        with np.errstate(invalid="ignore", over="ignore"):  # an inf reference must not widen the band
            close = np.isfinite(e64) & np.isfinite(a64) & (diff <= tol.atol + tol.rtol * np.abs(e64))
        bad = ~same_special & ~close

    result.mismatch_count = int(bad.sum())
    result.mismatch_fraction = result.mismatch_count / bad.size if bad.size else 0.0
    result.passed = result.mismatch_count == 0
    if diff.size == 0:
        notes.append("empty tensor: nothing to compare")
    else:
        flat = int(np.argmax(diff))
        result.max_abs_diff = float(diff.flat[flat])
        with np.errstate(invalid="ignore", over="ignore"):
            rel = np.where(np.isinf(diff), np.inf, diff / np.maximum(np.abs(e64), _TINY))
        result.max_rel_diff = float(np.max(rel))
        if result.max_abs_diff > 0:
            result.max_abs_index = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
    if action_layout is None:
        action_layout = e.ndim == 3 and "action" in _short(name)
    if action_layout and e.ndim != 3:
        notes.append(f"action layout needs (B, horizon, action_dim), got ndim {e.ndim}")
    elif action_layout and result.max_abs_index is not None:
        result.worst_action_step, result.worst_action_dim = result.max_abs_index[1:]

    if int(both_nan.sum()):
        notes.append(f"{int(both_nan.sum())} NaN at matching positions counted as equal")
    one_nan = int((np.isnan(e64) ^ np.isnan(a64)).sum())
    if one_nan:
        notes.append(f"{one_nan} NaN on one side only")
    if e.dtype != a.dtype:
        if (ek in _EXACT_KINDS) != (ak in _EXACT_KINDS):
            how = f"compared numerically ({result.tol_text()})"
        elif result.passed:
            how = ("with equal values" if exact else "within tolerance") + ": reported, not failed"
        else:
            how = "and values differ"
        notes.append(f"dtype differs ({e.dtype} vs {a.dtype}) {how}")
    return result


@dataclass
class ComparisonReport:
    """All tensor comparisons for one artifact (or artifact pair), plus key-set differences."""

    title: str
    tensors: list[TensorComparison]
    only_expected: list[str] = field(default_factory=list)
    only_actual: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_fails: bool = True

    @property
    def passed(self) -> bool:
        """False when nothing was compared: an empty comparison must never look like parity."""
        missing = self.missing_fails and bool(self.only_expected or self.only_actual)
        return bool(self.tensors) and all(t.passed for t in self.tensors) and not missing

    def format_table(self) -> str:
        n_ok = sum(t.passed for t in self.tensors)
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"{self.title}: {verdict} ({n_ok}/{len(self.tensors)} tensors passed)"]
        header = ("tensor", "shape", "dtype", "tol", "max|diff| @ index", "max rel", "% out", "result")
        rows = [header]
        for t in self.tensors:
            diff = "-" if t.max_abs_diff is None else f"{t.max_abs_diff:.3e}"
            if t.max_abs_index is not None:
                diff += f" @ {t.max_abs_index}"
            rel = "-" if t.max_rel_diff is None else f"{t.max_rel_diff:.3e}"
            out = "-" if t.mismatch_fraction is None else f"{100 * t.mismatch_fraction:.3g}%"
            result = "PASS" if t.passed else "FAIL"
            rows.append((t.name, t.shape_text(), t.dtype_text(), t.tol_text(), diff, rel, out, result))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        verdict = "FAIL" if self.missing_fails else "reported only"
        for side, keys in (("expected (original)", self.only_expected), ("actual", self.only_actual)):
            if keys:
                lines.append(f"only in {side}: {', '.join(keys)} ({verdict})")
        for t in self.tensors:
            if t.worst_action_step is not None:
                lines.append(f"{t.name}: worst action step {t.worst_action_step}, dim {t.worst_action_dim}")
            lines += [f"{t.name}: {n}" for n in t.notes]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "passed": self.passed,
            "missing_fails": self.missing_fails,
            "tensors": [t.to_dict() for t in self.tensors],
            "only_expected": list(self.only_expected),
            "only_actual": list(self.only_actual),
            "notes": list(self.notes),
        }


def compare_mappings(
    title: str,
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    config: ToleranceConfig,
    *,
    exact_keys: Collection[str] = (),
    missing_fails: bool = True,
) -> ComparisonReport:
    """Compare the shared keys (in ``expected`` order); ``exact_keys`` match full or short names."""
    common = [k for k in expected if k in actual]
    report = ComparisonReport(
        title,
        [],
        [k for k in expected if k not in actual],
        [k for k in actual if k not in expected],
        [f"tolerances: {config.describe()}"],
        missing_fails,
    )
    exact_set = set(exact_keys)
    for key in common:
        forced = True if key in exact_set or _short(key) in exact_set else None
        tol = config.for_tensor(key)
        report.tensors.append(compare_tensor(key, expected[key], actual[key], tol, exact=forced))
    unused = sorted(k for k in exact_set if not any(k in (c, _short(c)) for c in common))
    if unused:
        report.notes.append(f"exact_keys matched no compared tensor: {', '.join(unused)}")
    if not common:
        report.notes.append("no tensor present on both sides: nothing was compared")
    return report
