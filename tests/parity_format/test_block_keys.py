"""Block identity: keys come from module paths (per side), never from the order hooks fired."""

from __future__ import annotations

import pytest

from parity_format.block_keys import (
    BLOCK_FAMILIES,
    BlockId,
    block_of_module,
    blocks_of_modules,
    parse_block_key,
    recorded_blocks,
    recorded_inputs,
    unmatched_blocks,
)


def test_a_key_round_trips_and_names_its_module_on_each_side() -> None:
    block = BlockId("dit_block", 3, 1)
    assert block.key == "block.step1.dit_block.3"
    assert parse_block_key(block.key) == block
    assert block.module_path("original") == "action_head.model.transformer_blocks.3"
    assert parse_block_key("block.vision_merger.0").module_path("lerobot") == "backbone.model.model.visual.merger"


BAD_KEYS = ["block.llm_layer", "block.nope.1", "stage.backbone_features", "block.step.dit_block.1"]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_a_malformed_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a block key"):
        parse_block_key(bad)


def test_only_whole_block_paths_are_blocks() -> None:
    assert block_of_module("backbone.model.model.language_model.layers.11", "lerobot") == BlockId("llm_layer", 11)
    assert block_of_module("backbone.model.model.language_model.layers.11.mlp", "lerobot") is None
    assert block_of_module("backbone.model.model.visual.merger.norm", "original") is None
    assert block_of_module("action_head.vl_self_attention.transformer_blocks.0", "original") == BlockId("vl_block", 0)


def test_a_block_on_one_side_only_is_listed() -> None:
    common = ["backbone.model.model.visual.blocks.0", "action_head.model.transformer_blocks.0"]
    assert unmatched_blocks(common, common) == {"original only": [], "lerobot only": []}
    assert unmatched_blocks([*common, "backbone.model.model.language_model.layers.2"], common) == {
        "original only": ["backbone.model.model.language_model.layers.2"],
        "lerobot only": [],
    }


def test_recorded_blocks_are_in_pipeline_order_whatever_the_member_order() -> None:
    outputs = {
        "block.step1.dit_block.0.out": 0,
        "block.step0.dit_block.1.out": 0,
        "block.llm_layer.1.out": 0,
        "block.llm_layer.0.out": 0,
        "block.llm_layer.0.out64": 0,
        "block.vision_block.0.out": 0,
        "block.vision_block.0.in.hidden_states": 0,
        "block.vision_block.0.in.position_embeddings.0": 0,
        "stage.backbone_features": 0,
    }
    labels = [b.label for b in recorded_blocks(outputs)]
    assert labels == ["vision_block.0", "llm_layer.0", "llm_layer.1", "step0.dit_block.1", "step1.dit_block.0"]
    assert recorded_inputs(outputs, BlockId("vision_block", 0)) == {
        "hidden_states": "block.vision_block.0.in.hidden_states",
        "position_embeddings.0": "block.vision_block.0.in.position_embeddings.0",
    }


def test_every_family_maps_each_side_and_only_dit_blocks_run_per_step() -> None:
    assert [f.name for f in BLOCK_FAMILIES if f.per_step] == ["dit_block"]
    paths = [f.original_pattern.replace("{i}", "0") for f in BLOCK_FAMILIES]
    assert len(blocks_of_modules(paths, "original")) == len(BLOCK_FAMILIES)
