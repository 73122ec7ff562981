"""The producer validates every argument and its output directory before importing gr00t or torch (issue 14).

Each case runs ``producer.cli.main`` in a fresh interpreter and checks: exit 2, one ``error:`` line, and
neither gr00t nor torch in ``sys.modules`` afterwards (so the check really happened before them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"

_PROBE = """
import sys
from producer.cli import main
code = main({argv!r})
heavy = sorted(m for m in ("gr00t", "torch", "transformers") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
sys.exit(code)
"""


def _produce(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=list(argv))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--seed", "-1"], "--seed -1: expected an integer in 0..4294967295"),
        (["--seed", "100000000000000000000000"], "--seed 100000000000000000000000: expected"),
        (["--batch-size", "0"], "--batch-size 0: expected 1..64"),
        (["--batch-size", "100000"], "--batch-size 100000: expected 1..64"),
        (["--device", "tpu"], "--device 'tpu': expected cpu, cuda or cuda:N"),
        (["--device", "cuda:x"], "--device 'cuda:x'"),
        (["--image-size", "10000x10000"], "--image-size 10000x10000: each side must be at most 4096 pixels"),
        (["--image-size", "256"], "HxW"),
    ],
)
def test_bad_argument_is_one_line_before_heavy_imports(extra: list[str], message: str, tmp_path: Path) -> None:
    proc = _produce("--ckpt", str(TINY_CKPT), "--out-dir", str(tmp_path / "out"), *extra)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("groot-parity-produce: error: ")
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "HEAVY=\n" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_seed_as_float_text_is_an_argparse_error(tmp_path: Path) -> None:
    proc = _produce("--ckpt", str(TINY_CKPT), "--seed", "1e23")
    assert proc.returncode == 2 and "invalid int value: '1e23'" in proc.stderr and proc.stderr.count("\n") == 1


def test_unusable_out_dir_is_refused_before_heavy_imports(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out_dir, message in (
        (a_file, "exists and is not a directory"),
        (a_file / "below", "is not a directory"),
    ):
        proc = _produce("--ckpt", str(TINY_CKPT), "--out-dir", str(out_dir))
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert "HEAVY=\n" in proc.stdout


def test_read_only_out_dir_is_refused(tmp_path: Path) -> None:
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits: nothing to test here
            pytest.skip("running as root: permission bits do not stop writes")
        proc = _produce("--ckpt", str(TINY_CKPT), "--out-dir", str(locked / "out"))
        assert proc.returncode == 2 and "not writable" in proc.stderr
    finally:
        locked.chmod(0o700)


def test_valid_arguments_get_past_validation(tmp_path: Path) -> None:
    """Control: good arguments reach the checkpoint step (here a refused N1.5 checkpoint, still before gr00t)."""
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({"model_type": "gr00t_n1_5"}))
    proc = _produce("--ckpt", str(tmp_path / "ckpt"), "--out-dir", str(tmp_path / "out"), "--seed", "4294967295")
    assert proc.returncode == 2 and "GR00T N1.5 checkpoint" in proc.stderr
