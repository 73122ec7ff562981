"""groot-parity-inspect and groot-parity-diff, driven through ``main(argv)`` (numpy only: both envs)."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artifact_tools import diff_artifacts, inspect_artifact
from parity_format.artifact import FORMAT_VERSION, Artifact, array_checksum, read_artifact, write_artifact

REPO = Path(__file__).resolve().parents[2]
NAME = "original_n1_7_libero_sim.npz"
FINGERPRINT = "d35b1e9dbebd11451ef54341e27703d7483cdeb1898492f99d849d821daf02f9"
PRODUCER_PROVENANCE = {
    "gr00t": {"source": "git+https://github.com/NVIDIA/Isaac-GR00T@626af89", "commit": "626af89d3e91"},
    "versions": {"python": "3.10.13", "transformers": "4.57.3", "torch": "2.7.1"},
    "device": "cuda:0",
    "device_name": "NVIDIA H100",
    "dtype": "float32",
    "attention": "sdpa",
    "checkpoint": {"spec": "nvidia/GR00T-N1.7-LIBERO", "revision": "main", "fingerprint": FINGERPRINT},
    "created_utc": "2026-11-24T10:04:14+00:00",
    "command": ["producer/cli.py", "--ckpt", "a b"],
}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _default_tolerances(monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in ("GROOT_PARITY_ATOL", "GROOT_PARITY_RTOL", "GROOT_PARITY_TOL", "GROOT_PARITY_SCALE_TOL"):
        monkeypatch.delenv(knob, raising=False)
    # make_artifact plants NaN payloads (a format round-trip concern): identical NaN must compare equal here.
    monkeypatch.setenv("GROOT_PARITY_EQUAL_NAN", "1")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Call a tool's main(argv) and return (exit code, stdout, stderr)."""

    def call(main: Callable[[list[str]], int], *argv: Any) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def pair(tmp_path: Path, make_artifact: Callable[..., Artifact]) -> Callable[..., tuple[Path, Path]]:
    """Write A (the fixture artifact) and B (the same, after ``edit``) in two directories."""

    def write(edit: Callable[[Artifact], None] = lambda b: None) -> tuple[Path, Path]:
        a = write_artifact(make_artifact(), tmp_path / "a" / NAME)
        b_artifact = make_artifact()
        edit(b_artifact)
        return a, write_artifact(b_artifact, tmp_path / "b" / NAME)

    return write


def _rows(out: str) -> dict[str, list[str]]:
    """Member rows of inspect's text table: name -> the other columns."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if line.startswith("    ") and len(cells) == 8 and cells[0] != "member":
            rows[cells[0]] = cells[1:]
    return rows


# -- inspect ---------------------------------------------------------------------------------------
def test_inspect_shows_manifest_checksums_and_stats(tmp_path: Path, make_artifact: Any, run: Run) -> None:
    artifact = make_artifact()
    artifact.provenance = PRODUCER_PROVENANCE
    path = write_artifact(artifact, tmp_path / NAME)
    code, out, err = run(inspect_artifact.main, path)
    assert (code, err) == (0, "")
    assert re.search(rf"format:\s+groot-parity-artifact v{FORMAT_VERSION}", out)
    assert re.search(r"embodiment tag:\s+libero_sim", out) and re.search(r"seed:\s+42\n", out)
    assert re.search(r"legacy:\s+no", out)
    assert re.search(r"gr00t commit:\s+626af89d3e91 \(source git\+https://github.com/NVIDIA/Isaac-GR00T@626af89\)", out)
    assert re.search(r"versions:\s+python 3.10.13, transformers 4.57.3, torch 2.7.1", out)
    assert re.search(r"device:\s+cuda:0 \(NVIDIA H100\)", out)
    assert f"fingerprint {FINGERPRINT[:12]}…" in out and FINGERPRINT not in out
    assert re.search(r"command:\s+producer/cli.py --ckpt 'a b'", out)
    rows = _rows(out)
    fixed = "action_pred seed embodiment_tag meta_keys meta_dtypes raw_video_keys raw_state_keys raw::language"
    raw = ["raw::video.wrist", "raw::video.front", "raw::state.joints", "raw::state.eef"]
    ins, outs = [f"in::{k}" for k in artifact.inputs], [f"out::{k}" for k in artifact.outputs]
    assert set(rows) == {*fixed.split(), *raw, *ins, *outs}
    assert {cells[2] for cells in rows.values()} == {"ok"}
    assert rows["in::inputs.embodiment_id"][:2] == ["<i4", "2"]
    assert rows["in::inputs.embodiment_id"][4:] == ["3", "3", "3"]  # min, max, mean
    assert rows["embodiment_tag"][4:] == ["-", "-", "-"] and rows["in::inputs.empty"][4:] == ["-", "-", "-"]
    assert "note: action_pred has 2 NaN, 0 inf (excluded from min/max/mean)" in out


def test_inspect_json_matches_the_arrays(tmp_path: Path, make_artifact: Any, run: Run) -> None:
    artifact = make_artifact()
    path = write_artifact(artifact, tmp_path / NAME)
    code, out, _ = run(inspect_artifact.main, path, "--json")
    assert code == 0
    [info] = json.loads(out)
    assert (info["embodiment_tag"], info["seed"], info["legacy"], info["error"]) == (
        "libero_sim",
        42,
        False,
        None,
    )
    assert info["provenance"] == artifact.provenance
    members = {m["name"]: m for m in info["members"]}
    pixels = artifact.inputs["inputs.pixel_values"]
    got = members["in::inputs.pixel_values"]
    assert (got["checksum"], got["sha256"]) == ("ok", array_checksum(pixels))
    assert (got["min"], got["max"]) == (float(pixels.min()), float(pixels.max()))
    assert got["mean"] == pytest.approx(float(pixels.astype(np.float64).mean()))
    finite = artifact.action_pred[np.isfinite(artifact.action_pred)]
    action = members["action_pred"]
    assert (action["min"], action["max"], action["nan"]) == (float(finite.min()), float(finite.max()), 2)
    assert (members["in::inputs.flags"]["min"], members["in::inputs.flags"]["max"]) == (0, 1)
    assert members["raw::language"]["min"] is None
    assert {m["checksum"] for m in info["members"]} == {"ok"}


def test_inspect_corrupted_copy_names_file_and_member(
    tmp_path: Path, make_artifact: Any, rewrite_npz: Any, run: Run
) -> None:
    path = write_artifact(make_artifact(), tmp_path / NAME)
    bad = tmp_path / "copy" / NAME
    bad.parent.mkdir()
    shutil.copy(path, bad)
    changed = read_artifact(path).inputs["inputs.pixel_values"].copy()
    changed[0, 0] += 1
    rewrite_npz(bad, {"in::inputs.pixel_values": changed})  # a valid zip, a wrong checksum
    code, out, err = run(inspect_artifact.main, bad)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("groot-parity-inspect: error: ")
    assert str(bad) in err and "in::inputs.pixel_values" in err and "checksum mismatch" in err
    rows = _rows(out)
    assert rows["in::inputs.pixel_values"][2] == "MISMATCH" and rows["in::inputs.input_ids"][2] == "ok"


def test_inspect_truncated_and_missing_files_exit_2_without_traceback(
    tmp_path: Path, make_artifact: Any, run: Run
) -> None:
    good = write_artifact(make_artifact(), tmp_path / NAME)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code, out, err = run(inspect_artifact.main, good, truncated, tmp_path / "missing.npz")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert str(truncated) in lines[0] and "missing.npz: file not found" in lines[1]
    assert _rows(out)["action_pred"][2] == "ok"  # the readable file is still shown in full


def test_inspect_legacy_savez_never_unpickles(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / NAME
    rng = np.random.default_rng(0)
    np.savez(
        path,
        action_pred=rng.standard_normal((2, 4, 3)).astype(np.float32),
        device=np.array("cuda"),
        embodiment_tag=np.array("libero_sim"),
        meta_keys=np.array(["in::inputs.input_ids"], dtype=object),
        meta_dtypes=np.array(["torch.int64"], dtype=object),
        **{"in::inputs.input_ids": np.arange(6).reshape(2, 3)},
    )

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    code, out, err = run(inspect_artifact.main, path)
    assert (code, err) == (0, "")
    assert re.search(r"legacy:\s+yes", out) and "legacy (no manifest" in out
    assert re.search(r"seed:\s+not recorded", out) and re.search(r"device:\s+cuda", out)
    rows = _rows(out)
    assert rows["meta_keys"][:3] == ["object", "1", "n/a"] and rows["meta_keys"][4:] == ["-", "-", "-"]
    assert rows["in::inputs.input_ids"][2] == "n/a" and rows["in::inputs.input_ids"][4:] == ["0", "5", "2.5"]
    assert "note: skipped object member meta_keys (legacy, not unpickled)" in out
    code, out, _ = run(inspect_artifact.main, path, "--json")
    assert code == 0 and json.loads(out)[0]["legacy"] is True


def test_tools_help_and_usage_errors(run: Run) -> None:
    for main, prog in (
        (inspect_artifact.main, "groot-parity-inspect"),
        (diff_artifacts.main, "groot-parity-diff"),
    ):
        code, out, _ = run(main, "--help")
        assert code == 0 and out.startswith(f"usage: {prog}")
        code, _, err = run(main)
        assert code == 2 and f"{prog}: error:" in err
    assert "GROOT_PARITY_TOL" in run(diff_artifacts.main, "--help")[1]


def test_tools_run_as_modules(tmp_path: Path, make_artifact: Any) -> None:
    path = write_artifact(make_artifact(), tmp_path / NAME)
    for module, argv in (("inspect_artifact", [path]), ("diff_artifacts", [path, path])):
        proc = subprocess.run(
            [sys.executable, "-m", f"artifact_tools.{module}", *map(str, argv)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr


# -- diff ------------------------------------------------------------------------------------------
def test_diff_fails_on_nan_by_default(pair: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROOT_PARITY_EQUAL_NAN")
    a, b = pair()
    code, out, _ = run(diff_artifacts.main, a, b)
    assert code == 1 and out.rstrip().endswith("out of tolerance: action_pred, in::inputs.wide")


def test_diff_identical_artifacts_pass(pair: Any, run: Run) -> None:
    a, b = pair()
    code, out, err = run(diff_artifacts.main, a, b)
    assert (code, err) == (0, "")
    assert out.rstrip().splitlines()[-1].startswith("PASS: 14/14 tensors within tolerance")
    for name in (
        "action_pred",
        "in::inputs.input_ids",
        "raw::video.front",
        "raw::language",
        "out::state_features",
    ):
        assert re.search(rf"^{re.escape(name)}\s.*PASS$", out, re.MULTILINE), name
    assert "provenance differs" not in out


def test_diff_perturbed_input_fails_and_names_it(pair: Any, run: Run, tmp_path: Path) -> None:
    def perturb(b: Artifact) -> None:
        b.inputs["inputs.pixel_values"][1, 2] += 0.5

    a, b = pair(perturb)
    report = tmp_path / "diff.json"
    code, out, _ = run(diff_artifacts.main, a, b, "--json", report)
    assert code == 1
    assert re.search(r"^in::inputs\.pixel_values\s.*@ \(1, 2\).*FAIL$", out, re.MULTILINE)
    assert out.rstrip().splitlines()[-1] == (
        "FAIL: 13/14 tensors within tolerance; out of tolerance: in::inputs.pixel_values"
    )
    payload = json.loads(report.read_text())
    assert payload["passed"] is False and payload["provenance_differences"] == []
    assert [t["name"] for t in payload["tensors"] if not t["passed"]] == ["in::inputs.pixel_values"]
    assert payload["tensors"][0]["name"] == "action_pred" and (payload["a"], payload["b"]) == (str(a), str(b))


def test_diff_integer_tensors_are_exact(pair: Any, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def perturb(b: Artifact) -> None:
        b.inputs["inputs.pixel_values"][0, 0] += 0.5  # within the loose atol (and no scale criterion) below
        b.inputs["inputs.input_ids"][0, 0] += 1  # never within tolerance: integers compare exactly

    monkeypatch.setenv("GROOT_PARITY_ATOL", "10")
    monkeypatch.setenv("GROOT_PARITY_SCALE_TOL", "off")
    code, out, _ = run(diff_artifacts.main, *pair(perturb))
    assert code == 1
    assert out.rstrip().splitlines()[-1].endswith("out of tolerance: in::inputs.input_ids")


def test_diff_different_tags_is_a_usage_error(tmp_path: Path, make_artifact: Any, run: Run) -> None:
    a = write_artifact(make_artifact("libero_sim"), tmp_path / "original_n1_7_libero_sim.npz")
    b = write_artifact(make_artifact("gr1"), tmp_path / "original_n1_7_gr1.npz")
    code, out, err = run(diff_artifacts.main, a, b)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "'libero_sim'" in err and "'gr1'" in err
    code, out, _ = run(diff_artifacts.main, a, b, "--allow-different-tags")
    assert code == 0 and "different tags compared: 'libero_sim' vs 'gr1'" in out


def test_diff_malformed_knob_and_unreadable_input_exit_2(pair: Any, run: Run, monkeypatch: Any) -> None:
    a, b = pair()
    code, _, err = run(diff_artifacts.main, a, b.with_name("missing.npz"))
    assert code == 2 and "missing.npz: file not found" in err
    monkeypatch.setenv("GROOT_PARITY_ATOL", "1e-3x")
    code, out, err = run(diff_artifacts.main, a, b)
    assert (code, out) == (2, "")
    assert err.startswith("groot-parity-diff: error: GROOT_PARITY_ATOL=") and err.count("\n") == 1


def test_diff_lists_provenance_differences_as_notes(pair: Any, run: Run, tmp_path: Path) -> None:
    def elsewhere(b: Artifact) -> None:
        b.provenance = {**b.provenance, "gr00t_commit": "def456", "nested": {"a": [1, 3]}}
        b.seed = 7

    report = tmp_path / "diff.json"
    code, out, _ = run(diff_artifacts.main, *pair(elsewhere), "--json", report)
    assert code == 0  # the arrays are equal; provenance explains, it does not fail
    assert "note: provenance differs: gr00t_commit: abc123 vs def456" in out
    assert "note: provenance differs: nested.a: [1, 2] vs [1, 3]" in out
    assert "note: provenance differs: seed: 42 vs 7" in out
    keys = [d["key"] for d in json.loads(report.read_text())["provenance_differences"]]
    assert keys == ["gr00t_commit", "nested.a", "seed"]


def test_diff_member_sets_and_language(pair: Any, run: Run) -> None:
    def drop_and_reword(b: Artifact) -> None:
        del b.outputs["state_features"]
        assert b.raw is not None
        b.raw.language[1] = "put down the bowl"

    code, out, _ = run(diff_artifacts.main, *pair(drop_and_reword))
    assert code == 1
    assert "only in expected (original): out::state_features (FAIL)" in out
    assert "raw::language: instruction 1 differs: 'pick up the bowl ✓' vs 'put down the bowl'" in out
    assert out.rstrip().splitlines()[-1] == (
        "FAIL: 12/13 tensors within tolerance; out of tolerance: raw::language; "
        "only in A: out::state_features; only in B: -"
    )
