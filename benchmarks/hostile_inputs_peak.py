"""Peak memory of the hostile-input tests (issue 25): one process per test file, peak RSS from ``wait4``.

Run from the repo root with any Python 3:

    python3 benchmarks/hostile_inputs_peak.py

Each file of docs/hostile-inputs.md's table runs in a fresh pytest process of its environment; the
process's peak RSS bounds the peak of every bad input in that file (the interpreter, torch and LeRobot
included). Printed, never asserted (machine-dependent); docs/hostile-inputs.md quotes a run with its date
and commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCER = REPO / "envs/producer/.venv/bin/python"
CONSUMER = REPO / "envs/consumer/.venv/bin/python"
FILES = (
    (CONSUMER, "tests/sources/test_hub_hostile.py"),
    (CONSUMER, "tests/comparison/test_tolerance.py"),
    (PRODUCER, "tests/producer/test_plan.py"),
    (PRODUCER, "tests/producer/test_hostile_checkpoints.py"),
    (PRODUCER, "tests/producer/test_hostile_runs.py"),
    (CONSUMER, "tests/consumer/test_hostile_runs.py"),
    (CONSUMER, "tests/consumer/test_hostile_checkpoints.py"),
    (CONSUMER, "tests/consumer/test_memory_cap.py"),
)


def run(python: Path, test_file: str) -> tuple[int, float, float]:
    """(exit status, peak RSS in MiB, wall seconds) of one pytest process (children counted separately)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_ALBUMENTATIONS_UPDATE": "1", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> int:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    print(f"hostile-input tests, {time.strftime('%Y-%m-%d', time.gmtime())}, commit {commit.strip()}\n")
    print("| test file | env | exit | peak RSS | wall |\n| --- | --- | --- | --- | --- |")
    worst = 0.0
    for python, test_file in FILES:
        code, peak, wall = run(python, test_file)
        worst = max(worst, peak)
        env = "producer" if python == PRODUCER else "consumer"
        print(f"| {test_file} | {env} | {code} | {peak:.0f} MiB | {wall:.0f} s |", flush=True)
    print(f"\nworst peak: {worst:.0f} MiB (pytest process, imports included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
