"""Consume speed against LeRobot's own N1.7 parity test, on the same artifact (issue 26).

Run from the repo root with the consumer env (LeRobot installed; see docs/consuming.md):

    envs/consumer/.venv/bin/python benchmarks/consume_vs_peer.py \
        --peer-test /tmp/lerobot/tests/policies/groot/test_groot_vs_original.py [--pairs 5]

It times three commands on one committed golden artifact (default
fixtures/golden/256x256/original_n1_7_libero_sim.npz, checkpoint fixtures/tiny-groot-n1.7), each in a
fresh process, alternating (a, b, c, a, b, c, ...) after one untimed warm-up run of each, and prints
the median wall seconds and peak RSS (wait4) of each, the ratios a/c and b/c, the 1-minute load
average at the start and the end, the date and the commit:

    (a) `python -m consumer.cli --check model`: our consumer restricted to what the peer checks
    (b) `python -m consumer.cli`: our consumer with every check
    (c) `python -m pytest <peer test>`: LeRobot's test_groot_vs_original.py

What the peer checks: test_groot_get_action_parity replays the artifact's collated inputs (`in::*`)
through LeRobot's GR00TN17.get_action after torch.manual_seed(seed), on an fp32 + SDPA model, and
compares `action_pred` with allclose (atol = rtol = 1e-3). It does not check the preprocessor, the
decode, RTC or anything else, so our `model` check is the match: the same inputs through the same
get_action, compared on `action_pred`; ours also compares the 11 captured stages (backbone features,
each flow-matching step) and replays the recorded noise instead of the seed. No other check of ours
has a counterpart in the peer; (b) shows what the rest cost.

All three run in this interpreter's env, on the same copy of the artifact (a temporary folder holding
only it), with GROOT_N1_7_PARITY_DIR, GROOT_N1_7_LIBERO_CKPT and GROOT_PARITY_DEVICE (both sides read
these names) set to it, the checkpoint and --device; every other GROOT_* variable and CI are removed,
so each side runs its defaults. The peer runs with the checkpoint as working directory (the tiny
checkpoint names its backbone by a relative path; our consumer does the same internally). All commands
share one bytecode cache (PYTHONPYCACHEPREFIX), warmed by the untimed runs. Each run's verdict is
read from its output and printed; a run that errors, or in which the peer's test did not run (skip),
stops the benchmark with its output. Numbers are printed, never asserted.

The peer as shipped (v0.6.1) fails on the tiny checkpoint: GR00TN17.from_pretrained is called without
a dtype, so transformers 5 loads the fp32 weights in LeRobot's default bf16 before the test casts the
model back to fp32, and action_pred differs by about 1.5e-2. By default the peer therefore runs with a
pytest plugin, written to a temporary folder and loaded with `-p`, that passes dtype=torch.float32 to
from_pretrained (what our consumer does), and nothing else: it then passes with max|diff| 0.
--peer-as-shipped runs it unchanged (it then reports a failure, which is timed all the same).

LeRobot's test is not in the pip package and is never committed here. Get it from LeRobot's git
repository (v0.6.1 has it) and pass its path (or set GROOT_PARITY_PEER_TEST):

    git clone https://github.com/huggingface/lerobot /tmp/lerobot && git -C /tmp/lerobot checkout v0.6.1
    ... --peer-test /tmp/lerobot/tests/policies/groot/test_groot_vs_original.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTIFACT = REPO / "fixtures/golden/256x256/original_n1_7_libero_sim.npz"
CKPT = REPO / "fixtures/tiny-groot-n1.7"
PEER_ENV = "GROOT_PARITY_PEER_TEST"
PEER_PREFIX = "original_n1_7_"  # the only file names the peer discovers
PLUGIN = "groot_parity_peer_fp32_load"
PLUGIN_SOURCE = '''"""From benchmarks/consume_vs_peer.py (-p): LeRobot's GR00TN17 loads in fp32 unless told to."""
import torch
from lerobot.policies.groot.groot_n1_7 import GR00TN17

_from_pretrained = GR00TN17.from_pretrained.__func__


def _fp32_from_pretrained(cls, path, **kwargs):
    kwargs.setdefault("dtype", torch.float32)
    return _from_pretrained(cls, path, **kwargs)


GR00TN17.from_pretrained = classmethod(_fp32_from_pretrained)
'''

# our consumer's last line, e.g. "1 pass, 0 fail, 0 known divergence, 0 skip"
CONSUMER_COUNTS = re.compile(r"^(\d+ pass, \d+ fail, \d+ known divergence, \d+ skip)$", re.MULTILINE)
# pytest's summary, e.g. "1 passed in 2.88s" or "==== 1 failed, 2 warnings in 1.86s ===="
PYTEST_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s", re.MULTILINE)


@dataclass
class Run:
    wall_s: float
    rss_mib: float
    verdict: str


def consumer_verdict(output: str) -> str | None:
    """The counts line our consumer prints last, or None if there is none (it did not get that far)."""
    found = CONSUMER_COUNTS.findall(output)
    return found[-1] if found else None


def pytest_counts(output: str) -> dict[str, int] | None:
    """pytest's final outcome counts ({"passed": 1, "warnings": 2}), or None without a summary line."""
    found = PYTEST_SUMMARY.findall(output)
    if not found:
        return None
    counts: dict[str, int] = {}
    for part in found[-1].split(", "):
        number, word = part.split(" ", 1)
        counts[word] = counts.get(word, 0) + int(number)
    return counts


def peer_verdict(output: str) -> str | None:
    """The peer's verdict, "passed" or "failed", if exactly one test got one (none skipped or errored)."""
    counts = pytest_counts(output)
    if counts is None or any(counts.get(k) for k in ("skipped", "error", "errors", "deselected")):
        return None
    ran = {k: counts.get(k, 0) for k in ("passed", "failed")}
    if sum(ran.values()) != 1:
        return None
    return "passed" if ran["passed"] else "failed"


def ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer > 0 else "n/a"


def medians(runs: list[Run]) -> tuple[float, float]:
    return statistics.median(r.wall_s for r in runs), statistics.median(r.rss_mib for r in runs)


def verdicts(runs: list[Run]) -> str:
    """Each distinct verdict with its count, e.g. "1 pass, 0 fail, 0 known divergence, 0 skip x5"."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.verdict] = seen.get(r.verdict, 0) + 1
    return "; ".join(f"{v} x{n}" for v, n in seen.items())


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit status, output) of one fresh process, from wait4."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read().decode(errors="replace")
    return wall, usage.ru_maxrss / 1024, proc.returncode, output  # Linux: ru_maxrss in KiB


def _git(directory: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _commit(directory: Path) -> str:
    head = _git(directory, "rev-parse", "--short", "HEAD")
    dirty = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return f"{head} (+ uncommitted changes)" if dirty and dirty != "unknown" else head


def _env(base: dict[str, str], settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("GROOT_") and k not in ("CI", "GITHUB_ACTIONS")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, "NO_ALBUMENTATIONS_UPDATE": "1", "HF_HUB_OFFLINE": "1", **settings}


def compare(peer_test: Path, artifact: Path, ckpt: Path, pairs: int, device: str, as_shipped: bool) -> None:
    python = sys.executable
    load_start = os.getloadavg()[0]
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "artifacts")
        folder.mkdir()
        shutil.copy2(artifact, folder / artifact.name)
        settings = {
            "GROOT_N1_7_PARITY_DIR": str(folder),
            "GROOT_N1_7_LIBERO_CKPT": str(ckpt),
            "GROOT_PARITY_DEVICE": device,
            "GROOT_PARITY_REPORT_DIR": str(Path(tmp, "reports")),
            "PYTHONPYCACHEPREFIX": str(Path(tmp, "pycache")),
        }
        env = _env(dict(os.environ), settings)
        peer_cmd = [python, "-m", "pytest", "-q", str(peer_test)]
        peer_env = env
        if not as_shipped:
            Path(tmp, "plugin").mkdir()
            Path(tmp, "plugin", f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
            path = os.pathsep.join(p for p in (str(Path(tmp, "plugin")), env.get("PYTHONPATH")) if p)
            peer_env = {**env, "PYTHONPATH": path}
            peer_cmd[4:4] = ["-p", PLUGIN]
        ours = [python, "-m", "consumer.cli", "--dir", str(folder)]
        commands = (
            ("a", "ours, --check model", [*ours, "--check", "model"], REPO, env),
            ("b", "ours, every check", ours, REPO, env),
            ("c", "peer " + ("(as shipped)" if as_shipped else "(fp32 load)"), peer_cmd, ckpt, peer_env),
        )
        runs: dict[str, list[Run]] = {key: [] for key, *_ in commands}

        def one(key: str, cmd: list[str], cwd: Path, run_env: dict[str, str]) -> Run:
            wall, rss, code, output = measure(cmd, cwd, run_env)
            verdict = peer_verdict(output) if key == "c" else consumer_verdict(output)
            if verdict is None or code not in (0, 1):
                tail = output[-4000:]
                raise SystemExit(f"{' '.join(cmd)} (cwd {cwd}) exited {code} without a verdict:\n{tail}")
            return Run(wall, rss, verdict)

        peer_at = f"{_git(peer_test.parent, 'describe', '--tags', '--always')}, {_commit(peer_test.parent)}"
        print(f"{started}  commit {_commit(REPO)}\npeer {peer_test} @ {peer_at}", flush=True)
        print(f"artifact {artifact}\ncheckpoint {ckpt}\ndevice {device}, {os.cpu_count()} CPUs", flush=True)
        for key, _, cmd, cwd, run_env in commands:  # untimed: fills the bytecode cache and the page cache
            one(key, cmd, cwd, run_env)
        print(f"\n{'run':<6} {'wall s':>7} {'peak RSS MiB':>13}  verdict")
        for i in range(pairs):
            for key, _, cmd, cwd, run_env in commands:
                run = one(key, cmd, cwd, run_env)
                runs[key].append(run)
                print(f"{key} {i + 1:<4} {run.wall_s:>7.2f} {run.rss_mib:>13.0f}  {run.verdict}", flush=True)
    load_end = os.getloadavg()[0]
    med = {key: medians(r) for key, r in runs.items()}
    print(f"\nmedian of {pairs} alternating runs of each (1 artifact, fresh processes, {device}):")
    for key, label, *_ in commands:
        wall, rss = med[key]
        print(f"  ({key}) {label:<22} {wall:6.2f} s  {rss:5.0f} MiB peak  {verdicts(runs[key])}")
    for key in ("a", "b"):
        wall_ratio, rss_ratio = ratio(med[key][0], med["c"][0]), ratio(med[key][1], med["c"][1])
        print(f"  ratio ({key})/(c)            {wall_ratio:>7} wall  {rss_ratio} RSS")
    print(f"  1-min load average: {load_start:.2f} at the start, {load_end:.2f} at the end")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--peer-test", type=Path, default=os.environ.get(PEER_ENV), help=f"(or ${PEER_ENV})")
    parser.add_argument("--artifact", type=Path, default=ARTIFACT, help="(fixtures/golden/256x256/…libero_sim.npz)")
    parser.add_argument("--ckpt", type=Path, default=CKPT, help="(fixtures/tiny-groot-n1.7)")
    parser.add_argument("--pairs", type=int, default=5, help="alternating rounds of the three commands (5)")
    parser.add_argument("--device", default="cpu", help="GROOT_PARITY_DEVICE for all three (cpu)")
    parser.add_argument("--peer-as-shipped", action="store_true", help="run the peer without the fp32-load plugin")
    args = parser.parse_args(argv)
    if args.peer_test is None or not Path(args.peer_test).is_file():
        parser.error(f"--peer-test (or ${PEER_ENV}) must name LeRobot's test_groot_vs_original.py; see --help")
    if not args.artifact.is_file() or not args.artifact.name.startswith(PEER_PREFIX):
        parser.error(f"--artifact must be an existing {PEER_PREFIX}<tag>.npz (the peer discovers no other name)")
    if not (args.ckpt / "config.json").is_file():
        parser.error(f"--ckpt {args.ckpt} has no config.json")
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    compare(
        Path(args.peer_test).resolve(),
        args.artifact.resolve(),
        args.ckpt.resolve(),
        args.pairs,
        args.device,
        args.peer_as_shipped,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
