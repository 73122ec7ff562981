"""The per-check memory cap (issue 25): a planted memory-inflating fault in the port fails its case, not the run."""

from __future__ import annotations

import resource
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comparison.results import Case
from comparison.status import Status
from consumer.memory_cap import GB, default_cap, load_allowance, machine_memory, memory_cap
from consumer.session import ParitySession
from consumer.settings import SettingsError, settings_from_env

COPIES = 4096  # 4096 x the (2, 1, 2, 256, 256, 3) uint8 video of the golden libero_sim batch: 3 GiB


class _InflatingNumpy(types.ModuleType):
    """numpy, except that the camera stack of LeRobot's image packing grows a wrong leading axis of COPIES."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def stack(arrays: Any, axis: int = 0, **kwargs: Any) -> np.ndarray:
        stacked = np.stack(arrays, axis=axis, **kwargs)
        return np.repeat(stacked[None], COPIES, axis=0) if axis == 2 else stacked


@pytest.mark.parametrize(("text", "expected"), [("8", 8 * GB), ("0.5", GB // 2), (" off ", None), ("", default_cap())])
def test_the_knob(text: str, expected: int | None) -> None:
    assert settings_from_env({"GROOT_PARITY_MEMORY_CAP_GB": text}).memory_cap == expected
    assert default_cap() == machine_memory() // 2 and machine_memory() > 0


@pytest.mark.parametrize("text", ["0", "-1", "abc", "inf", "\u0661\u0662", "1_0"])
def test_a_malformed_cap_names_the_knob(text: str) -> None:
    with pytest.raises(SettingsError, match="GROOT_PARITY_MEMORY_CAP_GB="):
        settings_from_env({"GROOT_PARITY_MEMORY_CAP_GB": text})


def test_the_cap_is_lifted_after_the_block_and_widened_for_a_model_load() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_cap(GB // 4) as applied:
        assert applied
        with pytest.raises(MemoryError):
            np.empty(GB // 2, np.uint8)
        with load_allowance(GB // 2):
            np.empty(GB // 2, np.uint8)  # not touched: no memory is used, only address space
            with pytest.raises(MemoryError):
                np.empty(GB, np.uint8)
        with pytest.raises(MemoryError):
            np.empty(GB // 2, np.uint8)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    with memory_cap(None) as applied:
        assert not applied


def test_a_memory_inflating_fault_fails_its_case_and_the_run_goes_on(
    golden_square: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lerobot.policies.groot import processor_groot

    session = ParitySession(
        settings_from_env({"GROOT_PARITY_REPORT_DIR": str(tmp_path), "GROOT_PARITY_MEMORY_CAP_GB": "1"})
    )
    case = Case(golden_square, "256x256", "libero_sim")
    monkeypatch.setattr(processor_groot, "np", _InflatingNumpy("numpy"))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    faulty = session.run(case, "preprocessor")
    peak_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert faulty.status == Status.FAIL and "\n" not in faulty.message
    assert faulty.message.startswith("exceeded the per-check memory cap (GROOT_PARITY_MEMORY_CAP_GB=1: "), (
        faulty.message
    )
    assert f"MemoryError: Unable to allocate 3.00 GiB for an array with shape ({COPIES}, 2, 1, 2, 256, 256, 3)" in (
        faulty.message
    )
    assert peak_growth < GB  # refused before a page was touched (the fault asks for 3 GiB)
    monkeypatch.undo()  # the port repaired: the same session goes on, under the same 1 GB cap
    assert [session.run(case, check).status for check in ("preprocessor", "model")] == [Status.PASS, Status.PASS]
