"""Wall time and peak memory of the producer and consumer on the tiny checkpoint (CPU).

Run from the repo root with any Python (it drives the two environments as subprocesses):

    python3 benchmarks/end_to_end.py            # consumer only (no gr00t needed)
    python3 benchmarks/end_to_end.py --produce  # also the producer (needs `make gr00t GR00T_SRC=...`)

Each command runs in a fresh process, measured with wait4(): wall seconds and the child's peak RSS.
The consumer is timed for 1, 2 and 3 tags to separate the fixed cost (imports, model load) from the
cost per additional tag. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCER = REPO / "envs/producer/.venv/bin/python"
CONSUMER = REPO / "envs/consumer/.venv/bin/python"
CKPT = REPO / "fixtures/tiny-groot-n1.7"
GOLDEN = REPO / "fixtures/golden"
TAGS = ("libero_sim", "new_embodiment", "robocasa_panda_omron")


def measure(label: str, argv: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0,):
        err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        sys.exit(f"{label} failed ({os.waitstatus_to_exitcode(status)}):\n{err}")
    return label, seconds, usage.ru_maxrss / 1024  # KiB -> MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--produce", action="store_true", help="also time the producer (needs gr00t installed)")
    parser.add_argument("--repeat", type=int, default=3, help="consumer runs per size; the fastest is kept (3)")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env["GROOT_PARITY_REPORT_DIR"] = tmp
        if args.produce:
            out = Path(tmp) / "produced"
            argv = [str(PRODUCER), "-m", "producer.cli", "--ckpt", str(CKPT), "--out-dir", str(out), "--device", "cpu"]
            rows.append(measure("produce: 3 tags x 2 sizes (6 artifacts)", argv, env))
        for n in (1, 2, 3):
            argv = [str(CONSUMER), "-m", "pytest", "-q", "consumer/test_parity.py", "-k", " or ".join(TAGS[:n])]
            label = f"consume: {n} tag(s) x 2 sizes x 2 checks"
            consumer_env = {**env, "GROOT_N1_7_PARITY_DIR": str(GOLDEN)}
            runs = [measure(label, argv, consumer_env) for _ in range(args.repeat)]
            rows.append(min(runs, key=lambda r: r[1]))
    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  {'wall s':>7}  {'peak RSS MiB':>12}")
    for label, seconds, rss in rows:
        print(f"{label:<{width}}  {seconds:>7.1f}  {rss:>12.0f}")
    consume = [r[1] for r in rows if r[0].startswith("consume")]
    per_tag = (consume[-1] - consume[0]) / 2
    print(f"\nconsume (fastest of {args.repeat}): {consume[0]:.1f}s for one tag, {per_tag:+.2f}s per additional tag")
    print(f"machine: {os.cpu_count()} CPUs, {sys.platform}")


if __name__ == "__main__":
    main()
