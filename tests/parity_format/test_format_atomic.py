from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity_format import Artifact, ArtifactError, codecs, encoding, read_artifact, write_artifact


def test_failed_write_leaves_old_file_and_no_temp(
    tmp_path: Path, make_artifact: Callable[..., Artifact], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_artifact(make_artifact(seed=1), tmp_path / "original_n1_7_x.npz")
    before = path.read_bytes()
    real, calls = codecs.encode_member, []

    def failing(array: np.ndarray, compression: str) -> codecs.Encoded:
        calls.append(1)
        if len(calls) == 4:  # fail midway, after bytes have already reached the temp file
            raise OSError("disk full (simulated)")
        return real(array, compression)

    monkeypatch.setattr(codecs, "encode_member", failing)
    with pytest.raises(OSError, match="simulated"):
        write_artifact(make_artifact(seed=2), path)
    assert len(calls) == 4
    assert path.read_bytes() == before
    assert read_artifact(path).seed == 1
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_interrupt_also_cleans_up(
    tmp_path: Path, make_artifact: Callable[..., Artifact], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(encoding, "write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_artifact(make_artifact(), tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("keep", [0, 10, 0.5, -22, -1])
def test_truncated_file_fails_clearly(tmp_path: Path, make_artifact: Callable[..., Artifact], keep: float) -> None:
    path = write_artifact(make_artifact(), tmp_path / "x.npz")
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:cut])
    with pytest.raises(ArtifactError) as err:
        read_artifact(path)
    assert str(path) in str(err.value)
    assert "truncated or corrupt" in str(err.value)
