"""BackgroundWriter: artifacts written on a thread, failures reported per artifact, memory bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import producer.writing
from parity_format.artifact import Artifact, read_artifact, write_artifact
from producer.writing import BackgroundWriter


def _artifact(seed: int) -> Artifact:
    rng = np.random.default_rng(seed)
    inputs = {"inputs.state": rng.standard_normal((2, 1, 8)).astype(np.float32)}
    action = rng.standard_normal((2, 4, 8)).astype(np.float32)
    return Artifact("libero_sim", seed, action, inputs, {"inputs.state": "torch.float32"})


def test_background_writes_equal_foreground_writes(tmp_path: Path) -> None:
    with BackgroundWriter() as writer:
        futures = [writer.submit(_artifact(s), tmp_path / "bg" / f"original_n1_7_{s}.npz") for s in range(3)]
    for seed, future in enumerate(futures):
        written = future.result()
        expected = write_artifact(_artifact(seed), tmp_path / "fg" / f"original_n1_7_{seed}.npz")
        assert written.path.read_bytes() == expected.read_bytes()
        assert written.bytes == expected.stat().st_size and written.seconds >= 0
        assert read_artifact(written.path).seed == seed


def test_a_failed_write_is_that_artifacts_error_and_frees_its_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(artifact: Artifact, path: Path, encoder: object) -> Path:
        if artifact.seed == 1:
            raise OSError("disk full (simulated)")
        return write_artifact(artifact, path, encoder)  # type: ignore[arg-type]

    monkeypatch.setattr(producer.writing, "write_artifact", full_disk)
    with BackgroundWriter(max_pending=1) as writer:  # one slot: a leaked slot would hang the third submit
        futures = [writer.submit(_artifact(s), tmp_path / f"original_n1_7_{s}.npz") for s in range(3)]
    assert futures[0].result().path.exists() and futures[2].result().path.exists()
    with pytest.raises(OSError, match="disk full"):
        futures[1].result()


def test_submit_waits_while_max_pending_artifacts_are_unwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def slow(artifact: Artifact, path: Path, encoder: object) -> Path:
        gate.wait(30)
        return write_artifact(artifact, path, encoder)  # type: ignore[arg-type]

    monkeypatch.setattr(producer.writing, "write_artifact", slow)
    with BackgroundWriter(max_pending=2) as writer:
        writer.submit(_artifact(0), tmp_path / "original_n1_7_0.npz")
        writer.submit(_artifact(1), tmp_path / "original_n1_7_1.npz")
        third = threading.Thread(target=writer.submit, args=(_artifact(2), tmp_path / "original_n1_7_2.npz"))
        third.start()
        third.join(0.5)
        blocked = third.is_alive()
        gate.set()
        third.join(30)
    assert blocked  # the third artifact was held back, not queued in memory
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"original_n1_7_{s}.npz" for s in range(3)]
