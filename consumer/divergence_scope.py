"""What a declared divergence does NOT cover inside the tensors it lists, so that part is still compared.

A divergence lists whole tensors, but its condition may reach only some rows or steps of them: an empty
instruction changes its own row of ``input_ids``/``attention_mask``, not the other rows; a state history
changes the steps before the latest, not the latest one LeRobot is fed. Each such divergence names an
``uncovered`` function (here) that cuts, from expected and actual, the part its condition does not reach.
Those parts are compared as tensors of their own (``<tensor>@outside-<divergence>``), which no divergence
lists: a difference there fails the case like any unexplained tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from comparison.compare import TensorComparison, compare_tensor
from comparison.tolerance import ToleranceConfig
from parity_format.artifact import Artifact

Pairs = dict[str, tuple[np.ndarray, np.ndarray]]  # tensor -> (expected part, actual part)
Uncovered = Callable[[Artifact, Mapping[str, np.ndarray], Mapping[str, np.ndarray]], Pairs]


class Scoped(Protocol):
    """What :func:`compare_uncovered` reads of a declared divergence (consumer.known_divergences imports this)."""

    @property
    def name(self) -> str: ...

    @property
    def uncovered(self) -> Uncovered | None: ...


def right_aligned(expected: np.ndarray, actual: np.ndarray, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of two left-padded (B, L) token tensors, cut to their common width from the right.

    Left padding puts every row's tokens at the right end, so a longer row elsewhere in the batch only adds
    padding on the left; the right-most columns of an unaffected row are the same on both sides.
    """
    width = min(expected.shape[-1], actual.shape[-1])
    index = list(rows)
    return expected[index, -width:], actual[index, -width:]


def rows_with_instruction(
    artifact: Artifact, expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]
) -> Pairs:
    """empty-instruction: the rows whose instruction is not empty, of both token tensors."""
    if artifact.raw is None:
        return {}
    rows = [i for i, text in enumerate(artifact.raw.language) if text != ""]
    pairs: Pairs = {}
    for name in ("input_ids", "attention_mask"):
        if rows and name in expected and name in actual and expected[name].ndim == actual[name].ndim == 2:
            pairs[name] = right_aligned(expected[name], actual[name], rows)
    return pairs


def latest_state_step(
    artifact: Artifact, expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]
) -> Pairs:
    """state-history: the latest state step, which LeRobot is fed and must normalize the same way."""
    if "state" not in expected or "state" not in actual or expected["state"].ndim != 3 or actual["state"].ndim != 3:
        return {}
    return {"state": (expected["state"][:, -1:, :], actual["state"][:, -1:, :])}


def compare_uncovered(
    known: Sequence[Scoped],
    artifact: Artifact,
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    tolerances: ToleranceConfig,
    exact_keys: Sequence[str],
) -> list[TensorComparison]:
    """One comparison per part of a listed tensor that an applicable divergence does not cover."""
    results = []
    for divergence in known:
        if divergence.uncovered is None:
            continue
        for name, (exp, act) in divergence.uncovered(artifact, expected, actual).items():
            exact = True if name in exact_keys else None
            label = f"{name}@outside-{divergence.name}"
            results.append(compare_tensor(label, exp, act, tolerances.for_tensor(name), exact=exact))
    return results
