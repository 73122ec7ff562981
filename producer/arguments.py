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


def validate_arguments(args: argparse.Namespace) -> list[list[tuple[int, int]]]:
    """Check seed, batch size, device spelling, image sizes and the output directory; returns the sizes."""
    if not 0 <= args.seed <= MAX_SEED:
        raise ArgumentProblem(f"--seed {args.seed}: expected an integer in 0..{MAX_SEED}")
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        raise ArgumentProblem(f"--batch-size {args.batch_size}: expected 1..{MAX_BATCH_SIZE}")
    if args.device is not None and not _DEVICE.match(args.device):
        raise ArgumentProblem(f"--device {args.device!r}: expected cpu, cuda or cuda:N")
    sizes = []
    for text in args.image_size:
        per_camera = parse_camera_sizes(text)  # ValueError with the HxW message
        if max(max(hw) for hw in per_camera) > MAX_IMAGE_SIDE:
            raise ArgumentProblem(f"--image-size {text}: each side must be at most {MAX_IMAGE_SIDE} pixels")
        sizes.append(per_camera)
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
