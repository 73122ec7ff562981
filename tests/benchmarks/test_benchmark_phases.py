"""The full-size benchmark's arithmetic on phase records (benchmarks/full_size.py); no model involved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "full_size.py"


@pytest.fixture(scope="module")
def full_size(load_module: Callable[[Path, str], ModuleType]) -> ModuleType:
    return load_module(SCRIPT, "full_size_benchmark")


def phase(kind: str, label: str, seconds: float, end: float) -> dict[str, Any]:
    return {"kind": kind, "label": label, "s": seconds, "self_s": seconds, "end": end}


def test_phases_sum_by_kind_and_label(full_size: ModuleType) -> None:
    result = {"phases": [phase("run", "a", 5.0, 10.0), phase("run", "b", 2.0, 12.0), phase("load", "", 8.0, 20.0)]}
    assert full_size.phase_s(result, "run") == 7.0
    assert full_size.phase_s(result, "run", "b") == 2.0
    assert full_size.phase_s(result, "check") == 0


def test_the_model_store_line_is_read_from_the_consumer_log(full_size: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "consume.log"
    line = "models: 7 loads of 4 materialisations (3 reloads after 5 evictions; budget 12.6 GB)"
    log.write_text(f"[1/2] x model ... PASS (1.0s)\n{line}\n5 pass, 0 fail\n")
    assert full_size.store_summary(log) == line
    log.write_text("no such line\n")
    assert full_size.store_summary(log) == "-"


def test_a_skipped_float64_reference_is_reported_with_its_reason(full_size: ModuleType, tmp_path: Path) -> None:
    import json

    import numpy as np

    reason = "a float64 copy of the model (2.4e+09 values) needs 22 GiB, 11 GiB free on cpu"
    for name, reference in (("a", {"recorded": True, "reason": ""}), ("b", {"recorded": False, "reason": reason})):
        manifest = {"provenance": {"user_path": {"fp64_reference": reference}}}
        np.savez(tmp_path / f"original_n1_7_{name}.npz", manifest=np.array(json.dumps(manifest)))
    assert full_size.fp64_reasons(tmp_path) == {reason}


def test_a_tags_seconds_are_its_labelled_phases_and_its_checks_with_their_loads(full_size: ModuleType) -> None:
    producer = {
        "side": "producer",
        "phases": [
            phase("run", "libero_sim", 5.0, 10.0),
            phase("rtc", "libero_sim", 7.0, 17.0),
            phase("load", "Gr00tPolicy new_embodiment", 2.0, 19.0),
            phase("run", "new_embodiment", 3.0, 22.0),
            phase("write", "new_embodiment", 1.0, 23.0),  # on the writer thread, beside the next tag
            phase("load", "", 20.0, 4.0),
        ],
    }
    assert full_size.tag_seconds(producer, "libero_sim") == 12.0
    assert full_size.tag_seconds(producer, "new_embodiment") == 5.0
    check = {"kind": "check", "label": "b2-256x256-new_embodiment policy", "s": 30.0, "self_s": 4.0, "end": 0.0}
    episode = {"kind": "check", "label": "episode-new_embodiment episode", "s": 9.0, "self_s": 9.0, "end": 0.0}
    other = {"kind": "check", "label": "b2-256x256-libero_sim policy", "s": 50.0, "self_s": 50.0, "end": 0.0}
    consumer = {"side": "consumer", "phases": [check, episode, other, phase("load", "", 26.0, 0.0)]}
    assert full_size.tag_seconds(consumer, "new_embodiment") == 39.0  # totals: the loads inside count
