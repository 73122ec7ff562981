"""The per-block judgement: within tolerance, rounding (vanishes in float64), a real difference, inherited."""

from __future__ import annotations

import numpy as np

from comparison.block_comparison import (
    DIFFERS,
    INHERITED,
    MATCH,
    ROUNDING,
    cause_line,
    first_cause,
    first_gap,
    format_table,
    judge_blocks,
)
from comparison.tolerance import Tolerance, ToleranceConfig
from parity_format.block_keys import BlockId

RNG = np.random.default_rng(0)
A, B = BlockId("llm_layer", 0), BlockId("llm_layer", 1)


def runs(iso_a: np.ndarray, iso_a64: np.ndarray, chained_b: np.ndarray) -> tuple[dict, dict, dict]:
    a64 = RNG.standard_normal((2, 5, 8))
    b64 = RNG.standard_normal((2, 5, 8))
    original = {
        "block.llm_layer.0.out": a64.astype(np.float32),
        "block.llm_layer.0.out64": a64,
        "block.llm_layer.1.out": b64.astype(np.float32),
        "block.llm_layer.1.out64": b64,
    }
    isolated = {
        "block.llm_layer.0.out": iso_a(a64),
        "block.llm_layer.0.out64": iso_a64(a64),
        "block.llm_layer.1.out": original["block.llm_layer.1.out"],
        "block.llm_layer.1.out64": b64,
    }
    chained = {"block.llm_layer.0.out": isolated["block.llm_layer.0.out"], "block.llm_layer.1.out": chained_b(b64)}
    return original, chained, isolated


def test_a_real_difference_is_the_cause_and_the_next_block_inherits() -> None:
    original, chained, isolated = runs(
        lambda a: (a * 1.1).astype(np.float32), lambda a: a * 1.1, lambda b: (b + 0.5).astype(np.float32)
    )
    verdicts = judge_blocks(original, chained, isolated, ToleranceConfig(), [B, A])
    assert [(v.block.label, v.isolated_status, v.chained_status) for v in verdicts] == [
        ("llm_layer.0", DIFFERS, DIFFERS),
        ("llm_layer.1", MATCH, INHERITED),
    ]
    assert first_cause(verdicts) is verdicts[0]
    assert cause_line(verdicts).startswith(
        "cause: llm_layer.0 (backbone.model.model.language_model.layers.0) differs in isolation: max|diff| "
    )
    assert "inherited" in format_table(verdicts)


def test_a_difference_that_vanishes_in_float64_is_rounding_not_a_cause() -> None:
    exact = ToleranceConfig(default=Tolerance(0.0, 0.0, 0.0))
    original, chained, isolated = runs(
        lambda a: np.nextafter(a.astype(np.float32), np.float32(np.inf)),  # one ulp off in float32
        lambda a: a + 1e-17 * np.abs(a).max(),  # the same function in float64
        lambda b: b.astype(np.float32),
    )
    verdicts = judge_blocks(original, chained, isolated, exact, [A, B])
    assert verdicts[0].isolated_status == ROUNDING and verdicts[0].chained_status == ROUNDING
    assert first_cause(verdicts) is None
    line = cause_line(verdicts)
    assert line.startswith("cause: none: no block of 2 differs in isolation beyond rounding (1 rounding")


def test_a_block_missing_from_a_run_is_missing_not_a_match() -> None:
    original, chained, isolated = runs(lambda a: a.astype(np.float32), lambda a: a, lambda b: b.astype(np.float32))
    del isolated["block.llm_layer.1.out"], chained["block.llm_layer.1.out"]
    verdicts = judge_blocks(original, chained, isolated, ToleranceConfig(), [A, B])
    assert (verdicts[1].isolated_status, verdicts[1].chained_status) == ("missing", "missing")


def test_a_difference_between_two_blocks_is_named_as_the_gap_between_them() -> None:
    """Every block matches on its own and chained, but the second one's input differs: the glue between them."""
    shifted = runs(lambda a: a.astype(np.float32), lambda a: a, lambda b: (b + 1).astype(np.float32))
    original, chained, isolated = shifted
    original["block.llm_layer.1.in.hidden_states"] = np.zeros((2, 3), np.float32)
    chained["block.llm_layer.1.in.hidden_states"] = np.full((2, 3), 2.8, np.float32)
    verdicts = judge_blocks(original, chained, isolated, ToleranceConfig(), [A, B])
    assert first_cause(verdicts) is None
    assert first_gap(verdicts) == (verdicts[0], verdicts[1])
    assert cause_line(verdicts).startswith(
        "cause: between blocks: no block differs in isolation, but llm_layer.1's input differs chained (max|diff| "
        "2.80e+00"
    )
    assert "after llm_layer.0 (backbone.model.model.language_model.layers.0) and before llm_layer.1" in cause_line(
        verdicts
    )


def test_padding_positions_of_token_level_tensors_are_not_compared() -> None:
    expected = np.ones((2, 3, 4), np.float32)
    actual = expected.copy()
    actual[0, 0] = 9.0  # a padding position (left padding of the first sequence)
    mask = np.array([[False, True, True], [True, True, True]])
    runs_ = {"block.llm_layer.0.out": expected}, {"block.llm_layer.0.out": actual}, {"block.llm_layer.0.out": actual}
    assert judge_blocks(*runs_, ToleranceConfig(), [A], mask)[0].isolated_status == MATCH
    assert judge_blocks(*runs_, ToleranceConfig(), [A])[0].isolated_status == DIFFERS
