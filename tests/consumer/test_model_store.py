"""The model store: each materialisation once, the least recently used freed first, nothing over the budget.

The bookkeeping runs on plain values; the last test runs the real policy check on a golden with a budget that
holds one tiny model at a time and must reach the same numbers as a run that holds them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import consumer.model_store as model_store
from comparison.results import Case
from consumer.model_store import DoesNotFit, ModelStore, float32_bytes, stored_values, tensor_bytes
from consumer.session import ParitySession
from consumer.settings import settings_from_env

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "fixtures" / "tiny-groot-n1.7"
GOLDEN = REPO / "fixtures" / "golden" / "256x256" / "original_n1_7_new_embodiment.npz"


class Counting:
    def __init__(self) -> None:
        self.built: list[str] = []

    def __call__(self, key: str) -> object:
        self.built.append(key)
        return object()


def test_models_within_the_budget_are_built_once() -> None:
    store, build = ModelStore(budget=100), Counting()
    first = store.get("a", lambda: build("a"), 40)
    store.get("b", lambda: build("b"), 40)
    assert store.get("a", lambda: build("a"), 40) is first
    assert build.built == ["a", "b"] and store.evictions == 0


def test_the_least_recently_used_goes_first_and_takes_its_attachments() -> None:
    store, build = ModelStore(budget=100), Counting()
    store.get("a", lambda: build("a"), 40)
    store.attached("a", "policy", lambda: build("a.policy"))
    store.get("b", lambda: build("b"), 40)
    store.get("a", lambda: build("a"), 40)  # a is now the most recent
    store.get("c", lambda: build("c"), 40)  # 120 > 100: b goes
    assert list(store.held) == ["a", "c"] and store.evictions == 1
    store.get("d", lambda: build("d"), 90)  # only d fits
    assert list(store.held) == ["d"]
    store.get("a", lambda: build("a"), 40)
    assert store.loads == {"a": 2, "b": 1, "c": 1, "d": 1}
    assert store.attached("a", "policy", lambda: build("a.policy 2")) is not None
    assert build.built[-1] == "a.policy 2", "an evicted model's attachments go with it"
    assert "5 loads of 4 materialisations (1 reloads after 4 evictions" in store.summary()


def test_a_model_larger_than_the_budget_is_built_alone_and_no_budget_holds_all() -> None:
    store, build = ModelStore(budget=100), Counting()
    store.get("a", lambda: build("a"), 40)
    store.get("huge", lambda: build("huge"), 500)
    assert list(store.held) == ["huge"]
    unbounded = ModelStore(budget=None)
    for key in "abc":
        unbounded.get(key, lambda k=key: build(k), 10**12, device="cuda")
    assert list(unbounded.held) == ["a", "b", "c"]


def test_a_model_the_machine_cannot_hold_is_refused_unbuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_store, "available_memory", lambda: 8 * 10**9)
    store, build = ModelStore(budget=None), Counting()
    with pytest.raises(DoesNotFit, match=r"LeRobotModel in float32 needs ~9\.6 GB, 8\.0 GB available"):
        store.get(("LeRobotModel", "ckpt"), lambda: build("x"), 9_600_000_000)
    assert build.built == []
    store.get(("LeRobotModel", "ckpt"), lambda: build("x"), 9_600_000_000, device="cuda")  # not CPU memory


def test_sizes_come_from_the_headers_and_the_tensors() -> None:
    import torch
    from safetensors import safe_open

    with safe_open(str(TINY / "model.safetensors"), "pt") as handle:
        values = sum(_numel(handle, k) for k in handle.keys())  # noqa: SIM118
    assert stored_values(TINY) == values and float32_bytes(TINY) == 4 * values
    tied = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    tied[1].weight = tied[0].weight  # one storage, counted once
    assert tensor_bytes(tied) == (16 + 4 + 4) * 4
    assert tensor_bytes(object()) == 0


def _numel(handle: object, key: str) -> int:
    count = 1
    for n in handle.get_slice(key).get_shape():  # type: ignore[attr-defined]
        count *= int(n)
    return count


def test_the_policy_check_reaches_the_same_numbers_holding_one_model_at_a_time() -> None:
    case = Case(GOLDEN, GOLDEN.parent.name, "new_embodiment")
    env = {"GROOT_N1_7_PARITY_DIR": str(GOLDEN.parent)}
    roomy = ParitySession(settings_from_env(env))
    tight = ParitySession(settings_from_env(env))
    tight.models.budget = int(1.5 * float32_bytes(TINY))  # one tiny model at a time
    results = []
    for session in (roomy, tight):
        session.run(case, "model")  # LeRobotModel held first, as in a run
        results.append(session.run(case, "policy"))
    assert tight.models.evictions >= 2 and roomy.models.evictions == 0
    first, second = (json.dumps(r.to_dict()["report"], sort_keys=True) for r in results)
    assert results[0].status == results[1].status and first == second
    values = [np.array([t.max_abs_diff for t in r.report.tensors]) for r in results]
    np.testing.assert_array_equal(*values)


def test_a_run_fixes_the_mmap_threshold_before_any_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import consumer.session

    calls: list[str] = []
    monkeypatch.setattr(consumer.session, "map_large_allocations", lambda: calls.append("fixed") or True)
    session = ParitySession(settings_from_env({}))
    assert calls == ["fixed"] and not session.results  # freed activations leave the process (issue 26)
