"""Where the run report goes: a folder proven writable before any model loads, and a file that is whole or absent.

WHY (issue 25): the JSON report was written last, unchecked, straight under its final name. A
GROOT_PARITY_REPORT_DIR that was a file or unwritable gave a traceback after every check had run (no
table, no summary), and a full disk left a truncated ``parity-*.json`` that looked like a report. Now the
folder is probed up front (:func:`check_report_dir`, from the preflight), and the report is written to a
hidden temp file, fsynced, then hard-linked to its unique final name, which never exists half-written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from parity_format.safe_text import safe_text
from parity_format.temp_files import make_temp_file, remove_stale_temp_files

REPORT_PREFIX = "parity-"


class ReportDirError(OSError):
    """The report folder cannot be used, or the report could not be written whole; one line."""


def check_report_dir(report_dir: Path) -> None:
    """Create ``report_dir`` if needed and prove a file can be written in it (a real probe, as root too)."""
    try:
        if report_dir.exists() and not report_dir.is_dir():
            raise ReportDirError(f"{safe_text(report_dir)} exists and is not a directory")
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=report_dir):
            pass
    except ReportDirError:
        raise
    except OSError as exc:
        raise ReportDirError(f"{safe_text(report_dir)} is not writable ({exc.strerror or exc})") from exc


def publish_report(report_dir: Path, stamp: str, text: str) -> Path:
    """Write ``text`` as a new ``parity-<stamp>-<pid>-<random>.json`` that appears only once complete."""
    report_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(report_dir)
    final = report_dir / f"{REPORT_PREFIX}{stamp}-{os.getpid()}.json"
    fd, tmp = make_temp_file(final)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        while True:  # the name is created exclusively: concurrent runs never overwrite each other's report
            path = report_dir / f"{REPORT_PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(3)}.json"
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:  # astronomically unlikely; draw another suffix
                continue
    except OSError as exc:
        raise ReportDirError(
            f"JSON report not written to {safe_text(report_dir)}: {exc.strerror or exc} (nothing partial was left)"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
