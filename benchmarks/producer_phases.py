"""Producer speed: where a produce run spends its time, and how it compares with LeRobot's dump script.

Run from the repo root with the producer env (gr00t installed; see docs/producing.md):

    envs/producer/.venv/bin/python benchmarks/producer_phases.py phases [--compression fast|small]
        one in-process run of the producer's steps on the tiny checkpoint, timed per phase: import,
        checkpoint load, inputs, processor, get_action, stage capture, write (what the main thread
        waits for; compression runs in writer threads, whose CPU time is printed beside it)
    envs/producer/.venv/bin/python benchmarks/producer_phases.py compare --peer-script PATH [--pairs 5]
        `groot-parity-produce` and LeRobot's `dump_original_n1_7.py` on the same job, in alternating fresh
        processes (ours, ours with a plain exit, peer, ours, ...): medians of wall seconds and peak RSS
        (wait4), ratios with and without the command's quick exit, and our bytes against plain
        np.savez of the same members
    envs/producer/.venv/bin/python benchmarks/producer_phases.py codecs A.npz [B.npz ...]
        per member: bytes and seconds of every zip codec vs the one write_artifact chose, and file bytes
        against plain np.savez of the same members (aliases included): the measurements behind
        parity_format/codecs.py's policy
    envs/producer/.venv/bin/python benchmarks/producer_phases.py sizes A.npz [B.npz ...]
        one Markdown row per artifact: its bytes against plain np.savez of the same members

The job (issue 15): tiny checkpoint, tags libero_sim + new_embodiment, one 256x256 size, B=2, CPU.

LeRobot's script is not in the pip package and is never committed here. Get it from LeRobot's git
repository (any commit that has it) and pass its path (or set GROOT_PARITY_PEER_SCRIPT):

    git clone --depth 1 https://github.com/huggingface/lerobot /tmp/lerobot
    ... compare --peer-script /tmp/lerobot/tests/policies/groot/utils/dump_original_n1_7.py

The peer runs in the producer env with the checkpoint as working directory (the tiny checkpoint names
its backbone by a relative path; our producer does the same internally). It writes B=2 at 256x256, its
fixed values. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the harness packages come from this checkout

from parity_format.codecs import COMPRESSION_LEVELS, DEFAULT_COMPRESSION  # noqa: E402  (numpy only)

CKPT = REPO / "fixtures/tiny-groot-n1.7"
TAGS = ("libero_sim", "new_embodiment")
SIZE = (256, 256)
BATCH, SEED = 2, 42
PEER_ENV = "GROOT_PARITY_PEER_SCRIPT"


class Clock:
    """Accumulates seconds per phase, in first-seen order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        return run


class _TimedProcessor:
    """The original processor with its per-sample call and its collator timed as "processor"."""

    def __init__(self, processor: Any, clock: Clock) -> None:
        self._processor, self._clock = processor, clock
        self.collator = clock.timed("processor", processor.collator)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._clock.phase("processor"):
            return self._processor(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._processor, name)


@contextlib.contextmanager
def _no_capture(*_: Any) -> Iterator[dict[str, Any]]:
    yield {}


def phases(compression: str) -> dict[str, float]:
    """One produce job in this process, phase by phase, in the order producer.pipeline.produce takes them.

    "write" is what the main thread waits for (submitting, and the final wait for the writer);
    "compression (background)" is the CPU time compression took in worker threads, mostly overlapped.
    """
    clock = Clock()
    start = time.perf_counter()
    with clock.phase("import"):
        import torch  # noqa: F401  (part of what every run pays before the first tag)

        from producer.original import import_gr00t

        import_gr00t()
    import producer.original as original_module
    from parity_format import codecs
    from parity_format.artifact import Artifact
    from parity_format.naming import artifact_filename
    from producer.embodiments import embodiment_spec
    from producer.observations import build_observation
    from producer.pipeline import PREPARE_AHEAD
    from producer.provenance import provenance, publishable_checkpoint
    from producer.writing import BackgroundWriter
    from sources.checkpoint import checkpoint_fingerprint, read_json

    background = _BackgroundCpu()
    with clock.phase("checkpoint load"):
        checkpoint = publishable_checkpoint({"spec": str(CKPT)}, CKPT, checkpoint_fingerprint(CKPT), REPO)
        original = original_module.OriginalGr00t(CKPT, "cpu")  # the processor; the model loads below
        stats = read_json(CKPT / "statistics.json")
    original.processor = _TimedProcessor(original.processor, clock)
    with (
        tempfile.TemporaryDirectory() as out,
        _patched(codecs, "encode_member", background.timed(codecs.encode_member)),
    ):
        writer = BackgroundWriter(compression)

        def prepare(tag: str) -> tuple[Any, Any]:
            with clock.phase("inputs"):
                raw = build_observation(
                    embodiment_spec(CKPT, tag), stats[tag]["state"], batch_size=BATCH, image_hw=SIZE, seed=SEED
                )
            inputs = original.prepare(tag, raw)  # "processor"
            writer.prefetch(inputs.inputs.values())
            return raw, inputs

        ahead = {tag: prepare(tag) for tag in TAGS[:PREPARE_AHEAD]}  # as the producer: before the model loads
        with clock.phase("checkpoint load"):
            original.load_model()
            meta = provenance(device="cpu", attention=original.attention, checkpoint=checkpoint, argv=["benchmark"])
        model_get_action = original.model.get_action
        original.model.get_action = clock.timed("get_action + capture", model_get_action)
        ran = []
        for tag in TAGS:
            raw, inputs = ahead.pop(tag) if tag in ahead else prepare(tag)
            result = original.infer(inputs, SEED)  # get_action with the stage hooks, as the producer runs it
            artifact = Artifact(
                tag, SEED, result.action_pred, result.inputs, result.input_torch_dtypes, raw, result.outputs, meta
            )
            with clock.phase("write"):
                writer.submit(artifact, Path(out) / artifact_filename(tag))
            ran.append(inputs)
        with clock.phase("write"):
            writer.close()
    produced = time.perf_counter() - start
    # once more without the hooks, after the run (so the writer gains no time from it): the difference
    # is what stage capture costs (hooks + copies), the rest is get_action itself
    original.model.get_action = clock.timed("get_action", model_get_action)
    with _patched(original_module, "capture_stages", _no_capture):
        for inputs in ran:
            original.infer(inputs, SEED)
    seconds = clock.seconds
    seconds["stage capture"] = max(0.0, seconds.pop("get_action + capture") - seconds["get_action"])
    seconds["total (as produced)"] = produced
    seconds["compression (background)"] = background.seconds
    return seconds


class _BackgroundCpu:
    """CPU seconds spent in a function, summed over the threads that call it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds += time.thread_time() - start

        return run


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def print_phases(seconds: dict[str, float], compression: str) -> None:
    order = ("import", "checkpoint load", "inputs", "processor", "get_action", "stage capture", "write")
    total = seconds["total (as produced)"]
    print(f"producer phases, {len(TAGS)} tags @ {SIZE[0]}x{SIZE[1]}, B={BATCH}, CPU (tiny checkpoint), {compression}")
    print(f"{'phase':<16} {'seconds':>8} {'share':>6}")
    for name in order:
        print(f"{name:<16} {seconds[name]:>8.2f} {seconds[name] / total:>6.1%}")
    other = total - sum(seconds[n] for n in order)
    print(f"{'other':<16} {other:>8.2f} {other / total:>6.1%}")
    print(f"{'total':<16} {total:>8.2f}")
    background = seconds["compression (background)"]
    print(f"compression CPU in writer threads: {background:.2f} s ({background / total:.1%} of the total; overlapped)")


# -- compare -------------------------------------------------------------------------------------
def _measure(cmd: list[str], cwd: Path, pycache: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one fresh process, from wait4; its output is kept on failure.

    Both commands share one bytecode cache outside the environment (PYTHONPYCACHEPREFIX), warmed by an
    untimed first run: imports then cost what they cost on a user's machine, even where the env is
    read-only or PYTHONDONTWRITEBYTECODE is set (every import would otherwise compile its source).
    """
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


PLAIN_EXIT = "import sys; from producer.cli import main; sys.exit(main(sys.argv[1:]))"


def compare(peer_script: Path, pairs: int, compression: str) -> None:
    """Alternating fresh processes: our command, the same ``main`` with a plain interpreter exit, the peer.

    The middle one measures what ``producer.cli.entry``'s ``gc.freeze`` before exit saves, so the
    ratio can be read with and without it.
    """
    python = sys.executable
    ckpt = CKPT.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        ours_args = ["--ckpt", str(ckpt), "--device", "cpu", "--tags", ",".join(TAGS)]
        ours_args += ["--image-size", f"{SIZE[0]}x{SIZE[1]}", "--batch-size", str(BATCH), "--seed", str(SEED)]
        ours_args += ["--compression", compression]
        ours_cmd = [python, "-m", "producer.cli", *ours_args, "--out-dir", f"{tmp}/ours"]
        plain_cmd = [python, "-c", PLAIN_EXIT, *ours_args, "--out-dir", f"{tmp}/plain"]
        peer_cmd = [python, str(peer_script), "--ckpt", str(ckpt), "--out-dir", f"{tmp}/peer"]
        peer_cmd += ["--tags", ",".join(TAGS), "--device", "cpu", "--seed", str(SEED)]
        commands = (("ours", ours_cmd, REPO), ("plain", plain_cmd, REPO), ("peer", peer_cmd, ckpt))
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in commands}
        pycache = Path(tmp) / "pycache"
        for _, cmd, cwd in commands:  # untimed: fills the bytecode cache
            _measure(cmd, cwd, pycache)
        print(f"{'run':<8} {'wall s':>7} {'peak RSS MiB':>13}")
        for i in range(pairs):
            for name, cmd, cwd in commands:
                runs[name].append(_measure(cmd, cwd, pycache))
                print(f"{name:<5} {i + 1:<2} {runs[name][-1][0]:>7.2f} {runs[name][-1][1]:>13.0f}", flush=True)
        ours_files = sorted(Path(tmp, "ours").rglob("*.npz"))
        ours_size = sum(p.stat().st_size for p in ours_files)
        plain_size = sum(plain_savez_bytes(p) for p in ours_files)
        peer_size = sum(p.stat().st_size for p in Path(tmp, "peer").rglob("*.npz"))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    rss = {k: statistics.median(r for _, r in v) for k, v in runs.items()}
    print(f"\nmedian of {pairs} alternating runs of each ({len(TAGS)} tags @ {SIZE[0]}x{SIZE[1]}, B={BATCH}, CPU):")
    print(f"  groot-parity-produce   {wall['ours']:6.2f} s  {rss['ours']:5.0f} MiB peak  {ours_size:>10,} B written")
    print(f"  same, plain exit       {wall['plain']:6.2f} s  {rss['plain']:5.0f} MiB peak  (main() without gc.freeze)")
    print(f"  dump_original_n1_7.py  {wall['peer']:6.2f} s  {rss['peer']:5.0f} MiB peak  {peer_size:>10,} B written")
    print(f"  ratio ours/peer        {wall['ours'] / wall['peer']:6.2f}x wall  {rss['ours'] / rss['peer']:.2f}x RSS")
    print(f"  ratio, plain exit      {wall['plain'] / wall['peer']:6.2f}x wall  {rss['plain'] / rss['peer']:.2f}x RSS")
    print(f"  ours vs plain np.savez of the same members: {ours_size / plain_size:.4f}x (--compression {compression})")
    print(f"  load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


# -- codecs --------------------------------------------------------------------------------------
def _every_member(path: Path) -> dict[str, Any]:
    """Every member of an artifact as plain np.load gives it, aliases restored (checksums verified)."""
    import numpy as np

    from parity_format.artifact import ALIAS, MANIFEST, read_artifact

    read_artifact(path)  # verifies every checksum, aliases included
    with np.load(path) as data:
        stored = {k: data[k] for k in data.files}
    every = dict(stored)
    for name, entry in json.loads(str(stored[MANIFEST]))["members"].items():
        if ALIAS in entry:
            every[name] = stored[entry[ALIAS]]
    return every


def plain_savez_bytes(path: Path) -> int:
    """Bytes of plain np.savez of the same members (aliases included): the size target's denominator."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.npz"
        np.savez(plain, **_every_member(path))
        return plain.stat().st_size


def sizes(paths: list[Path]) -> None:
    """Each artifact's bytes against plain np.savez of the same members: the size target, per file."""
    print("| artifact | bytes vs plain `np.savez` |\n| --- | --- |")
    for path in paths:
        size = path.stat().st_size
        print(f"| `{path}` | {size / plain_savez_bytes(path):.4f}x ({size:,} B) |")


def codecs(paths: list[Path]) -> None:
    import numpy as np

    from parity_format import codecs as policy

    names = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2"}
    names[zipfile.ZIP_LZMA] = "lzma"

    def candidates(data: memoryview, itemsize: int) -> dict[str, Callable[[], bytes]]:
        return {
            "deflate-9": lambda: policy.deflate_member(data, 9),
            "bzip2-9": lambda: bz2.compress(data, 9),
            **{f"lzma-{lvl}": partial(policy.lzma_member, data, itemsize, large=lvl) for lvl in policy.LARGE_LZMA},
        }

    for path in paths:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
        every = _every_member(path)
        plain_size, size = plain_savez_bytes(path), path.stat().st_size
        print(f"\n{path}: {size:,} B = {size / plain_size:.4f}x plain np.savez ({plain_size:,} B) of the same")
        print(f"  {len(every)} members ({len(every) - len(infos)} stored once as aliases); members of 16 KiB and more:")
        columns = candidates(memoryview(b""), 1)
        print(f"  {'member':<34} {'npy B':>10}  " + "  ".join(f"{c:>17}" for c in columns))
        print(f"  {'':<34} {'':>10}  " + "  ".join(f"{'ratio':>7} {'ms':>9}" for _ in columns) + "  chosen")
        for name in infos:
            array = every[name]
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array, allow_pickle=False)
            raw = buf.getbuffer()
            if len(raw) < 16 << 10:
                continue
            cells = []
            for encode in candidates(raw, array.dtype.itemsize).values():
                start = time.perf_counter()
                out = encode()
                cells.append(f"{len(out) / len(raw):>7.4f} {1e3 * (time.perf_counter() - start):>9.1f}")
            info = infos[name]
            chosen = f"{names[info.compress_type]} {info.compress_size / len(raw):.4f}"
            print(f"  {name[:34]:<34} {len(raw):>10,}  " + "  ".join(cells) + f"  {chosen}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    phs = sub.add_parser("phases", help="time each producer phase in this process")
    cmp = sub.add_parser("compare", help="alternating runs against LeRobot's dump_original_n1_7.py")
    for mode in (phs, cmp):
        mode.add_argument("--compression", choices=COMPRESSION_LEVELS, default=DEFAULT_COMPRESSION, help="(fast)")
    cmp.add_argument("--peer-script", type=Path, default=os.environ.get(PEER_ENV), help=f"(or ${PEER_ENV})")
    cmp.add_argument("--pairs", type=int, default=5, help="alternating rounds of the three commands (5)")
    cod = sub.add_parser("codecs", help="every codec on every member of real artifacts")
    cod.add_argument("artifacts", nargs="+", type=Path)
    siz = sub.add_parser("sizes", help="bytes of real artifacts against plain np.savez of their members")
    siz.add_argument("artifacts", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "phases":
        print_phases(phases(args.compression), args.compression)
    elif args.mode == "compare":
        if args.peer_script is None or not Path(args.peer_script).is_file():
            parser.error(f"--peer-script (or ${PEER_ENV}) must name dump_original_n1_7.py; see --help")
        compare(Path(args.peer_script).resolve(), args.pairs, args.compression)
    elif args.mode == "sizes":
        sizes(args.artifacts)
    else:
        codecs(args.artifacts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
