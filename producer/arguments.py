"""Validation of every producer argument that needs no checkpoint, torch or gr00t: one line, exit 2, at once.

WHY before any heavy import: importing gr00t and torch takes seconds to minutes and a bad ``--seed`` or
an unwritable ``--out-dir`` would otherwise surface after the model loaded, or as a traceback in the
middle of writing artifacts.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import NoReturn

from producer.observations import parse_camera_sizes

MAX_SEED = 2**32 - 1  # every RNG the run seeds (numpy's legacy seeding, torch, CUDA) accepts 0..2**32-1
MAX_BATCH_SIZE = 64  # artifacts record B=2; larger batches only grow files and memory
MAX_IMAGE_SIDE = 4096  # above any robot camera; 10000x10000 frames would take GBs per batch
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse without the usage block on errors: the error is one line, exit 2 (``--help`` shows usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


class ArgumentProblem(ValueError):
    """An argument is out of range or unusable; the message is the one error line."""


#: How the command line spells each run option in its errors; a plan passes its own spelling.
COMMAND_LINE = {"seed": "--seed", "batch_size": "--batch-size", "image_sizes": "--image-size"}


def validate_run_options(
    seed: object, batch_size: object, image_sizes: list[str], spelling: dict[str, str] = COMMAND_LINE
) -> list[list[tuple[int, int]]]:
    """The one check of seed, batch size and image sizes, for the command line and every plan entry (issue 25).

    Returns the parsed sizes. WHY one function: a plan once accepted ``image_sizes = ["5000x5000"]``,
    ``batch_size = 65`` and ``seed = 4294967296``, which the command line refused.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ArgumentProblem(f"{spelling['seed']} {seed!r}: expected an integer in 0..{MAX_SEED}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ArgumentProblem(f"{spelling['batch_size']} {batch_size!r}: expected 1..{MAX_BATCH_SIZE} (an integer)")
    if not image_sizes:
        raise ArgumentProblem(f"{spelling['image_sizes']}: no size given")
    sizes = []
    for text in image_sizes:
        try:
            per_camera = parse_camera_sizes(text)
        except ValueError as exc:
            raise ArgumentProblem(f"{spelling['image_sizes']}: {exc}") from exc
        if max(max(hw) for hw in per_camera) > MAX_IMAGE_SIDE:
            raise ArgumentProblem(
                f"{spelling['image_sizes']} {text}: each side must be at most {MAX_IMAGE_SIDE} pixels"
            )
        sizes.append(per_camera)
    return sizes


def validate_arguments(args: argparse.Namespace) -> list[list[tuple[int, int]]]:
    """Check seed, batch size, device spelling, image sizes and the output directory; returns the sizes."""
    sizes = validate_run_options(args.seed, args.batch_size, list(args.image_size))
    if args.device is not None and not _DEVICE.match(args.device):
        raise ArgumentProblem(f"--device {args.device!r}: expected cpu, cuda or cuda:N")
    check_output_directory(args.out_dir)
    return sizes


def check_output_directory(out_dir: Path) -> None:
    """Prove a file can be written in ``out_dir``, or in its nearest existing ancestor (created later).

    A real probe file, not permission bits: it also catches read-only mounts and works the same as root.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ArgumentProblem(f"--out-dir {out_dir}: exists and is not a directory")
    existing = next(p for p in (out_dir.absolute(), *out_dir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ArgumentProblem(f"--out-dir {out_dir}: cannot be created, {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ArgumentProblem(f"--out-dir {out_dir}: not writable ({existing}: {exc.strerror or exc})") from exc
