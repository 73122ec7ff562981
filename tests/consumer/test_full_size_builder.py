"""Keep the full-size checkpoint builder honest: build the scaled-down variant through the same code path and
check every file against the spec (config keys, tensor names, shapes, dtype, init scale, the cache).

The scaled variant (``checkpoint_spec.SCALED``) has the action head's real widths, a narrow backbone with the
real patch/merge geometry and three DeepStack mergers: ~0.12e9 values, 0.24 GB, in a temporary folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fixtures import build_full_size_checkpoint as builder
from fixtures.checkpoint_spec import FULL, FULL_SOURCES, SCALED, SPECS, CheckpointSpec, sources_table, spec_value

REPO = Path(__file__).resolve().parents[2]
BB = builder.GROOT_BACKBONE_PREFIX


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return builder.build(SCALED, 0, tmp_path_factory.mktemp("cache"))


def header(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return {k: (tuple(handle.get_slice(k).get_shape()), handle.get_slice(k).get_dtype()) for k in handle.keys()}  # noqa: SIM118


def count(keys: list[str], pattern: str) -> int:
    return len({m.group(1) for k in keys if (m := re.match(pattern, k))})


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_spec_is_consistent(spec: CheckpointSpec) -> None:
    text, head = spec.text, spec.head
    assert text.num_hidden_layers == head.select_layer, "the stored backbone is truncated at select_layer"
    assert sum(text.mrope_section) == text.head_dim // 2
    assert text.num_attention_heads * text.head_dim == text.hidden_size
    assert head.vl_heads * head.vl_head_dim == text.hidden_size, "vl_self_attention works at the backbone width"
    assert max(spec.vision.deepstack_visual_indexes) < spec.vision.depth
    assert "nvidia/Cosmos-Reason2" in spec.backbone_dir and spec.backbone_dir != "nvidia/Cosmos-Reason2-2B"
    tags = [e.tag for e in spec.embodiments]
    assert len(set(tags)) == len(tags) and set(spec.embodiment_ids) <= set(tags)
    assert spec.state_deltas()[-1] == 0 and len(spec.state_deltas()) == head.state_history_length
    for e in spec.embodiments:
        assert sum(e.state.values()) <= head.max_state_dim and sum(e.action.values()) <= head.max_action_dim, e.tag
        assert e.horizon <= head.action_horizon, e.tag
        assert set(e.action_reps) | set(e.unit_range_actions) <= set(e.action), e.tag
        for key, rep in e.action_reps.items():
            if rep.rep == "RELATIVE":
                assert spec.processor.use_relative_action, f"{e.tag}.{key}: the processor ignores RELATIVE keys"
                assert (rep.state_key or key) in e.state, f"{e.tag}.{key}: no state key to be relative to"


def test_full_spec_has_the_published_shapes_and_a_source_for_each() -> None:
    published = {
        "text.hidden_size": 2048,
        "text.vocab_size": 151936,
        "vision.patch_size": 16,
        "vision.temporal_patch_size": 2,
        "vision.spatial_merge_size": 2,
        "vision.deepstack_visual_indexes": (5, 11, 17),
        "head.dit_layers": 16,
        "head.dit_heads": 32,
        "head.dit_head_dim": 48,
        "head.hidden_size": 1024,
        "head.action_horizon": 40,
        "head.max_state_dim": 132,
        "head.max_action_dim": 132,
        "head.num_inference_timesteps": 4,
        "head.max_num_embodiments": 32,
    }
    assert {k: spec_value(FULL, k) for k in published} == published  # the list
    assert set(published) <= set(FULL_SOURCES)
    assert (REPO / "fixtures/full_size_spec.md").read_text() == sources_table(), (
        "regenerate: python -m fixtures.checkpoint_spec > fixtures/full_size_spec.md"
    )


def test_configs_follow_the_spec(scaled: Path) -> None:
    spec = SCALED
    cfg = json.loads((scaled / "config.json").read_text())
    assert cfg["select_layer"] == spec.head.select_layer
    assert cfg["backbone_embedding_dim"] == spec.text.hidden_size
    assert cfg["model_name"] == spec.backbone_dir
    dit = cfg["diffusion_model_cfg"]
    assert (dit["num_layers"], dit["num_attention_heads"], dit["attention_head_dim"]) == (2, 32, 48)
    assert (cfg["action_horizon"], cfg["max_state_dim"], cfg["max_action_dim"]) == (40, 132, 132)
    assert (cfg["hidden_size"], cfg["input_embedding_dim"], cfg["num_inference_timesteps"]) == (1024, 1536, 4)
    bb = json.loads((scaled / spec.backbone_dir / "config.json").read_text())
    text, vision = bb["text_config"], bb["vision_config"]
    assert text["num_hidden_layers"] == spec.head.select_layer
    assert text["hidden_size"] == vision["out_hidden_size"] == spec.text.hidden_size
    assert vision["deepstack_visual_indexes"] == list(spec.vision.deepstack_visual_indexes)
    geometry = (vision["patch_size"], vision["temporal_patch_size"], vision["spatial_merge_size"])
    assert geometry == (16, 2, 2)
    processor = json.loads((scaled / "processor_config.json").read_text())["processor_kwargs"]
    assert set(processor["modality_configs"]) == {e.tag for e in spec.embodiments}
    assert processor["max_action_horizon"] == spec.head.action_horizon
    assert set(json.loads((scaled / "statistics.json").read_text())) == {e.tag for e in spec.embodiments}


def test_weights_have_the_spec_shapes_in_bf16(scaled: Path) -> None:
    spec, head, text, vision = SCALED, SCALED.head, SCALED.text, SCALED.vision
    groot = header(scaled / "model.safetensors")
    backbone = header(scaled / spec.backbone_dir / "model.safetensors")
    assert {dtype for _, dtype in groot.values()} == {"BF16"}
    assert backbone == {k.removeprefix(BB): v for k, v in groot.items() if k.startswith(BB)}
    assert BB + builder.TIED not in groot
    keys = list(groot)
    shape = {k: s for k, (s, _) in groot.items()}
    lm, vis = f"{BB}model.language_model.", f"{BB}model.visual."
    assert count(keys, re.escape(lm) + r"layers\.(\d+)\.") == head.select_layer
    assert count(keys, re.escape(vis) + r"blocks\.(\d+)\.") == vision.depth
    assert count(keys, re.escape(vis) + r"deepstack_merger_list\.(\d+)\.") == len(vision.deepstack_visual_indexes)
    assert count(keys, r"action_head\.model\.transformer_blocks\.(\d+)\.") == head.dit_layers
    assert count(keys, r"action_head\.vl_self_attention\.transformer_blocks\.(\d+)\.") == head.vl_layers
    assert shape[lm + "embed_tokens.weight"][1] == text.hidden_size
    assert shape[vis + "patch_embed.proj.weight"] == (vision.hidden_size, 3, 2, 16, 16)
    n, inner = head.max_num_embodiments, head.dit_heads * head.dit_head_dim
    assert shape["action_head.model.transformer_blocks.0.attn1.to_q.weight"] == (inner, inner)
    assert shape["action_head.action_encoder.W1.W"] == (n, head.max_action_dim, head.input_embedding_dim)
    assert shape["action_head.state_encoder.layer1.W"] == (n, head.max_state_dim, head.hidden_size)
    assert shape["action_head.action_decoder.layer2.W"] == (n, head.hidden_size, head.max_action_dim)
    assert shape["action_head.position_embedding.weight"] == (head.max_seq_len, head.input_embedding_dim)


def test_values_follow_the_init_rule_and_both_files_agree(scaled: Path) -> None:
    from safetensors import safe_open

    name = "action_head.action_encoder.W2.W"
    with safe_open(str(scaled / "model.safetensors"), "pt") as groot:
        w = groot.get_tensor(name).float()
        norm = groot.get_tensor(f"{BB}model.language_model.norm.weight").float()
        embed = groot.get_tensor(f"{BB}model.language_model.embed_tokens.weight")
    with safe_open(str(scaled / SCALED.backbone_dir / "model.safetensors"), "pt") as backbone:
        assert backbone.get_tensor("model.language_model.embed_tokens.weight").equal(embed)
    assert abs(w.std().item() * w.shape[1] ** 0.5 - 1.0) < 0.05  # N(0, 1/fan_in)
    assert abs(norm.mean().item() - 1.0) < 0.05
    assert embed.float().std().item() != 0


def test_second_build_reuses_the_cache_and_a_changed_seed_does_not(scaled: Path) -> None:
    before = (scaled / "model.safetensors").stat().st_mtime_ns
    assert builder.build(SCALED, 0, scaled.parent) == scaled
    assert (scaled / "model.safetensors").stat().st_mtime_ns == before
    assert builder.input_hash(SCALED, 1) != builder.input_hash(SCALED, 0)
    assert builder.input_hash(FULL, 0) != builder.input_hash(SCALED, 0)
