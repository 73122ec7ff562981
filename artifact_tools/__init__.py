"""Command-line tools for people looking at artifacts and reports.

* ``groot-parity-inspect``: what is inside an artifact (manifest, provenance, members, checksums);
* ``groot-parity-diff``: two artifacts of one tag (two machines, two gr00t commits) compared;
* ``groot-parity-report`` (``consumer.reports.markdown``, consumer env only) follows the same contract.

All share one exit-code contract so scripts and CI can rely on it: 0 ok, 1 differences or
failures found, 2 bad usage or unreadable input (one ``prog: error: ...`` line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from comparison.tables import align_columns
from parity_format.safe_text import safe_text

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2


def error(prog: str, message: str) -> int:
    """Print the one-line error argparse would print (control characters escaped); return the usage exit code."""
    print(f"{prog}: error: {safe_text(message)}", file=sys.stderr)
    return EXIT_USAGE


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """``parser.parse_args`` that returns the exit code instead of raising, so ``main()`` always returns."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def table(rows: Sequence[Sequence[Any]], indent: str = "") -> list[str]:
    """Left-aligned plain-text columns; the first row is the header; every cell printed with safe_text."""
    return align_columns([[safe_text(cell) for cell in row] for row in rows], indent)
