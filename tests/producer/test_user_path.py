"""The producer's user-path helpers that need no gr00t: the float64 memory rule, the model hand-over."""

from __future__ import annotations

import pytest

import producer.user_path as user_path


def test_fp64_is_refused_with_a_reason_when_it_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(1000, 1000)  # 1.001e6 values: 8.0 MB in float64, 10 MB with the headroom
    monkeypatch.setattr(user_path, "available_memory_bytes", lambda device: 5 * 2**20)
    problem = user_path.fp64_problem(model, "cpu")
    assert problem == "a float64 copy of the model (1e+06 values) needs 0.00932 GiB, 0.00488 GiB free on cpu"
    monkeypatch.setattr(user_path, "available_memory_bytes", lambda device: 64 * 2**20)
    assert user_path.fp64_problem(model, "cpu") is None
    monkeypatch.setattr(user_path, "available_memory_bytes", lambda device: None)
    assert user_path.fp64_problem(model, "cpu") is None  # unknown: tried, a MemoryError would fail the tag


def test_later_policies_get_the_model_the_first_one_loaded() -> None:
    model = object()
    assert user_path._LoadedModel(model).from_pretrained("any/path", trust_remote_code=True) is model
