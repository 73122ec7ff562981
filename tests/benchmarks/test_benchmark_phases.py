"""The full-size benchmark's arithmetic on phase records (benchmarks/full_size.py); no model involved."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "full_size.py"


def _full_size() -> Any:
    spec = importlib.util.spec_from_file_location("full_size_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def phase(kind: str, label: str, seconds: float, end: float) -> dict[str, Any]:
    return {"kind": kind, "label": label, "s": seconds, "self_s": seconds, "end": end}


def test_overlapping_imports_and_fingerprint_count_once() -> None:
    full_size = _full_size()
    result = {
        "started": 100.0,
        "phases": [
            phase("imports", "producer", 1.0, 101.0),
            phase("fingerprint", "", 9.0, 110.0),  # a thread, beside the gr00t import
            phase("imports", "gr00t", 10.0, 111.0),
            phase("load", "", 0.5, 111.5),  # the processor
            phase("run", "libero_sim", 0.5, 112.0),  # prepared before the model loads
            phase("load", "", 8.0, 120.0),  # the model
            phase("run", "libero_sim", 5.0, 126.0),  # began at 121, 1 s after the load
        ],
    }
    assert full_size.startup_s(result) == 20.5  # 21 s to the first inference, less the early preparation
    assert full_size.phase_s(result, "imports") + full_size.phase_s(result, "fingerprint") == 20.0  # the naive sum
    del result["started"]  # an older run: the phases are summed, as they were measured then
    assert full_size.startup_s(result) == 28.5


def test_only_a_write_that_outlasts_the_last_inference_costs_wall_time() -> None:
    full_size = _full_size()
    result = {
        "phases": [
            phase("run", "a", 5.0, 10.0),
            phase("write", "a", 4.0, 13.0),
            phase("run", "b", 5.0, 15.0),
            phase("write", "b", 1.0, 15.5),
        ]
    }
    assert full_size.exposed_write_s(result, "a") == 0.0
    assert full_size.exposed_write_s(result, "b") == 0.5
