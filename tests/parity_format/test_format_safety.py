"""Never unpickle, never write pickles."""

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity_format import Artifact, ArtifactError, read_artifact, write_artifact

_SENTINEL = {"unpickled": False}


class Trap:
    """Unpickling this object flips the sentinel: the test fails if anything ever unpickles."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_trip, ())


def _trip() -> None:
    _SENTINEL["unpickled"] = True


def test_trap_really_trips_when_unpickled() -> None:
    pickle.loads(pickle.dumps(Trap()))
    assert _SENTINEL.pop("unpickled") is True
    _SENTINEL["unpickled"] = False


def _object_array() -> np.ndarray:
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = Trap(), "x"
    return arr


def test_new_format_file_with_object_member_is_refused(
    tmp_path: Path, make_artifact: Callable[..., Artifact], rewrite_npz: Callable[..., None]
) -> None:
    path = write_artifact(make_artifact(), tmp_path / "x.npz")
    rewrite_npz(path, {"in::inputs.sneaky": _object_array()})
    with pytest.raises(ArtifactError, match="never hold pickles") as err:
        read_artifact(path)
    assert err.value.member == "in::inputs.sneaky" and err.value.path == path
    assert str(path) in str(err.value) and "in::inputs.sneaky" in str(err.value)
    assert _SENTINEL["unpickled"] is False


def test_object_detection_reads_only_the_header(
    tmp_path: Path, make_artifact: Callable[..., Artifact], rewrite_npz: Callable[..., None]
) -> None:
    # The object member's data is garbage after a valid header: decoding it would fail loudly,
    # so reaching the "object member refused" error proves the data was never touched.
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (3,)})
    path = write_artifact(make_artifact(), tmp_path / "x.npz")
    rewrite_npz(path, {"out::evil": buf.getvalue() + b"\xff" * 50})
    with pytest.raises(ArtifactError, match="object") as err:
        read_artifact(path)
    assert err.value.member == "out::evil"


def test_hand_made_savez_with_object_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, action_pred=np.zeros((1, 1, 1), np.float32), manifest=_object_array())
    with pytest.raises(ArtifactError, match="would need pickle") as err:
        read_artifact(path)
    assert err.value.member == "manifest"
    assert _SENTINEL["unpickled"] is False


@pytest.mark.parametrize("where", ["inputs", "outputs", "action_pred"])
def test_writer_refuses_object_arrays(tmp_path: Path, make_artifact: Callable[..., Artifact], where: str) -> None:
    art = make_artifact()
    if where == "inputs":
        art.inputs["inputs.bad"] = np.array([[1], [2, 3]], dtype=object)
        art.input_torch_dtypes["inputs.bad"] = "torch.int64"
        member = "in::inputs.bad"
    elif where == "outputs":
        art.outputs["bad"] = np.array(["a", None], dtype=object)
        member = "out::bad"
    else:
        art.action_pred = np.zeros((2, 4, 3), dtype=object)
        member = "action_pred"
    target = tmp_path / "x.npz"
    with pytest.raises(ArtifactError) as err:
        write_artifact(art, target)
    assert err.value.member == member
    assert list(tmp_path.iterdir()) == []  # validation happens before any file is created


def test_writer_refuses_non_arrays(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> None:
    art = make_artifact()
    art.outputs["list"] = [1, 2, 3]  # type: ignore[assignment]
    with pytest.raises(ArtifactError, match="plain") as err:
        write_artifact(art, tmp_path / "x.npz")
    assert err.value.member == "out::list"
