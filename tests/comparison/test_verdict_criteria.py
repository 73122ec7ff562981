"""Honest verdicts: the scale criterion sees small signals, statistics for choosing a tolerance, typed round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from comparison.compare import ComparisonReport, TensorComparison, compare_mappings, compare_tensor
from comparison.formatting import float_from_json, json_float
from comparison.results import Case, CheckResult
from comparison.stage_comparison import StageComparison, compare_stages
from comparison.status import STATUS_TEXT, Status
from comparison.tolerance import Tolerance, ToleranceConfig, tolerance_from_env
from parity_format.stage_keys import stage_key

DEFAULTS = {"float32": tolerance_from_env({}), "bfloat16": tolerance_from_env({}, "bfloat16")}


def signal(magnitude: float, seed: int = 0) -> np.ndarray:
    return (magnitude * np.random.default_rng(seed).uniform(0.2, 1.0, (2, 16, 8))).astype(np.float32)


@pytest.mark.parametrize("tier", DEFAULTS)
@pytest.mark.parametrize("magnitude", [1e-3, 3e-3, 1.0, 1e3])
def test_twenty_percent_error_fails_whatever_the_scale(tier: str, magnitude: float) -> None:
    expected = signal(magnitude)
    res = compare_tensor("stage.04.step0.velocity", expected, expected * np.float32(0.8), DEFAULTS[tier].default)
    assert not res.passed and res.scale_failed
    assert res.scale_error == pytest.approx(0.2, rel=1e-3)
    assert any("scale: max|diff|/max|expected|" in n for n in res.notes)


@pytest.mark.parametrize("magnitude", [1e-3, 1.0, 1e3])
def test_fp32_noise_passes_whatever_the_scale(magnitude: float) -> None:
    expected = signal(magnitude)
    actual = expected * np.float32(1 + 1e-6)  # the agreement two fp32 implementations reach
    res = compare_tensor("x", expected, actual, DEFAULTS["float32"].default)
    assert res.passed and res.scale_error is not None and res.scale_error < 2e-6


def test_the_small_velocity_case_of_the_issue() -> None:
    """Velocities ~3e-3 scaled by 0.8 passed atol=1e-3 alone; atol is now also flagged as blind here."""
    expected = signal(3e-3)
    res = compare_tensor("velocity", expected, expected * np.float32(0.8), DEFAULTS["float32"].default)
    assert res.mismatch_count == 0  # the element-wise atol/rtol criterion alone would pass it
    assert not res.passed and res.warnings and "atol alone cannot see errors" in res.warnings[0]
    big = compare_tensor("x", signal(1.0), signal(1.0), DEFAULTS["float32"].default)
    assert big.passed and not big.warnings


def test_statistics_and_the_tolerances_that_would_pass() -> None:
    expected = np.array([1.0, 2.0, 4.0, -8.0], np.float64)
    actual = expected + np.array([0.0, 0.1, 0.0, 0.4])
    tol = ToleranceConfig().default
    res = compare_tensor("x", expected, actual, tol)
    assert res.max_abs_diff == pytest.approx(0.4) and res.mean_abs_diff == pytest.approx(0.125)
    assert res.median_abs_diff == pytest.approx(0.1) and res.p99_abs_diff == pytest.approx(0.4)
    assert res.max_rel_diff == pytest.approx(0.05) and res.median_rel_diff == pytest.approx(0.05)
    assert res.scale_error == pytest.approx(0.05) == res.needed_scale
    assert res.needed_atol == pytest.approx(0.4 - 1e-3 * 8) and res.needed_rtol == pytest.approx((0.4 - 1e-3) / 8)
    assert res.cosine == pytest.approx(np.dot(expected, actual) / np.linalg.norm(expected) / np.linalg.norm(actual))
    assert res.typical_magnitude == pytest.approx(3.0)
    just = 1 + 1e-9  # the reported figures are the boundary itself (up to float rounding)
    loosened = Tolerance(res.needed_atol * just, tol.rtol, res.needed_scale * just)
    assert compare_tensor("x", expected, actual, loosened).passed
    assert "passes with atol>=3.92e-01 or rtol>=4.99e-02 (each alone); scale>=5.00e-02" in res.stats_text()


def test_all_zero_reference_fails_any_difference_on_scale() -> None:
    res = compare_tensor("x", np.zeros(4), np.full(4, 1e-9), ToleranceConfig().default)
    assert not res.passed and res.scale_error == float("inf") and "reference is all zeros" in res.notes[-1]
    assert compare_tensor("x", np.zeros(4), np.zeros(4), ToleranceConfig().default).passed


def test_json_floats_round_trip() -> None:
    for value in (float("nan"), float("inf"), float("-inf"), 1.5, None):
        text = json.dumps(json_float(value), allow_nan=False)
        back = float_from_json(json.loads(text))
        assert back == value or (value is not None and np.isnan(value) and np.isnan(back))


def test_statuses_are_defined_once() -> None:
    assert [s.value for s in Status] == ["pass", "fail", "xfail", "skip"] and Status.XFAIL.text == "KNOWN DIVERGENCE"
    assert set(STATUS_TEXT) == set(Status) and Status.parse("fail") is Status.FAIL
    with pytest.raises(ValueError, match="unknown status"):
        Status.parse("passed")


def _stages() -> StageComparison:
    rng = np.random.default_rng(0)
    expected = {stage_key("velocity", i): rng.normal(size=(2, 3)).astype(np.float32) for i in range(3)}
    actual = {k: v.copy() for k, v in expected.items()}
    actual[stage_key("velocity", 1)][0, 0] = np.nan
    return compare_stages(expected, actual, ToleranceConfig(), None)


def test_typed_results_round_trip_through_strict_json(tmp_path: Path) -> None:
    stages = _stages()
    assert stages.first_divergence == "stage.step1.velocity" and stages.first_divergence_label == "step 1 velocity"
    report = compare_mappings(
        "t", {"a": np.ones(3), "ids": np.arange(3)}, {"a": np.ones(3), "b": np.ones(1)}, ToleranceConfig()
    )
    report.problems.append("checkpoint differs")
    result = CheckResult(
        Case(tmp_path / "x.npz", "256x256", "libero_sim"),
        "model",
        Status.FAIL,
        "checkpoint differs; out of tolerance: ...",
        report,
        ["letterbox"],
        1.25,
        stages,
        [[0.0, float("nan")], [float("inf"), 1e-3]],
        ["noise source: recorded"],
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    back = CheckResult.from_dict(data)
    assert type(back) is CheckResult and type(back.report) is ComparisonReport and type(back.stages) is StageComparison
    assert type(back.report.tensors[0]) is TensorComparison and back.status is Status.FAIL
    assert back.report == report and back.stages == stages and back.problems == ["checkpoint differs"]
    assert back.action_abs_diff[1] == [float("inf"), 1e-3] and np.isnan(back.action_abs_diff[0][1])
    assert back.to_dict() == data and not report.passed and data["report"]["passed"] is False
