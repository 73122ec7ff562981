"""Numpy-only comparison engine shared by the consumer's tests and the ``diff`` command.

``expected`` is always the original gr00t value and ``actual`` LeRobot's, because relative tolerance
is scaled by ``|expected|`` (``numpy.isclose`` semantics) and the reference must be the original.
Nothing is broadcast, truncated or padded: a shape difference is a failure, not something to fix up.

A float tensor passes when every element meets ``atol + rtol * |expected|`` AND the tensor meets the
scale criterion ``max|diff| / max|expected| <= scale`` (see ``tolerance``). NaN or Inf on either side
fails unless the run allows equal NaN (``equal_nan``), and then only at matching positions.
Per tensor the figures a user needs to choose a tolerance are kept (Polygraphy-style): max, mean,
median and p99 of |diff| and of |diff|/|expected|, cosine similarity, and the smallest atol, rtol and
scale tolerance that would have passed.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from comparison.formatting import float_from_json, fmt_float, fmt_num, json_float
from comparison.tables import align_columns
from comparison.tolerance import Tolerance, ToleranceConfig

_NUMERIC_KINDS = "biuf"
_EXACT_KINDS = "biu"
_TINY = float(np.finfo(np.float64).tiny)
#: Warn when atol exceeds this fraction of a tensor's typical magnitude (median |expected|): the atol
#: criterion alone could then not see an error of that size.
ATOL_WARN_FRACTION = 0.1
_TUPLE_FIELDS = ("expected_shape", "actual_shape", "max_abs_index")
_FLOAT_FIELDS = (
    "max_abs_diff",
    "mean_abs_diff",
    "median_abs_diff",
    "p99_abs_diff",
    "max_rel_diff",
    "mean_rel_diff",
    "median_rel_diff",
    "p99_rel_diff",
    "cosine",
    "scale_error",
    "typical_magnitude",
    "needed_atol",
    "needed_rtol",
    "needed_scale",
    "mismatch_fraction",
)


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
    mean_abs_diff: float | None = None
    median_abs_diff: float | None = None
    p99_abs_diff: float | None = None
    mean_rel_diff: float | None = None
    median_rel_diff: float | None = None
    p99_rel_diff: float | None = None
    cosine: float | None = None  # of the flattened tensors; None when either is all zeros or non-finite
    scale_error: float | None = None  # max|diff| / max|expected|
    scale_failed: bool = False
    typical_magnitude: float | None = None  # median |expected|
    needed_atol: float | None = None  # smallest atol that passes at this rtol
    needed_rtol: float | None = None  # smallest rtol that passes at this atol
    needed_scale: float | None = None  # smallest scale tolerance that passes
    nonfinite_expected: int = 0
    nonfinite_actual: int = 0
    warnings: list[str] = field(default_factory=list)

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
            parts.append(f"max|diff|={fmt_num(self.max_abs_diff, 3)}{where}")
            parts.append(f"max rel={fmt_num(self.max_rel_diff, 3)}")
        if self.scale_error is not None:
            parts.append(f"scale err={fmt_num(self.scale_error)}")
        if self.mismatch_fraction is not None:
            parts.append(f"{self.mismatch_count} out of tol ({100 * self.mismatch_fraction:.3g}%)")
        return ", ".join(parts) + "".join(f"; {n}" for n in self.notes)

    def stats_text(self) -> str:
        """One line of the distribution figures and the tolerances that would have passed."""
        if self.max_abs_diff is None:
            return "no statistics (nothing compared element-wise)"
        absd = "/".join(fmt_num(x) for x in (self.mean_abs_diff, self.median_abs_diff, self.p99_abs_diff))
        reld = "/".join(fmt_num(x) for x in (self.mean_rel_diff, self.median_rel_diff, self.p99_rel_diff))
        text = f"|diff| mean/median/p99 {absd}; rel {reld}; cosine {_cos(self.cosine)}"
        if not self.exact:
            needs = (self.needed_atol, self.needed_rtol, self.needed_scale)
            text += "; passes with atol>={} or rtol>={} (each alone); scale>={}".format(*map(fmt_num, needs))
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _TUPLE_FIELDS:
            out[key] = None if out[key] is None else list(out[key])
        for key in _FLOAT_FIELDS:
            out[key] = json_float(out[key])
        out["notes"], out["warnings"] = list(self.notes), list(self.warnings)
        out["tolerance"] = None if self.tolerance is None else self.tolerance.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorComparison:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in _TUPLE_FIELDS:
            if values.get(key) is not None:
                values[key] = tuple(int(i) for i in values[key])
        for key in _FLOAT_FIELDS:
            if key in values:
                values[key] = float_from_json(values[key])
        values["tolerance"] = None if data.get("tolerance") is None else Tolerance.from_dict(data["tolerance"])
        values["notes"], values["warnings"] = list(data.get("notes") or []), list(data.get("warnings") or [])
        return cls(**values)


def _cos(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q, method="higher"))  # no interpolation: inf stays inf, never nan


def _statistics(result: TensorComparison, e64: np.ndarray, a64: np.ndarray, diff: np.ndarray) -> None:
    """Fill the distribution figures, cosine and scale error (``diff`` already has inf where non-finite)."""
    finite_e = np.isfinite(e64)
    ref = np.abs(np.where(finite_e, e64, 0.0))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # a mean may overflow to inf: said so
        rel = np.where(np.isinf(diff), np.inf, diff / np.maximum(ref, _TINY))
        result.mean_abs_diff = float(np.mean(diff))
        result.mean_rel_diff = float(np.mean(rel))
    result.median_abs_diff = _percentile(diff, 50)
    result.p99_abs_diff = _percentile(diff, 99)
    result.max_rel_diff = float(np.max(rel))
    result.median_rel_diff = _percentile(rel, 50)
    result.p99_rel_diff = _percentile(rel, 99)
    if finite_e.any():
        result.typical_magnitude = float(np.median(ref[finite_e]))
    peak = float(ref.max()) if ref.size else 0.0
    worst = result.max_abs_diff or 0.0
    result.scale_error = 0.0 if worst == 0 else (worst / peak if peak > 0 else float("inf"))
    both = np.isfinite(e64) & np.isfinite(a64)
    e_f, a_f = e64[both], a64[both]
    with np.errstate(invalid="ignore", over="ignore"):
        norm = float(np.linalg.norm(e_f) * np.linalg.norm(a_f))
        result.cosine = float(np.dot(e_f, a_f) / norm) if norm > 0 and np.isfinite(norm) else None


def compare_tensor(
    name: str,
    expected: np.ndarray,
    actual: np.ndarray,
    tol: Tolerance | None,
    *,
    exact: bool | None = None,
    action_layout: bool | None = None,
    equal_nan: bool = False,
) -> TensorComparison:
    """Compare one tensor pair.

    ``exact`` defaults to True when both sides are integer/bool. ``action_layout`` (default: ndim 3
    and "action" in the short name) reports the worst (step, dim) of a (B, horizon, action_dim) tensor.
    ``equal_nan``: NaN at the same positions (and equal infinities) count as equal; off, any fails.
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
        nonfinite = ~(np.isfinite(e64) & np.isfinite(a64))
        diff = np.array(np.abs(a64 - e64), dtype=np.float64)  # 0-d ufunc results are scalars
    diff[nonfinite] = np.inf  # NaN/Inf vs anything: infinitely wrong, never silently "close"
    forgiven = same_special if equal_nan else np.zeros_like(same_special)
    diff[forgiven] = 0.0
    result.nonfinite_expected = int((~np.isfinite(e64)).sum())
    result.nonfinite_actual = int((~np.isfinite(a64)).sum())
    if exact:
        ints = ek in _EXACT_KINDS and ak in _EXACT_KINDS  # int64 beyond 2**53 must not round to equal
        bad = (e != a) if ints else diff != 0
    else:
        assert tol is not None
        with np.errstate(invalid="ignore", over="ignore"):  # an inf reference must not widen the band
            close = ~nonfinite & (diff <= tol.atol + tol.rtol * np.abs(e64))
        bad = ~forgiven & ~close

    result.mismatch_count = int(bad.sum())
    result.mismatch_fraction = result.mismatch_count / bad.size if bad.size else 0.0
    if diff.size == 0:
        notes.append("empty tensor: nothing to compare")
    else:
        flat = int(np.argmax(diff))
        result.max_abs_diff = float(diff.flat[flat])
        if result.max_abs_diff > 0:
            result.max_abs_index = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
        _statistics(result, e64, a64, diff)
        if not exact:
            assert tol is not None
            ref = np.abs(np.where(np.isfinite(e64), e64, 0.0))
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                result.needed_atol = max(0.0, float(np.max(diff - tol.rtol * ref)))
                over = np.maximum(diff - tol.atol, 0.0)
                result.needed_rtol = float(np.max(np.where(over > 0, over / np.maximum(ref, _TINY), 0.0)))
            result.needed_scale = result.scale_error
    if not exact and tol is not None and tol.scale is not None and result.scale_error is not None:
        result.scale_failed = result.scale_error > tol.scale
        if result.scale_failed:
            notes.append(
                f"scale: max|diff|/max|expected| = {fmt_num(result.scale_error)} > {fmt_float(tol.scale)}"
                + ("" if result.typical_magnitude else " (the reference is all zeros: any difference fails)")
            )
    result.passed = result.mismatch_count == 0 and not result.scale_failed

    if action_layout is None:
        action_layout = e.ndim == 3 and "action" in _short(name)
    if action_layout and e.ndim != 3:
        notes.append(f"action layout needs (B, horizon, action_dim), got ndim {e.ndim}")
    elif action_layout and result.max_abs_index is not None:
        result.worst_action_step, result.worst_action_dim = result.max_abs_index[1:]

    if result.nonfinite_expected or result.nonfinite_actual:
        how = (
            f"{int(same_special.sum())} at matching positions counted as equal (equal_nan)"
            if equal_nan
            else "NaN/Inf fails (GROOT_PARITY_EQUAL_NAN=1 counts matching ones as equal)"
        )
        notes.append(
            f"non-finite values: {result.nonfinite_expected} in expected, {result.nonfinite_actual} in actual; {how}"
        )
    if (
        not exact
        and tol is not None
        and result.typical_magnitude
        and tol.atol > ATOL_WARN_FRACTION * result.typical_magnitude
    ):
        result.warnings.append(
            f"atol {fmt_float(tol.atol)} is {tol.atol / result.typical_magnitude:.3g}x the typical |expected| "
            f"{fmt_num(result.typical_magnitude)}: atol alone cannot see errors in this tensor"
            + ("" if tol.scale is None else f" (the scale criterion {fmt_float(tol.scale)} still applies)")
        )
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
    """All tensor comparisons for one artifact (or artifact pair), plus key-set differences.

    ``problems`` are failures that are not a tensor's (a checkpoint or device mismatch, an earlier
    stage out of tolerance): any one makes the report fail, and the table says them first.
    """

    title: str
    tensors: list[TensorComparison]
    only_expected: list[str] = field(default_factory=list)
    only_actual: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_fails: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def tensors_passed(self) -> bool:
        """False when nothing was compared: an empty comparison must never look like parity."""
        missing = self.missing_fails and bool(self.only_expected or self.only_actual)
        return bool(self.tensors) and all(t.passed for t in self.tensors) and not missing

    @property
    def passed(self) -> bool:
        return self.tensors_passed and not self.problems

    def worst(self) -> TensorComparison | None:
        """The failing tensor with the largest max |diff| (NaN counts as largest), else the largest of all."""

        def rank(t: TensorComparison) -> tuple[bool, float]:
            diff = t.max_abs_diff
            return t.passed, -(math.inf if diff is not None and math.isnan(diff) else diff or 0.0)

        return min(self.tensors, key=rank, default=None)

    def format_table(self) -> str:
        n_ok = sum(t.passed for t in self.tensors)
        verdict = "PASS" if self.passed else "FAIL"
        lead = "".join(f"{p}; " for p in self.problems)
        lines = [f"{self.title}: {verdict} ({lead}{n_ok}/{len(self.tensors)} tensors passed)"]
        header = ("tensor", "shape", "dtype", "tol", "max|diff| @ index", "max rel", "scale err", "% out", "result")
        rows = [header]
        for t in self.tensors:
            diff = fmt_num(t.max_abs_diff, 3)
            if t.max_abs_index is not None:
                diff += f" @ {t.max_abs_index}"
            out = "-" if t.mismatch_fraction is None else f"{100 * t.mismatch_fraction:.3g}%"
            result = "PASS" if t.passed else "FAIL"
            cells = (t.name, t.shape_text(), t.dtype_text(), t.tol_text(), diff, fmt_num(t.max_rel_diff, 3))
            rows.append((*cells, fmt_num(t.scale_error), out, result))
        lines += align_columns(rows)
        verdict = "FAIL" if self.missing_fails else "reported only"
        for side, keys in (("expected (original)", self.only_expected), ("actual", self.only_actual)):
            if keys:
                lines.append(f"only in {side}: {', '.join(keys)} ({verdict})")
        for t in self.tensors:
            lines.append(f"{t.name}: {t.stats_text()}")
            if t.worst_action_step is not None:
                lines.append(f"{t.name}: worst action step {t.worst_action_step}, dim {t.worst_action_dim}")
            lines += [f"{t.name}: {n}" for n in t.notes]
            lines += [f"{t.name}: warning: {w}" for w in t.warnings]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "passed": self.passed,
            "missing_fails": self.missing_fails,
            "problems": list(self.problems),
            "tensors": [t.to_dict() for t in self.tensors],
            "only_expected": list(self.only_expected),
            "only_actual": list(self.only_actual),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonReport:
        return cls(
            str(data["title"]),
            [TensorComparison.from_dict(t) for t in data.get("tensors") or []],
            list(data.get("only_expected") or []),
            list(data.get("only_actual") or []),
            list(data.get("notes") or []),
            bool(data.get("missing_fails", True)),
            list(data.get("problems") or []),
        )


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
        report.tensors.append(
            compare_tensor(key, expected[key], actual[key], tol, exact=forced, equal_nan=config.equal_nan)
        )
    unused = sorted(k for k in exact_set if not any(k in (c, _short(c)) for c in common))
    if unused:
        report.notes.append(f"exact_keys matched no compared tensor: {', '.join(unused)}")
    if not common:
        report.notes.append("no tensor present on both sides: nothing was compared")
    return report
