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
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from producer.pipeline import debug_traceback
from sources.resident_memory import map_large_allocations

if TYPE_CHECKING:
    from producer.pipeline import ProduceOptions, TagOutcome

DEFAULT_IMAGE_SIZES = ("256x256", "240x320")  # real cameras are not square: keep one non-square size


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
        f"compression CPU; docs/performance.md) (default: {DEFAULT_COMPRESSION})",
    )
    parser.add_argument(
        "--episode",
        action="store_true",
        help="instead of artifacts, one seeded episode per tag (rollout loop, queue and RTC modes) into episode/",
    )
    parser.add_argument(
        "--probes",
        action="store_true",
        help="edge-case inputs (one probe per batch element; batch size at least 3) into probes-<size>/",
    )
    variations = parser.add_argument_group("inputs real callers send (producer/input_variations.py)")
    variations.add_argument(
        "--video-steps",
        type=int,
        default=None,
        help="frames per camera instead of the checkpoint's video horizon; the original Gr00tPolicy's "
        "verdict on such an observation is recorded too",
    )
    variations.add_argument(
        "--camera-order",
        choices=("config", "reversed"),
        default="config",
        help="order the raw cameras are stored in (config: the modality config's)",
    )
    variations.add_argument("--label", default=None, help="artifact folders become <label>-<size>/")
    parser.add_argument(
        "--training",
        action="store_true",
        help="also record one training step per tag: batch, draws, loss, gradients, trainable sets (docs/training.md)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # absolute before any load: a load changes into the checkpoint's folder (sources.checkpoint.backbone_workdir)
    # while earlier tags are still being written
    args.out_dir = args.out_dir.absolute()
    map_large_allocations()  # before any model: freed activations leave the process (sources/resident_memory.py)
    from producer.arguments import ArgumentProblem, validate_arguments
    from producer.input_variations import variation_from_args

    try:  # everything that needs no checkpoint, before anything heavy is imported
        sizes = validate_arguments(args)
        variation_from_args(args)
    except (ArgumentProblem, ValueError) as exc:
        return fail(str(exc))
    if args.plan is not None:
        return main_plan(args)
    from producer.original import Gr00tUnavailable
    from producer.out_dir_lock import OutDirBusy, out_dir_lock
    from producer.pipeline import produce
    from producer.preflight import PreflightError, require_device, resolve_target
    from sources.checkpoint import CheckpointRef

    try:
        ref = CheckpointRef(args.ckpt, args.revision, args.subfolder)
        patterns = [p for p in (args.allow_patterns or "").split(",") if p] or None
        ckpt, tags = resolve_target(ref, patterns, [t.strip() for t in args.tags.split(",") if t.strip()])
        require_device(args.device)
    except (ValueError, PreflightError) as exc:
        return fail(str(exc))
    try:
        options = options_from(args)
        with out_dir_lock(args.out_dir):  # a second producer on the same folder is refused (issue 25)
            if options.episode:
                from producer.episode import produce_episodes

                outcomes = produce_episodes(options, ref, ckpt, tags)
            else:
                outcomes = produce(options, ref, ckpt, tags, sizes)
    except (Gr00tUnavailable, OutDirBusy) as exc:
        return fail(str(exc))
    except Exception as exc:  # the original could not load this checkpoint: no tag can run
        debug_traceback(exc)
        return fail(f"could not run the original on {ckpt}: {type(exc).__name__}: {exc}")
    print_summary(outcomes)
    failed = [o for o in outcomes if o.status != "ok"]
    return 1 if failed else 0


def options_from(args: argparse.Namespace) -> ProduceOptions:
    from producer.input_variations import variation_from_args
    from producer.pipeline import ProduceOptions

    return ProduceOptions(
        variation=variation_from_args(args),
        out_dir=args.out_dir,
        device=args.device,
        seed=args.seed,
        batch_size=args.batch_size,
        probes=args.probes,
        path_root=args.path_root,
        compression=args.compression,
        episode=args.episode,
        training=args.training,
    )


def main_plan(args: argparse.Namespace) -> int:
    """``--plan``: the command line's --seed/--batch-size/--image-size/--tags are the plan's defaults."""
    from producer.original import Gr00tUnavailable
    from producer.out_dir_lock import OutDirBusy, out_dir_lock
    from producer.plan import PlanError, load_plan, print_plan_summary, run_plan
    from producer.preflight import PreflightError, require_device

    per_checkpoint = [
        f"--{k.replace('_', '-')}" for k in ("revision", "subfolder", "allow_patterns") if getattr(args, k)
    ]
    if per_checkpoint:
        return fail(f"{', '.join(per_checkpoint)} cannot be combined with --plan: set them per checkpoint in the plan")
    defaults = {"seed": args.seed, "batch_size": args.batch_size, "image_sizes": list(args.image_size)}
    if args.tags:
        defaults["tags"] = args.tags
    try:
        entries = load_plan(args.plan, defaults)
        require_device(args.device)
    except (PlanError, PreflightError) as exc:
        return fail(str(exc))
    try:
        with out_dir_lock(args.out_dir):  # a second producer on the same folder is refused (issue 25)
            outcomes = run_plan(entries, options_from(args))
    except (Gr00tUnavailable, OutDirBusy) as exc:
        return fail(str(exc))
    print_plan_summary(outcomes)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


def fail(message: str) -> int:
    from parity_format.safe_text import safe_text  # a path or reference may hold control characters

    print(f"groot-parity-produce: error: {safe_text(message)}", file=sys.stderr)
    return 2


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
