"""Judge every block of a bisect run: chained and isolated differences, rounding against float64.

Per block (``parity_format.block_keys``) the original's recorded output is compared with LeRobot's

- chained: LeRobot fed its own upstream values, as in a normal run;
- isolated: LeRobot's block fed the original's recorded inputs, so only the block's own computation counts;
- float64: each side's block rerun in float64 on those same inputs.

A block out of tolerance in isolation is ``rounding`` when its float64 outputs agree where its float32
outputs do not (the difference shrinks by at least :data:`ROUNDING_SHRINK` with the precision: both compute
the same function, in another order) and ``differs`` otherwise: that is a real difference, a cause.
Chained, a block out of tolerance whose isolated run is fine only ``inherits`` an upstream difference.
numpy-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from comparison.compare import compare_tensor
from comparison.formatting import fmt_sci
from comparison.tables import align_columns
from comparison.tolerance import ToleranceConfig
from parity_format.block_keys import BlockId, block_position, parse_block_key

#: float64 difference / float32 difference at or below which an isolated difference is rounding: the two
#: sides agree in float64 to ~1e-16 relative when they compute the same function (measured on the tiny
#: fixture, docs/bisect.md); a real difference does not shrink with precision (ratio ~1).
ROUNDING_SHRINK = 1e-3

MATCH, ROUNDING, DIFFERS, INHERITED, MISSING = "match", "rounding", "differs", "inherited", "missing"


@dataclass(frozen=True)
class Figures:
    """One comparison's figures: max |diff|, scale error (max|diff| / max|expected|), cosine, within tolerance."""

    max_abs_diff: float
    scale_error: float
    cosine: float | None
    within: bool

    @classmethod
    def of(cls, name: str, expected: np.ndarray, actual: np.ndarray, tolerance: ToleranceConfig) -> Figures:
        result = compare_tensor(name, expected, actual, tolerance.for_tensor(name), exact=False)
        if result.max_abs_diff is None:  # a shape or dtype refusal: nothing comparable
            return cls(math.inf, math.inf, None, False)
        return cls(float(result.max_abs_diff), float(result.scale_error or 0.0), result.cosine, bool(result.passed))


def max_abs(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.shape != actual.shape:
        return math.inf
    return float(np.max(np.abs(expected.astype(np.float64) - actual.astype(np.float64)), initial=0.0))


@dataclass
class BlockVerdict:
    """What the bisect says about one block, with the figures behind it."""

    block: BlockId
    original_path: str
    lerobot_path: str
    chained: Figures | None = None
    isolated: Figures | None = None
    chained_input: Figures | None = None  # the worst of LeRobot's own inputs to the block against the original's
    original_vs_fp64: float | None = None  # max |out - out64| of the original: its own rounding
    lerobot_vs_fp64: float | None = None  # the same for LeRobot (isolated run)
    fp64_diff: float | None = None  # max |original out64 - LeRobot out64|
    isolated_status: str = MISSING
    chained_status: str = MISSING

    def judge(self) -> None:
        """Set both statuses from the figures (see the module docstring)."""
        if self.isolated is None:
            self.isolated_status = MISSING
        elif self.isolated.within:
            self.isolated_status = MATCH
        elif self.fp64_diff is not None and self.fp64_diff <= ROUNDING_SHRINK * self.isolated.max_abs_diff:
            self.isolated_status = ROUNDING
        else:
            self.isolated_status = DIFFERS
        if self.chained is None:
            self.chained_status = MISSING
        elif self.chained.within:
            self.chained_status = MATCH
        elif self.isolated_status == DIFFERS:
            self.chained_status = DIFFERS
        elif self.isolated_status == ROUNDING:
            self.chained_status = ROUNDING
        else:
            self.chained_status = INHERITED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["block"] = self.block.label
        return data


def judge_blocks(
    original: Mapping[str, np.ndarray],
    chained: Mapping[str, np.ndarray],
    isolated: Mapping[str, np.ndarray],
    tolerance: ToleranceConfig,
    blocks: Sequence[BlockId],
    token_mask: np.ndarray | None = None,
) -> list[BlockVerdict]:
    """Every block of ``blocks`` judged from the members ('<key>.out', '<key>.out64') of the three runs.

    ``token_mask`` (B, seq) bool, the attention mask: token-level tensors ((B, seq, ...)) are compared at
    valid positions only, as the token-level stages are (padding positions carry no meaning).
    """

    def valid(run: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        return run if token_mask is None else _ValidTokens(run, token_mask)

    original, chained, isolated = valid(original), valid(chained), valid(isolated)
    verdicts = []
    for block in sorted(blocks, key=block_position):
        out, out64 = block.member("out"), block.member("out64")
        verdict = BlockVerdict(block, block.module_path("original"), block.module_path("lerobot"))
        if out in original and out in chained:
            verdict.chained = Figures.of(out, original[out], chained[out], tolerance)
        if out in original and out in isolated:
            verdict.isolated = Figures.of(out, original[out], isolated[out], tolerance)
        inputs = [k for k in chained if k.startswith(block.member("in.")) and k in original]
        worst = [Figures.of(k, original[k], chained[k], tolerance) for k in inputs]
        if worst:
            verdict.chained_input = max(worst, key=lambda f: (not f.within, f.scale_error))
        if out in original and out64 in original:
            verdict.original_vs_fp64 = max_abs(original[out64], original[out])
        if out in isolated and out64 in isolated:
            verdict.lerobot_vs_fp64 = max_abs(isolated[out64], isolated[out])
        if out64 in original and out64 in isolated:
            verdict.fp64_diff = max_abs(original[out64], isolated[out64])
        verdict.judge()
        verdicts.append(verdict)
    return verdicts


class _ValidTokens(Mapping[str, np.ndarray]):
    """A run's members, each token-level one reduced to its valid positions (read lazily)."""

    def __init__(self, members: Mapping[str, np.ndarray], mask: np.ndarray) -> None:
        self.members, self.mask = members, mask.astype(bool)

    def __getitem__(self, name: str) -> np.ndarray:
        array = np.asarray(self.members[name])
        return array[self.mask] if array.shape[:2] == self.mask.shape else array

    def __iter__(self) -> Iterator[str]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, name: object) -> bool:
        return name in self.members


def first_cause(verdicts: Sequence[BlockVerdict]) -> BlockVerdict | None:
    """The first block (pipeline order) that differs in isolation beyond rounding."""
    return next((v for v in verdicts if v.isolated_status == DIFFERS), None)


def first_gap(verdicts: Sequence[BlockVerdict]) -> tuple[BlockVerdict | None, BlockVerdict] | None:
    """(last block that matches, first block after it) when a chained input differs though every block before
    it matches chained: the difference arises in the code between two blocks, not inside one."""
    previous = None
    for verdict in verdicts:
        if verdict.chained_input is not None and not verdict.chained_input.within:
            return previous, verdict
        if verdict.chained_status != MATCH:
            return None
        previous = verdict
    return None


def _figure(value: float | None) -> str:
    return "-" if value is None else fmt_sci(value)


def _cosine(figures: Figures | None) -> str:
    return "-" if figures is None or figures.cosine is None else f"{figures.cosine:.6f}"


def format_table(verdicts: Sequence[BlockVerdict]) -> str:
    """One row per block: chained and isolated figures and statuses, each side's distance to float64."""
    header = [
        "block",
        "chained",
        "max|diff|",
        "scale err",
        "isolated",
        "max|diff|",
        "scale err",
        "cosine",
        "orig-fp64",
        "lerobot-fp64",
        "fp64 diff",
    ]
    rows = [header]
    for v in verdicts:
        rows.append(
            [
                v.block.label,
                v.chained_status,
                _figure(v.chained.max_abs_diff if v.chained else None),
                _figure(v.chained.scale_error if v.chained else None),
                v.isolated_status,
                _figure(v.isolated.max_abs_diff if v.isolated else None),
                _figure(v.isolated.scale_error if v.isolated else None),
                _cosine(v.isolated),
                _figure(v.original_vs_fp64),
                _figure(v.lerobot_vs_fp64),
                _figure(v.fp64_diff),
            ]
        )
    return "\n".join(align_columns(rows))


def cause_line(verdicts: Sequence[BlockVerdict], figure_paths: Sequence[str] = ()) -> str:
    """The one closing line: the first block that differs in isolation, its module paths and figures."""
    figures = f"; figure: {', '.join(figure_paths)}" if figure_paths else ""
    cause = first_cause(verdicts)
    gap = first_gap(verdicts) if cause is None else None
    if gap is not None:
        before, after = gap
        assert after.chained_input is not None
        where = "before" if before is None else f"after {before.block.label} ({before.original_path}) and before"
        return (
            f"cause: between blocks: no block differs in isolation, but {after.block.label}'s input differs "
            f"chained (max|diff| {fmt_sci(after.chained_input.max_abs_diff)}, scale err "
            f"{fmt_sci(after.chained_input.scale_error)}) while every block before it matches: the difference "
            f"arises {where} {after.block.label} ({after.original_path}){figures}"
        )
    if cause is None:
        rounding = sum(v.isolated_status == ROUNDING for v in verdicts)
        inherited = sum(v.chained_status == INHERITED for v in verdicts)
        return (
            f"cause: none: no block of {len(verdicts)} differs in isolation beyond rounding "
            f"({rounding} rounding, {inherited} inherited in chained mode){figures}"
        )
    iso = cause.isolated
    assert iso is not None  # DIFFERS needs isolated figures
    paths = (
        cause.original_path
        if cause.original_path == cause.lerobot_path
        else f"original {cause.original_path}, lerobot {cause.lerobot_path}"
    )
    return (
        f"cause: {cause.block.label} ({paths}) differs in isolation: max|diff| {fmt_sci(iso.max_abs_diff)}, "
        f"scale err {fmt_sci(iso.scale_error)}, cosine {_cosine(iso)}, float64 diff {_figure(cause.fp64_diff)}"
        f"{figures}"
    )


def block_of_member(name: str) -> BlockId:
    """'block.llm_layer.0.out' -> the block it belongs to."""
    for suffix in (".out64", ".out"):
        if name.endswith(suffix):
            return parse_block_key(name.removesuffix(suffix))
    return parse_block_key(name.split(".in.", 1)[0])
