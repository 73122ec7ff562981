import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from parity_format import Artifact, read_artifact, write_artifact
from parity_format.artifact import FORMAT_VERSION, array_checksum
from parity_format.naming import artifact_filename


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()  # bitwise: catches -0.0 and NaN payload changes


def test_round_trip_is_bitwise_lossless(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    path = write_artifact(art, tmp_path / artifact_filename(art.embodiment_tag))
    back = read_artifact(path)
    assert (back.embodiment_tag, back.seed, back.legacy, back.notes, back.path) == (
        "libero_sim",
        42,
        False,
        [],
        path,
    )
    assert_identical(back.action_pred, art.action_pred)
    assert np.signbit(back.action_pred[0, 0, 0]) and back.action_pred[0, 0, 0] == 0
    for src, dst in [(art.inputs, back.inputs), (art.outputs, back.outputs)]:
        assert list(dst) == list(src)
        for key in src:
            assert_identical(dst[key], src[key])
    assert back.input_torch_dtypes == art.input_torch_dtypes
    assert back.provenance == art.provenance
    assert art.raw is not None and back.raw is not None
    assert list(back.raw.video) == ["wrist", "front"] and list(back.raw.state) == ["joints", "eef"]
    for key in art.raw.video:
        assert_identical(back.raw.video[key], art.raw.video[key])
    for key in art.raw.state:
        assert_identical(back.raw.state[key], art.raw.state[key])
    assert back.raw.state["eef"].shape == (2, 1, 0)
    assert back.raw.language == art.raw.language


def test_dict_order_is_preserved(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    art.inputs = dict(reversed(list(art.inputs.items())))
    art.input_torch_dtypes = dict(reversed(list(art.input_torch_dtypes.items())))
    art.outputs = {"z": np.zeros(1, np.float32), "a": np.ones(1, np.float32), "m": np.ones(2, np.int8)}
    back = read_artifact(write_artifact(art, tmp_path / "x.npz"))
    assert list(back.inputs) == list(art.inputs)
    assert list(back.input_torch_dtypes) == list(art.input_torch_dtypes)
    assert list(back.outputs) == ["z", "a", "m"]


def test_plain_np_load_reads_every_member_like_lerobot(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    path = write_artifact(art, tmp_path / "original_n1_7_libero_sim.npz")
    with np.load(path) as data:  # allow_pickle defaults to False: nothing may need it
        members = {k: data[k] for k in data.files}
    assert all(not v.dtype.hasobject for v in members.values())
    assert int(members["seed"]) == 42 and members["seed"].dtype == np.int64 and members["seed"].ndim == 0
    assert str(members["embodiment_tag"]) == "libero_sim"
    dtypes = dict(zip(members["meta_keys"].tolist(), members["meta_dtypes"].tolist(), strict=True))
    assert list(dtypes) == [f"in::{k}" for k in art.inputs]
    assert dtypes["in::inputs.input_ids"] == "torch.int64"
    assert members["meta_keys"].dtype.kind == "U" and members["meta_dtypes"].dtype.kind == "U"
    assert_identical(members["in::inputs.pixel_values"], art.inputs["inputs.pixel_values"])
    assert members["raw_video_keys"].tolist() == ["wrist", "front"]
    assert art.raw is not None and members["raw::language"].tolist() == art.raw.language
    manifest = json.loads(str(members["manifest"]))
    assert manifest["format"] == "groot-parity-artifact" and manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["members"]) == set(members) - {"manifest"}
    for name, entry in manifest["members"].items():
        assert entry == {
            "dtype": members[name].dtype.str,
            "shape": list(members[name].shape),
            "sha256": array_checksum(members[name]),
        }
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert [i.filename for i in zf.infolist()][-1] == "manifest.npy"


def test_checksum_definition() -> None:
    import hashlib

    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    expected = hashlib.sha256(b"<i4|2,3|" + a.tobytes()).hexdigest()
    assert array_checksum(a) == expected
    assert array_checksum(np.asfortranarray(a)) == expected  # logical (C-order) content, not memory layout
    assert array_checksum(a.reshape(3, 2)) != expected  # shape is part of the identity
    assert array_checksum(a.astype(np.int64)) != array_checksum(a)
    assert array_checksum(np.array(5.0)) == hashlib.sha256(b"<f8||" + np.array(5.0).tobytes()).hexdigest()


def test_writes_are_deterministic(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    a = write_artifact(make_artifact(), tmp_path / "a.npz").read_bytes()
    b = write_artifact(make_artifact(), tmp_path / "b.npz").read_bytes()
    assert a == b


def test_non_contiguous_and_fortran_inputs_round_trip(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact(with_raw=False)
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    art.outputs = {
        "strided": base[::2, ::3],
        "fortran": np.asfortranarray(base),
        "scalar": np.array(7, np.uint16),
    }
    back = read_artifact(write_artifact(art, tmp_path / "x.npz"))
    for key, value in art.outputs.items():
        assert_identical(back.outputs[key], value)
    assert back.raw is None


def test_overwrite_replaces_previous_file(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    path = tmp_path / "sub" / "dir" / "x.npz"  # parent directories are created
    write_artifact(make_artifact(seed=1), path)
    write_artifact(make_artifact(seed=2), path)
    assert read_artifact(path).seed == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.npz"]
