"""Block identity for bisect artifacts: every repeated block of GR00T N1.7, keyed from its module path.

A block is one instance of a repeated module (a vision block, a DeepStack merger, an LLM layer, a VL
self-attention block, a DiT block). Its key is derived from its module path through the family declared
here, per side, never from the order hooks fired: ``block.<family>.<index>`` for a block run once,
``block.step<k>.<family>.<index>`` for one run at denoising step ``k`` (the DiT blocks). Where the two
implementations' paths differ, the family's two patterns are the declared mapping; today they agree.

Members of a bisect artifact (all under ``out::``): ``<key>.in.<parameter>[.<j>]`` every floating-point
tensor the block received (bound to its forward's parameter names, so positional and keyword calls agree),
``<key>.out`` its output, ``<key>.out64`` the same block run in float64 on the same inputs.
numpy-free: importable anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BLOCK_PREFIX = "block."
BISECT_KIND = "bisect"  # provenance["artifact_kind"] of a bisect artifact
OUT, OUT64, IN = "out", "out64", "in"


@dataclass(frozen=True)
class BlockFamily:
    name: str
    original_pattern: str  # module path inside gr00t's Gr00tN1d7, "{i}" the index
    lerobot_pattern: str  # module path inside LeRobot's GR00TN17
    per_step: bool = False  # run once per denoising step

    def pattern(self, side: str) -> str:
        if side not in ("original", "lerobot"):
            raise ValueError(f"side must be 'original' or 'lerobot', got {side!r}")
        return self.original_pattern if side == "original" else self.lerobot_pattern

    def regex(self, side: str) -> re.Pattern[str]:
        return re.compile("^" + re.escape(self.pattern(side)).replace(re.escape("{i}"), r"(\d+)") + "$")


_VISUAL = "backbone.model.model.visual"
# Pipeline order: what runs first comes first (DeepStack mergers read vision blocks, the LLM reads both).
BLOCK_FAMILIES: tuple[BlockFamily, ...] = (
    BlockFamily("vision_block", f"{_VISUAL}.blocks.{{i}}", f"{_VISUAL}.blocks.{{i}}"),
    BlockFamily("deepstack_merger", f"{_VISUAL}.deepstack_merger_list.{{i}}", f"{_VISUAL}.deepstack_merger_list.{{i}}"),
    BlockFamily("vision_merger", f"{_VISUAL}.merger", f"{_VISUAL}.merger"),
    BlockFamily(
        "llm_layer",
        "backbone.model.model.language_model.layers.{i}",
        "backbone.model.model.language_model.layers.{i}",
    ),
    BlockFamily(
        "vl_block",
        "action_head.vl_self_attention.transformer_blocks.{i}",
        "action_head.vl_self_attention.transformer_blocks.{i}",
    ),
    BlockFamily(
        "dit_block", "action_head.model.transformer_blocks.{i}", "action_head.model.transformer_blocks.{i}", True
    ),
)
FAMILIES = {f.name: f for f in BLOCK_FAMILIES}
_ORDER = {f.name: i for i, f in enumerate(BLOCK_FAMILIES)}
_KEY = re.compile(r"^block\.(?:step(\d+)\.)?([a-z_]+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class BlockId:
    """One block, independent of side: family, index (0 for a single module), step (None: not per step)."""

    family: str
    index: int
    step: int | None = None

    @property
    def key(self) -> str:
        step = "" if self.step is None else f"step{self.step}."
        return f"{BLOCK_PREFIX}{step}{self.family}.{self.index}"

    @property
    def label(self) -> str:
        return self.key.removeprefix(BLOCK_PREFIX)

    def module_path(self, side: str) -> str:
        return FAMILIES[self.family].pattern(side).replace("{i}", str(self.index))

    def member(self, what: str) -> str:
        """'block.llm_layer.0.out' and friends: ``what`` is out, out64 or in.<parameter>."""
        return f"{self.key}.{what}"


def parse_block_key(key: str) -> BlockId:
    match = _KEY.match(key)
    if not match or match.group(2) not in FAMILIES:
        raise ValueError(f"not a block key: {key!r}")
    step = match.group(1)
    return BlockId(match.group(2), int(match.group(3)), None if step is None else int(step))


def block_of_module(path: str, side: str) -> BlockId | None:
    """The block a module path is (without step), or None when it is not one."""
    for family in BLOCK_FAMILIES:
        match = family.regex(side).match(path)
        if match:
            return BlockId(family.name, int(match.group(1)) if match.groups() else 0)
    return None


def blocks_of_modules(paths: Iterable[str], side: str) -> dict[BlockId, str]:
    """Every block among ``paths`` (a model's ``named_modules`` names) -> its module path."""
    found = {}
    for path in paths:
        block = block_of_module(path, side)
        if block is not None:
            found[block] = path
    return found


def unmatched_blocks(original_paths: Iterable[str], lerobot_paths: Iterable[str]) -> dict[str, list[str]]:
    """Blocks present on one side only: {'original only': [paths], 'lerobot only': [paths]} (empty lists: none)."""
    original = blocks_of_modules(original_paths, "original")
    lerobot = blocks_of_modules(lerobot_paths, "lerobot")
    return {
        "original only": sorted(original[b] for b in original.keys() - lerobot.keys()),
        "lerobot only": sorted(lerobot[b] for b in lerobot.keys() - original.keys()),
    }


def block_position(block: BlockId) -> tuple[int, int, int, int]:
    """Sort key: blocks run once (in family order), then each denoising step's blocks."""
    step = -1 if block.step is None else block.step
    return (0 if block.step is None else 1, step, _ORDER[block.family], block.index)


def recorded_blocks(outputs: Mapping[str, object]) -> list[BlockId]:
    """The blocks whose output a bisect artifact records (``outputs`` keys without ``out::``), in order."""
    suffix = f".{OUT}"
    keys = (k.removesuffix(suffix) for k in outputs if k.startswith(BLOCK_PREFIX) and k.endswith(suffix))
    blocks = {parse_block_key(key) for key in keys}
    return sorted(blocks, key=block_position)


def recorded_inputs(outputs: Mapping[str, object], block: BlockId) -> dict[str, str]:
    """{input name ('hidden_states', 'position_embeddings.0', ...): member name} of one recorded block."""
    prefix = block.member(f"{IN}.")
    return {k.removeprefix(prefix): k for k in outputs if k.startswith(prefix)}
