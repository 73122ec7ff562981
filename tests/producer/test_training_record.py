"""The producer's training record: the seeded action chunk, the recorded tensors per part, the golden's record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from parity_format import training_members as tm
from parity_format.artifact import read_artifact
from producer.training import TUNE_COMBINATIONS, action_chunk, named_gradient_tensors

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "fixtures" / "tiny-groot-n1.7"
GOLDEN = REPO / "fixtures" / "golden-training" / "256x256" / "original_n1_7_unitree_g1_sonic.npz"


def test_action_chunk_stays_within_each_keys_statistics_and_is_seeded() -> None:
    statistics = json.loads((TINY / "statistics.json").read_text())["unitree_g1_sonic"]
    modality = json.loads((TINY / "processor_config.json").read_text())["processor_kwargs"]["modality_configs"]
    config = modality["unitree_g1_sonic"]
    chunk = action_chunk(statistics, config, 2, 42, "unitree_g1_sonic")
    assert list(chunk) == config["action"]["modality_keys"]
    for key, values in chunk.items():
        low, high = (np.asarray(statistics["action"][key][s], np.float32) for s in ("min", "max"))
        assert values.shape == (2, len(config["action"]["delta_indices"]), low.shape[0]) and values.dtype == np.float32
        assert (values >= low).all() and (values <= high).all()
    again = action_chunk(statistics, config, 2, 42, "unitree_g1_sonic")
    assert all(np.array_equal(chunk[k], again[k]) for k in chunk)


def test_named_gradient_tensors_are_the_first_and_last_of_each_part() -> None:
    names = ["action_head.model.a", "backbone.model.model.visual.x", "action_head.model.b", "action_head.model.c"]
    expected = ["backbone.model.model.visual.x", "action_head.model.a", "action_head.model.c"]
    assert named_gradient_tensors(names) == expected


def test_the_golden_records_a_whole_training_step() -> None:
    artifact = read_artifact(GOLDEN)
    section = artifact.provenance[tm.MANIFEST_KEY]
    assert [c["flags"] for c in section["combinations"]] == [dict(f) for f in TUNE_COMBINATIONS]
    assert {tm.LOSS, tm.DRAW_NOISE, tm.DRAW_BETA, tm.DRAW_STATE_DROPOUT} <= artifact.outputs.keys()
    assert artifact.outputs[tm.DRAW_NOISE].shape == artifact.outputs[tm.BATCH + "action"].shape
    assert {tm.part_of(n) for n in section["gradient_tensors"]} == {p for p, _ in tm.PARTS}
    assert all(tm.GRAD + n in artifact.outputs for n in section["gradient_tensors"])
    assert any("eval_image_transform" in line for line in section["augmentations_off"])
