"""Hostile producer runs (issue 25): a second producer on the same --out-dir, control characters in references."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from producer.cli import main
from producer.out_dir_lock import LOCK_NAME, OutDirBusy, out_dir_lock

REPO = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, time; from pathlib import Path; from producer.out_dir_lock import out_dir_lock\n"
    "with out_dir_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)\n"
)


def test_a_second_producer_on_the_same_out_dir_is_refused_naming_the_first(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code = main(["--ckpt", str(tiny_ckpt), "--out-dir", str(out), "--image-size", "32x32", "--device", "cpu"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"--out-dir {out}: another groot-parity-produce is writing there (pid {holder.pid} on " in err
        assert list(out.iterdir()) == [out / LOCK_NAME]  # nothing was written
    finally:
        holder.kill()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 30  # the kernel drops a dead holder's lock: the folder is free again
    while True:
        try:
            with out_dir_lock(out):
                break
        except OutDirBusy:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_the_lock_is_per_folder_and_per_holder(tmp_path: Path) -> None:
    with (
        out_dir_lock(tmp_path / "a"),
        out_dir_lock(tmp_path / "b"),
        pytest.raises(OutDirBusy, match=r"pid \d+ on .*, started "),
        out_dir_lock(tmp_path / "a"),
    ):
        pass
    with out_dir_lock(tmp_path / "a"):  # released on exit
        pass


def test_control_characters_in_a_reference_are_escaped_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--ckpt", str(tmp_path / "no\x1b[2Ksuch\rckpt"), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err and "such" in err and err.count("\n") == 1
