"""Comparison engine: tolerance semantics, exactness, shapes, NaN/inf, action location, reporting."""

from __future__ import annotations

import json

import numpy as np
import pytest

from comparison.compare import ComparisonReport, compare_mappings, compare_tensor
from comparison.tolerance import ENV_SCALE, ENV_TOL, Tolerance, tolerance_from_env

TOL = Tolerance(0.25, 0.0)


def _f(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_atol_boundary_inclusive_then_fails_one_ulp_beyond() -> None:
    ok = compare_tensor("x", _f(1.0, 2.0), _f(1.25, 2.0), TOL)
    assert ok.passed and ok.mismatch_count == 0 and ok.max_abs_diff == 0.25 and ok.max_abs_index == (0,)
    bad = compare_tensor("x", _f(1.0, 2.0), _f(np.nextafter(1.25, 2.0), 2.0), TOL)
    assert not bad.passed and bad.mismatch_count == 1 and bad.mismatch_fraction == 0.5


def test_rtol_scales_with_expected_not_actual() -> None:
    assert compare_tensor("x", _f(100.0), _f(101.0), Tolerance(0.0, 0.01)).passed
    assert not compare_tensor("x", _f(100.0), _f(101.0), Tolerance(0.0, 0.0099)).passed
    # Asymmetric on purpose: the original's value is the reference.
    assert compare_tensor("x", _f(2.0), _f(1.0), Tolerance(0.0, 0.5)).passed
    assert not compare_tensor("x", _f(1.0), _f(2.0), Tolerance(0.0, 0.5)).passed
    # atol and rtol add up.
    assert compare_tensor("x", _f(10.0), _f(10.5), Tolerance(0.25, 0.025)).passed
    assert not compare_tensor("x", _f(10.0), _f(10.5), Tolerance(0.25, 0.02)).passed


def test_max_rel_diff() -> None:
    res = compare_tensor("x", _f(4.0, 0.0), _f(5.0, 0.0), Tolerance(1.0, 0.0))
    assert res.max_rel_diff == pytest.approx(0.25)
    zero_ref = compare_tensor("x", _f(0.0), _f(1e-3), Tolerance(1.0, 0.0))
    assert zero_ref.passed and zero_ref.max_rel_diff is not None and zero_ref.max_rel_diff > 1e300


def test_integers_are_exact_regardless_of_tolerance() -> None:
    res = compare_tensor("ids", np.array([1, 2, 3]), np.array([1, 2, 4]), Tolerance(10.0, 10.0))
    assert res.exact and res.tolerance is None and not res.passed
    assert res.mismatch_count == 1 and res.max_abs_index == (2,) and res.max_abs_diff == 1.0
    same = compare_tensor("ids", np.array([1, 2, 3]), np.array([1, 2, 3]), None)
    assert same.passed and same.exact and same.max_abs_index is None


def test_bool_exact() -> None:
    assert compare_tensor("m", np.array([True, False]), np.array([True, False]), None).passed
    res = compare_tensor("m", np.array([True, False]), np.array([True, True]), None)
    assert res.exact and not res.passed and res.mismatch_count == 1


def test_int64_vs_int32_equal_values_pass_with_note() -> None:
    res = compare_tensor("embodiment_id", np.array([3, 7], np.int64), np.array([3, 7], np.int32), None)
    assert res.passed and res.exact
    assert res.expected_dtype == "int64" and res.actual_dtype == "int32"
    assert any("dtype differs (int64 vs int32)" in n and "not failed" in n for n in res.notes)


def test_int64_vs_int32_different_values_fail() -> None:
    res = compare_tensor("embodiment_id", np.array([3], np.int64), np.array([4], np.int32), None)
    assert not res.passed and any("dtype differs" in n for n in res.notes)


def test_int_vs_float_compared_numerically_with_note() -> None:
    expected, actual = np.array([1, 2], np.int64), np.array([1.0, 2.0005], np.float32)
    res = compare_tensor("x", expected, actual, Tolerance(1e-3, 0))
    assert res.passed and not res.exact and res.tolerance == Tolerance(1e-3, 0)
    assert any("dtype differs (int64 vs float32) compared numerically" in n for n in res.notes)


def test_float_dtype_difference_noted_not_failed() -> None:
    res = compare_tensor("x", _f(1.0), np.array([1.0], np.float32), TOL)
    assert res.passed and any("float64 vs float32" in n for n in res.notes)


def test_forced_exact_float() -> None:
    res = compare_tensor("x", _f(1.0), _f(1.0 + 1e-12), TOL, exact=True)
    assert res.exact and not res.passed and res.tolerance is None


def test_float_without_tolerance_is_an_error() -> None:
    with pytest.raises(ValueError, match="Tolerance is required"):
        compare_tensor("x", _f(1.0), _f(1.0), None)


SHAPE_PAIRS = [((2, 3), (2, 4)), ((3,), (1, 3)), ((3,), ()), ((0, 3), (0, 4))]


@pytest.mark.parametrize(("eshape", "ashape"), SHAPE_PAIRS)
def test_shape_mismatch_fails_without_broadcasting(eshape: tuple[int, ...], ashape: tuple[int, ...]) -> None:
    res = compare_tensor("x", np.zeros(eshape), np.zeros(ashape), TOL)
    assert not res.passed
    assert res.expected_shape == eshape and res.actual_shape == ashape
    assert res.max_abs_diff is None and res.mismatch_count is None
    assert any(str(eshape) in n and str(ashape) in n and "shape differs" in n for n in res.notes)


NAN_CASES = {
    "expected only": (_f(np.nan, 1.0), _f(1.0, 1.0)),
    "actual only": (_f(1.0, 1.0), _f(np.nan, 1.0)),
    "both, same places": (_f(np.nan, 1.0), _f(np.nan, 1.0)),
    "inf both, equal": (_f(np.inf, 1.0), _f(np.inf, 1.0)),
    "inf vs finite": (_f(np.inf, 1.0), _f(1e308, 1.0)),
}


@pytest.mark.parametrize("case", NAN_CASES)
@pytest.mark.parametrize("exact", [False, True])
def test_nan_and_inf_fail_by_default_and_stay_json(case: str, exact: bool) -> None:
    expected, actual = NAN_CASES[case]
    res = compare_tensor("x", expected, actual, Tolerance(1e9, 1e9, None), exact=exact)
    assert not res.passed and res.mismatch_count == 1 and res.max_abs_diff == np.inf and res.max_abs_index == (0,)
    assert any("non-finite values" in n and "GROOT_PARITY_EQUAL_NAN=1" in n for n in res.notes)
    data = json.loads(json.dumps(res.to_dict(), allow_nan=False))  # strict JSON: no NaN/Infinity tokens
    assert data["max_abs_diff"] == "inf" and type(res).from_dict(data) == res


def test_equal_nan_forgives_matching_nan_and_equal_inf_only() -> None:
    for case in ("both, same places", "inf both, equal"):
        same = compare_tensor("x", *NAN_CASES[case], TOL, equal_nan=True)
        assert same.passed and same.max_abs_diff == 0.0 and any("counted as equal" in n for n in same.notes)
    for case in ("expected only", "actual only", "inf vs finite"):
        assert not compare_tensor("x", *NAN_CASES[case], Tolerance(1e9, 1e9), equal_nan=True).passed
    assert not compare_tensor("x", _f(np.inf), _f(-np.inf), Tolerance(1e9, 1e9), equal_nan=True).passed
    assert compare_tensor("x", _f(np.nan), _f(np.nan), TOL, exact=True, equal_nan=True).passed


def test_inf_diff_figures() -> None:
    res = compare_tensor("x", _f(np.inf, 1.0), _f(-np.inf, 1.0), Tolerance(0.0, 0.0))
    assert res.max_abs_diff == np.inf and res.max_rel_diff == np.inf and res.mismatch_count == 1
    assert res.nonfinite_expected == 1 and res.nonfinite_actual == 1


def test_float64_math_avoids_float16_and_float32_overflow() -> None:
    big = np.finfo(np.float32).max
    res = compare_tensor("x", np.array([big], np.float32), np.array([-big], np.float32), TOL)
    assert not res.passed and res.max_abs_diff == pytest.approx(2 * float(big))
    half = compare_tensor("x", np.array([60000], np.float16), np.array([60000], np.float16), TOL)
    assert half.passed


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_empty_arrays_pass(dtype: type) -> None:
    res = compare_tensor("x", np.zeros((0, 3), dtype), np.zeros((0, 3), dtype), TOL)
    assert res.passed and res.mismatch_count == 0 and res.mismatch_fraction == 0.0
    assert res.max_abs_diff is None and any("empty" in n for n in res.notes)


def test_zero_dim_scalars() -> None:
    assert compare_tensor("s", np.float32(1.0), np.float32(1.1), TOL).passed
    res = compare_tensor("s", np.array(1.0), np.array(2.0), TOL)
    assert not res.passed and res.max_abs_index == ()


def test_worst_action_step_and_dim() -> None:
    expected = np.zeros((2, 16, 7), np.float32)
    actual = expected.copy()
    actual[1, 5, 3] = 0.5
    actual[0, 9, 1] = 0.1
    res = compare_tensor("outputs.action_pred", expected, actual, TOL)
    assert not res.passed and res.mismatch_count == 1
    assert res.max_abs_index == (1, 5, 3) and (res.worst_action_step, res.worst_action_dim) == (5, 3)
    assert "step 5, dim 3" in res.summary()
    other = compare_tensor("state", expected, actual, TOL)
    assert other.worst_action_step is None and other.worst_action_dim is None
    forced = compare_tensor("y", expected, actual, TOL, action_layout=True)
    assert (forced.worst_action_step, forced.worst_action_dim) == (5, 3)
    flat = compare_tensor("action_pred", expected[0], actual[0], TOL, action_layout=True)
    assert flat.worst_action_step is None and any("ndim 2" in n for n in flat.notes)


def test_unsupported_dtype_fails() -> None:
    res = compare_tensor("x", np.array(["a"]), np.array(["a"]), TOL)
    assert not res.passed and any("unsupported dtype" in n for n in res.notes)


def test_summary_and_to_dict_are_json_safe() -> None:
    res = compare_tensor("x", _f(np.nan, 1.0), _f(1.0, 1.0), TOL)
    data = res.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["max_abs_diff"] == "inf"
    assert data["expected_shape"] == [2] and data["max_abs_index"] == [0]
    assert data["tolerance"] == {"atol": 0.25, "rtol": 0.0, "scale": None} and data["max_rel_diff"] == "inf"
    assert res.summary().startswith("FAIL x 2 float64")
    mismatch = compare_tensor("x", np.zeros((2, 3)), np.zeros((2, 4), np.float32), TOL)
    assert json.loads(json.dumps(mismatch.to_dict(), allow_nan=False))["actual_shape"] == [2, 4]
    assert "2x3 vs 2x4" in mismatch.summary() and "float64 vs float32" in mismatch.summary()


def _report(**kwargs: object) -> ComparisonReport:
    expected = {
        "inputs.state": _f(1.0, 2.0),
        "inputs.embodiment_id": np.array([3], np.int64),
        "outputs.action_pred": np.zeros((1, 4, 2)),
        "inputs.only_original": _f(0.0),
    }
    actual = {
        "inputs.state": _f(1.0, 2.0005),
        "inputs.embodiment_id": np.array([3], np.int32),
        "outputs.action_pred": np.full((1, 4, 2), 1e-4),
        "inputs.only_lerobot": _f(0.0),
    }
    env = kwargs.pop("env", {})
    assert isinstance(env, dict)
    env = {ENV_SCALE: "off", **env}  # these tests pin atol/rtol semantics; the scale criterion has its own
    return compare_mappings("libero_sim / model parity", expected, actual, tolerance_from_env(env), **kwargs)  # type: ignore[arg-type]


def test_compare_mappings_key_sets_and_missing_fails() -> None:
    strict = _report()
    assert strict.only_expected == ["inputs.only_original"] and strict.only_actual == ["inputs.only_lerobot"]
    assert [t.name for t in strict.tensors] == ["inputs.state", "inputs.embodiment_id", "outputs.action_pred"]
    assert all(t.passed for t in strict.tensors) and not strict.passed
    assert _report(missing_fails=False).passed


def test_compare_mappings_overrides_short_and_full_name() -> None:
    assert not _report(missing_fails=False, env={ENV_TOL: "state=0:0"}).passed
    full_wins = _report(missing_fails=False, env={ENV_TOL: "state=0:0,inputs.state=1e-3:0"})
    assert full_wins.passed and full_wins.tensors[0].tolerance == Tolerance(1e-3, 0.0)
    assert "inputs.state=1e-03:0" in full_wins.notes[0]


def test_compare_mappings_exact_keys() -> None:
    rep = _report(missing_fails=False, exact_keys=("state", "typo_key"))
    state = rep.tensors[0]
    assert state.exact and not state.passed and not rep.passed
    assert any("typo_key" in n for n in rep.notes) and not any("'state'" in n for n in rep.notes)
    assert _report(missing_fails=False, exact_keys=["outputs.action_pred"]).tensors[2].exact


def test_empty_comparison_never_passes() -> None:
    rep = compare_mappings("t", {}, {}, tolerance_from_env({}))
    assert not rep.passed and any("nothing was compared" in n for n in rep.notes)


def test_format_table_is_aligned_and_informative() -> None:
    rep = _report(env={ENV_TOL: "state=0:0"})
    table = rep.format_table()
    lines = table.splitlines()
    assert lines[0] == "libero_sim / model parity: FAIL (2/3 tensors passed)"
    header, *rows = lines[1:5]
    col = header.index("result")
    assert [r[col : col + 4] for r in rows] == ["FAIL", "PASS", "PASS"]
    assert header.index("max|diff|") == rows[0].index("5.000e-04 @ (1,)")
    assert "int64 vs int32" in rows[1] and "exact" in rows[1] and "1x4x2" in rows[2]
    assert "only in expected (original): inputs.only_original (FAIL)" in table
    assert "only in actual: inputs.only_lerobot (FAIL)" in table
    assert "outputs.action_pred: worst action step 0, dim 0" in table
    assert "inputs.embodiment_id: dtype differs (int64 vs int32)" in table
    assert "note: tolerances: atol=1e-03 rtol=1e-03 scale=off; overrides: state=0:0" in table
    assert "inputs.state: |diff| mean/median/p99 2.50e-04/5.00e-04/5.00e-04; rel 1.25e-04/2.50e-04/2.50e-04" in table


def test_report_to_dict_json() -> None:
    data = json.loads(json.dumps(_report().to_dict(), allow_nan=False))
    assert data["passed"] is False and data["missing_fails"] is True and len(data["tensors"]) == 3
    assert data["only_expected"] == ["inputs.only_original"]
