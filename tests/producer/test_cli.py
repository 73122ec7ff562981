"""The producer's command line, up to the point where gr00t is needed (runs without gr00t)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from producer.cli import main

HAS_GR00T = importlib.util.find_spec("gr00t") is not None


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--ckpt",
        "--revision",
        "--subfolder",
        "--out-dir",
        "--tags",
        "--device",
        "--seed",
        "--batch-size",
        "--image-size",
        "--probes",
        "--compression",
    ):
        assert option in out
    assert "240x320" in out  # the default includes a non-square size
    assert "H1xW1+H2xW2" in out  # per-camera sizes


def test_unknown_tag_lists_available(tiny_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--ckpt", str(tiny_ckpt), "--tags", "libero_sim,not_a_tag"]) == 2
    err = capsys.readouterr().err
    assert "not_a_tag" in err and "available: libero_sim, new_embodiment, robocasa_panda_omron" in err


def test_cuda_requested_without_cuda_is_one_clear_error(tiny_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["--ckpt", str(tiny_ckpt), "--device", "cuda"]) == 2
    assert "torch sees no CUDA device" in capsys.readouterr().err


def test_n1_5_checkpoint_is_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    assert main(["--ckpt", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "GR00T N1.5 checkpoint" in err and "Traceback" not in err


def test_unknown_compression_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--ckpt", "x", "--compression", "max"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'max' (choose from 'fast', 'small')" in err


def test_bad_image_size_and_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--ckpt", str(tmp_path / "nope" / "x" / "y"), "--image-size", "256x256"]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["--ckpt", str(tmp_path), "--image-size", "256"]) == 2
    assert "HxW" in capsys.readouterr().err


@pytest.mark.skipif(HAS_GR00T, reason="gr00t is installed here; this checks the message where it is not")
def test_missing_gr00t_says_how_to_install(tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "GR00T_SRC" in err and "626af89d3e914ec92eab5323e23b9ed44a7b26c8" in err
    assert not list(tmp_path.rglob("*.npz"))


class FakeOriginal:
    """Stands in for gr00t to test the CLI's own loop (progress, summary, exit status); no parity here."""

    attention = "sdpa"
    processor = None  # the decode recording is replaced too

    def __init__(self, ckpt: Path, device: str) -> None:
        self.device = device

    def embodiment_ids(self) -> dict:
        return {"tags": ["libero_sim"], "fallback": {"libero_sim": 2}, "effective": {"libero_sim": 2}}

    def run(self, tag: str, raw, seed: int, on_inputs=None):
        import numpy as np

        from producer.original import OriginalResult

        if tag == "new_embodiment":
            raise RuntimeError("boom in the original")
        batch = len(raw.language)
        inputs = {"inputs.state": np.zeros((batch, 1, 16), np.float32)}
        if on_inputs is not None:
            on_inputs(inputs)
        return OriginalResult(inputs, {"inputs.state": "torch.float32"}, np.zeros((batch, 16, 8), np.float32))


def test_one_failing_tag_does_not_stop_the_others_and_exit_is_nonzero(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.decode
    import producer.original

    monkeypatch.setattr(producer.original, "OriginalGr00t", FakeOriginal)
    monkeypatch.setattr(producer.decode, "decode_outputs", lambda *args: {})
    monkeypatch.setattr(producer.original, "import_gr00t", lambda: None)
    code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu", "--image-size", "32x32"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[1/5] libero_sim @ 32x32 ... ran" in out and "[1/5] libero_sim @ 32x32 ok, written in" in out
    assert "[3/5] robocasa_panda_omron @ 32x32 ok, written in" in out
    assert "[2/5] new_embodiment @ 32x32 ... FAILED RuntimeError: boom in the original" in out
    assert "4 written, 1 failed" in out
    assert sorted(p.name for p in tmp_path.rglob("*.npz")) == [
        "original_n1_7_libero_sim.npz",
        "original_n1_7_oxe_droid_relative_eef_relative_joint.npz",
        "original_n1_7_robocasa_panda_omron.npz",
        "original_n1_7_unitree_g1_sonic.npz",
    ]


def test_mixed_camera_sizes_and_probes_go_to_their_own_directories(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.decode
    import producer.original
    from parity_format.artifact import read_artifact

    monkeypatch.setattr(producer.original, "OriginalGr00t", FakeOriginal)
    monkeypatch.setattr(producer.decode, "decode_outputs", lambda *args: {})
    monkeypatch.setattr(producer.original, "import_gr00t", lambda: None)
    base = ["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu", "--tags", "libero_sim"]
    assert main([*base, "--image-size", "24x32+16x16"]) == 0
    assert main([*base, "--image-size", "16x16", "--probes"]) == 0
    assert "libero_sim @ 24x32+16x16 ok, written in" in capsys.readouterr().out
    mixed = read_artifact(tmp_path / "24x32+16x16" / "original_n1_7_libero_sim.npz")
    assert {k: v.shape[2:4] for k, v in mixed.raw.video.items()} == {"image": (24, 32), "wrist_image": (16, 16)}
    assert mixed.provenance["camera_image_sizes"] == {"image": [24, 32], "wrist_image": [16, 16]}
    assert mixed.provenance["embodiment_ids"]["fallback"] == {"libero_sim": 2}
    probes = read_artifact(tmp_path / "probes-16x16" / "original_n1_7_libero_sim.npz")
    assert len(probes.raw.language) == 3 and "" in probes.raw.language  # batch raised to one per probe
    assert probes.provenance["probes"][2].startswith("empty")


def test_a_failing_write_fails_its_tag_only(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.decode
    import producer.original
    import producer.writing
    from parity_format.artifact import write_artifact

    def full_disk(artifact, path, encoder):
        if artifact.embodiment_tag == "libero_sim":
            raise OSError("No space left on device (simulated)")
        return write_artifact(artifact, path, encoder)

    monkeypatch.setattr(producer.original, "OriginalGr00t", FakeOriginal)
    monkeypatch.setattr(producer.decode, "decode_outputs", lambda *args: {})
    monkeypatch.setattr(producer.original, "import_gr00t", lambda: None)
    monkeypatch.setattr(producer.writing, "write_artifact", full_disk)
    tags = "libero_sim,robocasa_panda_omron"
    code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu", "--tags", tags])
    out = capsys.readouterr().out
    assert code == 1
    assert "[1/4] libero_sim @ 256x256 FAILED writing: OSError: No space left on device (simulated)" in out
    assert "[2/4] robocasa_panda_omron @ 256x256 ok, written in" in out
    assert "2 written, 2 failed" in out
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.npz")) == [
        "240x320/original_n1_7_robocasa_panda_omron.npz",
        "256x256/original_n1_7_robocasa_panda_omron.npz",
    ]
