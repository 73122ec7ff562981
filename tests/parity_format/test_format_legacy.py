"""Files written by LeRobot's own producer script (np.savez, object meta arrays, no manifest)."""

from pathlib import Path

import numpy as np
import pytest

from parity_format import ArtifactError, read_artifact


def _lerobot_style(path: Path, **extra: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = {
        "in::inputs.input_ids": rng.integers(0, 1000, (2, 9)),
        "in::inputs.pixel_values": rng.standard_normal((16, 24)).astype(np.float32),
        "in::inputs.embodiment_id": np.array([1, 1], dtype=np.int32),
        "in::inputs.state": rng.standard_normal((2, 1, 29)).astype(np.float32),
    }
    members: dict[str, np.ndarray] = {
        "action_pred": rng.standard_normal((2, 40, 29)).astype(np.float32),
        "seed": np.array(42),
        "device": np.array("cuda"),
        "embodiment_tag": np.array("libero_sim"),
        "meta_keys": np.array(list(inputs), dtype=object),
        "meta_dtypes": np.array(["torch.int64", "torch.float32", "torch.int32", "torch.float32"], dtype=object),
        **inputs,
        "in::inputs.image_sizes": np.array([[256, 256], (256,)], dtype=object),  # lists -> object arrays
        **extra,
    }
    np.savez(path, **members)  # type: ignore[arg-type]
    return members


def test_lerobot_producer_layout_loads_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_libero_sim.npz"
    members = _lerobot_style(path)
    art = read_artifact(path)
    assert art.legacy and art.raw is None and art.path == path
    assert (art.embodiment_tag, art.seed, art.provenance) == ("libero_sim", 42, {"device": "cuda"})
    assert list(art.inputs) == [
        "inputs.input_ids",
        "inputs.pixel_values",
        "inputs.embodiment_id",
        "inputs.state",
    ]
    for key, value in art.inputs.items():
        assert value.dtype == members[f"in::{key}"].dtype
        assert value.tobytes() == members[f"in::{key}"].tobytes()
    assert art.input_torch_dtypes == {
        "inputs.input_ids": "torch.int64",
        "inputs.pixel_values": "torch.float32",
        "inputs.embodiment_id": "torch.int32",
        "inputs.state": "torch.float32",
    }
    assert art.action_pred.tobytes() == members["action_pred"].tobytes()
    assert art.notes == [
        "skipped object member meta_keys (legacy, not unpickled)",
        "skipped object member meta_dtypes (legacy, not unpickled)",
        "skipped object member in::inputs.image_sizes (legacy, not unpickled)",
    ]


def test_legacy_plain_meta_arrays_declare_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_libero_sim.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path,
        action_pred=np.zeros((1, 2, 3), np.float32),
        seed=np.array(3),
        embodiment_tag=np.array("libero_sim"),
        meta_keys=np.array(["in::inputs.pixel_values"]),
        meta_dtypes=np.array(["torch.bfloat16"]),  # declared (the tensor was cast to float32 on save)
        **{"in::inputs.pixel_values": rng.standard_normal((4, 4)).astype(np.float32)},
    )
    art = read_artifact(path)
    assert art.input_torch_dtypes == {"inputs.pixel_values": "torch.bfloat16"}
    assert art.notes == []  # nothing skipped: meta arrays were plain


def test_legacy_without_seed_or_tag_member(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_gr1.npz"
    np.savez(path, action_pred=np.ones((1, 2, 3), np.float32), **{"in::x": np.arange(3, dtype=np.int16)})
    art = read_artifact(path)
    assert art.seed is None and art.embodiment_tag == "gr1" and art.legacy
    assert art.input_torch_dtypes == {"x": "torch.int16"}
    assert any("no seed" in note for note in art.notes)


def test_legacy_with_raw_observation_members(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_libero_sim.npz"
    rng = np.random.default_rng(1)
    front = rng.integers(0, 256, (2, 1, 8, 8, 3), dtype=np.uint8)
    extra = {
        "raw_video_keys": np.array(["front"]),
        "raw_state_keys": np.array(["joints", "eef"]),
        "raw::video.front": front,
        "raw::state.joints": np.ones((2, 1, 7), np.float32),
        "raw::state.eef": np.zeros((2, 1, 0), np.float32),
        "raw::language": np.array(["pick", "place"]),
    }
    _lerobot_style(path, **extra)
    art = read_artifact(path)
    assert art.raw is not None and art.legacy
    assert list(art.raw.state) == ["joints", "eef"] and art.raw.state["eef"].shape == (2, 1, 0)
    assert art.raw.video["front"].tobytes() == front.tobytes()
    assert art.raw.language == ["pick", "place"]


def test_legacy_object_raw_keys_mean_no_raw(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_libero_sim.npz"
    _lerobot_style(
        path,
        raw_video_keys=np.array(["front"], dtype=object),
        raw_state_keys=np.array([], dtype=object),
        **{"raw::language": np.array(["a", "b"]), "raw::video.front": np.zeros((2, 1, 2, 2, 3), np.uint8)},
    )
    art = read_artifact(path)
    assert art.raw is None
    assert "skipped object member raw_video_keys (legacy, not unpickled)" in art.notes


def test_legacy_without_action_pred_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "original_n1_7_x.npz"
    np.savez(path, seed=np.array(1))
    with pytest.raises(ArtifactError, match="missing required member") as err:
        read_artifact(path)
    assert err.value.member == "action_pred"


def test_legacy_without_any_tag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "renamed.npz"
    np.savez(path, action_pred=np.ones((1, 2, 3), np.float32))
    with pytest.raises(ArtifactError) as err:
        read_artifact(path)
    assert err.value.member == "embodiment_tag"
