"""Run the real producer or consumer CLI in this process and record how long each phase took.

Used by ``benchmarks/full_size.py`` (one fresh process per run, so its peak RSS is this process's):

    envs/producer/.venv/bin/python benchmarks/timed_run.py --json OUT.json producer -- --ckpt ... --device cpu
    envs/consumer/.venv/bin/python benchmarks/timed_run.py --json OUT.json consumer -- --dir ...

Nothing is reimplemented: the CLI's own ``main`` runs, and the functions that make up its phases
(model load, checkpoint fingerprint, per-tag run, artifact read/write, per-case check) are wrapped with
timers. A phase's ``self_s`` excludes the timed phases nested inside it (e.g. the consumer's first check
includes the model load). Peak RSS (``ru_maxrss``) is sampled after every phase.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PHASES: list[dict[str, Any]] = []
_NESTING = threading.local()  # per thread: the producer writes artifacts on a thread of its own


def _child_time() -> list[float]:
    if not hasattr(_NESTING, "stack"):
        _NESTING.stack = []
    return _NESTING.stack


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def rss_now() -> dict[str, int]:
    """Current RssAnon (the process's own memory) and RssFile (mapped files, e.g. mmapped safetensors)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


PEAKS = {"RssAnon": 0, "RssFile": 0}
ACTIVE: list[str] = []  # the main thread's open phases, innermost last ("kind label")
PEAK_DURING = {"total": "", "RssAnon": ""}  # the innermost open phase when each peak was sampled


def sample_rss(interval: float = 0.2) -> None:
    """Background sampler: peak RssAnon and RssFile separately (ru_maxrss only has their peak sum), and the
    phase that was open at each peak."""
    total = 0
    while True:
        now = rss_now()
        phase = ACTIVE[-1] if ACTIVE else "-"
        for key, value in now.items():
            if value > PEAKS[key]:
                PEAKS[key] = value
                if key == "RssAnon":
                    PEAK_DURING["RssAnon"] = phase
        if sum(now.values()) > total:
            total = sum(now.values())
            PEAK_DURING["total"] = phase
        time.sleep(interval)


def record(kind: str, label: str, seconds: float, self_seconds: float) -> None:
    PHASES.append(
        {
            "kind": kind,
            "label": label,
            "s": seconds,
            "self_s": self_seconds,
            "end": time.perf_counter(),  # phases on the producer's writer thread overlap the main thread's
            "peak_rss": peak_rss_bytes(),
            **rss_now(),
        }
    )


def timed(owner: Any, attr: str, kind: str, label_of=lambda *a, **k: "") -> None:
    """Replace ``owner.attr`` by a wrapper that records (kind, label, seconds, self seconds)."""
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stack = _child_time()
        stack.append(0.0)
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread:
            ACTIVE.append(f"{kind} {label_of(*args, **kwargs)}".strip())
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            if main_thread:
                ACTIVE.pop()
            seconds = time.perf_counter() - started
            nested = stack.pop()
            if stack:
                stack[-1] += seconds
            record(kind, str(label_of(*args, **kwargs)), seconds, seconds - nested)

    setattr(owner, attr, wrapper)


def instrument_producer() -> Any:
    import torch  # noqa: F401  (counted as import time)

    import producer.cli as cli
    import producer.episode as episode
    import producer.original as original
    import producer.pipeline as pipeline
    import producer.rtc as rtc
    import producer.training as training
    import producer.user_path as user_path
    import producer.writing as writing
    import sources.checkpoint as checkpoint

    # gr00t is imported by the CLI itself, beside the checkpoint fingerprint (producer.pipeline.produce)
    timed(original, "import_gr00t", "imports", lambda: "gr00t")
    timed(checkpoint, "checkpoint_fingerprint", "fingerprint")
    timed(checkpoint, "content_fingerprint", "fingerprint")
    timed(original.OriginalGr00t, "__init__", "load")  # the processor
    timed(original.OriginalGr00t, "load_model", "load")
    timed(original.OriginalGr00t, "prepare", "run", lambda self, tag, *args, **kwargs: tag)
    timed(original.OriginalGr00t, "infer", "run", lambda self, prepared, *args, **kwargs: prepared.tag)
    # the two phases of a tag (float32 work; the as-shipped policy), and the policy's own load inside the second
    timed(pipeline, "run_job", "run", lambda options, original, meta, job, *args, **kwargs: job.tag)
    timed(pipeline, "finish_job", "run", lambda first, job, *args, **kwargs: job.tag)
    timed(user_path.OriginalUserPath, "_build", "load", lambda self, tag, *args, **kwargs: f"Gr00tPolicy {tag}")
    # what a tag's first phase spends beyond its inference (each its own kind; nested in "run")
    timed(user_path.OriginalUserPath, "run_exact", "user path", lambda self, tag, *args, **kwargs: tag)
    timed(user_path.OriginalUserPath, "run_shipped", "user path", lambda self, tag, *args, **kwargs: tag)
    timed(rtc, "rtc_for_artifact", "rtc", lambda original, inputs, result, decode, tag, *a, **k: tag)
    timed(training, "record_training", "training", lambda original, tag, *args, **kwargs: tag)
    timed(episode, "run_episode", "run", lambda original, tag, *args, **kwargs: tag)  # EPISODE=1 runs
    timed(writing, "write_artifact", "write", lambda a, *args, **kwargs: a.embodiment_tag)  # on the writer thread
    return cli.main


def instrument_consumer() -> Any:
    import torch  # noqa: F401
    from lerobot.policies.groot import groot_n1_7  # noqa: F401

    import consumer.checkpoint_identity as identity
    import consumer.cli as cli
    import consumer.lerobot_side.model as lerobot_side
    import consumer.model_store as model_store
    import consumer.session as checks

    timed(identity, "checkpoint_fingerprint", "fingerprint")  # imported by name into checkpoint_identity
    timed(identity, "content_fingerprint", "fingerprint")
    timed(checks, "read_artifact", "read", lambda path, *a, **k: Path(path).parent.name + "/" + Path(path).name)
    timed(lerobot_side.LeRobotModel, "__init__", "load")
    timed(model_store.ModelStore, "get", "load")  # every materialisation (LeRobotModel nested), ~0 s on a hit
    timed(checks.ParitySession, "run", "check", lambda self, case, check: f"{case.case_id} {check}")
    return cli.main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True, help="where to write the phases")
    parser.add_argument("side", choices=("producer", "consumer"))
    parser.add_argument("cli_args", nargs=argparse.REMAINDER, help="-- then the CLI's own arguments")
    args = parser.parse_args()
    cli_args = args.cli_args[1:] if args.cli_args[:1] == ["--"] else args.cli_args
    threading.Thread(target=sample_rss, daemon=True).start()
    started = time.perf_counter()
    cli_main = instrument_producer() if args.side == "producer" else instrument_consumer()
    imports = time.perf_counter() - started
    record("imports", args.side, imports, imports)
    status = cli_main(cli_args)
    total = time.perf_counter() - started
    payload = {"side": args.side, "status": status, "total_s": total, "peak_rss": peak_rss_bytes(), "phases": PHASES}
    payload["started"] = started  # the clock of every phase's "end"
    payload["peak_rss_anon"], payload["peak_rss_file"] = PEAKS["RssAnon"], PEAKS["RssFile"]
    payload["peak_during"] = dict(PEAK_DURING)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return int(status or 0)


if __name__ == "__main__":
    raise SystemExit(main())
