import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_format import Artifact, ArtifactError, read_artifact, write_artifact
from parity_format.artifact import FORMAT_VERSION, array_checksum

Rewrite = Callable[..., None]


@pytest.fixture
def written(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> Path:
    return write_artifact(make_artifact(), tmp_path / "original_n1_7_libero_sim.npz")


def _manifest(path: Path) -> dict[str, Any]:
    with np.load(path) as data:
        return json.loads(str(data["manifest"]))


def _set_manifest(path: Path, rewrite: Rewrite, **changes: Any) -> None:
    manifest = _manifest(path)
    manifest.update(changes)
    rewrite(path, {"manifest": np.array(json.dumps(manifest))})


def _error(path: Path) -> ArtifactError:
    with pytest.raises(ArtifactError) as err:
        read_artifact(path)
    assert str(path) in str(err.value)
    if err.value.member is not None:
        assert repr(err.value.member) in str(err.value)
    return err.value


def test_not_found(tmp_path: Path) -> None:
    err = _error(tmp_path / "missing.npz")
    assert "file not found" in str(err) and err.member is None


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    assert "not a regular file" in str(_error(tmp_path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    path.write_text("hello, I am not a zip archive")
    assert "truncated or corrupt" in str(_error(path))


def _payload_offset(path: Path, member: str) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{member}.npy")
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


@pytest.mark.parametrize("member", ["in::inputs.pixel_values", "raw::video.front", "out::backbone_features"])
def test_corrupt_member_is_named(written: Path, member: str) -> None:
    start, size = _payload_offset(written, member)
    data = bytearray(written.read_bytes())
    data[start + size - size // 3] ^= 0x55  # inside the data, past the .npy header
    written.write_bytes(bytes(data))
    err = _error(written)
    assert err.member == member and "corrupt member" in str(err)


def test_crc_error_names_member(written: Path) -> None:
    data = bytearray(written.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    entry = data.find(b"in::inputs.input_ids.npy", cd_offset) - 46  # fixed part of a central entry
    assert data[entry : entry + 4] == b"PK\x01\x02"
    data[entry + 16 : entry + 20] = bytes(b ^ 0xFF for b in data[entry + 16 : entry + 20])  # stored CRC-32
    written.write_bytes(bytes(data))
    err = _error(written)
    assert err.member == "in::inputs.input_ids" and "CRC" in str(err)


def test_newer_format_version(written: Path, rewrite_npz: Rewrite) -> None:
    _set_manifest(written, rewrite_npz, format_version=FORMAT_VERSION + 1)
    err = _error(written)
    newer, ours = FORMAT_VERSION + 1, FORMAT_VERSION
    assert f"written by format v{newer}; this reader supports v{ours}; upgrade groot-parity" in str(err)
    assert err.member == "manifest"


@pytest.mark.parametrize("version", [0, "1", None, True])
def test_invalid_format_version(written: Path, rewrite_npz: Rewrite, version: Any) -> None:
    _set_manifest(written, rewrite_npz, format_version=version)
    assert "invalid format_version" in str(_error(written))


def test_foreign_format_string(written: Path, rewrite_npz: Rewrite) -> None:
    _set_manifest(written, rewrite_npz, format="somebody-elses-format")
    err = _error(written)
    assert "not a groot-parity-artifact file" in str(err) and "somebody-elses-format" in str(err)


def test_manifest_not_json(written: Path, rewrite_npz: Rewrite) -> None:
    rewrite_npz(written, {"manifest": np.array("{not json")})
    assert "not valid JSON" in str(_error(written))


def test_checksum_mismatch(written: Path, rewrite_npz: Rewrite) -> None:
    with np.load(written) as data:
        ids = data["in::inputs.input_ids"].copy()
    expected = _manifest(written)["members"]["in::inputs.input_ids"]["sha256"]
    ids[0, 0] += 1
    rewrite_npz(written, {"in::inputs.input_ids": ids})
    err = _error(written)
    assert err.member == "in::inputs.input_ids" and "checksum mismatch" in str(err)
    assert expected[:16] in str(err)


def test_dtype_differs_from_manifest(written: Path, rewrite_npz: Rewrite) -> None:
    with np.load(written) as data:
        ids = data["in::inputs.input_ids"].astype(np.int32)
    rewrite_npz(written, {"in::inputs.input_ids": ids})
    err = _error(written)
    assert err.member == "in::inputs.input_ids" and "checksum mismatch" in str(err)
    assert "(<i8 [2, 7])" in str(err) and "(<i4 [2, 7])" in str(err)


def test_member_listed_but_missing(written: Path, rewrite_npz: Rewrite) -> None:
    rewrite_npz(written, {"out::state_features": None})
    err = _error(written)
    assert err.member == "out::state_features" and "missing from the file" in str(err)


def test_member_present_but_not_listed(written: Path, rewrite_npz: Rewrite) -> None:
    rewrite_npz(written, {"out::smuggled": np.zeros(3, np.float32)})
    err = _error(written)
    assert err.member == "out::smuggled" and "not listed in the manifest" in str(err)


def test_missing_required_action_pred(written: Path, rewrite_npz: Rewrite) -> None:
    manifest = _manifest(written)
    del manifest["members"]["action_pred"]
    rewrite_npz(written, {"action_pred": None, "manifest": np.array(json.dumps(manifest))})
    err = _error(written)
    assert err.member == "action_pred" and "missing required member" in str(err)


def _replace_consistently(path: Path, rewrite: Rewrite, changes: dict[str, np.ndarray | None]) -> None:
    """Change members AND their manifest entries, so only the semantic checks can object."""
    manifest = _manifest(path)
    for name, array in changes.items():
        if array is None:
            del manifest["members"][name]
        else:
            entry = {"dtype": array.dtype.str, "shape": list(array.shape), "sha256": array_checksum(array)}
            manifest["members"][name] = entry
    rewrite(path, {**changes, "manifest": np.array(json.dumps(manifest))})


@pytest.mark.parametrize("member", ["seed", "embodiment_tag", "meta_keys", "meta_dtypes"])
def test_missing_required_member(written: Path, rewrite_npz: Rewrite, member: str) -> None:
    _replace_consistently(written, rewrite_npz, {member: None})
    err = _error(written)
    assert err.member == member and "missing required member" in str(err)


def test_meta_keys_must_match_inputs(written: Path, rewrite_npz: Rewrite) -> None:
    with np.load(written) as data:
        keys = data["meta_keys"][::-1].copy()
    _replace_consistently(written, rewrite_npz, {"meta_keys": keys})
    err = _error(written)
    assert err.member == "meta_keys" and "do not match" in str(err)


def test_seed_disagreeing_with_manifest(written: Path, rewrite_npz: Rewrite) -> None:
    _set_manifest(written, rewrite_npz, seed=7)
    assert "disagree with the manifest" in str(_error(written))


def test_size_mismatch_between_header_and_entry(written: Path, rewrite_npz: Rewrite) -> None:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(4, np.float32))
    rewrite_npz(written, {"out::state_features": buf.getvalue()[:-3]})
    err = _error(written)
    assert err.member == "out::state_features" and "entry holds" in str(err)


def test_error_attributes_and_pickling(tmp_path: Path) -> None:
    err = ArtifactError(tmp_path / "a.npz", "boom", "in::x")
    assert (err.path, err.member, err.reason) == (tmp_path / "a.npz", "in::x", "boom")
    assert str(err) == f"{tmp_path / 'a.npz'} [member 'in::x']: boom"
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.member, str(again)) == (err.path, err.member, str(err))


def _bad_batch(a: Artifact) -> None:
    assert a.raw is not None
    a.raw.language = ["only one"]


def _bad_video_dtype(a: Artifact) -> None:
    assert a.raw is not None
    a.raw.video["front"] = a.raw.video["front"].astype(np.float32)


@pytest.mark.parametrize(
    ("mutate", "member", "text"),
    [
        (lambda a: setattr(a, "action_pred", np.zeros((2, 4, 3))), "action_pred", "float32"),
        (lambda a: setattr(a, "action_pred", a.action_pred[0]), "action_pred", "3 dims"),
        (lambda a: setattr(a, "seed", None), "seed", "int"),
        (lambda a: setattr(a, "seed", True), "seed", "int"),
        (lambda a: setattr(a, "embodiment_tag", ""), "embodiment_tag", "non-empty"),
        (lambda a: a.input_torch_dtypes.pop("inputs.flags"), "meta_dtypes", "same keys"),
        (_bad_batch, "raw::video.wrist", "batch size"),
        (_bad_video_dtype, "raw::video.front", "uint8"),
        (lambda a: setattr(a, "provenance", {"x": object()}), "manifest", "JSON"),
    ],
)
def test_writer_validation(
    tmp_path: Path,
    make_artifact: Callable[..., Artifact],
    mutate: Callable[[Artifact], None],
    member: str,
    text: str,
) -> None:
    art = make_artifact()
    mutate(art)
    with pytest.raises(ArtifactError, match=text) as err:
        write_artifact(art, tmp_path / "x.npz")
    assert err.value.member == member
    assert list(tmp_path.iterdir()) == []
