"""Produce plans: many checkpoints in one command, one folder each, a summary across them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from parity_format.artifact import read_artifact
from producer.cli import main
from producer.plan import PlanError, load_plan

REPO = Path(__file__).resolve().parents[2]
CLI_DEFAULTS = {"seed": 42, "batch_size": 2, "image_sizes": ["256x256", "240x320"]}
HAS_GR00T = importlib.util.find_spec("gr00t") is not None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


def test_example_plan_parses() -> None:
    entries = load_plan(REPO / "plans" / "example.toml", CLI_DEFAULTS)
    assert [e.name for e in entries] == ["libero_10", "libero_spatial", "tiny"]
    assert entries[0].subfolder == "libero_10" and entries[0].tags == ["libero_sim"]
    assert entries[2].image_sizes == ["256x256"] and entries[1].image_sizes == ["256x256", "240x320"]


def test_precedence_entry_then_defaults_then_command_line(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        '[defaults]\nseed = 7\n\n[[checkpoint]]\nckpt = "org/repo"\nsubfolder = "a"\n\n'
        '[[checkpoint]]\nckpt = "some/dir/ckpt"\nseed = 3\nbatch_size = 1\ntags = ["x"]\n',
    )
    first, second = load_plan(plan, {**CLI_DEFAULTS, "tags": "libero_sim,new_embodiment"})
    assert (first.name, first.seed, first.batch_size, first.tags) == ("a", 7, 2, ["libero_sim", "new_embodiment"])
    assert (second.name, second.seed, second.batch_size, second.tags) == ("ckpt", 3, 1, ["x"])


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[[checkpoint]]\nckpt = "a/b"\ntag = ["x"]\n', "checkpoint #1: unknown key(s) ['tag']"),
        ('[defaults]\nckpt = "a/b"\n', "[defaults]: unknown key(s) ['ckpt']"),
        ('[[checkpoint]]\nckpt = "a/b"\n[[checkpoint]]\nckpt = "c/b"\n', "name(s) ['b'] used twice"),
        ('[[checkpoint]]\nname = "../up"\nckpt = "a/b"\n', "not a plain folder name"),
        ('[[checkpoint]]\nckpt = "a/b"\nseed = "1"\n', "seed '1': expected an integer in 0..4294967295"),
        ('[[checkpoint]]\nckpt = "a/b"\nbatch_size = 0\n', "batch_size 0: expected 1..64"),
        ('[[checkpoint]]\nckpt = "a/b"\nimage_sizes = []\n', "image_sizes: no size given"),
        # issue 25: what the command line refuses, a plan refuses too, with the same rule
        ('[[checkpoint]]\nckpt = "a/b"\nimage_sizes = ["5000x5000"]\n', "each side must be at most 4096 pixels"),
        ('[[checkpoint]]\nckpt = "a/b"\nbatch_size = 65\n', "batch_size 65: expected 1..64"),
        ('[[checkpoint]]\nckpt = "a/b"\nseed = 4294967296\n', "seed 4294967296: expected an integer in 0..4294967295"),
        ('[defaults]\nseed = -1\n[[checkpoint]]\nckpt = "a/b"\n', "seed -1: expected an integer in 0..4294967295"),
        ('[[checkpoint]]\nckpt = "a/b"\nimage_sizes = ["0x10"]\n', "image_sizes: "),
        ('[[checkpoint]]\nckpt = "a/b"\nseed = 1.5\n', "seed 1.5: expected an integer"),
        ('[[checkpoint]]\nrevision = "main"\n', "ckpt must be a non-empty string"),
        ("[defaults]\nseed = 1\n", "no [[checkpoint]] entries"),
        ("[[checkpoint]\n", "not valid TOML"),
        ('checkpoints = []\n[[checkpoint]]\nckpt = "a/b"\n', "unknown top-level key(s) ['checkpoints']"),
    ],
)
def test_malformed_plan_is_one_error_naming_file_and_entry(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text), CLI_DEFAULTS)
    assert complaint in str(info.value) and str(tmp_path / "plan.toml") in str(info.value)


def test_plan_and_command_line_share_one_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same bad value, given both ways, is refused by the same rule in the same words (bar the spelling)."""
    plan = write(tmp_path, '[[checkpoint]]\nckpt = "a/b"\nbatch_size = 65\n')
    assert main(["--plan", str(plan), "--out-dir", str(tmp_path / "out")]) == 2
    from_plan = capsys.readouterr().err
    assert main(["--ckpt", "a/b", "--batch-size", "65", "--out-dir", str(tmp_path / "out")]) == 2
    from_flag = capsys.readouterr().err
    assert from_plan.endswith("batch_size 65: expected 1..64 (an integer)\n"), from_plan
    assert from_flag.endswith("--batch-size 65: expected 1..64 (an integer)\n"), from_flag
    assert not (tmp_path / "out").exists()


def test_plan_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path, '[[checkpoint]]\nckpt = "a/b"\n')
    assert main(["--plan", str(plan), "--subfolder", "x"]) == 2
    assert "--subfolder cannot be combined with --plan" in capsys.readouterr().err
    assert main(["--plan", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--plan", str(plan), "--ckpt", "a/b"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_GR00T, reason="gr00t (the original) is not installed in the producer env")
def test_two_checkpoint_plan_produces_both_folders_in_one_command(
    tiny_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real original, the tiny checkpoint under two names, plus one that cannot load: the others still run."""
    plan = write(
        tmp_path,
        '[defaults]\nimage_sizes = ["32x32"]\nbatch_size = 1\ntags = ["new_embodiment"]\n\n'
        f'[[checkpoint]]\nname = "first"\nckpt = "{tiny_ckpt}"\n\n'
        f'[[checkpoint]]\nname = "broken"\nckpt = "{tmp_path / "no-such-checkpoint"}"\n\n'
        f'[[checkpoint]]\nname = "second"\nckpt = "{tiny_ckpt}"\nseed = 7\n',
    )
    out = tmp_path / "out"
    code = main(["--plan", str(plan), "--out-dir", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    assert code == 1, printed  # the broken entry makes the run fail, after the others ran
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz"))
    assert files == ["first/32x32/original_n1_7_new_embodiment.npz", "second/32x32/original_n1_7_new_embodiment.npz"]
    first, second = (read_artifact(out / f) for f in files)
    assert (first.seed, second.seed) == (42, 7) and first.action_pred.shape == (1, 16, 16)
    assert not np.array_equal(first.action_pred, second.action_pred)  # the per-entry seed reached the original
    assert "plan: 3 checkpoint(s), 1 not run; 2 artifact(s) written, 0 failed" in printed
    assert "broken" in printed and "no such directory" in printed
