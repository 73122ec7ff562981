"""Block names match across the two implementations for every block of every checkpoint spec.

``fixtures/golden-bisect/block-paths.json`` holds each implementation's block module paths per spec (tiny,
alt, deepstack, scaled and full size), built by the real classes on the meta device
(``fixtures/block_paths.py``; each side is checked against a fresh build in its own environment's tests).
"""

from __future__ import annotations

import json

import pytest

from fixtures.block_paths import BLOCK_PATHS
from fixtures.checkpoint_spec import SPECS
from parity_format.block_keys import blocks_of_modules, unmatched_blocks

RECORDED = json.loads(BLOCK_PATHS.read_text())


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_no_block_is_present_on_one_side_only(spec: str) -> None:
    assert unmatched_blocks(RECORDED["original"][spec], RECORDED["lerobot"][spec]) == {
        "original only": [],
        "lerobot only": [],
    }


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_block_the_spec_implies_is_found(spec: str) -> None:
    s = SPECS[spec]
    expected = {
        "vision_block": s.vision.depth,
        "deepstack_merger": len(s.vision.deepstack_visual_indexes),
        "vision_merger": 1,
        "llm_layer": min(s.head.select_layer, s.text.num_hidden_layers),
        "vl_block": s.head.vl_layers,
        "dit_block": s.head.dit_layers,
    }
    for side in ("original", "lerobot"):
        found = blocks_of_modules(RECORDED[side][spec], side)
        counts = {family: sum(b.family == family for b in found) for family in expected}
        assert counts == expected, side
