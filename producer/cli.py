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
import os
import sys
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

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
    print_summary(outcomes)
    failed = [o for o in outcomes if o.status != "ok"]
    return 1 if failed else 0


def fail(message: str) -> int:
    print(f"groot-parity-produce: error: {message}", file=sys.stderr)
    return 2


def produce(args, ref, ckpt: Path, tags: list[str], sizes: list[list[tuple[int, int]]]) -> list[TagOutcome]:
    import torch

    from parity_format.artifact import Artifact
    from parity_format.checkpoint import checkpoint_fingerprint, content_fingerprint, read_json
    from parity_format.naming import artifact_filename
    from producer.decode import decode_outputs
    from producer.embodiments import embodiment_spec
    from producer.observations import PROBES, build_observation, camera_sizes, size_label
    from producer.original import OriginalGr00t, import_gr00t
    from producer.provenance import cuda_determinism, provenance, publishable_argv, publishable_checkpoint
    from producer.writing import BackgroundWriter

    import_gr00t()  # fail fast, before hashing a multi-GB checkpoint
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = cuda_determinism(device)  # before the model touches the GPU
    print(f"checkpoint {ckpt}", flush=True)
    started = time.perf_counter()
    checkpoint = {
        # whole files: what older consumers compare; then what determines the numbers (survives relocation)
        **publishable_checkpoint(ref.to_dict(), ckpt, checkpoint_fingerprint(ckpt), args.path_root),
        "content_fingerprint": content_fingerprint(ckpt),
    }
    original = OriginalGr00t(ckpt, device)
    print(
        f"loaded original GR00T N1.7 once ({device}, float32, {original.attention}) in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    meta = provenance(
        device=device,
        attention=original.attention,
        checkpoint=checkpoint,
        argv=publishable_argv(sys.argv, args.path_root),
        cuda=cuda,
    )
    meta["embodiment_ids"] = original.embodiment_ids()
    statistics = read_json(ckpt / "statistics.json")
    batch_size = max(args.batch_size, len(PROBES)) if args.probes else args.batch_size

    jobs = [(size, tag) for size in sizes for tag in tags]
    outcomes: dict[int, TagOutcome] = {}
    writes: list[PendingWrite] = []  # submission order; reported as they finish
    with BackgroundWriter(args.compression) as writer:
        for index, (hw_list, tag) in enumerate(jobs, start=1):
            size = size_label(hw_list)
            folder = f"probes-{size}" if args.probes else size
            label = f"[{index}/{len(jobs)}] {tag} @ {folder}"
            print(f"{label} ...", end=" ", flush=True)
            t0 = time.perf_counter()
            prefetched: list[np.ndarray] = []
            try:
                spec = embodiment_spec(ckpt, tag)
                raw = build_observation(
                    spec,
                    statistics[tag]["state"],
                    batch_size=batch_size,
                    image_hw=hw_list,
                    seed=args.seed,
                    probes=args.probes,
                )
                per_camera = {cam: list(hw) for cam, hw in camera_sizes(spec.cameras, hw_list).items()}
                result = original.run(tag, raw, args.seed, on_inputs=partial(compress_early, writer, prefetched))
                decode = decode_outputs(original.processor, tag, result.action_pred, raw.state, args.seed)
                artifact = Artifact(
                    embodiment_tag=tag,
                    seed=args.seed,
                    action_pred=result.action_pred,
                    inputs=result.inputs,
                    input_torch_dtypes=result.input_torch_dtypes,
                    raw=raw,
                    outputs={**result.outputs, **decode},
                    provenance={
                        **meta,
                        "image_size": list(hw_list[0]),
                        "camera_image_sizes": per_camera,
                        "batch_size": batch_size,
                        "probes": [PROBES[i % len(PROBES)] for i in range(batch_size)] if args.probes else None,
                    },
                )
                ran = time.perf_counter() - t0
                print(f"ran {ran:.1f}s, writing", flush=True)
                shape = tuple(result.action_pred.shape)
                future = writer.submit(artifact, args.out_dir / folder / artifact_filename(tag))
                writes.append(PendingWrite(index, label, tag, folder, t0, ran, shape, future))
            except Exception as exc:  # one tag failing must not stop the others; reported and exit != 0
                writer.discard(prefetched)
                outcomes[index] = tag_failed(tag, folder, t0, exc)
                print(f"FAILED {outcomes[index].detail}", flush=True)
            report_writes(writes, outcomes, wait=False)
        report_writes(writes, outcomes, wait=True)
    return [outcomes[i] for i in sorted(outcomes)]


def compress_early(writer: BackgroundWriter, prefetched: list[np.ndarray], inputs: dict[str, np.ndarray]) -> None:
    """Start compressing the collated inputs while get_action runs; remember them in case the tag fails."""
    prefetched.extend(inputs.values())
    writer.prefetch(inputs.values())


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


def tag_failed(tag: str, folder: str, started: float, exc: Exception) -> TagOutcome:
    if os.environ.get("GROOT_PARITY_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    return TagOutcome(tag, folder, "FAILED", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")


def print_summary(outcomes: list[TagOutcome]) -> None:
    width = max([len(o.tag) for o in outcomes] + [3])
    size_width = max([len(o.size) for o in outcomes] + [4])
    print(f"\n{'tag':<{width}}  {'size':<{size_width}}  {'result':<6}  {'time':>6}  detail")
    for o in outcomes:
        print(f"{o.tag:<{width}}  {o.size:<{size_width}}  {o.status:<6}  {o.seconds:>5.1f}s  {o.detail}")
    bad = sum(o.status != "ok" for o in outcomes)
    print(f"\n{len(outcomes) - bad} written, {bad} failed")


if __name__ == "__main__":
    raise SystemExit(main())
