"""Format v2: identical arrays stored once (manifest aliases), v1 files still read, one codec per member."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity_format import Artifact, ArtifactError, codecs, read_artifact, write_artifact
from parity_format.artifact import ALIAS, FORMAT_VERSION, array_checksum

Rewrite = Callable[..., None]


def _entries(path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename.removesuffix(".npy"): i for i in zf.infolist()}


def _manifest(path: Path) -> dict:
    with np.load(path) as data:
        return json.loads(str(data["manifest"]))


def _with_twins(make_artifact: Callable[..., Artifact]) -> Artifact:
    art = make_artifact()
    art.outputs["stage.01.vl_embeds"] = art.outputs["backbone_features"].copy()
    art.outputs["initial_noise"] = art.action_pred.copy()  # what the replay helper adds: once in the file
    art.outputs["pixels_again"] = art.inputs["inputs.pixel_values"].copy()
    return art


@pytest.fixture
def deduped(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> Path:
    return write_artifact(_with_twins(make_artifact), tmp_path / "original_n1_7_libero_sim.npz")


def test_identical_arrays_are_stored_once_and_read_back(deduped: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = _with_twins(make_artifact)
    entries, manifest = _entries(deduped), _manifest(deduped)
    assert manifest["format_version"] == FORMAT_VERSION == 2
    aliases = {n: e[ALIAS] for n, e in manifest["members"].items() if ALIAS in e}
    assert aliases == {
        "out::stage.01.vl_embeds": "out::backbone_features",
        "out::initial_noise": "action_pred",
        "out::pixels_again": "in::inputs.pixel_values",
    }
    assert not set(aliases) & set(entries)
    back = read_artifact(deduped)
    assert list(back.outputs) == list(art.outputs)  # manifest order, aliases in place
    for key, value in art.outputs.items():
        assert back.outputs[key].dtype == value.dtype and back.outputs[key].tobytes() == value.tobytes()
    back.outputs["initial_noise"][0, 0, 0] = 123.0  # a copy: editing one twin leaves the other alone
    assert back.action_pred[0, 0, 0] != 123.0


def test_every_stored_member_is_plain_np_load_readable(deduped: Path) -> None:
    with np.load(deduped) as data:  # allow_pickle False, like LeRobot's consumer
        loaded = {k: data[k] for k in data.files}
    for name in ("action_pred", "seed", "embodiment_tag", "meta_keys", "meta_dtypes", "in::inputs.pixel_values"):
        assert name in loaded
    listed = _manifest(deduped)["members"]
    for name, array in loaded.items():
        if name != "manifest":
            assert array_checksum(array) == listed[name]["sha256"]


def test_members_lerobot_reads_are_never_aliases(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    art.inputs["inputs.twin"] = art.inputs["inputs.pixel_values"].copy()
    art.input_torch_dtypes["inputs.twin"] = "torch.float32"
    calls: list[int] = []
    real = codecs.encode_member

    def counting(array: np.ndarray, compression: str) -> codecs.Encoded:
        calls.append(array.size)
        return real(array, compression)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codecs, "encode_member", counting)
        path = write_artifact(art, tmp_path / "x.npz")
    entries = _entries(path)
    assert {"in::inputs.pixel_values", "in::inputs.twin"} <= set(entries)  # both plain np.load members
    pixels = art.inputs["inputs.pixel_values"].size
    assert calls.count(pixels) == 1  # ... but the bytes were compressed once
    assert entries["in::inputs.twin"].compress_size == entries["in::inputs.pixel_values"].compress_size
    assert ALIAS not in _manifest(path)["members"]["in::inputs.twin"]


def _edit_manifest(path: Path, rewrite_npz: Rewrite, edit: Callable[[dict], None]) -> None:
    manifest = _manifest(path)
    edit(manifest)
    rewrite_npz(path, {"manifest": np.array(json.dumps(manifest))})


def test_alias_checksum_is_verified(deduped: Path, rewrite_npz: Rewrite) -> None:
    def tamper(m: dict) -> None:
        m["members"]["out::initial_noise"]["sha256"] = "0" * 64

    _edit_manifest(deduped, rewrite_npz, tamper)
    with pytest.raises(ArtifactError, match="checksum mismatch") as info:
        read_artifact(deduped)
    assert info.value.member == "out::initial_noise"


def test_alias_of_a_different_array_fails_its_checksum(deduped: Path, rewrite_npz: Rewrite) -> None:
    def retarget(m: dict) -> None:
        m["members"]["out::stage.01.vl_embeds"][ALIAS] = "out::state_features"  # stored, but other bytes

    _edit_manifest(deduped, rewrite_npz, retarget)
    with pytest.raises(ArtifactError, match="checksum mismatch") as info:
        read_artifact(deduped)
    assert info.value.member == "out::stage.01.vl_embeds"


@pytest.mark.parametrize(
    ("edit", "member", "message"),
    [
        (lambda m: m["members"]["out::initial_noise"].update({ALIAS: "out::gone"}), "out::initial_noise", "not a"),
        (
            lambda m: m["members"]["out::initial_noise"].update({ALIAS: "out::stage.01.vl_embeds"}),
            "out::initial_noise",
            "not a member stored",
        ),
        (lambda m: m.update(format_version=1), "out::stage.01.vl_embeds", "needs format v2"),
        (
            lambda m: m["members"]["in::inputs.input_ids"].update({ALIAS: "action_pred"}),
            "in::inputs.input_ids",
            "also stored",
        ),
    ],
)
def test_malformed_aliases_are_refused(
    deduped: Path, rewrite_npz: Rewrite, edit: Callable[[dict], None], member: str, message: str
) -> None:
    _edit_manifest(deduped, rewrite_npz, edit)
    with pytest.raises(ArtifactError, match=message) as info:
        read_artifact(deduped)
    assert info.value.member == member


def test_required_member_may_not_be_an_alias(deduped: Path, rewrite_npz: Rewrite) -> None:
    manifest = _manifest(deduped)
    manifest["members"]["in::inputs.input_ids"][ALIAS] = "out::state_features"
    rewrite_npz(deduped, {"in::inputs.input_ids": None, "manifest": np.array(json.dumps(manifest))})
    with pytest.raises(ArtifactError, match="LeRobot's consumer reads it") as info:
        read_artifact(deduped)
    assert info.value.member == "in::inputs.input_ids"


def test_v1_file_still_reads(tmp_path: Path, make_artifact: Callable[..., Artifact], rewrite_npz: Rewrite) -> None:
    """A v1 file: every member stored, no aliases, format_version 1 (what the v1 writer made)."""
    art = make_artifact()
    path = write_artifact(art, tmp_path / "original_n1_7_libero_sim.npz")
    manifest = _manifest(path)
    assert not any(ALIAS in e for e in manifest["members"].values())
    manifest["format_version"] = 1
    rewrite_npz(path, {"manifest": np.array(json.dumps(manifest))})
    back = read_artifact(path)
    assert back.action_pred.tobytes() == art.action_pred.tobytes() and not back.legacy
    assert list(back.outputs) == list(art.outputs)


def test_codec_policy_stores_noise_and_compresses_structure_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, 1, 256, 256, 3), dtype=np.uint8)  # camera noise: incompressible
    quantized = ((noise.astype(np.float32) / 255 - 0.5) / 0.5).repeat(2, axis=0)  # pixel_values-like
    compressed: list[int] = []
    real_lzma = codecs.lzma_member

    def counting_lzma(data: memoryview, itemsize: int, **kwargs: str | None) -> bytes:
        compressed.append(len(data))
        return real_lzma(data, itemsize, **kwargs)

    monkeypatch.setattr(codecs, "lzma_member", counting_lzma)
    method, payload, _, size = codecs.encode_member(noise)
    assert (method, len(payload), compressed) == (zipfile.ZIP_STORED, size, [])  # probed, not compressed
    method, payload, _, size = codecs.encode_member(quantized)
    assert method == zipfile.ZIP_LZMA and len(compressed) == 1 and len(payload) < 0.25 * size
