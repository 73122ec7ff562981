"""benchmarks/consume_vs_peer.py's reading of each side's output and its summary arithmetic; nothing is run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "consume_vs_peer.py"


@pytest.fixture(scope="module")
def script(load_module: Callable[[Path, str], ModuleType]) -> ModuleType:
    return load_module(SCRIPT, "consume_vs_peer_benchmark")


def test_the_consumers_last_counts_line_is_its_verdict(script: ModuleType) -> None:
    output = "[1/1] 256x256/libero_sim model ... PASS (13.2s)\n...\n1 pass, 0 fail, 0 known divergence, 0 skip\n"
    assert script.consumer_verdict(output) == "1 pass, 0 fail, 0 known divergence, 0 skip"
    assert script.consumer_verdict("Traceback (most recent call last):\n  ...\nImportError: torch\n") is None


def test_the_peer_verdict_needs_exactly_one_test_that_ran(script: ModuleType) -> None:
    assert script.peer_verdict(".\n1 passed in 2.88s\n") == "passed"
    assert script.peer_verdict("F\n==== 1 failed, 3 warnings in 1.86s ====\n") == "failed"
    assert script.pytest_counts("1 failed, 3 warnings in 1.86s") == {"failed": 1, "warnings": 3}
    assert script.peer_verdict("s\n1 skipped in 0.50s\n") is None  # no artifact or checkpoint found
    assert script.peer_verdict("2 passed in 5.00s\n") is None  # more than the one artifact
    assert script.peer_verdict("1 error in 0.10s\n") is None
    assert script.peer_verdict("ERROR: file or directory not found\n") is None


def test_medians_ratios_and_verdict_counts(script: ModuleType) -> None:
    runs = [script.Run(3.0, 700.0, "passed"), script.Run(1.0, 900.0, "passed"), script.Run(2.0, 800.0, "failed")]
    assert script.medians(runs) == (2.0, 800.0)
    assert script.ratio(1.5, 2.0) == "0.75x"
    assert script.ratio(1.0, 0.0) == "n/a"
    assert script.verdicts(runs) == "passed x2; failed x1"
