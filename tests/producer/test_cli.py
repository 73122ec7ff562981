"""The producer's command line, up to the point where gr00t is needed (runs without gr00t)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

from producer.cli import main
from torch_hooks.forward_memo import ForwardMemo

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
        self.ckpt = ckpt
        self.device = device
        self.model_loaded = False
        self.prepared_before_load: list[str] = []

    def embodiment_ids(self) -> dict:
        return {"tags": ["libero_sim"], "fallback": {"libero_sim": 2}, "effective": {"libero_sim": 2}}

    def load_model(self) -> None:
        self.model_loaded = True

    def remembered_backbone(self) -> contextlib.AbstractContextManager[ForwardMemo]:
        return contextlib.nullcontext(ForwardMemo())  # no backbone here: nothing to remember

    def release_model(self) -> None:
        self.model_loaded = False

    def prepare(self, tag: str, raw):
        import numpy as np

        from producer.original import PreparedInputs

        if not self.model_loaded:
            self.prepared_before_load.append(tag)
        batch = len(raw.language)
        inputs = {"inputs.state": np.zeros((batch, 1, 16), np.float32)}
        return PreparedInputs(tag, batch, {}, inputs, {"inputs.state": "torch.float32"})

    def infer(self, prepared, seed: int):
        import numpy as np

        from producer.original import OriginalResult

        if prepared.tag == "new_embodiment":
            raise RuntimeError("boom in the original")
        return OriginalResult(prepared.inputs, prepared.torch_dtypes, np.zeros((prepared.batch, 16, 8), np.float32))


class FakeUserPath:
    """Stands in for the original's Gr00tPolicy runs (producer/user_path.py): nothing recorded."""

    def __init__(self, original: FakeOriginal) -> None:
        self.original = original
        self.released = False

    def run_exact(self, tag: str, raw, prepared, noise):
        from producer.user_path import UserPathRun

        assert self.original.model_loaded and not self.released, "the first phase runs on the float32 model"
        return UserPathRun({}, {"fp64_reference": {"recorded": False, "reason": "fake"}, "notes": []})

    def run_shipped(self, tag: str, raw, noise):
        from producer.user_path import UserPathRun

        assert not self.original.model_loaded and self.released, "the shipped policy loads once the float32 is freed"
        return UserPathRun({}, {"notes": []})

    def release_exact(self) -> None:
        self.released = True

    @staticmethod
    def combine(shipped, exact):
        from producer.user_path import UserPathRun

        return UserPathRun({**shipped.outputs, **exact.outputs}, {"policy": "fake"})


def stand_in_for_gr00t(monkeypatch: pytest.MonkeyPatch, original: type[FakeOriginal] = FakeOriginal) -> None:
    """Replaces every part that would need gr00t: the model, the decode and user-path recordings, the RTC cases."""
    import producer.decode
    import producer.original
    import producer.rtc
    import producer.user_path

    monkeypatch.setattr(producer.original, "OriginalGr00t", original)
    monkeypatch.setattr(producer.decode, "decode_outputs", lambda *args: {})
    monkeypatch.setattr(producer.user_path, "OriginalUserPath", FakeUserPath)
    monkeypatch.setattr(producer.rtc, "rtc_for_artifact", lambda *args: ({}, {}))
    monkeypatch.setattr(producer.original, "import_gr00t", lambda: None)


def test_one_failing_tag_does_not_stop_the_others_and_exit_is_nonzero(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_for_gr00t(monkeypatch)
    code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--device", "cpu", "--image-size", "32x32"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[1/5] libero_sim @ 32x32 ... backbone 0 runs for 0 calls; float32 ran" in out
    assert "[1/5] libero_sim @ 32x32 ok, written in" in out
    assert "[3/5] robocasa_panda_omron @ 32x32 ok, written in" in out
    assert "[2/5] new_embodiment @ 32x32 ... FAILED RuntimeError: boom in the original" in out
    assert "4 written, 1 failed" in out
    assert sorted(p.name for p in tmp_path.rglob("*.npz")) == [
        "original_n1_7_libero_sim.npz",
        "original_n1_7_oxe_droid_relative_eef_relative_joint.npz",
        "original_n1_7_robocasa_panda_omron.npz",
        "original_n1_7_unitree_g1_sonic.npz",
    ]


def test_first_jobs_are_prepared_before_the_model_loads_and_fail_at_their_turn(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from producer.pipeline import PREPARE_AHEAD

    made: list[FakeOriginal] = []

    class CollatorFails(FakeOriginal):
        def __init__(self, ckpt: Path, device: str) -> None:
            super().__init__(ckpt, device)
            made.append(self)

        def prepare(self, tag: str, raw):
            if tag == "new_embodiment":
                raise ValueError("collator refused")
            return super().prepare(tag, raw)

    stand_in_for_gr00t(monkeypatch, CollatorFails)
    tags = "libero_sim,new_embodiment,robocasa_panda_omron"
    code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--tags", tags, "--image-size", "32x32"])
    out = capsys.readouterr().out
    assert code == 1
    assert PREPARE_AHEAD == 2 and made[0].prepared_before_load == ["libero_sim"]  # the 2nd failed to prepare
    started = [line for line in out.splitlines() if " ... " in line]  # written lines come when writes finish
    assert [line.split(" ... ")[0] for line in started] == [
        "[1/3] libero_sim @ 32x32",
        "[2/3] new_embodiment @ 32x32",
        "[3/3] robocasa_panda_omron @ 32x32",
        "[1/3] libero_sim @ 32x32 as shipped",  # the second phase, once the float32 model is freed
        "[3/3] robocasa_panda_omron @ 32x32 as shipped",
    ]
    assert started[1].endswith("... FAILED ValueError: collator refused")
    assert "float32 ran" in started[0] and "float32 ran" in started[2]
    assert started[3].endswith(", writing") and started[4].endswith(", writing")
    assert out.index("released the float32 model") < out.index("[1/3] libero_sim @ 32x32 as shipped")
    assert out.index("loaded original GR00T N1.7 once") < out.index("[1/3]")
    assert "2 written, 1 failed" in out


def test_mixed_camera_sizes_and_probes_go_to_their_own_directories(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from parity_format.artifact import read_artifact

    stand_in_for_gr00t(monkeypatch)
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


def test_a_relative_out_dir_is_fixed_before_a_load_changes_the_working_directory(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load runs inside the checkpoint (sources.checkpoint.backbone_workdir) while other tags are written:
    a relative --out-dir once sent a golden into the tiny checkpoint's folder (commit b45a2ef)."""
    import os

    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()

    class WandersOff(FakeOriginal):
        def load_model(self) -> None:
            super().load_model()
            os.chdir(elsewhere)  # and stays there while the tags are written

    monkeypatch.chdir(start)
    stand_in_for_gr00t(monkeypatch, WandersOff)
    tags = "libero_sim,robocasa_panda_omron"
    argv = ["--ckpt", str(tiny_ckpt), "--out-dir", "out", "--device", "cpu", "--tags", tags, "--image-size", "32x32"]
    code = main(argv)
    assert code == 0, capsys.readouterr().out
    assert sorted(p.relative_to(start).as_posix() for p in start.rglob("*.npz")) == [
        "out/32x32/original_n1_7_libero_sim.npz",
        "out/32x32/original_n1_7_robocasa_panda_omron.npz",
    ]
    assert not list(elsewhere.rglob("*")), "a write followed the working directory"


def test_a_failing_write_fails_its_tag_only(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.decode
    import producer.original
    import producer.rtc
    import producer.user_path
    import producer.writing
    from parity_format.artifact import write_artifact

    def full_disk(artifact, path, encoder):
        if artifact.embodiment_tag == "libero_sim":
            raise OSError("No space left on device (simulated)")
        return write_artifact(artifact, path, encoder)

    stand_in_for_gr00t(monkeypatch)
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


def test_the_command_exits_with_mains_status_after_freezing_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import producer.cli

    calls: list[str] = []
    monkeypatch.setattr(producer.cli, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as exit_info:
        producer.cli.entry()
    assert exit_info.value.code == 3 and calls == ["main", "freeze"]
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'groot-parity-produce = "producer.cli:entry"' in pyproject  # the installed command goes through entry()


def test_fingerprints_are_hashed_in_a_thread_and_not_at_all_without_gr00t(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import producer.decode
    import producer.original
    import producer.rtc
    import producer.user_path
    import sources.checkpoint
    from parity_format.artifact import read_artifact
    from sources.checkpoint import checkpoint_fingerprint, content_fingerprint

    hashed_on: list[str] = []

    def recording(fn):
        def run(ckpt: Path):
            hashed_on.append(threading.current_thread().name)
            return fn(ckpt)

        return run

    monkeypatch.setattr(sources.checkpoint, "checkpoint_fingerprint", recording(checkpoint_fingerprint))
    monkeypatch.setattr(sources.checkpoint, "content_fingerprint", recording(content_fingerprint))
    stand_in_for_gr00t(monkeypatch)
    monkeypatch.setattr(producer.original, "gr00t_installed", lambda: True)
    base = ["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--tags", "libero_sim", "--image-size", "32x32"]
    assert main(base) == 0
    assert len(hashed_on) == 2 and all(name.startswith("fingerprint") for name in hashed_on)  # not the main thread
    recorded = read_artifact(tmp_path / "32x32" / "original_n1_7_libero_sim.npz").provenance["checkpoint"]
    assert recorded["fingerprint"] == checkpoint_fingerprint(tiny_ckpt)
    assert recorded["content_fingerprint"] == content_fingerprint(tiny_ckpt)

    def missing() -> None:
        raise producer.original.Gr00tUnavailable("gr00t is not installed (simulated)")

    hashed_on.clear()
    capsys.readouterr()
    monkeypatch.setattr(producer.original, "gr00t_installed", lambda: False)
    monkeypatch.setattr(producer.original, "import_gr00t", missing)
    assert main(base) == 2
    assert "gr00t is not installed (simulated)" in capsys.readouterr().err
    assert hashed_on == []  # a missing gr00t is reported before any hashing


class LargeInputs(FakeOriginal):
    """Inputs above the encoder's threshold, so that they are compressed ahead of their write."""

    def prepare(self, tag: str, raw):
        import numpy as np

        prepared = super().prepare(tag, raw)
        pixels = np.random.default_rng(len(tag)).random((prepared.batch, 1 << 18), dtype=np.float32)  # 2 MiB
        prepared.inputs["inputs.pixel_values"] = pixels
        prepared.torch_dtypes["inputs.pixel_values"] = "torch.float32"
        return prepared


def test_a_failed_tag_leaves_no_prefetched_compression_behind(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.decode
    import producer.original
    import producer.rtc
    import producer.user_path
    import producer.writing

    left_over: list[int] = []

    class RecordingWriter(producer.writing.BackgroundWriter):
        def close(self) -> None:
            left_over.append(self.encoder.prefetched)  # before close drops whatever is left
            super().close()

    stand_in_for_gr00t(monkeypatch, LargeInputs)
    monkeypatch.setattr(producer.writing, "BackgroundWriter", RecordingWriter)
    tags = "libero_sim,new_embodiment,robocasa_panda_omron"  # new_embodiment fails in infer (FakeOriginal)
    code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--tags", tags, "--image-size", "32x32"])
    assert code == 1 and "2 written, 1 failed" in capsys.readouterr().out
    assert left_over == [0]  # the written tags took theirs; the failed one's was discarded


def test_a_model_that_does_not_load_is_one_line(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.original

    class Unloadable(FakeOriginal):
        def load_model(self) -> None:
            raise OSError("model.safetensors: truncated file (simulated)")

    monkeypatch.setattr(producer.original, "OriginalGr00t", Unloadable)
    monkeypatch.setattr(producer.original, "import_gr00t", lambda: None)
    assert main(["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--tags", "libero_sim"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"could not run the original on {tiny_ckpt}: OSError: model.safetensors: truncated file" in err
    assert not list(tmp_path.rglob("*.npz"))


def test_a_run_fixes_the_mmap_threshold_before_the_model_loads(
    tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import producer.cli

    events: list[str] = []

    class Recording(FakeOriginal):
        def load_model(self) -> None:
            events.append("load")
            super().load_model()

    stand_in_for_gr00t(monkeypatch, Recording)
    monkeypatch.setattr(producer.cli, "map_large_allocations", lambda: events.append("fixed") or True)
    argv = ["--ckpt", str(tiny_ckpt), "--out-dir", str(tmp_path), "--tags", "libero_sim", "--image-size", "32x32"]
    assert main(argv) == 0
    assert events[:2] == ["fixed", "load"]  # freed activations leave the process (issue 26)
