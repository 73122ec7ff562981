"""Stage identity: keys come from the declared stage and the denoising step, never from a position."""

from __future__ import annotations

from parity_format.stage_keys import STAGES, canonical_stage_key, stage_items, stage_key, stage_label, stage_step


def test_keys_name_the_stage_and_step() -> None:
    assert stage_key("backbone_features") == "stage.backbone_features"
    assert stage_key("velocity", 59) == "stage.step59.velocity"
    assert stage_label("stage.step2.velocity") == "step 2 velocity" and stage_step("stage.step2.velocity") == 2
    assert stage_label("stage.vl_embeds") == "vl_embeds" and stage_step("stage.vl_embeds") is None


def test_numbered_legacy_keys_read_as_the_same_stage() -> None:
    assert canonical_stage_key("stage.03.step0.action_in") == "stage.step0.action_in"
    assert canonical_stage_key("stage.120.step59.velocity") == "stage.step59.velocity"
    assert canonical_stage_key("stage.01.vl_embeds") == "stage.vl_embeds"
    assert canonical_stage_key("stage.step0.action_in") == "stage.step0.action_in"
    assert stage_label("stage.08.step2.velocity") == "step 2 velocity"


def test_stages_sort_in_pipeline_order_whatever_the_storage_order() -> None:
    keys = [stage_key(s.name) for s in STAGES if not s.per_step]
    keys += [stage_key(s.name, step) for step in (0, 1, 10) for s in STAGES if s.per_step]
    outputs = {k: i for i, k in enumerate(reversed(keys))} | {"backbone_features": -1}
    assert list(stage_items(outputs)) == keys  # step 10 after step 1; members that are no stage left out
    legacy = {"stage.100.step10.velocity": 1, "stage.99.step10.action_in": 2}
    assert list(stage_items(legacy)) == ["stage.step10.action_in", "stage.step10.velocity"]
