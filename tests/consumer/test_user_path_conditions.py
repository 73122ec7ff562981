"""The exact conditions of the policy check's declared divergences, on the fixture checkpoints and copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from consumer.known_divergences import KNOWN_DIVERGENCES, divergences_for, upstream_preprocessor_divergences
from consumer.sharded_checkpoint import INDEX_FILE, SINGLE_FILE, has_single_weights_file, sharded_copy
from consumer.user_path_conditions import lerobot_loads_in_bf16, raw_single_file_checkpoint, weight_dtypes
from parity_format.artifact import read_artifact

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "fixtures" / "tiny-groot-n1.7"
GOLDEN = REPO / "fixtures" / "golden"


def copy_with_config(tmp_path: Path, **fields: object) -> Path:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(TINY, ckpt, symlinks=True)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, **fields}))
    return ckpt


def test_bf16_rounding_applies_to_float32_weights_without_a_load_dtype(tmp_path: Path) -> None:
    assert weight_dtypes(TINY) == {"F32"}
    assert lerobot_loads_in_bf16(None, TINY)  # type: ignore[arg-type]
    assert not lerobot_loads_in_bf16(None, copy_with_config(tmp_path / "a", dtype="float32"))  # type: ignore[arg-type]
    assert lerobot_loads_in_bf16(None, copy_with_config(tmp_path / "b", dtype="bfloat16"))  # type: ignore[arg-type]


def test_bf16_rounding_does_not_apply_to_bfloat16_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    ckpt = copy_with_config(tmp_path)
    tensors = load_file(str(ckpt / SINGLE_FILE))
    (ckpt / SINGLE_FILE).unlink()
    save_file({k: v.bfloat16() if v.is_floating_point() else v for k, v in tensors.items()}, str(ckpt / SINGLE_FILE))
    assert weight_dtypes(ckpt) == {"BF16"} and not lerobot_loads_in_bf16(None, ckpt)  # type: ignore[arg-type]


def test_single_file_condition_and_the_sharded_copy(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    assert has_single_weights_file(TINY) and raw_single_file_checkpoint(None, TINY)  # type: ignore[arg-type]
    sharded = sharded_copy(TINY, tmp_path)
    assert not has_single_weights_file(sharded) and not raw_single_file_checkpoint(None, sharded)  # type: ignore[arg-type]
    index = json.loads((sharded / INDEX_FILE).read_text())["weight_map"]
    shards = sorted(set(index.values()))
    assert len(shards) == 2
    original = load_file(str(TINY / SINGLE_FILE))
    merged = {k: v for shard in shards for k, v in load_file(str(sharded / shard)).items()}
    assert merged.keys() == original.keys() == index.keys()
    assert all((merged[k] == original[k]).all() for k in original)
    assert (sharded / "config.json").resolve() == (TINY / "config.json").resolve()  # the rest is linked
    lerobot_own = copy_with_config(tmp_path / "lerobot", type="groot")
    assert not raw_single_file_checkpoint(None, lerobot_own)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("artifact", "expected"),
    [
        ("256x256/original_n1_7_new_embodiment.npz", set()),
        ("240x320/original_n1_7_new_embodiment.npz", {"letterbox"}),
        ("256x256/original_n1_7_robocasa_panda_omron.npz", {"embodiment-id-fallback"}),
        ("probes-256x256/original_n1_7_libero_sim.npz", {"empty-instruction"}),
    ],
)
def test_upstream_preprocessor_divergence_follows_the_preprocessor_entries(artifact: str, expected: set[str]) -> None:
    art = read_artifact(GOLDEN / artifact)
    assert {d.name for d in upstream_preprocessor_divergences(art, TINY)} == expected
    policy = {d.name for d in divergences_for("policy", art, TINY)}
    assert ("upstream-preprocessor" in policy) == bool(expected)
    assert {"select-action-per-step-refused", "from-pretrained-single-file", "bf16-weights-at-load"} <= policy


def test_policy_refusal_entries_carry_a_pattern() -> None:
    policy = [d for d in KNOWN_DIVERGENCES if d.check == "policy"]
    assert all(d.tensors or d.refusal or d.original_refusal for d in policy)
    refusals = {d.name: d.refusal for d in policy if not d.tensors and d.refusal}
    assert set(refusals) == {"mixed-resolutions-policy", "state-history-policy"}
    originals = {d.name for d in policy if not d.tensors and d.original_refusal}  # the original refuses
    assert originals == {"video-horizon-policy"}
