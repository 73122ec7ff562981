"""make consume JOBS=N: grouping by checkpoint, a GPU per worker, one merged report, the same verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.checks import CHECKS, EPISODE_CHECKS
from consumer.parallel import case_groups, merge_worker_results, param_id, worker_cuda_device
from consumer.session import ParitySession, discover, discover_episode_cases
from consumer.settings import settings_from_env
from parity_format.artifact import read_artifact

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "golden"


def result(artifact: str, check: str, status: str = "pass") -> dict[str, str]:
    return {"artifact": artifact, "check": check, "status": status}


def test_merge_orders_by_artifact_then_check_and_refuses_duplicates() -> None:
    parts = [[result("b.npz", "preprocessor"), result("a.npz", "model")], [result("b.npz", "model")]]
    merged = merge_worker_results(parts)
    assert [(r["artifact"], r["check"]) for r in merged] == [
        ("a.npz", "model"),
        ("b.npz", "model"),
        ("b.npz", "preprocessor"),
    ]
    with pytest.raises(ValueError, match="more than one worker"):
        merge_worker_results([[result("a.npz", "model")], [result("a.npz", "model", "fail")]])


@pytest.mark.parametrize(
    ("worker", "gpus", "device"),
    [("gw0", 2, "cuda:0"), ("gw1", 2, "cuda:1"), ("gw3", 2, "cuda:1"), ("gw5", 4, "cuda:1"), (None, 2, "cuda")],
)
def test_each_worker_takes_its_own_gpu(worker: str | None, gpus: int, device: str) -> None:
    environ = {"PYTEST_XDIST_WORKER": worker} if worker else {}
    assert worker_cuda_device(gpus, environ) == device


def test_cuda_auto_maps_the_worker_to_a_gpu(monkeypatch: pytest.MonkeyPatch, golden_square: Path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    session = ParitySession(settings_from_env({"GROOT_PARITY_DEVICE": "cuda:auto"}))
    assert session.device_for(read_artifact(golden_square)) == "cuda:1"


def test_a_checkpoints_model_cases_form_one_group() -> None:
    groups = case_groups(discover(GOLDEN), CHECKS, None)
    assert len(groups) == len(CHECKS) * len(discover(GOLDEN))
    assert len({g for i, g in groups.items() if i.endswith("-model")}) == 1  # one checkpoint: one model group
    assert len(set(groups.values())) == len(CHECKS)  # and one group per other check beside it
    assert param_id("consumer/test_parity.py::test_parity[256x256-libero_sim-model]") == "256x256-libero_sim-model"
    assert param_id("consumer/test_parity.py::test_parity[256x256-libero_sim-model]@grp") == "256x256-libero_sim-model"


def test_two_workers_give_the_serial_verdicts_in_one_merged_report(session: ParitySession, tmp_path: Path) -> None:
    """The real suite on 2 pytest-xdist workers vs the same checks run serially, in this process.

    On two tags of one checkpoint (so its model cases share a group) and an episode: every check, a
    fifth of the goldens' cases (the whole directory took a minute of `make test`)."""
    picked = tmp_path / "golden"
    for name in (
        "240x320/original_n1_7_libero_sim.npz",
        "240x320/original_n1_7_new_embodiment.npz",
        "episode/episode_n1_7_libero_sim.npz",
    ):
        (picked / name).parent.mkdir(parents=True, exist_ok=True)
        (picked / name).symlink_to(GOLDEN / name)
    reports = tmp_path / "reports"
    env = {
        **os.environ,
        "GROOT_N1_7_PARITY_DIR": str(picked),
        "GROOT_PARITY_REPORT_DIR": str(reports),
        "CI": "",
    }
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "consumer/test_parity.py"]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    written = list(reports.glob("parity-*.json"))
    assert len(written) == 1, f"expected one merged report, got {written}"
    parallel = json.loads(written[0].read_text())["results"]

    serial = {(str(c.path), k): session.run(c, k).status for c in discover(picked) for k in CHECKS}
    serial |= {
        (str(c.path), k): session.run(c, k).status for c in discover_episode_cases(picked) for k in EPISODE_CHECKS
    }
    assert {(r["artifact"], r["check"]): r["status"] for r in parallel} == serial
    assert {r["worker"] for r in parallel} == {"gw0", "gw1"}  # both workers took groups
    for check in CHECKS:
        workers = {r["worker"] for r in parallel if r["check"] == check}
        assert len(workers) == 1, f"{check} cases of one checkpoint ran on {workers}"
