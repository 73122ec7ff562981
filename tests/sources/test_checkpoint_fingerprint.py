"""Checkpoint identity by content: relocation and re-saving keep it, any change to the numbers' inputs is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sources.checkpoint import (
    LOCAL_PATH,
    CheckpointError,
    content_fingerprint,
    fingerprint_differences,
    safetensors_tensors,
)

TINY_CKPT = Path(__file__).resolve().parents[2] / "fixtures" / "tiny-groot-n1.7"
BACKBONE = "nvidia/Cosmos-Reason2-tiny"


def read_safetensors(path: Path) -> dict[str, tuple[str, list[int], bytes]]:
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    body = raw[8 + size :]
    return {
        name: (spec["dtype"], spec["shape"], body[spec["data_offsets"][0] : spec["data_offsets"][1]])
        for name, spec in header.items()
        if name != "__metadata__"
    }


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], bytes]]) -> None:
    header, offset = {}, 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(d for _, _, d in tensors.values()))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TINY_CKPT, tmp_path / "elsewhere" / "ckpt"))


def edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=4))


def test_safetensors_are_read_without_torch(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"b": ("F32", [2], np.ones(2, np.float32).tobytes()), "a": ("I64", [0], b"")})
    tensors = safetensors_tensors(path)
    assert list(tensors) == ["a", "b"] and tensors["b"].startswith("F32 [2] ")
    path.write_bytes(b"\x05")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        safetensors_tensors(path)


def test_fingerprint_covers_tensors_fields_statistics_and_embodiment_ids() -> None:
    fp = content_fingerprint(TINY_CKPT)
    assert "action_head.action_decoder.layer1.W" in fp["tensors"]
    assert any(k.startswith(f"{BACKBONE}/") for k in fp["tensors"])  # the shipped backbone's own weights
    assert {"config.json:num_inference_timesteps", "processor_config.json:processor_class"} <= fp["fields"].keys()
    assert set(fp["statistics"]) == set(json.loads((TINY_CKPT / "statistics.json").read_text()))
    assert fp["embodiment_ids"] == json.loads((TINY_CKPT / "embodiment_id.json").read_text())
    assert len(fp["digest"]) == 64


def test_relocated_copy_with_absolute_paths_matches(copy: Path) -> None:
    edit_json(copy / "config.json", model_name=str(copy / BACKBONE))
    assert fingerprint_differences(content_fingerprint(TINY_CKPT), content_fingerprint(copy)) == []
    assert content_fingerprint(copy)["digest"] == content_fingerprint(TINY_CKPT)["digest"]


def test_other_absolute_paths_are_ignored_as_local(copy: Path, tmp_path: Path) -> None:
    edit_json(copy / "config.json", cache_dir="/home/someone/.cache")
    other = Path(shutil.copytree(copy, tmp_path / "third"))
    edit_json(other / "config.json", cache_dir="/scratch/ci/cache")
    assert (
        content_fingerprint(other)["fields"]["config.json:cache_dir"]
        == content_fingerprint(copy)["fields"]["config.json:cache_dir"]
    )
    assert LOCAL_PATH  # the marker both are reduced to


def test_resaved_copy_in_other_shards_and_order_matches(copy: Path) -> None:
    tensors = read_safetensors(copy / "model.safetensors")
    names = list(tensors)[::-1]
    (copy / "model.safetensors").unlink()
    write_safetensors(copy / "model-00001-of-00002.safetensors", {n: tensors[n] for n in names[::2]})
    write_safetensors(copy / "model-00002-of-00002.safetensors", {n: tensors[n] for n in names[1::2]})
    assert fingerprint_differences(content_fingerprint(TINY_CKPT), content_fingerprint(copy)) == []


def test_one_changed_tensor_is_named(copy: Path) -> None:
    tensors = read_safetensors(copy / "model.safetensors")
    dtype, shape, data = tensors["action_head.action_decoder.layer1.W"]
    values = np.frombuffer(data, np.float32).copy()
    values[0] = np.nextafter(values[0], np.float32(np.inf))  # one ulp: only the bytes can tell
    tensors["action_head.action_decoder.layer1.W"] = (dtype, shape, values.tobytes())
    write_safetensors(copy / "model.safetensors", tensors)
    assert fingerprint_differences(content_fingerprint(TINY_CKPT), content_fingerprint(copy)) == [
        "tensors differ: action_head.action_decoder.layer1.W (bytes)"
    ]


def test_changed_fields_statistics_and_ids_are_named(copy: Path) -> None:
    edit_json(copy / "config.json", num_inference_timesteps=8)
    stats = json.loads((copy / "statistics.json").read_text())
    stats["libero_sim"]["state"] = {}
    (copy / "statistics.json").write_text(json.dumps(stats))
    edit_json(copy / "embodiment_id.json", libero_sim=3)
    (copy / BACKBONE / "model.safetensors").unlink()
    assert fingerprint_differences(content_fingerprint(TINY_CKPT), content_fingerprint(copy)) == [
        "tensors only recorded: "
        + ", ".join(sorted(k for k in content_fingerprint(TINY_CKPT)["tensors"] if k.startswith(BACKBONE))),
        "config fields differ: config.json:num_inference_timesteps",
        "statistics of tags differ: libero_sim",
        "embodiment ids of tags differ: libero_sim",
    ]
