"""Hostile and careless inputs to the consumer (issue 14): isolation, CI nothing-to-run, reports, usage errors.

The isolation test runs the real consumer CLI (real LeRobot) on a folder where good artifacts sit beside
bad ones: every bad case fails on its own, in one line, and the good ones keep their verdicts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from comparison.results import Case, CheckResult
from consumer.checks import CHECKS
from consumer.ci_env import running_in_ci
from consumer.reports.json_report import write_json_report
from consumer.session import ParitySession
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact, write_artifact

REPO = Path(__file__).resolve().parents[2]


def _load_hostile_files() -> ModuleType:
    """The format suite's crafting helpers (tests/ is not a package; the consumer env has another ``tests``)."""
    spec = importlib.util.spec_from_file_location(
        "hostile_files", REPO / "tests" / "parity_format" / "hostile_files.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


hostile = _load_hostile_files()
TINY_CKPT = REPO / "fixtures" / "tiny-groot-n1.7"
NAME = "original_n1_7_libero_sim.npz"
KNOBS_TO_CLEAR = ("GROOT_N1_7_LIBERO_CKPT", "GROOT_PARITY_DEVICE", "CI", "GITHUB_ACTIONS", "GROOT_PARITY_DEBUG")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KNOBS_TO_CLEAR}
    return {**env, **extra}


def _with_checkpoint(src: Path, dst: Path, ckpt: Path, tag: str | None = None) -> Path:
    artifact = read_artifact(src)
    recorded = dict(artifact.provenance.get("checkpoint") or {})
    recorded.update(spec=str(ckpt), path=str(ckpt))
    artifact.provenance["checkpoint"] = recorded
    if tag is not None:
        artifact.embodiment_tag = tag
    return write_artifact(artifact, dst)


def _checkpoint_copy(tmp_path: Path, name: str, edit) -> Path:
    ckpt = tmp_path / name
    shutil.copytree(TINY_CKPT, ckpt)
    edit(ckpt)
    return ckpt


def _drop_tag_statistics(ckpt: Path) -> None:
    statistics = json.loads((ckpt / "statistics.json").read_text())
    del statistics["libero_sim"]
    (ckpt / "statistics.json").write_text(json.dumps(statistics))


def test_bad_artifacts_fail_alone_and_the_report_is_written(golden_square: Path, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    shutil.copytree(golden_square.parent, root / "a-good", ignore=shutil.ignore_patterns("*embodiment*", "*robocasa*"))
    (root / "b-bomb").mkdir()
    hostile.write_zip(
        root / "b-bomb" / NAME, [*hostile.legacy_members(), hostile.zeros_bomb_entry("out::zeros", 2048 * hostile.MiB)]
    )
    _with_checkpoint(golden_square, root / "c-badtag" / NAME, TINY_CKPT, tag="../../x")
    no_weights = _checkpoint_copy(tmp_path, "ckpt-no-weights", lambda c: (c / "model.safetensors").unlink())
    _with_checkpoint(golden_square, root / "d-noweights" / NAME, no_weights)
    no_stats = _checkpoint_copy(tmp_path, "ckpt-no-stats", _drop_tag_statistics)
    _with_checkpoint(golden_square, root / "e-nostats" / NAME, no_stats)
    (root / "f-good-after").mkdir()
    shutil.copy(golden_square, root / "f-good-after" / NAME)

    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "--dir", str(root)],
        cwd=REPO,
        env=_env(GROOT_PARITY_REPORT_DIR=str(reports)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    (report,) = reports.glob("parity-*.json")
    results = {(r["group"], r["check"]): r for r in json.loads(report.read_text())["results"]}
    assert len(results) == 6 * len(CHECKS)  # every check of 6 artifacts: nothing after a bad one was lost
    for group in ("a-good", "f-good-after"):
        assert [results[group, c]["status"] for c in ("model", "preprocessor")] == ["pass", "pass"]
    expected_causes = {
        ("b-bomb", "model"): "per-member cap",
        ("b-bomb", "preprocessor"): "per-member cap",
        ("c-badtag", "preprocessor"): "../../x",
        ("d-noweights", "model"): "check failed",
        ("e-nostats", "preprocessor"): "preprocessor raised KeyError",
    }
    for (group, check), cause in expected_causes.items():
        result = results[group, check]
        assert result["status"] == "fail", (group, check, result["message"])
        assert cause in result["message"] and "\n" not in result["message"], result["message"]
        assert group in result["message"] or group in result["artifact"]
        line = f"FAIL: {group}-libero_sim {check}: "
        assert line in proc.stdout
    assert f"JSON report: {report}" in proc.stdout
    assert "fail" in proc.stdout.rstrip().splitlines()[-1]  # the summary line is printed too


class _Boom(ParitySession):
    def model(self, ckpt: Path, device: str) -> Any:
        raise RuntimeError("model exploded\nsecond line")


@pytest.mark.parametrize("debug", ["", "1"])
def test_unexpected_error_is_one_line_unless_debug(golden_square: Path, tmp_path: Path, debug: str) -> None:
    session = _Boom(settings_from_env({"GROOT_PARITY_DEBUG": debug, "GROOT_PARITY_REPORT_DIR": str(tmp_path)}))
    result = session.run(Case(golden_square, "256x256", "libero_sim"), "model")
    assert result.status == "fail" and session.results == [result]
    first = result.message.split("\n")[0]
    assert str(golden_square) in first and "model check failed: RuntimeError: model exploded" in first
    assert ("Traceback" in result.message) is bool(debug)
    assert ("\n" in result.message) is bool(debug)


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"CI": "true"}, True),
        ({"CI": "1"}, True),
        ({"CI": "YES"}, True),
        ({"GITHUB_ACTIONS": "true"}, True),
        ({"JENKINS_URL": "http://ci"}, True),
        ({"TF_BUILD": "True"}, True),
        ({"CI": "false"}, False),
        ({"CI": "0"}, False),
        ({}, False),
    ],
)
def test_ci_is_recognised_as_ci_systems_set_it(env: dict[str, str], expected: bool) -> None:
    assert running_in_ci(env) is expected


def _pytest_parity(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "consumer/test_parity.py"],
        cwd=REPO,
        env=_env(GROOT_PARITY_REPORT_DIR=str(tmp_path / "reports"), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_nothing_to_run_fails_under_ci(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a directory")
    for directory in (tmp_path / "missing", tmp_path / "empty", tmp_path / "a-file"):
        proc = _pytest_parity(tmp_path, CI="1", GROOT_N1_7_PARITY_DIR=str(directory))
        assert proc.returncode == 1 and "nothing was compared" in proc.stdout, proc.stdout[-2000:]
    outside_ci = _pytest_parity(tmp_path, GROOT_N1_7_PARITY_DIR=str(tmp_path / "empty"))
    assert outside_ci.returncode == 0 and "1 skipped" in outside_ci.stdout
    assert len(list((tmp_path / "reports").glob("parity-*.json"))) == 4  # every run wrote its report


def test_missing_or_empty_replay_checkpoint_is_a_usage_error(tmp_path: Path, golden_square: Path) -> None:
    (tmp_path / "empty-ckpt").mkdir()
    for ckpt, why in ((tmp_path / "gone", "no such directory"), (tmp_path / "empty-ckpt", "no config.json")):
        env = {"GROOT_N1_7_PARITY_DIR": str(golden_square.parent), "GROOT_N1_7_LIBERO_CKPT": str(ckpt)}
        proc = _pytest_parity(tmp_path, CI="true", **env)
        assert proc.returncode == 4 and why in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        cli = subprocess.run(
            [sys.executable, "-m", "consumer.cli"], cwd=REPO, env=_env(**env), capture_output=True, text=True
        )
        assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and why in cli.stderr


def test_cuda_without_a_gpu_is_one_line_before_any_work(tmp_path: Path, golden_square: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    env = _env(GROOT_PARITY_DEVICE="cuda", GROOT_N1_7_PARITY_DIR=str(golden_square.parent))
    cli = subprocess.run([sys.executable, "-m", "consumer.cli"], cwd=REPO, env=env, capture_output=True, text=True)
    assert cli.returncode == 2 and cli.stdout == "" and "Traceback" not in cli.stderr
    assert cli.stderr.strip() == (
        "groot-parity-consume: error: GROOT_PARITY_DEVICE=cuda, but torch sees no CUDA device here "
        "(unset it or use cpu)"
    )


def test_concurrent_runs_keep_every_report(tmp_path: Path, golden_square: Path) -> None:
    settings = settings_from_env({})
    nan_result = CheckResult(Case(golden_square, "256x256", "libero_sim"), "model", "fail", "x")
    nan_result.action_abs_diff = [[float("nan"), float("inf")]]
    paths = [write_json_report([nan_result], tmp_path, settings) for _ in range(20)]  # all within one second
    assert len(set(paths)) == 20 and all(p.name.startswith("parity-") for p in paths)
    assert json.loads(paths[0].read_text())["results"][0]["action_abs_diff"] == [["nan", "inf"]]
    code = (
        "import sys; from pathlib import Path; from consumer.reports.json_report import write_json_report;"
        "from consumer.settings import settings_from_env;"
        f"write_json_report([], Path({str(tmp_path / 'parallel')!r}), settings_from_env({{}}))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert len(list((tmp_path / "parallel").glob("parity-*.json"))) == 4
