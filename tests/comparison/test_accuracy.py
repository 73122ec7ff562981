"""The accuracy-parity rule on synthetic arrays: what passes, what fails, and the floor."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from comparison.accuracy import (
    DEFAULT_FLOOR_FRACTION,
    DEFAULT_K,
    ENVELOPE,
    FP64,
    AccuracyComparison,
    accuracy_parity,
    envelope_parity,
    pooled,
    rmse,
)
from comparison.formatting import fmt_num

RNG = np.random.default_rng(7)
EXACT = RNG.standard_normal((2, 8, 6))
NOISE = RNG.standard_normal(EXACT.shape)


def test_equal_errors_pass() -> None:
    reference = EXACT + 1e-2 * NOISE
    candidate = EXACT - 1e-2 * NOISE  # the same error, other sign
    result = accuracy_parity("a", candidate, reference, EXACT)
    assert result.passed and result.mode == FP64
    assert result.ratio == pytest.approx(1.0)
    assert result.candidate_rmse == pytest.approx(result.reference_rmse)


def test_ten_times_larger_error_fails() -> None:
    reference = EXACT + 1e-2 * NOISE
    candidate = EXACT + 1e-1 * NOISE
    result = accuracy_parity("a", candidate, reference, EXACT)
    assert not result.passed
    assert result.ratio == pytest.approx(10.0)
    assert result.candidate_rmse > result.bound == pytest.approx(DEFAULT_K * result.reference_rmse + result.floor)
    assert "FAIL a" in result.summary()


def test_zero_reference_error_hits_the_floor_rule() -> None:
    floor = DEFAULT_FLOOR_FRACTION * float(np.sqrt(np.mean(EXACT**2)))
    above = accuracy_parity("a", EXACT + 3 * floor, EXACT.copy(), EXACT)
    assert above.reference_rmse == 0 and above.ratio == math.inf
    assert not above.passed and above.bound == pytest.approx(floor)
    assert any("floor alone" in n for n in above.notes)
    below = accuracy_parity("a", EXACT + 0.5 * floor, EXACT.copy(), EXACT)
    assert below.passed and below.candidate_rmse == pytest.approx(0.5 * floor)
    both_exact = accuracy_parity("a", EXACT.copy(), EXACT.copy(), EXACT)
    assert both_exact.passed and both_exact.ratio == 0.0


def test_non_finite_candidate_fails_and_shapes_must_agree() -> None:
    bad = EXACT.copy()
    bad[0, 0, 0] = np.nan
    assert rmse(bad, EXACT) == math.inf
    assert not accuracy_parity("a", bad, EXACT + 1e-2 * NOISE, EXACT).passed
    short = accuracy_parity("a", EXACT[:, :4], EXACT, EXACT)
    assert not short.passed and "shapes differ" in short.notes[0] and short.candidate_rmse is None


def test_envelope_without_fp64_is_named_and_bounded() -> None:
    best = EXACT.astype(np.float32)
    inside = envelope_parity("a", best + 1e-3 * NOISE, best + 1e-2 * NOISE, best, envelope=5e-2)
    assert inside.passed and inside.mode == ENVELOPE and inside.k is None
    assert "declared fixed envelope" in inside.summary()
    outside = envelope_parity("a", best + 1.0 * NOISE, best, best, envelope=5e-2)
    assert not outside.passed and outside.ratio == math.inf


def test_round_trips_through_json_as_the_same_class() -> None:
    for result in (
        accuracy_parity("action.x@chunk", EXACT + 1e-2 * NOISE, EXACT + 2e-2 * NOISE, EXACT),
        accuracy_parity("a", EXACT + 1e-3, EXACT.copy(), EXACT),  # ratio inf
        envelope_parity("a", EXACT, EXACT, EXACT),
    ):
        again = AccuracyComparison.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
        assert again == result and fmt_num(again.ratio) == fmt_num(result.ratio)


def test_pooled_keys_judge_the_whole_action_with_each_key_at_its_own_scale() -> None:
    rng = np.random.default_rng(3)
    exact = {"arm": rng.normal(size=(1, 8, 7)) * 100.0, "gripper": rng.normal(size=(1, 8, 1))}
    original = {k: v + rng.normal(size=v.shape) * 1e-2 * np.abs(v).mean() for k, v in exact.items()}
    lerobot = {k: v + rng.normal(size=v.shape) * 1e-2 * np.abs(v).mean() for k, v in exact.items()}
    lerobot["gripper"] = exact["gripper"] + (original["gripper"] - exact["gripper"]) * 2.5  # one small key noisier
    triples = {k: (lerobot[k], original[k], exact[k]) for k in exact}
    assert not accuracy_parity("gripper", *triples["gripper"]).passed  # alone, the small sample fails
    assert accuracy_parity("action", *pooled(triples)).passed  # the whole action is as accurate
    buggy = {k: (original[k] + (original[k] - exact[k]) * 4.0, original[k], exact[k]) for k in exact}
    assert not accuracy_parity("action", *pooled(buggy)).passed  # every key 5x the error: a precision bug fails
    cand, _, scaled = pooled(triples)
    assert cand.shape == (64,) and np.sqrt(np.mean(scaled[:56] ** 2)) == pytest.approx(1.0)  # arm scaled to RMS 1
