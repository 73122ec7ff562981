"""What `make consume JOBS=N` adds on top of the serial suite: case groups, per-worker GPUs, one merged report.

pytest-xdist runs the suite in N worker processes (``--dist loadgroup``). Cases are grouped by check and
checkpoint: all model cases of one checkpoint run on one worker (its model is loaded once per run, as in
a serial run); the preprocessor cases of that checkpoint form a second group, because that check never
loads the model and can run beside it. Each worker sends its results to the controller, which merges them
into the one JSON run report a serial run writes.

The groups are applied by our own scheduler (xdist's ``pytest_xdist_make_scheduler`` hook), not by
``xdist_group`` marks: with pytest 9.2, xdist 3.8 silently ignores those marks (it renames node ids
through a field pytest no longer reads; pytest-dev/pytest-xdist#1386), and every case would be spread
round-robin, loading each model on every worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from consumer.checks import CHECKS

WORKER_ENV = "PYTEST_XDIST_WORKER"  # set by pytest-xdist in each worker: gw0, gw1, ...
WORKER_OUTPUT_KEY = "groot_parity_results"  # config.workeroutput key: the worker's results as JSON


def worker_index(environ: dict[str, str] | None = None) -> int | None:
    """0 for worker gw0, ...; None outside pytest-xdist."""
    name = (os.environ if environ is None else environ).get(WORKER_ENV, "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def worker_cuda_device(device_count: int, environ: dict[str, str] | None = None) -> str:
    """Worker gwK takes GPU K mod device_count, so N workers spread over the box's GPUs; serial: plain cuda."""
    index = worker_index(environ)
    return "cuda" if index is None or device_count < 1 else f"cuda:{index % device_count}"


def checkpoint_label(path: Path, override: Path | None) -> str:
    """Which checkpoint replays ``path``: the override, else the fingerprint (or spec) in its manifest.

    Only used to group cases; an unreadable file gets its own group and fails in its own case when it runs.
    """
    if override is not None:
        return override.name
    try:
        with np.load(path) as npz:  # lazy: reads the manifest member only, never unpickles
            checkpoint = json.loads(str(npz["manifest"][()]))["provenance"]["checkpoint"]
    except Exception:
        return f"unreadable-{path.stem}"
    fingerprint = str(checkpoint.get("fingerprint") or "")
    if fingerprint:
        return fingerprint[:12]
    return "-".join(str(checkpoint.get(k)) for k in ("spec", "revision", "subfolder") if checkpoint.get(k))


def group_name(check: str, path: Path, override: Path | None) -> str:
    return f"{check}-{checkpoint_label(path, override)}"


def case_groups(cases: list[Any], checks: tuple[str, ...], override: Path | None) -> dict[str, str]:
    """Test id (``<case_id>-<check>``, as consumer/test_parity.py names them) -> group name."""
    labels = {c.path: checkpoint_label(c.path, override) for c in cases}
    return {f"{c.case_id}-{check}": f"{check}-{labels[c.path]}" for c in cases for check in checks}


def param_id(nodeid: str) -> str:
    """``consumer/test_parity.py::test_parity[256x256-libero_sim-model]`` -> ``256x256-libero_sim-model``."""
    start, end = nodeid.find("["), nodeid.rfind("]")
    return nodeid[start + 1 : end] if 0 <= start < end else ""


def make_group_scheduler(config: Any, log: Any, groups: dict[str, str]) -> Any:
    """An xdist scheduler that keeps each group on one worker; other tests keep xdist's module scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class CheckpointGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = groups.get(param_id(nodeid))
            return f"group:{group}" if group else super()._split_scope(nodeid)

    return CheckpointGroupScheduling(config, log)


def worker_payload(results: list[dict[str, Any]], environ: dict[str, str] | None = None) -> str:
    """A worker's results, tagged with the worker's name, as JSON (what execnet carries to the controller)."""
    worker = (os.environ if environ is None else environ).get(WORKER_ENV, "")
    return json.dumps([{**r, "worker": worker} for r in results], allow_nan=False)


def merge_worker_results(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """All workers' result dicts as one list, in (artifact, check) order; a case reported twice is an error."""
    merged = [r for part in parts for r in part]
    keys = [(r["artifact"], r["check"]) for r in merged]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"cases reported by more than one worker: {duplicates}")
    rank = {c: i for i, c in enumerate(CHECKS)}  # the registry's order, as a serial run reports them
    return sorted(merged, key=lambda r: (r["artifact"], rank.get(r["check"], len(rank)), r["check"]))
