"""The per-run JSON report: one uniquely named file per run, always written.

WHY unique names: two runs started in the same second used to share ``parity-<second>.json`` and one
report was lost. The name adds the process id and a random suffix, and the file is created exclusively
(a hard link from a complete temp file, ``consumer.reports.report_file``), so concurrent runs on one machine, or on
several sharing a folder, keep every report, and a full disk never leaves a truncated one.
WHY always written: CI keeps this file; a result that cannot be serialised strictly (a NaN somewhere)
must not cost the whole report, so non-finite floats are written as the strings "nan"/"inf"/"-inf".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comparison.tolerance_blindness import blind_spots
from consumer.reports.report_file import publish_report

if TYPE_CHECKING:
    from comparison.results import CheckResult
    from consumer.settings import Settings


def json_safe(value: Any) -> Any:
    """A strict-JSON-able copy: non-finite floats as strings, tuples as lists, unknown objects as str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _result_dict(result: CheckResult | dict[str, Any]) -> dict[str, Any]:
    if isinstance(result, dict):  # already a dict: merged from pytest-xdist workers
        return result
    try:
        return result.to_dict()
    except Exception as exc:  # the report must exist even if one result cannot describe itself
        return {
            "artifact": str(result.case.path),
            "group": result.case.group,
            "tag": result.case.tag,
            "check": result.check,
            "status": result.status,
            "message": f"{result.message} (details not serialisable: {type(exc).__name__}: {exc})",
        }


def write_json_report(
    results: Sequence[CheckResult | dict[str, Any]],
    report_dir: Path,
    settings: Settings,
    unmatched_overrides: Sequence[str] | None = None,
) -> Path:
    """Write this run's JSON report under a name no other run uses; returns its path.

    ``unmatched_overrides``: GROOT_PARITY_TOL entries that matched no tensor of the run (likely typos).
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    payload = {
        "created_utc": stamp,
        "artifact_dir": str(settings.artifact_dir),
        "tolerances": settings.tolerances.describe(),
        "results": [_result_dict(r) for r in results],
    }
    if unmatched_overrides:
        payload["unmatched_tolerance_overrides"] = list(unmatched_overrides)
    blind = blind_spots(settings.tolerances)
    if blind:  # knobs under which a check cannot fail (issue 25)
        payload["tolerance_warnings"] = blind
    return publish_report(report_dir, stamp, json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n")
