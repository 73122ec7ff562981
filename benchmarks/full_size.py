"""What the harness costs on a full-architecture GR00T N1.7 (random weights, published shapes), on CPU.

Run from the repo root with any Python 3 (it drives the two environments as subprocesses); ``make
bench-full-size`` runs exactly this:

    python3 benchmarks/full_size.py [--work-dir DIR] [--min-available-gb 15] [--compression fast|small]

1. builds (or reuses) the cached full-size checkpoint (``fixtures/build_full_size_checkpoint.py``);
2. runs the REAL producer on it (CPU, fp32, SDPA, two 256x256 cameras, the LIBERO-like tags): one process
   at B=2 for both tags, one at B=1 for the first tag;
3. runs the consumer (every check) on the three artifacts, in one process;
4. prints ONE Markdown table: wall time per phase (``benchmarks/timed_run.py`` wraps the CLIs' own
   functions), peak RSS per process (``wait4``), artifact bytes per member group against plain
   ``np.savez`` of the same members, and max |diff| per check and per stage from the consumer's JSON report.

The full-size processes hold ~10 GB each: they run one at a time, and each waits (up to --wait-minutes)
until ``MemAvailable`` reaches --min-available-gb. Numbers are printed, never asserted; targets are shown
next to them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PRODUCER = REPO / "envs/producer/.venv/bin/python"
CONSUMER = REPO / "envs/consumer/.venv/bin/python"
TAGS = ("libero_sim", "new_embodiment")
IMAGE = "256x256"
GROUPS = ("raw", "in", "out", "stages", "other")
GB = 1e9


def log(message: str) -> None:
    print(f"[bench-full-size {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mem_available() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024 / GB
    return float("nan")


def wait_for_memory(need_gb: float, minutes: float) -> None:
    deadline = time.monotonic() + minutes * 60
    while mem_available() < need_gb:
        if time.monotonic() > deadline:
            sys.exit(f"only {mem_available():.1f} GB available after {minutes:.0f} min, need {need_gb:.0f} GB")
        log(f"{mem_available():.1f} GB available, waiting for {need_gb:.0f} GB")
        time.sleep(30)


def run(label: str, argv: list[str], env: dict[str, str], log_path: Path) -> tuple[float, int]:
    """Run one process; return (wall seconds, peak RSS bytes from wait4)."""
    log(f"{label}: {' '.join(argv[:4])} ... (log: {log_path})")
    started = time.perf_counter()
    with log_path.open("w") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: the consumer found a failing check; still worth the table
        sys.exit(f"{label} failed with exit status {code}; last lines of {log_path}:\n{log_path.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss * 1024


def timed_cli(side: str, cli_args: list[str], env: dict[str, str], work: Path, name: str) -> dict[str, Any]:
    python = PRODUCER if side == "producer" else CONSUMER
    phases = work / f"{name}.json"
    argv = [str(python), "benchmarks/timed_run.py", "--json", str(phases), side, "--", *cli_args]
    wall, rss = run(name, argv, env, work / f"{name}.log")
    result = {**json.loads(phases.read_text()), "wall_s": wall, "wait4_peak_rss": rss}
    phases.write_text(json.dumps(result, indent=2) + "\n")
    return result


def phase_s(result: dict[str, Any], kind: str, label: str | None = None, field: str = "self_s") -> float:
    return sum(p[field] for p in result["phases"] if p["kind"] == kind and (label is None or p["label"] == label))


def startup_s(result: dict[str, Any]) -> float:
    """Wall seconds from the process start to its first inference, tag work done meanwhile left out.

    The producer hashes the checkpoint in a thread beside its imports and model load, so those phases
    overlap and their sum is not what they cost. Older runs (no ``started``) are summed.
    """
    if "started" not in result:
        return sum(phase_s(result, k) for k in ("imports", "fingerprint", "load"))
    loaded = max(p["end"] for p in result["phases"] if p["kind"] == "load")
    runs = [p for p in result["phases"] if p["kind"] == "run"]
    first_inference = min((p["end"] - p["s"] for p in runs if p["end"] > loaded), default=loaded)
    early = sum(p["self_s"] for p in runs if p["end"] <= loaded)
    return first_inference - result["started"] - early


def exposed_write_s(result: dict[str, Any], label: str) -> float:
    """Seconds the producer's main thread waited for this tag's artifact after its last inference.

    Artifacts are written on a background thread while the next tag runs (producer/writing.py), so a
    write only costs wall time where it outlasts every inference of the run.
    """
    last_run = max((p["end"] for p in result["phases"] if p["kind"] == "run"), default=0.0)
    ends = [p["end"] for p in result["phases"] if p["kind"] == "write" and p["label"] == label]
    return max([0.0, *(end - last_run for end in ends)])


def member_group(name: str) -> str:
    if name.startswith("raw::"):
        return "raw"
    if name.startswith("in::"):
        return "in"
    if name.startswith("out::stage."):
        return "stages"
    if name.startswith("out::"):
        return "out"
    return "other"


def artifact_bytes(path: Path) -> dict[str, tuple[int, int]]:
    """Per member group: (bytes in the artifact, bytes of plain np.savez of the same members)."""
    import numpy as np

    written: dict[str, int] = dict.fromkeys(GROUPS, 0)
    members: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            written[member_group(info.filename)] += info.compress_size + len(info.filename) + 30
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            members[member_group(key)][key] = data[key]
    sizes = {}
    for group in GROUPS:
        buffer = io.BytesIO()
        np.savez(buffer, **members[group])
        sizes[group] = (written[group], len(buffer.getvalue()) if members[group] else 0)
    return sizes


def scale_aware(tensor: dict[str, Any]) -> str:
    """The consumer JSON's scale-aware error, under whatever name it has ('-' when the report has none)."""
    for key, value in tensor.items():
        if "scale" in key and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value:.2e}"
    return "-"


def fmt(value: float | None) -> str:
    return "-" if value is None else ("0" if value == 0 else f"{value:.2e}")


def produce_and_consume(
    ckpt: Path, work: Path, parity: Path, env: dict[str, str], args: argparse.Namespace
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """The producer at B=2 (every tag) and B=1 (first tag), then the consumer on all three artifacts."""
    shutil.rmtree(parity, ignore_errors=True)
    producers = {}
    for batch, tags in ((2, TAGS), (1, TAGS[:1])):
        wait_for_memory(args.min_available_gb, args.wait_minutes)
        out = work / f"produced-b{batch}"
        shutil.rmtree(out, ignore_errors=True)
        cli = ["--ckpt", str(ckpt), "--out-dir", str(out), "--device", "cpu", "--seed", "42"]
        cli += ["--batch-size", str(batch), "--image-size", IMAGE, "--tags", ",".join(tags)]
        cli += ["--compression", args.compression]
        producers[batch] = timed_cli("producer", cli, env, work, f"produce-b{batch}")
        if producers[batch]["status"] != 0:
            sys.exit(f"producer B={batch} failed: see {work}/produce-b{batch}.log")
        parity.mkdir(parents=True, exist_ok=True)
        (out / IMAGE).rename(parity / f"b{batch}-{IMAGE}")
    wait_for_memory(args.min_available_gb, args.wait_minutes)
    # The manifests name the checkpoint relative to the producer's --path-root (it lives in a cache outside
    # the repo, so only its folder name is recorded): replay it the way a user would, by pointing at it.
    consumer_env = {**env, "GROOT_N1_7_LIBERO_CKPT": str(ckpt)}
    consumer = timed_cli("consumer", ["--dir", str(parity)], consumer_env, work, "consume")
    if consumer["status"] not in (0, 1):
        sys.exit(f"consumer failed (exit {consumer['status']}): see {work}/consume.log")
    return producers, consumer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=None, help="keep artifacts, logs and reports here")
    parser.add_argument("--min-available-gb", type=float, default=15.0, help="wait for this much free RAM (15)")
    parser.add_argument("--wait-minutes", type=float, default=30.0, help="give up waiting after this long (30)")
    parser.add_argument("--seed", type=int, default=0, help="checkpoint seed (0)")
    parser.add_argument(
        "--compression", choices=("fast", "small"), default="fast", help="the producer's --compression (fast)"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="print the table from an earlier run's --work-dir, run nothing"
    )
    args = parser.parse_args()
    for python in (PRODUCER, CONSUMER):
        if not python.exists():
            sys.exit(f"{python} is missing: run `make producer-env consumer-env` first")
    work = (args.work_dir or Path(tempfile.mkdtemp(prefix="bench-full-size-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    env["GROOT_PARITY_REPORT_DIR"] = str(work / "reports")
    machine_file = work / "machine.json"
    if not args.table_only:
        machine_file.write_text(json.dumps({"load_average_at_start": os.getloadavg()[0]}) + "\n")
    load_start = json.loads(machine_file.read_text())["load_average_at_start"] if machine_file.exists() else None

    # 1. the checkpoint
    started = time.perf_counter()
    build_argv = [str(CONSUMER), "-m", "fixtures.build_full_size_checkpoint", "--seed", str(args.seed)]
    build = subprocess.run(build_argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if build.returncode != 0:
        sys.exit(f"checkpoint build failed:\n{build.stdout[-2000:]}{build.stderr[-3000:]}")
    build_s = time.perf_counter() - started
    ckpt = Path(build.stdout.strip().splitlines()[-1])
    cached = "cached:" in build.stdout
    values = int(json.loads((ckpt / "BUILD.json").read_text())["values"])
    fp32_bytes = 4 * values
    disk = sum(f.stat().st_size for f in ckpt.rglob("*") if f.is_file())
    log(f"checkpoint {ckpt} ({disk / GB:.2f} GB, {'cached' if cached else f'built in {build_s:.0f}s'})")

    # 2. the producer (B=2, B=1) and the consumer, one process each, one at a time
    parity = work / "parity"
    if args.table_only:
        producers = {b: json.loads((work / f"produce-b{b}.json").read_text()) for b in (2, 1)}
        consumer = json.loads((work / "consume.json").read_text())
    else:
        producers, consumer = produce_and_consume(ckpt, work, parity, env, args)
    report_path = max((work / "reports").glob("parity-*.json"), key=lambda p: p.stat().st_mtime)
    report = json.loads(report_path.read_text())

    # 3. the table
    rows: list[tuple[str, str, str]] = []

    def row(what: str, value: str, note: str = "") -> None:
        rows.append((what, value, note))

    cpus, ram = os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    load = "unknown" if load_start is None else f"{load_start:.1f}"
    row("machine", f"{cpus} CPUs, {ram:.0f} GB RAM", f"load average at start {load}")
    row("checkpoint", f"{disk / GB:.2f} GB on disk", f"{values / 1e9:.2f}e9 bf16 values; fp32 {fp32_bytes / GB:.1f} GB")
    row("checkpoint build", "cached" if cached else f"{build_s:.0f} s", str(ckpt))
    p2, p1, c = producers[2], producers[1], consumer
    for name, result in (("producer B=2", p2), ("producer B=1", p1), ("consumer", c)):
        beside = "; in a thread, beside the imports" if name.startswith("producer") else ""
        row(f"{name}: imports", f"{phase_s(result, 'imports'):.1f} s")
        row(
            f"{name}: checkpoint fingerprint",
            f"{phase_s(result, 'fingerprint'):.1f} s",
            f"sha256 of every file{beside}",
        )
        row(f"{name}: checkpoint load", f"{phase_s(result, 'load'):.1f} s")
        if beside:
            row(f"{name}: start to first inference", f"{startup_s(result):.1f} s", "imports, fingerprint, load overlap")
    for result, batch, tags in ((p2, 2, TAGS), (p1, 1, TAGS[:1])):
        for tag in tags:
            run, wait, write = phase_s(result, "run", tag), exposed_write_s(result, tag), phase_s(result, "write", tag)
            row(f"produce {tag} B={batch}", f"{run + wait:.1f} s",
                f"model {run:.1f} s + waiting for its write {wait:.1f} s (writer thread: {write:.1f} s)")  # fmt: skip
    consume_s: dict[str, float] = {}
    for phase in c["phases"]:
        if phase["kind"] == "check":
            case = phase["label"].rsplit(" ", 1)[0]
            consume_s[case] = consume_s.get(case, 0.0) + phase["self_s"]
    for case, seconds in consume_s.items():
        row(f"consume {case} (every check)", f"{seconds:.1f} s", "model load excluded; artifact reads included")
    for name, result in (("producer B=2", p2), ("producer B=1", p1), ("consumer", c)):
        rss = result.get("wait4_peak_rss", result["peak_rss"])
        anon, mapped = result.get("peak_rss_anon", 0), result.get("peak_rss_file", 0)
        row(f"peak RSS {name}", f"{rss / GB:.2f} GB", f"{rss / fp32_bytes:.2f}x fp32 weights (target <= 1.25x)")
        row("  of which anonymous / file-backed (peaks)", f"{anon / GB:.2f} / {mapped / GB:.2f} GB",
            f"anonymous {anon / fp32_bytes:.2f}x fp32 weights; file-backed = mmapped safetensors pages")  # fmt: skip
    first_case, second_case = f"b2-{IMAGE}-{TAGS[0]}", f"b2-{IMAGE}-{TAGS[1]}"
    fixed = startup_s(p2) + sum(phase_s(c, k) for k in ("imports", "fingerprint", "load"))
    # a one-tag run waits for its only artifact as long as this run waited for its last one
    lone_write = exposed_write_s(p2, TAGS[-1])
    first = fixed + phase_s(p2, "run", TAGS[0]) + lone_write + consume_s.get(first_case, 0.0)
    extra = phase_s(p2, "run", TAGS[1]) + consume_s.get(second_case, 0.0)
    row("round: produce + consume one tag, B=2", f"{first:.0f} s",
        "producer start to first inference, tag, the last write's wait; consumer imports, fingerprint, load, checks "
        "(target <= 600 s)")  # fmt: skip
    row("extra tag (produce + consume)", f"{extra:.0f} s", f"{extra / first:.0%} of the first (target <= 25%)")
    total_written = total_savez = 0
    per_group = {g: [0, 0] for g in GROUPS}
    for npz in sorted(parity.rglob("*.npz")):
        for group, (written, savez) in artifact_bytes(npz).items():
            per_group[group][0] += written
            per_group[group][1] += savez
    for group, (written, savez) in per_group.items():
        total_written += written
        total_savez += savez
        if savez:
            ratio = f"{written / savez:.2f}x np.savez {savez / 1e6:.2f} MB"
            row(f"artifact bytes: {group}", f"{written / 1e6:.2f} MB", ratio)
    row("artifact bytes: total (3 artifacts)", f"{total_written / 1e6:.2f} MB",
        f"{total_written / total_savez:.2f}x np.savez {total_savez / 1e6:.2f} MB (target <= 0.25x)")  # fmt: skip
    for result in report["results"]:
        case = f"{result['group']}-{result['tag']}"
        tensors = (result.get("report") or {}).get("tensors") or []
        worst = max(tensors, key=lambda t: t.get("max_abs_diff") or 0.0, default=None)
        detail = "-" if worst is None else f"{worst['name']} max abs diff {fmt(worst.get('max_abs_diff'))}"
        if worst is not None:
            detail += f", scale-aware {scale_aware(worst)}"
        row(f"{result['check']} check {case}", result["status"].upper(), detail)
        for stage in ((result.get("stages") or {}).get("report") or {}).get("tensors") or []:
            name = stage["name"].split(".", 2)[-1]
            row(f"  stage {name} ({case})", fmt(stage.get("max_abs_diff")), f"scale-aware {scale_aware(stage)}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | value | detail |")
    print(f"| {'-' * width} | --- | --- |")
    for what, value, note in rows:
        print(f"| {what:<{width}} | {value} | {note} |")
    print(f"\nwork dir: {work} (logs, artifacts, JSON report {report_path.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
