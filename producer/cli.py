"""groot-parity-produce: run the ORIGINAL GR00T N1.7 and write one artifact per (image size, tag).

Runs in the producer env (gr00t at the pinned commit, transformers 4.57.3, Python 3.10). Artifacts go
to ``<out-dir>/<H>x<W>/original_n1_7_<tag>.npz``: one directory per camera resolution, each one a
self-contained artifact directory that the consumer (and LeRobot's own parity test) can point at.
A size ``480x640+256x256`` gives the cameras of each tag those sizes in camera order (mixed
resolutions; the last size repeats for further cameras). ``--probes`` writes edge-case inputs instead
(Unicode, long and empty instructions, state at and beyond the statistics' bounds, identical frames
across cameras) to ``<out-dir>/probes-<size>/``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parity_format.artifact import Artifact, RawObservation
    from producer.original import OriginalGr00t, PreparedInputs
    from producer.writing import BackgroundWriter, Written

DEFAULT_IMAGE_SIZES = ("256x256", "240x320")  # real cameras are not square: keep one non-square size


@dataclass
class TagOutcome:
    tag: str
    size: str
    status: str  # "ok" | "FAILED"
    seconds: float
    detail: str


def build_parser() -> argparse.ArgumentParser:
    from parity_format.codecs import COMPRESSION_LEVELS, DEFAULT_COMPRESSION
    from producer.arguments import OneLineErrorParser

    parser = OneLineErrorParser(
        prog="groot-parity-produce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", help="local checkpoint dir, or a Hugging Face Hub repo id")
    source.add_argument(
        "--plan", type=Path, help="TOML plan of many checkpoints, one folder each in --out-dir (plans/example.toml)"
    )
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --ckpt")
    parser.add_argument("--subfolder", default=None, help="checkpoint subfolder inside the Hub repo (libero_10)")
    parser.add_argument(
        "--allow-patterns", default=None, help="comma-separated Hub file patterns (default: subfolder + JSON)"
    )
    parser.add_argument(
        "--path-root",
        type=Path,
        default=Path.cwd(),
        help="local paths in the manifests (checkpoint, command line) are recorded relative to this directory "
        "(default: the working directory); a path outside it keeps only its last component",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("artifacts"), help="output directory (artifacts/)")
    parser.add_argument(
        "--tags",
        default="",
        help="comma-separated embodiment tags (default: every tag in statistics AND processor)",
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--seed", type=int, default=42, help="seed for inputs and the flow-matching noise (42)")
    parser.add_argument("--batch-size", type=int, default=2, help="observations per artifact (2)")
    parser.add_argument(
        "--image-size",
        nargs="+",
        default=list(DEFAULT_IMAGE_SIZES),
        metavar="HxW",
        help=(
            "camera frame sizes, one artifact directory each; H1xW1+H2xW2 gives each camera its own size, in "
            f"camera order (default: {' '.join(DEFAULT_IMAGE_SIZES)})"
        ),
    )
    parser.add_argument(
        "--compression",
        choices=COMPRESSION_LEVELS,
        default=DEFAULT_COMPRESSION,
        help=f"LZMA effort on large members: fast, or small (a few %% smaller files for several times the "
        f"compression CPU; README 'Producer speed') (default: {DEFAULT_COMPRESSION})",
    )
    parser.add_argument(
        "--probes",
        action="store_true",
        help="edge-case inputs (one probe per batch element; batch size at least 3) into probes-<size>/",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from producer.arguments import ArgumentProblem, validate_arguments

    try:  # everything that needs no checkpoint, before anything heavy is imported
        sizes = validate_arguments(args)
    except (ArgumentProblem, ValueError) as exc:
        return fail(str(exc))
    if args.plan is not None:
        from producer.plan import main_plan

        return main_plan(args)
    from parity_format.checkpoint import CheckpointError, CheckpointRef, resolve_checkpoint
    from producer.checkpoint_kind import NotN17Checkpoint, check_n1_7
    from producer.embodiments import TagSelectionError, select_tags
    from producer.original import Gr00tUnavailable

    try:
        ref = CheckpointRef(args.ckpt, args.revision, args.subfolder)
        patterns = [p for p in (args.allow_patterns or "").split(",") if p] or None
        ckpt = resolve_checkpoint(ref, allow_patterns=patterns)
        check_n1_7(ckpt)
        tags = select_tags(ckpt, [t.strip() for t in args.tags.split(",") if t.strip()])
    except (ValueError, CheckpointError, NotN17Checkpoint, TagSelectionError) as exc:
        return fail(str(exc))
    if args.device and args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return fail(f"--device {args.device}, but torch sees no CUDA device here (use --device cpu)")
    try:
        outcomes = produce(args, ref, ckpt, tags, sizes)
    except Gr00tUnavailable as exc:
        return fail(str(exc))
    except Exception as exc:  # the original could not load this checkpoint: no tag can run
        debug_traceback(exc)
        return fail(f"could not run the original on {ckpt}: {type(exc).__name__}: {exc}")
    print_summary(outcomes)
    failed = [o for o in outcomes if o.status != "ok"]
    return 1 if failed else 0


def fail(message: str) -> int:
    print(f"groot-parity-produce: error: {message}", file=sys.stderr)
    return 2


PREPARE_AHEAD = 2  # tags whose inputs are collated (and their compression started) while the model loads


@dataclass
class Job:
    """One artifact to produce: a tag at one camera-size combination."""

    index: int
    tag: str
    sizes: list[tuple[int, int]]  # per camera, in camera order (the last repeats)
    folder: str
    label: str


@dataclass
class Prepared:
    """A job's raw observation and the original's collated inputs, whose compression has started."""

    raw: RawObservation
    camera_sizes: dict[str, list[int]]  # camera -> [H, W]
    inputs: PreparedInputs
    seconds: float


def produce(args, ref, ckpt: Path, tags: list[str], sizes: list[list[tuple[int, int]]]) -> list[TagOutcome]:
    """Every (size, tag) job, in order: prepare the inputs, run the original, hand the artifact to the writer.

    WHY this order (issue 15; README "Producer speed"):

    - the checkpoint is hashed in a thread from the start (:func:`fingerprint_in_background`):
      sha256 and file reads release the GIL, so the fingerprint (13-21 s for 7.45 GB) runs beside the
      imports and the model load; it is waited for after the load, before the first inference;
    - the first :data:`PREPARE_AHEAD` jobs are prepared before the model loads: their inputs need
      only the processor, so their ``pixel_values`` (the largest member) compress beside the load
      rather than beside their own, short, inference.
    """
    from parity_format.checkpoint import read_json
    from parity_format.naming import artifact_filename
    from producer.observations import size_label
    from producer.original import OriginalGr00t, gr00t_installed, import_gr00t
    from producer.provenance import cuda_determinism, provenance, publishable_argv, publishable_checkpoint
    from producer.writing import BackgroundWriter

    if not gr00t_installed():
        import_gr00t()  # the install hint, before hashing a multi-GB checkpoint
    jobs = []
    for hw_list, tag in ((size, tag) for size in sizes for tag in tags):
        folder = f"probes-{size_label(hw_list)}" if args.probes else size_label(hw_list)
        label = f"[{len(jobs) + 1}/{len(sizes) * len(tags)}] {tag} @ {folder}"
        jobs.append(Job(len(jobs) + 1, tag, hw_list, folder, label))
    outcomes: dict[int, TagOutcome] = {}
    writes: list[PendingWrite] = []  # submission order; reported as they finish
    fingerprints = fingerprint_in_background(ckpt)
    import torch

    import_gr00t()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = cuda_determinism(device)  # before the model touches the GPU
    print(f"checkpoint {ckpt}", flush=True)
    with BackgroundWriter(args.compression) as writer:
        started = time.perf_counter()
        original = OriginalGr00t(ckpt, device)  # the processor; the model loads below
        loading = time.perf_counter() - started
        prepare = partial(prepare_job, args, ckpt, read_json(ckpt / "statistics.json"), original, writer)
        ahead = {job.index: prepare(job) for job in jobs[:PREPARE_AHEAD]}
        started = time.perf_counter()
        original.load_model()
        loading += time.perf_counter() - started
        print(
            f"loaded original GR00T N1.7 once ({device}, float32, {original.attention}) in {loading:.1f}s", flush=True
        )
        started = time.perf_counter()
        whole_files, content = fingerprints.result()
        waited = time.perf_counter() - started
        if waited >= 1.0:
            print(f"checkpoint fingerprint: waited {waited:.1f}s for it after the load", flush=True)
        checkpoint = {
            # whole files: what older consumers compare; then what determines the numbers (survives relocation)
            **publishable_checkpoint(ref.to_dict(), ckpt, whole_files, args.path_root),
            "content_fingerprint": content,
        }
        meta = provenance(
            device=device,
            attention=original.attention,
            checkpoint=checkpoint,
            argv=publishable_argv(sys.argv, args.path_root),
            cuda=cuda,
        )
        meta["embodiment_ids"] = original.embodiment_ids()
        for job in jobs:
            print(f"{job.label} ...", end=" ", flush=True)
            prepared = ahead.pop(job.index) if job.index in ahead else prepare(job)
            t0 = time.perf_counter()
            try:
                if isinstance(prepared, Exception):
                    raise prepared
                artifact = run_job(args, original, meta, job, prepared)
                ran = prepared.seconds + time.perf_counter() - t0
                print(f"ran {ran:.1f}s, writing", flush=True)
                future = writer.submit(artifact, args.out_dir / job.folder / artifact_filename(job.tag))
                shape = tuple(artifact.action_pred.shape)
                writes.append(PendingWrite(job.index, job.label, job.tag, job.folder, t0, ran, shape, future))
            except Exception as exc:  # one tag failing must not stop the others; reported and exit != 0
                if isinstance(prepared, Prepared):
                    writer.discard(prepared.inputs.inputs.values())
                outcomes[job.index] = tag_failed(job.tag, job.folder, t0, exc)
                print(f"FAILED {outcomes[job.index].detail}", flush=True)
            report_writes(writes, outcomes, wait=False)
        report_writes(writes, outcomes, wait=True)
    return [outcomes[i] for i in sorted(outcomes)]


def fingerprint_in_background(ckpt: Path) -> Future[tuple[str, dict]]:
    """(whole-file sha256, content fingerprint) of the checkpoint, computed in a daemon thread.

    A daemon, so that a run that fails before it needs the result (a broken gr00t install, a model
    that does not load, Ctrl-C) exits at once instead of finishing a multi-GB hash first.
    """
    from parity_format.checkpoint import checkpoint_fingerprint, content_fingerprint

    future: Future[tuple[str, dict]] = Future()

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result((checkpoint_fingerprint(ckpt), content_fingerprint(ckpt)))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=work, name="fingerprint", daemon=True).start()
    return future


def prepare_job(
    args, ckpt: Path, statistics: dict, original: OriginalGr00t, writer: BackgroundWriter, job: Job
) -> Prepared | Exception:
    """Build the job's raw observation, collate it with the original's processor, start compressing it.

    An exception is returned, not raised: the job fails at its turn, and the other jobs go on.
    """
    from producer.embodiments import embodiment_spec
    from producer.observations import build_observation, camera_sizes

    t0 = time.perf_counter()
    try:
        spec = embodiment_spec(ckpt, job.tag)
        raw = build_observation(
            spec,
            statistics[job.tag]["state"],
            batch_size=batch_size(args),
            image_hw=job.sizes,
            seed=args.seed,
            probes=args.probes,
        )
        cameras = {cam: list(hw) for cam, hw in camera_sizes(spec.cameras, job.sizes).items()}
        inputs = original.prepare(job.tag, raw)
    except Exception as exc:  # reported at the job's turn, in order
        return exc
    writer.prefetch(inputs.inputs.values())  # only starts work in threads; their errors surface at the write
    return Prepared(raw, cameras, inputs, time.perf_counter() - t0)


def batch_size(args) -> int:
    from producer.observations import PROBES

    return max(args.batch_size, len(PROBES)) if args.probes else args.batch_size


def run_job(args, original: OriginalGr00t, meta: dict, job: Job, prepared: Prepared) -> Artifact:
    """``get_action`` on the prepared inputs, the decoded actions, and the artifact that records them."""
    from parity_format.artifact import Artifact
    from producer.decode import decode_outputs
    from producer.observations import PROBES

    raw = prepared.raw
    result = original.infer(prepared.inputs, args.seed)
    decode = decode_outputs(original.processor, job.tag, result.action_pred, raw.state, args.seed)
    batch = len(raw.language)
    return Artifact(
        embodiment_tag=job.tag,
        seed=args.seed,
        action_pred=result.action_pred,
        inputs=result.inputs,
        input_torch_dtypes=result.input_torch_dtypes,
        raw=raw,
        outputs={**result.outputs, **decode},
        provenance={
            **meta,
            "image_size": list(job.sizes[0]),
            "camera_image_sizes": prepared.camera_sizes,
            "batch_size": batch,
            "probes": [PROBES[i % len(PROBES)] for i in range(batch)] if args.probes else None,
        },
    )


@dataclass
class PendingWrite:
    index: int
    label: str
    tag: str
    folder: str
    started: float
    ran_seconds: float  # inference, decode and assembly, before the artifact went to the writer
    action_shape: tuple[int, ...]
    future: Future[Written]


def report_writes(writes: list[PendingWrite], outcomes: dict[int, TagOutcome], *, wait: bool) -> None:
    """Print and record finished writes, in submission order; ``wait`` blocks until all are done."""
    while writes and (wait or writes[0].future.done()):
        w = writes.pop(0)
        try:
            written = w.future.result()
        except Exception as exc:  # a write failing is that tag's failure, like a failing inference
            outcomes[w.index] = tag_failed(w.tag, w.folder, w.started, exc)
            print(f"{w.label} FAILED writing: {outcomes[w.index].detail}", flush=True)
            continue
        detail = f"action_pred {w.action_shape} -> {written.path} ({written.bytes / 1e3:.0f} kB)"
        outcomes[w.index] = TagOutcome(w.tag, w.folder, "ok", w.ran_seconds + written.seconds, detail)
        print(f"{w.label} ok, written in {written.seconds:.1f}s: {detail}", flush=True)


def debug_traceback(exc: BaseException) -> None:
    """The full traceback on stderr when GROOT_PARITY_DEBUG is set; errors are one line otherwise."""
    if os.environ.get("GROOT_PARITY_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        traceback.print_exception(type(exc), exc, exc.__traceback__)


def tag_failed(tag: str, folder: str, started: float, exc: Exception) -> TagOutcome:
    debug_traceback(exc)
    return TagOutcome(tag, folder, "FAILED", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")


def print_summary(outcomes: list[TagOutcome]) -> None:
    width = max([len(o.tag) for o in outcomes] + [3])
    size_width = max([len(o.size) for o in outcomes] + [4])
    print(f"\n{'tag':<{width}}  {'size':<{size_width}}  {'result':<6}  {'time':>6}  detail")
    for o in outcomes:
        print(f"{o.tag:<{width}}  {o.size:<{size_width}}  {o.status:<6}  {o.seconds:>5.1f}s  {o.detail}")
    bad = sum(o.status != "ok" for o in outcomes)
    print(f"\n{len(outcomes) - bad} written, {bad} failed")


def entry() -> None:
    """``groot-parity-produce``: :func:`main`, then an exit that skips the final garbage collections.

    WHY: torch, transformers and gr00t leave millions of objects that the interpreter's garbage
    collections at exit walk again: 0.6-0.7 s of a 5 s tiny-checkpoint run (issue 15;
    ``benchmarks/producer_phases.py compare``). ``gc.freeze`` takes them out of every later
    collection. atexit handlers still run and modules are still torn down; objects are freed by
    reference counting, but frozen reference cycles are not collected (their ``__del__`` does not
    run, as Python never promised at exit). Only in the command: ``main()`` called in-process
    (tests) leaves the caller's collector alone.
    """
    code = main()
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
