"""Wall time of the parity suite on the golden fixtures, serial vs `make consume JOBS=N` (pytest-xdist).

Run from the repo root with any Python (it drives the consumer env as subprocesses):

    python3 benchmarks/consume_jobs.py                 # serial, then JOBS=2, alternating, 2 rounds
    python3 benchmarks/consume_jobs.py --jobs 2 3 --rounds 3

Each run is a fresh pytest process (imports, model load and all) writing its JSON report to a temporary
folder; the verdicts of every run are compared with the first serial run's. The 1-minute load average
is printed before each run: on a shared machine it says how much of a difference is the machine's.
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSUMER = REPO / "envs/consumer/.venv/bin/python"
GOLDEN = REPO / "fixtures/golden"


def run_suite(jobs: int) -> tuple[float, dict[tuple[str, str], str]]:
    with tempfile.TemporaryDirectory() as reports:
        env = {**os.environ, "GROOT_N1_7_PARITY_DIR": str(GOLDEN), "GROOT_PARITY_REPORT_DIR": reports}
        argv = [str(CONSUMER), "-m", "pytest", "-q", "consumer/test_parity.py"]
        if jobs > 1:
            argv += ["-n", str(jobs), "--dist", "loadgroup"]
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"JOBS={jobs} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        (report,) = Path(reports).glob("parity-*.json")
        results = json.loads(report.read_text())["results"]
    return seconds, {(r["artifact"], r["check"]): r["status"] for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2], help="worker counts to compare with serial (2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of serial + each JOBS value (2)")
    args = parser.parse_args()
    print(f"golden fixtures, {os.cpu_count()} CPUs")
    print(f"{'round':>5}  {'JOBS':>4}  {'load1':>5}  {'wall s':>7}  verdicts")
    reference: dict[tuple[str, str], str] | None = None
    for round_index in range(1, args.rounds + 1):
        for jobs in [1, *args.jobs]:
            load = os.getloadavg()[0]
            seconds, verdicts = run_suite(jobs)
            reference = reference or verdicts
            same = "same as serial" if verdicts == reference else "DIFFERENT from serial"
            row = f"{round_index:>5}  {jobs:>4}  {load:>5.1f}  {seconds:>7.1f}  {len(verdicts)} cases, {same}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
